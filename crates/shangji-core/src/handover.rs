//! Handover (交接): when a user leaves, their book goes to others and nothing is lost. Who
//! may hand over whom, how the book is split among the receivers (an account goes with its
//! contacts, deals, tasks to one receiver; units by turns or to the least loaded), and the
//! counts a preview and a report show, and what an *inherited* deal is and whether its receiver
//! has touched it since ([`inherited`], [`DealTrail::touched_since`]) — the one definition the
//! rules' facts and the handover report read. The moves themselves are the store's
//! set-based updates; this module decides.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::*;
use crate::visibility::{Actor, Scope};

text_enum!(
    /// How the book is split: all to one receiver, by turns, or each unit to the receiver
    /// with the smallest load so far.
    HandoverMethod { One => "one", RoundRobin => "round_robin", LeastLoad => "least_load" }
);

text_enum!(
    /// A handover runs until everything still owned by the leaver has moved.
    HandoverStatus { Running => "running", Done => "done" }
);

text_enum!(
    /// What a handover moves: records the leaver owns (open deals, open tasks, leads not
    /// closed), pending approvals they must decide, their place as named approver in
    /// approval policies and as a member of assignment rules.
    HandoverKind {
        Account => "account",
        Contact => "contact",
        Lead => "lead",
        Opportunity => "opportunity",
        Task => "task",
        Approval => "approval",
        Policy => "policy",
        Rule => "rule",
    }
);

impl HandoverKind {
    /// The kinds that are records with an owner, in the order they move (an account before
    /// what hangs on it, so that an interrupted run resumes with the account's receiver).
    pub const RECORDS: [HandoverKind; 5] = [
        HandoverKind::Account,
        HandoverKind::Contact,
        HandoverKind::Opportunity,
        HandoverKind::Lead,
        HandoverKind::Task,
    ];
}

// `text_enum!` derives no `Default`.
#[allow(clippy::derivable_impls)]
impl Default for HandoverMethod {
    fn default() -> Self {
        HandoverMethod::One
    }
}

/// A handover asked for: preview (`dry_run`) or run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverInput {
    /// The user who leaves.
    pub from_user_id: UserId,
    /// Who receives: one user, or the users the book is split among.
    pub receivers: Vec<UserId>,
    #[serde(default)]
    pub method: HandoverMethod,
    /// Deactivate the leaver once everything has moved (admin only); their history stays.
    #[serde(default)]
    pub deactivate: bool,
    /// Only count what would move, to whom.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a handover was asked to do, kept with it so that a resumed run does the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HandoverSettings {
    pub receivers: Vec<UserId>,
    pub method: HandoverMethod,
    pub deactivate: bool,
}

/// How many records of one kind go (or went) to one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HandoverCount {
    pub to_user_id: UserId,
    pub kind: HandoverKind,
    pub count: i64,
}

/// A handover job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Handover {
    pub id: Id,
    pub from_user_id: UserId,
    pub actor_id: UserId,
    pub settings: HandoverSettings,
    pub status: HandoverStatus,
    /// What has moved so far, per receiver and kind.
    pub counts: Vec<HandoverCount>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// One record the leaver holds, with the account it belongs to (itself for an account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    pub kind: HandoverKind,
    pub id: Id,
    pub account_id: Option<Id>,
}

/// A record and who receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub kind: HandoverKind,
    pub id: Id,
    pub to: UserId,
}

fn fe(field: &str, code: &str, message: &str) -> FieldError {
    FieldError::new(field, code, message)
}

/// Who may hand over whom, the one place it is decided: an admin anyone but themselves; a
/// manager or a director (someone whose scope is teams) a rep or a manager of those teams.
/// Reps never.
pub fn may_hand_over(actor: &Actor, scope: &Scope, leaver: &User) -> bool {
    if leaver.id == actor.user_id {
        return false;
    }
    match actor.role {
        Role::Admin => true,
        Role::Rep => false,
        Role::Director | Role::Manager => {
            leaver.role != Role::Admin
                && scope.is_manager()
                && scope.covers(Some(leaver.id))
                && (actor.role == Role::Director || leaver.role == Role::Rep)
        }
    }
}

/// Only an admin deactivates users, in a handover as elsewhere.
pub fn may_deactivate(actor: &Actor) -> bool {
    actor.role == Role::Admin
}

