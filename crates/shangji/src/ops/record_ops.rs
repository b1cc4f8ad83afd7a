//! Operations of the record pages: what a rep (or their manager, for the team) has to do
//! today; a follow-up logged with its next step in one go; the contacts taking part in an
//! opportunity; an account seen whole (360); API tokens managed by an admin.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shangji_core::alerts::{self, Alert, AlertClock};
use shangji_core::calendar::china_date;
use shangji_core::follow_up::{self, FollowUpInput};
use shangji_core::model::*;
use shangji_core::opportunity::{self as core_opp, OpportunityEvent, OpportunityInput};
use shangji_core::{Field, Money, Scope};
use shangji_store::{Access, ApiToken, Db, ListQuery};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use super::{check_links, check_version, for_update, get, pipeline_for, Ctx};
use crate::error::AppError;

/// The most open opportunities the today page weighs (newest changed first).
const TODAY_MAX_OPPORTUNITIES: i64 = 1000;

/// Whose records the today page shows: the actor's own, or everyone in their scope.
fn owners(ctx: &Ctx, team: bool) -> Option<Vec<UserId>> {
    match (&ctx.scope, team) {
        (_, false) | (Scope::Own { .. }, true) => Some(vec![ctx.actor.user_id]),
        (Scope::Teams { members, .. }, true) => Some(members.clone()),
        (Scope::All, true) => None,
    }
}

/// One open opportunity on the today page with what the core says about it.
#[derive(Debug, Clone)]
pub struct TodayDeal {
    pub opportunity: Opportunity,
    pub alerts: Vec<Alert>,
    /// The latest customer-facing follow-up, if any.
    pub last_follow_up: Option<OffsetDateTime>,
    pub next_step_due: bool,
}

/// What needs doing today, for the actor or their team.
#[derive(Debug, Clone)]
pub struct Today {
    /// The team's view (managers and directors).
    pub team: bool,
    pub today: Date,
    /// Tasks not done, due today or before, oldest first.
    pub tasks: Vec<Task>,
    /// Open opportunities, newest changed first.
    pub deals: Vec<TodayDeal>,
    /// How many open opportunities there are (the page weighs at most 1000).
    pub open_total: i64,
    /// The latest events of these deals, newest first.
    pub events: Vec<OpportunityEvent>,
}

pub async fn today(db: &Db, ctx: &Ctx, team: bool) -> Result<Today, AppError> {
    let team = team && ctx.scope.is_manager();
    let owner_ids = owners(ctx, team);
    let today = china_date(ctx.now);
    let tasks = db
        .list::<Task>(
            &ctx.scope,
            &ListQuery {
                eq: vec![("done", false.into())],
                ranges: vec![("due_date", "<=", today.into())],
                owner_ids: owner_ids.clone(),
                sort: "due_date",
                desc: false,
                limit: 200,
                ..Default::default()
            },
        )
        .await?
        .items;
    let mut open = Vec::new();
    let mut open_total = 0;
    while (open.len() as i64) < TODAY_MAX_OPPORTUNITIES {
        let page = db
            .list::<Opportunity>(
                &ctx.scope,
                &ListQuery {
                    eq: vec![("status", StageKind::Open.as_str().into())],
                    owner_ids: owner_ids.clone(),
                    limit: 200,
                    offset: open.len() as i64,
                    ..Default::default()
                },
            )
            .await?;
        open_total = page.total;
        let done = page.items.is_empty();
        open.extend(page.items);
        if done || open.len() as i64 >= page.total {
            break;
        }
    }
    let ids: Vec<OpportunityId> = open.iter().map(|o| o.id).collect();
    let kinds = super::automation::facts_config(db).await?;
    let last: HashMap<OpportunityId, OffsetDateTime> = db
        .last_follow_ups(&ids, &kinds.kinds(), ctx.now)
        .await?
        .into_iter()
        .collect();
    let clock = AlertClock {
        now: ctx.now,
        today,
        no_follow_up_days: alerts::NO_FOLLOW_UP_DAYS,
    };
    let deals = open
        .into_iter()
        .map(|o| {
            let stage = ctx
                .dir
                .pipeline(o.pipeline_id)
                .and_then(|p| p.stage(o.stage_id));
            let last_follow_up = last.get(&o.id).copied();
            TodayDeal {
                alerts: alerts::opportunity_alerts(&o, stage, last_follow_up, &clock),
                next_step_due: alerts::next_step_due(&o, today),
                last_follow_up,
                opportunity: o,
            }
        })
        .collect();
    let events = db
        .recent_events(&ctx.scope, owner_ids.as_deref(), 20)
        .await?;
    Ok(Today {
        team,
        today,
        tasks,
        deals,
        open_total,
        events,
    })
}

