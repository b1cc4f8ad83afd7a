//! Assignment: who gets an opportunity that needs an owner — one out of the public pool
//! (公海), or one an automation rule hands over. Everything here is pure; the app loads the
//! rules, the reps and their counts, and saves what [`pick`] decides through
//! [`crate::opportunity::assign`].
//!
//! - Assignment rules are ordered. The first enabled rule whose conditions hold for the
//!   record ([`matching_rule`]; conditions as automation rules write them, over the same
//!   field catalog) names a team and a method.
//! - The rule's members are its named users, else the reps of the team and its sub-teams
//!   ([`members`]). Reps who are inactive or on leave today are skipped, and so is, for the
//!   capacity method, a rep whose daily capacity is used up.
//! - Methods ([`Method`]): round-robin (the member this rule assigned to least recently; one
//!   it never assigned to first), capacity-weighted (the lowest share of the daily
//!   capacity used today, so a day's assignments split in proportion to capacities), or
//!   least-loaded (the fewest open opportunities). Ties go to the least recently assigned,
//!   then the lowest user id, so the outcome is deterministic.
//! - Reps claim from the pool within a daily limit ([`check_claim`]); the assignment SLA
//!   (48 hours by default) is measured on each stay in the pool ([`sla_summary`]).
//! - Leads and accounts have a pool too ([`Pooled`]): an unowned one waits there since
//!   `pool_since`; [`take`] gives it an owner (claimed, by a rule or by hand) and [`give_back`]
//!   returns it, each an [`OwnershipEvent`] of its history; [`settle`] keeps `pool_since`
//!   true when a form or an import changes the owner. Which pool records a user sees is
//!   `visibility::PoolRegions`. Leads have their own SLA: from creation to the first
//!   meaningful follow-up (`lead_sla_hours`, measured with [`sla_summary`] as well).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::{text_enum, Account, Id, Lead, RecordKind, Role, Team, TeamId, User, UserId};
use crate::rules::{self, Condition, FieldCatalog, Reason, RecordType, Values};
use crate::visibility::subtree;
use crate::visibility::Actor;

text_enum!(
    /// How a rule picks among its members.
    Method {
        RoundRobin => "round_robin",
        Capacity => "capacity",
        LeastLoaded => "least_loaded",
    }
);

text_enum!(
    /// How an opportunity got its owner.
    AssignHow { Rule => "rule", Claim => "claim", Manual => "manual", Handover => "handover" }
);

text_enum!(
    /// Why a member was passed over.
    Skip { Inactive => "inactive", OnLeave => "on_leave", AtCapacity => "at_capacity" }
);

/// Most assignments a rep may take in a day (a capacity above it is refused).
pub const MAX_CAPACITY: u32 = 1000;
/// Most members a rule may name.
pub const MAX_MEMBERS: usize = 200;

/// A member's daily capacity under the capacity method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberCapacity {
    pub user_id: UserId,
    pub per_day: u32,
}

/// An assignment rule as the admin pages and the API send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRuleInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What the rule hands out: opportunities (the default) or leads.
    #[serde(default = "opportunities")]
    pub record_type: RecordType,
    /// When the rule applies (as automation rules write conditions; empty: always).
    #[serde(default)]
    pub conditions: Condition,
    /// The team that gets the records.
    pub team_id: TeamId,
    #[serde(default = "round_robin")]
    pub method: Method,
    /// Who takes turns; empty: the reps of the team and its sub-teams.
    #[serde(default)]
    pub members: Vec<UserId>,
    /// Daily capacities for the capacity method; members not listed have
    /// `default_capacity`.
    #[serde(default)]
    pub capacities: Vec<MemberCapacity>,
    #[serde(default = "ten")]
    pub default_capacity: u32,
    /// The version read, when replacing a rule (a stale one is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}
fn opportunities() -> RecordType {
    RecordType::Opportunity
}
fn round_robin() -> Method {
    Method::RoundRobin
}
fn ten() -> u32 {
    10
}

