//! Opportunity changes and their history. Every change to an opportunity goes through
//! [`create`], [`apply`] or [`move_to`], and each returns the events that the store writes in
//! the same transaction as the change. Analytics read those events, so nothing that changes a
//! tracked value may bypass these functions.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use crate::approval::{self, ApprovalPolicy};
use crate::assignment::AssignHow;
use crate::calendar::WorkCalendar;
use crate::custom_fields::CustomChange;
use crate::error::{FieldError, MoveError};
use crate::input::{self, Field};
use crate::model::*;
use crate::money::Money;
use crate::process::{self, LossReason};
use crate::records::blank_task;
use crate::visibility::Actor;

text_enum!(
    /// What happened to an opportunity. `pooled`: put in the public pool (公海), `new_value`
    /// `{"reason"}`; `assigned`: given an owner by a rule, a claim or by hand, `new_value`
    /// `{"owner_id", "how", "rule_id", "waited_since"}`; `handed_over`: moved by a handover
    /// (交接) beside its `owner_changed`, `new_value` `{"handover_id", "from", "to"}`.
    EventKind {
        Created => "created",
        StageChanged => "stage_changed",
        AmountChanged => "amount_changed",
        CloseDateChanged => "close_date_changed",
        ProbabilityChanged => "probability_changed",
        ForecastCategoryChanged => "forecast_category_changed",
        OwnerChanged => "owner_changed",
        Won => "won",
        Lost => "lost",
        Reopened => "reopened",
        Archived => "archived",
        Restored => "restored",
        ChecklistChanged => "checklist_changed",
        PipelineChanged => "pipeline_changed",
        ApprovalRequested => "approval_requested",
        ApprovalDecided => "approval_decided",
        CustomFieldChanged => "custom_field_changed",
        ReviewDecision => "review_decision",
        Pooled => "pooled",
        Assigned => "assigned",
        HandedOver => "handed_over",
    }
);

/// An event before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub kind: EventKind,
    pub actor_id: UserId,
    pub at: OffsetDateTime,
    pub from_stage_id: Option<StageId>,
    pub to_stage_id: Option<StageId>,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

/// A stored event of an opportunity's append-only history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpportunityEvent {
    pub id: Id,
    pub opportunity_id: OpportunityId,
    pub kind: EventKind,
    pub actor_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub from_stage_id: Option<StageId>,
    pub to_stage_id: Option<StageId>,
    #[schema(value_type = Option<Object>)]
    pub old_value: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub new_value: Option<Value>,
}

/// The body of a create or partial update. On update, `version` must be the version the
/// caller last read; `pipeline_id` and `stage_id` are for create only (use the move call).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityInput {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub title: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub account_id: Field<AccountId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub primary_contact_id: Field<ContactId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub pipeline_id: Field<PipelineId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub stage_id: Field<StageId>,
    /// Integer minor units (fen).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub amount_minor: Field<i64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub currency: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>, format = Date)]
    pub close_date: Field<Date>,
    /// Percent; `null` returns to the stage's default.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub probability: Field<i32>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub forecast_category: Field<ForecastCategory>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub grade: Field<Grade>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub source: Field<Source>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub owner_id: Field<UserId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub next_step: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>, format = Date)]
    pub next_step_date: Field<Date>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub tags: Field<Vec<String>>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub competitor: Field<String>,
    /// Keys of the confirmed checklist items (replaces the list).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub checklist: Field<Vec<String>>,
    /// Keys of the standard actions done (replaces the list).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub actions_done: Field<Vec<String>>,
    /// Custom field values by key; `null` clears one. Checked against the field definitions
    /// by `custom_fields::apply_values`, not by `create` / `apply`;
    /// changes are recorded by [`custom_field_events`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomValues>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub archived: Field<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// The body of a stage move.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    pub stage_id: StageId,
    /// Checked against the current version when given.
    #[serde(default)]
    pub version: Option<i64>,
    /// The key of a loss reason (moving to lost).
    #[serde(default)]
    pub loss_reason: Option<String>,
    /// The loss review, 复盘 (moving to lost).
    #[serde(default)]
    pub loss_note: Option<String>,
    #[serde(default)]
    pub competitor: Option<String>,
    /// Checklist items confirmed with the move (added to those already confirmed).
    #[serde(default)]
    pub checklist: Vec<String>,
    /// Standard actions done, confirmed with the move (added to those already done).
    #[serde(default)]
    pub actions_done: Vec<String>,
    /// Other values set with the move, as in an update (what a gate asks for).
    #[serde(default)]
    pub set: Option<OpportunityInput>,
}

/// What a move needs besides the opportunity and its pipeline.
pub struct MoveContext<'a> {
    pub actor: &'a Actor,
    pub now: OffsetDateTime,
    pub loss_reasons: &'a [LossReason],
    /// Standard actions done through their tasks.
    pub tasks_done: &'a [String],
    /// The opportunity's custom field values, and the labels of the custom fields.
    pub custom: &'a BTreeMap<String, Value>,
    pub custom_labels: &'a [(String, String, String)],
    /// The approval policies in force.
    pub policies: &'a [ApprovalPolicy],
    /// An approval for this move was granted (the move then skips the approval step).
    pub approved: bool,
    /// The language of the tasks created for standard actions.
    pub task_language: Language,
    /// The working calendar the standard actions' due dates are counted in.
    pub calendar: &'a WorkCalendar,
}

/// A move done: its events and the tasks of the new stage's standard actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub events: Vec<NewEvent>,
    pub tasks: Vec<Task>,
}

fn event(kind: EventKind, actor: &Actor, now: OffsetDateTime) -> NewEvent {
    NewEvent {
        kind,
        actor_id: actor.user_id,
        at: now,
        from_stage_id: None,
        to_stage_id: None,
        old_value: None,
        new_value: None,
    }
}

fn change(kind: EventKind, actor: &Actor, now: OffsetDateTime, old: Value, new: Value) -> NewEvent {
    NewEvent {
        old_value: Some(old),
        new_value: Some(new),
        ..event(kind, actor, now)
    }
}

fn date_json(d: Option<Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.to_string()))
}

fn money_json(m: &Money) -> Value {
    json!({ "amount_minor": m.amount_minor, "currency": m.currency })
}

