//! A follow-up logged on an opportunity: the activity, the next step's task and the deal's
//! next step in one transaction, honouring an idempotency key.

use serde::Serialize;
use shangji_core::calendar::china_date;
use shangji_core::follow_up::{self, FollowUpInput};
use shangji_core::model::*;
use shangji_core::opportunity::{self as core_opp, OpportunityInput};
use shangji_core::visibility::Scope;
use shangji_core::Field;
use shangji_store::{Access, Db, IdemKey, StoreError};
use utoipa::ToSchema;

use super::{check_links, check_version, for_update, get, pipeline_for};
use crate::error::AppError;
use crate::ops::{Ctx, Idempotency};
/// What a follow-up wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUp {
    pub activity: Activity,
    /// The task of the next step, when one was given.
    pub task: Option<Task>,
    /// The opportunity (with its new next step).
    pub opportunity: Opportunity,
    /// Answered to a retry with the same idempotency key (not in the body).
    #[serde(skip)]
    pub replayed: bool,
}

/// The resource an idempotency key of a follow-up is kept for.
const FOLLOW_UPS: &str = "follow_ups";

/// The follow-up an idempotency key was first used for, as it was written (the opportunity
/// as it is now); a key used for another request is refused.
async fn replay_follow_up(
    db: &Db,
    ctx: &Ctx,
    idem: &Idempotency,
) -> Result<Option<FollowUp>, AppError> {
    let Some(first) = db.idempotency(ctx.actor.user_id, &idem.key).await? else {
        return Ok(None);
    };
    if first.resource != FOLLOW_UPS || first.request_hash != idem.request_hash {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        ));
    }
    let activity = get::<Activity>(db, ctx, first.record_id).await?;
    let task_key = format!("{}{}", idem.key, shangji_store::FOLLOW_UP_TASK_KEY);
    let task = match db.idempotency(ctx.actor.user_id, &task_key).await? {
        Some(t) => {
            db.get::<Task>(t.record_id, &Scope::All, Access::Read)
                .await?
        }
        None => None,
    };
    let opp_id = activity.opportunity_id.ok_or(AppError::NotFound)?;
    let opportunity = get::<Opportunity>(db, ctx, opp_id).await?;
    Ok(Some(FollowUp {
        activity,
        task,
        opportunity,
        replayed: true,
    }))
}

/// Logs a follow-up on an opportunity: the activity, the task of the next step (for the
/// owner) and the opportunity's next step, in one transaction. Refused as a whole when any
/// part is wrong. A retry with the same idempotency key answers the first follow-up.
pub async fn log_follow_up(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: FollowUpInput,
    idem: Option<Idempotency>,
) -> Result<FollowUp, AppError> {
    if let Some(i) = &idem {
        if let Some(done) = replay_follow_up(db, ctx, i).await? {
            return Ok(done);
        }
    }
    let opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let plan = follow_up::plan(&opp, input, ctx.actor.user_id, ctx.now, china_date(ctx.now))?;
    check_links(db, ctx, super::Resource::links(&plan.activity)).await?;
    let mut next = opp.clone();
    let mut events = Vec::new();
    if let Some((step, date)) = &plan.next_step {
        let pipeline = pipeline_for(ctx, Some(opp.pipeline_id))?;
        let input = OpportunityInput {
            next_step: Field::Value(step.clone()),
            next_step_date: Field::Value(*date),
            ..Default::default()
        };
        events = core_opp::apply(&mut next, input, pipeline, &ctx.actor, ctx.now)?;
    }
    let changed = next != opp;
    let key = idem.as_ref().map(|i| IdemKey {
        user_id: ctx.actor.user_id,
        key: i.key.clone(),
        resource: FOLLOW_UPS,
        request_hash: i.request_hash.clone(),
        at: ctx.now,
    });
    let saved = db
        .save_follow_up(
            &plan.activity,
            plan.task.as_ref(),
            changed.then_some((&next, opp.version)),
            &events,
            key.as_ref(),
        )
        .await;
    let ids = match (saved, idem) {
        (Ok(ids), _) => ids,
        // A concurrent retry won the race for the key: its follow-up.
        (Err(StoreError::Duplicate(_)), Some(i)) => {
            return replay_follow_up(db, ctx, &i)
                .await?
                .ok_or(AppError::Internal("idempotency race".into()))
        }
        (Err(e), _) => return Err(e.into()),
    };
    let version = if changed {
        opp.version + 1
    } else {
        opp.version
    };
    Ok(FollowUp {
        activity: Activity {
            id: ids.activity_id,
            ..plan.activity
        },
        task: plan.task.zip(ids.task_id).map(|(t, id)| Task { id, ..t }),
        opportunity: Opportunity { version, ..next },
        replayed: false,
    })
}