/// Checks the receivers: at least one, active, not the leaver, each once, and in the actor's
/// scope; one receiver only when the method is `one`.
pub fn check_receivers(
    input: &HandoverInput,
    users: &[User],
    scope: &Scope,
) -> Result<(), FieldError> {
    if input.receivers.is_empty() {
        return Err(fe("receivers", "required", "choose who receives the book"));
    }
    if input.method == HandoverMethod::One && input.receivers.len() > 1 {
        return Err(fe(
            "receivers",
            "one_receiver",
            "choose one receiver, or split the book among several",
        ));
    }
    for (i, r) in input.receivers.iter().enumerate() {
        if input.receivers[..i].contains(r) {
            return Err(fe("receivers", "duplicate", "a receiver is chosen twice"));
        }
        if *r == input.from_user_id {
            return Err(fe(
                "receivers",
                "same_user",
                "the leaver cannot receive their own book",
            ));
        }
        let Some(u) = users.iter().find(|u| u.id == *r) else {
            return Err(fe("receivers", "unknown_user", "there is no such user"));
        };
        if !u.active {
            return Err(fe("receivers", "inactive_user", "this user is inactive"));
        }
        if !scope.covers(Some(*r)) {
            return Err(fe(
                "receivers",
                "out_of_scope",
                "you may only hand over to people of your teams",
            ));
        }
    }
    Ok(())
}

/// The unit a holding moves with: its account, or itself alone.
fn unit_of(h: &Holding) -> (Option<Id>, &'static str, Id) {
    match h.account_id {
        Some(a) => (Some(a), "", a),
        None => (None, h.kind.as_str(), h.id),
    }
}

/// Who receives each holding. An account goes with everything of the leaver on it to one
/// receiver; a unit whose account already belongs to a receiver (an earlier, interrupted run;
/// or a receiver's own account) goes to that receiver. Other units, in a stable order, go
/// by turns (`round_robin`) or each to the receiver with the smallest load, counting what
/// the plan gave so far (`least_load`; `loads`: what each receiver already holds).
pub fn plan(
    holdings: &[Holding],
    settings: &HandoverSettings,
    loads: &HashMap<UserId, i64>,
    account_owners: &HashMap<Id, Option<UserId>>,
) -> Vec<Move> {
    let receivers = &settings.receivers;
    if receivers.is_empty() {
        return vec![];
    }
    let mut units: BTreeMap<(Option<Id>, &str, Id), Vec<&Holding>> = BTreeMap::new();
    for h in holdings {
        units.entry(unit_of(h)).or_default().push(h);
    }
    let mut load: Vec<i64> = receivers
        .iter()
        .map(|r| loads.get(r).copied().unwrap_or(0))
        .collect();
    let mut turn = 0usize;
    let mut out = Vec::with_capacity(holdings.len());
    for ((account, _, _), items) in units {
        let sticky = account
            .and_then(|a| account_owners.get(&a).copied().flatten())
            .and_then(|o| receivers.iter().position(|r| *r == o));
        let i = match (sticky, settings.method) {
            (Some(i), _) => i,
            (None, HandoverMethod::One) => 0,
            (None, HandoverMethod::RoundRobin) => {
                turn += 1;
                (turn - 1) % receivers.len()
            }
            (None, HandoverMethod::LeastLoad) => (0..receivers.len())
                .min_by_key(|i| (load[*i], *i))
                .unwrap_or(0),
        };
        load[i] += items.len() as i64;
        out.extend(items.iter().map(|h| Move {
            kind: h.kind,
            id: h.id,
            to: receivers[i],
        }));
    }
    out
}

/// Counts per receiver and kind, in receiver then kind order.
pub fn count(moves: &[Move]) -> Vec<HandoverCount> {
    let mut n: BTreeMap<(UserId, usize), i64> = BTreeMap::new();
    for m in moves {
        let k = HandoverKind::ALL
            .iter()
            .position(|x| *x == m.kind)
            .unwrap_or(0);
        *n.entry((m.to, k)).or_default() += 1;
    }
    n.into_iter()
        .map(|((to, k), count)| HandoverCount {
            to_user_id: to,
            kind: HandoverKind::ALL[k],
            count,
        })
        .collect()
}