/// A new opportunity (id 0 until stored) and its `created` event (plus `won`/`lost` when
/// created directly in a closed stage, as imports of old deals are).
pub fn create(
    input: OpportunityInput,
    pipeline: &Pipeline,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<(Opportunity, Vec<NewEvent>), FieldError> {
    let stage = match &input.stage_id {
        Field::Value(id) => pipeline.stage(*id).filter(|s| !s.archived).ok_or_else(|| {
            FieldError::new(
                "stage_id",
                "unknown_stage",
                format!("stage {id} is not in pipeline {}", pipeline.id),
            )
        })?,
        _ => pipeline.first_open_stage().ok_or_else(|| {
            FieldError::new(
                "pipeline_id",
                "no_open_stage",
                "the pipeline has no open stage",
            )
        })?,
    };
    let mut opp = Opportunity {
        id: 0,
        title: String::new(),
        account_id: 0,
        primary_contact_id: None,
        pipeline_id: pipeline.id,
        stage_id: stage.id,
        status: stage.kind,
        amount: Money::cny(0),
        close_date: None,
        probability: stage.probability,
        probability_overridden: false,
        forecast_category: stage.forecast_category,
        grade: None,
        source: None,
        owner_id: actor.user_id,
        next_step: None,
        next_step_date: None,
        tags: vec![],
        loss_reason: None,
        loss_note: None,
        competitor: None,
        checklist: vec![],
        actions_done: vec![],
        custom: CustomValues::new(),
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
        closed_at: (stage.kind != StageKind::Open).then_some(now),
        stage_entered_at: now,
        pool_since: None,
    };
    if input.title.is_absent() {
        return Err(FieldError::new("title", "required", "title is required"));
    }
    if input.account_id.is_absent() {
        return Err(FieldError::new(
            "account_id",
            "required",
            "account_id is required",
        ));
    }
    let mut input = input;
    input.pipeline_id = Field::Absent;
    input.stage_id = Field::Absent;
    // `"owner_id": null`: created in the public pool, the creator standing in as the last
    // owner (whose team line hears about it).
    let pooled = matches!(input.owner_id, Field::Null) && stage.kind == StageKind::Open;
    if pooled {
        input.owner_id = Field::Absent;
    }
    apply_fields(&mut opp, input, pipeline)?;
    let mut created = event(EventKind::Created, actor, now);
    created.to_stage_id = Some(stage.id);
    created.new_value = Some(json!({
        "amount": money_json(&opp.amount),
        "close_date": date_json(opp.close_date),
        "probability": opp.probability,
        "forecast_category": opp.forecast_category,
        "owner_id": opp.owner_id,
    }));
    let mut events = vec![created];
    match stage.kind {
        StageKind::Won => events.push(event(EventKind::Won, actor, now)),
        StageKind::Lost => events.push(event(EventKind::Lost, actor, now)),
        StageKind::Open => {}
    }
    if pooled {
        opp.pool_since = Some(now);
        events.push(pooled_event(None, actor, now));
    }
    Ok((opp, events))
}

fn pooled_event(reason: Option<String>, actor: &Actor, now: OffsetDateTime) -> NewEvent {
    NewEvent {
        new_value: Some(json!({ "reason": reason })),
        ..event(EventKind::Pooled, actor, now)
    }
}

/// Gives `opp` the owner `to` (`how`: by `rule_id`, claimed, or by hand) and takes it out
/// of the public pool. Events: `owner_changed` when the owner changes, and `assigned` with
/// since when it had waited (its time in the pool; `null` when it was not in the pool).
pub fn assign(
    opp: &mut Opportunity,
    to: UserId,
    how: AssignHow,
    rule_id: Option<Id>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    if opp.owner_id != to {
        events.push(change(
            EventKind::OwnerChanged,
            actor,
            now,
            json!(opp.owner_id),
            json!(to),
        ));
    }
    events.push(assigned_event(opp.pool_since, to, how, rule_id, actor, now));
    opp.owner_id = to;
    opp.pool_since = None;
    opp.updated_at = now;
    events
}

fn assigned_event(
    waited_since: Option<OffsetDateTime>,
    to: UserId,
    how: AssignHow,
    rule_id: Option<Id>,
    actor: &Actor,
    now: OffsetDateTime,
) -> NewEvent {
    let since = waited_since.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    });
    NewEvent {
        new_value: Some(json!({
            "owner_id": to,
            "how": how,
            "rule_id": rule_id,
            "waited_since": since,
        })),
        ..event(EventKind::Assigned, actor, now)
    }
}

