//! Assignment in the application: the ordered assignment rules (admin), the public pool
//! (公海) — what waits in it, claiming within the daily limit, returning to it — handing an
//! opportunity over by the rules or by hand, and the assignment SLA.
//!
//! Who may do what is `visibility::pool`; which rule and which rep is
//! `shangji_core::assignment`; the pool's state changes and their events are
//! `opportunity::assign` / `opportunity::release`. The automation rules' `assign` and
//! `return_to_pool` actions come through [`by_rules`] and [`release`] like the API and the
//! pages do.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shangji_core::assignment::{
    self, check_claim, AssignHow, AssignmentRule, AssignmentRuleInput, Pick, PoolSettings,
    RepStats, Skipped, SlaSummary,
};
use shangji_core::model::*;
use shangji_core::opportunity;
use shangji_core::rules::{derive, Reason, RecordType};
use shangji_core::visibility::pool;
use shangji_store::{Access, Db, Save};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use super::facts::{calendar, catalog, facts_of};
use super::{Ctx, Resource};
use crate::error::AppError;

mod parties;
pub use parties::*;

/// The settings key of the pool's settings (JSON of [`PoolSettings`]).
pub const POOL_KEY: &str = "pool_settings";
/// How far back the history is read for a rule's turns.
const TURN_WINDOW_DAYS: i64 = 180;

/// An assignment rule with what the store adds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentRuleView {
    #[serde(flatten)]
    pub rule: AssignmentRule,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An opportunity waiting in the pool.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolItem {
    pub id: OpportunityId,
    pub title: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub stage_id: StageId,
    pub amount: shangji_core::money::Money,
    pub source: Option<Source>,
    /// Whoever had it last (or put it there).
    pub last_owner_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub pool_since: OffsetDateTime,
    /// Minutes it has waited.
    pub waited_minutes: i64,
    /// It has waited longer than the assignment SLA.
    pub past_sla: bool,
}

/// The pool as one user sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolView {
    pub items: Vec<PoolItem>,
    pub settings: PoolSettings,
    /// The caller may claim (by role), and how many more today.
    pub may_claim: bool,
    pub claimed_today: u32,
    pub claims_left: u32,
    /// The caller may hand pool opportunities over.
    pub may_assign: bool,
}

/// What `POST /opportunities/{id}/assign` takes: a user, or the rules (one named rule, or
/// the first that matches).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub assignment_rule_id: Option<i64>,
    #[serde(default)]
    pub version: Option<i64>,
}

impl AssignInput {
    /// A user or an assignment rule, not both.
    fn check(&self) -> Result<(), AppError> {
        if self.user_id.is_some() && self.assignment_rule_id.is_some() {
            return Err(AppError::invalid(
                "user_id",
                "one_of",
                "give a user or an assignment rule, not both",
            ));
        }
        Ok(())
    }
}

/// `user`, when they are an active user (someone to hand a record to).
async fn active_user(db: &Db, user: UserId) -> Result<UserId, AppError> {
    if db.users().await?.iter().any(|u| u.id == user && u.active) {
        Ok(user)
    } else {
        Err(AppError::invalid(
            "user_id",
            "unknown_user",
            format!("there is no active user {user}"),
        ))
    }
}

/// What `POST /opportunities/{id}/release` takes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInput {
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Which rule and which rep the rules choose for an opportunity now, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Decision {
    /// The rule that applies (`None`: no rule matches).
    pub rule_id: Option<i64>,
    pub rule_name: Option<String>,
    /// The comparisons that made the rule match.
    pub reasons: Vec<Reason>,
    /// Who gets it (`None`: nobody can — see `skipped`).
    pub user_id: Option<UserId>,
    pub skipped: Vec<Skipped>,
}

/// What handing over did: the opportunity as saved, and the decision behind it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignOutcome {
    pub opportunity: Opportunity,
    pub decision: Option<Decision>,
}

// ---- Rules (admin). ----

fn view(r: shangji_store::StoredAssignmentRule) -> AssignmentRuleView {
    AssignmentRuleView {
        rule: r.rule,
        version: r.version,
        updated_at: r.updated_at,
    }
}

pub async fn list_rules(db: &Db, ctx: &Ctx) -> Result<Vec<AssignmentRuleView>, AppError> {
    ctx.require_admin()?;
    Ok(db.assignment_rules().await?.into_iter().map(view).collect())
}

