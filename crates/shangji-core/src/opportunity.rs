//! Opportunity changes and their history. Every change to an opportunity goes through
//! [`create`], [`apply`] or [`move_to`], and each returns the events that the store writes in
//! the same transaction as the change. Analytics read those events, so nothing that changes a
//! tracked value may bypass these functions.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::custom_fields::CustomChange;
use crate::error::{FieldError, MoveError};
use crate::input::{self, Field};
use crate::model::*;
use crate::money::Money;
use crate::visibility::Actor;

text_enum!(
    /// What happened to an opportunity.
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
        CustomFieldChanged => "custom_field_changed",
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
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityInput {
    #[serde(default)]
    pub title: Field<String>,
    #[serde(default)]
    pub account_id: Field<AccountId>,
    #[serde(default)]
    pub primary_contact_id: Field<ContactId>,
    #[serde(default)]
    pub pipeline_id: Field<PipelineId>,
    #[serde(default)]
    pub stage_id: Field<StageId>,
    /// Integer minor units (fen).
    #[serde(default)]
    pub amount_minor: Field<i64>,
    #[serde(default)]
    pub currency: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub close_date: Field<Date>,
    /// Percent; `null` returns to the stage's default.
    #[serde(default)]
    pub probability: Field<i32>,
    #[serde(default)]
    pub forecast_category: Field<ForecastCategory>,
    #[serde(default)]
    pub grade: Field<Grade>,
    #[serde(default)]
    pub source: Field<Source>,
    #[serde(default)]
    pub owner_id: Field<UserId>,
    #[serde(default)]
    pub next_step: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub next_step_date: Field<Date>,
    #[serde(default)]
    pub tags: Field<Vec<String>>,
    /// Custom field values by key; `null` clears one. Checked against the field definitions
    /// by `custom_fields::apply_values`, not by `create` / `apply`;
    /// changes are recorded by [`custom_field_events`].
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomValues>,
    #[serde(default)]
    pub archived: Field<bool>,
    #[serde(default)]
    pub version: Option<i64>,
}

/// The body of a stage move.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    pub stage_id: StageId,
    /// Checked against the current version when given.
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub loss_reason: Option<String>,
    #[serde(default)]
    pub loss_note: Option<String>,
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
        custom: CustomValues::new(),
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
        closed_at: (stage.kind != StageKind::Open).then_some(now),
        stage_entered_at: now,
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
    Ok((opp, events))
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
    input.close_date.apply_opt(&mut opp.close_date);
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
    input.next_step_date.apply_opt(&mut opp.next_step_date);
    if let Field::Value(tags) = input.tags {
        opp.tags = input::tags("tags", tags)?;
    } else if matches!(input.tags, Field::Null) {
        opp.tags.clear();
    }
    input
        .archived
        .apply_required(&mut opp.archived, "archived")?;
    Ok(())
}

