//! Settings for admins: automation rules (the list with its switches, a rule's form with
//! selects and rows for its trigger, conditions and actions — JSON for what rows cannot
//! show — its dry run and its firing log) and the working
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
    Action, Comparison, Condition, FieldCatalog, FieldType, Reason, Recipient, RuleInput, Trigger,
};
use shangji_core::Money;
use shangji_store::Directory;

use super::{error_text, render, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::notices::rule_name;
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

// ---- The rule's form: what is posted, and how it reads as a rule. ----

/// One condition row as posted: a field, an operator and the value's text (several texts
/// from a multiple choice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CondRow {
    field: String,
    op: String,
    values: Vec<String>,
}

/// One action row as posted: its kind and the inputs of every kind (only the kind's own are
/// read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ActionRow {
    kind: String,
    /// Who is notified, or who gets the task: owner, manager, director, role, user.
    who: String,
    role: String,
    user: String,
    message: String,
    title: String,
    due: String,
    field: String,
    value: String,
    assignment_rule: String,
    policy: String,
}

/// The rule's form as posted, field by field, before it is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RuleForm {
    name: String,
    enabled: bool,
    template_key: String,
    /// The version read (0 for a new rule).
    version: i64,
    trigger_kind: String,
    trigger_field: String,
    trigger_stage: String,
    /// The conditions are edited as JSON (`conditions_text`), not as rows.
    conditions_as_json: bool,
    conditions_text: String,
    /// The rows combine with "any of" (else "all of").
    match_any: bool,
    conditions: Vec<CondRow>,
    actions_as_json: bool,
    actions_text: String,
    actions: Vec<ActionRow>,
}

/// The indices of the rows named `<prefix><i>_…`, in order.
fn row_indices(form: &FormData, prefix: char) -> Vec<usize> {
    let mut out: Vec<usize> = form
        .0
        .iter()
        .filter_map(|(k, _)| {
            let rest = k.strip_prefix(prefix)?;
            let (i, _) = rest.split_once('_')?;
            i.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl RuleForm {
    /// The form of a new rule: scheduled, no condition, notify the owner.
    fn blank() -> RuleForm {
        RuleForm {
            enabled: true,
            trigger_kind: "schedule".into(),
            conditions_text: pretty(&Condition::default()),
            actions: vec![ActionRow {
                kind: "notify".into(),
                who: "owner".into(),
                ..ActionRow::default()
            }],
            actions_text: "[]".into(),
            ..RuleForm::default()
        }
    }

    /// The posted fields, as texts.
    fn read(form: &FormData) -> RuleForm {
        let conditions = row_indices(form, 'c')
            .into_iter()
            .map(|i| CondRow {
                field: form.text(&format!("c{i}_field")),
                op: form.text(&format!("c{i}_op")),
                values: form
                    .all(&format!("c{i}_value"))
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            })
            .collect();
        let actions = row_indices(form, 'a')
            .into_iter()
            .map(|i| {
                let get = |name: &str| form.text(&format!("a{i}_{name}"));
                ActionRow {
                    kind: get("kind"),
                    who: get("who"),
                    role: get("role"),
                    user: get("user"),
                    message: get("message"),
                    title: get("title"),
                    due: get("due"),
                    field: get("field"),
                    value: get("value"),
                    assignment_rule: get("assignment_rule"),
                    policy: get("policy"),
                }
            })
            .collect();
        RuleForm {
            name: form.text("name"),
            enabled: form.get("enabled") == "on" || form.get("enabled") == "true",
            template_key: form.text("template_key"),
            version: form.get("version").parse().unwrap_or(0),
            trigger_kind: form.text("trigger_kind"),
            trigger_field: form.text("trigger_field"),
            trigger_stage: form.text("trigger_stage"),
            conditions_as_json: form.get("conditions_mode") == "json",
            conditions_text: form.get("conditions").to_string(),
            match_any: form.get("match") == "any",
            conditions,
            actions_as_json: form.get("actions_mode") == "json",
            actions_text: form.get("actions").to_string(),
            actions,
        }
    }
}

/// Whether a field's values are chosen from a list (stages, users, yes/no, options).
fn has_options(info: &shangji_core::rules::FieldInfo) -> bool {
    match info.field_type {
        FieldType::Stage | FieldType::User | FieldType::Bool => true,
        FieldType::Enum | FieldType::List => !info.options.is_empty(),
        _ => false,
    }
}

fn takes_list(op: &str) -> bool {
    matches!(op, "in" | "not_in")
}

fn takes_no_value(op: &str) -> bool {
    matches!(op, "is_set" | "is_unset")
}

/// A number as typed: `12`, `12.5`, `1,200`.
fn parse_number(s: &str) -> Option<Value> {
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .collect();
    if let Ok(i) = s.parse::<i64>() {
        return Some(i.into());
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

/// An amount in yuan as typed (`100000`, `1,234.5`, `¥99.99`), in fen.
fn parse_yuan(s: &str) -> Option<i64> {
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '¥' | '￥'))
        .collect();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.as_str()),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || frac.len() > 2 || !(frac.is_empty() || digits(frac)) {
        return None;
    }
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    let minor = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)?;
    Some(if negative { -minor } else { minor })
}

/// Fen as the yuan an admin types: `100000`, `123.45`, `99.5`.
fn yuan_text(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    let (whole, cents) = (a / 100, a % 100);
    match cents {
        0 => format!("{sign}{whole}"),
        c if c % 10 == 0 => format!("{sign}{whole}.{}", c / 10),
        c => format!("{sign}{whole}.{c:02}"),
    }
}

/// One value as typed, of a field of type `t` (`None`: a field the catalog does not know,
/// taken as JSON when it reads as JSON). The error is the key of what is wrong.
fn parse_scalar(t: Option<FieldType>, text: &str) -> Result<Value, &'static str> {
    let s = text.trim();
    let Some(t) = t else {
        return Ok(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.into())));
    };
    if s.is_empty() {
        return Err("auto.form.err.value_required");
    }
    match t {
        FieldType::Number => parse_number(s).ok_or("auto.form.err.not_number"),
        FieldType::Money => parse_yuan(s)
            .map(Value::from)
            .ok_or("auto.form.err.not_amount"),
        FieldType::Bool => match s {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("auto.form.err.not_chosen"),
        },
        FieldType::User | FieldType::Stage => s
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "auto.form.err.not_chosen"),
        _ => Ok(Value::String(s.into())),
    }
}