async fn checked(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    position: i64,
    input: &AssignmentRuleInput,
) -> Result<AssignmentRule, AppError> {
    let cat = catalog(db, &ctx.dir, input.record_type).await?;
    let users = db.users().await?;
    assignment::validate_assignment_rule(id, position, input, &cat, &ctx.dir.org.teams, &users)
        .map_err(AppError::InvalidMany)
}

async fn one(db: &Db, id: i64) -> Result<shangji_store::StoredAssignmentRule, AppError> {
    db.assignment_rules()
        .await?
        .into_iter()
        .find(|r| r.rule.id == id)
        .ok_or(AppError::NotFound)
}

pub async fn get_rule(db: &Db, ctx: &Ctx, id: i64) -> Result<AssignmentRuleView, AppError> {
    ctx.require_admin()?;
    Ok(view(one(db, id).await?))
}

pub async fn create_rule(
    db: &Db,
    ctx: &Ctx,
    input: AssignmentRuleInput,
) -> Result<AssignmentRuleView, AppError> {
    ctx.require_admin()?;
    let rule = checked(db, ctx, 0, 0, &input).await?;
    let id = db.insert_assignment_rule(&rule, ctx.now).await?;
    super::audit::setting(db, ctx, "assignment::create_rule", &id.to_string()).await?;
    get_rule(db, ctx, id).await
}

/// Replaces a rule, keeping its place in the order; a stale `version` is a conflict.
pub async fn update_rule(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: AssignmentRuleInput,
) -> Result<AssignmentRuleView, AppError> {
    ctx.require_admin()?;
    let current = one(db, id).await?;
    let expected = input.version.unwrap_or(current.version);
    let rule = checked(db, ctx, id, current.rule.position, &input).await?;
    db.update_assignment_rule(&rule, expected, ctx.now).await?;
    super::audit::setting(db, ctx, "assignment::update_rule", &id.to_string()).await?;
    get_rule(db, ctx, id).await
}

/// Moves a rule one place earlier (`up`) or later in the order.
pub async fn move_rule(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    up: bool,
) -> Result<Vec<AssignmentRuleView>, AppError> {
    ctx.require_admin()?;
    let rules = db.assignment_rules().await?;
    let at = rules
        .iter()
        .position(|r| r.rule.id == id)
        .ok_or(AppError::NotFound)?;
    let other = if up { at.checked_sub(1) } else { Some(at + 1) };
    if let Some(other) = other.filter(|o| *o < rules.len()) {
        // Positions are renumbered 1, 2, 3… with the two swapped.
        let mut order: Vec<&shangji_store::StoredAssignmentRule> = rules.iter().collect();
        order.swap(at, other);
        for (n, r) in order.iter().enumerate() {
            let position = n as i64 + 1;
            if r.rule.position != position {
                let rule = AssignmentRule {
                    position,
                    ..r.rule.clone()
                };
                db.update_assignment_rule(&rule, r.version, ctx.now).await?;
            }
        }
    }
    super::audit::setting(db, ctx, "assignment::move_rule", &id.to_string()).await?;
    list_rules(db, ctx).await
}

pub async fn delete_rule(db: &Db, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    ctx.require_admin()?;
    if !db.delete_assignment_rule(id).await? {
        return Err(AppError::NotFound);
    }
    super::audit::setting(db, ctx, "assignment::delete_rule", &id.to_string()).await
}

// ---- Settings. ----

pub async fn settings(db: &Db) -> Result<PoolSettings, AppError> {
    match db.setting(POOL_KEY).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| AppError::Internal(format!("stored pool settings: {e}"))),
        None => Ok(PoolSettings::default()),
    }
}

pub async fn save_settings(db: &Db, ctx: &Ctx, s: PoolSettings) -> Result<PoolSettings, AppError> {
    ctx.require_admin()?;
    s.validate().map_err(AppError::InvalidMany)?;
    let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
    db.set_setting(POOL_KEY, &json, ctx.now).await?;
    super::audit::setting(db, ctx, "assignment::save_settings", "").await?;
    Ok(s)
}

// ---- The pool. ----

