//! Settings for admins: approval policies — which moves wait for approval (a pipeline, a
//! stage, conditions on the deal) and who approves them, in order. Each post is one
//! `ops::save_approval_policy`; what it refuses is shown beside the field or row it names, in
//! the admin's language, with what the admin typed kept.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use shangji_core::approval::{ApprovalPolicy, Approver, CompareOp, Condition};
use shangji_core::custom_fields::{self as cf, CustomFieldDef, CustomFieldType};
use shangji_core::model::{Grade, Language, Pipeline, RecordKind, Source, User};
use shangji_core::Money;

use super::opportunity::{source_label, user_name, yuan_to_fen};
use super::{error_text, field_text, render, role_key, shown_in_form, Choice, Errors, FormData};
use super::{Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, ApprovalPolicyInput};
use crate::state::AppState;

const POLICIES: &str = "/admin/approval-policies";

/// The deal's built-in fields a condition may look at, and their labels.
const FIELDS: &[(&str, &str)] = &[
    ("amount_minor", "policy.field.amount"),
    ("probability", "policy.field.probability"),
    ("grade", "policy.field.grade"),
    ("source", "policy.field.source"),
    ("owner_id", "policy.field.owner"),
];

fn op_label(tr: Tr, op: CompareOp) -> &'static str {
    tr.t(match op {
        CompareOp::Gte => "policy.op.gte",
        CompareOp::Gt => "policy.op.gt",
        CompareOp::Lte => "policy.op.lte",
        CompareOp::Lt => "policy.op.lt",
        CompareOp::Eq => "policy.op.eq",
        CompareOp::Ne => "policy.op.ne",
    })
}

/// The opportunity custom fields a condition can compare: those whose value is one number or
/// one text (a list or a long text is never equal to what an admin types).
fn comparable(defs: &[CustomFieldDef]) -> Vec<&CustomFieldDef> {
    let mut out: Vec<&CustomFieldDef> = defs
        .iter()
        .filter(|d| d.record_kind == RecordKind::Opportunity && !d.archived)
        .filter(|d| {
            !matches!(
                d.field_type,
                CustomFieldType::MultiSelect | CustomFieldType::LongText
            )
        })
        .collect();
    out.sort_by_key(|d| (d.position, d.id));
    out
}

fn custom_def<'a>(defs: &'a [CustomFieldDef], field: &str) -> Option<&'a CustomFieldDef> {
    let key = field.strip_prefix("custom.")?;
    defs.iter()
        .find(|d| d.record_kind == RecordKind::Opportunity && d.key == key)
}

fn field_label(tr: Tr, defs: &[CustomFieldDef], field: &str) -> String {
    if let Some((_, key)) = FIELDS.iter().find(|(f, _)| *f == field) {
        return tr.t(key).to_string();
    }
    custom_def(defs, field)
        .map_or_else(|| field.to_string(), |d| super::custom_fields::label(tr, d))
}

/// A user typed by login, name or id.
fn find_user<'a>(users: &'a [User], typed: &str) -> Option<&'a User> {
    let typed = typed.trim();
    users
        .iter()
        .find(|u| u.login == typed || u.display_name == typed || u.id.to_string() == typed)
}

/// Yuan with an optional minus sign to fen, without floats.
fn signed_fen(typed: &str) -> Option<i64> {
    match typed.trim().strip_prefix('-') {
        Some(rest) => yuan_to_fen(rest).map(|n| -n),
        None => yuan_to_fen(typed),
    }
}