/// A value as the form shows it (the inverse of [`parse_scalar`]), or `None` when the form
/// cannot show it as it is.
fn scalar_text(t: Option<FieldType>, v: &Value) -> Option<String> {
    match (t, v) {
        (None, Value::String(s)) => Some(s.clone()),
        (None, other) => Some(other.to_string()),
        (Some(FieldType::Number), Value::Number(n)) => Some(n.to_string()),
        (Some(FieldType::Money), Value::Number(n)) => n.as_i64().map(yuan_text),
        (Some(FieldType::Bool), Value::Bool(b)) => Some(b.to_string()),
        (Some(FieldType::User | FieldType::Stage), Value::Number(n)) => {
            n.as_i64().map(|i| i.to_string())
        }
        (
            Some(
                FieldType::Date
                | FieldType::Instant
                | FieldType::Text
                | FieldType::Enum
                | FieldType::List,
            ),
            Value::String(s),
        ) if !s.trim().is_empty() && s.trim() == s => Some(s.clone()),
        _ => None,
    }
}

fn is_list_separator(c: char) -> bool {
    matches!(c, ',' | '，' | '、')
}

/// A condition row's value: none for `is_set` / `is_unset`, a list for `in` / `not_in`
/// (the choices made, or the texts between commas), else one value.
fn row_value(
    info: Option<&shangji_core::rules::FieldInfo>,
    op: &str,
    values: &[String],
) -> Result<Value, &'static str> {
    let t = info.map(|f| f.field_type);
    if takes_no_value(op) {
        return Ok(Value::Null);
    }
    if takes_list(op) {
        let chosen = info.is_some_and(has_options);
        let items: Vec<&str> = values
            .iter()
            .flat_map(|v| {
                if chosen {
                    vec![v.trim()]
                } else {
                    v.split(is_list_separator).map(str::trim).collect()
                }
            })
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Err("auto.form.err.value_required");
        }
        return items
            .into_iter()
            .map(|s| parse_scalar(t, s))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    parse_scalar(t, values.first().map_or("", String::as_str))
}

/// A recipient as chosen: a kind, and the role or the user it needs.
fn recipient_of(who: &str, role: &str, user: &str) -> Result<Recipient, &'static str> {
    Ok(match who {
        "owner" => Recipient::Owner,
        "manager" => Recipient::Manager,
        "director" => Recipient::Director,
        "role" => Recipient::Role {
            role: role.parse().map_err(|_| "auto.form.err.role_required")?,
        },
        "user" => Recipient::User {
            user_id: user.parse().map_err(|_| "auto.form.err.user_required")?,
        },
        _ => return Err("auto.form.err.who_required"),
    })
}

/// "条件 2：值不是数字" / "Condition 2: the value is not a number".
fn placed(tr: Tr, place: &str, text: &str) -> String {
    tr.fmt("auto.form.placed", &[("place", place), ("text", text)])
}

fn condition_place(tr: Tr, i: usize) -> String {
    tr.fmt("auto.form.condition_n", &[("n", &(i + 1).to_string())])
}

fn action_place(tr: Tr, i: usize) -> String {
    tr.fmt("auto.form.action_n", &[("n", &(i + 1).to_string())])
}