/// What the history says about the reps for `rule` at `now`: assignments today (local
/// day of the working calendar), open loads, and this rule's turns.
async fn rep_stats(db: &Db, rule_id: i64, now: OffsetDateTime) -> Result<RepStats, AppError> {
    let cal = calendar(db).await?;
    let midnight = cal.local_midnight(cal.local_date(now));
    let mut stats = RepStats {
        open_load: db.open_load().await?,
        ..Default::default()
    };
    let end = now + Duration::milliseconds(1);
    for a in db
        .assigned_events(now - Duration::days(TURN_WINDOW_DAYS), end)
        .await?
    {
        if a.at >= midnight {
            *stats.assigned_today.entry(a.owner_id).or_default() += 1;
        }
        if a.rule_id == Some(rule_id) {
            stats.last_assigned.insert(a.owner_id, a.at);
        }
    }
    Ok(stats)
}

/// Claims the caller made today.
async fn claimed_today(db: &Db, ctx: &Ctx) -> Result<u32, AppError> {
    let cal = calendar(db).await?;
    let midnight = cal.local_midnight(cal.local_date(ctx.now));
    Ok(db
        .assigned_events(midnight, ctx.now + Duration::milliseconds(1))
        .await?
        .iter()
        .filter(|a| a.how == AssignHow::Claim && a.owner_id == ctx.actor.user_id)
        .count() as u32)
}

pub async fn pool_view(db: &Db, ctx: &Ctx) -> Result<PoolView, AppError> {
    let settings = settings(db).await?;
    let limit = i64::from(settings.sla_hours) * 60;
    let waiting = db.pool_opportunities().await?;
    let account_ids: Vec<i64> = waiting.iter().map(|o| o.account_id).collect();
    let accounts = db.account_names(&account_ids).await?;
    let items = waiting
        .into_iter()
        .filter_map(|o| {
            let since = o.pool_since?;
            let waited = (ctx.now - since).whole_minutes().max(0);
            Some(PoolItem {
                id: o.id,
                title: o.title,
                account_name: accounts.get(&o.account_id).cloned().unwrap_or_default(),
                account_id: o.account_id,
                stage_id: o.stage_id,
                amount: o.amount,
                source: o.source,
                last_owner_id: o.owner_id,
                pool_since: since,
                waited_minutes: waited,
                past_sla: waited > limit,
            })
        })
        .collect();
    let may_claim = pool::may_claim(ctx.actor.role);
    let claimed = claimed_today(db, ctx).await?;
    Ok(PoolView {
        items,
        may_claim,
        claimed_today: claimed,
        claims_left: if may_claim {
            settings.claim_limit_per_day.saturating_sub(claimed)
        } else {
            0
        },
        may_assign: pool::may_assign(&ctx.scope, None),
        settings,
    })
}

/// A pool opportunity, whoever owned it last.
async fn in_pool(db: &Db, id: OpportunityId) -> Result<Opportunity, AppError> {
    let opp = db
        .get::<Opportunity>(id, &shangji_core::visibility::Scope::All, Access::Read)
        .await?
        .ok_or(AppError::NotFound)?;
    if opp.pool_since.is_none() {
        return Err(AppError::invalid(
            "pool_since",
            "not_in_pool",
            "the opportunity is not in the public pool",
        ));
    }
    Ok(opp)
}

async fn save(
    db: &Db,
    ctx: &Ctx,
    before: &Opportunity,
    opp: &Opportunity,
    events: &[opportunity::NewEvent],
) -> Result<Opportunity, AppError> {
    db.save(
        opp,
        Save::Update {
            expected_version: before.version,
        },
        events,
    )
    .await?;
    let saved = opp.clone().stored(before.id, before.version + 1);
    super::automation::after_opportunity_write(db, ctx, Some(before), &saved).await;
    Ok(saved)
}

/// The caller takes a pool opportunity for themselves, within the daily limit.
pub async fn claim(db: &Db, ctx: &Ctx, id: OpportunityId) -> Result<Opportunity, AppError> {
    if !pool::may_claim(ctx.actor.role) {
        return Err(AppError::Forbidden("may_not_claim"));
    }
    let before = in_pool(db, id).await?;
    let settings = settings(db).await?;
    check_claim(claimed_today(db, ctx).await?, settings.claim_limit_per_day)
        .map_err(AppError::Invalid)?;
    let mut opp = before.clone();
    let events = opportunity::assign(
        &mut opp,
        ctx.actor.user_id,
        AssignHow::Claim,
        None,
        &ctx.actor,
        ctx.now,
    );
    save(db, ctx, &before, &opp, &events).await
}

