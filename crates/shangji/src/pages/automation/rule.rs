//! One rule's page: the form as rows with their mistakes beside them, saving, the dry run
//! and the firing log.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::rules::{FieldCatalog, FieldOrigin, RecordType};
use shangji_store::Directory;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::automation::{self, DryRunItem};
use crate::pages::{error_text, render, Nav, Viewer};
use crate::state::AppState;

use super::choices::{
    choice, control, opts, word_opts, Choice, Choices, Control, Opt, OptGroup, RECIPIENTS,
};
use super::form::{
    actions_of, conditions_of, form_of, input_of, place_of, placed, rows_of_actions,
    rows_of_conditions, ActionRow, CondRow, RuleForm, Spot,
};
use super::reasons::{reason_text, reasons_text, value_text};
use super::RULES;

struct DryRow {
    href: String,
    title: String,
    reasons: Vec<String>,
    already: bool,
}

struct FiringRowView {
    record_id: i64,
    href: String,
    when: String,
    reasons: Vec<String>,
    outcome: String,
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
    /// The words for what the rule watches.
    record_type_key: String,
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

pub(super) fn pretty(v: &impl serde::Serialize) -> String {
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
        record_type_key: format!("auto.record_type.{}", ch.cat.record_type.as_str()),
        trigger: trigger_view(tr, ch, &form, &row_errors),
        conditions: condition_views(tr, ch, &form, &row_errors),
        actions: action_views(tr, ch, &form, &row_errors),
        script: ch.script_json(tr),
        form,
        errors,
        saved: false,
        dry: None,
        firings: vec![],
    }
}

/// The mistakes shown by the row (or the trigger) at `spot`.
fn errors_at(row_errors: &[(Spot, String)], spot: Spot) -> Vec<String> {
    row_errors
        .iter()
        .filter(|(s, _)| *s == spot)
        .map(|(_, t)| t.clone())
        .collect()
}

/// `list` after a first blank choice worded by `blank`.
fn with_blank(tr: Tr, list: &[Choice], blank: &str) -> Vec<Choice> {
    let mut out = vec![choice("", tr.t(blank))];
    out.extend(list.iter().cloned());
    out
}

/// A condition row's select of fields: built-in, custom and derived ones in groups, and a
/// field the catalog no longer knows kept as it was chosen.
fn field_groups(tr: Tr, ch: &Choices, chosen: &str) -> Vec<OptGroup> {
    let group = |key: &str, origin: FieldOrigin| OptGroup {
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
    let mut fields = vec![OptGroup {
        label: String::new(),
        options: vec![Opt {
            value: String::new(),
            label: tr.t("auto.form.choose").to_string(),
            selected: chosen.is_empty(),
        }],
    }];
    fields.push(group("auto.form.builtin_fields", FieldOrigin::Builtin));
    fields.push(group("auto.form.custom_fields", FieldOrigin::Custom));
    fields.push(group("auto.form.derived_fields", FieldOrigin::Derived));
    fields.retain(|g| !g.options.is_empty());
    if !chosen.is_empty() && ch.field(chosen).is_none() {
        fields.push(OptGroup {
            label: String::new(),
            options: vec![Opt {
                value: chosen.to_string(),
                label: chosen.to_string(),
                selected: true,
            }],
        });
    }
    fields
}

fn condition_views(
    tr: Tr,
    ch: &Choices,
    form: &RuleForm,
    row_errors: &[(Spot, String)],
) -> Vec<CondView> {
    form.conditions
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let ops: Vec<Choice> = match ch.field(&row.field) {
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
                fields: field_groups(tr, ch, &row.field),
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
                errors: errors_at(row_errors, Spot::Condition(i)),
            }
        })
        .collect()
}

