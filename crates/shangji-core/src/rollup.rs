//! Forecast categories per period, the manager roll-up along the team tree, and manager
//! adjustments: what each owner's numbers are for a period (from the deals valid now), how
//! they add up team by team, how an adjustment replaces a number, and who may adjust whom.
//! Pure; definitions in `docs/metrics.md` ("Forecast categories and the roll-up").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Month, OffsetDateTime};
use utoipa::ToSchema;

use crate::analytics::{ForecastInputs, Life, Weighting, Weights, CHINA};
use crate::error::FieldError;
use crate::model::*;
use crate::opportunity::EventKind;
use crate::visibility::{scope, subtree, Actor, Org, Scope};

/// The currency forecasts are kept in (amounts in other currencies are left out).
pub const FORECAST_CURRENCY: &str = "CNY";

/// An owner's (or a team's) numbers for one period, in CNY minor units. Open deals expected
/// to close in the period are split by their forecast category as of now: `commit +
/// best_case + pipeline + omitted` is the open amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Numbers {
    /// Won in the period (by the China day it was won).
    pub won: i64,
    pub commit: i64,
    pub best_case: i64,
    pub pipeline: i64,
    pub omitted: i64,
    /// Open amounts weighted by the chosen probability (as in the forecast).
    pub weighted: i64,
}

impl Numbers {
    /// The rep's call: won plus commit.
    pub fn call(&self) -> i64 {
        self.won + self.commit
    }

    /// The system forecast: won plus weighted.
    pub fn forecast(&self) -> i64 {
        self.won + self.weighted
    }

    pub fn open(&self) -> i64 {
        self.commit + self.best_case + self.pipeline + self.omitted
    }

    pub fn add(&mut self, o: &Numbers) {
        self.won += o.won;
        self.commit += o.commit;
        self.best_case += o.best_case;
        self.pipeline += o.pipeline;
        self.omitted += o.omitted;
        self.weighted += o.weighted;
    }
}

/// An opportunity's forecast category at instant `t`, replayed from its events: the one it
/// was created with, then each `forecast_category_changed` (a rep's override or a stage's
/// default on a move).
pub fn category_at(life: &Life, t: OffsetDateTime) -> Option<ForecastCategory> {
    let parse = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| s.parse::<ForecastCategory>().ok())
    };
    let mut cat = None;
    for e in life.events.iter().take_while(|e| e.at <= t) {
        match e.kind {
            EventKind::Created => {
                cat = parse(
                    e.new_value
                        .as_ref()
                        .and_then(|v| v.get("forecast_category")),
                )
            }
            EventKind::ForecastCategoryChanged => {
                if let Some(c) = parse(e.new_value.as_ref()) {
                    cat = Some(c);
                }
            }
            _ => {}
        }
    }
    cat
}

/// Each owner's numbers for each of `periods` (inclusive China dates) as of `now`, replayed
/// from lives (see [`owner_numbers_from`]).
pub fn owner_numbers(
    lives: &[Life],
    pipeline: &Pipeline,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    weighting: Weighting,
) -> Vec<BTreeMap<UserId, Numbers>> {
    let first = periods.first().map_or(now.date(), |p| p.0);
    owner_numbers_from(
        pipeline,
        &ForecastInputs::of(lives, pipeline, now, first),
        periods,
        weighting,
    )
}