/// Moves an opportunity to another stage of its pipeline. Won and lost are stages too, so
/// this is the one way to close and to reopen. Probability and forecast category follow the
/// stage unless the probability was overridden.
pub fn move_to(
    opp: &mut Opportunity,
    pipeline: &Pipeline,
    input: &MoveInput,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Vec<NewEvent>, MoveError> {
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
    let from_kind = pipeline
        .stage(opp.stage_id)
        .map_or(StageKind::Open, |s| s.kind);
    let loss_reason = match &input.loss_reason {
        Some(r) => {
            input::text("loss_reason", r.clone(), input::SHORT_TEXT).map_err(MoveError::Invalid)?
        }
        None => None,
    };
    let loss_note = match &input.loss_note {
        Some(r) => {
            input::text("loss_note", r.clone(), input::LONG_TEXT).map_err(MoveError::Invalid)?
        }
        None => None,
    };

    let mut events = vec![NewEvent {
        from_stage_id: Some(opp.stage_id),
        to_stage_id: Some(to.id),
        ..event(EventKind::StageChanged, actor, now)
    }];
    match (from_kind, to.kind) {
        (_, StageKind::Won) => events.push(event(EventKind::Won, actor, now)),
        (_, StageKind::Lost) => events.push(NewEvent {
            new_value: Some(json!({ "loss_reason": loss_reason, "loss_note": loss_note })),
            ..event(EventKind::Lost, actor, now)
        }),
        (StageKind::Won | StageKind::Lost, StageKind::Open) => {
            events.push(event(EventKind::Reopened, actor, now))
        }
        (StageKind::Open, StageKind::Open) => {}
    }
    if !opp.probability_overridden && opp.probability != to.probability {
        events.push(change(
            EventKind::ProbabilityChanged,
            actor,
            now,
            json!(opp.probability),
            json!(to.probability),
        ));
        opp.probability = to.probability;
    }
    if opp.forecast_category != to.forecast_category {
        events.push(change(
            EventKind::ForecastCategoryChanged,
            actor,
            now,
            json!(opp.forecast_category),
            json!(to.forecast_category),
        ));
        opp.forecast_category = to.forecast_category;
    }
    opp.stage_id = to.id;
    opp.status = to.kind;
    opp.stage_entered_at = now;
    opp.updated_at = now;
    match to.kind {
        StageKind::Open => {
            opp.closed_at = None;
            opp.loss_reason = None;
            opp.loss_note = None;
        }
        StageKind::Won => {
            opp.closed_at = Some(now);
            opp.loss_reason = None;
            opp.loss_note = None;
        }
        StageKind::Lost => {
            opp.closed_at = Some(now);
            opp.loss_reason = loss_reason;
            opp.loss_note = loss_note;
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    fn actor() -> Actor {
        Actor {
            user_id: 7,
            role: Role::Rep,
            team_id: None,
        }
    }

    fn pipeline() -> Pipeline {
        let (name, stages) = default_b2b_pipeline();
        Pipeline {
            id: 1,
            name: name.into(),
            is_default: true,
            archived: false,
            stages: stages
                .into_iter()
                .enumerate()
                .map(|(i, s)| Stage {
                    id: 10 + i as i64,
                    pipeline_id: 1,
                    position: i as i32,
                    name_zh: s.name_zh.into(),
                    name_en: s.name_en.into(),
                    kind: s.kind,
                    probability: s.probability,
                    forecast_category: s.forecast_category,
                    rotting_days: s.rotting_days,
                    guidance: Some(s.guidance.into()),
                    archived: false,
                })
                .collect(),
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
        let mv = |stage_id| MoveInput {
            stage_id,
            ..Default::default()
        };
        let events = move_to(&mut opp, &p, &mv(12), &actor(), NOW).unwrap();
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
            loss_reason: Some("价格".into()),
            ..Default::default()
        };
        let events = move_to(&mut opp, &p, &lost, &actor(), NOW).unwrap();
        assert_eq!(
            kinds(&events)[..2],
            [EventKind::StageChanged, EventKind::Lost]
        );
        assert_eq!((opp.closed_at, opp.status), (Some(NOW), StageKind::Lost));
        assert_eq!(opp.loss_reason.as_deref(), Some("价格"));

        let events = move_to(&mut opp, &p, &mv(13), &actor(), NOW).unwrap();
        assert_eq!(
            kinds(&events)[..2],
            [EventKind::StageChanged, EventKind::Reopened]
        );
        assert_eq!(
            (opp.closed_at, opp.loss_reason.clone(), opp.status),
            (None, None, StageKind::Open)
        );

        let events = move_to(&mut opp, &p, &mv(14), &actor(), NOW).unwrap();
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
        let events = move_to(
            &mut opp,
            &p,
            &MoveInput {
                stage_id: 11,
                ..Default::default()
            },
            &actor(),
            NOW,
        )
        .unwrap();
        assert!(!kinds(&events).contains(&EventKind::ProbabilityChanged));
        assert_eq!(opp.probability, 40);
        apply(&mut opp, body(r#"{"probability":null}"#), &p, &actor(), NOW).unwrap();
        assert_eq!((opp.probability, opp.probability_overridden), (25, false));
    }

    #[test]
    fn refused_moves() {
        let p = pipeline();
        let mut opp = new_opp();
        let mv = |stage_id| MoveInput {
            stage_id,
            ..Default::default()
        };
        assert_eq!(
            move_to(&mut opp, &p, &mv(99), &actor(), NOW),
            Err(MoveError::UnknownStage(99))
        );
        assert_eq!(
            move_to(&mut opp, &p, &mv(10), &actor(), NOW),
            Err(MoveError::SameStage)
        );
        opp.archived = true;
        assert_eq!(
            move_to(&mut opp, &p, &mv(11), &actor(), NOW),
            Err(MoveError::Archived)
        );
    }
}
