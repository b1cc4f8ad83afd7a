//! The funnel review meeting (漏斗回顾会议): what changed in a team's deals since its last
//! review (the sections are decided by `shangji_core::review`), decisions and action items
//! recorded on a deal, and marking a review held so the next one starts there.

use serde::{Deserialize, Serialize};
use serde_json::json;
use shangji_core::analytics;
use shangji_core::model::*;
use shangji_core::opportunity::{EventKind, NewEvent, OpportunityEvent};
use shangji_core::records::{apply_task, blank_task, TaskInput};
use shangji_core::review::{self as core_review, DealNow, HeldReview, Review, ReviewWindow};
use shangji_core::{Field, FieldError, Scope};
use shangji_store::Db;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use super::{check_links, check_owner, for_update, Ctx, Resource};
use crate::error::AppError;

/// The team a review is about and whose deals it shows.
#[derive(Debug, Clone)]
pub struct ReviewTeam {
    pub team_id: TeamId,
    /// The owners whose deals are shown: the team's members, or a rep's own deals.
    pub owners: Vec<UserId>,
    /// A rep sees their own deals only.
    pub own_only: bool,
}

/// The review's team: `team_id` if the actor may see it (a manager's or director's subtree,
/// any team for admins and company directors, a rep's own team), else the actor's team (or,
/// for someone on no team who sees everything, the first team).
pub fn review_team(ctx: &Ctx, team_id: Option<TeamId>) -> Result<ReviewTeam, AppError> {
    let teams = &ctx.dir.org.teams;
    let team = match team_id {
        Some(t) => teams.iter().find(|x| x.id == t).ok_or(AppError::NotFound)?,
        None => {
            let own = ctx
                .actor
                .team_id
                .and_then(|t| teams.iter().find(|x| x.id == t));
            let first = || {
                matches!(ctx.scope, Scope::All)
                    .then(|| teams.iter().filter(|t| !t.archived).min_by_key(|t| t.id))
                    .flatten()
            };
            own.or_else(first).ok_or_else(|| {
                AppError::bad_request("team_id", "no_team", "choose a team (team_id)")
            })?
        }
    };
    let allowed = match &ctx.scope {
        Scope::All => true,
        Scope::Teams { teams, .. } => teams.contains(&team.id),
        Scope::Own { .. } => ctx.actor.team_id == Some(team.id),
    };
    if !allowed {
        return Err(AppError::NotFound);
    }
    let own_only = matches!(ctx.scope, Scope::Own { .. });
    Ok(ReviewTeam {
        team_id: team.id,
        owners: if own_only {
            vec![ctx.actor.user_id]
        } else {
            ctx.dir.org.members(team.id)
        },
        own_only,
    })
}

/// A review's parameters: `team_id`, and `large` — the new-large-deal threshold in yuan
/// (default ¥500,000).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewParams {
    pub team_id: Option<TeamId>,
    pub large_minor: Option<i64>,
}

pub fn review_params(params: &[(String, String)]) -> Result<ReviewParams, AppError> {
    let mut out = ReviewParams::default();
    for (k, v) in params {
        match k.as_str() {
            "team_id" if v.is_empty() => {}
            "team_id" => {
                out.team_id = Some(v.parse().map_err(|_| {
                    AppError::bad_request(k, "invalid_parameter", format!("`{v}` is not an id"))
                })?)
            }
            "large" if v.trim().is_empty() => {}
            "large" => {
                let yuan = shangji_core::history_import::parse_yuan(v.trim()).ok_or_else(|| {
                    AppError::bad_request(
                        k,
                        "invalid_amount",
                        "the large-deal threshold is an amount in yuan, e.g. 500000",
                    )
                })?;
                out.large_minor = Some(yuan);
            }
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown review parameter `{k}`"),
                ))
            }
        }
    }
    Ok(out)
}

/// A deal named in the review, as it is now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewDeal {
    pub id: OpportunityId,
    pub title: String,
    pub owner_id: UserId,
    pub pipeline_id: PipelineId,
    pub stage_id: StageId,
    pub status: StageKind,
    pub amount_minor: i64,
    pub currency: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub close_date: Option<Date>,
    pub probability: i32,
    /// Decisions recorded on it since the last review, oldest first.
    pub decisions: Vec<RecordedDecision>,
}