/// A condition's value as the admin types it.
fn value_text(defs: &[CustomFieldDef], users: &[User], c: &Condition) -> String {
    let money = |v: &Value| v.as_i64().map(|n| cf::format_decimal(n, 2));
    let shown = match (c.field.as_str(), &c.value) {
        ("amount_minor", v) => money(v),
        ("owner_id", v) => v.as_i64().map(|id| {
            users
                .iter()
                .find(|u| u.id == id)
                .map_or_else(|| id.to_string(), |u| u.login.clone())
        }),
        (field, v) => match (custom_def(defs, field).map(|d| d.field_type), v) {
            (Some(CustomFieldType::Money), Value::Object(m)) => {
                m.get("amount_minor").and_then(money)
            }
            (Some(CustomFieldType::User), v) => v.as_i64().map(|id| {
                users
                    .iter()
                    .find(|u| u.id == id)
                    .map_or_else(|| id.to_string(), |u| u.login.clone())
            }),
            _ => None,
        },
    };
    shown.unwrap_or_else(|| match &c.value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// A condition in words: `金额 ≥ ¥1,000,000.00`.
fn condition_text(tr: Tr, defs: &[CustomFieldDef], users: &[User], c: &Condition) -> String {
    let value = match c.field.as_str() {
        "amount_minor" => c
            .value
            .as_i64()
            .map_or_else(|| c.value.to_string(), |n| tr.money(&Money::cny(n))),
        "owner_id" => c
            .value
            .as_i64()
            .map_or_else(|| c.value.to_string(), |id| user_name(users, id)),
        "source" => c
            .value
            .as_str()
            .and_then(|s| s.parse::<Source>().ok())
            .map_or_else(
                || value_text(defs, users, c),
                |s| source_label(tr, s).to_string(),
            ),
        "grade" => value_text(defs, users, c).to_uppercase(),
        _ => value_text(defs, users, c),
    };
    let symbol = op_label(tr, c.op)
        .split_whitespace()
        .next()
        .unwrap_or_default();
    format!("{} {symbol} {value}", field_label(tr, defs, &c.field))
}

fn approver_value(a: &Approver) -> String {
    match a {
        Approver::OwnerManager => "owner_manager".into(),
        Approver::Director => "director".into(),
        Approver::User { user_id } => format!("user:{user_id}"),
    }
}

fn approver_text(tr: Tr, users: &[User], a: &Approver) -> String {
    match a {
        Approver::OwnerManager => tr.t("policy.owner_manager").into(),
        Approver::Director => tr.t("policy.director").into(),
        Approver::User { user_id } => user_name(users, *user_id),
    }
}

struct CondRow {
    field: String,
    op: String,
    value: String,
    error: Option<String>,
}

struct ChainRow {
    approver: String,
    error: Option<String>,
}

/// The form as shown: from a policy, or as the admin posted it.
struct PolicyForm {
    name: String,
    active: bool,
    pipeline_id: String,
    stage_id: String,
    conditions: Vec<CondRow>,
    chain: Vec<ChainRow>,
}

impl PolicyForm {
    fn blank() -> PolicyForm {
        PolicyForm {
            name: String::new(),
            active: true,
            pipeline_id: String::new(),
            stage_id: String::new(),
            conditions: vec![],
            chain: vec![ChainRow {
                approver: "owner_manager".into(),
                error: None,
            }],
        }
    }

    fn of(p: &ApprovalPolicy, defs: &[CustomFieldDef], users: &[User]) -> PolicyForm {
        PolicyForm {
            name: p.name.clone(),
            active: p.active,
            pipeline_id: p.pipeline_id.map(|i| i.to_string()).unwrap_or_default(),
            stage_id: p.stage_id.map(|i| i.to_string()).unwrap_or_default(),
            conditions: p
                .conditions
                .iter()
                .map(|c| CondRow {
                    field: c.field.clone(),
                    op: c.op.as_str().into(),
                    value: value_text(defs, users, c),
                    error: None,
                })
                .collect(),
            chain: p
                .chain
                .iter()
                .map(|a| ChainRow {
                    approver: approver_value(a),
                    error: None,
                })
                .collect(),
        }
    }

    /// The form as posted; rows left blank are dropped.
    fn posted(f: &FormData) -> PolicyForm {
        let (fields, ops, values) = (f.all("cond_field"), f.all("cond_op"), f.all("cond_value"));
        let at = |v: &[&str], i: usize| v.get(i).map_or(String::new(), |s| s.to_string());
        PolicyForm {
            name: f.get("name").to_string(),
            active: f.has("active", "1"),
            pipeline_id: f.text("pipeline_id"),
            stage_id: f.text("stage_id"),
            conditions: (0..fields.len())
                .map(|i| CondRow {
                    field: at(&fields, i).trim().to_string(),
                    op: at(&ops, i),
                    value: at(&values, i),
                    error: None,
                })
                .filter(|r| !r.field.is_empty())
                .collect(),
            chain: f
                .all("approver")
                .iter()
                .filter(|a| !a.trim().is_empty())
                .map(|a| ChainRow {
                    approver: a.trim().to_string(),
                    error: None,
                })
                .collect(),
        }
    }

    /// The policy the form asks for, or the form's own errors (an amount that is not one, a
    /// user who does not exist) beside their field or row.
    fn input(
        &mut self,
        tr: Tr,
        defs: &[CustomFieldDef],
        users: &[User],
    ) -> Result<ApprovalPolicyInput, Errors> {
        let mut errors = Errors::default();
        let id = |name: &str, v: &str, errors: &mut Errors| match v.trim() {
            "" => None,
            v => v
                .parse::<i64>()
                .map_err(|_| errors.add(name, field_text(tr, name, "unknown_choice")))
                .ok(),
        };
        let pipeline_id = id("pipeline_id", &self.pipeline_id, &mut errors);
        let stage_id = id("stage_id", &self.stage_id, &mut errors);
        let mut bad_row = false;
        let mut conditions = Vec::new();
        for row in &mut self.conditions {
            match condition(tr, defs, users, row) {
                Ok(c) => conditions.push(c),
                Err(text) => {
                    row.error = Some(text);
                    bad_row = true;
                }
            }
        }
        let mut chain = Vec::new();
        for row in &mut self.chain {
            let a = match row.approver.as_str() {
                "owner_manager" => Some(Approver::OwnerManager),
                "director" => Some(Approver::Director),
                other => other
                    .strip_prefix("user:")
                    .and_then(|id| id.parse().ok())
                    .map(|user_id| Approver::User { user_id }),
            };
            match a {
                Some(a) => chain.push(a),
                None => {
                    row.error = Some(field_text(tr, "chain", "unknown_choice"));
                    bad_row = true;
                }
            }
        }
        if bad_row || !errors.is_empty() {
            return Err(errors);
        }
        Ok(ApprovalPolicyInput {
            name: self.name.clone(),
            active: self.active,
            pipeline_id,
            stage_id,
            conditions,
            chain,
        })
    }

    /// Puts an error of `ops::save_approval_policy` beside its field or row.
    fn place(&mut self, errors: &mut Errors, tr: Tr, e: &AppError) {
        let (field, mut text) = error_text(tr, e);
        let code = match e {
            AppError::Invalid(f) => f.code.as_str(),
            _ => "",
        };
        let row = field
            .strip_prefix("conditions[")
            .and_then(|r| r.split(']').next())
            .and_then(|i| i.parse::<usize>().ok());
        match row.and_then(|i| self.conditions.get_mut(i)) {
            Some(r) => r.error = Some(field_text(tr, "condition", code)),
            None if ["name", "pipeline_id", "stage_id", "chain"].contains(&field.as_str()) => {
                if field == "stage_id" {
                    text = field_text(tr, "policy_stage", code);
                }
                errors.add(field, text)
            }
            None => errors.add("form", text),
        }
    }
}

/// A condition row as the core takes it: amounts in yuan become fen, a user typed by login
/// or name becomes their id, a source typed by its label becomes its key. `Err` is the text
/// shown beside the row.
fn condition(
    tr: Tr,
    defs: &[CustomFieldDef],
    users: &[User],
    row: &CondRow,
) -> Result<Condition, String> {
    let op = row
        .op
        .parse::<CompareOp>()
        .map_err(|_| field_text(tr, "condition", "unknown_choice"))?;
    let typed = row.value.trim();
    if typed.is_empty() {
        return Err(field_text(tr, "condition", "required"));
    }
    let err = |code: &str| field_text(tr, "condition", code);
    let user = |typed: &str| {
        find_user(users, typed)
            .map(|u| json!(u.id))
            .ok_or_else(|| err("unknown_user"))
    };
    let value = match row.field.as_str() {
        "amount_minor" => json!(signed_fen(typed).ok_or_else(|| err("invalid_amount"))?),
        "probability" => json!(typed.parse::<i64>().map_err(|_| err("not_a_number"))?),
        "grade" => json!(typed
            .to_lowercase()
            .parse::<Grade>()
            .map_err(|_| err("unknown_choice"))?
            .as_str()),
        "source" => {
            let found = Source::ALL.iter().find(|s| {
                s.as_str() == typed
                    || [Language::ZhCn, Language::En]
                        .into_iter()
                        .any(|l| source_label(Tr::new(l), **s) == typed)
            });
            json!(found.ok_or_else(|| err("unknown_choice"))?.as_str())
        }
        "owner_id" => user(typed)?,
        field => match custom_def(defs, field).map(|d| (d, d.field_type)) {
            Some((_, CustomFieldType::Integer)) => {
                json!(typed.parse::<i64>().map_err(|_| err("not_a_number"))?)
            }
            Some((d, CustomFieldType::Decimal)) => {
                let places = d.decimal_places.unwrap_or(cf::DEFAULT_DECIMAL_PLACES) as u32;
                let n = cf::parse_decimal(typed, places).map_err(|_| err("not_a_decimal"))?;
                json!(cf::format_decimal(n, places))
            }
            Some((_, CustomFieldType::Money)) => json!({
                "amount_minor": signed_fen(typed).ok_or_else(|| err("invalid_amount"))?,
                "currency": "CNY",
            }),
            Some((_, CustomFieldType::Boolean)) => match typed.to_lowercase().as_str() {
                "是" | "yes" | "true" => json!(true),
                "否" | "no" | "false" => json!(false),
                _ => return Err(err("unknown_choice")),
            },
            Some((_, CustomFieldType::User)) => user(typed)?,
            _ => json!(typed),
        },
    };
    Ok(Condition {
        field: row.field.clone(),
        op,
        value,
    })
}

// ---- The form ready for the template. ----

struct StageGroup {
    label: String,
    options: Vec<Choice>,
}

struct CondView {
    fields: Vec<Choice>,
    ops: Vec<Choice>,
    value: String,
    error: Option<String>,
}

struct ChainView {
    choices: Vec<Choice>,
    error: Option<String>,
}

struct FormView {
    name: String,
    active: bool,
    pipelines: Vec<Choice>,
    stage_any: bool,
    stages: Vec<StageGroup>,
    conditions: Vec<CondView>,
    chain: Vec<ChainView>,
}

/// Rows for the choices: those of the form and, to add, two more.
const SPARE_ROWS: usize = 2;

fn form_view(
    tr: Tr,
    pipelines: &[Pipeline],
    defs: &[CustomFieldDef],
    users: &[User],
    f: PolicyForm,
) -> FormView {
    let mut pipeline_choices = vec![Choice::new(
        "",
        tr.t("policy.any_pipeline"),
        f.pipeline_id.is_empty(),
    )];
    pipeline_choices.extend(
        pipelines
            .iter()
            .filter(|p| !p.archived || p.id.to_string() == f.pipeline_id)
            .map(|p| {
                let id = p.id.to_string();
                let checked = id == f.pipeline_id;
                Choice::new(id, p.name.clone(), checked)
            }),
    );
    let stages = pipelines
        .iter()
        .filter(|p| !p.archived || p.stage(f.stage_id.parse().unwrap_or(0)).is_some())
        .map(|p| {
            let mut stages: Vec<_> = p.stages.iter().collect();
            stages.sort_by_key(|s| s.position);
            StageGroup {
                label: p.name.clone(),
                options: stages
                    .iter()
                    .filter(|s| !s.archived || s.id.to_string() == f.stage_id)
                    .map(|s| {
                        let id = s.id.to_string();
                        let checked = id == f.stage_id;
                        Choice::new(id, s.name(tr.lang).to_string(), checked)
                    })
                    .collect(),
            }
        })
        .collect();
    let comparable = comparable(defs);
    let field_choices = |selected: &str| {
        let mut v = vec![Choice::new(
            "",
            tr.t("policy.no_condition"),
            selected.is_empty(),
        )];
        v.extend(
            FIELDS
                .iter()
                .map(|(f, key)| Choice::new(*f, tr.t(key), *f == selected)),
        );
        v.extend(comparable.iter().map(|d| {
            let name = format!("custom.{}", d.key);
            let checked = name == selected;
            Choice::new(name, super::custom_fields::label(tr, d), checked)
        }));
        if !selected.is_empty() && !v.iter().any(|c| c.value == selected) {
            v.push(Choice::new(selected, field_label(tr, defs, selected), true));
        }
        v
    };
    let op_choices = |selected: &str| {
        CompareOp::ALL
            .iter()
            .map(|op| Choice::new(op.as_str(), op_label(tr, *op), op.as_str() == selected))
            .collect::<Vec<_>>()
    };
    let mut conditions: Vec<CondView> = f
        .conditions
        .into_iter()
        .map(|r| CondView {
            fields: field_choices(&r.field),
            ops: op_choices(&r.op),
            value: r.value,
            error: r.error,
        })
        .collect();
    for _ in 0..SPARE_ROWS {
        conditions.push(CondView {
            fields: field_choices(""),
            ops: op_choices("gte"),
            value: String::new(),
            error: None,
        });
    }
    let approver_choices = |selected: &str| {
        let mut v = vec![
            Choice::new("", tr.t("policy.no_approver"), selected.is_empty()),
            Choice::new(
                "owner_manager",
                tr.t("policy.owner_manager"),
                selected == "owner_manager",
            ),
            Choice::new("director", tr.t("policy.director"), selected == "director"),
        ];
        v.extend(
            users
                .iter()
                .filter(|u| u.active || format!("user:{}", u.id) == selected)
                .map(|u| {
                    let value = format!("user:{}", u.id);
                    let checked = value == selected;
                    let label = tr.fmt(
                        "policy.named_user",
                        &[("name", &u.display_name), ("role", tr.t(role_key(u.role)))],
                    );
                    Choice::new(value, label, checked)
                }),
        );
        v
    };
    let mut chain: Vec<ChainView> = f
        .chain
        .into_iter()
        .map(|r| ChainView {
            choices: approver_choices(&r.approver),
            error: r.error,
        })
        .collect();
    for _ in 0..SPARE_ROWS {
        chain.push(ChainView {
            choices: approver_choices(""),
            error: None,
        });
    }
    FormView {
        name: f.name,
        active: f.active,
        pipelines: pipeline_choices,
        stage_any: f.stage_id.is_empty(),
        stages,
        conditions,
        chain,
    }
}

// ---- The list, adding one. ----

struct PolicyRow {
    id: i64,
    name: String,
    active: bool,
    scope: String,
    conditions: String,
    chain: String,
    saved: bool,
}

#[derive(Template)]
#[template(path = "admin_policies.html")]
struct PoliciesPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<PolicyRow>,
    form: FormView,
    errors: Errors,
}

fn scope_text(tr: Tr, pipelines: &[Pipeline], p: &ApprovalPolicy) -> String {
    let pipeline = p
        .pipeline_id
        .and_then(|id| pipelines.iter().find(|x| x.id == id))
        .map_or_else(
            || tr.t("policy.any_pipeline").to_string(),
            |x| x.name.clone(),
        );
    let stage = p
        .stage_id
        .and_then(|id| pipelines.iter().find_map(|x| x.stage(id)))
        .map_or_else(
            || tr.t("policy.any_stage").to_string(),
            |s| s.name(tr.lang).to_string(),
        );
    format!("{pipeline} › {stage}")
}

async fn policies_page(
    s: &AppState,
    v: &Viewer,
    saved: Option<i64>,
    form: PolicyForm,
    errors: Errors,
) -> Result<PoliciesPage, AppError> {
    let tr = v.tr;
    let dir = &v.ctx.dir;
    let users = s.db.users().await?;
    let rows = dir
        .approval_policies
        .iter()
        .map(|p| PolicyRow {
            id: p.id,
            name: p.name.clone(),
            active: p.active,
            scope: scope_text(tr, &dir.pipelines, p),
            conditions: if p.conditions.is_empty() {
                tr.t("policy.always").to_string()
            } else {
                p.conditions
                    .iter()
                    .map(|c| condition_text(tr, &dir.custom_fields, &users, c))
                    .collect::<Vec<_>>()
                    .join(tr.t("policy.and"))
            },
            chain: p
                .chain
                .iter()
                .map(|a| approver_text(tr, &users, a))
                .collect::<Vec<_>>()
                .join(" → "),
            saved: saved == Some(p.id),
        })
        .collect();
    Ok(PoliciesPage {
        tr,
        csrf: v.csrf.clone(),
        here: POLICIES.into(),
        nav: v.nav("settings"),
        tab: "approval_policies",
        rows,
        form: form_view(tr, &dir.pipelines, &dir.custom_fields, &users, form),
        errors,
    })
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<i64>,
}

async fn policies(State(s): State<AppState>, v: Viewer, Query(q): Query<SavedQuery>) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(POLICIES, e);
    }
    match policies_page(&s, &v, q.saved, PolicyForm::blank(), Errors::default()).await {
        Ok(p) => render(p),
        Err(e) => v.error(POLICIES, e),
    }
}

