//! Settings for admins: automation rules (the list with its switches, a rule's form with
//! JSON for conditions and actions, its dry run and its firing log) and the working
//! calendar (the year's holidays and make-up days, and the JSON editor). Also how a rule's
//! reasons read in the user's language, for these pages and the notifications.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use shangji_core::calendar::WorkCalendar;
use shangji_core::rules::{
    Comparison, Condition, FieldCatalog, FieldType, Reason, RuleInput, Trigger,
};
use shangji_core::Money;
use shangji_store::Directory;

use super::{error_text, render, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::automation::{self, DryRunItem, RuleView};
use crate::state::AppState;

const RULES: &str = "/admin/rules";
const CALENDAR: &str = "/admin/calendar";

/// A value of a reason as people read it.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("、"),
        Value::Object(m) => match (m.get("amount_minor"), m.get("currency")) {
            (Some(a), Some(c)) => format!("{} {}", value_text(a), value_text(c)),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// A value of a reason for a field of `field_type`, as people read it: money as money
/// (`currency` of the record's own amount when the rule gave none), a deal's status and its
/// stages by name; anything else as [`value_text`] words it.
fn typed_value_text(
    tr: Tr,
    dir: &Directory,
    field_type: Option<FieldType>,
    v: &Value,
    currency: &str,
) -> String {
    match (field_type, v) {
        (_, Value::Array(items)) => items
            .iter()
            .map(|i| typed_value_text(tr, dir, field_type, i, currency))
            .collect::<Vec<_>>()
            .join("、"),
        (Some(FieldType::Money), Value::Number(n)) => match n.as_i64() {
            Some(minor) => tr.money(&Money {
                amount_minor: minor,
                currency: currency.to_string(),
            }),
            None => value_text(v),
        },
        (Some(FieldType::Money), Value::Object(m)) => {
            match (
                m.get("amount_minor").and_then(Value::as_i64),
                m.get("currency").and_then(Value::as_str),
            ) {
                (Some(minor), Some(c)) => tr.money(&Money {
                    amount_minor: minor,
                    currency: c.to_string(),
                }),
                (Some(minor), None) => tr.money(&Money {
                    amount_minor: minor,
                    currency: currency.to_string(),
                }),
                _ => value_text(v),
            }
        }
        (Some(FieldType::Stage), Value::Number(n)) if n.as_i64().is_some() => {
            super::opportunity::stage_name(tr, dir, n.as_i64())
        }
        (Some(FieldType::Enum), Value::String(s))
            if matches!(s.as_str(), "open" | "won" | "lost") =>
        {
            tr.get(&format!("kind.{s}")).unwrap_or(s).to_string()
        }
        _ => value_text(v),
    }
}

/// A field's label in the user's language (the catalog's, else its name).
pub(super) fn field_label(tr: Tr, dir: &Directory, field: &str) -> String {
    let cat = FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &[]);
    cat.field(field).map_or_else(
        || field.to_string(),
        |f| {
            if tr.is_zh() {
                f.label_zh.clone()
            } else {
                f.label_en.clone()
            }
        },
    )
}

/// The words of one comparison: the field's label, the operator and the compared value (and
/// the record's actual value) as people read them.
fn comparison_words(
    tr: Tr,
    dir: &Directory,
    field: &str,
    op: shangji_core::rules::Op,
    value: &Value,
    actual: &Value,
) -> [String; 4] {
    let op = tr
        .get(&format!("auto.op.{op}"))
        .unwrap_or(op.as_str())
        .to_string();
    let cat = FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &[]);
    let field_type = cat.field(field).map(|f| f.field_type);
    // Only `stage_kind` among the enums has the deal statuses as its values.
    let field_type = field_type.filter(|t| *t != FieldType::Enum || field == "stage_kind");
    let currency = actual
        .get("currency")
        .or_else(|| value.get("currency"))
        .and_then(Value::as_str)
        .unwrap_or("CNY");
    [
        field_label(tr, dir, field),
        op,
        typed_value_text(tr, dir, field_type, value, currency),
        typed_value_text(tr, dir, field_type, actual, currency),
    ]
}