/// `a` and `b` added up.
pub fn add_counts(a: &[HandoverCount], b: &[HandoverCount]) -> Vec<HandoverCount> {
    let mut n: BTreeMap<(UserId, usize), i64> = BTreeMap::new();
    for c in a.iter().chain(b) {
        let k = HandoverKind::ALL
            .iter()
            .position(|x| *x == c.kind)
            .unwrap_or(0);
        *n.entry((c.to_user_id, k)).or_default() += c.count;
    }
    n.into_iter()
        .filter(|(_, c)| *c != 0)
        .map(|((to, k), count)| HandoverCount {
            to_user_id: to,
            kind: HandoverKind::ALL[k],
            count,
        })
        .collect()
}

/// A deal's move by one handover: which handover, when the deal moved and to whom (its
/// `handed_over` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandedOver {
    pub handover_id: Id,
    pub at: OffsetDateTime,
    pub to: UserId,
}

/// What the history says about a deal that has been handed over: enough to tell whether it is
/// inherited ([`inherited`]) and whether its receiver has touched it since
/// ([`DealTrail::touched_since`]). Read by the store in grouped queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DealTrail {
    /// Its moves by handovers, oldest first.
    pub handovers: Vec<HandedOver>,
    /// Its latest owner change (a handover's own included).
    pub owner_changed_at: Option<OffsetDateTime>,
    /// When the latest unarchived activity (follow-up) on it was logged, by anyone.
    pub activity_logged_at: Option<OffsetDateTime>,
    /// The latest change in its history made by each user (the event's actor).
    pub changed_by: BTreeMap<UserId, OffsetDateTime>,
}

impl DealTrail {
    /// Its move by handover `id`.
    pub fn move_by(&self, id: Id) -> Option<HandedOver> {
        self.handovers.iter().find(|h| h.handover_id == id).copied()
    }

    /// The latest *touch* of the deal since move `h`, the one definition of "followed up since
    /// the handover": an activity logged on the deal at or after the move (by anyone: the
    /// customer heard from us), or a change in its history made by the receiver after it (a
    /// stage move, a new close date…; the handover's own events are at the move, and a change
    /// by someone else — an admin, a rule — is not the receiver taking the deal up). `None`:
    /// untouched.
    pub fn touched_since(&self, h: &HandedOver) -> Option<OffsetDateTime> {
        let logged = self.activity_logged_at.filter(|t| *t >= h.at);
        let changed = self.changed_by.get(&h.to).copied().filter(|t| *t > h.at);
        logged.max(changed)
    }
}

/// An open deal its owner received through a handover (see [`inherited`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inherited {
    /// The move that gave it to its owner.
    pub handover: HandedOver,
    /// The receiver's latest touch since ([`DealTrail::touched_since`]); `None`: untouched.
    pub touched_at: Option<OffsetDateTime>,
}

impl Inherited {
    /// Whole 24-hour days from the handover to `now`.
    pub fn days_since_handover(&self, now: OffsetDateTime) -> i64 {
        (now - self.handover.at).whole_days().max(0)
    }

    /// Whole 24-hour days from the receiver's latest touch to `now`, or from the handover
    /// while it is untouched.
    pub fn days_untouched(&self, now: OffsetDateTime) -> i64 {
        (now - self.touched_at.unwrap_or(self.handover.at))
            .whole_days()
            .max(0)
    }
}

/// Whether `opp` is an *inherited* deal, the one definition (the rules' `inherited` facts, see
/// `rules::derive`): open, unarchived, owned (not in the public pool), its latest handover gave
/// it to its current owner, and its owner has not changed since. A deal reassigned after the
/// handover, won, lost or put in the pool is no longer inherited.
pub fn inherited(opp: &Opportunity, trail: &DealTrail) -> Option<Inherited> {
    if opp.status != StageKind::Open || opp.archived || opp.pool_since.is_some() {
        return None;
    }
    let h = *trail
        .handovers
        .iter()
        .max_by_key(|h| (h.at, h.handover_id))?;
    if h.to != opp.owner_id || trail.owner_changed_at.is_some_and(|t| t > h.at) {
        return None;
    }
    Some(Inherited {
        handover: h,
        touched_at: trail.touched_since(&h),
    })
}