/// A checked assignment rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssignmentRule {
    pub id: Id,
    /// Rules are tried in ascending position.
    pub position: i64,
    pub name: String,
    pub enabled: bool,
    #[serde(default = "opportunities")]
    pub record_type: RecordType,
    pub conditions: Condition,
    pub team_id: TeamId,
    pub method: Method,
    pub members: Vec<UserId>,
    pub capacities: Vec<MemberCapacity>,
    pub default_capacity: u32,
}

impl AssignmentRule {
    /// A member's daily capacity.
    pub fn capacity(&self, user: UserId) -> u32 {
        self.capacities
            .iter()
            .find(|c| c.user_id == user)
            .map_or(self.default_capacity, |c| c.per_day)
    }

    pub fn to_input(&self) -> AssignmentRuleInput {
        AssignmentRuleInput {
            name: self.name.clone(),
            enabled: self.enabled,
            record_type: self.record_type,
            conditions: self.conditions.clone(),
            team_id: self.team_id,
            method: self.method,
            members: self.members.clone(),
            capacities: self.capacities.clone(),
            default_capacity: self.default_capacity,
            version: None,
        }
    }
}

/// The pool's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSettings {
    /// How many opportunities a rep may claim from the pool in a day (0: claiming is off).
    pub claim_limit_per_day: u32,
    /// The assignment SLA: an opportunity waits in the pool at most this many hours.
    pub sla_hours: u32,
    /// How many leads a rep may claim from the pool in a day (0: claiming is off).
    pub lead_claim_limit_per_day: u32,
    /// How many accounts a rep may claim from the pool in a day (0: claiming is off).
    pub account_claim_limit_per_day: u32,
    /// The lead SLA: a new lead gets its first meaningful follow-up within this many hours.
    pub lead_sla_hours: u32,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            claim_limit_per_day: 5,
            sla_hours: 48,
            lead_claim_limit_per_day: 20,
            account_claim_limit_per_day: 10,
            lead_sla_hours: 48,
        }
    }
}

