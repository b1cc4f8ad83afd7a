//! The rule's form: what is posted, and how it reads as a rule — and a rule shown as the
//! form again.

use serde_json::Value;
use shangji_core::rules::{
    Action, Comparison, Condition, FieldCatalog, FieldType, Recipient, RecordType, RuleInput,
    Trigger,
};

use crate::i18n::Tr;
use crate::pages::FormData;

use super::rule::pretty;

/// One condition row as posted: a field, an operator and the value's text (several texts
/// from a multiple choice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CondRow {
    pub(super) field: String,
    pub(super) op: String,
    pub(super) values: Vec<String>,
}

/// One action row as posted: its kind and the inputs of every kind (only the kind's own are
/// read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ActionRow {
    pub(super) kind: String,
    /// Who is notified, or who gets the task: owner, manager, director, role, user.
    pub(super) who: String,
    pub(super) role: String,
    pub(super) user: String,
    pub(super) message: String,
    pub(super) title: String,
    pub(super) due: String,
    pub(super) field: String,
    pub(super) value: String,
    pub(super) assignment_rule: String,
    pub(super) policy: String,
}

/// The rule's form as posted, field by field, before it is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RuleForm {
    /// What the rule watches (`opportunity`, `lead`, `account`).
    pub(super) record_type: String,
    pub(super) name: String,
    pub(super) enabled: bool,
    pub(super) template_key: String,
    /// The version read (0 for a new rule).
    pub(super) version: i64,
    pub(super) trigger_kind: String,
    pub(super) trigger_field: String,
    pub(super) trigger_stage: String,
    /// The conditions are edited as JSON (`conditions_text`), not as rows.
    pub(super) conditions_as_json: bool,
    pub(super) conditions_text: String,
    /// The rows combine with "any of" (else "all of").
    pub(super) match_any: bool,
    pub(super) conditions: Vec<CondRow>,
    pub(super) actions_as_json: bool,
    pub(super) actions_text: String,
    pub(super) actions: Vec<ActionRow>,
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
    pub(super) fn blank() -> RuleForm {
        RuleForm {
            record_type: RecordType::Opportunity.as_str().into(),
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

    /// What the rule watches (opportunities when the form does not say).
    pub(super) fn record_type(&self) -> RecordType {
        self.record_type.parse().unwrap_or(RecordType::Opportunity)
    }

    /// The posted fields, as texts.
    pub(super) fn read(form: &FormData) -> RuleForm {
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
            record_type: form.text("record_type"),
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

pub(super) fn takes_list(op: &str) -> bool {
    matches!(op, "in" | "not_in")
}

pub(super) fn takes_no_value(op: &str) -> bool {
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
pub(super) fn placed(tr: Tr, place: &str, text: &str) -> String {
    tr.fmt("auto.form.placed", &[("place", place), ("text", text)])
}

fn condition_place(tr: Tr, i: usize) -> String {
    tr.fmt("auto.form.condition_n", &[("n", &(i + 1).to_string())])
}

fn action_place(tr: Tr, i: usize) -> String {
    tr.fmt("auto.form.action_n", &[("n", &(i + 1).to_string())])
}

/// The conditions of the form, or what cannot be read, by row.
pub(super) fn conditions_of(
    tr: Tr,
    cat: &FieldCatalog,
    form: &RuleForm,
) -> Result<Condition, Vec<String>> {
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
pub(super) fn actions_of(
    tr: Tr,
    cat: &FieldCatalog,
    form: &RuleForm,
) -> Result<Vec<Action>, Vec<String>> {
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
pub(super) fn input_of(
    tr: Tr,
    cat: &FieldCatalog,
    form: &RuleForm,
) -> Result<RuleInput, Vec<String>> {
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
            record_type: form.record_type(),
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
pub(super) fn rows_of_conditions(
    cat: &FieldCatalog,
    c: &Condition,
) -> Option<(bool, Vec<CondRow>)> {
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
pub(super) fn rows_of_actions(cat: &FieldCatalog, actions: &[Action]) -> Option<Vec<ActionRow>> {
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
pub(super) fn form_of(tr: Tr, cat: &FieldCatalog, input: &RuleInput, version: i64) -> RuleForm {
    let mut form = RuleForm {
        record_type: input.record_type.as_str().into(),
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

/// Where a mistake is: a condition row, an action row, the trigger, or elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Spot {
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
pub(super) fn place_of(tr: Tr, path: &str) -> (String, Spot) {
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

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