/// Saves the posted form as policy `id` (a new one for `None`): the policy, or the form
/// with its errors.
async fn save(
    s: &AppState,
    v: &Viewer,
    id: Option<i64>,
    f: &FormData,
) -> Result<ApprovalPolicy, (PolicyForm, Errors, AppError)> {
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return Err((PolicyForm::blank(), Errors::default(), e.into())),
    };
    let mut form = PolicyForm::posted(f);
    let input = match form.input(v.tr, &v.ctx.dir.custom_fields, &users) {
        Ok(input) => input,
        Err(errors) => {
            let e = AppError::invalid("", "invalid_value", "see the fields");
            return Err((form, errors, e));
        }
    };
    match ops::save_approval_policy(&s.db, &v.ctx, id, input).await {
        Ok(p) => Ok(p),
        Err(e) => {
            let mut errors = Errors::default();
            if shown_in_form(&e) {
                form.place(&mut errors, v.tr, &e);
            }
            Err((form, errors, e))
        }
    }
}

async fn create_policy(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(POLICIES, e);
    }
    match save(&s, &v, None, &f).await {
        Ok(p) => {
            Redirect::to(&format!("{POLICIES}?saved={}#policy-{}", p.id, p.id)).into_response()
        }
        Err((form, errors, e)) if shown_in_form(&e) => {
            match policies_page(&s, &v, None, form, errors).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
                Err(e) => v.error(POLICIES, e),
            }
        }
        Err((_, _, e)) => v.error(POLICIES, e),
    }
}