impl PoolSettings {
    /// The daily claim limit for a kind of record.
    pub fn claim_limit(&self, kind: RecordKind) -> u32 {
        match kind {
            RecordKind::Lead => self.lead_claim_limit_per_day,
            RecordKind::Account => self.account_claim_limit_per_day,
            _ => self.claim_limit_per_day,
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, n) in [
            ("claim_limit_per_day", self.claim_limit_per_day),
            ("lead_claim_limit_per_day", self.lead_claim_limit_per_day),
            (
                "account_claim_limit_per_day",
                self.account_claim_limit_per_day,
            ),
        ] {
            if n > MAX_CAPACITY {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    format!("at most {MAX_CAPACITY} a day"),
                ));
            }
        }
        for (field, hours) in [
            ("sla_hours", self.sla_hours),
            ("lead_sla_hours", self.lead_sla_hours),
        ] {
            if !(1..=24 * 90).contains(&hours) {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    "between 1 hour and 90 days (2160 hours)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn fe(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

/// Checks a rule: a name, a known team, known members on that team, capacities for
/// members only and within [`MAX_CAPACITY`], and conditions as automation rules check
/// them against `catalog`. Every problem is reported with its place.
pub fn validate_assignment_rule(
    id: Id,
    position: i64,
    input: &AssignmentRuleInput,
    catalog: &FieldCatalog,
    teams: &[Team],
    users: &[User],
) -> Result<AssignmentRule, Vec<FieldError>> {
    let mut errors = Vec::new();
    if !matches!(
        input.record_type,
        RecordType::Opportunity | RecordType::Lead
    ) {
        errors.push(fe(
            "record_type",
            "unsupported",
            "assignment rules hand out opportunities or leads",
        ));
    } else if input.record_type != catalog.record_type {
        errors.push(fe(
            "record_type",
            "mismatch",
            format!(
                "checked against the {} fields",
                catalog.record_type.as_str()
            ),
        ));
    }
    let name = input.name.trim();
    if let Err(e) = crate::input::query_text("name", name) {
        errors.push(e);
    } else if name.is_empty() {
        errors.push(fe("name", "required", "a rule needs a name"));
    } else if name.chars().count() > rules::NAME_MAX {
        errors.push(fe(
            "name",
            "too_long",
            format!("at most {} characters", rules::NAME_MAX),
        ));
    }
    let on_team = if teams.iter().any(|t| t.id == input.team_id) {
        subtree(teams, input.team_id)
    } else {
        errors.push(fe(
            "team_id",
            "unknown_team",
            format!("there is no team {}", input.team_id),
        ));
        vec![]
    };
    if input.members.len() > MAX_MEMBERS {
        errors.push(fe(
            "members",
            "too_many",
            format!("at most {MAX_MEMBERS} members"),
        ));
    }
    for (n, m) in input.members.iter().enumerate() {
        let at = format!("members[{n}]");
        match users.iter().find(|u| u.id == *m) {
            None => errors.push(fe(&at, "unknown_user", format!("there is no user {m}"))),
            Some(u) if !on_team.is_empty() && !u.team_id.is_some_and(|t| on_team.contains(&t)) => {
                errors.push(fe(
                    &at,
                    "not_on_team",
                    format!("{} is not on team {} or below it", u.login, input.team_id),
                ))
            }
            _ => {}
        }
        if input.members[..n].contains(m) {
            errors.push(fe(&at, "duplicate", format!("user {m} is listed twice")));
        }
    }
    for (n, c) in input.capacities.iter().enumerate() {
        let at = format!("capacities[{n}]");
        let member = if input.members.is_empty() {
            users.iter().any(|u| {
                u.id == c.user_id
                    && u.role == Role::Rep
                    && u.team_id.is_some_and(|t| on_team.contains(&t))
            })
        } else {
            input.members.contains(&c.user_id)
        };
        if !member {
            errors.push(fe(
                &format!("{at}.user_id"),
                "not_a_member",
                format!("user {} is not a member of this rule", c.user_id),
            ));
        }
        if c.per_day > MAX_CAPACITY {
            errors.push(fe(
                &format!("{at}.per_day"),
                "out_of_range",
                format!("at most {MAX_CAPACITY} a day"),
            ));
        }
    }
    if input.default_capacity > MAX_CAPACITY {
        errors.push(fe(
            "default_capacity",
            "out_of_range",
            format!("at most {MAX_CAPACITY} a day"),
        ));
    }
    rules::validate::check_conditions(&input.conditions, false, catalog, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AssignmentRule {
        id,
        position,
        name: name.to_string(),
        enabled: input.enabled,
        record_type: input.record_type,
        conditions: input.conditions.clone(),
        team_id: input.team_id,
        method: input.method,
        members: input.members.clone(),
        capacities: input.capacities.clone(),
        default_capacity: input.default_capacity,
    })
}

/// The first enabled rule for `record_type`, by position, whose conditions hold for the
/// record's `values`, with the comparisons that decided.
pub fn matching_rule<'a>(
    rules: &'a [AssignmentRule],
    record_type: RecordType,
    values: &Values,
) -> Option<(&'a AssignmentRule, Vec<Reason>)> {
    let mut ordered: Vec<&AssignmentRule> = rules
        .iter()
        .filter(|r| r.enabled && r.record_type == record_type)
        .collect();
    ordered.sort_by_key(|r| (r.position, r.id));
    ordered.into_iter().find_map(|r| {
        let (held, reasons) = rules::eval::holds(&r.conditions, values);
        held.then_some((r, reasons))
    })
}

/// Who takes turns under `rule`: its named members, else every rep (active or not) of its
/// team and the teams below it; by user id.
pub fn members(rule: &AssignmentRule, teams: &[Team], users: &[User]) -> Vec<UserId> {
    let mut out: Vec<UserId> = if rule.members.is_empty() {
        let on_team = subtree(teams, rule.team_id);
        users
            .iter()
            .filter(|u| u.role == Role::Rep && u.team_id.is_some_and(|t| on_team.contains(&t)))
            .map(|u| u.id)
            .collect()
    } else {
        rule.members.clone()
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// What the store knows about the reps when a record is assigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepStats {
    /// Assignments to each rep today (by any rule, claim or hand).
    pub assigned_today: BTreeMap<UserId, u32>,
    /// Each rep's open opportunities (not in the pool).
    pub open_load: BTreeMap<UserId, u32>,
    /// When this rule last assigned to each rep.
    pub last_assigned: BTreeMap<UserId, OffsetDateTime>,
}

impl RepStats {
    /// Counts an assignment just made (so that a batch of assignments sees its own).
    pub fn record(&mut self, user: UserId, now: OffsetDateTime) {
        *self.assigned_today.entry(user).or_default() += 1;
        *self.open_load.entry(user).or_default() += 1;
        self.last_assigned.insert(user, now);
    }
}

/// A member passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    pub user_id: UserId,
    pub why: Skip,
}

/// Who gets the record, and who was passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Pick {
    pub user_id: UserId,
    pub skipped: Vec<Skipped>,
}