/// One reason in words: "在当前阶段天数 ≥ 7（实际 9）" / "Days in stage ≥ 7 (actual 9)".
pub(super) fn reason_text(tr: Tr, dir: &Directory, r: &Reason) -> String {
    let [field, op, value, actual] = comparison_words(tr, dir, &r.field, r.op, &r.value, &r.actual);
    tr.fmt(
        if r.held {
            "auto.reason"
        } else {
            "auto.reason_not"
        },
        &[
            ("field", &field),
            ("op", &op),
            ("value", &value),
            ("actual", &actual),
        ],
    )
}

/// A condition's comparison in words: "来源 = 官网" / "Source = Website".
pub(super) fn comparison_text(tr: Tr, dir: &Directory, c: &Comparison) -> String {
    let [field, op, value, _] = comparison_words(tr, dir, &c.field, c.op, &c.value, &Value::Null);
    tr.fmt(
        "auto.comparison",
        &[("field", &field), ("op", &op), ("value", &value)],
    )
}

/// Reasons stored as JSON, in words.
pub(super) fn reasons_text(tr: Tr, dir: &Directory, v: &Value) -> Vec<String> {
    serde_json::from_value::<Vec<Reason>>(v.clone())
        .unwrap_or_default()
        .iter()
        .map(|r| reason_text(tr, dir, r))
        .collect()
}

/// A rule's name: a template's in the user's language while the admin kept its name.
pub(super) fn rule_name(tr: Tr, name: &str, template: Option<&str>) -> String {
    let shipped = template.and_then(|k| tr.get(&format!("auto.template.{k}")));
    match shipped {
        Some(t) if !tr.is_zh() && !name.is_ascii() => t.to_string(),
        _ => name.to_string(),
    }
}

fn trigger_text(tr: Tr, dir: &Directory, t: &Trigger) -> String {
    let kind = match t {
        Trigger::Created => "created",
        Trigger::Updated => "updated",
        Trigger::FieldChanged { .. } => "field_changed",
        Trigger::StageEntered { .. } => "stage_entered",
        Trigger::StageLeft { .. } => "stage_left",
        Trigger::Schedule => "schedule",
    };
    let base = tr.t(match kind {
        "created" => "auto.trigger.created",
        "updated" => "auto.trigger.updated",
        "field_changed" => "auto.trigger.field_changed",
        "stage_entered" => "auto.trigger.stage_entered",
        "stage_left" => "auto.trigger.stage_left",
        _ => "auto.trigger.schedule",
    });
    match t {
        Trigger::FieldChanged { field } => format!("{base}: {}", field_label(tr, dir, field)),
        Trigger::StageEntered { stage: Some(s) } | Trigger::StageLeft { stage: Some(s) } => {
            format!(
                "{base}: {}",
                super::opportunity::stage_name(tr, dir, Some(*s))
            )
        }
        _ => base.to_string(),
    }
}

struct RuleRow {
    id: i64,
    name: String,
    trigger: String,
    enabled: bool,
    template: String,
    last_fired: String,
}

#[derive(Template)]
#[template(path = "automation_rules.html")]
struct RulesPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<RuleRow>,
}

fn rows(tr: Tr, dir: &Directory, rules: &[RuleView]) -> Vec<RuleRow> {
    rules
        .iter()
        .map(|r| RuleRow {
            id: r.rule.id,
            name: rule_name(tr, &r.rule.name, r.rule.template_key.as_deref()),
            trigger: trigger_text(tr, dir, &r.rule.trigger),
            enabled: r.rule.enabled,
            template: r
                .rule
                .template_key
                .as_deref()
                .map(|k| {
                    tr.get(&format!("auto.template.{k}"))
                        .unwrap_or(k)
                        .to_string()
                })
                .unwrap_or_default(),
            last_fired: r
                .last_fired_at
                .map_or_else(|| tr.t("auto.never").to_string(), |t| tr.datetime(t)),
        })
        .collect()
}

async fn rules_page(State(s): State<AppState>, v: Viewer) -> Response {
    match automation::list_rules(&s.db, &v.ctx).await {
        Ok(list) => render(RulesPage {
            tr: v.tr,
            csrf: v.csrf.clone(),
            here: RULES.into(),
            nav: v.nav("settings"),
            tab: "rules",
            rows: rows(v.tr, &v.ctx.dir, &list),
        }),
        Err(e) => v.error(RULES, e),
    }
}