/// A decision recorded on a deal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordedDecision {
    pub text: String,
    pub by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The review of a team since its last review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewReport {
    pub team_id: TeamId,
    /// A rep's review shows their own deals only.
    pub own_only: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// New deals at least this large (fen) are listed as large.
    pub large_minor: i64,
    pub sections: Review,
    /// Every deal named in a section.
    pub deals: Vec<ReviewDeal>,
    /// The team's past reviews, newest first.
    pub past: Vec<HeldReview>,
    /// Whether the actor may mark the review held (managers, directors, admins).
    pub can_hold: bool,
}

/// How many past reviews a review lists.
const PAST_REVIEWS: i64 = 20;

/// The review of a team: its deals' histories replayed between the last review and now.
pub async fn review(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<ReviewReport, AppError> {
    let p = review_params(params)?;
    let team = review_team(ctx, p.team_id)?;
    let past = db.reviews(team.team_id, PAST_REVIEWS).await?;
    let since = core_review::since(past.first().map(|r| r.held_at), ctx.now);
    let opps = db.review_deals(&ctx.scope, &team.owners, since).await?;
    let ids: Vec<OpportunityId> = opps.iter().map(|o| o.id).collect();
    let events = db.events_of(&ids, i64::MAX).await?;
    let kinds = super::facts::facts_config(db).await?.kinds();
    let follow_ups = db.last_follow_ups(&ids, &kinds, ctx.now).await?;
    let lives = analytics::lives(&events);
    let stage_of = |id: StageId| ctx.dir.pipelines.iter().find_map(|p| p.stage(id));
    let deals: Vec<DealNow> = opps
        .iter()
        .map(|o| DealNow {
            opp: o,
            stage: stage_of(o.stage_id),
            last_follow_up: follow_ups
                .iter()
                .find(|(id, _)| *id == o.id)
                .map(|(_, t)| *t),
        })
        .collect();
    let large_minor = p.large_minor.unwrap_or(core_review::DEFAULT_LARGE_MINOR);
    let calendar = super::facts::calendar(db).await?;
    let window = ReviewWindow {
        since,
        now: ctx.now,
        today: shangji_core::calendar::china_date(ctx.now),
        large_minor,
        no_follow_up_days: shangji_core::alerts::NO_FOLLOW_UP_WORKING_DAYS,
        calendar: &calendar,
    };
    let sections = core_review::review(&lives, &deals, stage_of, &window);
    let named = sections.deal_ids();
    let deals = named
        .iter()
        .filter_map(|id| opps.iter().find(|o| o.id == *id))
        .map(|o| ReviewDeal {
            id: o.id,
            title: o.title.clone(),
            owner_id: o.owner_id,
            pipeline_id: o.pipeline_id,
            stage_id: o.stage_id,
            status: o.status,
            amount_minor: o.amount.amount_minor,
            currency: o.amount.currency.clone(),
            close_date: o.close_date,
            probability: o.probability,
            decisions: decisions_since(&events, o.id, since),
        })
        .collect();
    Ok(ReviewReport {
        team_id: team.team_id,
        own_only: team.own_only,
        since,
        now: ctx.now,
        large_minor,
        sections,
        deals,
        past,
        can_hold: ctx.actor.role != Role::Rep,
    })
}

fn decisions_since(
    events: &[OpportunityEvent],
    id: OpportunityId,
    since: OffsetDateTime,
) -> Vec<RecordedDecision> {
    let mut out: Vec<RecordedDecision> = events
        .iter()
        .filter(|e| e.opportunity_id == id && e.kind == EventKind::ReviewDecision && e.at >= since)
        .map(|e| RecordedDecision {
            text: e
                .new_value
                .as_ref()
                .and_then(|v| v.get("decision"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            by: e.actor_id,
            at: e.at,
        })
        .collect();
    out.sort_by_key(|d| d.at);
    out
}

/// An action item: a task on the deal for `assignee_id` (default: the deal's owner).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItem {
    pub title: String,
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<Date>,
}

/// A decision on a deal and/or its action items (at least one of the two).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub opportunity_id: OpportunityId,
    #[serde(default)]
    pub decision: Option<String>,
    #[serde(default)]
    pub action_items: Vec<ActionItem>,
}

/// What a decision wrote: the `review_decision` event (when a decision was given) and the
/// action items' tasks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionRecorded {
    pub opportunity_id: OpportunityId,
    pub decision: Option<String>,
    pub task_ids: Vec<i64>,
}

