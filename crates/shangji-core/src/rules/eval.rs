//! Whether a rule fires for a record, why, and in which episode.
//!
//! **Episodes.** A scheduled rule is looked at again and again while its conditions hold;
//! it must fire once per *episode*, across restarts. The store records each firing under
//! the unique key (rule, record, episode) and ignores a second one. The episode comes from
//! the rule's conditions: every field a condition names has a clock *anchor* in the catalog
//! — `days_in_stage` and `stage` are anchored on `stage_entered_at`, the follow-up clocks
//! on `last_follow_up_at`, `hours_unassigned` on `unassigned_since`, `days_to_close` and
//! `days_past_close` on `close_date`, a date or instant field on itself. The episode is the
//! list of the rule's anchors with their current values, e.g.
//! `stage_entered_at=2026-03-02T01:00:00Z`. So a new touch starts a new "no follow-up"
//! episode, a new stay in a stage a new "days in stage" episode, a new close date a new
//! "past the close date" episode. A scheduled rule whose conditions name no anchored field
//! has one episode per record (`once`). An event-triggered rule fires once per event: its
//! episode is `event:<id>`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

use super::facts::{parse_date, FieldValue, Number, Subject, Values};
use super::{Action, Comparison, Condition, Op, RecordType, Rule, RuleId, Trigger};
use crate::calendar::WorkCalendar;
use crate::model::{text_enum, Id, Opportunity, StageId, UserId};
use crate::money::Money;

text_enum!(
    /// What happened to a record, for event triggers.
    EventType { Created => "created", Updated => "updated" }
);

/// A change to a record, as event-triggered rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TriggerEvent {
    /// Unique among the record's events; the record's version after the change does.
    pub id: String,
    pub kind: EventType,
    /// The catalog names of the stored fields that changed (`amount`, `custom.region`…).
    #[serde(default)]
    pub changed: Vec<String>,
    /// The stage the record left, when `stage` changed.
    #[serde(default)]
    pub from_stage: Option<StageId>,
}

impl TriggerEvent {
    pub fn created(id: impl Into<String>) -> TriggerEvent {
        TriggerEvent {
            id: id.into(),
            kind: EventType::Created,
            changed: vec![],
            from_stage: None,
        }
    }

    /// The update of `before` into `after` (see [`changed_fields`]).
    pub fn updated(
        id: impl Into<String>,
        before: &Opportunity,
        after: &Opportunity,
    ) -> TriggerEvent {
        let changed = changed_fields(before, after);
        TriggerEvent {
            id: id.into(),
            kind: EventType::Updated,
            from_stage: changed
                .iter()
                .any(|c| c == "stage")
                .then_some(before.stage_id),
            changed,
        }
    }
}

impl TriggerEvent {
    /// The update of a lead or an account: the fields whose values differ between its
    /// values before and after (taken at the same instant).
    pub fn updated_values(id: impl Into<String>, before: &Values, after: &Values) -> TriggerEvent {
        TriggerEvent {
            id: id.into(),
            kind: EventType::Updated,
            changed: after.changed_from(before),
            from_stage: None,
        }
    }
}

/// The catalog names of the stored fields that differ between two versions of an
/// opportunity. Whether the owner changed by going to or coming from the public pool is
/// known to the caller, who adds `owner` then.
pub fn changed_fields(before: &Opportunity, after: &Opportunity) -> Vec<String> {
    let (b, a) = (before, after);
    let mut out: Vec<String> = [
        ("title", b.title != a.title),
        ("stage", b.stage_id != a.stage_id),
        ("stage_kind", b.status != a.status),
        ("amount", b.amount != a.amount),
        ("currency", b.amount.currency != a.amount.currency),
        ("close_date", b.close_date != a.close_date),
        ("probability", b.probability != a.probability),
        (
            "forecast_category",
            b.forecast_category != a.forecast_category,
        ),
        ("grade", b.grade != a.grade),
        ("source", b.source != a.source),
        ("owner", b.owner_id != a.owner_id),
        ("next_step", b.next_step != a.next_step),
        ("next_step_date", b.next_step_date != a.next_step_date),
        ("tags", b.tags != a.tags),
        ("competitor", b.competitor != a.competitor),
        ("loss_reason", b.loss_reason != a.loss_reason),
        ("checklist", b.checklist != a.checklist),
        ("actions_done", b.actions_done != a.actions_done),
        ("archived", b.archived != a.archived),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_string())
    .collect();
    let keys: std::collections::BTreeSet<&String> =
        b.custom.keys().chain(a.custom.keys()).collect();
    for k in keys {
        let (x, y) = (b.custom.get(k), a.custom.get(k));
        let empty = |v: Option<&Value>| v.is_none_or(Value::is_null);
        if x != y && !(empty(x) && empty(y)) {
            out.push(format!("custom.{k}"));
        }
    }
    out
}