async fn toggle(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, RULES) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let on = form.get("enabled") == "true";
    match automation::set_rule_enabled(&s.db, &v.ctx, id, on).await {
        Ok(_) => Redirect::to(&format!("{RULES}#rule-{id}")).into_response(),
        Err(e) => v.error(RULES, e),
    }
}

struct DryRow {
    record_id: i64,
    title: String,
    reasons: Vec<String>,
    already: bool,
}

struct FiringRowView {
    record_id: i64,
    when: String,
    reasons: Vec<String>,
    outcome: String,
}

#[derive(Template)]
#[template(path = "automation_rule.html")]
struct RulePage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    /// 0 for a new rule.
    id: i64,
    name: String,
    enabled: bool,
    trigger: String,
    conditions: String,
    actions: String,
    template_key: String,
    /// The version read (0 for a new rule).
    version: i64,
    errors: Vec<String>,
    saved: bool,
    dry: Option<Vec<DryRow>>,
    firings: Vec<FiringRowView>,
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn blank_page(v: &Viewer, id: i64) -> RulePage {
    RulePage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        // Switching the language stays on this rule (or on the new one).
        here: if id > 0 {
            format!("{RULES}/{id}")
        } else {
            format!("{RULES}/new")
        },
        nav: v.nav("settings"),
        tab: "rules",
        id,
        name: String::new(),
        enabled: true,
        trigger: pretty(&Trigger::Schedule),
        conditions: pretty(&Condition::default()),
        actions: "[\n  {\"kind\": \"notify\", \"to\": {\"kind\": \"owner\"}}\n]".into(),
        template_key: String::new(),
        version: 0,
        errors: vec![],
        saved: false,
        dry: None,
        firings: vec![],
    }
}

async fn with_firings(s: &AppState, v: &Viewer, mut page: RulePage) -> Result<RulePage, AppError> {
    if page.id > 0 {
        page.firings = automation::rule_firings(&s.db, &v.ctx, page.id)
            .await?
            .into_iter()
            .map(|f| FiringRowView {
                record_id: f.record_id,
                when: v.tr.datetime(f.fired_at),
                reasons: reasons_text(v.tr, &v.ctx.dir, &f.reasons),
                outcome: f
                    .outcome
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| {
                                format!("{} {}", value_text(&o["kind"]), value_text(&o["status"]))
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default(),
            })
            .collect();
    }
    Ok(page)
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<i64>,
}

async fn new_rule(v: Viewer) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(RULES, e);
    }
    render(blank_page(&v, 0))
}

async fn rule_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let result = async {
        let r = automation::get_rule(&s.db, &v.ctx, id).await?;
        let mut page = blank_page(&v, id);
        page.name = r.rule.name.clone();
        page.enabled = r.rule.enabled;
        page.trigger = pretty(&r.rule.trigger);
        page.conditions = pretty(&r.rule.conditions);
        page.actions = pretty(&r.rule.actions);
        page.template_key = r.rule.template_key.clone().unwrap_or_default();
        page.version = r.version;
        page.saved = q.saved == Some(id);
        with_firings(&s, &v, page).await
    }
    .await;
    match result {
        Ok(p) => render(p),
        Err(e) => v.error(RULES, e),
    }
}

/// The posted form as a rule input, or the reasons it cannot be read.
fn input_of(tr: Tr, page: &RulePage) -> Result<RuleInput, Vec<String>> {
    let mut errors = Vec::new();
    let mut parse = |what: &str, text: &str| -> Value {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!(
                    "{}: {} ({e})",
                    tr.t(what),
                    tr.t("auto.invalid_json")
                ));
                Value::Null
            }
        }
    };
    let trigger = parse("auto.form.trigger", &page.trigger);
    let conditions = parse("auto.form.conditions", &page.conditions);
    let actions = parse("auto.form.actions", &page.actions);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut body = serde_json::json!({
        "name": page.name,
        "enabled": page.enabled,
        "trigger": trigger,
        "conditions": conditions,
        "actions": actions,
    });
    if !page.template_key.is_empty() {
        body["template_key"] = Value::String(page.template_key.clone());
    }
    if page.version > 0 {
        body["version"] = page.version.into();
    }
    serde_json::from_value::<RuleInput>(body)
        .map_err(|e| vec![format!("{} ({e})", tr.t("auto.invalid_rule"))])
}

