//! The public pool (公海) of leads and accounts: what waits in it for the caller (their
//! regions only: `visibility::PoolRegions`, in the store's one scope translation),
//! claiming within the daily limit of each kind, giving back, handing over by hand or — for
//! leads — by the lead assignment rules, routing a new lead that came in without an owner,
//! and the lead SLA (creation to first meaningful follow-up).
//!
//! Each owner change is `assignment::take` / `give_back` of the core, saved with its event
//! in one transaction (`Db::save_owner`); the lead's or account's event rules run after it.

use serde::Serialize;
use serde_json::Value;
use shangji_core::assignment::{self, check_claim, AssignHow, Pooled, RepStats, SlaSummary};
use shangji_core::model::*;
use shangji_core::rules::{RecordType, Subject};
use shangji_core::visibility::{pool, Scope};
use shangji_store::Access;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use super::{
    active_user, decided, deciding_rule, rule_outcome, rules_of, settings, sla_period, AssignInput,
    Decision, ReleaseInput,
};
use crate::error::AppError;
use crate::ops::facts::{calendar, facts_config, lead_facts_of};
use crate::ops::{check_version, for_update, Ctx, Resource};
use shangji_store::Db;

/// Pool records a page lists.
pub const POOL_PAGE: i64 = 50;

/// A lead or an account: a record that waits in the pool without an owner.
pub trait PoolRecord: Resource + Pooled + Clone + Serialize + Send + Sync {
    /// What lists call it.
    fn label(&self) -> String;
    fn source(&self) -> Option<Source>;
    /// The lead score and grade (leads only).
    fn scored(&self) -> (Option<i32>, Option<LeadGrade>) {
        (None, None)
    }
}

impl PoolRecord for Lead {
    fn label(&self) -> String {
        self.company_name
            .clone()
            .or_else(|| self.contact_name.clone())
            .unwrap_or_else(|| format!("#{}", self.id))
    }
    fn source(&self) -> Option<Source> {
        self.source
    }
    fn scored(&self) -> (Option<i32>, Option<LeadGrade>) {
        (self.score, self.grade)
    }
}

impl PoolRecord for Account {
    fn label(&self) -> String {
        self.name.clone()
    }
    fn source(&self) -> Option<Source> {
        self.source
    }
}

/// A lead or an account waiting in the pool.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolEntry {
    pub id: i64,
    pub name: String,
    pub region: Option<String>,
    pub source: Option<Source>,
    pub score: Option<i32>,
    pub grade: Option<LeadGrade>,
    #[serde(with = "time::serde::rfc3339")]
    pub pool_since: OffsetDateTime,
    /// Minutes it has waited.
    pub waited_minutes: i64,
}

/// The pool of one kind as the caller sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordPoolView {
    pub record_kind: RecordKind,
    /// Longest waiting first: page `page` (from 1) of [`POOL_PAGE`].
    pub items: Vec<PoolEntry>,
    pub page: i64,
    /// How many wait in the caller's sight.
    pub total: i64,
    /// The caller may claim (by role), how many they claimed today, the daily limit and
    /// how many more they may claim today.
    pub may_claim: bool,
    pub claimed_today: u32,
    pub claim_limit: u32,
    pub claims_left: u32,
    /// The caller may hand pool records over (managers; leads also by the rules).
    pub may_assign: bool,
}

/// The owner history of a lead or an account the caller can read, oldest first.
pub async fn history<T: PoolRecord>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
) -> Result<Vec<assignment::OwnershipEvent>, AppError> {
    crate::ops::get::<T>(db, ctx, id).await?;
    Ok(db.ownership_events(T::KIND, id).await?)
}

/// Claims of `kind` the caller made today (local day of the working calendar).
async fn claimed_today(db: &Db, ctx: &Ctx, kind: RecordKind) -> Result<u32, AppError> {
    let cal = calendar(db).await?;
    let midnight = cal.local_midnight(cal.local_date(ctx.now));
    Ok(db
        .claims_of(
            kind,
            ctx.actor.user_id,
            midnight,
            ctx.now + Duration::milliseconds(1),
        )
        .await?)
}