/// A record a firing is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct RecordRef {
    pub record_type: RecordType,
    pub id: Id,
}

/// One comparison of a firing and the record's value: data, so that pages word it in the
/// reader's language ("在当前阶段天数 ≥ 7（实际 9）").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    /// Where the comparison is in the rule, e.g. `conditions.all[1]`.
    pub path: String,
    pub field: String,
    pub op: Op,
    /// The rule's value.
    #[schema(value_type = Object)]
    pub value: Value,
    /// The record's value (`null` when unset).
    #[schema(value_type = Object)]
    pub actual: Value,
    /// Whether the comparison held: `false` for one under a `not`.
    pub held: bool,
}

/// A rule that fires for a record: why, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Firing {
    pub rule_id: RuleId,
    pub rule_name: String,
    pub template_key: Option<String>,
    pub record: RecordRef,
    /// The record's owner, or its last owner while it is in the public pool: whose team
    /// line managers and directors are found on.
    pub owner_id: UserId,
    /// Whether the record has an owner (not in the public pool).
    pub assigned: bool,
    /// With `rule_id` and `record`, the unique key of the firing (see the module docs).
    pub episode: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The comparisons that decided, with the record's values.
    pub reasons: Vec<Reason>,
    pub actions: Vec<Action>,
}

/// Whether `rule` fires for the record now: `event` is the change that happened (`None`
/// for the scheduler's scan). A scheduled rule answers only to the scan, an
/// event-triggered rule only to a matching event. Disabled rules, rules of another record
/// type and archived records never fire.
pub fn evaluate<S: Subject>(
    rule: &Rule,
    facts: &S,
    event: Option<&TriggerEvent>,
    now: OffsetDateTime,
    cal: &WorkCalendar,
) -> Option<Firing> {
    evaluate_values(rule, facts, &facts.values(now, cal), event, now)
}

/// [`evaluate`] with the record's values already derived (at `now`).
pub fn evaluate_values<S: Subject>(
    rule: &Rule,
    facts: &S,
    values: &Values,
    event: Option<&TriggerEvent>,
    now: OffsetDateTime,
) -> Option<Firing> {
    let record = facts.record();
    if !rule.enabled || rule.record_type != record.record_type || !facts.is_live() {
        return None;
    }
    let episode = match (&rule.trigger, event) {
        (Trigger::Schedule, None) => episode(&rule.episode_anchors, values),
        (t, Some(e)) if triggered(t, e, facts) => format!("event:{}", e.id),
        _ => return None,
    };
    let (held, reasons) = check(&rule.conditions, values, "conditions".into());
    held.then(|| Firing {
        rule_id: rule.id,
        rule_name: rule.name.clone(),
        template_key: rule.template_key.clone(),
        record,
        owner_id: facts.line_owner(),
        assigned: facts.assigned(),
        episode,
        at: now,
        reasons,
        actions: rule.actions.clone(),
    })
}

/// Which records each rule would fire for now, and why — through [`evaluate_values`], as
/// the scheduler and the event path do. A scheduled rule is evaluated as the scan
/// evaluates it; an event-triggered rule as if its trigger happened now (episode
/// `event:dry_run`). Whether a firing's episode has already fired is the store's to say.
/// In the order of `rules`, then of `records`.
pub fn dry_run<S: Subject>(
    rules: &[Rule],
    records: &[S],
    now: OffsetDateTime,
    cal: &WorkCalendar,
) -> Vec<Firing> {
    let mut out: Vec<(usize, Firing)> = Vec::new();
    for facts in records {
        let record_type = facts.record().record_type;
        if !rules.iter().any(|r| r.record_type == record_type) {
            continue;
        }
        let values = facts.values(now, cal);
        for (n, rule) in rules.iter().enumerate() {
            let event = hypothetical(&rule.trigger);
            if let Some(f) = evaluate_values(rule, facts, &values, event.as_ref(), now) {
                out.push((n, f));
            }
        }
    }
    // Stable: records keep their order within a rule.
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(_, f)| f).collect()
}