/// `ids` with `from` replaced by `to` (once, keeping the order; `to` not added twice).
pub fn replace_user(ids: &[UserId], from: UserId, to: UserId) -> Vec<UserId> {
    let mut out: Vec<UserId> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = if *id == from { to } else { *id };
        if !out.contains(&id) || id != to {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visibility::PoolRegions;

    fn h(kind: HandoverKind, id: Id, account: Option<Id>) -> Holding {
        Holding {
            kind,
            id,
            account_id: account,
        }
    }

    fn settings(receivers: &[UserId], method: HandoverMethod) -> HandoverSettings {
        HandoverSettings {
            receivers: receivers.to_vec(),
            method,
            deactivate: false,
        }
    }

    fn to_of(moves: &[Move], kind: HandoverKind, id: Id) -> UserId {
        moves
            .iter()
            .find(|m| m.kind == kind && m.id == id)
            .unwrap()
            .to
    }

    #[test]
    fn an_account_goes_with_everything_on_it() {
        use HandoverKind::*;
        let book = [
            h(Account, 1, Some(1)),
            h(Contact, 10, Some(1)),
            h(Opportunity, 20, Some(1)),
            h(Task, 30, Some(1)),
            h(Account, 2, Some(2)),
            h(Opportunity, 21, Some(2)),
            h(Lead, 40, None),
            h(Lead, 41, None),
        ];
        let m = plan(
            &book,
            &settings(&[7, 8], HandoverMethod::RoundRobin),
            &HashMap::new(),
            &HashMap::new(),
        );
        assert_eq!(m.len(), book.len());
        for (k, id) in [(Contact, 10), (Opportunity, 20), (Task, 30)] {
            assert_eq!(to_of(&m, k, id), to_of(&m, Account, 1));
        }
        assert_eq!(to_of(&m, Opportunity, 21), to_of(&m, Account, 2));
        assert_ne!(to_of(&m, Account, 1), to_of(&m, Account, 2));
        assert_ne!(to_of(&m, Lead, 40), to_of(&m, Lead, 41));
    }

    #[test]
    fn least_load_fills_the_emptiest_and_sticky_units_keep_their_receiver() {
        use HandoverKind::*;
        let book = [
            h(Account, 1, Some(1)),
            h(Opportunity, 20, Some(1)),
            h(Account, 2, Some(2)),
            h(Lead, 40, None),
            h(Opportunity, 22, Some(3)),
        ];
        let loads = HashMap::from([(7, 10), (8, 0)]);
        // Account 3 is already the first receiver's: its deal follows it.
        let owners = HashMap::from([(3, Some(7))]);
        let m = plan(
            &book,
            &settings(&[7, 8], HandoverMethod::LeastLoad),
            &loads,
            &owners,
        );
        assert_eq!(to_of(&m, Opportunity, 22), 7);
        assert_eq!(to_of(&m, Account, 1), 8);
        assert_eq!(to_of(&m, Account, 2), 8);
        assert_eq!(to_of(&m, Lead, 40), 8);
        let one = plan(&book, &settings(&[8], HandoverMethod::One), &loads, &owners);
        assert!(one.iter().all(|m| m.to == 8));
        assert_eq!(
            count(&one),
            vec![
                HandoverCount {
                    to_user_id: 8,
                    kind: Account,
                    count: 2
                },
                HandoverCount {
                    to_user_id: 8,
                    kind: Lead,
                    count: 1
                },
                HandoverCount {
                    to_user_id: 8,
                    kind: Opportunity,
                    count: 2
                },
            ]
        );
    }

    fn user(id: UserId, role: Role, active: bool) -> User {
        User {
            id,
            login: format!("u{id}"),
            display_name: format!("u{id}"),
            email: None,
            mobile: None,
            role,
            team_id: Some(1),
            active,
            leaves: vec![],
            language: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn who_may_hand_over_whom() {
        let team = Scope::Teams {
            user_id: 1,
            teams: vec![1],
            members: vec![1, 2, 3],
            pool: PoolRegions::All,
        };
        let own = Scope::Own {
            user_id: 2,
            pool: PoolRegions::All,
        };
        let actor = |id, role| Actor {
            user_id: id,
            role,
            team_id: Some(1),
        };
        let rep = user(2, Role::Rep, true);
        let other_rep = user(9, Role::Rep, true);
        let mgr = user(3, Role::Manager, true);
        for (who, scope, leaver, ok) in [
            (actor(1, Role::Admin), &Scope::All, &rep, true),
            (
                actor(1, Role::Admin),
                &Scope::All,
                &user(1, Role::Admin, true),
                false,
            ),
            (actor(1, Role::Manager), &team, &rep, true),
            (actor(1, Role::Manager), &team, &other_rep, false),
            (actor(1, Role::Manager), &team, &mgr, false),
            (actor(1, Role::Director), &team, &mgr, true),
            (actor(2, Role::Rep), &own, &other_rep, false),
        ] {
            assert_eq!(may_hand_over(&who, scope, leaver), ok, "{who:?} {leaver:?}");
        }
        assert!(may_deactivate(&actor(1, Role::Admin)));
        assert!(!may_deactivate(&actor(1, Role::Manager)));
    }

    #[test]
    fn receivers_are_checked() {
        let users = [
            user(2, Role::Rep, true),
            user(3, Role::Rep, true),
            user(4, Role::Rep, false),
        ];
        let input = |receivers: &[UserId], method| HandoverInput {
            from_user_id: 2,
            receivers: receivers.to_vec(),
            method,
            deactivate: false,
            dry_run: true,
        };
        let code = |i: HandoverInput| {
            check_receivers(&i, &users, &Scope::All)
                .err()
                .map(|e| e.code.to_string())
        };
        assert_eq!(code(input(&[3], HandoverMethod::One)), None);
        assert_eq!(
            code(input(&[], HandoverMethod::One)).as_deref(),
            Some("required")
        );
        assert_eq!(
            code(input(&[2], HandoverMethod::One)).as_deref(),
            Some("same_user")
        );
        assert_eq!(
            code(input(&[4], HandoverMethod::One)).as_deref(),
            Some("inactive_user")
        );
        assert_eq!(
            code(input(&[5], HandoverMethod::One)).as_deref(),
            Some("unknown_user")
        );
        assert_eq!(
            code(input(&[3, 3], HandoverMethod::RoundRobin)).as_deref(),
            Some("duplicate")
        );
        assert_eq!(
            code(input(&[3, 4], HandoverMethod::One)).as_deref(),
            Some("one_receiver")
        );
    }

    /// The instant the inheritance tests count from: the test's clock, never the real one.
    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn at(days: i64, minutes: i64) -> OffsetDateTime {
        T0 + time::Duration::days(days) + time::Duration::minutes(minutes)
    }

    /// An open deal created at `T0 - 30 days`, owned by `owner`.
    fn deal(owner: UserId) -> Opportunity {
        let pipeline = crate::process::build_pipeline(&crate::process::b2b_template(), 1, 1);
        let actor = Actor {
            user_id: owner,
            role: Role::Rep,
            team_id: Some(1),
        };
        let input = serde_json::from_value(serde_json::json!({
            "title": "二期扩容", "account_id": 1, "amount_minor": 10_000_000
        }))
        .unwrap();
        let (mut o, _) = crate::opportunity::create(input, &pipeline, &actor, at(-30, 0)).unwrap();
        o.id = 1;
        o
    }

    /// Deal 1 handed over by handover 5 from user 2 to user 7 at `T0`.
    fn handed(to: UserId) -> DealTrail {
        DealTrail {
            handovers: vec![HandedOver {
                handover_id: 5,
                at: T0,
                to,
            }],
            owner_changed_at: Some(T0),
            ..Default::default()
        }
    }

    #[test]
    fn an_inherited_deal_and_whether_its_receiver_touched_it() {
        let trail = handed(7);
        let with = |f: &dyn Fn(&mut DealTrail, &mut Opportunity)| {
            let (mut t, mut o) = (trail.clone(), deal(7));
            f(&mut t, &mut o);
            (t, o)
        };
        // (case, trail, deal, now, expected (touched_at, days since the handover, days
        // untouched) — `None`: not inherited).
        type Want = Option<(Option<OffsetDateTime>, i64, i64)>;
        let cases: Vec<(&str, (DealTrail, Opportunity), OffsetDateTime, Want)> = vec![
            (
                "untouched, a minute before 7 days",
                with(&|_, _| {}),
                at(7, -1),
                Some((None, 6, 6)),
            ),
            (
                "untouched, 7 days to the minute",
                with(&|_, _| {}),
                at(7, 0),
                Some((None, 7, 7)),
            ),
            (
                "a follow-up logged after the handover touches it",
                with(&|t, _| t.activity_logged_at = Some(at(2, 0))),
                at(7, 0),
                Some((Some(at(2, 0)), 7, 5)),
            ),
            (
                "a follow-up logged as it moved counts",
                with(&|t, _| t.activity_logged_at = Some(T0)),
                at(7, 0),
                Some((Some(T0), 7, 7)),
            ),
            (
                "the leaver's last follow-up, before the handover, does not",
                with(&|t, _| t.activity_logged_at = Some(at(-1, 0))),
                at(7, 0),
                Some((None, 7, 7)),
            ),
            (
                "a change by the receiver touches it",
                with(&|t, _| {
                    t.changed_by.insert(7, at(3, 30));
                }),
                at(7, 0),
                Some((Some(at(3, 30)), 7, 3)),
            ),
            (
                "a change by someone else (an admin, a rule) does not",
                with(&|t, _| {
                    t.changed_by.insert(1, at(3, 0));
                }),
                at(7, 0),
                Some((None, 7, 7)),
            ),
            (
                "the handover's own events, by a receiver who ran it, do not",
                with(&|t, _| {
                    t.changed_by.insert(7, T0);
                }),
                at(7, 0),
                Some((None, 7, 7)),
            ),
            (
                "the later of a follow-up and a change",
                with(&|t, _| {
                    t.activity_logged_at = Some(at(1, 0));
                    t.changed_by.insert(7, at(4, 0));
                }),
                at(9, 0),
                Some((Some(at(4, 0)), 9, 5)),
            ),
            (
                "never handed over: not inherited",
                (DealTrail::default(), deal(7)),
                at(7, 0),
                None,
            ),
            (
                "reassigned since: not inherited",
                with(&|t, o| {
                    o.owner_id = 8;
                    t.owner_changed_at = Some(at(1, 0));
                }),
                at(7, 0),
                None,
            ),
            (
                "reassigned away and back: not inherited",
                with(&|t, _| t.owner_changed_at = Some(at(1, 0))),
                at(7, 0),
                None,
            ),
            (
                "won: closed deals are not inherited",
                with(&|_, o| o.status = StageKind::Won),
                at(7, 0),
                None,
            ),
            (
                "lost",
                with(&|_, o| o.status = StageKind::Lost),
                at(7, 0),
                None,
            ),
            (
                "in the public pool",
                with(&|_, o| o.pool_since = Some(at(1, 0))),
                at(7, 0),
                None,
            ),
            ("archived", with(&|_, o| o.archived = true), at(7, 0), None),
            (
                "handed on again: the latest handover and its receiver count",
                with(&|t, o| {
                    t.handovers.push(HandedOver {
                        handover_id: 6,
                        at: at(3, 0),
                        to: 9,
                    });
                    t.owner_changed_at = Some(at(3, 0));
                    // The first receiver's follow-up before they left.
                    t.activity_logged_at = Some(at(2, 0));
                    t.changed_by.insert(7, at(2, 0));
                    o.owner_id = 9;
                }),
                at(10, 0),
                Some((None, 7, 7)),
            ),
        ];
        for (case, (trail, opp), now, want) in cases {
            let got = inherited(&opp, &trail).map(|i| {
                (
                    i.touched_at,
                    i.days_since_handover(now),
                    i.days_untouched(now),
                )
            });
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn the_report_reads_the_move_of_its_own_handover() {
        let mut trail = handed(7);
        trail.handovers.push(HandedOver {
            handover_id: 6,
            at: at(3, 0),
            to: 9,
        });
        trail.activity_logged_at = Some(at(1, 0));
        let first = trail.move_by(5).unwrap();
        let second = trail.move_by(6).unwrap();
        assert_eq!(trail.touched_since(&first), Some(at(1, 0)));
        assert_eq!(trail.touched_since(&second), None);
        assert_eq!(trail.move_by(4), None);
    }

    #[test]
    fn a_replaced_approver_is_not_doubled() {
        assert_eq!(replace_user(&[1, 2, 3], 2, 9), vec![1, 9, 3]);
        assert_eq!(replace_user(&[9, 2], 2, 9), vec![9]);
        assert_eq!(replace_user(&[1], 2, 9), vec![1]);
    }
}