/// The pool of `T` in the caller's sight, page `page` (from 1).
pub async fn record_pool<T: PoolRecord>(
    db: &Db,
    ctx: &Ctx,
    page: i64,
) -> Result<RecordPoolView, AppError> {
    let limit = settings(db).await?.claim_limit(T::KIND);
    let page = page.max(1);
    let (records, total) = db
        .pool_records::<T>(&ctx.scope, POOL_PAGE, (page - 1) * POOL_PAGE)
        .await?;
    let items = records
        .into_iter()
        .filter_map(|r| {
            let since = r.pool_since()?;
            let (score, grade) = r.scored();
            Some(PoolEntry {
                id: r.id(),
                name: r.label(),
                region: r.region().map(str::to_string),
                source: r.source(),
                score,
                grade,
                pool_since: since,
                waited_minutes: (ctx.now - since).whole_minutes().max(0),
            })
        })
        .collect();
    let may_claim = pool::may_claim(ctx.actor.role);
    let claimed = claimed_today(db, ctx, T::KIND).await?;
    Ok(RecordPoolView {
        record_kind: T::KIND,
        items,
        page,
        total,
        may_claim,
        claimed_today: claimed,
        claim_limit: limit,
        claims_left: if may_claim {
            limit.saturating_sub(claimed)
        } else {
            0
        },
        may_assign: pool::may_assign(&ctx.scope, None),
    })
}

/// Saves `rec` (changed from `before`) with its owner event, then runs its event rules.
async fn save<T: PoolRecord>(
    db: &Db,
    ctx: &Ctx,
    before: &T,
    rec: T,
    event: &assignment::OwnershipEvent,
) -> Result<T, AppError> {
    db.save_owner(&rec, before.version(), event).await?;
    let id = before.id();
    let saved = rec.stored(id, before.version() + 1);
    let before = serde_json::to_value(before).ok();
    let after = serde_json::to_value(&saved).unwrap_or_default();
    crate::ops::automation::after_party_write(db, ctx, T::KIND, before.as_ref(), after).await;
    Ok(saved)
}

/// A pool record of `T` in the caller's sight (404 otherwise; not in the pool: 422).
async fn in_pool<T: PoolRecord>(db: &Db, scope: &Scope, id: i64) -> Result<T, AppError> {
    let rec = db
        .get::<T>(id, scope, Access::Read)
        .await?
        .ok_or(AppError::NotFound)?;
    if Pooled::owner(&rec).is_some() {
        return Err(AppError::invalid(
            "owner_id",
            "not_in_pool",
            "the record is not in the public pool",
        ));
    }
    Ok(rec)
}

/// The caller takes a pool lead or account of their regions, within the daily limit.
pub async fn claim_record<T: PoolRecord>(db: &Db, ctx: &Ctx, id: i64) -> Result<T, AppError> {
    if !pool::may_claim(ctx.actor.role) {
        return Err(AppError::Forbidden("may_not_claim"));
    }
    let before = in_pool::<T>(db, &ctx.scope, id).await?;
    let limit = settings(db).await?.claim_limit(T::KIND);
    check_claim(claimed_today(db, ctx, T::KIND).await?, limit).map_err(AppError::Invalid)?;
    let mut rec = before.clone();
    let event = assignment::take(
        &mut rec,
        id,
        ctx.actor.user_id,
        AssignHow::Claim,
        None,
        &ctx.actor,
        ctx.now,
    )
    .map_err(AppError::Invalid)?;
    save(db, ctx, &before, rec, &event).await
}

/// Gives a lead or an account the caller may change back to the pool.
pub async fn release_record<T: PoolRecord>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: ReleaseInput,
) -> Result<T, AppError> {
    let before = for_update::<T>(db, ctx, id).await?;
    check_version(before.version(), input.version)?;
    let mut rec = before.clone();
    let event = assignment::give_back(&mut rec, id, input.reason, &ctx.actor, ctx.now)
        .map_err(AppError::Invalid)?;
    save(db, ctx, &before, rec, &event).await
}

/// What handing a lead or an account over did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordAssignOutcome<T> {
    pub record: T,
    pub decision: Option<Decision>,
}

/// Hands a lead or an account over (managers): to `input.user_id` in their scope, or — a
/// lead — by the lead assignment rules.
pub async fn assign_record<T: PoolRecord>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: AssignInput,
) -> Result<RecordAssignOutcome<T>, AppError> {
    input.check()?;
    if !pool::may_assign(&ctx.scope, input.user_id) {
        return Err(AppError::Forbidden("may_not_assign"));
    }
    let before = for_update::<T>(db, ctx, id).await?;
    check_version(before.version(), input.version)?;
    let (to, how, decision) = match input.user_id {
        Some(user) => (active_user(db, user).await?, AssignHow::Manual, None),
        None if T::KIND != RecordKind::Lead => {
            return Err(AppError::invalid(
                "user_id",
                "required",
                "an account is handed to a user",
            ))
        }
        None => {
            let lead: Lead = serde_json::from_value(
                serde_json::to_value(&before).map_err(|e| AppError::Internal(e.to_string()))?,
            )
            .map_err(|e| AppError::Internal(e.to_string()))?;
            let d = decide_lead(db, ctx, &lead, input.assignment_rule_id).await?;
            (d.user()?, AssignHow::Rule, Some(d))
        }
    };
    let mut rec = before.clone();
    let rule_id = decision.as_ref().and_then(|d| d.rule_id);
    let event = assignment::take(&mut rec, id, to, how, rule_id, &ctx.actor, ctx.now)
        .map_err(AppError::Invalid)?;
    let record = save(db, ctx, &before, rec, &event).await?;
    Ok(RecordAssignOutcome { record, decision })
}