/// Each owner's numbers for each of `periods`: a deal won counts in the period of the day it
/// was won; an open deal by its expected close date, its amount in the column of its
/// category and weighted by `weighting` exactly as [`crate::analytics::forecast_from`] does.
/// The owner is the owner now.
pub fn owner_numbers_from(
    pipeline: &Pipeline,
    inputs: &ForecastInputs,
    periods: &[(Date, Date)],
    weighting: Weighting,
) -> Vec<BTreeMap<UserId, Numbers>> {
    let weights = Weights::new(pipeline, &inputs.reach, weighting);
    let mut out: Vec<BTreeMap<UserId, Numbers>> = vec![BTreeMap::new(); periods.len()];
    let bucket = |d: Date| periods.iter().position(|&(a, b)| a <= d && d <= b);
    for v in &inputs.deals {
        match pipeline.stage(v.stage_id).map(|st| st.kind) {
            Some(StageKind::Won) => {
                if let Some(i) = bucket(v.stage_entered_at.to_offset(CHINA).date()) {
                    out[i].entry(v.owner_id).or_default().won += v.amount_minor;
                }
            }
            Some(StageKind::Open) => {
                let Some(i) = v.close_date.and_then(bucket) else {
                    continue;
                };
                let n = out[i].entry(v.owner_id).or_default();
                match v.forecast_category.unwrap_or(ForecastCategory::Pipeline) {
                    ForecastCategory::Commit => n.commit += v.amount_minor,
                    ForecastCategory::BestCase => n.best_case += v.amount_minor,
                    ForecastCategory::Omitted => n.omitted += v.amount_minor,
                    // An open deal marked closed is not yet won: pipeline.
                    ForecastCategory::Pipeline | ForecastCategory::Closed => {
                        n.pipeline += v.amount_minor
                    }
                }
                n.weighted += weights.weighted(v);
            }
            _ => {}
        }
    }
    out
}

/// A roll-up period: a month `YYYY-MM` or a quarter `YYYY-Qn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupPeriod {
    pub from: Date,
    /// Inclusive.
    pub to: Date,
}

impl RollupPeriod {
    /// Reads `YYYY-MM` or `YYYY-Qn` (field `field`).
    pub fn parse(field: &str, s: &str) -> Result<RollupPeriod, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                "invalid_period",
                format!("`{s}` is not a month (YYYY-MM) or a quarter (YYYY-Qn)"),
            )
        };
        let (y, rest) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let (first, months) = if let Some(q) = rest.strip_prefix('Q').or(rest.strip_prefix('q')) {
            let q: u8 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) || q.to_string() != rest[1..] {
                return Err(bad());
            }
            ((q - 1) * 3 + 1, 3u8)
        } else {
            if rest.len() != 2 {
                return Err(bad());
            }
            let m: u8 = rest.parse().map_err(|_| bad())?;
            (m, 1)
        };
        let month = Month::try_from(first).map_err(|_| bad())?;
        let from = Date::from_calendar_date(year, month, 1).map_err(|_| bad())?;
        let last = Month::try_from(first + months - 1).map_err(|_| bad())?;
        let to = Date::from_calendar_date(year, last, last.length(year)).map_err(|_| bad())?;
        Ok(RollupPeriod { from, to })
    }

    /// The canonical text: `2026-03` or `2026-Q1`.
    pub fn key(&self) -> String {
        if self.from.month() == self.to.month() {
            format!("{}-{:02}", self.from.year(), self.from.month() as u8)
        } else {
            format!(
                "{}-Q{}",
                self.from.year(),
                (self.from.month() as u8 - 1) / 3 + 1
            )
        }
    }
}

/// What an adjustment is on: a team's total or one rep's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Target {
    Team(TeamId),
    User(UserId),
}

/// A recorded adjustment: the manager's number for a target and period, replacing the
/// system's. Append-only; the latest (by time, then id) for a target and period counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Adjustment {
    pub id: i64,
    pub team_id: Option<TeamId>,
    pub user_id: Option<UserId>,
    /// `YYYY-MM` or `YYYY-Qn`.
    pub period: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub actor_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

impl Adjustment {
    pub fn target(&self) -> Option<Target> {
        match (self.team_id, self.user_id) {
            (Some(t), None) => Some(Target::Team(t)),
            (None, Some(u)) => Some(Target::User(u)),
            _ => None,
        }
    }
}

/// What a caller sends to record an adjustment.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    #[serde(default)]
    pub team_id: Option<TeamId>,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub amount_minor: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Longest reason kept.
pub const REASON_MAX: usize = 2000;