/// One mistake of a rule: its place, and what is wrong in the user's language — the rule
/// checks' own words for their codes (`auto.err.<code>`, with the name the check did not
/// find), else the shared ones. The check's English detail follows where the words leave
/// something out: a loop's path, and a shared text in an English page.
fn rule_error_text(tr: Tr, f: &shangji_core::FieldError) -> String {
    let key = format!("auto.err.{}", f.code);
    let (text, detail) = if tr.get(&key).is_some() {
        // The checks quote what they did not find: "there is no field `budget`".
        let name = f.message.split('`').nth(1).unwrap_or_default();
        (tr.fmt(&key, &[("name", name)]), f.code == "rule_loop")
    } else {
        (error_text(tr, &AppError::Invalid(f.clone())).1, !tr.is_zh())
    };
    if detail && !f.message.is_empty() {
        format!("{}: {text} — {}", f.field, f.message)
    } else {
        format!("{}: {text}", f.field)
    }
}

/// Every mistake of a refused save, each with its place, in the user's language.
pub(super) fn errors_of(tr: Tr, e: &AppError) -> Vec<String> {
    match e {
        AppError::InvalidMany(list) => list.iter().map(|f| rule_error_text(tr, f)).collect(),
        AppError::Invalid(f) | AppError::BadRequest(f) => vec![rule_error_text(tr, f)],
        other => {
            let (field, text) = error_text(tr, other);
            vec![if field.is_empty() {
                text
            } else {
                format!("{field}: {text}")
            }]
        }
    }
}

async fn post_rule(s: AppState, v: Viewer, id: i64, f: Vec<(String, String)>) -> Response {
    let form = match v.posted(f, RULES) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let mut page = blank_page(&v, id);
    page.name = form.text("name");
    page.enabled = form.get("enabled") == "on" || form.get("enabled") == "true";
    page.trigger = form.text("trigger");
    page.conditions = form.text("conditions");
    page.actions = form.text("actions");
    page.template_key = form.text("template_key");
    page.version = form.get("version").parse().unwrap_or(0);
    let action = form.text("do");
    if action == "delete" && id > 0 {
        return match automation::delete_rule(&s.db, &v.ctx, id).await {
            Ok(()) => Redirect::to(RULES).into_response(),
            Err(e) => v.error(RULES, e),
        };
    }
    let input = match input_of(v.tr, &page) {
        Ok(i) => i,
        Err(errors) => {
            page.errors = errors;
            return render(page);
        }
    };
    if action == "dry_run" {
        let result = automation::dry_run_input(&s.db, &v.ctx, input).await;
        match result {
            Ok(items) => page.dry = Some(dry_rows(v.tr, &v.ctx.dir, items)),
            Err(e) => page.errors = errors_of(v.tr, &e),
        }
        return match with_firings(&s, &v, page).await {
            Ok(p) => render(p),
            Err(e) => v.error(RULES, e),
        };
    }
    let saved = if id > 0 {
        automation::update_rule(&s.db, &v.ctx, id, input).await
    } else {
        automation::create_rule(&s.db, &v.ctx, input).await
    };
    match saved {
        Ok(r) => {
            Redirect::to(&format!("{RULES}/{}?saved={}", r.rule.id, r.rule.id)).into_response()
        }
        Err(e @ (AppError::Forbidden(_) | AppError::NotFound | AppError::Internal(_))) => {
            v.error(RULES, e)
        }
        Err(e) => {
            page.errors = errors_of(v.tr, &e);
            match with_firings(&s, &v, page).await {
                Ok(p) => render(p),
                Err(e) => v.error(RULES, e),
            }
        }
    }
}