/// Puts an open opportunity in the public pool (公海) with an optional reason: it waits
/// there for an owner (a claim, an assignment rule or a manager), its owner kept as the last
/// one. A closed opportunity, or one already in the pool, is refused.
pub fn release(
    opp: &mut Opportunity,
    reason: Option<String>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Vec<NewEvent>, FieldError> {
    if opp.status != StageKind::Open || opp.archived {
        return Err(FieldError::new(
            "status",
            "not_open",
            "only an open opportunity can go to the public pool",
        ));
    }
    if opp.pool_since.is_some() {
        return Err(FieldError::new(
            "pool_since",
            "already_in_pool",
            "the opportunity is already in the public pool",
        ));
    }
    let reason = input::opt_text(
        "reason",
        reason.map_or(Field::Absent, Field::Value),
        input::SHORT_TEXT,
    )?;
    let reason = match reason {
        Field::Value(r) => Some(r),
        _ => None,
    };
    opp.pool_since = Some(now);
    opp.updated_at = now;
    Ok(vec![pooled_event(reason, actor, now)])
}

/// Applies a partial update and returns the events for the tracked values that changed.
/// Leaves `version` alone: the store bumps it when it writes.
pub fn apply(
    opp: &mut Opportunity,
    input: OpportunityInput,
    pipeline: &Pipeline,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Vec<NewEvent>, FieldError> {
    if !input.pipeline_id.is_absent() {
        return Err(FieldError::new(
            "pipeline_id",
            "read_only",
            "pipeline_id cannot be changed by an update",
        ));
    }
    if !input.stage_id.is_absent() {
        return Err(FieldError::new(
            "stage_id",
            "use_move",
            "change the stage with the move call",
        ));
    }
    let before = opp.clone();
    let owner_given = matches!(input.owner_id, Field::Value(_));
    apply_fields(opp, input, pipeline)?;
    let mut events = Vec::new();
    if before.amount != opp.amount {
        events.push(change(
            EventKind::AmountChanged,
            actor,
            now,
            money_json(&before.amount),
            money_json(&opp.amount),
        ));
    }
    if before.close_date != opp.close_date {
        events.push(change(
            EventKind::CloseDateChanged,
            actor,
            now,
            date_json(before.close_date),
            date_json(opp.close_date),
        ));
    }
    if before.probability != opp.probability {
        events.push(change(
            EventKind::ProbabilityChanged,
            actor,
            now,
            json!(before.probability),
            json!(opp.probability),
        ));
    }
    if before.forecast_category != opp.forecast_category {
        events.push(change(
            EventKind::ForecastCategoryChanged,
            actor,
            now,
            json!(before.forecast_category),
            json!(opp.forecast_category),
        ));
    }
    if before.owner_id != opp.owner_id {
        events.push(change(
            EventKind::OwnerChanged,
            actor,
            now,
            json!(before.owner_id),
            json!(opp.owner_id),
        ));
    }
    // Naming an owner takes the opportunity out of the public pool.
    if owner_given && before.pool_since.is_some() {
        events.push(assigned_event(
            before.pool_since,
            opp.owner_id,
            AssignHow::Manual,
            None,
            actor,
            now,
        ));
        opp.pool_since = None;
    }
    if (&before.checklist, &before.actions_done) != (&opp.checklist, &opp.actions_done) {
        events.push(change(
            EventKind::ChecklistChanged,
            actor,
            now,
            json!({ "checklist": before.checklist, "actions_done": before.actions_done }),
            json!({ "checklist": opp.checklist, "actions_done": opp.actions_done }),
        ));
    }
    if before.archived != opp.archived {
        let kind = if opp.archived {
            EventKind::Archived
        } else {
            EventKind::Restored
        };
        events.push(event(kind, actor, now));
    }
    if *opp != before {
        opp.updated_at = now;
    }
    Ok(events)
}

/// The history of custom values: one `custom_field_changed` event per changed value, whose
/// old and new values are `{"key": …, "value": …}` (the value `null` when there was none or
/// it was cleared).
pub fn custom_field_events(
    changes: &[CustomChange],
    actor: &Actor,
    now: OffsetDateTime,
) -> Vec<NewEvent> {
    changes
        .iter()
        .map(|c| {
            change(
                EventKind::CustomFieldChanged,
                actor,
                now,
                json!({ "key": c.key, "value": c.old }),
                json!({ "key": c.key, "value": c.new }),
            )
        })
        .collect()
}

/// An opportunity created with custom values keeps them in its `created` event, under
/// `custom`, next to the other values it started with.
pub fn note_custom_values(events: &mut [NewEvent], custom: &CustomValues) {
    if custom.is_empty() {
        return;
    }
    let created = events
        .iter_mut()
        .find(|e| e.kind == EventKind::Created)
        .and_then(|e| e.new_value.as_mut());
    if let Some(Value::Object(snapshot)) = created {
        snapshot.insert("custom".into(), json!(custom));
    }
}

fn apply_fields(
    opp: &mut Opportunity,
    input: OpportunityInput,
    pipeline: &Pipeline,
) -> Result<(), FieldError> {
    let title = input
        .title
        .try_map(|t| input::required_text("title", t, input::SHORT_TEXT))?;
    title.apply_required(&mut opp.title, "title")?;
    input
        .account_id
        .apply_required(&mut opp.account_id, "account_id")?;
    input
        .primary_contact_id
        .apply_opt(&mut opp.primary_contact_id);
    let amount = match (input.amount_minor, input.currency) {
        (Field::Absent, Field::Absent) => None,
        (amount, currency) => {
            let amount = match amount {
                Field::Absent => opp.amount.amount_minor,
                Field::Null => 0,
                Field::Value(a) => a,
            };
            let currency = match currency {
                Field::Value(c) => c,
                _ => opp.amount.currency.clone(),
            };
            Some(Money::parse(amount, &currency, "amount_minor")?)
        }
    };
    if let Some(amount) = amount {
        opp.amount = amount;
    }
    input::opt_date("close_date", input.close_date)?.apply_opt(&mut opp.close_date);
    match input.probability {
        Field::Absent => {}
        Field::Null => {
            let stage = pipeline.stage(opp.stage_id);
            opp.probability = stage.map_or(opp.probability, |s| s.probability);
            opp.probability_overridden = false;
        }
        Field::Value(p) => {
            opp.probability = input::percent("probability", p)?;
            opp.probability_overridden = true;
        }
    }
    input
        .forecast_category
        .apply_required(&mut opp.forecast_category, "forecast_category")?;
    input.grade.apply_opt(&mut opp.grade);
    input.source.apply_opt(&mut opp.source);
    input
        .owner_id
        .apply_required(&mut opp.owner_id, "owner_id")?;
    input::opt_text("next_step", input.next_step, input::SHORT_TEXT)?.apply_opt(&mut opp.next_step);
    input::opt_date("next_step_date", input.next_step_date)?.apply_opt(&mut opp.next_step_date);
    if let Field::Value(tags) = input.tags {
        opp.tags = input::tags("tags", tags)?;
    } else if matches!(input.tags, Field::Null) {
        opp.tags.clear();
    }
    input::opt_text("competitor", input.competitor, input::SHORT_TEXT)?
        .apply_opt(&mut opp.competitor);
    if let Some(list) = keys_of(input.checklist) {
        opp.checklist = checked_keys(pipeline, "checklist", list, Known::Checklist)?;
    }
    if let Some(list) = keys_of(input.actions_done) {
        opp.actions_done = checked_keys(pipeline, "actions_done", list, Known::Action)?;
    }
    input
        .archived
        .apply_required(&mut opp.archived, "archived")?;
    Ok(())
}

fn keys_of(f: Field<Vec<String>>) -> Option<Vec<String>> {
    match f {
        Field::Absent => None,
        Field::Null => Some(vec![]),
        Field::Value(v) => Some(v),
    }
}

#[derive(Clone, Copy)]
enum Known {
    Checklist,
    Action,
}

fn declared(pipeline: &Pipeline, key: &str, known: Known) -> bool {
    pipeline.stages.iter().any(|s| match known {
        Known::Checklist => s.gate.checklist.iter().any(|c| c.key == key),
        Known::Action => s.actions.iter().any(|a| a.key == key),
    })
}

/// Checklist or action keys, each one the pipeline declares, sorted without duplicates.
fn checked_keys(
    pipeline: &Pipeline,
    field: &str,
    keys: Vec<String>,
    known: Known,
) -> Result<Vec<String>, FieldError> {
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.into_iter().enumerate() {
        if !declared(pipeline, &k, known) {
            return Err(FieldError::new(
                &format!("{field}[{i}]"),
                "unknown_key",
                format!("`{k}` is not in this pipeline's {field}"),
            ));
        }
        out.push(k);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Moves an opportunity to another stage of its pipeline. Won and lost are stages too, so
/// this is the one way to close and to reopen. The values sent with the move are applied
/// first; then the transition policy and every gate on the way are checked, and the move is
/// refused with everything still missing, or done whole. Probability and forecast category
/// follow the stage unless the probability was overridden. On success `opp` holds the new
/// state; on error it is unchanged.
pub fn move_to(
    opp: &mut Opportunity,
    pipeline: &Pipeline,
    input: MoveInput,
    ctx: &MoveContext,
) -> Result<Moved, MoveError> {
    let (actor, now) = (ctx.actor, ctx.now);
    if opp.archived {
        return Err(MoveError::Archived);
    }
    let to = pipeline
        .stage(input.stage_id)
        .ok_or(MoveError::UnknownStage(input.stage_id))?;
    if to.archived {
        return Err(MoveError::ArchivedStage(to.id));
    }
    if to.id == opp.stage_id {
        return Err(MoveError::SameStage);
    }
    let from = pipeline
        .stage(opp.stage_id)
        .ok_or(MoveError::UnknownStage(opp.stage_id))?;
    process::check_policy(pipeline, from, to, actor.role).map_err(MoveError::Policy)?;

    // The values sent with the move, on a copy: nothing changes unless the move is done.
    let mut next = opp.clone();
    let mut set = input.set.unwrap_or_default();
    if !set.pipeline_id.is_absent() || !set.stage_id.is_absent() {
        return Err(MoveError::Invalid(FieldError::new(
            "set",
            "use_move",
            "the stage is the move's stage_id",
        )));
    }
    if !set.archived.is_absent() {
        return Err(MoveError::Invalid(FieldError::new(
            "set.archived",
            "read_only",
            "archive with an update",
        )));
    }
    let add = |current: &[String], added: Vec<String>, given: Field<Vec<String>>| {
        if added.is_empty() {
            return given;
        }
        let mut all = match given {
            Field::Value(v) => v,
            Field::Null => vec![],
            Field::Absent => current.to_vec(),
        };
        all.extend(added);
        Field::Value(all)
    };
    let checklist = checked_keys(pipeline, "checklist", input.checklist, Known::Checklist)
        .map_err(MoveError::Invalid)?;
    let actions = checked_keys(pipeline, "actions_done", input.actions_done, Known::Action)
        .map_err(MoveError::Invalid)?;
    set.checklist = add(&opp.checklist, checklist, set.checklist);
    set.actions_done = add(&opp.actions_done, actions, set.actions_done);
    if input.competitor.is_some() {
        set.competitor = input.competitor.map_or(Field::Absent, Field::Value);
    }
    let mut events = apply(&mut next, set, pipeline, actor, now).map_err(MoveError::Invalid)?;
    if to.kind == StageKind::Lost {
        next.loss_reason = match input.loss_reason {
            Some(r) => {
                input::text("loss_reason", r, input::SHORT_TEXT).map_err(MoveError::Invalid)?
            }
            None => None,
        };
        next.loss_note = match input.loss_note {
            Some(r) => input::text("loss_note", r, input::LONG_TEXT).map_err(MoveError::Invalid)?,
            None => None,
        };
    }

    admit(&next, pipeline, from, to, ctx)?;

    events.push(NewEvent {
        from_stage_id: Some(from.id),
        to_stage_id: Some(to.id),
        ..event(EventKind::StageChanged, actor, now)
    });
    match (from.kind, to.kind) {
        (_, StageKind::Won) => events.push(event(EventKind::Won, actor, now)),
        (_, StageKind::Lost) => events.push(NewEvent {
            new_value: Some(json!({
                "loss_reason": next.loss_reason,
                "loss_note": next.loss_note,
                "competitor": next.competitor,
            })),
            ..event(EventKind::Lost, actor, now)
        }),
        (StageKind::Won | StageKind::Lost, StageKind::Open) => {
            events.push(event(EventKind::Reopened, actor, now))
        }
        (StageKind::Open, StageKind::Open) => {}
    }
    events.extend(enter_stage(&mut next, to, actor, now));
    match to.kind {
        StageKind::Open => {
            next.closed_at = None;
            next.loss_reason = None;
            next.loss_note = None;
        }
        StageKind::Won => {
            next.closed_at = Some(now);
            next.loss_reason = None;
            next.loss_note = None;
        }
        StageKind::Lost => next.closed_at = Some(now),
    }
    let tasks = action_tasks(&next, to, ctx);
    *opp = next;
    Ok(Moved { events, tasks })
}

/// Whether `next` (the opportunity with the move's values applied) may go from `from` into
/// `to`: every requirement on the way met ([`process::unmet`]), and no approval needed unless
/// one was granted. The one decision of a stage move's gates, which a new deal created
/// directly in a later stage passes too ([`check_created_stage`]).
fn admit(
    next: &Opportunity,
    pipeline: &Pipeline,
    from: &Stage,
    to: &Stage,
    ctx: &MoveContext,
) -> Result<(), MoveError> {
    let mut actions_done = next.actions_done.clone();
    actions_done.extend(ctx.tasks_done.iter().cloned());
    let subject = process::GateSubject {
        opp: next,
        custom: ctx.custom,
        actions_done: &actions_done,
        loss_reasons: ctx.loss_reasons,
        custom_labels: ctx.custom_labels,
    };
    let unmet = process::unmet(pipeline, from, to, &subject);
    if !unmet.is_empty() {
        return Err(MoveError::Gate(unmet));
    }
    if !ctx.approved {
        // Policies watch forward moves; a gate's approval flag any move its gate applies to.
        let policy = process::is_forward(from, to)
            .then(|| approval::policy_for(ctx.policies, pipeline, to, next, ctx.custom))
            .flatten();
        if policy.is_some() || process::needs_approval(pipeline, from, to) {
            return Err(MoveError::ApprovalRequired {
                policy_id: policy.map(|p| p.id),
            });
        }
    }
    Ok(())
}

/// Whether a new deal (from [`create`], with its custom values) may start in its stage: a
/// deal created in a later stage, or won or lost, passes what a move there from the
/// pipeline's first open stage would — the transition policy, every gate on the way, won's
/// amount and close date, lost's reason — and is refused where that move would wait for an
/// approval (it is created in an earlier stage and moved). A deal in the first open stage
/// needs nothing. Imports of past deals, taken as fact, do not ask.
pub fn check_created_stage(
    opp: &Opportunity,
    pipeline: &Pipeline,
    ctx: &MoveContext,
) -> Result<(), MoveError> {
    let Some(first) = pipeline.first_open_stage() else {
        return Ok(());
    };
    if first.id == opp.stage_id {
        return Ok(());
    }
    let to = pipeline
        .stage(opp.stage_id)
        .ok_or(MoveError::UnknownStage(opp.stage_id))?;
    process::check_policy(pipeline, first, to, ctx.actor.role).map_err(MoveError::Policy)?;
    admit(opp, pipeline, first, to, ctx)
}

/// Puts `opp` into `stage`: its probability (unless overridden) and forecast category follow
/// the stage. Returns the events of those changes.
fn enter_stage(
    opp: &mut Opportunity,
    stage: &Stage,
    actor: &Actor,
    now: OffsetDateTime,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    if !opp.probability_overridden && opp.probability != stage.probability {
        events.push(change(
            EventKind::ProbabilityChanged,
            actor,
            now,
            json!(opp.probability),
            json!(stage.probability),
        ));
        opp.probability = stage.probability;
    }
    if opp.forecast_category != stage.forecast_category {
        events.push(change(
            EventKind::ForecastCategoryChanged,
            actor,
            now,
            json!(opp.forecast_category),
            json!(stage.forecast_category),
        ));
        opp.forecast_category = stage.forecast_category;
    }
    opp.stage_id = stage.id;
    opp.status = stage.kind;
    opp.stage_entered_at = now;
    opp.updated_at = now;
    events
}

/// The tasks for the owner that entering `stage` creates: one per standard action marked
/// so and not done yet.
fn action_tasks(opp: &Opportunity, stage: &Stage, ctx: &MoveContext) -> Vec<Task> {
    let today = ctx.calendar.local_date(ctx.now);
    stage
        .actions
        .iter()
        .filter(|a| a.create_task && !opp.actions_done.contains(&a.key))
        .map(|a| {
            let mut t = blank_task(opp.owner_id, ctx.now);
            t.title = match ctx.task_language {
                Language::ZhCn => a.name_zh.clone(),
                Language::En => a.name_en.clone(),
            };
            t.due_date = Some(
                ctx.calendar
                    .working_days_after(today, a.due_working_days.unwrap_or(0).max(0) as u32),
            );
            t.record_kind = Some(RecordKind::Opportunity);
            t.record_id = Some(opp.id);
            t.action_key = Some(a.key.clone());
            t
        })
        .collect()
}

/// Moves an opportunity into another pipeline, at the stage the mapping gives (an admin's
/// restructuring: no gates, recorded as an event).
pub fn change_pipeline(
    opp: &mut Opportunity,
    to_pipeline: &Pipeline,
    to_stage: StageId,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Vec<NewEvent>, MoveError> {
    let stage = to_pipeline
        .stage(to_stage)
        .filter(|s| !s.archived)
        .ok_or(MoveError::UnknownStage(to_stage))?;
    if opp.pipeline_id == to_pipeline.id {
        return Err(MoveError::SameStage);
    }
    let mut events = vec![change(
        EventKind::PipelineChanged,
        actor,
        now,
        json!({ "pipeline_id": opp.pipeline_id, "stage_id": opp.stage_id }),
        json!({ "pipeline_id": to_pipeline.id, "stage_id": stage.id }),
    )];
    events[0].from_stage_id = Some(opp.stage_id);
    events[0].to_stage_id = Some(stage.id);
    // Checklist and action keys belong to a pipeline.
    opp.checklist
        .retain(|k| declared(to_pipeline, k, Known::Checklist));
    opp.actions_done
        .retain(|k| declared(to_pipeline, k, Known::Action));
    opp.pipeline_id = to_pipeline.id;
    if opp.status != stage.kind {
        opp.closed_at = (stage.kind != StageKind::Open).then_some(now);
    }
    events.extend(enter_stage(opp, stage, actor, now));
    Ok(events)
}

/// Something saved that looks wrong without being refused (a close date decades ago): the
/// API answers it in `warnings`, the pages ask to confirm it first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Warning {
    pub field: String,
    /// `close_date_long_past` or `close_date_far_future`.
    pub code: String,
    pub message: String,
}

/// A plausible close date lies at most this many years before today…
pub const CLOSE_DATE_YEARS_PAST: i32 = 1;
/// …and at most this many years after it.
pub const CLOSE_DATE_YEARS_AHEAD: i32 = 5;

/// The same day `years` years from `d` (the 29th of February becomes the 28th).
fn years_from(d: Date, years: i32) -> Date {
    let year = d.year() + years;
    Date::from_calendar_date(year, d.month(), d.day())
        .or_else(|_| Date::from_calendar_date(year, d.month(), d.day() - 1))
        .unwrap_or(d)
}

/// The warning about a close date outside the plausible range around `today` (the day in
/// China of the request's clock): more than [`CLOSE_DATE_YEARS_PAST`] years ago or more than
/// [`CLOSE_DATE_YEARS_AHEAD`] years ahead. Only warned, never refused: old deals are
/// entered after the fact, and a long tender may close far ahead.
pub fn close_date_warning(close: Date, today: Date) -> Option<Warning> {
    let warn = |code: &str, message: String| Warning {
        field: "close_date".into(),
        code: code.into(),
        message,
    };
    if close < years_from(today, -CLOSE_DATE_YEARS_PAST) {
        Some(warn(
            "close_date_long_past",
            format!("the close date {close} is more than {CLOSE_DATE_YEARS_PAST} year before today ({today})"),
        ))
    } else if close > years_from(today, CLOSE_DATE_YEARS_AHEAD) {
        Some(warn(
            "close_date_far_future",
            format!("the close date {close} is more than {CLOSE_DATE_YEARS_AHEAD} years after today ({today})"),
        ))
    } else {
        None
    }
}

/// The warnings of a create or update that sets `close_date` (none when it leaves the date
/// alone or clears it).
pub fn input_warnings(input: &OpportunityInput, today: Date) -> Vec<Warning> {
    match &input.close_date {
        Field::Value(d) => close_date_warning(*d, today).into_iter().collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::PolicyError;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    fn actor() -> Actor {
        Actor {
            user_id: 7,
            role: Role::Rep,
            team_id: None,
        }
    }

    /// The B2B template with ids 10..=15: 10 Qualification, 11 Needs analysis, 12 Proposal,
    /// 13 Negotiation, 14 Won, 15 Lost.
    fn gated() -> Pipeline {
        process::build_pipeline(&process::b2b_template(), 1, 10)
    }

    /// The same stages without gates or actions.
    fn pipeline() -> Pipeline {
        let mut p = gated();
        for s in &mut p.stages {
            s.gate = Default::default();
            s.actions = vec![];
        }
        p
    }

    fn manager() -> Actor {
        Actor {
            user_id: 3,
            role: Role::Manager,
            team_id: Some(2),
        }
    }

    fn reasons() -> Vec<LossReason> {
        process::default_loss_reasons()
    }

    /// Moves as `who`, with no custom values and no action done through tasks.
    fn mv_as(
        who: &Actor,
        opp: &mut Opportunity,
        p: &Pipeline,
        input: MoveInput,
    ) -> Result<Moved, MoveError> {
        let reasons = reasons();
        let ctx = MoveContext {
            actor: who,
            now: NOW,
            loss_reasons: &reasons,
            tasks_done: &[],
            custom: &BTreeMap::new(),
            custom_labels: &[],
            policies: &[],
            approved: false,
            task_language: Language::ZhCn,
            calendar: &crate::calendar::WorkCalendar::china_default(),
        };
        move_to(opp, p, input, &ctx)
    }

    fn to(stage_id: StageId) -> MoveInput {
        MoveInput {
            stage_id,
            ..Default::default()
        }
    }

    fn body(json: &str) -> OpportunityInput {
        serde_json::from_str(json).unwrap()
    }

    fn new_opp() -> Opportunity {
        create(
            body(r#"{"title":"A 厂压缩机","account_id":3,"amount_minor":50000000,"close_date":"2026-06-30"}"#),
            &pipeline(),
            &actor(),
            NOW,
        )
        .unwrap()
        .0
    }

    fn kinds(events: &[NewEvent]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn create_starts_in_first_open_stage_with_its_defaults() {
        let (opp, events) = create(
            body(r#"{"title":" A 厂压缩机 ","account_id":3,"amount_minor":50000000}"#),
            &pipeline(),
            &actor(),
            NOW,
        )
        .unwrap();
        assert_eq!(opp.title, "A 厂压缩机");
        assert_eq!(
            (opp.stage_id, opp.probability, opp.forecast_category),
            (10, 10, ForecastCategory::Pipeline)
        );
        assert_eq!(opp.amount, Money::cny(50_000_000));
        assert_eq!((opp.owner_id, opp.status), (7, StageKind::Open));
        assert_eq!(kinds(&events), vec![EventKind::Created]);
        assert_eq!(events[0].to_stage_id, Some(10));
    }

    #[test]
    fn create_refuses_bad_input_naming_the_field() {
        let cases = [
            (r#"{"account_id":3}"#, "title", "required"),
            (r#"{"title":"x"}"#, "account_id", "required"),
            (
                r#"{"title":"x","account_id":3,"amount_minor":-1}"#,
                "amount_minor",
                "negative_amount",
            ),
            (
                r#"{"title":"x","account_id":3,"probability":101}"#,
                "probability",
                "out_of_range",
            ),
            (
                r#"{"title":"x","account_id":3,"stage_id":99}"#,
                "stage_id",
                "unknown_stage",
            ),
            (
                r#"{"title":"x","account_id":3,"currency":"yuan"}"#,
                "currency",
                "invalid_currency",
            ),
        ];
        for (json, field, code) in cases {
            let err = create(body(json), &pipeline(), &actor(), NOW).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code.as_str()),
                (field, code),
                "{json}"
            );
        }
    }

    #[test]
    fn update_records_tracked_changes_only() {
        let mut opp = new_opp();
        let later = NOW + time::Duration::hours(1);
        let events = apply(
            &mut opp,
            body(r#"{"amount_minor":60000000,"close_date":"2026-07-15","next_step":"发方案","owner_id":8,"probability":30}"#),
            &pipeline(),
            &actor(),
            later,
        )
        .unwrap();
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::AmountChanged,
                EventKind::CloseDateChanged,
                EventKind::ProbabilityChanged,
                EventKind::OwnerChanged
            ]
        );
        assert_eq!(events[1].old_value, Some(json!("2026-06-30")));
        assert_eq!(events[1].new_value, Some(json!("2026-07-15")));
        assert!(opp.probability_overridden);
        assert_eq!(opp.close_date, Some(date!(2026 - 07 - 15)));
        assert_eq!(opp.updated_at, later);

        let events = apply(
            &mut opp,
            body(r#"{"next_step":"约见"}"#),
            &pipeline(),
            &actor(),
            later,
        )
        .unwrap();
        assert!(events.is_empty());
        let err = apply(
            &mut opp,
            body(r#"{"stage_id":12}"#),
            &pipeline(),
            &actor(),
            later,
        )
        .unwrap_err();
        assert_eq!(err.code, "use_move");
    }

    #[test]
    fn custom_values_are_history_too() {
        use crate::custom_fields::{CustomChange, CustomRow};
        let (opp, mut events) = create(
            body(r#"{"title":"x","account_id":3}"#),
            &pipeline(),
            &actor(),
            NOW,
        )
        .unwrap();
        note_custom_values(&mut events, &opp.custom);
        assert!(events[0]
            .new_value
            .as_ref()
            .unwrap()
            .get("custom")
            .is_none());
        let custom: CustomValues = serde_json::from_str(r#"{"region":"华东"}"#).unwrap();
        note_custom_values(&mut events, &custom);
        assert_eq!(
            events[0].new_value.as_ref().unwrap()["custom"],
            json!({"region": "华东"})
        );

        let changes = [CustomChange {
            field_id: 1,
            key: "region".into(),
            old: json!("华东"),
            new: Value::Null,
            rows: Vec::<CustomRow>::new(),
        }];
        let events = custom_field_events(&changes, &actor(), NOW);
        assert_eq!(kinds(&events), vec![EventKind::CustomFieldChanged]);
        assert_eq!(
            (events[0].old_value.clone(), events[0].new_value.clone()),
            (
                Some(json!({"key": "region", "value": "华东"})),
                Some(json!({"key": "region", "value": null}))
            )
        );
    }

    #[test]
    fn moves_follow_stage_defaults_and_close_and_reopen() {
        let p = pipeline();
        let mut opp = new_opp();
        let events = mv_as(&actor(), &mut opp, &p, to(12)).unwrap().events;
        assert_eq!(
            kinds(&events),
            vec![
                EventKind::StageChanged,
                EventKind::ProbabilityChanged,
                EventKind::ForecastCategoryChanged
            ]
        );
        assert_eq!(
            (events[0].from_stage_id, events[0].to_stage_id),
            (Some(10), Some(12))
        );
        assert_eq!(
            (opp.probability, opp.forecast_category),
            (50, ForecastCategory::BestCase)
        );

        let lost = MoveInput {
            stage_id: 15,
            loss_reason: Some("price".into()),
            loss_note: Some("对手低 15%".into()),
            competitor: Some("某德企".into()),
            ..Default::default()
        };
        let events = mv_as(&actor(), &mut opp, &p, lost).unwrap().events;
        assert_eq!(
            kinds(&events)[..2],
            [EventKind::StageChanged, EventKind::Lost]
        );
        assert_eq!(
            events[1].new_value,
            Some(
                json!({"loss_reason": "price", "loss_note": "对手低 15%", "competitor": "某德企"})
            )
        );
        assert_eq!((opp.closed_at, opp.status), (Some(NOW), StageKind::Lost));
        assert_eq!(opp.loss_reason.as_deref(), Some("price"));

        // A rep may not reopen; the manager may.
        assert_eq!(
            mv_as(&actor(), &mut opp, &p, to(13)).unwrap_err(),
            MoveError::Policy(PolicyError::ReopenNotAllowed)
        );
        let events = mv_as(&manager(), &mut opp, &p, to(13)).unwrap().events;
        assert_eq!(
            kinds(&events)[..2],
            [EventKind::StageChanged, EventKind::Reopened]
        );
        assert_eq!(
            (opp.closed_at, opp.loss_reason.clone(), opp.status),
            (None, None, StageKind::Open)
        );

        let events = mv_as(&actor(), &mut opp, &p, to(14)).unwrap().events;
        assert_eq!(
            kinds(&events)[..2],
            [EventKind::StageChanged, EventKind::Won]
        );
        assert_eq!((opp.probability, opp.status), (100, StageKind::Won));
    }

    #[test]
    fn overridden_probability_survives_a_move() {
        let p = pipeline();
        let mut opp = new_opp();
        apply(&mut opp, body(r#"{"probability":40}"#), &p, &actor(), NOW).unwrap();
        let events = mv_as(&actor(), &mut opp, &p, to(11)).unwrap().events;
        assert!(!kinds(&events).contains(&EventKind::ProbabilityChanged));
        assert_eq!(opp.probability, 40);
        apply(&mut opp, body(r#"{"probability":null}"#), &p, &actor(), NOW).unwrap();
        assert_eq!((opp.probability, opp.probability_overridden), (25, false));
    }

    #[test]
    fn refused_moves() {
        let p = pipeline();
        let mut opp = new_opp();
        assert_eq!(
            mv_as(&actor(), &mut opp, &p, to(99)),
            Err(MoveError::UnknownStage(99))
        );
        assert_eq!(
            mv_as(&actor(), &mut opp, &p, to(10)),
            Err(MoveError::SameStage)
        );
        opp.archived = true;
        assert_eq!(
            mv_as(&actor(), &mut opp, &p, to(11)),
            Err(MoveError::Archived)
        );
    }

    fn fields_of(e: MoveError) -> Vec<String> {
        match e {
            MoveError::Gate(unmet) => unmet.into_iter().map(|u| u.field).collect(),
            other => panic!("expected unmet requirements, got {other:?}"),
        }
    }

    #[test]
    fn gates_list_everything_missing_and_change_nothing() {
        let p = gated();
        // (starting stage, input, what is missing)
        let cases: Vec<(StageId, &str, Vec<&str>)> = vec![
            (10, r#"{"stage_id":11}"#, vec!["checklist.need_confirmed"]),
            // Skipping to Proposal needs Needs analysis's gate too.
            (
                10,
                r#"{"stage_id":12}"#,
                vec![
                    "checklist.need_confirmed",
                    "checklist.budget_confirmed",
                    "checklist.decision_maker_identified",
                    "checklist.timeline_known",
                ],
            ),
            (
                10,
                r#"{"stage_id":12,"checklist":["need_confirmed","budget_confirmed"],"set":{"amount_minor":0}}"#,
                vec![
                    "amount_minor",
                    "checklist.decision_maker_identified",
                    "checklist.timeline_known",
                ],
            ),
            // Leaving Proposal needs the proposal sent; Negotiation its checklist item.
            (
                12,
                r#"{"stage_id":13}"#,
                vec!["actions.send_proposal", "checklist.proposal_accepted"],
            ),
            (
                12,
                r#"{"stage_id":14,"set":{"close_date":null}}"#,
                vec![
                    "actions.send_proposal",
                    "close_date",
                    "checklist.proposal_accepted",
                ],
            ),
            (12, r#"{"stage_id":15}"#, vec!["loss_reason"]),
            (
                12,
                r#"{"stage_id":15,"loss_reason":"weather"}"#,
                vec!["loss_reason"],
            ),
            // Backward moves and losses ask nothing of the stages passed.
            (13, r#"{"stage_id":15,"loss_reason":"price"}"#, vec![]),
            (13, r#"{"stage_id":11}"#, vec![]),
            // Everything given with the move: done.
            (
                10,
                r#"{"stage_id":12,"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"]}"#,
                vec![],
            ),
            (
                12,
                r#"{"stage_id":14,"actions_done":["send_proposal"],"checklist":["proposal_accepted"]}"#,
                vec![],
            ),
        ];
        for (start, json, want) in cases {
            let mut opp = new_opp();
            opp.stage_id = start;
            let before = opp.clone();
            let input: MoveInput = serde_json::from_str(json).unwrap();
            match mv_as(&actor(), &mut opp, &p, input) {
                Ok(_) => assert!(want.is_empty(), "{json}: moved, expected {want:?}"),
                Err(e) => {
                    assert_eq!(fields_of(e), want, "{json}");
                    assert_eq!(opp, before, "{json}: nothing changes");
                }
            }
        }
    }

    #[test]
    fn unmet_requirements_speak_both_languages() {
        let mut opp = new_opp();
        let e = mv_as(&actor(), &mut opp, &gated(), to(11)).unwrap_err();
        let MoveError::Gate(unmet) = e else { panic!() };
        assert_eq!(unmet[0].code, process::UnmetCode::ChecklistItem);
        assert_eq!(unmet[0].message(Language::ZhCn), "请确认：需求已确认");
        assert_eq!(unmet[0].message(Language::En), "Confirm: Need confirmed");
    }

    #[test]
    fn values_sent_with_a_move_are_stored_with_it() {
        let p = gated();
        let mut opp = new_opp();
        let input: MoveInput = serde_json::from_str(
            r#"{"stage_id":12,"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"],"set":{"amount_minor":70000000}}"#,
        )
        .unwrap();
        let moved = mv_as(&actor(), &mut opp, &p, input).unwrap();
        assert_eq!(
            kinds(&moved.events),
            vec![
                EventKind::AmountChanged,
                EventKind::ChecklistChanged,
                EventKind::StageChanged,
                EventKind::ProbabilityChanged,
                EventKind::ForecastCategoryChanged
            ]
        );
        assert_eq!(opp.amount.amount_minor, 70_000_000);
        assert_eq!(opp.checklist.len(), 4);
        // Entering Proposal creates the "send the proposal" task, due in 3 working days
        // (2026-03-02 is a Monday).
        assert_eq!(moved.tasks.len(), 1);
        let t = &moved.tasks[0];
        assert_eq!(
            (t.title.as_str(), t.due_date, t.action_key.as_deref()),
            (
                "发送方案",
                Some(date!(2026 - 03 - 05)),
                Some("send_proposal")
            )
        );
        assert_eq!((t.assignee_id, t.record_id), (opp.owner_id, Some(opp.id)));
        // An unknown checklist key is an input error naming its place.
        let bad: MoveInput =
            serde_json::from_str(r#"{"stage_id":13,"checklist":["proposal_accepted","nope"]}"#)
                .unwrap();
        match mv_as(&actor(), &mut opp, &p, bad).unwrap_err() {
            MoveError::Invalid(e) => assert_eq!(e.field, "checklist[1]"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_close_date_far_from_today_is_warned_about() {
        // Relative to whatever day `today` is; a leap day and a year end among them.
        for today in [
            date!(2026 - 06 - 15),
            date!(2028 - 02 - 29),
            date!(2026 - 12 - 31),
            date!(2027 - 01 - 01),
        ] {
            let days = |n: i64| today + time::Duration::days(n);
            let cases: Vec<(Date, Option<&str>)> = vec![
                (today, None),
                (days(-30), None),
                (years_from(today, -1), None),
                (
                    years_from(today, -1) - time::Duration::days(1),
                    Some("close_date_long_past"),
                ),
                (years_from(today, -30), Some("close_date_long_past")),
                (years_from(today, 5), None),
                (
                    years_from(today, 5) + time::Duration::days(1),
                    Some("close_date_far_future"),
                ),
                (years_from(today, 50), Some("close_date_far_future")),
            ];
            for (close, want) in cases {
                let got = close_date_warning(close, today);
                assert_eq!(
                    got.as_ref().map(|w| w.code.as_str()),
                    want,
                    "{close} on {today}"
                );
                if let Some(w) = got {
                    assert_eq!(w.field, "close_date");
                }
            }
        }
        assert_eq!(years_from(date!(2028 - 02 - 29), -1), date!(2027 - 02 - 28));
        // Only a date the input sets is warned about.
        let today = date!(2026 - 06 - 15);
        let set = |d| OpportunityInput {
            close_date: d,
            ..Default::default()
        };
        assert_eq!(
            input_warnings(&set(Field::Value(date!(1996 - 06 - 15))), today).len(),
            1
        );
        assert!(input_warnings(&set(Field::Value(today)), today).is_empty());
        assert!(input_warnings(&set(Field::Null), today).is_empty());
        assert!(input_warnings(&set(Field::Absent), today).is_empty());
    }

    #[test]
    fn transition_policy_and_roles() {
        let mut p = gated();
        for s in &mut p.stages {
            s.gate.checklist.clear();
            s.actions.clear();
        }
        p.policy.allow_skip = false;
        p.policy.allow_backward = false;
        p.stages[3].gate.allowed_roles = vec![Role::Manager];
        let cases: Vec<(StageId, StageId, Actor, Option<PolicyError>)> = vec![
            (10, 11, actor(), None),
            (10, 12, actor(), Some(PolicyError::SkipNotAllowed)),
            (10, 14, actor(), Some(PolicyError::SkipNotAllowed)),
            (10, 15, actor(), None),
            (12, 11, actor(), Some(PolicyError::BackwardNotAllowed)),
            (12, 13, actor(), Some(PolicyError::RoleNotAllowed)),
            (12, 13, manager(), None),
            (13, 14, actor(), None),
            (14, 12, actor(), Some(PolicyError::ReopenNotAllowed)),
            (15, 14, actor(), Some(PolicyError::ReopenNotAllowed)),
            (15, 12, manager(), None),
        ];
        for (from, target, who, want) in cases {
            let mut opp = new_opp();
            opp.stage_id = from;
            opp.status = p.stage(from).unwrap().kind;
            let mut input = to(target);
            input.loss_reason = Some("timing".into());
            let got = mv_as(&who, &mut opp, &p, input).err();
            let want = want.map(MoveError::Policy);
            assert_eq!(got, want, "{from} → {target} as {:?}", who.role);
        }
    }

    #[test]
    fn a_stage_needing_approval_waits_for_it() {
        let mut p = pipeline();
        p.stages[3].gate.requires_approval = true;
        let mut opp = new_opp();
        opp.stage_id = 12;
        assert_eq!(
            mv_as(&actor(), &mut opp, &p, to(13)),
            Err(MoveError::ApprovalRequired { policy_id: None })
        );
        let reasons = reasons();
        let ctx = MoveContext {
            actor: &actor(),
            now: NOW,
            loss_reasons: &reasons,
            tasks_done: &[],
            custom: &BTreeMap::new(),
            custom_labels: &[],
            policies: &[],
            approved: true,
            task_language: Language::En,
            calendar: &crate::calendar::WorkCalendar::china_default(),
        };
        move_to(&mut opp, &p, to(13), &ctx).unwrap();
        assert_eq!(opp.stage_id, 13);
    }

    #[test]
    fn changing_pipeline_maps_the_stage_and_keeps_known_keys() {
        let mut opp = new_opp();
        opp.checklist = vec!["need_confirmed".into()];
        let tender = process::build_pipeline(&process::tender_template(), 2, 20);
        let events = change_pipeline(&mut opp, &tender, 22, &manager(), NOW).unwrap();
        assert_eq!(events[0].kind, EventKind::PipelineChanged);
        assert_eq!(
            events[0].new_value,
            Some(json!({"pipeline_id": 2, "stage_id": 22}))
        );
        assert_eq!(
            (opp.pipeline_id, opp.stage_id, opp.probability),
            (2, 22, 35)
        );
        assert!(opp.checklist.is_empty());
        assert_eq!(
            change_pipeline(&mut opp, &tender, 99, &manager(), NOW),
            Err(MoveError::UnknownStage(99))
        );
    }
}
