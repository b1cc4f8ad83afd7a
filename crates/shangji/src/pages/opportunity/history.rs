//! The history in words: what each event did, and the events of one moment by one person
//! as one entry.

use serde_json::Value;
use shangji_core::model::{Pipeline, RecordKind, User};
use shangji_core::opportunity::{EventKind, OpportunityEvent};
use shangji_core::Money;
use shangji_store::Directory;

use crate::i18n::Tr;
use crate::notices::{stage_name, user_name};
use crate::pages::admin::forecast_label;

use super::{action_label, checklist_label};

/// One moment of the history: who did what, in words (a move is several events at once),
/// or a follow-up (`activity`).
pub(in crate::pages) struct Entry {
    pub(in crate::pages) who: String,
    pub(in crate::pages) when: String,
    pub(in crate::pages) iso: String,
    pub(in crate::pages) lines: Vec<String>,
    /// `event` or `activity`.
    pub(in crate::pages) kind: &'static str,
    /// When, for merging follow-ups and events newest first.
    pub(in crate::pages) at: time::OffsetDateTime,
}

fn money_of(v: &Value) -> Option<Money> {
    Some(Money {
        amount_minor: v.get("amount_minor")?.as_i64()?,
        currency: v.get("currency")?.as_str()?.to_string(),
    })
}

fn keys_of(v: Option<&Value>, list: &str) -> Vec<String> {
    v.and_then(|v| v.get(list))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What an event did, in words, in the user's language (one line, or a few for a
/// checklist change).
pub(in crate::pages) fn describe(
    tr: Tr,
    dir: &Directory,
    p: &Pipeline,
    users: &[User],
    e: &OpportunityEvent,
) -> Vec<String> {
    let (old, new) = (e.old_value.as_ref(), e.new_value.as_ref());
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => none(tr),
    };
    let money = |v: Option<&Value>| money_text(tr, v);
    let forecast = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .map_or_else(|| none(tr), |f| forecast_label(tr, f).to_string())
    };
    let person = |v: Option<&Value>| person_text(tr, users, v);
    let line = match e.kind {
        EventKind::Created => tr.fmt(
            "event.created",
            &[
                ("stage", &stage_name(tr, dir, e.to_stage_id)),
                ("amount", &money(new.and_then(|v| v.get("amount")))),
            ],
        ),
        EventKind::StageChanged => tr.fmt(
            "event.stage_changed",
            &[
                ("from", &stage_name(tr, dir, e.from_stage_id)),
                ("to", &stage_name(tr, dir, e.to_stage_id)),
            ],
        ),
        EventKind::AmountChanged => tr.fmt(
            "event.amount_changed",
            &[("old", &money(old)), ("new", &money(new))],
        ),
        EventKind::CloseDateChanged => tr.fmt(
            "event.close_date_changed",
            &[("old", &text(old)), ("new", &text(new))],
        ),
        EventKind::ProbabilityChanged => tr.fmt(
            "event.probability_changed",
            &[("old", &text(old)), ("new", &text(new))],
        ),
        EventKind::ForecastCategoryChanged => tr.fmt(
            "event.forecast_category_changed",
            &[("old", &forecast(old)), ("new", &forecast(new))],
        ),
        EventKind::OwnerChanged => tr.fmt(
            "event.owner_changed",
            &[("old", &person(old)), ("new", &person(new))],
        ),
        EventKind::Won => tr.t("event.won").to_string(),
        EventKind::Lost => return lost_lines(tr, dir, new),
        EventKind::Pooled => match new.and_then(|v| v.get("reason")).and_then(Value::as_str) {
            Some(r) => tr.fmt("event.pooled_because", &[("reason", r)]),
            None => tr.t("event.pooled").to_string(),
        },
        EventKind::Assigned => {
            let how = new
                .and_then(|v| v.get("how"))
                .and_then(Value::as_str)
                .unwrap_or("manual");
            tr.fmt(
                "event.assigned",
                &[
                    ("user", &person(new.and_then(|v| v.get("owner_id")))),
                    ("how", tr.t(&format!("pool.how.{how}"))),
                ],
            )
        }
        EventKind::HandedOver => tr.fmt(
            "event.handed_over",
            &[
                ("from", &person(new.and_then(|v| v.get("from")))),
                ("to", &person(new.and_then(|v| v.get("to")))),
                (
                    "id",
                    &new.and_then(|v| v.get("handover_id"))
                        .map_or_else(String::new, |v| v.to_string()),
                ),
            ],
        ),
        EventKind::Reopened => tr.t("event.reopened").to_string(),
        EventKind::Archived => tr.t("event.archived").to_string(),
        EventKind::Restored => tr.t("event.restored").to_string(),
        EventKind::ChecklistChanged => return checklist_lines(tr, p, old, new),
        EventKind::PipelineChanged => pipeline_changed_line(tr, dir, old, new),
        EventKind::CustomFieldChanged => custom_field_line(tr, dir, users, old, new),
        EventKind::ApprovalRequested => approval_requested_line(tr, dir, users, e),
        EventKind::ApprovalDecided => return approval_decided_lines(tr, dir, e),
        EventKind::ReviewDecision => tr.fmt(
            "rv.event_decision",
            &[(
                "decision",
                new.and_then(|v| v.get("decision"))
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )],
        ),
    };
    vec![line]
}