/// What a follow-up wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUp {
    pub activity: Activity,
    /// The task of the next step, when one was given.
    pub task: Option<Task>,
    /// The opportunity (with its new next step).
    pub opportunity: Opportunity,
}

/// Logs a follow-up on an opportunity: the activity, the task of the next step (for the
/// owner) and the opportunity's next step, in one transaction. Refused as a whole when any
/// part is wrong.
pub async fn log_follow_up(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: FollowUpInput,
) -> Result<FollowUp, AppError> {
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
    let ids = db
        .save_follow_up(
            &plan.activity,
            plan.task.as_ref(),
            changed.then_some((&next, opp.version)),
            &events,
        )
        .await?;
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
    })
}

/// A contact taking part in an opportunity, with the role they play in this purchase.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityContact {
    pub contact: Contact,
    pub buying_role: Option<BuyingRole>,
}

/// The body of linking a contact to an opportunity.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactLinkInput {
    pub contact_id: ContactId,
    #[serde(default)]
    pub buying_role: Option<BuyingRole>,
}

/// The contacts of an opportunity the caller can read.
pub async fn opportunity_contacts(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<OpportunityContact>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    let mut out = Vec::new();
    for (contact_id, buying_role) in db.opportunity_contacts(id).await? {
        if let Some(contact) = db
            .get::<Contact>(contact_id, &ctx.scope, Access::Read)
            .await?
        {
            out.push(OpportunityContact {
                contact,
                buying_role,
            });
        }
    }
    Ok(out)
}

/// Links a contact of the opportunity's account to it with a buying role (or changes the
/// role). Whoever may change the opportunity may do this.
pub async fn link_contact(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: ContactLinkInput,
) -> Result<Vec<OpportunityContact>, AppError> {
    let opp = for_update::<Opportunity>(db, ctx, id).await?;
    let contact = db
        .get::<Contact>(input.contact_id, &ctx.scope, Access::Read)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "contact_id",
                "unknown_reference",
                format!("contact_id {} does not exist", input.contact_id),
            )
        })?;
    if contact.account_id != Some(opp.account_id) || contact.archived {
        return Err(AppError::invalid(
            "contact_id",
            "other_account",
            "the contact must be a current contact of the opportunity's account",
        ));
    }
    db.link_contact(id, contact.id, input.buying_role, ctx.now)
        .await?;
    opportunity_contacts(db, ctx, id).await
}