/// The conditions of the form, or what cannot be read, by row.
fn conditions_of(tr: Tr, cat: &FieldCatalog, form: &RuleForm) -> Result<Condition, Vec<String>> {
    if form.conditions_as_json {
        return serde_json::from_str::<Condition>(&form.conditions_text).map_err(|e| {
            vec![format!(
                "{} ({e})",
                placed(tr, tr.t("auto.form.conditions"), tr.t("auto.invalid_json"))
            )]
        });
    }
    let mut errors = Vec::new();
    let mut list = Vec::new();
    for (i, row) in form.conditions.iter().enumerate() {
        if row.field.is_empty() && row.values.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let fail = |key: &str| placed(tr, &condition_place(tr, i), tr.t(key));
        if row.field.is_empty() {
            errors.push(fail("auto.form.err.field_required"));
            continue;
        }
        let Ok(op) = row.op.parse::<shangji_core::rules::Op>() else {
            errors.push(fail("auto.form.err.op_required"));
            continue;
        };
        match row_value(cat.field(&row.field), &row.op, &row.values) {
            Ok(value) => list.push(Condition::Compare(Comparison {
                field: row.field.clone(),
                op,
                value,
            })),
            Err(key) => errors.push(fail(key)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(if form.match_any {
        Condition::Any { any: list }
    } else {
        Condition::All { all: list }
    })
}

/// The actions of the form, or what cannot be read, by row.
fn actions_of(tr: Tr, cat: &FieldCatalog, form: &RuleForm) -> Result<Vec<Action>, Vec<String>> {
    if form.actions_as_json {
        return serde_json::from_str::<Vec<Action>>(&form.actions_text).map_err(|e| {
            vec![format!(
                "{} ({e})",
                placed(tr, tr.t("auto.form.actions"), tr.t("auto.invalid_json"))
            )]
        });
    }
    let mut errors = Vec::new();
    let mut list = Vec::new();
    for (i, row) in form.actions.iter().enumerate() {
        let action = match row.kind.as_str() {
            "" => continue,
            "notify" => recipient_of(&row.who, &row.role, &row.user).map(|to| Action::Notify {
                to,
                message: Some(row.message.clone()).filter(|m| !m.is_empty()),
            }),
            "create_task" => recipient_of(&row.who, &row.role, &row.user).and_then(|assignee| {
                let due = if row.due.is_empty() {
                    0
                } else {
                    row.due
                        .parse::<i32>()
                        .map_err(|_| "auto.form.err.due_not_integer")?
                };
                Ok(Action::CreateTask {
                    title: row.title.clone(),
                    assignee,
                    due_working_days: due,
                })
            }),
            "set_field" if row.field.is_empty() => Err("auto.form.err.field_required"),
            "set_field" => {
                let t = cat.field(&row.field).map(|f| f.field_type);
                let value = if row.value.is_empty() {
                    Ok(Value::Null)
                } else {
                    parse_scalar(t, &row.value)
                };
                value.map(|value| Action::SetField {
                    field: row.field.clone(),
                    value,
                })
            }
            "assign" => match row.assignment_rule.as_str() {
                "" => Ok(Action::Assign {
                    assignment_rule_id: None,
                }),
                id => id
                    .parse()
                    .map(|id| Action::Assign {
                        assignment_rule_id: Some(id),
                    })
                    .map_err(|_| "auto.form.err.not_chosen"),
            },
            "return_to_pool" => Ok(Action::ReturnToPool),
            "request_approval" => row
                .policy
                .parse()
                .map(|policy_id| Action::RequestApproval { policy_id })
                .map_err(|_| "auto.form.err.policy_required"),
            _ => Err("auto.form.err.kind_required"),
        };
        match action {
            Ok(a) => list.push(a),
            Err(key) => errors.push(placed(tr, &action_place(tr, i), tr.t(key))),
        }
    }
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

/// The trigger of the form.
fn trigger_of(tr: Tr, form: &RuleForm) -> Result<Trigger, String> {
    let stage = || -> Result<Option<i64>, String> {
        match form.trigger_stage.as_str() {
            "" => Ok(None),
            s => s.parse().map(Some).map_err(|_| {
                placed(
                    tr,
                    tr.t("auto.form.trigger"),
                    tr.t("auto.form.err.not_chosen"),
                )
            }),
        }
    };
    Ok(match form.trigger_kind.as_str() {
        "created" => Trigger::Created,
        "updated" => Trigger::Updated,
        "field_changed" if form.trigger_field.is_empty() => {
            return Err(placed(
                tr,
                tr.t("auto.form.trigger"),
                tr.t("auto.form.err.field_required"),
            ))
        }
        "field_changed" => Trigger::FieldChanged {
            field: form.trigger_field.clone(),
        },
        "stage_entered" => Trigger::StageEntered { stage: stage()? },
        "stage_left" => Trigger::StageLeft { stage: stage()? },
        _ => Trigger::Schedule,
    })
}

/// The posted form as a rule input, or every value that cannot be read, each naming its
/// row and field in the page's language ("条件 2：值不是数字"). What the rule means is left to
/// the rule checks (`rules::validate_rule`).
fn input_of(tr: Tr, cat: &FieldCatalog, form: &RuleForm) -> Result<RuleInput, Vec<String>> {
    let mut errors = Vec::new();
    let trigger = trigger_of(tr, form).map_err(|e| errors.push(e)).ok();
    let conditions = conditions_of(tr, cat, form)
        .map_err(|e| errors.extend(e))
        .ok();
    let actions = actions_of(tr, cat, form).map_err(|e| errors.extend(e)).ok();
    match (trigger, conditions, actions) {
        (Some(trigger), Some(conditions), Some(actions)) if errors.is_empty() => Ok(RuleInput {
            name: form.name.clone(),
            enabled: form.enabled,
            record_type: shangji_core::rules::RecordType::Opportunity,
            trigger,
            conditions,
            actions,
            template_key: Some(form.template_key.clone()).filter(|k| !k.is_empty()),
            version: (form.version > 0).then_some(form.version),
        }),
        _ => Err(errors),
    }
}

/// The rows of `c`, when the rows can show it exactly: comparisons under one `all` or one
/// `any` (or a lone comparison), each value as the form types it.
fn rows_of_conditions(cat: &FieldCatalog, c: &Condition) -> Option<(bool, Vec<CondRow>)> {
    let (any, list) = match c {
        Condition::All { all } => (false, all.as_slice()),
        Condition::Any { any } => (true, any.as_slice()),
        Condition::Compare(_) => (false, std::slice::from_ref(c)),
        Condition::Not { .. } => return None,
    };
    let rows = list
        .iter()
        .map(|c| {
            let Condition::Compare(cmp) = c else {
                return None;
            };
            let info = cat.field(&cmp.field);
            let t = info.map(|f| f.field_type);
            let op = cmp.op.as_str();
            let values = if takes_no_value(op) {
                if !cmp.value.is_null() {
                    return None;
                }
                vec![]
            } else if takes_list(op) {
                let items = cmp
                    .value
                    .as_array()?
                    .iter()
                    .map(|v| scalar_text(t, v))
                    .collect::<Option<Vec<_>>>()?;
                if info.is_some_and(has_options) {
                    items
                } else if items.iter().any(|s| s.contains(is_list_separator)) {
                    return None;
                } else {
                    vec![items.join(", ")]
                }
            } else {
                vec![scalar_text(t, &cmp.value)?]
            };
            Some(CondRow {
                field: cmp.field.clone(),
                op: op.to_string(),
                values,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((any, rows))
}

fn recipient_row(r: &Recipient, row: &mut ActionRow) {
    row.who = match r {
        Recipient::Owner => "owner",
        Recipient::Manager => "manager",
        Recipient::Director => "director",
        Recipient::Role { role } => {
            row.role = role.as_str().to_string();
            "role"
        }
        Recipient::User { user_id } => {
            row.user = user_id.to_string();
            "user"
        }
    }
    .to_string();
}

/// The rows of `actions`, when the rows can show them exactly.
fn rows_of_actions(cat: &FieldCatalog, actions: &[Action]) -> Option<Vec<ActionRow>> {
    actions
        .iter()
        .map(|a| {
            let mut row = ActionRow::default();
            match a {
                Action::Notify { to, message } => {
                    row.kind = "notify".into();
                    recipient_row(to, &mut row);
                    row.message = message.clone().unwrap_or_default();
                    if message
                        .as_deref()
                        .is_some_and(|m| m.is_empty() || m.trim() != m)
                    {
                        return None;
                    }
                }
                Action::CreateTask {
                    title,
                    assignee,
                    due_working_days,
                } => {
                    row.kind = "create_task".into();
                    recipient_row(assignee, &mut row);
                    row.title = title.clone();
                    row.due = due_working_days.to_string();
                    if title.trim() != title {
                        return None;
                    }
                }
                Action::SetField { field, value } => {
                    row.kind = "set_field".into();
                    row.field = field.clone();
                    row.value = if value.is_null() {
                        String::new()
                    } else {
                        scalar_text(cat.field(field).map(|f| f.field_type), value)?
                    };
                }
                Action::Assign { assignment_rule_id } => {
                    row.kind = "assign".into();
                    row.assignment_rule = assignment_rule_id
                        .map(|i| i.to_string())
                        .unwrap_or_default();
                }
                Action::ReturnToPool => row.kind = "return_to_pool".into(),
                Action::RequestApproval { policy_id } => {
                    row.kind = "request_approval".into();
                    row.policy = policy_id.to_string();
                }
            }
            Some(row)
        })
        .collect()
}

/// The form showing `input`: rows where they show it exactly (reading them back gives the
/// same rule), else JSON.
fn form_of(tr: Tr, cat: &FieldCatalog, input: &RuleInput, version: i64) -> RuleForm {
    let mut form = RuleForm {
        name: input.name.clone(),
        enabled: input.enabled,
        template_key: input.template_key.clone().unwrap_or_default(),
        version,
        conditions_text: pretty(&input.conditions),
        actions_text: pretty(&input.actions),
        ..RuleForm::default()
    };
    match &input.trigger {
        Trigger::Created => form.trigger_kind = "created".into(),
        Trigger::Updated => form.trigger_kind = "updated".into(),
        Trigger::Schedule => form.trigger_kind = "schedule".into(),
        Trigger::FieldChanged { field } => {
            form.trigger_kind = "field_changed".into();
            form.trigger_field = field.clone();
        }
        Trigger::StageEntered { stage } | Trigger::StageLeft { stage } => {
            form.trigger_kind = if matches!(input.trigger, Trigger::StageEntered { .. }) {
                "stage_entered"
            } else {
                "stage_left"
            }
            .into();
            form.trigger_stage = stage.map(|s| s.to_string()).unwrap_or_default();
        }
    }
    match rows_of_conditions(cat, &input.conditions) {
        Some((any, rows)) => {
            form.match_any = any;
            form.conditions = rows;
            let same = conditions_of(tr, cat, &form).is_ok_and(|c| {
                c == input.conditions
                    || matches!(&input.conditions, Condition::Compare(_))
                        && c == (Condition::All {
                            all: vec![input.conditions.clone()],
                        })
            });
            if !same {
                form.conditions = vec![];
                form.conditions_as_json = true;
            }
        }
        None => form.conditions_as_json = true,
    }
    match rows_of_actions(cat, &input.actions) {
        Some(rows) => {
            form.actions = rows;
            if actions_of(tr, cat, &form).ok().as_deref() != Some(input.actions.as_slice()) {
                form.actions = vec![];
                form.actions_as_json = true;
            }
        }
        None => form.actions_as_json = true,
    }
    form
}

// ---- The rule's form: what the page offers and shows. ----

/// A choice of a select.
#[derive(Debug, Clone, serde::Serialize)]
struct Choice {
    value: String,
    label: String,
}

fn choice(value: impl Into<String>, label: impl Into<String>) -> Choice {
    Choice {
        value: value.into(),
        label: label.into(),
    }
}

/// An option of a select, chosen or not.
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

struct OptGroup {
    label: String,
    options: Vec<Opt>,
}

/// A field a row may name, as the selects and the page's script see it.
#[derive(Debug, Clone, serde::Serialize)]
struct FieldChoice {
    name: String,
    label: String,
    #[serde(rename = "type")]
    field_type: &'static str,
    #[serde(skip)]
    origin: shangji_core::rules::FieldOrigin,
    /// The operators of its type.
    ops: Vec<Choice>,
    /// The values to choose from (stages, users, yes / no, options); empty: typed.
    options: Vec<Choice>,
    settable: bool,
}

/// What the rule's form offers, in the page's language.
struct Choices {
    cat: FieldCatalog,
    fields: Vec<FieldChoice>,
    stages: Vec<Choice>,
    users: Vec<Choice>,
    assignment_rules: Vec<Choice>,
    policies: Vec<Choice>,
}

const TRIGGER_KINDS: [&str; 6] = [
    "schedule",
    "created",
    "updated",
    "field_changed",
    "stage_entered",
    "stage_left",
];
const ACTION_KINDS: [&str; 6] = [
    "notify",
    "create_task",
    "set_field",
    "assign",
    "return_to_pool",
    "request_approval",
];
const RECIPIENTS: [&str; 5] = ["owner", "manager", "director", "role", "user"];

/// An enum option's label: deal statuses, forecast categories and sources by name.
fn option_label(tr: Tr, field: &str, value: &str) -> String {
    let key = match field {
        "stage_kind" => format!("kind.{value}"),
        "forecast_category" => format!("forecast.{value}"),
        "source" => format!("source.{value}"),
        "grade" => return value.to_uppercase(),
        _ => return value.to_string(),
    };
    tr.get(&key).unwrap_or(value).to_string()
}

impl Choices {
    fn build(
        tr: Tr,
        dir: &Directory,
        users: &[shangji_core::model::User],
        assignment_rules: Vec<Choice>,
    ) -> Choices {
        let cat = FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &[]);
        let open: Vec<&shangji_core::model::Pipeline> =
            dir.pipelines.iter().filter(|p| !p.archived).collect();
        let stages: Vec<Choice> = dir
            .pipelines
            .iter()
            .flat_map(|p| p.stages.iter().filter(|s| !s.archived).map(move |s| (p, s)))
            .map(|(p, s)| {
                let name = s.name(tr.lang);
                choice(
                    s.id.to_string(),
                    if open.len() > 1 {
                        format!("{} · {name}", p.name)
                    } else {
                        name.to_string()
                    },
                )
            })
            .collect();
        let user_choices: Vec<Choice> = users
            .iter()
            .filter(|u| u.active)
            .map(|u| choice(u.id.to_string(), u.display_name.clone()))
            .collect();
        let fields = cat
            .fields
            .iter()
            .map(|f| {
                let options = match f.field_type {
                    FieldType::Stage => stages.clone(),
                    FieldType::User => user_choices.clone(),
                    FieldType::Bool => vec![
                        choice("true", tr.t("auto.form.yes")),
                        choice("false", tr.t("auto.form.no")),
                    ],
                    _ => {
                        let def = cat.custom_def(&f.name);
                        f.options
                            .iter()
                            .map(|o| {
                                let label = match def
                                    .and_then(|d| d.options.iter().find(|x| &x.value == o))
                                {
                                    Some(x) if !tr.is_zh() => {
                                        x.label_en.clone().unwrap_or_else(|| o.clone())
                                    }
                                    Some(_) => o.clone(),
                                    None => option_label(tr, &f.name, o),
                                };
                                choice(o.clone(), label)
                            })
                            .collect()
                    }
                };
                FieldChoice {
                    name: f.name.clone(),
                    label: if tr.is_zh() {
                        f.label_zh.clone()
                    } else {
                        f.label_en.clone()
                    },
                    field_type: f.field_type.as_str(),
                    origin: f.origin,
                    ops: f
                        .field_type
                        .ops()
                        .iter()
                        .map(|o| {
                            choice(
                                o.as_str(),
                                tr.get(&format!("auto.op.{o}")).unwrap_or(o.as_str()),
                            )
                        })
                        .collect(),
                    options,
                    settable: f.settable,
                }
            })
            .collect();
        Choices {
            cat,
            fields,
            stages,
            users: user_choices,
            assignment_rules,
            policies: dir
                .approval_policies
                .iter()
                .filter(|p| p.active)
                .map(|p| choice(p.id.to_string(), p.name.clone()))
                .collect(),
        }
    }

    fn field(&self, name: &str) -> Option<&FieldChoice> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The page script's view: each field's type, operators and options, and the words it
    /// needs.
    fn script_json(&self, tr: Tr) -> String {
        let labels = serde_json::json!({
            "blank": tr.t("auto.form.choose"),
            "clear": tr.t("auto.form.clear"),
            "none": tr.t("auto.form.no_value"),
            "list": tr.t("auto.form.list_hint"),
            "yuan": tr.t("auto.form.yuan_hint"),
            "instant": tr.t("auto.form.instant_hint"),
        });
        // Kept safe inside <script>: no "</" can close it.
        serde_json::json!({"fields": self.fields, "labels": labels})
            .to_string()
            .replace("</", "<\\/")
    }
}

/// `choices` as options, `selected` chosen; a chosen value not among them is kept, named as
/// it is.
fn opts(choices: &[Choice], selected: &[&str]) -> Vec<Opt> {
    let mut out: Vec<Opt> = choices
        .iter()
        .map(|c| Opt {
            value: c.value.clone(),
            label: c.label.clone(),
            selected: selected.contains(&c.value.as_str()),
        })
        .collect();
    for s in selected {
        if !s.is_empty() && !choices.iter().any(|c| c.value == *s) {
            out.push(Opt {
                value: s.to_string(),
                label: s.to_string(),
                selected: true,
            });
        }
    }
    out
}

fn word_opts(tr: Tr, prefix: &str, values: &[&str], selected: &str) -> Vec<Opt> {
    let choices: Vec<Choice> = values
        .iter()
        .map(|v| choice(*v, tr.t(&format!("{prefix}{v}"))))
        .collect();
    opts(&choices, &[selected])
}

/// How a value is entered: nothing, a select (one or several), or an input.
struct Control {
    /// The posted name (`c0_value`, `a1_value`).
    name: String,
    /// `none`, `select` or `input`.
    kind: &'static str,
    multiple: bool,
    /// The input's type (`text`, `date`) and input mode (`text`, `decimal`).
    input: &'static str,
    mode: &'static str,
    placeholder: String,
    value: String,
    options: Vec<Opt>,
}

/// The value control of `field` compared by `op` (a `set_field` value when `clearing`: a
/// blank choice clears the field). The page's script builds the same controls.
fn control(
    tr: Tr,
    ch: &Choices,
    name: String,
    field: &str,
    op: &str,
    values: &[String],
    clearing: bool,
) -> Control {
    let mut c = Control {
        name,
        kind: "input",
        multiple: false,
        input: "text",
        mode: "text",
        placeholder: String::new(),
        value: values.join(", "),
        options: vec![],
    };
    if takes_no_value(op) {
        c.kind = "none";
        return c;
    }
    let info = ch.field(field);
    if let Some(f) = info.filter(|f| !f.options.is_empty()) {
        c.kind = "select";
        c.multiple = takes_list(op);
        let chosen: Vec<&str> = values.iter().map(String::as_str).collect();
        c.options = opts(&f.options, &chosen);
        if !c.multiple {
            c.options.insert(
                0,
                Opt {
                    value: String::new(),
                    label: tr
                        .t(if clearing {
                            "auto.form.clear"
                        } else {
                            "auto.form.choose"
                        })
                        .to_string(),
                    selected: values.iter().all(|v| v.is_empty()),
                },
            );
        }
        return c;
    }
    if takes_list(op) {
        c.placeholder = tr.t("auto.form.list_hint").to_string();
        return c;
    }
    match info.map(|f| f.field_type) {
        Some("date") => c.input = "date",
        Some("number") => c.mode = "decimal",
        Some("money") => {
            c.mode = "decimal";
            c.placeholder = tr.t("auto.form.yuan_hint").to_string();
        }
        Some("instant") => c.placeholder = tr.t("auto.form.instant_hint").to_string(),
        _ => {}
    }
    c
}

struct CondView {
    index: usize,
    number: usize,
    fields: Vec<OptGroup>,
    ops: Vec<Opt>,
    control: Control,
    errors: Vec<String>,
}

struct ActionView {
    index: usize,
    number: usize,
    kinds: Vec<Opt>,
    whos: Vec<Opt>,
    roles: Vec<Opt>,
    users: Vec<Opt>,
    message: String,
    title: String,
    due: String,
    fields: Vec<Opt>,
    control: Control,
    assignment_rules: Vec<Opt>,
    policies: Vec<Opt>,
    errors: Vec<String>,
}

struct TriggerView {
    kinds: Vec<Opt>,
    fields: Vec<Opt>,
    stages: Vec<Opt>,
    errors: Vec<String>,
}

/// Where a mistake is: a condition row, an action row, the trigger, or elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spot {
    Condition(usize),
    Action(usize),
    Trigger,
    Other,
}

/// The row index in `rest` = `<digits>]…`, and what follows it.
fn index_in(rest: &str) -> Option<(usize, &str)> {
    let (i, after) = rest.split_once(']')?;
    Some((i.parse().ok()?, after))
}

/// A rule check's place (`conditions.all[1].value`, `actions[0].policy_id`) in words
/// ("条件 2", "动作 1"), and the row it names.
fn place_of(tr: Tr, path: &str) -> (String, Spot) {
    let row = path
        .strip_prefix("conditions.all[")
        .or_else(|| path.strip_prefix("conditions.any["))
        .and_then(index_in);
    if let Some((i, after)) = row {
        if !after.contains(".all") && !after.contains(".any") && !after.contains(".not") {
            return (condition_place(tr, i), Spot::Condition(i));
        }
    }
    if let Some((i, _)) = path.strip_prefix("actions[").and_then(index_in) {
        return (action_place(tr, i), Spot::Action(i));
    }
    match path {
        "conditions" | "conditions.any" => (tr.t("auto.form.conditions").to_string(), Spot::Other),
        "actions" => (tr.t("auto.form.actions").to_string(), Spot::Other),
        "name" => (tr.t("auto.form.name").to_string(), Spot::Other),
        p if p.starts_with("trigger") => (tr.t("auto.form.trigger").to_string(), Spot::Trigger),
        p if p.starts_with("conditions") => (
            tr.fmt("auto.form.conditions_at", &[("path", p)]),
            Spot::Other,
        ),
        p => (p.to_string(), Spot::Other),
    }
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
    form: RuleForm,
    trigger: TriggerView,
    conditions: Vec<CondView>,
    actions: Vec<ActionView>,
    /// The page script's view of the fields (JSON).
    script: String,
    errors: Vec<String>,
    saved: bool,
    dry: Option<Vec<DryRow>>,
    firings: Vec<FiringRowView>,
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The page of `form`, with the refusals `refused` (place, words) shown in the list and by
/// their rows.
fn rule_page_of(
    v: &Viewer,
    ch: &Choices,
    id: i64,
    form: RuleForm,
    refused: &[(String, String)],
    mut errors: Vec<String>,
) -> RulePage {
    let tr = v.tr;
    let mut row_errors: Vec<(Spot, String)> = Vec::new();
    for (path, text) in refused {
        let (place, spot) = place_of(tr, path);
        errors.push(placed(tr, &place, text));
        row_errors.push((spot, text.clone()));
    }
    let errors_at = |spot: Spot| -> Vec<String> {
        row_errors
            .iter()
            .filter(|(s, _)| *s == spot)
            .map(|(_, t)| t.clone())
            .collect()
    };
    let group = |key: &str, origin: shangji_core::rules::FieldOrigin, chosen: &str| OptGroup {
        label: tr.t(key).to_string(),
        options: ch
            .fields
            .iter()
            .filter(|f| f.origin == origin)
            .map(|f| Opt {
                value: f.name.clone(),
                label: f.label.clone(),
                selected: f.name == chosen,
            })
            .collect(),
    };
    use shangji_core::rules::FieldOrigin;
    let conditions = form
        .conditions
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let info = ch.field(&row.field);
            let mut fields = vec![OptGroup {
                label: String::new(),
                options: vec![Opt {
                    value: String::new(),
                    label: tr.t("auto.form.choose").to_string(),
                    selected: row.field.is_empty(),
                }],
            }];
            fields.push(group(
                "auto.form.builtin_fields",
                FieldOrigin::Builtin,
                &row.field,
            ));
            fields.push(group(
                "auto.form.custom_fields",
                FieldOrigin::Custom,
                &row.field,
            ));
            fields.push(group(
                "auto.form.derived_fields",
                FieldOrigin::Derived,
                &row.field,
            ));
            fields.retain(|g| !g.options.is_empty());
            if !row.field.is_empty() && info.is_none() {
                fields.push(OptGroup {
                    label: String::new(),
                    options: vec![Opt {
                        value: row.field.clone(),
                        label: row.field.clone(),
                        selected: true,
                    }],
                });
            }
            let ops: Vec<Choice> = match info {
                Some(f) => f.ops.clone(),
                None => shangji_core::rules::Op::ALL
                    .iter()
                    .map(|o| {
                        choice(
                            o.as_str(),
                            tr.get(&format!("auto.op.{o}")).unwrap_or(o.as_str()),
                        )
                    })
                    .collect(),
            };
            let op = if ops.iter().any(|o| o.value == row.op) {
                row.op.clone()
            } else {
                ops.first().map(|o| o.value.clone()).unwrap_or_default()
            };
            CondView {
                index: i,
                number: i + 1,
                fields,
                control: control(
                    tr,
                    ch,
                    format!("c{i}_value"),
                    &row.field,
                    &op,
                    &row.values,
                    false,
                ),
                ops: opts(&ops, &[op.as_str()]),
                errors: errors_at(Spot::Condition(i)),
            }
        })
        .collect();
    let settable: Vec<Choice> = ch
        .fields
        .iter()
        .filter(|f| f.settable)
        .map(|f| choice(f.name.clone(), f.label.clone()))
        .collect();
    let roles: Vec<Choice> = shangji_core::model::Role::ALL
        .iter()
        .map(|r| choice(r.as_str(), tr.t(&format!("role.{r}"))))
        .collect();
    let with_blank = |list: &[Choice], blank: &str| -> Vec<Choice> {
        let mut out = vec![choice("", tr.t(blank))];
        out.extend(list.iter().cloned());
        out
    };
    let settable = with_blank(&settable, "auto.form.choose");
    let users = with_blank(&ch.users, "auto.form.choose");
    let assignment_rules = with_blank(&ch.assignment_rules, "auto.form.default_assignment");
    let policies = with_blank(&ch.policies, "auto.form.choose");
    let actions = form
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| ActionView {
            index: i,
            number: i + 1,
            kinds: {
                let mut kinds = word_opts(tr, "auto.action.", &ACTION_KINDS, &a.kind);
                if a.kind.is_empty() {
                    kinds.insert(
                        0,
                        Opt {
                            value: String::new(),
                            label: tr.t("auto.form.choose").to_string(),
                            selected: true,
                        },
                    );
                }
                kinds
            },
            whos: word_opts(tr, "auto.recipient.", &RECIPIENTS, &a.who),
            roles: opts(&roles, &[a.role.as_str()]),
            users: opts(&users, &[a.user.as_str()]),
            message: a.message.clone(),
            title: a.title.clone(),
            due: a.due.clone(),
            fields: opts(&settable, &[a.field.as_str()]),
            control: control(
                tr,
                ch,
                format!("a{i}_value"),
                &a.field,
                "eq",
                std::slice::from_ref(&a.value),
                true,
            ),
            assignment_rules: opts(&assignment_rules, &[a.assignment_rule.as_str()]),
            policies: opts(&policies, &[a.policy.as_str()]),
            errors: errors_at(Spot::Action(i)),
        })
        .collect();
    let stored: Vec<Choice> = ch
        .fields
        .iter()
        .filter(|f| f.origin != FieldOrigin::Derived)
        .map(|f| choice(f.name.clone(), f.label.clone()))
        .collect();
    let stored = with_blank(&stored, "auto.form.choose");
    let stages = with_blank(&ch.stages, "auto.form.any_stage");
    RulePage {
        tr,
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
        trigger: TriggerView {
            kinds: word_opts(tr, "auto.trigger.", &TRIGGER_KINDS, &form.trigger_kind),
            fields: opts(&stored, &[form.trigger_field.as_str()]),
            stages: opts(&stages, &[form.trigger_stage.as_str()]),
            errors: errors_at(Spot::Trigger),
        },
        conditions,
        actions,
        script: ch.script_json(tr),
        form,
        errors,
        saved: false,
        dry: None,
        firings: vec![],
    }
}

async fn choices(s: &AppState, v: &Viewer) -> Result<Choices, AppError> {
    let users = s.db.users().await?;
    let rules: Vec<Choice> =
        s.db.assignment_rules()
            .await?
            .into_iter()
            .map(|r| choice(r.rule.id.to_string(), r.rule.name))
            .collect();
    Ok(Choices::build(v.tr, &v.ctx.dir, &users, rules))
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

async fn new_rule(State(s): State<AppState>, v: Viewer) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(RULES, e);
    }
    match choices(&s, &v).await {
        Ok(ch) => render(rule_page_of(&v, &ch, 0, RuleForm::blank(), &[], vec![])),
        Err(e) => v.error(RULES, e),
    }
}

async fn rule_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let result = async {
        let r = automation::get_rule(&s.db, &v.ctx, id).await?;
        let ch = choices(&s, &v).await?;
        let form = form_of(v.tr, &ch.cat, &r.rule.to_input(), r.version);
        let mut page = rule_page_of(&v, &ch, id, form, &[], vec![]);
        page.saved = q.saved == Some(id);
        with_firings(&s, &v, page).await
    }
    .await;
    match result {
        Ok(p) => render(p),
        Err(e) => v.error(RULES, e),
    }
}

/// A rule check's words for one mistake, in the user's language — the checks' own words for
/// their codes (`auto.err.<code>`, with the name the check did not find), else the shared
/// ones. The check's English detail follows where the words leave something out: a loop's
/// path, and a shared text in an English page.
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
        format!("{text} — {}", f.message)
    } else {
        text
    }
}