/// What an empty value reads as.
fn none(tr: Tr) -> String {
    tr.t("value.none").to_string()
}

fn money_text(tr: Tr, v: Option<&Value>) -> String {
    v.and_then(money_of)
        .map_or_else(|| none(tr), |m| tr.money(&m))
}

fn person_text(tr: Tr, users: &[User], v: Option<&Value>) -> String {
    v.and_then(Value::as_i64)
        .map_or_else(|| none(tr), |id| user_name(users, id))
}

/// A lost deal: the reason by its name, then the competitor and the note when given.
fn lost_lines(tr: Tr, dir: &Directory, new: Option<&Value>) -> Vec<String> {
    let field = |k: &str| {
        new.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let reason = field("loss_reason").map_or_else(
        || none(tr),
        |key| {
            dir.loss_reasons
                .iter()
                .find(|r| r.key == key)
                .map_or(key, |r| {
                    if tr.is_zh() {
                        r.name_zh.clone()
                    } else {
                        r.name_en.clone()
                    }
                })
        },
    );
    let mut lines = vec![tr.fmt("event.lost", &[("reason", &reason)])];
    if let Some(c) = field("competitor") {
        lines.push(tr.fmt("event.lost_competitor", &[("competitor", &c)]));
    }
    if let Some(n) = field("loss_note") {
        lines.push(tr.fmt("event.lost_note", &[("note", &n)]));
    }
    lines
}

/// The checklist items checked and unchecked and the standard actions done and undone, a
/// line for each change that has items.
fn checklist_lines(tr: Tr, p: &Pipeline, old: Option<&Value>, new: Option<&Value>) -> Vec<String> {
    let sep = tr.t("list.sep");
    let diff = |list: &str, label: &dyn Fn(&str) -> String| {
        let (before, after) = (keys_of(old, list), keys_of(new, list));
        let added: Vec<String> = after
            .iter()
            .filter(|k| !before.contains(k))
            .map(|k| label(k))
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|k| !after.contains(k))
            .map(|k| label(k))
            .collect();
        (added.join(sep), removed.join(sep))
    };
    let (checked, unchecked) = diff("checklist", &|k| checklist_label(tr, p, k));
    let (done, undone) = diff("actions_done", &|k| action_label(tr, p, k));
    let lines: Vec<String> = [
        ("event.checklist_checked", checked),
        ("event.checklist_unchecked", unchecked),
        ("event.actions_done", done),
        ("event.actions_undone", undone),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .map(|(key, items)| tr.fmt(key, &[("items", &items)]))
    .collect();
    if lines.is_empty() {
        return vec![tr.t("event.checklist_changed").to_string()];
    }
    lines
}

/// A change of pipeline: from pipeline and stage to pipeline and stage.
fn pipeline_changed_line(
    tr: Tr,
    dir: &Directory,
    old: Option<&Value>,
    new: Option<&Value>,
) -> String {
    let place = |v: Option<&Value>| {
        let pipeline = v
            .and_then(|v| v.get("pipeline_id"))
            .and_then(Value::as_i64)
            .and_then(|id| dir.pipeline(id))
            .map_or_else(|| none(tr), |p| p.name.clone());
        let stage = stage_name(
            tr,
            dir,
            v.and_then(|v| v.get("stage_id")).and_then(Value::as_i64),
        );
        format!("{pipeline} / {stage}")
    };
    tr.fmt(
        "event.pipeline_changed",
        &[("from", &place(old)), ("to", &place(new))],
    )
}

/// A custom value changed: the field by its label, the values as the field shows them (as
/// stored when the field is gone).
fn custom_field_line(
    tr: Tr,
    dir: &Directory,
    users: &[User],
    old: Option<&Value>,
    new: Option<&Value>,
) -> String {
    let key = new
        .or(old)
        .and_then(|v| v.get("key"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let def = dir
        .custom_fields_of(RecordKind::Opportunity)
        .find(|f| f.key == key);
    let label = def.map_or_else(
        || key.to_string(),
        |f| crate::pages::custom_fields::label(tr, f),
    );
    let raw = |v: Option<&Value>| match v {
        None | Some(Value::Null) => none(tr),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(tr.t("list.sep")),
        Some(m @ Value::Object(_)) => money_text(tr, Some(m)),
        Some(other) => other.to_string(),
    };
    let shown = |v: Option<&Value>| match (def, v.and_then(|v| v.get("value"))) {
        (Some(def), Some(value)) => {
            crate::pages::custom_fields::display_value(tr, def, value, users)
        }
        (_, value) => raw(value),
    };
    tr.fmt(
        "event.custom_field_changed",
        &[
            ("field", &label),
            ("old", &shown(old)),
            ("new", &shown(new)),
        ],
    )
}

/// A move held for approval: the stage asked for and the approvers in order.
fn approval_requested_line(
    tr: Tr,
    dir: &Directory,
    users: &[User],
    e: &OpportunityEvent,
) -> String {
    let approvers = e
        .new_value
        .as_ref()
        .and_then(|v| v.get("approver_ids"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_i64)
                .map(|id| user_name(users, id))
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .unwrap_or_default();
    tr.fmt(
        "event.approval_requested_to",
        &[
            ("stage", &stage_name(tr, dir, e.to_stage_id)),
            ("approvers", &approvers),
        ],
    )
}

/// An approval decided: withdrawn, approved or rejected, and the approver's comment.
fn approval_decided_lines(tr: Tr, dir: &Directory, e: &OpportunityEvent) -> Vec<String> {
    let new = e.new_value.as_ref();
    let flag = |k: &str| new.and_then(|v| v.get(k)).and_then(Value::as_bool);
    let stage = stage_name(tr, dir, e.to_stage_id);
    let key = match (flag("withdrawn"), flag("approved")) {
        (Some(true), _) => "event.approval_withdrawn",
        (_, Some(true)) => "event.approval_approved",
        (_, Some(false)) => "event.approval_rejected",
        _ => return vec![tr.t("event.approval_decided").to_string()],
    };
    let mut lines = vec![tr.fmt(key, &[("stage", &stage)])];
    if let Some(c) = new
        .and_then(|v| v.get("comment"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        lines.push(tr.fmt("event.approval_comment", &[("comment", c)]));
    }
    lines
}

/// The history, newest first; events of one moment by one person are one entry.
pub(super) fn timeline(
    tr: Tr,
    dir: &Directory,
    p: &Pipeline,
    users: &[User],
    events: &[OpportunityEvent],
) -> Vec<Entry> {
    let mut entries: Vec<(i64, i64, Entry)> = Vec::new();
    for e in events {
        let lines = describe(tr, dir, p, users, e);
        let at_ms = (e.at.unix_timestamp_nanos() / 1_000_000) as i64;
        match entries.last_mut() {
            Some((at, who, entry)) if *at == at_ms && *who == e.actor_id => {
                entry.lines.extend(lines)
            }
            _ => entries.push((
                at_ms,
                e.actor_id,
                Entry {
                    kind: "event",
                    at: e.at,
                    who: user_name(users, e.actor_id),
                    when: tr.datetime(e.at),
                    iso: e
                        .at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    lines,
                },
            )),
        }
    }
    entries.into_iter().rev().map(|(_, _, e)| e).collect()
}
