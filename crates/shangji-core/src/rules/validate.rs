//! Checking a rule when it is saved. Every mistake is reported, each with its place in the
//! rule (`conditions.all[1].value`, `actions[0].to.user_id`) and a stable code:
//!
//! - `unknown_field`, `not_stored` (a trigger on a derived value), `not_settable`;
//! - `op_not_applicable` (an operator the field's type does not have), `invalid_value` (a
//!   value not of the field's type), `unknown_option`, `unknown_user`, `unknown_stage`;
//! - `unknown_assignment_rule`, `unknown_approval_policy`, `conflicting_actions`;
//! - `rule_loop`: an action sets a field whose change triggers this rule again, directly
//!   or through other rules (the message names the path);
//! - `required`, `too_long`, `empty`, `too_deep`, `too_many`, `out_of_range`.

use std::collections::{BTreeSet, VecDeque};

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::catalog::{FieldCatalog, FieldInfo, FieldOrigin, FieldType};
use super::eval::money_operand;
use super::facts::{parse_date, Number};
use super::{
    Action, Comparison, Condition, Op, Recipient, RecordType, Rule, RuleId, RuleInput, Trigger,
    MAX_ACTIONS, MAX_COMPARISONS, MAX_DEPTH, MAX_LIST, NAME_MAX,
};
use crate::custom_fields;
use crate::error::FieldError;
use crate::input::{self, SHORT_TEXT};

/// Longest notification message.
pub const MESSAGE_MAX: usize = 500;
/// Latest due date of a task created by a rule, in working days.
pub const DUE_MAX: i32 = 365;