/// The event a dry run supposes for an event-triggered rule.
fn hypothetical(t: &Trigger) -> Option<TriggerEvent> {
    let event = |kind, changed: &[&str], from_stage| {
        Some(TriggerEvent {
            id: "dry_run".into(),
            kind,
            changed: changed.iter().map(|s| s.to_string()).collect(),
            from_stage,
        })
    };
    match t {
        Trigger::Schedule => None,
        Trigger::Created => event(EventType::Created, &[], None),
        Trigger::Updated => event(EventType::Updated, &[], None),
        Trigger::FieldChanged { field } => event(EventType::Updated, &[field.as_str()], None),
        Trigger::StageEntered { .. } => event(EventType::Updated, &["stage"], None),
        Trigger::StageLeft { stage } => event(EventType::Updated, &["stage"], *stage),
    }
}

fn triggered<S: Subject>(t: &Trigger, e: &TriggerEvent, f: &S) -> bool {
    let updated = e.kind == EventType::Updated;
    let stage_changed = updated && e.changed.iter().any(|c| c == "stage");
    match t {
        Trigger::Schedule => false,
        Trigger::Created => e.kind == EventType::Created,
        Trigger::Updated => updated,
        Trigger::FieldChanged { field } => updated && e.changed.contains(field),
        Trigger::StageEntered { stage } => {
            (e.kind == EventType::Created || stage_changed)
                && f.stage_id()
                    .is_some_and(|now_in| stage.is_none_or(|s| s == now_in))
        }
        Trigger::StageLeft { stage } => {
            stage_changed
                && match stage {
                    None => true,
                    Some(s) => e.from_stage == Some(*s),
                }
        }
    }
}

/// The episode of a scheduled rule: its anchors with their values, `once` without any.
pub fn episode(anchors: &[String], values: &Values) -> String {
    if anchors.is_empty() {
        return "once".into();
    }
    anchors
        .iter()
        .map(|a| format!("{a}={}", episode_value(values.get(a))))
        .collect::<Vec<_>>()
        .join(";")
}

fn episode_value(v: &FieldValue) -> String {
    match v {
        FieldValue::Unset => "-".into(),
        FieldValue::Instant(t) => t
            .to_offset(UtcOffset::UTC)
            .format(&Rfc3339)
            .unwrap_or_default(),
        other => match other.to_json() {
            Value::String(s) => s,
            j => j.to_string(),
        },
    }
}

/// Whether the condition holds, and the comparisons that decided it: for a true `all`
/// every one, for a true `any` those that held, for a false one those that failed; a
/// `not` passes its child's on.
/// Whether `c` holds for `values`, with the comparisons that decided (as a firing's
/// reasons): what assignment rules use for their conditions.
pub fn holds(c: &Condition, values: &Values) -> (bool, Vec<Reason>) {
    check(c, values, "conditions".into())
}

fn check(c: &Condition, values: &Values, path: String) -> (bool, Vec<Reason>) {
    match c {
        Condition::All { all } => {
            let results: Vec<(bool, Vec<Reason>)> = all
                .iter()
                .enumerate()
                .map(|(i, c)| check(c, values, format!("{path}.all[{i}]")))
                .collect();
            let held = results.iter().all(|(h, _)| *h);
            (held, pick(results, |h| h == held))
        }
        Condition::Any { any } => {
            let results: Vec<(bool, Vec<Reason>)> = any
                .iter()
                .enumerate()
                .map(|(i, c)| check(c, values, format!("{path}.any[{i}]")))
                .collect();
            let held = results.iter().any(|(h, _)| *h);
            (held, pick(results, |h| h == held))
        }
        Condition::Not { not } => {
            let (held, reasons) = check(not, values, format!("{path}.not"));
            (!held, reasons)
        }
        Condition::Compare(cmp) => {
            let actual = values.get(&cmp.field);
            let held = compare(actual, cmp);
            (
                held,
                vec![Reason {
                    path,
                    field: cmp.field.clone(),
                    op: cmp.op,
                    value: cmp.value.clone(),
                    actual: actual.to_json(),
                    held,
                }],
            )
        }
    }
}