/// Checks an adjustment's fields (not the permission — see [`may_adjust`]): exactly one of
/// team or user, a month or quarter, an amount of 0 or more in the forecast's currency
/// (default CNY), and a reason.
pub fn check_adjustment(
    input: &AdjustmentInput,
) -> Result<(Target, RollupPeriod, i64, String), FieldError> {
    let target = match (input.team_id, input.user_id) {
        (Some(t), None) => Target::Team(t),
        (None, Some(u)) => Target::User(u),
        (None, None) => {
            return Err(FieldError::new(
                "team_id",
                "required",
                "give team_id or user_id",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "user_id",
                "invalid_target",
                "give team_id or user_id, not both",
            ))
        }
    };
    let period = RollupPeriod::parse(
        "period",
        input
            .period
            .as_deref()
            .ok_or_else(|| FieldError::new("period", "required", "period is required"))?,
    )?;
    let amount = input
        .amount_minor
        .ok_or_else(|| FieldError::new("amount_minor", "required", "amount_minor is required"))?;
    if amount < 0 {
        return Err(FieldError::new(
            "amount_minor",
            "out_of_range",
            "amount_minor is 0 or more",
        ));
    }
    crate::input::amount_minor("amount_minor", amount)?;
    let currency = input
        .currency
        .as_deref()
        .unwrap_or(FORECAST_CURRENCY)
        .trim();
    if currency != FORECAST_CURRENCY {
        return Err(FieldError::new(
            "currency",
            "currency_mismatch",
            format!("forecasts are in {FORECAST_CURRENCY}"),
        ));
    }
    let reason = input.reason.as_deref().unwrap_or("").trim().to_string();
    if reason.is_empty() {
        return Err(FieldError::new(
            "reason",
            "required",
            "say why the number is adjusted",
        ));
    }
    if reason.chars().count() > REASON_MAX {
        return Err(FieldError::new(
            "reason",
            "too_long",
            format!("at most {REASON_MAX} characters"),
        ));
    }
    Ok((target, period, amount, reason))
}

/// Who may adjust whom: an admin anyone; a director everything their visibility covers
/// (the whole company from the root or no team, else their subtree); a manager the teams of
/// their own team's subtree and the people on them; a rep no one.
pub fn may_adjust(actor: &Actor, org: &Org, target: Target) -> bool {
    let team_of = |u: UserId| org.users.iter().find(|(id, _)| *id == u).and_then(|x| x.1);
    let within = |root: TeamId| {
        let teams = subtree(&org.teams, root);
        match target {
            Target::Team(t) => teams.contains(&t),
            Target::User(u) => team_of(u).is_some_and(|t| teams.contains(&t)),
        }
    };
    let known = match target {
        Target::Team(t) => org.teams.iter().any(|x| x.id == t),
        Target::User(u) => org.users.iter().any(|(id, _)| *id == u),
    };
    if !known {
        return false;
    }
    match (actor.role, actor.team_id) {
        (Role::Admin, _) => true,
        (Role::Director, _) => match scope(actor, org) {
            Scope::All => true,
            _ => actor.team_id.is_some_and(within),
        },
        (Role::Manager, Some(team)) => within(team),
        (Role::Manager, None) | (Role::Rep, _) => false,
    }
}

/// One row of the roll-up: a team (its sub-teams and people below it) or a person.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Node {
    pub team_id: Option<TeamId>,
    pub user_id: Option<UserId>,
    /// The system's numbers: a person's own, a team's summed over everyone below it.
    pub numbers: Numbers,
    /// `won + weighted`.
    pub system_forecast: i64,
    /// `won + commit`.
    pub call: i64,
    /// The latest adjustment of this row for the period, if any.
    pub adjustment: Option<Adjustment>,
    /// A person: the adjustment, else the call. A team: the adjustment, else the sum of the
    /// totals of its sub-teams and its people.
    pub total: i64,
    /// Whether the caller may adjust this row.
    pub adjustable: bool,
    #[schema(no_recursion)]
    pub children: Vec<Node>,
}

/// The latest adjustment per target (by time, then id).
pub fn latest(adjustments: &[Adjustment]) -> BTreeMap<Target, &Adjustment> {
    let mut out: BTreeMap<Target, &Adjustment> = BTreeMap::new();
    for a in adjustments {
        let Some(t) = a.target() else { continue };
        match out.get(&t) {
            Some(b) if (b.at, b.id) >= (a.at, a.id) => {}
            _ => {
                out.insert(t, a);
            }
        }
    }
    out
}