/// Which lead rule and rep take `lead` now (`rule_id`: that rule, whatever its conditions
/// say). The load the least-loaded method compares is each rep's leads still being worked.
async fn decide_lead(
    db: &Db,
    ctx: &Ctx,
    lead: &Lead,
    rule_id: Option<i64>,
) -> Result<Decision, AppError> {
    let cal = calendar(db).await?;
    let facts = lead_facts_of(db, &ctx.dir, std::slice::from_ref(lead), ctx.now).await?;
    let values = facts[0].values(ctx.now, &cal);
    let rules = rules_of(db, RecordType::Lead).await?;
    let Some((rule, reasons)) = deciding_rule(&rules, RecordType::Lead, rule_id, &values)? else {
        return Ok(Decision::none());
    };
    let members = assignment::members(rule, &ctx.dir.org.teams, &ctx.dir.users);
    let (open_load, last_assigned) = db.open_lead_load(&members).await?;
    let stats = RepStats {
        open_load,
        last_assigned,
        ..Default::default()
    };
    decided(db, ctx, rule, reasons, &stats).await
}

/// A lead that came in without an owner (a form, the API, an import): the first lead
/// assignment rule that matches gives it a rep, else it stays in the pool. As the system,
/// whoever created it. Returns the lead as saved when it was routed.
pub async fn route_new_lead(db: &Db, ctx: &Ctx, id: LeadId) -> Result<Option<Lead>, AppError> {
    let Some(before) = db.get::<Lead>(id, &Scope::All, Access::Read).await? else {
        return Ok(None);
    };
    if before.owner_id.is_some() || before.archived {
        return Ok(None);
    }
    let d = decide_lead(db, ctx, &before, None).await?;
    let Some(to) = d.user_id else {
        return Ok(None);
    };
    let mut lead = before.clone();
    let event = assignment::take(
        &mut lead,
        id,
        to,
        AssignHow::Rule,
        d.rule_id,
        &ctx.actor,
        ctx.now,
    )
    .map_err(AppError::Invalid)?;
    Ok(Some(save(db, ctx, &before, lead, &event).await?))
}

/// The automation rules' `assign` action on a lead, as the system: the outcome for the
/// firing log.
pub(crate) async fn lead_by_rules(
    db: &Db,
    ctx: &Ctx,
    id: LeadId,
    rule_id: Option<i64>,
) -> Result<Value, AppError> {
    let input = AssignInput {
        assignment_rule_id: rule_id,
        ..Default::default()
    };
    rule_outcome(
        assign_record::<Lead>(db, ctx, id, input)
            .await
            .map(|done| (done.record.owner_id, done.decision)),
    )
}

/// The lead SLA over the leads the caller sees that came in from `from` to `to` (managers:
/// their people's and the pool's of their regions): how many got their first meaningful
/// follow-up within `lead_sla_hours`, the median and 90th percentile wait, and those still
/// waiting for one.
pub async fn lead_sla(
    db: &Db,
    ctx: &Ctx,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<SlaSummary, AppError> {
    sla_period(ctx, from, to)?;
    let hours = settings(db).await?.lead_sla_hours;
    let kinds = facts_config(db).await?;
    let rows = db
        .lead_first_follow_ups(&ctx.scope, from, to.min(ctx.now), &kinds.kinds())
        .await?;
    let done: Vec<(OffsetDateTime, OffsetDateTime)> = rows
        .iter()
        .filter_map(|(created, first)| Some((*created, (*first)?)))
        .collect();
    let waiting: Vec<OffsetDateTime> = rows
        .iter()
        .filter(|(_, first)| first.is_none())
        .map(|(created, _)| *created)
        .collect();
    Ok(assignment::sla_summary(&done, &waiting, hours, ctx.now))
}