/// Puts an opportunity the caller may change into the pool.
pub async fn release(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: ReleaseInput,
) -> Result<Opportunity, AppError> {
    let before = super::for_update::<Opportunity>(db, ctx, id).await?;
    super::check_version(before.version, input.version)?;
    let mut opp = before.clone();
    let events = opportunity::release(&mut opp, input.reason, &ctx.actor, ctx.now)?;
    save(db, ctx, &before, &opp, &events).await
}

/// Which rule and rep the rules choose for `opp` now (`rule_id`: that rule, whatever its
/// conditions say).
async fn decide(
    db: &Db,
    ctx: &Ctx,
    opp: &Opportunity,
    rule_id: Option<i64>,
) -> Result<Decision, AppError> {
    let cal = calendar(db).await?;
    let facts = facts_of(db, &ctx.dir, std::slice::from_ref(opp), ctx.now).await?;
    let values = derive(&facts[0], ctx.now, &cal);
    let rules = rules_of(db, RecordType::Opportunity).await?;
    let Some((rule, reasons)) = deciding_rule(&rules, RecordType::Opportunity, rule_id, &values)?
    else {
        return Ok(Decision::none());
    };
    let stats = rep_stats(db, rule.id, ctx.now).await?;
    decided(db, ctx, rule, reasons, &stats).await
}

/// The enabled and disabled assignment rules that hand out `record_type`, in order.
async fn rules_of(db: &Db, record_type: RecordType) -> Result<Vec<AssignmentRule>, AppError> {
    Ok(db
        .assignment_rules()
        .await?
        .into_iter()
        .map(|r| r.rule)
        .filter(|r| r.record_type == record_type)
        .collect())
}

/// The rule that decides among `rules` (of `record_type`): `rule_id` whatever its conditions
/// say (unknown: an error), else the first enabled one whose conditions hold for `values`,
/// with why.
fn deciding_rule<'a>(
    rules: &'a [AssignmentRule],
    record_type: RecordType,
    rule_id: Option<i64>,
    values: &shangji_core::rules::Values,
) -> Result<Option<(&'a AssignmentRule, Vec<Reason>)>, AppError> {
    match rule_id {
        Some(id) => match rules.iter().find(|r| r.id == id) {
            Some(rule) => Ok(Some((rule, vec![]))),
            None => Err(AppError::invalid(
                "assignment_rule_id",
                "unknown_assignment_rule",
                format!("there is no assignment rule {id} for these records"),
            )),
        },
        None => Ok(assignment::matching_rule(rules, record_type, values)),
    }
}

/// Whom `rule` picks given `stats`, today, and who it passes over.
async fn decided(
    db: &Db,
    ctx: &Ctx,
    rule: &AssignmentRule,
    reasons: Vec<Reason>,
    stats: &RepStats,
) -> Result<Decision, AppError> {
    let users = db.users().await?;
    let today = calendar(db).await?.local_date(ctx.now);
    let (user_id, skipped) = match assignment::pick(rule, &ctx.dir.org.teams, &users, stats, today)
    {
        Ok(Pick { user_id, skipped }) => (Some(user_id), skipped),
        Err(skipped) => (None, skipped),
    };
    Ok(Decision {
        rule_id: Some(rule.id),
        rule_name: Some(rule.name.clone()),
        reasons,
        user_id,
        skipped,
    })
}

impl Decision {
    /// No rule matches.
    fn none() -> Decision {
        Decision {
            rule_id: None,
            rule_name: None,
            reasons: vec![],
            user_id: None,
            skipped: vec![],
        }
    }

    /// The user it gives the record to, or why there is none (`no_rule_matches`,
    /// `nobody_available`).
    fn user(&self) -> Result<UserId, AppError> {
        self.user_id.ok_or_else(|| {
            AppError::invalid(
                "assignment_rule_id",
                if self.rule_id.is_none() {
                    "no_rule_matches"
                } else {
                    "nobody_available"
                },
                nobody(self),
            )
        })
    }
}

/// What an automation rule's `assign` action did, for the firing log: done (with whom and by
/// which rule), or skipped when no rule matches or nobody can take it.
fn rule_outcome(
    done: Result<(Option<UserId>, Option<Decision>), AppError>,
) -> Result<Value, AppError> {
    match done {
        Ok((user_id, decision)) => Ok(json!({
            "status": "done",
            "user_id": user_id,
            "assignment_rule_id": decision.and_then(|d| d.rule_id),
        })),
        Err(AppError::Invalid(e))
            if e.code == "no_rule_matches" || e.code == "nobody_available" =>
        {
            Ok(json!({"status": "skipped", "reason": e.message}))
        }
        Err(e) => Err(e),
    }
}