fn person(user: UserId, numbers: &BTreeMap<UserId, Numbers>, adj: Option<&Adjustment>) -> Node {
    let n = numbers.get(&user).copied().unwrap_or_default();
    Node {
        team_id: None,
        user_id: Some(user),
        numbers: n,
        system_forecast: n.forecast(),
        call: n.call(),
        adjustment: adj.cloned(),
        total: adj.map_or(n.call(), |a| a.amount_minor),
        adjustable: false,
        children: vec![],
    }
}

fn team_node(
    org: &Org,
    team: TeamId,
    numbers: &BTreeMap<UserId, Numbers>,
    adj: &BTreeMap<Target, &Adjustment>,
) -> Node {
    let mut children: Vec<Node> = org
        .teams
        .iter()
        .filter(|t| t.parent_id == Some(team) && t.id != team)
        .map(|t| team_node(org, t.id, numbers, adj))
        .collect();
    children.extend(
        org.users
            .iter()
            .filter(|(_, t)| *t == Some(team))
            .map(|(u, _)| person(*u, numbers, adj.get(&Target::User(*u)).copied())),
    );
    let mut sum = Numbers::default();
    for c in &children {
        sum.add(&c.numbers);
    }
    let own = adj.get(&Target::Team(team)).copied();
    Node {
        team_id: Some(team),
        user_id: None,
        numbers: sum,
        system_forecast: sum.forecast(),
        call: sum.call(),
        adjustment: own.cloned(),
        total: own.map_or_else(
            || children.iter().map(|c| c.total).sum(),
            |a| a.amount_minor,
        ),
        adjustable: false,
        children,
    }
}