fn action_views(
    tr: Tr,
    ch: &Choices,
    form: &RuleForm,
    row_errors: &[(Spot, String)],
) -> Vec<ActionView> {
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
    let settable = with_blank(tr, &settable, "auto.form.choose");
    let users = with_blank(tr, &ch.users, "auto.form.choose");
    let assignment_rules = with_blank(tr, &ch.assignment_rules, "auto.form.default_assignment");
    let policies = with_blank(tr, &ch.policies, "auto.form.choose");
    form.actions
        .iter()
        .enumerate()
        .map(|(i, a)| ActionView {
            index: i,
            number: i + 1,
            kinds: {
                let mut kinds = word_opts(tr, "auto.action.", &ch.action_kinds(), &a.kind);
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
            errors: errors_at(row_errors, Spot::Action(i)),
        })
        .collect()
}

fn trigger_view(
    tr: Tr,
    ch: &Choices,
    form: &RuleForm,
    row_errors: &[(Spot, String)],
) -> TriggerView {
    let stored: Vec<Choice> = ch
        .fields
        .iter()
        .filter(|f| f.origin != FieldOrigin::Derived)
        .map(|f| choice(f.name.clone(), f.label.clone()))
        .collect();
    let stored = with_blank(tr, &stored, "auto.form.choose");
    let stages = with_blank(tr, &ch.stages, "auto.form.any_stage");
    TriggerView {
        kinds: word_opts(tr, "auto.trigger.", &ch.trigger_kinds(), &form.trigger_kind),
        fields: opts(&stored, &[form.trigger_field.as_str()]),
        stages: opts(&stages, &[form.trigger_stage.as_str()]),
        errors: errors_at(row_errors, Spot::Trigger),
    }
}

async fn choices(s: &AppState, v: &Viewer, record_type: RecordType) -> Result<Choices, AppError> {
    let users = s.db.users().await?;
    let rules: Vec<Choice> =
        s.db.assignment_rules()
            .await?
            .into_iter()
            .filter(|r| r.rule.record_type == record_type)
            .map(|r| choice(r.rule.id.to_string(), r.rule.name))
            .collect();
    Ok(Choices::build(v.tr, &v.ctx.dir, &users, rules, record_type))
}

async fn with_firings(s: &AppState, v: &Viewer, mut page: RulePage) -> Result<RulePage, AppError> {
    if page.id > 0 {
        page.firings = automation::rule_firings(&s.db, &v.ctx, page.id)
            .await?
            .into_iter()
            .map(|f| FiringRowView {
                href: record_href(&f.record_type, f.record_id),
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
pub(super) struct SavedQuery {
    saved: Option<i64>,
}

#[derive(serde::Deserialize)]
pub(super) struct NewQuery {
    record_type: Option<RecordType>,
}

pub(super) async fn new_rule(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<NewQuery>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(RULES, e);
    }
    let record_type = q.record_type.unwrap_or(RecordType::Opportunity);
    let mut form = RuleForm::blank();
    form.record_type = record_type.as_str().into();
    match choices(&s, &v, record_type).await {
        Ok(ch) => render(rule_page_of(&v, &ch, 0, form, &[], vec![])),
        Err(e) => v.error(RULES, e),
    }
}

pub(super) async fn rule_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let result = async {
        let r = automation::get_rule(&s.db, &v.ctx, id).await?;
        let ch = choices(&s, &v, r.rule.record_type).await?;
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
pub(in crate::pages) fn errors_of(tr: Tr, e: &AppError) -> Vec<(String, String)> {
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
    let form = RuleForm::read(&posted);
    let ch = match choices(&s, &v, form.record_type()).await {
        Ok(ch) => ch,
        Err(e) => return v.error(RULES, e),
    };
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

/// The page of a record a rule fired (or would fire) for.
fn record_href(record_type: &str, id: i64) -> String {
    match record_type {
        "lead" => format!("/leads/{id}"),
        "account" => format!("/accounts/{id}"),
        _ => format!("/opportunities/{id}"),
    }
}

fn dry_rows(tr: Tr, dir: &Directory, items: Vec<DryRunItem>) -> Vec<DryRow> {
    items
        .into_iter()
        .map(|d| DryRow {
            href: record_href(d.record_type.as_str(), d.record_id),
            title: d.title,
            reasons: d.reasons.iter().map(|r| reason_text(tr, dir, r)).collect(),
            already: d.already_fired,
        })
        .collect()
}

pub(super) async fn create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    post_rule(s, v, 0, f).await
}

pub(super) async fn update(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    post_rule(s, v, id, f).await
}