pub async fn unlink_contact(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    contact_id: ContactId,
) -> Result<(), AppError> {
    for_update::<Opportunity>(db, ctx, id).await?;
    if !db.unlink_contact(id, contact_id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The open tasks of an opportunity and the ones done lately, open first by due date.
pub async fn opportunity_tasks(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<Task>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    let q = ListQuery {
        eq: vec![
            ("record_kind", RecordKind::Opportunity.as_str().into()),
            ("record_id", id.into()),
        ],
        sort: "due_date",
        desc: false,
        limit: 100,
        ..Default::default()
    };
    // Tasks of a deal are the deal's: whoever reads the deal sees them.
    let mut tasks = db.list::<Task>(&Scope::All, &q).await?.items;
    tasks.sort_by_key(|t| (t.done, t.due_date.is_none(), t.due_date));
    Ok(tasks)
}

/// Marks a task done (or not done again): an ordinary task update, with its version.
pub async fn set_task_done(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    done: bool,
    version: Option<i64>,
) -> Result<Task, AppError> {
    super::update::<Task>(
        db,
        ctx,
        id,
        shangji_core::records::TaskInput {
            done: Field::Value(done),
            version,
            ..Default::default()
        },
    )
    .await
}

/// An opportunity's follow-ups, newest first.
pub async fn opportunity_activities(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<Activity>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    // The deal's follow-ups are readable with the deal.
    Ok(db.activities_about(&Scope::All, None, &[id], 200).await?)
}

/// Counts and amounts of an account's opportunities of one kind (open, won, lost); amounts
/// by currency, never mixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTotal {
    pub kind: StageKind,
    pub count: usize,
    pub amounts: Vec<Money>,
}

/// An account seen whole: its facts, contacts, opportunities, follow-ups and history.
#[derive(Debug, Clone)]
pub struct Account360 {
    pub account: Account,
    pub contacts: Vec<Contact>,
    /// Every opportunity on the account the caller can read, newest changed first.
    pub opportunities: Vec<Opportunity>,
    pub totals: Vec<KindTotal>,
    /// The latest customer-facing follow-up on the account or its opportunities.
    pub last_follow_up: Option<Activity>,
    /// Follow-ups, newest first.
    pub activities: Vec<Activity>,
    /// Events of its opportunities, newest first.
    pub events: Vec<OpportunityEvent>,
}

/// Open, won and lost totals of some opportunities (archived ones left out).
pub fn kind_totals(opps: &[Opportunity]) -> Vec<KindTotal> {
    [StageKind::Open, StageKind::Won, StageKind::Lost]
        .into_iter()
        .map(|kind| {
            let mut amounts: Vec<Money> = Vec::new();
            let mut count = 0;
            for o in opps.iter().filter(|o| o.status == kind && !o.archived) {
                count += 1;
                match amounts.iter_mut().find(|m| m.currency == o.amount.currency) {
                    Some(m) => m.amount_minor += o.amount.amount_minor,
                    None => amounts.push(o.amount.clone()),
                }
            }
            if amounts.is_empty() {
                amounts.push(Money::cny(0));
            }
            KindTotal {
                kind,
                count,
                amounts,
            }
        })
        .collect()
}

pub async fn account_360(db: &Db, ctx: &Ctx, id: AccountId) -> Result<Account360, AppError> {
    let account = get::<Account>(db, ctx, id).await?;
    let by_account = |limit| ListQuery {
        eq: vec![("account_id", id.into())],
        limit,
        ..Default::default()
    };
    let contacts = db
        .list::<Contact>(&ctx.scope, &by_account(200))
        .await?
        .items;
    let opportunities = db
        .list::<Opportunity>(&ctx.scope, &by_account(200))
        .await?
        .items;
    let ids: Vec<OpportunityId> = opportunities.iter().map(|o| o.id).collect();
    let activities = db.activities_about(&ctx.scope, Some(id), &ids, 200).await?;
    let events = db.events_of(&ids, 200).await?;
    let config = super::automation::facts_config(db).await?;
    let meaningful = |a: &Activity| !a.archived && config.meaningful.contains(&a.kind);
    let mut last_follow_up = activities.iter().find(|a| meaningful(a)).cloned();
    // A follow-up older than the ones listed can still be the latest meaningful one.
    if last_follow_up.is_none() {
        let latest = db
            .last_follow_ups(&ids, &config.kinds(), ctx.now)
            .await?
            .into_iter()
            .map(|(_, t)| t)
            .max();
        if let Some(at) = latest {
            last_follow_up = db
                .activities_about(&ctx.scope, None, &ids, 1000)
                .await?
                .into_iter()
                .find(|a| meaningful(a) && a.occurred_at == at);
        }
    }
    Ok(Account360 {
        totals: kind_totals(&opportunities),
        account,
        contacts,
        opportunities,
        last_follow_up,
        activities,
        events,
    })
}

// ---- API tokens, managed by an admin for anyone. ----

/// Every user with their API tokens (admins).
pub async fn all_tokens(db: &Db, ctx: &Ctx) -> Result<Vec<(User, Vec<ApiToken>)>, AppError> {
    ctx.require_admin()?;
    let mut out = Vec::new();
    for u in db.users().await? {
        let tokens = db.tokens(u.id).await?;
        out.push((u, tokens));
    }
    Ok(out)
}

/// A new API token for a user (admins): the secret is returned once.
pub async fn create_token_for(
    db: &Db,
    ctx: &Ctx,
    user_id: UserId,
    name: &str,
) -> Result<(String, i64), AppError> {
    ctx.require_admin()?;
    match db.user(user_id).await? {
        Some(u) if u.active => super::create_token(db, user_id, name, ctx.now).await,
        _ => Err(AppError::invalid(
            "user_id",
            "unknown_user",
            format!("user {user_id} does not exist or is inactive"),
        )),
    }
}

/// Revokes a user's token (admins).
pub async fn revoke_token_of(
    db: &Db,
    ctx: &Ctx,
    user_id: UserId,
    token_id: i64,
) -> Result<(), AppError> {
    ctx.require_admin()?;
    Ok(db.revoke_token(user_id, token_id, ctx.now).await?)
}