fn fe(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

/// Checks `input` as rule `id` (0 for a new one) against what exists (`catalog`) and the
/// other saved rules (`others`; a rule with the same id is the old version of this one and
/// is left out). Returns the rule, trimmed and with its episode anchors, or every mistake.
pub fn validate_rule(
    id: RuleId,
    input: &RuleInput,
    catalog: &FieldCatalog,
    others: &[Rule],
) -> Result<Rule, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut rule = Rule {
        id,
        name: input.name.trim().to_string(),
        enabled: input.enabled,
        record_type: input.record_type,
        trigger: input.trigger.clone(),
        conditions: input.conditions.clone(),
        actions: input.actions.clone(),
        template_key: input.template_key.clone(),
        episode_anchors: vec![],
    };
    if let Err(e) = input::required_text("name", input.name.clone(), NAME_MAX) {
        errors.push(e);
    }
    if let Some(k) = &input.template_key {
        if let Err(e) = crate::process::check_key("template_key", k) {
            errors.push(e);
        }
    }
    if input.record_type != catalog.record_type {
        errors.push(fe(
            "record_type",
            "unsupported",
            format!(
                "the fields given are those of {} rules",
                catalog.record_type
            ),
        ));
    }
    check_trigger(&input.trigger, catalog, &mut errors);
    check_conditions(
        &input.conditions,
        input.trigger.is_schedule(),
        catalog,
        &mut errors,
    );
    check_actions(&mut rule.actions, catalog, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    if rule.trigger.is_schedule() {
        let anchors: BTreeSet<String> = rule
            .conditions
            .comparisons()
            .iter()
            .filter_map(|(_, c)| catalog.field(&c.field)?.anchor.clone())
            .collect();
        rule.episode_anchors = anchors.into_iter().collect();
    }
    errors.extend(loops(&rule, others));
    if errors.is_empty() {
        Ok(rule)
    } else {
        Err(errors)
    }
}

fn check_trigger(t: &Trigger, catalog: &FieldCatalog, errors: &mut Vec<FieldError>) {
    match t {
        Trigger::FieldChanged { field } => match catalog.field(field) {
            None => errors.push(unknown_field("trigger.field", field)),
            Some(f) if f.origin == FieldOrigin::Derived => errors.push(fe(
                "trigger.field",
                "not_stored",
                format!("`{field}` is computed, never changed: use a scheduled rule with a condition on it"),
            )),
            Some(_) => {}
        },
        Trigger::StageEntered { .. } | Trigger::StageLeft { .. }
            if catalog.record_type != RecordType::Opportunity =>
        {
            errors.push(fe(
                "trigger.kind",
                "no_stages",
                format!("{} rules have no stages", catalog.record_type),
            ));
        }
        Trigger::StageEntered { stage: Some(s) } | Trigger::StageLeft { stage: Some(s) }
            if !catalog.stages.contains(s) =>
        {
            errors.push(unknown_stage("trigger.stage", *s));
        }
        _ => {}
    }
}

fn unknown_field(path: &str, name: &str) -> FieldError {
    fe(
        path,
        "unknown_field",
        format!("there is no field `{name}` (custom fields are named custom.<key>)"),
    )
}

fn unknown_stage(path: &str, id: i64) -> FieldError {
    fe(path, "unknown_stage", format!("there is no stage {id}"))
}

fn depth(c: &Condition) -> usize {
    match c {
        Condition::All { all } => 1 + all.iter().map(depth).max().unwrap_or(0),
        Condition::Any { any } => 1 + any.iter().map(depth).max().unwrap_or(0),
        Condition::Not { not } => 1 + depth(not),
        Condition::Compare(_) => 0,
    }
}

pub(crate) fn check_conditions(
    c: &Condition,
    scheduled: bool,
    catalog: &FieldCatalog,
    errors: &mut Vec<FieldError>,
) {
    if depth(c) > MAX_DEPTH {
        errors.push(fe(
            "conditions",
            "too_deep",
            format!("conditions nest at most {MAX_DEPTH} levels deep"),
        ));
        return;
    }
    let comparisons = c.comparisons();
    if comparisons.len() > MAX_COMPARISONS {
        errors.push(fe(
            "conditions",
            "too_many",
            format!("a rule has at most {MAX_COMPARISONS} comparisons"),
        ));
        return;
    }
    if scheduled && comparisons.is_empty() {
        errors.push(fe(
            "conditions",
            "required",
            "a scheduled rule needs at least one condition",
        ));
    }
    empty_any(c, "conditions".into(), errors);
    for (path, cmp) in comparisons {
        check_comparison(&path, cmp, catalog, errors);
    }
}

fn empty_any(c: &Condition, path: String, errors: &mut Vec<FieldError>) {
    match c {
        Condition::All { all } => {
            for (i, c) in all.iter().enumerate() {
                empty_any(c, format!("{path}.all[{i}]"), errors);
            }
        }
        Condition::Any { any } if any.is_empty() => errors.push(fe(
            &format!("{path}.any"),
            "empty",
            "an empty `any` never holds",
        )),
        Condition::Any { any } => {
            for (i, c) in any.iter().enumerate() {
                empty_any(c, format!("{path}.any[{i}]"), errors);
            }
        }
        Condition::Not { not } => empty_any(not, format!("{path}.not"), errors),
        Condition::Compare(_) => {}
    }
}

fn check_comparison(
    path: &str,
    c: &Comparison,
    catalog: &FieldCatalog,
    errors: &mut Vec<FieldError>,
) {
    let Some(info) = catalog.field(&c.field) else {
        errors.push(unknown_field(&format!("{path}.field"), &c.field));
        return;
    };
    let t = info.field_type;
    if !t.ops().contains(&c.op) {
        errors.push(fe(
            &format!("{path}.op"),
            "op_not_applicable",
            format!(
                "`{}` does not apply to `{}`, a {t} field; use one of {}",
                c.op,
                c.field,
                t.ops()
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        return;
    }
    let at = format!("{path}.value");
    match c.op {
        Op::IsSet | Op::IsUnset => {
            if !c.value.is_null() {
                errors.push(fe(
                    &at,
                    "invalid_value",
                    format!("`{}` takes no value", c.op),
                ));
            }
        }
        Op::In | Op::NotIn => match c.value.as_array() {
            Some(items) if !items.is_empty() && items.len() <= MAX_LIST => {
                for (i, v) in items.iter().enumerate() {
                    if let Err(e) = check_scalar(&format!("{at}[{i}]"), info, v, catalog) {
                        errors.push(e);
                    }
                }
            }
            _ => errors.push(fe(
                &at,
                "invalid_value",
                format!(
                    "`{}` takes a list of 1 to {MAX_LIST} values, each {}",
                    c.op,
                    t.describe()
                ),
            )),
        },
        _ => {
            if let Err(e) = check_scalar(&at, info, &c.value, catalog) {
                errors.push(e);
            }
        }
    }
}

/// One value of a field's type (for `contains` on a list: one of its values).
fn check_scalar(
    at: &str,
    info: &FieldInfo,
    v: &Value,
    catalog: &FieldCatalog,
) -> Result<(), FieldError> {
    let t = info.field_type;
    let invalid = || {
        fe(
            at,
            "invalid_value",
            format!(
                "`{}` is a {t} field: the value must be {}",
                info.name,
                t.describe()
            ),
        )
    };
    let ok = match t {
        FieldType::Number => Number::from_json(v).is_some(),
        FieldType::Money => money_operand(v).is_some_and(|m| {
            m.currency.is_empty()
                || (m.currency.len() == 3 && m.currency.bytes().all(|b| b.is_ascii_uppercase()))
        }),
        FieldType::Date => v.as_str().and_then(parse_date).is_some(),
        FieldType::Instant => v
            .as_str()
            .is_some_and(|s| OffsetDateTime::parse(s, &Rfc3339).is_ok()),
        FieldType::Text => v.is_string(),
        FieldType::Enum | FieldType::List => {
            let Some(s) = v.as_str() else {
                return Err(invalid());
            };
            if !info.options.is_empty() && !info.options.iter().any(|o| o == s) {
                return Err(fe(
                    at,
                    "unknown_option",
                    format!("`{s}` is not an option of `{}`", info.name),
                ));
            }
            true
        }
        FieldType::Bool => v.is_boolean(),
        FieldType::User => {
            let Some(id) = v.as_i64() else {
                return Err(invalid());
            };
            if !catalog.users.contains(&id) {
                return Err(fe(at, "unknown_user", format!("there is no user {id}")));
            }
            true
        }
        FieldType::Stage => {
            let Some(id) = v.as_i64() else {
                return Err(invalid());
            };
            if !catalog.stages.contains(&id) {
                return Err(unknown_stage(at, id));
            }
            true
        }
    };
    if ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn check_recipient(at: &str, r: &Recipient, catalog: &FieldCatalog) -> Option<FieldError> {
    match r {
        Recipient::User { user_id } if !catalog.users.contains(user_id) => Some(fe(
            &format!("{at}.user_id"),
            "unknown_user",
            format!("there is no user {user_id}"),
        )),
        _ => None,
    }
}

fn check_actions(actions: &mut [Action], catalog: &FieldCatalog, errors: &mut Vec<FieldError>) {
    if actions.is_empty() {
        errors.push(fe(
            "actions",
            "required",
            "a rule needs at least one action",
        ));
        return;
    }
    if actions.len() > MAX_ACTIONS {
        errors.push(fe(
            "actions",
            "too_many",
            format!("a rule has at most {MAX_ACTIONS} actions"),
        ));
        return;
    }
    let mut set: Vec<String> = Vec::new();
    let mut owner_actions = 0;
    for (i, a) in actions.iter_mut().enumerate() {
        let at = format!("actions[{i}]");
        match a {
            Action::Notify { to, message } => {
                errors.extend(check_recipient(&format!("{at}.to"), to, catalog));
                if let Some(m) = message.take() {
                    match input::text(&format!("{at}.message"), m, MESSAGE_MAX) {
                        Ok(m) => *message = m,
                        Err(e) => errors.push(e),
                    }
                }
            }
            Action::CreateTask {
                title,
                assignee,
                due_working_days,
            } => {
                match input::required_text(&format!("{at}.title"), title.clone(), SHORT_TEXT) {
                    Ok(t) => *title = t,
                    Err(e) => errors.push(e),
                }
                errors.extend(check_recipient(
                    &format!("{at}.assignee"),
                    assignee,
                    catalog,
                ));
                if !(0..=DUE_MAX).contains(due_working_days) {
                    errors.push(fe(
                        &format!("{at}.due_working_days"),
                        "out_of_range",
                        format!("a task is due 0 to {DUE_MAX} working days after the firing"),
                    ));
                }
            }
            Action::SetField { field, value } => {
                if set.contains(field) {
                    errors.push(fe(
                        &format!("{at}.field"),
                        "conflicting_actions",
                        format!("`{field}` is set twice"),
                    ));
                }
                set.push(field.clone());
                if let Err(e) = check_set(&at, field, value, catalog) {
                    errors.push(e);
                }
            }
            Action::Assign { .. } if catalog.record_type == RecordType::Account => {
                errors.push(fe(
                    &format!("{at}.kind"),
                    "unsupported_action",
                    "accounts are not handed out by assignment rules: return them to the pool",
                ));
            }
            Action::RequestApproval { .. } if catalog.record_type != RecordType::Opportunity => {
                errors.push(fe(
                    &format!("{at}.kind"),
                    "unsupported_action",
                    "approvals are asked for opportunities only",
                ));
            }
            Action::Assign { assignment_rule_id } => {
                owner_actions += 1;
                if let Some(id) = assignment_rule_id {
                    if !catalog.assignment_rules.contains(id) {
                        errors.push(fe(
                            &format!("{at}.assignment_rule_id"),
                            "unknown_assignment_rule",
                            format!("there is no assignment rule {id}"),
                        ));
                    }
                }
            }
            Action::ReturnToPool => owner_actions += 1,
            Action::RequestApproval { policy_id } => {
                if !catalog.approval_policies.contains(policy_id) {
                    errors.push(fe(
                        &format!("{at}.policy_id"),
                        "unknown_approval_policy",
                        format!("there is no approval policy {policy_id}"),
                    ));
                }
            }
        }
    }
    if owner_actions > 1 {
        errors.push(fe(
            "actions",
            "conflicting_actions",
            "a rule changes the owner once: assign or return to the public pool",
        ));
    }
}

/// The value of a `set_field` action.
fn check_set(
    at: &str,
    field: &str,
    value: &Value,
    catalog: &FieldCatalog,
) -> Result<(), FieldError> {
    let path = format!("{at}.field");
    let Some(info) = catalog.field(field) else {
        return Err(unknown_field(&path, field));
    };
    if !info.settable {
        return Err(fe(
            &path,
            "not_settable",
            format!("a rule cannot set `{field}`"),
        ));
    }
    let at = format!("{at}.value");
    if let Some(def) = catalog.custom_def(field) {
        if value.is_null() {
            return if def.required {
                Err(fe(&at, "required", format!("`{field}` is required")))
            } else {
                Ok(())
            };
        }
        return custom_fields::check_value(def, value)
            .map(|_| ())
            .map_err(|e| FieldError { field: at, ..e });
    }
    if value.is_null() {
        return if matches!(field, "probability" | "forecast_category") {
            Err(fe(&at, "required", format!("`{field}` cannot be cleared")))
        } else {
            Ok(())
        };
    }
    check_scalar(&at, info, value, catalog)?;
    match field {
        "probability" if !value.as_i64().is_some_and(|p| (0..=100).contains(&p)) => Err(fe(
            &at,
            "out_of_range",
            "probability is a whole percent from 0 to 100",
        )),
        "next_step" | "competitor"
            if value
                .as_str()
                .is_some_and(|s| s.chars().count() > SHORT_TEXT) =>
        {
            Err(fe(
                &at,
                "too_long",
                format!("{field} has at most {SHORT_TEXT} characters"),
            ))
        }
        _ => Ok(()),
    }
}

// ---- Loops. ----

/// Whether a change of `field` triggers `rule`.
fn triggered_by(rule: &Rule, field: &str) -> bool {
    match &rule.trigger {
        Trigger::Updated => true,
        Trigger::FieldChanged { field: f } => f == field,
        Trigger::StageEntered { .. } | Trigger::StageLeft { .. } => field == "stage",
        Trigger::Created | Trigger::Schedule => false,
    }
}

fn describe_trigger(rule: &Rule) -> String {
    match &rule.trigger {
        Trigger::FieldChanged { field } => format!("runs when `{field}` changes"),
        Trigger::Updated => "runs on every update".into(),
        _ => "runs on a stage change".into(),
    }
}

fn name_of(rule: &Rule, candidate: RuleId) -> String {
    if rule.id == candidate {
        "this rule".into()
    } else {
        format!("rule “{}” (#{})", rule.name, rule.id)
    }
}

/// An action that sets a field whose change triggers this rule again, directly or
/// through the other enabled rules of the same record type, is refused: one error per
/// such action, naming the shortest loop.
fn loops(rule: &Rule, others: &[Rule]) -> Vec<FieldError> {
    let mut nodes: Vec<&Rule> = vec![rule];
    nodes.extend(
        others
            .iter()
            .filter(|r| r.enabled && r.id != rule.id && r.record_type == rule.record_type),
    );
    let writes = |r: &Rule| -> Vec<String> {
        let mut w: Vec<String> = r
            .actions
            .iter()
            .filter_map(|a| a.writes().map(str::to_string))
            .collect();
        w.dedup();
        w
    };
    let mut errors = Vec::new();
    for (i, action) in rule.actions.iter().enumerate() {
        let Some(first) = action.writes() else {
            continue;
        };
        // Breadth first over (rule reached, path of "sets x → rule runs") steps.
        let mut queue: VecDeque<(usize, Vec<String>)> = VecDeque::new();
        let mut seen = vec![false; nodes.len()];
        let start = format!("this rule sets `{first}`");
        let mut found = None;
        for (n, r) in nodes.iter().enumerate() {
            if triggered_by(r, first) {
                if n == 0 {
                    found = Some(vec![
                        start.clone(),
                        format!("which triggers this rule again ({})", describe_trigger(r)),
                    ]);
                    break;
                }
                if !seen[n] {
                    seen[n] = true;
                    queue.push_back((n, vec![start.clone()]));
                }
            }
        }
        while found.is_none() {
            let Some((n, path)) = queue.pop_front() else {
                break;
            };
            let r = nodes[n];
            for w in writes(r) {
                let step = format!(
                    "{} {} and sets `{w}`",
                    name_of(r, rule.id),
                    describe_trigger(r)
                );
                for (m, next) in nodes.iter().enumerate() {
                    if !triggered_by(next, &w) {
                        continue;
                    }
                    let mut p = path.clone();
                    p.push(step.clone());
                    if m == 0 {
                        p.push(format!("this rule {}", describe_trigger(next)));
                        found = Some(p);
                        break;
                    }
                    if !seen[m] {
                        seen[m] = true;
                        queue.push_back((m, p));
                    }
                }
                if found.is_some() {
                    break;
                }
            }
        }
        if let Some(path) = found {
            errors.push(fe(
                &format!("actions[{i}]"),
                "rule_loop",
                format!("a loop: {}", path.join(" → ")),
            ));
        }
    }
    errors
}