/// Picks the member of `rule` who gets the next record on `today` (local date): see the
/// module docs for the methods. `Err` lists why nobody can (empty: the rule has no
/// members).
pub fn pick(
    rule: &AssignmentRule,
    teams: &[Team],
    users: &[User],
    stats: &RepStats,
    today: Date,
) -> Result<Pick, Vec<Skipped>> {
    let mut skipped = Vec::new();
    let mut able: Vec<UserId> = Vec::new();
    for id in members(rule, teams, users) {
        let why = match users.iter().find(|u| u.id == id) {
            None => Some(Skip::Inactive),
            Some(u) if !u.active => Some(Skip::Inactive),
            Some(u) if u.on_leave(today) => Some(Skip::OnLeave),
            Some(_)
                if rule.method == Method::Capacity
                    && stats.assigned_today.get(&id).copied().unwrap_or(0) >= rule.capacity(id) =>
            {
                Some(Skip::AtCapacity)
            }
            Some(_) => None,
        };
        match why {
            Some(why) => skipped.push(Skipped { user_id: id, why }),
            None => able.push(id),
        }
    }
    let today_of = |id: &UserId| stats.assigned_today.get(id).copied().unwrap_or(0) as u64;
    let load = |id: &UserId| stats.open_load.get(id).copied().unwrap_or(0);
    // Never assigned by this rule sorts first (None < Some).
    let turn = |id: &UserId| (stats.last_assigned.get(id).copied(), *id);
    let chosen = match rule.method {
        Method::RoundRobin => able.iter().min_by_key(|id| turn(id)),
        Method::LeastLoaded => able.iter().min_by_key(|id| (load(id), turn(id))),
        Method::Capacity => able.iter().min_by(|a, b| {
            // today(a) / cap(a) against today(b) / cap(b), cross-multiplied.
            let share_a = today_of(a) * rule.capacity(**b) as u64;
            let share_b = today_of(b) * rule.capacity(**a) as u64;
            share_a.cmp(&share_b).then(turn(a).cmp(&turn(b)))
        }),
    };
    match chosen {
        Some(id) => Ok(Pick {
            user_id: *id,
            skipped,
        }),
        None => Err(skipped),
    }
}

/// Whether a rep who claimed `claimed_today` records of a kind today may claim another,
/// under that kind's daily `limit`.
pub fn check_claim(claimed_today: u32, limit: u32) -> Result<(), FieldError> {
    if limit == 0 {
        return Err(fe(
            "pool",
            "claiming_off",
            "claiming from the public pool is switched off",
        ));
    }
    if claimed_today >= limit {
        return Err(fe(
            "pool",
            "claim_limit",
            format!("you have claimed {claimed_today} today; the limit is {limit} a day"),
        ));
    }
    Ok(())
}