/// The refusals of a save: each mistake's place and words, in the user's language (the
/// settings pages of assignment and follow-ups word theirs the same way).
pub(super) fn errors_of(tr: Tr, e: &AppError) -> Vec<(String, String)> {
    match e {
        AppError::InvalidMany(list) => list
            .iter()
            .map(|f| (f.field.clone(), rule_error_text(tr, f)))
            .collect(),
        AppError::Invalid(f) | AppError::BadRequest(f) => {
            vec![(f.field.clone(), rule_error_text(tr, f))]
        }
        other => {
            let (field, text) = error_text(tr, other);
            vec![(field, text)]
        }
    }
}

/// The form after a button that edits it without saving (add or remove a row, switch a part
/// to JSON or back), or `None` for another button.
fn edited(
    tr: Tr,
    cat: &FieldCatalog,
    action: &str,
    mut form: RuleForm,
) -> Option<(RuleForm, Vec<String>)> {
    let mut errors = vec![];
    match action {
        "add_condition" => form.conditions.push(CondRow::default()),
        "add_action" => form.actions.push(ActionRow::default()),
        "conditions_json" => match conditions_of(tr, cat, &form) {
            Ok(c) => {
                form.conditions_text = pretty(&c);
                form.conditions_as_json = true;
            }
            Err(e) => errors = e,
        },
        "actions_json" => match actions_of(tr, cat, &form) {
            Ok(a) => {
                form.actions_text = pretty(&a);
                form.actions_as_json = true;
            }
            Err(e) => errors = e,
        },
        "conditions_rows" => match conditions_of(tr, cat, &form) {
            Ok(c) => match rows_of_conditions(cat, &c) {
                Some((any, rows)) => {
                    form.match_any = any;
                    form.conditions = rows;
                    form.conditions_as_json = false;
                }
                None => errors.push(placed(
                    tr,
                    tr.t("auto.form.conditions"),
                    tr.t("auto.form.err.nested"),
                )),
            },
            Err(e) => errors = e,
        },
        "actions_rows" => match actions_of(tr, cat, &form) {
            Ok(a) => match rows_of_actions(cat, &a) {
                Some(rows) => {
                    form.actions = rows;
                    form.actions_as_json = false;
                }
                None => errors.push(placed(
                    tr,
                    tr.t("auto.form.actions"),
                    tr.t("auto.form.err.not_shown"),
                )),
            },
            Err(e) => errors = e,
        },
        other => {
            if let Some(i) = other
                .strip_prefix("remove_condition_")
                .and_then(|i| i.parse::<usize>().ok())
            {
                if i < form.conditions.len() {
                    form.conditions.remove(i);
                }
            } else if let Some(i) = other
                .strip_prefix("remove_action_")
                .and_then(|i| i.parse::<usize>().ok())
            {
                if i < form.actions.len() {
                    form.actions.remove(i);
                }
            } else {
                return None;
            }
        }
    }
    Some((form, errors))
}