fn pick(results: Vec<(bool, Vec<Reason>)>, keep: impl Fn(bool) -> bool) -> Vec<Reason> {
    results
        .into_iter()
        .filter(|(h, _)| keep(*h))
        .flat_map(|(_, r)| r)
        .collect()
}

/// A rule's value read as the type of the record's value (`None`: not comparable).
fn operand(actual: &FieldValue, v: &Value) -> Option<FieldValue> {
    Some(match actual {
        FieldValue::Unset => return None,
        FieldValue::Number(_) => FieldValue::Number(Number::from_json(v)?),
        FieldValue::Money(_) => FieldValue::Money(money_operand(v)?),
        FieldValue::Date(_) => FieldValue::Date(parse_date(v.as_str()?)?),
        FieldValue::Instant(_) => {
            FieldValue::Instant(OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok()?)
        }
        FieldValue::Text(_) | FieldValue::List(_) => FieldValue::Text(v.as_str()?.to_string()),
        FieldValue::Bool(_) => FieldValue::Bool(v.as_bool()?),
        FieldValue::Id(_) => FieldValue::Id(v.as_i64()?),
    })
}

/// A money value of a rule: minor units (any currency) or `{"amount_minor", "currency"}`
/// (currency empty: any).
pub(crate) fn money_operand(v: &Value) -> Option<Money> {
    match v {
        Value::Number(n) => Some(Money {
            amount_minor: n.as_i64()?,
            currency: String::new(),
        }),
        Value::Object(m) => {
            if m.keys().any(|k| k != "amount_minor" && k != "currency") {
                return None;
            }
            Some(Money {
                amount_minor: m.get("amount_minor")?.as_i64()?,
                currency: match m.get("currency") {
                    None | Some(Value::Null) => String::new(),
                    Some(c) => c.as_str()?.trim().to_ascii_uppercase(),
                },
            })
        }
        _ => None,
    }
}

/// How the record's value orders against a rule's value (`None`: not comparable — unset,
/// another currency, another type).
fn order(actual: &FieldValue, v: &Value) -> Option<Ordering> {
    match (actual, operand(actual, v)?) {
        (FieldValue::Number(a), FieldValue::Number(b)) => Some(a.cmp(&b)),
        (FieldValue::Money(a), FieldValue::Money(b)) => (b.currency.is_empty()
            || a.currency == b.currency)
            .then(|| a.amount_minor.cmp(&b.amount_minor)),
        (FieldValue::Date(a), FieldValue::Date(b)) => Some(a.cmp(&b)),
        (FieldValue::Instant(a), FieldValue::Instant(b)) => Some(a.cmp(&b)),
        (FieldValue::Text(a), FieldValue::Text(b)) => Some(a.as_str().cmp(b.as_str())),
        (FieldValue::Bool(a), FieldValue::Bool(b)) => Some(a.cmp(&b)),
        (FieldValue::Id(a), FieldValue::Id(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

/// Whether a comparison holds. An unset value (or one not comparable with the rule's)
/// makes every comparison false except `ne`, `not_in` and `is_unset`.
fn compare(actual: &FieldValue, c: &Comparison) -> bool {
    let is = |want: &[Ordering]| order(actual, &c.value).is_some_and(|o| want.contains(&o));
    let one_of = || {
        c.value.as_array().is_some_and(|items| {
            items
                .iter()
                .any(|v| order(actual, v) == Some(Ordering::Equal))
        })
    };
    match c.op {
        Op::Eq => is(&[Ordering::Equal]),
        Op::Ne => !is(&[Ordering::Equal]),
        Op::Lt => is(&[Ordering::Less]),
        Op::Le => is(&[Ordering::Less, Ordering::Equal]),
        Op::Gt => is(&[Ordering::Greater]),
        Op::Ge => is(&[Ordering::Greater, Ordering::Equal]),
        Op::In => one_of(),
        Op::NotIn => !one_of(),
        Op::IsSet => actual.is_set(),
        Op::IsUnset => !actual.is_set(),
        Op::Contains => match (actual, c.value.as_str()) {
            (FieldValue::Text(a), Some(b)) => a.to_lowercase().contains(&b.to_lowercase()),
            (FieldValue::List(items), Some(b)) => items.iter().any(|i| i == b),
            _ => false,
        },
    }
}