fn dry_rows(tr: Tr, dir: &Directory, items: Vec<DryRunItem>) -> Vec<DryRow> {
    items
        .into_iter()
        .map(|d| DryRow {
            record_id: d.record_id,
            title: d.title,
            reasons: d.reasons.iter().map(|r| reason_text(tr, dir, r)).collect(),
            already: d.already_fired,
        })
        .collect()
}

async fn create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    post_rule(s, v, 0, f).await
}

async fn update(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    post_rule(s, v, id, f).await
}

// ---- The working calendar. ----

struct DayRow {
    name: String,
    dates: String,
}

#[derive(Template)]
#[template(path = "automation_calendar.html")]
struct CalendarPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    year: i32,
    years: Vec<i32>,
    holidays: Vec<DayRow>,
    make_up: Vec<DayRow>,
    json: String,
    error: String,
    saved: bool,
}

#[derive(serde::Deserialize)]
struct CalendarQuery {
    year: Option<i32>,
    saved: Option<String>,
}

fn calendar_page(
    v: &Viewer,
    cal: &WorkCalendar,
    year: Option<i32>,
    json: String,
    error: String,
    saved: bool,
) -> CalendarPage {
    let tr = v.tr;
    let today = cal.local_date(v.ctx.now);
    let year = year.unwrap_or(today.year());
    let mut years: Vec<i32> = cal
        .holidays()
        .iter()
        .flat_map(|h| [h.from.year(), h.to.year()])
        .chain(cal.make_up_days().iter().map(|m| m.date.year()))
        .chain([year])
        .collect();
    years.sort();
    years.dedup();
    let name = |zh: &str, en: &str| {
        if tr.is_zh() {
            zh.to_string()
        } else {
            en.to_string()
        }
    };
    CalendarPage {
        tr,
        csrf: v.csrf.clone(),
        here: CALENDAR.into(),
        nav: v.nav("settings"),
        tab: "calendar",
        year,
        years,
        holidays: cal
            .holidays()
            .iter()
            .filter(|h| h.from.year() == year || h.to.year() == year)
            .map(|h| DayRow {
                name: name(&h.name.zh, &h.name.en),
                dates: if h.from == h.to {
                    h.from.to_string()
                } else {
                    format!("{} – {}", h.from, h.to)
                },
            })
            .collect(),
        make_up: cal
            .make_up_days()
            .iter()
            .filter(|m| m.date.year() == year)
            .map(|m| DayRow {
                name: name(&m.name.zh, &m.name.en),
                dates: m.date.to_string(),
            })
            .collect(),
        json,
        error,
        saved,
    }
}

async fn calendar(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<CalendarQuery>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(CALENDAR, e);
    }
    match automation::calendar(&s.db).await {
        Ok(cal) => render(calendar_page(
            &v,
            &cal,
            q.year,
            pretty(&cal.data()),
            String::new(),
            q.saved.is_some(),
        )),
        Err(e) => v.error(CALENDAR, e),
    }
}

async fn save_calendar(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, CALENDAR) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let json = form.text("calendar");
    match automation::save_calendar(&s.db, &v.ctx, &json).await {
        Ok(_) => Redirect::to(&format!("{CALENDAR}?saved=1")).into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::BadRequest(_))) => {
            let (AppError::Invalid(f) | AppError::BadRequest(f)) = &e else {
                unreachable!()
            };
            // The check's English detail follows in English pages, or when the code has no
            // words of its own.
            let (text, detail) = match v.tr.get(&format!("auto.cal.err.{}", f.code)) {
                Some(t) => (t, !v.tr.is_zh()),
                None => (v.tr.t("auto.cal.err.other"), true),
            };
            let error = if detail && !f.message.is_empty() {
                format!("{}: {text} — {}", f.field, f.message)
            } else {
                format!("{}: {text}", f.field)
            };
            let current = automation::calendar(&s.db)
                .await
                .unwrap_or_else(|_| WorkCalendar::china_default());
            render(calendar_page(&v, &current, None, json, error, false))
        }
        Err(e) => v.error(CALENDAR, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/rules", get(rules_page).post(create))
        .route("/admin/rules/new", get(new_rule))
        .route("/admin/rules/{id}", get(rule_page).post(update))
        .route("/admin/rules/{id}/toggle", post(toggle))
        .route("/admin/calendar", get(calendar).post(save_calendar))
}