async fn post_rule(s: AppState, v: Viewer, id: i64, f: Vec<(String, String)>) -> Response {
    let posted = match v.posted(f, RULES) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let action = posted.text("do");
    if action == "delete" && id > 0 {
        return match automation::delete_rule(&s.db, &v.ctx, id).await {
            Ok(()) => Redirect::to(RULES).into_response(),
            Err(e) => v.error(RULES, e),
        };
    }
    if let Err(e) = v.ctx.require_admin() {
        return v.error(RULES, e);
    }
    let ch = match choices(&s, &v).await {
        Ok(ch) => ch,
        Err(e) => return v.error(RULES, e),
    };
    let form = RuleForm::read(&posted);
    let show = |page: RulePage| async {
        match with_firings(&s, &v, page).await {
            Ok(p) => render(p),
            Err(e) => v.error(RULES, e),
        }
    };
    if let Some((form, errors)) = edited(v.tr, &ch.cat, &action, form.clone()) {
        return show(rule_page_of(&v, &ch, id, form, &[], errors)).await;
    }
    let input = match input_of(v.tr, &ch.cat, &form) {
        Ok(i) => i,
        Err(errors) => return show(rule_page_of(&v, &ch, id, form, &[], errors)).await,
    };
    if action == "dry_run" {
        return match automation::dry_run_input(&s.db, &v.ctx, input).await {
            Ok(items) => {
                let mut page = rule_page_of(&v, &ch, id, form, &[], vec![]);
                page.dry = Some(dry_rows(v.tr, &v.ctx.dir, items));
                show(page).await
            }
            Err(e) => {
                show(rule_page_of(
                    &v,
                    &ch,
                    id,
                    form,
                    &errors_of(v.tr, &e),
                    vec![],
                ))
                .await
            }
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
            show(rule_page_of(
                &v,
                &ch,
                id,
                form,
                &errors_of(v.tr, &e),
                vec![],
            ))
            .await
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

#[cfg(test)]
#[path = "automation/form_tests.rs"]
mod tests;
