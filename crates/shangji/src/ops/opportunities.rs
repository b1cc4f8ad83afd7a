//! Opportunities: every change goes through the core and writes its events — create, update,
//! stage moves with their gates and approvals, pipeline changes, the history.

use shangji_core::custom_fields::CustomChange;
use shangji_core::model::*;
use shangji_core::opportunity::{self, MoveContext, MoveInput, OpportunityEvent, OpportunityInput};
use shangji_core::records::AccountInput;
use shangji_core::visibility::Actor;
use shangji_core::{Field, FieldError, MoveError};
use shangji_store::{Db, Save};

use super::*;

// ---- Opportunities: every change goes through the core and writes its events. ----

/// What a create or update of a deal is warned about without being refused (a close date
/// far from today, by the request's clock): the API answers it beside the deal, the pages
/// ask to confirm it before saving.
pub fn input_warnings(ctx: &Ctx, input: &OpportunityInput) -> Vec<opportunity::Warning> {
    opportunity::input_warnings(input, shangji_core::calendar::china_date(ctx.now))
}

pub(crate) fn pipeline_for(ctx: &Ctx, id: Option<PipelineId>) -> Result<&Pipeline, AppError> {
    let found = match id {
        Some(id) => ctx.dir.pipeline(id).filter(|p| !p.archived),
        None => ctx
            .dir
            .pipelines
            .iter()
            .find(|p| p.is_default && !p.archived),
    };
    found.ok_or_else(|| match id {
        Some(id) => AppError::invalid(
            "pipeline_id",
            "unknown_pipeline",
            format!("pipeline {id} does not exist"),
        ),
        None => AppError::Internal("no default pipeline".into()),
    })
}

/// Creates a deal together with its new customer (the board's quick create): the deal is
/// checked first — its fields, pipeline and custom values — so that a refused deal leaves no
/// customer behind; the customer then goes through the rules of any account (duplicates
/// included), and the deal is created on it.
pub async fn create_opportunity_with_account(
    db: &Db,
    ctx: &Ctx,
    account: AccountInput,
    input: OpportunityInput,
) -> Result<Created<Opportunity>, AppError> {
    let pipeline_id = match input.pipeline_id {
        Field::Value(id) => Some(id),
        _ => None,
    };
    let pipeline = pipeline_for(ctx, pipeline_id)?;
    let mut probe = input.clone();
    probe.account_id = Field::Value(0);
    let custom = probe.custom.take();
    let (mut opp, _) = opportunity::create(probe, pipeline, &ctx.actor, ctx.now)?;
    apply_custom(db, ctx, &mut opp, custom, true).await?;
    check_created_stage(db, ctx, &opp, pipeline).await?;
    let created = super::records::create::<Account>(db, ctx, account, None).await?;
    let input = OpportunityInput {
        account_id: Field::Value(created.record.id),
        ..input
    };
    create_opportunity(db, ctx, input, None).await
}

pub async fn create_opportunity(
    db: &Db,
    ctx: &Ctx,
    input: OpportunityInput,
    idem: Option<Idempotency>,
) -> Result<Created<Opportunity>, AppError> {
    if let Some(i) = &idem {
        if let Some(done) = replay::<Opportunity>(db, ctx, i).await? {
            return Ok(done);
        }
    }
    let pipeline_id = match input.pipeline_id {
        Field::Value(id) => Some(id),
        _ => None,
    };
    let pipeline = pipeline_for(ctx, pipeline_id)?;
    let mut input = input;
    let custom = input.custom.take();
    let (mut opp, mut events) = opportunity::create(input, pipeline, &ctx.actor, ctx.now)?;
    let changes = apply_custom(db, ctx, &mut opp, custom, true).await?;
    opportunity::note_custom_values(&mut events, &opp.custom);
    check_created_stage(db, ctx, &opp, pipeline).await?;
    check_owner(ctx, "owner_id", Some(opp.owner_id), Some(ctx.actor.user_id))?;
    check_links(db, ctx, opp.links()).await?;
    let created = insert(db, ctx, opp, &events, &changes, idem, None).await?;
    if !created.replayed {
        automation::after_opportunity_write(db, ctx, None, &created.record).await;
    }
    Ok(created)
}