// ---- One policy. ----

#[derive(Template)]
#[template(path = "admin_policy.html")]
struct PolicyPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    id: i64,
    name: String,
    saved: bool,
    form: FormView,
    errors: Errors,
}

async fn policy_page(
    s: &AppState,
    v: &Viewer,
    p: &ApprovalPolicy,
    saved: bool,
    form: Option<PolicyForm>,
    errors: Errors,
) -> Result<PolicyPage, AppError> {
    let tr = v.tr;
    let dir = &v.ctx.dir;
    let users = s.db.users().await?;
    let form = form.unwrap_or_else(|| PolicyForm::of(p, &dir.custom_fields, &users));
    Ok(PolicyPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{POLICIES}/{}", p.id),
        nav: v.nav("settings"),
        tab: "approval_policies",
        id: p.id,
        name: p.name.clone(),
        saved,
        form: form_view(tr, &dir.pipelines, &dir.custom_fields, &users, form),
        errors,
    })
}

fn admin_policy(v: &Viewer, id: i64) -> Result<ApprovalPolicy, AppError> {
    v.ctx.require_admin()?;
    v.ctx
        .dir
        .approval_policies
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .ok_or(AppError::NotFound)
}

#[derive(serde::Deserialize)]
struct FlagQuery {
    saved: Option<String>,
}

async fn policy(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<FlagQuery>,
) -> Response {
    let here = format!("{POLICIES}/{id}");
    let p = match admin_policy(&v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&here, e),
    };
    match policy_page(&s, &v, &p, q.saved.is_some(), None, Errors::default()).await {
        Ok(page) => render(page),
        Err(e) => v.error(&here, e),
    }
}

async fn save_policy(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{POLICIES}/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let p = match admin_policy(&v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&here, e),
    };
    match save(&s, &v, Some(id), &f).await {
        Ok(_) => Redirect::to(&format!("{here}?saved=1")).into_response(),
        Err((form, errors, e)) if shown_in_form(&e) => {
            match policy_page(&s, &v, &p, false, Some(form), errors).await {
                Ok(page) => (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response(),
                Err(e) => v.error(&here, e),
            }
        }
        Err((_, _, e)) => v.error(&here, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/approval-policies",
            get(policies).post(create_policy),
        )
        .route(
            "/admin/approval-policies/{id}",
            get(policy).post(save_policy),
        )
}