/// Refuses a period that ends before it starts, and callers who are not managers (the SLA
/// reports).
fn sla_period(ctx: &Ctx, from: OffsetDateTime, to: OffsetDateTime) -> Result<(), AppError> {
    if !ctx.scope.is_manager() {
        return Err(AppError::Forbidden("managers_only"));
    }
    if to <= from {
        return Err(AppError::bad_request(
            "to",
            "reversed_period",
            "`to` must be after `from`",
        ));
    }
    Ok(())
}

/// Which rule and rep the rules would choose for an opportunity now (managers).
pub async fn preview(db: &Db, ctx: &Ctx, id: OpportunityId) -> Result<Decision, AppError> {
    let opp = assignable(db, ctx, id, None).await?;
    decide(db, ctx, &opp, None).await
}

/// An opportunity the caller may hand to `to` (`None`: by the rules): one in the pool for
/// anyone who manages others, else one they may change.
async fn assignable(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    to: Option<UserId>,
) -> Result<Opportunity, AppError> {
    if !pool::may_assign(&ctx.scope, to) {
        return Err(AppError::Forbidden("may_not_assign"));
    }
    match in_pool(db, id).await {
        Ok(opp) => Ok(opp),
        Err(AppError::Invalid(_)) => super::for_update::<Opportunity>(db, ctx, id).await,
        Err(e) => Err(e),
    }
}

/// Hands an opportunity over: to `input.user_id`, or by the rules.
pub async fn assign(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: AssignInput,
) -> Result<AssignOutcome, AppError> {
    input.check()?;
    let before = assignable(db, ctx, id, input.user_id).await?;
    super::check_version(before.version, input.version)?;
    let (to, how, decision) = match input.user_id {
        Some(user) => (active_user(db, user).await?, AssignHow::Manual, None),
        None => {
            let d = decide(db, ctx, &before, input.assignment_rule_id).await?;
            (d.user()?, AssignHow::Rule, Some(d))
        }
    };
    let mut opp = before.clone();
    let rule_id = decision.as_ref().and_then(|d| d.rule_id);
    let events = opportunity::assign(&mut opp, to, how, rule_id, &ctx.actor, ctx.now);
    let opportunity = save(db, ctx, &before, &opp, &events).await?;
    Ok(AssignOutcome {
        opportunity,
        decision,
    })
}

fn nobody(d: &Decision) -> String {
    match &d.rule_id {
        None => "no assignment rule matches the opportunity".into(),
        Some(id) => {
            let why: Vec<String> = d
                .skipped
                .iter()
                .map(|s| format!("user {} {}", s.user_id, s.why.as_str()))
                .collect();
            if why.is_empty() {
                format!("assignment rule {id} has no members")
            } else {
                format!(
                    "nobody under assignment rule {id} can take it: {}",
                    why.join(", ")
                )
            }
        }
    }
}

/// The automation rules' `assign` action, as the system: the outcome for the firing log.
pub(crate) async fn by_rules(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    rule_id: Option<i64>,
) -> Result<Value, AppError> {
    let input = AssignInput {
        assignment_rule_id: rule_id,
        ..Default::default()
    };
    rule_outcome(
        assign(db, ctx, id, input)
            .await
            .map(|done| (Some(done.opportunity.owner_id), done.decision)),
    )
}

// ---- The SLA. ----

/// How the pool met the assignment SLA from `from` to `to` (managers), and what waits now.
pub async fn sla(
    db: &Db,
    ctx: &Ctx,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<SlaSummary, AppError> {
    sla_period(ctx, from, to)?;
    let settings = settings(db).await?;
    let done: Vec<(OffsetDateTime, OffsetDateTime)> = db
        .assigned_events(from, to)
        .await?
        .into_iter()
        .filter_map(|a| Some((a.waited_since?, a.at)))
        .collect();
    let waiting: Vec<OffsetDateTime> = db
        .pool_opportunities()
        .await?
        .iter()
        .filter_map(|o| o.pool_since)
        .collect();
    Ok(assignment::sla_summary(
        &done,
        &waiting,
        settings.sla_hours,
        ctx.now,
    ))
}