/// A new deal in a stage other than the first passes what a move there would, decided by
/// the core (`opportunity::check_created_stage`); where that move would wait for an approval
/// it is refused — the deal is created in an earlier stage and moved.
async fn check_created_stage(
    db: &Db,
    ctx: &Ctx,
    opp: &Opportunity,
    pipeline: &Pipeline,
) -> Result<(), AppError> {
    if pipeline.first_open_stage().map(|s| s.id) == Some(opp.stage_id) {
        return Ok(());
    }
    let labels = custom_labels(ctx);
    let calendar = super::facts::calendar(db).await?;
    let mctx = MoveContext {
        actor: &ctx.actor,
        now: ctx.now,
        loss_reasons: &ctx.dir.loss_reasons,
        tasks_done: &[],
        custom: &opp.custom,
        custom_labels: &labels,
        policies: &ctx.dir.approval_policies,
        approved: false,
        task_language: ctx.lang,
        calendar: &calendar,
    };
    opportunity::check_created_stage(opp, pipeline, &mctx).map_err(|e| match e {
        MoveError::ApprovalRequired { .. } => AppError::invalid(
            "stage_id",
            "approval_required",
            "entering this stage needs an approval: create the opportunity in an earlier stage and move it",
        ),
        e => AppError::from_move(e, ctx.lang),
    })
}

/// Changes an opportunity; without a version the change takes its turn ([`in_turn`]).
pub async fn update_opportunity(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: OpportunityInput,
) -> Result<Opportunity, AppError> {
    in_turn(input.version, || update_once(db, ctx, id, input.clone())).await
}

async fn update_once(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: OpportunityInput,
) -> Result<Opportunity, AppError> {
    let mut opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let ctx = &ctx.not_before(opp.updated_at);
    let before = opp.clone();
    let pipeline = pipeline_for(ctx, Some(opp.pipeline_id))?;
    let mut input = input;
    let custom = input.custom.take();
    let mut events = opportunity::apply(&mut opp, input, pipeline, &ctx.actor, ctx.now)?;
    let changes = apply_custom(db, ctx, &mut opp, custom, false).await?;
    events.extend(opportunity::custom_field_events(
        &changes, &ctx.actor, ctx.now,
    ));
    if !changes.is_empty() {
        opp.updated_at = ctx.now;
    }
    check_changed_refs(db, ctx, &before, &opp).await?;
    if opp == before {
        return Ok(before);
    }
    db.save_with_custom(
        &opp,
        Save::Update {
            expected_version: before.version,
        },
        &events,
        &changes,
    )
    .await?;
    let saved = opp.stored(id, before.version + 1);
    automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    Ok(saved)
}

/// Moves an opportunity to a stage; without a version the move takes its turn
/// ([`in_turn`]).
pub async fn move_opportunity(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: MoveInput,
) -> Result<Opportunity, AppError> {
    in_turn(input.version, || move_once(db, ctx, id, input.clone())).await
}

async fn move_once(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: MoveInput,
) -> Result<Opportunity, AppError> {
    let mut opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let ctx = &ctx.not_before(opp.updated_at);
    let before = opp.clone();
    let (moved, custom) =
        match run_move(db, ctx, &ctx.actor, &mut opp, input.clone(), false).await? {
            Ok(done) => done,
            Err(MoveError::ApprovalRequired { policy_id }) => {
                let req = request_approval(db, ctx, &before, input, policy_id).await?;
                return Err(AppError::AwaitingApproval(Box::new(req)));
            }
            Err(e) => return Err(AppError::from_move(e, ctx.lang)),
        };
    check_changed_refs(db, ctx, &before, &opp).await?;
    db.save_move(&opp, before.version, &moved.events, &moved.tasks, &custom)
        .await
        .map_err(approval_pending)?;
    let saved = opp.stored(id, before.version + 1);
    automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    Ok(saved)
}