/// A lead or an account: a record with an owner that waits in the public pool without one.
pub trait Pooled {
    const KIND: RecordKind;
    fn owner(&self) -> Option<UserId>;
    fn pool_since(&self) -> Option<OffsetDateTime>;
    fn region(&self) -> Option<&str>;
    fn is_archived(&self) -> bool;
    /// Sets the owner and `pool_since` (the invariant: exactly one of them is set).
    fn set_owner(&mut self, owner: Option<UserId>, pool_since: Option<OffsetDateTime>);
    fn touch(&mut self, now: OffsetDateTime);
}

macro_rules! pooled {
    ($t:ty, $kind:expr) => {
        impl Pooled for $t {
            const KIND: RecordKind = $kind;
            fn owner(&self) -> Option<UserId> {
                self.owner_id
            }
            fn pool_since(&self) -> Option<OffsetDateTime> {
                self.pool_since
            }
            fn region(&self) -> Option<&str> {
                self.region.as_deref()
            }
            fn is_archived(&self) -> bool {
                self.archived
            }
            fn set_owner(&mut self, owner: Option<UserId>, pool_since: Option<OffsetDateTime>) {
                self.owner_id = owner;
                self.pool_since = pool_since;
            }
            fn touch(&mut self, now: OffsetDateTime) {
                self.updated_at = now;
            }
        }
    };
}
pooled!(Lead, RecordKind::Lead);
pooled!(Account, RecordKind::Account);

text_enum!(
    /// What happened to a lead's or an account's owner.
    OwnershipChange { Assigned => "assigned", Released => "released" }
);

/// One owner change of a lead or an account, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OwnershipEvent {
    pub record_kind: RecordKind,
    pub record_id: Id,
    pub kind: OwnershipChange,
    /// Assigned: the new owner; released: the owner who gave it back.
    pub owner_id: Option<UserId>,
    /// Assigned: how.
    pub how: Option<AssignHow>,
    /// Assigned by a rule: which.
    pub rule_id: Option<Id>,
    /// Assigned: since when it had waited in the pool (`None`: it had an owner).
    #[serde(with = "time::serde::rfc3339::option")]
    pub waited_since: Option<OffsetDateTime>,
    pub reason: Option<String>,
    /// Assigned by a handover: which.
    #[serde(default)]
    pub handover_id: Option<Id>,
    pub actor_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Gives `rec` to `to` (from the pool, or from another owner by hand): the event of its