/// Records a decision (an event on the deal's history, shown on its timeline) and its action
/// items (tasks on the deal, with the task rules), all or nothing. Anyone who may change the
/// deal may record one.
pub async fn record_decision(
    db: &Db,
    ctx: &Ctx,
    input: DecisionInput,
) -> Result<DecisionRecorded, AppError> {
    let opp = for_update::<Opportunity>(db, ctx, input.opportunity_id).await?;
    let decision = match input.decision.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(core_review::decision_text(t)?),
    };
    if decision.is_none() && input.action_items.is_empty() {
        return Err(AppError::Invalid(FieldError::new(
            "decision",
            "required",
            "write a decision or an action item",
        )));
    }
    let mut tasks = Vec::new();
    for (i, item) in input.action_items.into_iter().enumerate() {
        let at = |f: FieldError| {
            AppError::Invalid(FieldError {
                field: format!("action_items[{i}].{}", f.field),
                ..f
            })
        };
        let mut t = blank_task(opp.owner_id, ctx.now);
        let assignee = item.assignee_id.unwrap_or(opp.owner_id);
        apply_task(
            &mut t,
            TaskInput {
                title: Field::Value(item.title),
                due_date: item.due_date.map_or(Field::Absent, Field::Value),
                assignee_id: Field::Value(assignee),
                record_kind: Field::Value(RecordKind::Opportunity),
                record_id: Field::Value(opp.id),
                ..Default::default()
            },
            true,
            ctx.now,
        )
        .map_err(at)?;
        check_owner(
            ctx,
            &format!("action_items[{i}].assignee_id"),
            Some(assignee),
            Some(opp.owner_id),
        )?;
        check_links(db, ctx, t.links()).await?;
        tasks.push(t);
    }
    let events: Vec<NewEvent> = decision
        .iter()
        .map(|d| NewEvent {
            kind: EventKind::ReviewDecision,
            actor_id: ctx.actor.user_id,
            at: ctx.now,
            from_stage_id: None,
            to_stage_id: None,
            old_value: None,
            new_value: Some(json!({
                "decision": d,
                "action_items": tasks.iter().map(|t| &t.title).collect::<Vec<_>>(),
            })),
        })
        .collect();
    let task_ids = db.save_review_decision(opp.id, &events, &tasks).await?;
    Ok(DecisionRecorded {
        opportunity_id: opp.id,
        decision,
        task_ids,
    })
}

/// Marking a team's review held.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    #[serde(default)]
    pub team_id: Option<TeamId>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Marks a team's review held now (managers, directors, admins): the next review starts here.
pub async fn mark_held(db: &Db, ctx: &Ctx, input: HoldInput) -> Result<HeldReview, AppError> {
    if ctx.actor.role == Role::Rep {
        return Err(AppError::Forbidden("managers_only"));
    }
    let team = review_team(ctx, input.team_id)?;
    let notes = match input.notes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if n.chars().count() > 4000 => {
            return Err(AppError::invalid(
                "notes",
                "too_long",
                "notes have at most 4,000 characters",
            ))
        }
        Some(n) => Some(n.to_string()),
    };
    let last = db.reviews(team.team_id, 1).await?;
    let mut r = HeldReview {
        id: 0,
        team_id: team.team_id,
        since: core_review::since(last.first().map(|r| r.held_at), ctx.now),
        held_at: ctx.now,
        held_by: ctx.actor.user_id,
        notes,
    };
    r.id = db.insert_review(&r).await?;
    Ok(r)
}

/// A team's past reviews, newest first (`team_id` as for the review).
pub async fn reviews(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Vec<HeldReview>, AppError> {
    let p = review_params(params)?;
    let team = review_team(ctx, p.team_id)?;
    Ok(db.reviews(team.team_id, 200).await?)
}