/// A stage move of `opp` by `actor`, decided by the core: the custom values sent with it are
/// applied first, so that gates and approval policies see them. On success `opp` holds the
/// new state; returns the move (its events include the custom changes) and the custom
/// changes to store. A refused move is the inner error.
pub(crate) async fn run_move(
    db: &Db,
    ctx: &Ctx,
    actor: &Actor,
    opp: &mut Opportunity,
    mut input: MoveInput,
    approved: bool,
) -> Result<Result<(opportunity::Moved, Vec<CustomChange>), MoveError>, AppError> {
    let pipeline = pipeline_for(ctx, Some(opp.pipeline_id))?;
    // Actions done through their tasks count only where leaving the stage needs them.
    let leaving_needs_actions = pipeline
        .stage(opp.stage_id)
        .is_some_and(|s| s.actions.iter().any(|a| a.required_to_leave));
    let tasks_done = if leaving_needs_actions {
        db.actions_done_by_tasks(opp.id).await?
    } else {
        vec![]
    };
    let mut next = opp.clone();
    let custom_input = input.set.as_mut().and_then(|s| s.custom.take());
    let changes = apply_custom(db, ctx, &mut next, custom_input, false)
        .await
        .map_err(|e| match e {
            AppError::Invalid(f) => AppError::Invalid(FieldError {
                field: format!("set.{}", f.field),
                ..f
            }),
            other => other,
        })?;
    let labels = custom_labels(ctx);
    let custom = next.custom.clone();
    let calendar = super::facts::calendar(db).await?;
    let mctx = MoveContext {
        actor,
        now: ctx.now,
        loss_reasons: &ctx.dir.loss_reasons,
        tasks_done: &tasks_done,
        custom: &custom,
        custom_labels: &labels,
        policies: &ctx.dir.approval_policies,
        approved,
        task_language: ctx.lang,
        calendar: &calendar,
    };
    let mut moved = match opportunity::move_to(&mut next, pipeline, input, &mctx) {
        Ok(moved) => moved,
        Err(e) => return Ok(Err(e)),
    };
    let mut events = opportunity::custom_field_events(&changes, actor, ctx.now);
    events.append(&mut moved.events);
    moved.events = events;
    *opp = next;
    Ok(Ok((moved, changes)))
}

/// The opportunity custom fields a gate can name: (key, 中文, English), archived ones out.
pub(crate) fn custom_labels(ctx: &Ctx) -> Vec<(String, String, String)> {
    ctx.dir
        .custom_fields_of(RecordKind::Opportunity)
        .filter(|f| !f.archived)
        .map(|f| (f.key.clone(), f.label_zh.clone(), f.label_en.clone()))
        .collect()
}

/// What an update or a move changed in an opportunity's owner and links, checked: the new
/// owner must be assignable by the actor, newly linked records readable.
pub(crate) async fn check_changed_refs(
    db: &Db,
    ctx: &Ctx,
    before: &Opportunity,
    opp: &Opportunity,
) -> Result<(), AppError> {
    check_owner(ctx, "owner_id", Some(opp.owner_id), Some(before.owner_id))?;
    let links: Vec<_> = opp
        .links()
        .into_iter()
        .filter(|l| !before.links().contains(l))
        .collect();
    check_links(db, ctx, links).await
}

/// Moves an opportunity into another pipeline at the mapped stage (managers and up: it
/// passes no gates). Recorded as a `pipeline_changed` event.
pub async fn change_pipeline(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: ChangePipelineInput,
) -> Result<Opportunity, AppError> {
    if ctx.actor.role == Role::Rep {
        return Err(AppError::Forbidden("managers_only"));
    }
    let mut opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let expected_version = opp.version;
    let before = opp.clone();
    let to = pipeline_for(ctx, Some(input.pipeline_id))?;
    let events = opportunity::change_pipeline(&mut opp, to, input.stage_id, &ctx.actor, ctx.now)
        .map_err(|e| AppError::from_move(e, ctx.lang))?;
    db.save(&opp, Save::Update { expected_version }, &events)
        .await?;
    let saved = opp.stored(id, expected_version + 1);
    automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    Ok(saved)
}

/// The body of a pipeline change.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePipelineInput {
    pub pipeline_id: PipelineId,
    pub stage_id: StageId,
    #[serde(default)]
    pub version: Option<i64>,
}

pub async fn opportunity_events(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<OpportunityEvent>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    Ok(db.events(id).await?)
}

// ---- For the opportunity page. ----

/// The standard actions of an opportunity that count as done: those confirmed on it and those
/// whose tasks are done. `opp` is a record the caller read within their scope.
pub async fn actions_done(db: &Db, opp: &Opportunity) -> Result<Vec<String>, AppError> {
    let mut done = opp.actions_done.clone();
    done.extend(db.actions_done_by_tasks(opp.id).await?);
    done.sort();
    done.dedup();
    Ok(done)
}