/// The roll-up rows for `actor`: from the root teams (an admin or a director at the top,
/// with people on no team after them), from their own team (a manager, a director lower
/// down), or just themselves (a rep). `numbers` are per person for the period;
/// `adjustments` are the period's, any order. Each row says whether the actor may adjust it.
pub fn rollup(
    actor: &Actor,
    org: &Org,
    numbers: &BTreeMap<UserId, Numbers>,
    adjustments: &[Adjustment],
) -> Vec<Node> {
    let adj = latest(adjustments);
    let mut roots = match (scope(actor, org), actor.team_id) {
        (Scope::All, _) => {
            let mut roots: Vec<Node> = org
                .teams
                .iter()
                .filter(|t| t.parent_id.is_none())
                .map(|t| team_node(org, t.id, numbers, &adj))
                .collect();
            roots.extend(
                org.users
                    .iter()
                    .filter(|(u, t)| t.is_none() && numbers.contains_key(u))
                    .map(|(u, _)| person(*u, numbers, adj.get(&Target::User(*u)).copied())),
            );
            roots
        }
        (Scope::Teams { .. }, Some(team)) => vec![team_node(org, team, numbers, &adj)],
        _ => vec![person(
            actor.user_id,
            numbers,
            adj.get(&Target::User(actor.user_id)).copied(),
        )],
    };
    fn mark(actor: &Actor, org: &Org, nodes: &mut [Node]) {
        for n in nodes {
            let target = match (n.team_id, n.user_id) {
                (Some(t), _) => Target::Team(t),
                (_, Some(u)) => Target::User(u),
                _ => continue,
            };
            n.adjustable = may_adjust(actor, org, target);
            mark(actor, org, &mut n.children);
        }
    }
    mark(actor, org, &mut roots);
    roots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opportunity::OpportunityEvent;
    use crate::process::{b2b_template, build_pipeline};
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    fn team(id: TeamId, parent: Option<TeamId>) -> Team {
        Team {
            id,
            name: format!("t{id}"),
            parent_id: parent,
            archived: false,
            regions: vec![],
        }
    }

    // 1 总公司 → 2 华东 → 4 上海组; 1 → 3 华南. People: 10 on 1 (a director), 20 manager
    // of 2, 21 rep on 2, 40 and 41 reps on 4, 30 manager of 3, 31 rep on 3, 50 on no team.
    fn org() -> Org {
        Org {
            teams: vec![
                team(1, None),
                team(2, Some(1)),
                team(3, Some(1)),
                team(4, Some(2)),
            ],
            users: vec![
                (10, Some(1)),
                (20, Some(2)),
                (21, Some(2)),
                (40, Some(4)),
                (41, Some(4)),
                (30, Some(3)),
                (31, Some(3)),
                (50, None),
            ],
        }
    }

    fn actor(user_id: UserId, role: Role, team_id: Option<TeamId>) -> Actor {
        Actor {
            user_id,
            role,
            team_id,
        }
    }

    fn n(won: i64, commit: i64, best_case: i64, pipeline: i64, weighted: i64) -> Numbers {
        Numbers {
            won,
            commit,
            best_case,
            pipeline,
            omitted: 0,
            weighted,
        }
    }

    fn adj(id: i64, target: Target, amount: i64, at_min: i64) -> Adjustment {
        let (team_id, user_id) = match target {
            Target::Team(t) => (Some(t), None),
            Target::User(u) => (None, Some(u)),
        };
        Adjustment {
            id,
            team_id,
            user_id,
            period: "2026-03".into(),
            amount_minor: amount,
            currency: "CNY".into(),
            reason: "r".into(),
            actor_id: 10,
            at: datetime!(2026-03-01 0:00 UTC) + time::Duration::minutes(at_min),
        }
    }

    fn find(nodes: &[Node], target: Target) -> Option<&Node> {
        for node in nodes {
            let me = match target {
                Target::Team(t) => node.team_id == Some(t),
                Target::User(u) => node.user_id == Some(u),
            };
            if me {
                return Some(node);
            }
            if let Some(x) = find(&node.children, target) {
                return Some(x);
            }
        }
        None
    }

    #[test]
    fn periods_parse() {
        let ok = [
            (
                "2026-03",
                date!(2026 - 03 - 01),
                date!(2026 - 03 - 31),
                "2026-03",
            ),
            (
                "2024-02",
                date!(2024 - 02 - 01),
                date!(2024 - 02 - 29),
                "2024-02",
            ),
            (
                "2026-Q1",
                date!(2026 - 01 - 01),
                date!(2026 - 03 - 31),
                "2026-Q1",
            ),
            (
                "2026-q4",
                date!(2026 - 10 - 01),
                date!(2026 - 12 - 31),
                "2026-Q4",
            ),
        ];
        for (s, from, to, key) in ok {
            let p = RollupPeriod::parse("period", s).unwrap();
            assert_eq!((p.from, p.to, p.key().as_str()), (from, to, key), "{s}");
        }
        for bad in [
            "2026", "2026-13", "2026-3", "2026-Q5", "2026-Q0", "26-01", "x-01", "",
        ] {
            let e = RollupPeriod::parse("period", bad).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                ("period", "invalid_period")
            );
        }
    }

    #[test]
    fn sums_along_a_three_level_tree() {
        let o = org();
        let numbers: BTreeMap<UserId, Numbers> = [
            (21, n(100, 50, 0, 0, 30)),
            (40, n(10, 20, 30, 40, 25)),
            (41, n(0, 5, 0, 0, 2)),
            (31, n(7, 0, 0, 9, 3)),
        ]
        .into_iter()
        .collect();
        let admin = actor(1, Role::Admin, None);
        let tree = rollup(&admin, &o, &numbers, &[]);
        // 上海组 = 40 + 41; 华东 = 上海组 + 20 + 21; 华南 = 30 + 31; 总公司 = 华东 + 华南 + 10.
        let cases = [
            (Target::Team(4), n(10, 25, 30, 40, 27), 35),
            (Target::Team(2), n(110, 75, 30, 40, 57), 185),
            (Target::Team(3), n(7, 0, 0, 9, 3), 7),
            (Target::Team(1), n(117, 75, 30, 49, 60), 192),
            (Target::User(40), n(10, 20, 30, 40, 25), 30),
            (Target::User(20), Numbers::default(), 0),
        ];
        for (target, want, total) in cases {
            let node = find(&tree, target).unwrap();
            assert_eq!(node.numbers, want, "{target:?}");
            assert_eq!((node.call, node.total), (want.call(), total), "{target:?}");
            assert_eq!(node.system_forecast, want.won + want.weighted);
        }
        // One root (总公司); 50 has no numbers, so no row.
        assert_eq!(tree.len(), 1);
        assert!(find(&tree, Target::User(50)).is_none());
    }

    #[test]
    fn an_adjustment_replaces_a_subtree_total() {
        let o = org();
        let numbers: BTreeMap<UserId, Numbers> = [
            (21, n(100, 50, 0, 0, 0)),
            (40, n(10, 20, 0, 0, 0)),
            (31, n(7, 0, 0, 0, 0)),
        ]
        .into_iter()
        .collect();
        let admin = actor(1, Role::Admin, None);
        // 上海组 adjusted twice (the later counts), 21 adjusted once.
        let adjustments = [
            adj(2, Target::Team(4), 60, 5),
            adj(1, Target::Team(4), 999, 1),
            adj(3, Target::User(21), 120, 2),
        ];
        let tree = rollup(&admin, &o, &numbers, &adjustments);
        let sh = find(&tree, Target::Team(4)).unwrap();
        assert_eq!((sh.call, sh.total), (30, 60));
        assert_eq!(sh.adjustment.as_ref().map(|a| a.id), Some(2));
        // 华东 = 上海组 adjusted 60 + 21 adjusted 120 + 20 with 0; its system call unchanged.
        let east = find(&tree, Target::Team(2)).unwrap();
        assert_eq!((east.call, east.total), (180, 180));
        assert_eq!(find(&tree, Target::Team(1)).unwrap().total, 187);
        // Adjusting 华东 itself replaces everything below it in the company's total.
        let more = [adjustments.to_vec(), vec![adj(4, Target::Team(2), 500, 9)]].concat();
        let tree = rollup(&admin, &o, &numbers, &more);
        assert_eq!(find(&tree, Target::Team(2)).unwrap().total, 500);
        assert_eq!(find(&tree, Target::Team(1)).unwrap().total, 507);
        // The same instant: the higher id is the later one.
        let tie = [adj(7, Target::Team(4), 1, 0), adj(8, Target::Team(4), 2, 0)];
        assert_eq!(latest(&tie)[&Target::Team(4)].id, 8);
    }

    #[test]
    fn who_may_adjust_whom() {
        let o = org();
        let admin = actor(1, Role::Admin, None);
        let director_top = actor(10, Role::Director, Some(1));
        let director_east = actor(20, Role::Director, Some(2));
        let mgr_east = actor(20, Role::Manager, Some(2));
        let mgr_south = actor(30, Role::Manager, Some(3));
        let mgr_none = actor(60, Role::Manager, None);
        let rep = actor(40, Role::Rep, Some(4));
        use Target::*;
        let cases = [
            (&admin, Team(3), true),
            (&admin, User(50), true),
            (&admin, Team(99), false),
            (&director_top, Team(1), true),
            (&director_top, User(31), true),
            (&director_east, Team(4), true),
            (&director_east, Team(3), false),
            (&mgr_east, Team(2), true),
            (&mgr_east, Team(4), true),
            (&mgr_east, User(41), true),
            (&mgr_east, User(21), true),
            (&mgr_east, Team(3), false),
            (&mgr_east, Team(1), false),
            (&mgr_east, User(31), false),
            (&mgr_east, User(50), false),
            (&mgr_south, Team(3), true),
            (&mgr_south, Team(4), false),
            (&mgr_none, User(60), false),
            (&rep, User(40), false),
            (&rep, Team(4), false),
        ];
        for (a, target, want) in cases {
            assert_eq!(may_adjust(a, &o, target), want, "{a:?} {target:?}");
        }
        // The roll-up marks rows the same way; a manager sees their own subtree only.
        let tree = rollup(&mgr_east, &o, &BTreeMap::new(), &[]);
        assert_eq!(tree.len(), 1);
        assert_eq!(tree[0].team_id, Some(2));
        assert!(tree[0].adjustable && find(&tree, User(41)).unwrap().adjustable);
        assert!(find(&tree, Team(3)).is_none());
        let mine = rollup(&rep, &o, &BTreeMap::new(), &[]);
        assert_eq!(
            (mine.len(), mine[0].user_id, mine[0].adjustable),
            (1, Some(40), false)
        );
    }

    #[test]
    fn adjustment_input_checks() {
        let ok = AdjustmentInput {
            team_id: Some(4),
            period: Some("2026-Q2".into()),
            amount_minor: Some(100),
            reason: Some("  大单推迟  ".into()),
            ..Default::default()
        };
        let (t, p, a, r) = check_adjustment(&ok).unwrap();
        assert_eq!(
            (t, p.key(), a, r.as_str()),
            (Target::Team(4), "2026-Q2".into(), 100, "大单推迟")
        );
        let with = |f: &dyn Fn(&mut AdjustmentInput)| {
            let mut i = ok.clone();
            f(&mut i);
            let e = check_adjustment(&i).unwrap_err();
            (e.field, e.code)
        };
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(with(&|i| i.reason = None), s("reason", "required"));
        assert_eq!(
            with(&|i| i.reason = Some("  ".into())),
            s("reason", "required")
        );
        assert_eq!(with(&|i| i.team_id = None), s("team_id", "required"));
        assert_eq!(
            with(&|i| i.user_id = Some(3)),
            s("user_id", "invalid_target")
        );
        assert_eq!(
            with(&|i| i.period = Some("2026-14".into())),
            s("period", "invalid_period")
        );
        assert_eq!(
            with(&|i| i.amount_minor = Some(-1)),
            s("amount_minor", "out_of_range")
        );
        assert_eq!(
            with(&|i| i.amount_minor = None),
            s("amount_minor", "required")
        );
        assert_eq!(
            with(&|i| i.currency = Some("USD".into())),
            s("currency", "currency_mismatch")
        );
    }

    fn ev(
        id: i64,
        opp: i64,
        kind: EventKind,
        at: OffsetDateTime,
        to: Option<i64>,
        new: Option<Value>,
    ) -> OpportunityEvent {
        OpportunityEvent {
            id,
            opportunity_id: opp,
            kind,
            actor_id: 1,
            at,
            from_stage_id: None,
            to_stage_id: to,
            old_value: None,
            new_value: new,
        }
    }

    #[test]
    fn numbers_by_owner_and_category_from_history() {
        let p = build_pipeline(&b2b_template(), 1, 10);
        let open = p
            .stages
            .iter()
            .find(|s| s.kind == StageKind::Open)
            .unwrap()
            .id;
        let won = p
            .stages
            .iter()
            .find(|s| s.kind == StageKind::Won)
            .unwrap()
            .id;
        let t0 = datetime!(2026-01-10 2:00 UTC);
        let created = |amount: i64, owner: i64, close: &str, cat: &str, prob: i64| {
            json!({"amount": {"amount_minor": amount, "currency": "CNY"}, "close_date": close,
                   "probability": prob, "forecast_category": cat, "owner_id": owner})
        };
        let events = vec![
            // 1: owner 7, 1000 in March, created pipeline, overridden to commit, 10%.
            ev(
                1,
                1,
                EventKind::Created,
                t0,
                Some(open),
                Some(created(1000, 7, "2026-03-15", "pipeline", 10)),
            ),
            ev(
                2,
                1,
                EventKind::ForecastCategoryChanged,
                t0 + time::Duration::days(1),
                None,
                Some(json!("commit")),
            ),
            // 2: owner 7, 400 in March, best case, 50%.
            ev(
                3,
                2,
                EventKind::Created,
                t0,
                Some(open),
                Some(created(400, 7, "2026-03-31", "best_case", 50)),
            ),
            // 3: owner 8, won 300 on 2026-03-02 (China day), created for April.
            ev(
                4,
                3,
                EventKind::Created,
                t0,
                Some(open),
                Some(created(300, 8, "2026-04-10", "pipeline", 10)),
            ),
            ev(
                5,
                3,
                EventKind::StageChanged,
                datetime!(2026-03-01 17:00 UTC),
                Some(won),
                None,
            ),
            // 4: owner 8, 200 in April, omitted.
            ev(
                6,
                4,
                EventKind::Created,
                t0,
                Some(open),
                Some(created(200, 8, "2026-04-01", "omitted", 50)),
            ),
            // 5: owner 8, USD: left out.
            ev(
                7,
                5,
                EventKind::Created,
                t0,
                Some(open),
                Some(
                    json!({"amount": {"amount_minor": 9, "currency": "USD"}, "close_date": "2026-03-01", "probability": 50, "forecast_category": "commit", "owner_id": 8}),
                ),
            ),
        ];
        let lives = crate::analytics::lives(&events);
        let now = datetime!(2026-03-05 0:00 UTC);
        let periods = [
            (date!(2026 - 03 - 01), date!(2026 - 03 - 31)),
            (date!(2026 - 04 - 01), date!(2026 - 04 - 30)),
        ];
        let out = owner_numbers(&lives, &p, now, &periods, Weighting::Configured);
        let mut want_march = BTreeMap::new();
        want_march.insert(
            7,
            Numbers {
                commit: 1000,
                best_case: 400,
                weighted: 100 + 200,
                ..Default::default()
            },
        );
        want_march.insert(
            8,
            Numbers {
                won: 300,
                ..Default::default()
            },
        );
        assert_eq!(out[0], want_march);
        let mut want_april = BTreeMap::new();
        want_april.insert(
            8,
            Numbers {
                omitted: 200,
                weighted: 100,
                ..Default::default()
            },
        );
        assert_eq!(out[1], want_april);
        // Before the override, deal 1 was pipeline.
        let before = owner_numbers(&lives, &p, t0, &periods, Weighting::Configured);
        assert_eq!((before[0][&7].pipeline, before[0][&7].commit), (1000, 0));
        // The weighted and won sums equal the forecast's, whatever the weighting.
        for w in [
            Weighting::Configured,
            Weighting::Empirical,
            Weighting::Blended,
        ] {
            let f = crate::analytics::forecast(&lives, &p, now, &periods, w);
            let o = owner_numbers(&lives, &p, now, &periods, w);
            for (b, per) in f.iter().zip(&o) {
                let mut s = Numbers::default();
                per.values().for_each(|x| s.add(x));
                assert_eq!(
                    (s.won, s.weighted, s.open()),
                    (b.won, b.weighted, b.open),
                    "{w:?}"
                );
            }
        }
    }

    proptest! {
        /// A team's total is the sum of its children's totals unless it is adjusted itself.
        #[test]
        fn team_total_is_the_sum_of_its_children_unless_adjusted(
            amounts in proptest::collection::vec((0i64..1000, 0i64..1000), 8),
            adjusted in proptest::collection::vec((0usize..12, 0i64..5000), 0..6),
        ) {
            let o = org();
            let people = [10, 20, 21, 40, 41, 30, 31, 50];
            let numbers: BTreeMap<UserId, Numbers> = people
                .iter()
                .zip(&amounts)
                .map(|(u, (w, c))| (*u, n(*w, *c, 0, 0, 0)))
                .collect();
            let targets: Vec<Target> = [1, 2, 3, 4].iter().map(|t| Target::Team(*t))
                .chain(people.iter().map(|u| Target::User(*u))).collect();
            let adjustments: Vec<Adjustment> = adjusted
                .iter()
                .enumerate()
                .map(|(i, (t, a))| adj(i as i64 + 1, targets[*t], *a, i as i64))
                .collect();
            let tree = rollup(&actor(1, Role::Admin, None), &o, &numbers, &adjustments);
            fn check(node: &Node) {
                match (&node.adjustment, node.team_id) {
                    (Some(a), _) => assert_eq!(node.total, a.amount_minor),
                    (None, Some(_)) => {
                        assert_eq!(node.total, node.children.iter().map(|c| c.total).sum::<i64>())
                    }
                    (None, None) => assert_eq!(node.total, node.call),
                }
                let mut s = Numbers::default();
                node.children.iter().for_each(|c| s.add(&c.numbers));
                if node.team_id.is_some() {
                    assert_eq!(s, node.numbers);
                }
                node.children.iter().for_each(check);
            }
            tree.iter().for_each(check);
        }
    }
}