/// history. Archived records are refused.
pub fn take<P: Pooled>(
    rec: &mut P,
    id: Id,
    to: UserId,
    how: AssignHow,
    rule_id: Option<Id>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<OwnershipEvent, FieldError> {
    if rec.is_archived() {
        return Err(fe("archived", "archived", "the record is archived"));
    }
    let waited_since = rec.pool_since();
    rec.set_owner(Some(to), None);
    rec.touch(now);
    Ok(OwnershipEvent {
        record_kind: P::KIND,
        record_id: id,
        kind: OwnershipChange::Assigned,
        owner_id: Some(to),
        how: Some(how),
        rule_id,
        waited_since,
        reason: None,
        handover_id: None,
        actor_id: actor.user_id,
        at: now,
    })
}

/// Returns `rec` to the pool, with an optional reason (at most 200 characters).
pub fn give_back<P: Pooled>(
    rec: &mut P,
    id: Id,
    reason: Option<String>,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<OwnershipEvent, FieldError> {
    let Some(owner) = rec.owner() else {
        return Err(fe(
            "pool_since",
            "already_in_pool",
            "the record is already in the public pool",
        ));
    };
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(fe("reason", "too_long", "at most 200 characters"));
    }
    rec.set_owner(None, Some(now));
    rec.touch(now);
    Ok(OwnershipEvent {
        record_kind: P::KIND,
        record_id: id,
        kind: OwnershipChange::Released,
        owner_id: Some(owner),
        how: None,
        rule_id: None,
        waited_since: None,
        reason,
        handover_id: None,
        actor_id: actor.user_id,
        at: now,
    })
}

/// After a form, the API or an import set `rec`'s owner (it had `before`): keeps
/// `pool_since` true and says what changed for the history (`None`: the owner did not
/// change).
pub fn settle<P: Pooled>(
    before: Option<UserId>,
    rec: &mut P,
    id: Id,
    actor: &Actor,
    now: OffsetDateTime,
) -> Option<OwnershipEvent> {
    let after = rec.owner();
    if after == before {
        if after.is_some() == rec.pool_since().is_some() {
            // Repair a record that broke the invariant (none should).
            let since = after.is_none().then_some(now);
            rec.set_owner(after, since);
        }
        return None;
    }
    let waited_since = rec.pool_since();
    match after {
        Some(to) => {
            rec.set_owner(Some(to), None);
            Some(OwnershipEvent {
                record_kind: P::KIND,
                record_id: id,
                kind: OwnershipChange::Assigned,
                owner_id: Some(to),
                how: Some(AssignHow::Manual),
                rule_id: None,
                waited_since: before.is_none().then_some(waited_since).flatten(),
                reason: None,
                handover_id: None,
                actor_id: actor.user_id,
                at: now,
            })
        }
        None => {
            rec.set_owner(None, Some(now));
            Some(OwnershipEvent {
                record_kind: P::KIND,
                record_id: id,
                kind: OwnershipChange::Released,
                owner_id: before,
                how: None,
                rule_id: None,
                waited_since: None,
                reason: None,
                handover_id: None,
                actor_id: actor.user_id,
                at: now,
            })
        }
    }
}

/// How the pool met its assignment SLA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlaSummary {
    pub sla_hours: u32,
    /// Stays in the pool that ended with an assignment in the period.
    pub assigned: usize,
    /// Of those, assigned within the SLA (waited at most `sla_hours`).
    pub within_sla: usize,
    pub breached: usize,
    /// `within_sla` ÷ `assigned`, in per-mille (`None` without assignments).
    pub within_sla_permille: Option<u32>,
    /// Median and 90th percentile of the wait, in minutes (nearest rank).
    pub median_wait_minutes: Option<i64>,
    pub p90_wait_minutes: Option<i64>,
    /// Opportunities in the pool now, and those already past the SLA.
    pub waiting: usize,
    pub waiting_past_sla: usize,
    /// The longest wait of those in the pool now, in minutes.
    pub oldest_wait_minutes: Option<i64>,
}

/// The SLA over `done` — (waited since, assigned at) of stays that ended in the period —
/// and `waiting` (since when each opportunity in the pool now has waited), at `now`.
pub fn sla_summary(
    done: &[(OffsetDateTime, OffsetDateTime)],
    waiting: &[OffsetDateTime],
    sla_hours: u32,
    now: OffsetDateTime,
) -> SlaSummary {
    let limit = i64::from(sla_hours) * 60;
    let mut waits: Vec<i64> = done
        .iter()
        .map(|(from, to)| (*to - *from).whole_minutes().max(0))
        .collect();
    waits.sort_unstable();
    let rank = |q: usize| -> Option<i64> {
        // Nearest rank: the ⌈q% · n⌉-th smallest.
        (!waits.is_empty()).then(|| waits[(q * waits.len()).div_ceil(100).max(1) - 1])
    };
    let within = waits.iter().filter(|w| **w <= limit).count();
    let now_waits: Vec<i64> = waiting
        .iter()
        .map(|t| (now - *t).whole_minutes().max(0))
        .collect();
    SlaSummary {
        sla_hours,
        assigned: waits.len(),
        within_sla: within,
        breached: waits.len() - within,
        within_sla_permille: (!waits.is_empty()).then(|| (within * 1000 / waits.len()) as u32),
        median_wait_minutes: rank(50),
        p90_wait_minutes: rank(90),
        waiting: now_waits.len(),
        waiting_past_sla: now_waits.iter().filter(|w| **w > limit).count(),
        oldest_wait_minutes: now_waits.iter().copied().max(),
    }
}

#[cfg(test)]
mod tests;
