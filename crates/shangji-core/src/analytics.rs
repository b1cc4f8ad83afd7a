//! Funnel analytics from the stage history: each opportunity's life replayed from its events
//! (never from its current state alone), then stage conversion, time in stage, win rate, the
//! pipeline as it stood at any instant, the change waterfall between two instants, and the
//! empirical probability of winning from each stage. Pure: the events, the pipeline and the
//! period come in; numbers go out. Definitions are in `docs/metrics.md`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::model::*;
use crate::opportunity::{EventKind, OpportunityEvent};
use crate::projection;

/// A half-open interval of instants `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

impl Period {
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        self.from <= t && t < self.to
    }
}

/// One stay of an opportunity in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub stage_id: StageId,
    pub from: OffsetDateTime,
    /// `None` while it is still there.
    pub to: Option<OffsetDateTime>,
}

/// What an opportunity was at one instant, replayed from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub pipeline_id: Option<PipelineId>,
    pub stage_id: StageId,
    pub amount_minor: i64,
    pub currency: String,
    pub close_date: Option<Date>,
    pub probability: i32,
    pub owner_id: UserId,
    pub archived: bool,
}

/// An opportunity's replayed life: its stays and the events it went through, oldest first.
#[derive(Debug, Clone)]
pub struct Life<'a> {
    pub opportunity_id: OpportunityId,
    pub created_at: OffsetDateTime,
    pub spans: Vec<Span>,
    pub events: Vec<&'a OpportunityEvent>,
}

/// Groups events by opportunity and replays each into its stays. Events need not be sorted;
/// an opportunity without a `created` event (history cut by a period) is left out.
pub fn lives(events: &[OpportunityEvent]) -> Vec<Life<'_>> {
    let mut by_opp: BTreeMap<OpportunityId, Vec<&OpportunityEvent>> = BTreeMap::new();
    for e in events {
        by_opp.entry(e.opportunity_id).or_default().push(e);
    }
    by_opp
        .into_iter()
        .filter_map(|(id, mut evs)| {
            evs.sort_by_key(|e| (e.at, e.id));
            let created = evs.iter().find(|e| e.kind == EventKind::Created)?;
            let mut spans = vec![Span {
                stage_id: created.to_stage_id?,
                from: created.at,
                to: None,
            }];
            for e in &evs {
                let moved = matches!(e.kind, EventKind::StageChanged | EventKind::PipelineChanged);
                if let (true, Some(to)) = (moved, e.to_stage_id) {
                    if let Some(last) = spans.last_mut() {
                        last.to = Some(e.at);
                    }
                    spans.push(Span {
                        stage_id: to,
                        from: e.at,
                        to: None,
                    });
                }
            }
            Some(Life {
                opportunity_id: id,
                created_at: created.at,
                spans,
                events: evs,
            })
        })
        .collect()
}

fn money_of(v: &Value) -> Option<(i64, String)> {
    Some((
        v.get("amount_minor")?.as_i64()?,
        v.get("currency")?.as_str()?.to_string(),
    ))
}

fn date_of(v: &Value) -> Option<Date> {
    v.as_str()
        .and_then(|s| Date::parse(s, &time::format_description::well_known::Iso8601::DATE).ok())
}

impl Life<'_> {
    /// The opportunity as it was at instant `t` (events at `t` included); `None` before it
    /// was created.
    pub fn state_at(&self, t: OffsetDateTime) -> Option<State> {
        let mut state: Option<State> = None;
        for e in self.events.iter().take_while(|e| e.at <= t) {
            let new = e.new_value.as_ref();
            match (e.kind, state.as_mut()) {
                (EventKind::Created, _) => {
                    let v = new.cloned().unwrap_or(Value::Null);
                    let (amount_minor, currency) = v
                        .get("amount")
                        .and_then(money_of)
                        .unwrap_or((0, "CNY".into()));
                    state = Some(State {
                        pipeline_id: None,
                        stage_id: e.to_stage_id.unwrap_or_default(),
                        amount_minor,
                        currency,
                        close_date: v.get("close_date").and_then(date_of),
                        probability: v
                            .get("probability")
                            .and_then(Value::as_i64)
                            .unwrap_or_default() as i32,
                        owner_id: v
                            .get("owner_id")
                            .and_then(Value::as_i64)
                            .unwrap_or(e.actor_id),
                        archived: false,
                    });
                }
                (_, None) => {}
                (EventKind::StageChanged, Some(s)) => {
                    s.stage_id = e.to_stage_id.unwrap_or(s.stage_id)
                }
                (EventKind::PipelineChanged, Some(s)) => {
                    s.stage_id = e.to_stage_id.unwrap_or(s.stage_id);
                    s.pipeline_id = new
                        .and_then(|v| v.get("pipeline_id"))
                        .and_then(Value::as_i64);
                }
                (EventKind::AmountChanged, Some(s)) => {
                    if let Some((a, c)) = new.and_then(money_of) {
                        s.amount_minor = a;
                        s.currency = c;
                    }
                }
                (EventKind::CloseDateChanged, Some(s)) => s.close_date = new.and_then(date_of),
                (EventKind::ProbabilityChanged, Some(s)) => {
                    if let Some(p) = new.and_then(Value::as_i64) {
                        s.probability = p as i32;
                    }
                }
                (EventKind::OwnerChanged, Some(s)) => {
                    if let Some(o) = new.and_then(Value::as_i64) {
                        s.owner_id = o;
                    }
                }
                (EventKind::Archived, Some(s)) => s.archived = true,
                (EventKind::Restored, Some(s)) => s.archived = false,
                _ => {}
            }
        }
        state
    }

    /// Total time spent in `stage` (re-entries add up), counting a stay still going until
    /// `now`.
    pub fn time_in(&self, stage: StageId, now: OffsetDateTime) -> time::Duration {
        self.spans
            .iter()
            .filter(|s| s.stage_id == stage)
            .map(|s| s.to.unwrap_or(now) - s.from)
            .sum()
    }
}

/// The kind and order of the stages an analysis knows.
fn kind_of(pipeline: &Pipeline, stage: StageId) -> Option<StageKind> {
    pipeline.stage(stage).map(|s| s.kind)
}

/// Conversion of one stage for a cohort: the opportunities that entered it in the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StageConversion {
    pub stage_id: StageId,
    /// Opportunities that entered the stage in the period (once each).
    pub entered: u64,
    /// Of those, later entered a later stage or won.
    pub advanced: u64,
    /// Of those, later won.
    pub won: u64,
    /// Of those, later lost without advancing.
    pub lost: u64,
    /// Neither advanced nor lost yet.
    pub open: u64,
    /// advanced ÷ entered (0 when nothing entered).
    pub conversion: f64,
    /// won ÷ entered.
    pub to_won: f64,
}

/// Stage conversion by entry cohort (product brief: "of the opportunities that entered stage S
/// in a period, the share that later entered a later stage (or won); lost opportunities count
/// as entered, not advanced"). One row per open stage of the pipeline, in order.
pub fn funnel(lives: &[Life], pipeline: &Pipeline, period: Period) -> Vec<StageConversion> {
    funnel_from(
        pipeline,
        &projection::funnel_counts(&stays_of(lives, pipeline), period),
    )
}

/// The open stages of a pipeline in order.
fn open_stages(pipeline: &Pipeline) -> Vec<&Stage> {
    let mut open: Vec<&Stage> = pipeline
        .stages
        .iter()
        .filter(|s| s.kind == StageKind::Open)
        .collect();
    open.sort_by_key(|s| s.position);
    open
}

/// The stages of one kind.
pub fn stages_of_kind(pipeline: &Pipeline, kind: StageKind) -> Vec<StageId> {
    pipeline
        .stages
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| s.id)
        .collect()
}

/// Every life's stays (see [`projection::stays`]).
pub fn stays_of(lives: &[Life], pipeline: &Pipeline) -> Vec<projection::StayRow> {
    lives
        .iter()
        .flat_map(|l| projection::stays(l, pipeline))
        .collect()
}

/// Every life's versions (see [`projection::versions`]).
pub fn versions_of(lives: &[Life]) -> Vec<projection::VersionRow> {
    lives.iter().flat_map(projection::versions).collect()
}

/// The funnel from entry counts (see [`projection::funnel_counts`]).
pub fn funnel_from(
    pipeline: &Pipeline,
    counts: &[projection::FunnelCount],
) -> Vec<StageConversion> {
    open_stages(pipeline)
        .iter()
        .map(|stage| {
            let c = counts
                .iter()
                .find(|c| c.stage_id == stage.id)
                .copied()
                .unwrap_or_default();
            StageConversion {
                stage_id: stage.id,
                entered: c.entered,
                advanced: c.advanced,
                won: c.won,
                lost: c.lost,
                open: c.entered - c.advanced - c.lost,
                conversion: ratio(c.advanced, c.entered),
                to_won: ratio(c.won, c.entered),
            }
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The `p`-th percentile (0 < p ≤ 100) by the nearest-rank method; `None` for no values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Time in a stage: median, P75 and P90 of the total time (in hours) that opportunities
/// leaving the stage in the period spent in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageTime {
    pub stage_id: StageId,
    pub count: u64,
    pub median_hours: Option<i64>,
    pub p75_hours: Option<i64>,
    pub p90_hours: Option<i64>,
}

pub fn time_in_stage(lives: &[Life], pipeline: &Pipeline, period: Period) -> Vec<StageTime> {
    time_in_stage_from(
        pipeline,
        &projection::stage_times(&stays_of(lives, pipeline), period),
    )
}

/// Time in stage from (stage, whole hours, how many) (see [`projection::stage_times`]).
pub fn time_in_stage_from(pipeline: &Pipeline, times: &[(StageId, i64, u64)]) -> Vec<StageTime> {
    open_stages(pipeline)
        .iter()
        .map(|stage| {
            let mut hours: Vec<i64> = times
                .iter()
                .filter(|(s, _, _)| *s == stage.id)
                .flat_map(|&(_, h, n)| std::iter::repeat_n(h, n as usize))
                .collect();
            hours.sort_unstable();
            StageTime {
                stage_id: stage.id,
                count: hours.len() as u64,
                median_hours: percentile(&hours, 50),
                p75_hours: percentile(&hours, 75),
                p90_hours: percentile(&hours, 90),
            }
        })
        .collect()
}

/// Win rate among the opportunities closed (last won or lost) in the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WinRate {
    pub won: u64,
    pub lost: u64,
    /// Amounts at closing, in minor units, per currency: (won, lost).
    pub amounts: BTreeMap<String, (i64, i64)>,
    pub by_count: f64,
    /// Won amount ÷ closed amount, in the main currency (CNY, else the first).
    pub by_amount: f64,
}

pub fn win_rate(lives: &[Life], pipeline: &Pipeline, period: Period) -> WinRate {
    win_rate_from(
        pipeline,
        &projection::closed_by(&stays_of(lives, pipeline), period, |_| String::new()),
    )
}

/// The win rate from the deals closed in a period (see [`projection::closed_by`]; the keys
/// are not read).
pub fn win_rate_from(pipeline: &Pipeline, closed: &[projection::KeyedCount]) -> WinRate {
    let (mut won, mut lost) = (0, 0);
    let mut amounts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for c in closed {
        let entry = amounts.entry(c.currency.clone()).or_default();
        if kind_of(pipeline, c.stage_id) == Some(StageKind::Won) {
            won += c.count;
            entry.0 += c.amount;
        } else {
            lost += c.count;
            entry.1 += c.amount;
        }
    }
    let main = amounts
        .get("CNY")
        .or_else(|| amounts.values().next())
        .copied()
        .unwrap_or_default();
    WinRate {
        won,
        lost,
        by_count: ratio(won, won + lost),
        by_amount: if main.0 + main.1 == 0 {
            0.0
        } else {
            main.0 as f64 / (main.0 + main.1) as f64
        },
        amounts,
    }
}

/// Closed deals grouped one way: count and CNY amount (minor units; deals in other
/// currencies count but add no amount) won and lost per value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct WinLossRow {
    /// The loss reason key, competitor, stage id or owner id, as text; `""` when none.
    pub value: String,
    pub won: u64,
    pub lost: u64,
    pub won_amount: i64,
    pub lost_amount: i64,
}

/// Win/loss analysis of the deals closed in the period (as [`win_rate`] counts them): by loss
/// reason, by competitor, by the stage a lost deal was lost from, and by owner at closing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct WinLoss {
    pub by_reason: Vec<WinLossRow>,
    pub by_competitor: Vec<WinLossRow>,
    pub by_stage_lost: Vec<WinLossRow>,
    pub by_owner: Vec<WinLossRow>,
}

pub fn win_loss(lives: &[Life], pipeline: &Pipeline, period: Period) -> WinLoss {
    use projection::closed_by;
    let stays = stays_of(lives, pipeline);
    win_loss_from(
        pipeline,
        WinLossInputs {
            by_reason: closed_by(&stays, period, |s| s.loss_reason.clone()),
            by_competitor: closed_by(&stays, period, |s| s.competitor.clone()),
            by_stage_lost: closed_by(&stays, period, |s| {
                s.from_stage_id.map_or(String::new(), |id| id.to_string())
            }),
            by_owner: closed_by(&stays, period, |s| s.entry_owner_id.to_string()),
        },
    )
}

/// Closed deals counted four ways (see [`projection::closed_by`]).
#[derive(Debug, Clone, Default)]
pub struct WinLossInputs {
    pub by_reason: Vec<projection::KeyedCount>,
    pub by_competitor: Vec<projection::KeyedCount>,
    pub by_stage_lost: Vec<projection::KeyedCount>,
    pub by_owner: Vec<projection::KeyedCount>,
}

pub fn win_loss_from(pipeline: &Pipeline, i: WinLossInputs) -> WinLoss {
    let lost_only = |v: Vec<projection::KeyedCount>| {
        v.into_iter()
            .filter(|c| kind_of(pipeline, c.stage_id) == Some(StageKind::Lost))
            .collect::<Vec<_>>()
    };
    WinLoss {
        by_reason: win_loss_rows(pipeline, &lost_only(i.by_reason)),
        by_competitor: win_loss_rows(pipeline, &lost_only(i.by_competitor)),
        by_stage_lost: win_loss_rows(pipeline, &lost_only(i.by_stage_lost)),
        by_owner: win_loss_rows(pipeline, &i.by_owner),
    }
}

/// The CNY part of a count's amount (deals in other currencies count but add no amount).
fn cny(c: &projection::KeyedCount) -> i64 {
    if c.currency == "CNY" {
        c.amount
    } else {
        0
    }
}

/// Closed deals by key: won and lost counts and CNY amounts per value, most deals first.
pub fn win_loss_rows(pipeline: &Pipeline, counts: &[projection::KeyedCount]) -> Vec<WinLossRow> {
    let mut rows: BTreeMap<&str, WinLossRow> = BTreeMap::new();
    for c in counts {
        let row = rows.entry(&c.key).or_insert_with(|| WinLossRow {
            value: c.key.clone(),
            ..Default::default()
        });
        if kind_of(pipeline, c.stage_id) == Some(StageKind::Won) {
            row.won += c.count;
            row.won_amount += cny(c);
        } else {
            row.lost += c.count;
            row.lost_amount += cny(c);
        }
    }
    let mut v: Vec<WinLossRow> = rows.into_values().collect();
    v.sort_by(|a, b| {
        (b.lost + b.won)
            .cmp(&(a.lost + a.won))
            .then(a.value.cmp(&b.value))
    });
    v
}

/// One person's results in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct LeaderRow {
    pub owner_id: UserId,
    /// Deals closed in the period, by their owner at closing.
    pub won: u64,
    pub lost: u64,
    pub won_amount: i64,
    pub win_rate: f64,
    /// Deals created in the period, by their first owner, and their amount then.
    pub created: u64,
    pub created_amount: i64,
    /// Customer-facing follow-ups logged in the period (filled by the caller, which reads the
    /// activities).
    pub follow_ups: u64,
}

/// Won amount, win rate and pipeline created per owner, most won first.
pub fn leaderboard(lives: &[Life], pipeline: &Pipeline, period: Period) -> Vec<LeaderRow> {
    let stays = stays_of(lives, pipeline);
    let owner = |s: &projection::StayRow| s.entry_owner_id.to_string();
    leaderboard_from(
        pipeline,
        &projection::closed_by(&stays, period, owner),
        &projection::created_by(&stays, period, owner),
    )
}

/// `closed` and `created` are keyed by owner id.
pub fn leaderboard_from(
    pipeline: &Pipeline,
    closed: &[projection::KeyedCount],
    created: &[projection::KeyedCount],
) -> Vec<LeaderRow> {
    let mut rows: BTreeMap<UserId, LeaderRow> = BTreeMap::new();
    fn row<'a>(rows: &'a mut BTreeMap<UserId, LeaderRow>, key: &str) -> &'a mut LeaderRow {
        let owner_id = key.parse().unwrap_or_default();
        let r = rows.entry(owner_id).or_default();
        r.owner_id = owner_id;
        r
    }
    for c in created {
        let r = row(&mut rows, &c.key);
        r.created += c.count;
        r.created_amount += cny(c);
    }
    for c in closed {
        let r = row(&mut rows, &c.key);
        if kind_of(pipeline, c.stage_id) == Some(StageKind::Won) {
            r.won += c.count;
            r.won_amount += cny(c);
        } else {
            r.lost += c.count;
        }
    }
    let mut out: Vec<LeaderRow> = rows
        .into_values()
        .map(|mut r| {
            r.win_rate = ratio(r.won, r.won + r.lost);
            r
        })
        .collect();
    out.sort_by(|a, b| {
        b.won_amount
            .cmp(&a.won_amount)
            .then(b.created_amount.cmp(&a.created_amount))
            .then(a.owner_id.cmp(&b.owner_id))
    });
    out
}

/// Size of one stage at an instant: open deals, amount and weighted amount (CNY minor units).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageSize {
    pub stage_id: StageId,
    pub count: u64,
    pub amount: i64,
    pub weighted: i64,
    /// The open amount this stage would need, by the history's conversion from it to won, to
    /// win the target: `target ÷ P(won | in this stage)`; `None` when nothing from it was won.
    pub needed: Option<i64>,
}

/// The 4S of seed 001 for one period: Size and Shape at its end, Speed and Success within it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FourS {
    pub size: Vec<StageSize>,
    pub open_count: u64,
    pub open_amount: i64,
    pub weighted_amount: i64,
    /// Median hours in each open stage (deals leaving it in the period).
    pub speed: Vec<StageTime>,
    /// Median days from creation to winning, deals won in the period.
    pub cycle_days: Option<i64>,
    /// Open deals × win rate × average won amount ÷ cycle days, minor units per day.
    pub velocity_per_day: Option<i64>,
    pub success: Vec<StageConversion>,
    pub win_rate: WinRate,
}

/// What the 4S of one period is computed from (see the functions of [`projection`]).
#[derive(Debug, Clone, Default)]
pub struct FourSInputs {
    pub entries: Vec<projection::FunnelCount>,
    pub closed: Vec<projection::KeyedCount>,
    /// All history (not only the period's): the shape's yardstick.
    pub reach: Vec<projection::ReachCount>,
    /// Open deals per stage at the period's last instant, in CNY.
    pub size: Vec<projection::SizeCount>,
    pub stage_times: Vec<(StageId, i64, u64)>,
    pub cycles: Vec<i64>,
}

impl FourSInputs {
    /// The inputs replayed from lives.
    pub fn of(lives: &[Life], pipeline: &Pipeline, period: Period) -> FourSInputs {
        let stays = stays_of(lives, pipeline);
        let open: Vec<StageId> = open_stages(pipeline).iter().map(|s| s.id).collect();
        FourSInputs {
            entries: projection::funnel_counts(&stays, period),
            closed: projection::closed_by(&stays, period, |_| String::new()),
            reach: projection::reach_counts(&stays),
            size: projection::size_at(&versions_of(lives), &open, size_instant(period), "CNY"),
            stage_times: projection::stage_times(&stays, period),
            cycles: projection::won_cycles(
                &stays,
                &stages_of_kind(pipeline, StageKind::Won),
                period,
            ),
        }
    }
}

/// Size and Shape are read at the period's last instant.
pub fn size_instant(period: Period) -> OffsetDateTime {
    period.to - time::Duration::milliseconds(1)
}

/// The 4S for `period`, in CNY. `target` is the amount to win that Shape measures against
/// (default: what was won in the period).
pub fn four_s(lives: &[Life], pipeline: &Pipeline, period: Period, target: Option<i64>) -> FourS {
    four_s_from(pipeline, FourSInputs::of(lives, pipeline, period), target)
}

pub fn four_s_from(pipeline: &Pipeline, inputs: FourSInputs, target: Option<i64>) -> FourS {
    let success = funnel_from(pipeline, &inputs.entries);
    let win_rate = win_rate_from(pipeline, &inputs.closed);
    let target = target.unwrap_or_else(|| win_rate.amounts.get("CNY").map_or(0, |a| a.0));
    let cal = calibration_from(pipeline, &inputs.reach);
    let size: Vec<StageSize> = success
        .iter()
        .map(|c| {
            let n = inputs
                .size
                .iter()
                .find(|s| s.stage_id == c.stage_id)
                .copied()
                .unwrap_or_default();
            StageSize {
                stage_id: c.stage_id,
                count: n.count,
                amount: n.amount,
                weighted: n.weighted,
                needed: cal
                    .iter()
                    .find(|k| k.stage_id == c.stage_id && k.won > 0)
                    .map(|k| (target as f64 / k.empirical).round() as i64),
            }
        })
        .collect();
    let mut cycles = inputs.cycles;
    cycles.sort_unstable();
    let cycle_days = percentile(&cycles, 50);
    let open_count: u64 = size.iter().map(|r| r.count).sum();
    let won_cny = win_rate.amounts.get("CNY").map_or(0, |a| a.0);
    let velocity_per_day = match cycle_days {
        Some(d) if d > 0 && win_rate.won > 0 => Some(
            (open_count as f64 * win_rate.by_count * (won_cny as f64 / win_rate.won as f64)
                / d as f64)
                .round() as i64,
        ),
        _ => None,
    };
    FourS {
        open_amount: size.iter().map(|r| r.amount).sum(),
        weighted_amount: size.iter().map(|r| r.weighted).sum(),
        open_count,
        size,
        speed: time_in_stage_from(pipeline, &inputs.stage_times),
        cycle_days,
        velocity_per_day,
        success,
        win_rate,
    }
}

/// Which probability weighs an open deal in a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// The deal's probability (its stage's default unless overridden).
    Configured,
    /// P(won | reached its stage) from the closed history.
    Empirical,
    /// The mean of the two.
    Blended,
}

/// One forecast period: what was won in it, and the open deals expected to close in it,
/// weighted (CNY minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ForecastBucket {
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Inclusive.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    pub won: i64,
    pub open: i64,
    pub weighted: i64,
    /// `won + weighted`.
    pub forecast: i64,
}

/// What a forecast as of `now` reads (see [`ForecastInputs::of`]).
#[derive(Debug, Clone, Default)]
pub struct ForecastInputs {
    /// The deals valid now in CNY, not archived: every open one, and the won ones that were
    /// won since the forecast's first day.
    pub deals: Vec<projection::VersionRow>,
    /// How many reached each stage by the stage they are in now: the empirical probability.
    pub reach: Vec<projection::ReachCount>,
    /// Days from entering a stage to winning (see [`projection::to_win_days`]).
    pub to_win: Vec<(StageId, i64, u64)>,
}

impl ForecastInputs {
    /// The inputs replayed from lives, for periods starting on `first_day` (China time).
    pub fn of(lives: &[Life], pipeline: &Pipeline, now: OffsetDateTime, first_day: Date) -> Self {
        let stays = stays_of(lives, pipeline);
        let won = stages_of_kind(pipeline, StageKind::Won);
        let open = stages_of_kind(pipeline, StageKind::Open);
        let mut stages = open.clone();
        stages.extend(&won);
        let versions = versions_of(lives);
        ForecastInputs {
            deals: projection::deals_at(
                &versions,
                &stages,
                &open,
                china_day_start(first_day),
                now,
                "CNY",
            )
            .into_iter()
            .cloned()
            .collect(),
            reach: projection::reach_counts(&stays),
            to_win: projection::to_win_days(&stays, &won),
        }
    }
}

pub use crate::calendar::china_day_start;

/// The weighted forecast as of `now` for consecutive periods of expected close dates. A won
/// deal counts in the period of the day it was won (China time); an open deal by its
/// expected close date, weighted by `weighting`.
pub fn forecast(
    lives: &[Life],
    pipeline: &Pipeline,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    weighting: Weighting,
) -> Vec<ForecastBucket> {
    let first = periods.first().map_or(now.date(), |p| p.0);
    forecast_from(
        pipeline,
        &ForecastInputs::of(lives, pipeline, now, first),
        periods,
        weighting,
    )
}

pub fn forecast_from(
    pipeline: &Pipeline,
    inputs: &ForecastInputs,
    periods: &[(Date, Date)],
    weighting: Weighting,
) -> Vec<ForecastBucket> {
    let weights = Weights::new(pipeline, &inputs.reach, weighting);
    let mut out: Vec<ForecastBucket> = periods
        .iter()
        .map(|&(from, to)| ForecastBucket {
            from,
            to,
            won: 0,
            open: 0,
            weighted: 0,
            forecast: 0,
        })
        .collect();
    let bucket = |d: Date| periods.iter().position(|&(a, b)| a <= d && d <= b);
    for v in &inputs.deals {
        match kind_of(pipeline, v.stage_id) {
            Some(StageKind::Won) => {
                if let Some(i) = bucket(v.stage_entered_at.to_offset(CHINA).date()) {
                    out[i].won += v.amount_minor;
                }
            }
            Some(StageKind::Open) => {
                let Some(i) = v.close_date.and_then(bucket) else {
                    continue;
                };
                out[i].open += v.amount_minor;
                out[i].weighted += weights.weighted(v);
            }
            _ => {}
        }
    }
    for b in &mut out {
        b.forecast = b.won + b.weighted;
    }
    out
}

/// What an open deal counts for in a weighted forecast.
pub struct Weights {
    weighting: Weighting,
    calibration: Vec<Calibration>,
}

impl Weights {
    /// The weights of `weighting`, with the empirical probabilities of the reach counts.
    pub fn new(
        pipeline: &Pipeline,
        reach: &[projection::ReachCount],
        weighting: Weighting,
    ) -> Self {
        Weights {
            weighting,
            calibration: calibration_from(pipeline, reach),
        }
    }

    /// The deal's amount times its probability (configured, empirical in its stage, or the
    /// mean of both), rounded to the minor unit.
    pub fn weighted(&self, v: &projection::VersionRow) -> i64 {
        let configured = v.probability as f64 / 100.0;
        let empirical = || {
            self.calibration
                .iter()
                .find(|c| c.stage_id == v.stage_id)
                .map_or(0.0, |c| c.empirical)
        };
        let p = match self.weighting {
            Weighting::Configured => configured,
            Weighting::Empirical => empirical(),
            Weighting::Blended => (configured + empirical()) / 2.0,
        };
        (v.amount_minor as f64 * p).round() as i64
    }
}

pub(crate) use crate::calendar::CHINA;

/// A simulated forecast period: percentiles of won amount (CNY minor units) over the runs,
/// the amount already won in it included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SimulatedBucket {
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    pub p10: i64,
    pub p50: i64,
    pub p90: i64,
    pub mean: i64,
}

/// Monte Carlo forecast (seeded): in each run every open deal is won with P(won | reached its
/// stage) from the closed history, and if won closes after a time drawn from the times that
/// deals won from that stage took since entering it (still-running stays resume where they
/// are; a draw already past closes it today). Deals already won in a period add to every run.
/// Deals of a stage from which nothing was ever won are never won. The runs are split into
/// fixed blocks, each with its own seed derived from `seed`, computed in parallel: the same
/// seed gives the same numbers on any machine.
pub fn monte_carlo(
    lives: &[Life],
    pipeline: &Pipeline,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    runs: usize,
    seed: u64,
) -> Vec<SimulatedBucket> {
    let first = periods.first().map_or(now.date(), |p| p.0);
    let inputs = ForecastInputs::of(lives, pipeline, now, first);
    monte_carlo_from(pipeline, &inputs, now, periods, runs, seed)
}

/// Runs per block of the simulation (each block has its own seed).
const BLOCK: usize = 250;

/// One open deal's chances in the simulation: cumulative thresholds on a uniform u32 (×2³²),
/// each with the period a draw below it (and above the one before) closes the deal in.
type Ladder = [(u64, u8)];

pub fn monte_carlo_from(
    pipeline: &Pipeline,
    inputs: &ForecastInputs,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    runs: usize,
    seed: u64,
) -> Vec<SimulatedBucket> {
    let sim = simulated_runs(pipeline, inputs, now, periods, runs, seed);
    periods
        .iter()
        .zip(sim.totals)
        .map(|(&(from, to), mut v)| {
            v.sort_unstable();
            let mean = if v.is_empty() {
                0
            } else {
                (v.iter().map(|x| *x as i128).sum::<i128>() / v.len() as i128) as i64
            };
            SimulatedBucket {
                from,
                to,
                p10: percentile(&v, 10).unwrap_or_default(),
                p50: percentile(&v, 50).unwrap_or_default(),
                p90: percentile(&v, 90).unwrap_or_default(),
                mean,
            }
        })
        .collect()
}

/// The runs of the Monte Carlo forecast (see [`monte_carlo`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedRuns {
    /// Won already, per period: in every run.
    pub settled: Vec<i64>,
    /// Per period, the won amount of each run, in the order of the runs.
    pub totals: Vec<Vec<i64>>,
}

/// Simulates the open deals of `inputs` (see [`monte_carlo`]).
pub fn simulated_runs(
    pipeline: &Pipeline,
    inputs: &ForecastInputs,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    runs: usize,
    seed: u64,
) -> SimulatedRuns {
    use rand::{Rng, SeedableRng};
    let cal = calibration_from(pipeline, &inputs.reach);
    // Days to win per stage: (days, how many deals took them).
    let mut to_win: BTreeMap<StageId, Vec<(i64, u64)>> = BTreeMap::new();
    for &(stage, days, n) in &inputs.to_win {
        to_win.entry(stage).or_default().push((days.max(0), n));
    }
    let today = now.to_offset(CHINA).date();
    let day_no = |d: Date| d.to_julian_day() as i64;
    let (today_no, last_no) = (
        day_no(today),
        periods.last().map_or(day_no(today), |p| day_no(p.1)),
    );
    // The period of each day from today to the last one (`u8::MAX`: none).
    let span = (last_no - today_no + 1).max(0) as usize;
    let mut period_of_day = vec![u8::MAX; span];
    for (i, &(a, b)) in periods.iter().enumerate() {
        for d in day_no(a).max(today_no)..=day_no(b).min(last_no) {
            period_of_day[(d - today_no) as usize] = i as u8;
        }
    }
    let bucket_of = |d: Date| periods.iter().position(|&(a, b)| a <= d && d <= b);
    // For an open deal of a stage entered on a day: per period, the chance that it is won
    // and closes in that period — P(won | stage) × the share of the stage's times to win
    // that, added to the day entered, fall in the period (a time already past closes it
    // today). As cumulative thresholds on a uniform u32, so that one draw per deal and run
    // says whether and when it closes: the distribution of drawing "won?" and then a time.
    let ladder = |stage: StageId, entered: i64| -> Vec<(u64, u8)> {
        let p = cal
            .iter()
            .find(|c| c.stage_id == stage)
            .map_or(0.0, |c| c.empirical);
        let Some(times) = to_win.get(&stage).filter(|_| p > 0.0) else {
            return vec![];
        };
        let total: u64 = times.iter().map(|t| t.1).sum();
        let mut in_period = vec![0u64; periods.len()];
        for &(days, n) in times {
            let close = (entered + days).max(today_no);
            if let Some(&i) = period_of_day
                .get((close - today_no) as usize)
                .filter(|i| **i != u8::MAX)
            {
                in_period[i as usize] += n;
            }
        }
        let mut cumulative = 0.0;
        in_period
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| {
                cumulative += p.min(1.0) * n as f64 / total as f64;
                ((cumulative * 2f64.powi(32)).round() as u64, i as u8)
            })
            .collect()
    };
    // What is settled (won already), and the open deals that may close in a period: (amount,
    // the ladder of their stage and day entered).
    let mut settled = vec![0i64; periods.len()];
    let mut ladders: BTreeMap<(StageId, i64), Vec<(u64, u8)>> = BTreeMap::new();
    let mut open_keys: Vec<(i64, (StageId, i64))> = Vec::new();
    for v in &inputs.deals {
        match kind_of(pipeline, v.stage_id) {
            Some(StageKind::Won) => {
                if let Some(i) = bucket_of(v.stage_entered_at.to_offset(CHINA).date()) {
                    settled[i] += v.amount_minor;
                }
            }
            Some(StageKind::Open) => {
                let key = (
                    v.stage_id,
                    day_no(v.stage_entered_at.to_offset(CHINA).date()),
                );
                let l = ladders.entry(key).or_insert_with(|| ladder(key.0, key.1));
                if !l.is_empty() {
                    open_keys.push((v.amount_minor, key));
                }
            }
            _ => {}
        }
    }
    // Column by column for the hot loop: the highest threshold (a draw at or above it closes
    // nothing), then the amount and ladder of the deals that do close.
    let tops: Vec<u64> = open_keys
        .iter()
        .map(|(_, key)| ladders[key].last().map_or(0, |l| l.0))
        .collect();
    let closing: Vec<(i64, &Ladder)> = open_keys
        .iter()
        .map(|(amount, key)| (*amount, ladders[key].as_slice()))
        .collect();
    let blocks: Vec<usize> = (0..runs.div_ceil(BLOCK))
        .map(|b| BLOCK.min(runs - b * BLOCK))
        .collect();
    let simulate = |block: usize, n: usize| -> Vec<Vec<i64>> {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(
            seed ^ (block as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut draws = vec![0u32; tops.len()];
        let mut hits = vec![0u32; tops.len() + 1];
        (0..n)
            .map(|_| {
                let mut run = settled.clone();
                rng.fill(draws.as_mut_slice());
                // Which deals close (without a branch per deal: most do not, unpredictably).
                let mut found = 0;
                for (j, (&u, &top)) in draws.iter().zip(&tops).enumerate() {
                    hits[found] = j as u32;
                    found += ((u as u64) < top) as usize;
                }
                // And in which period: the first threshold above the draw.
                for &j in &hits[..found] {
                    let (amount, ladder) = closing[j as usize];
                    let u = draws[j as usize] as u64;
                    let k = ladder.iter().filter(|(c, _)| u >= *c).count();
                    run[ladder[k].1 as usize] += amount;
                }
                run
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(blocks.len().max(1));
    let mut results: Vec<Vec<Vec<i64>>> = vec![vec![]; blocks.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (blocks, simulate) = (&blocks, &simulate);
                scope.spawn(move || {
                    (t..blocks.len())
                        .step_by(threads)
                        .map(|b| (b, simulate(b, blocks[b])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (b, r) in h.join().expect("a simulation thread") {
                results[b] = r;
            }
        }
    });
    let mut totals: Vec<Vec<i64>> = vec![Vec::with_capacity(runs); periods.len()];
    for run in results.into_iter().flatten() {
        for (i, v) in run.into_iter().enumerate() {
            totals[i].push(v);
        }
    }
    SimulatedRuns { settled, totals }
}

/// The open pipeline's change between two instants, in minor units of one currency: every
/// opportunity open (and, with a close window, expected to close in it) at the start or at
/// the end is put in exactly one line, so `start + created + increased − decreased − won −
/// lost − archived + moved_in − moved_out + reopened = end`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Waterfall {
    pub start: i64,
    pub created: i64,
    pub increased: i64,
    pub decreased: i64,
    pub won: i64,
    pub lost: i64,
    pub archived: i64,
    pub moved_in: i64,
    pub moved_out: i64,
    pub reopened: i64,
    pub end: i64,
    /// Opportunities whose close date moved out of the window (slipped or pushed).
    pub slipped: Vec<OpportunityId>,
}

pub fn waterfall(
    lives: &[Life],
    pipeline: &Pipeline,
    between: Period,
    close_window: Option<(Date, Date)>,
    currency: &str,
) -> Waterfall {
    let open = stages_of_kind(pipeline, StageKind::Open);
    let groups = projection::change_groups(&versions_of(lives), between, &open, |v| {
        waterfall_counts(v, &open, close_window, currency)
    });
    waterfall_from(pipeline, &groups)
}

/// A version counts in a waterfall: in an open stage, not archived, in the currency, and
/// with a close window, expected to close in it.
pub fn waterfall_counts(
    v: &projection::VersionRow,
    open: &[StageId],
    close_window: Option<(Date, Date)>,
    currency: &str,
) -> bool {
    open.contains(&v.stage_id)
        && !v.archived
        && v.currency == currency
        && close_window.is_none_or(|(a, b)| v.close_date.is_some_and(|d| a <= d && d <= b))
}

/// The waterfall from the opportunities grouped by their state at both ends (see
/// [`projection::change_groups`]).
pub fn waterfall_from(pipeline: &Pipeline, groups: &[projection::ChangeGroup]) -> Waterfall {
    let mut w = Waterfall::default();
    for g in groups {
        let before = g.before.as_ref().filter(|k| k.counted);
        match (before, g.after.counted) {
            (None, false) => {}
            (Some(_), true) => {
                w.start += g.amount_before;
                w.end += g.amount_after;
                w.increased += g.increase;
                w.decreased += g.decrease;
            }
            (Some(_), false) => {
                w.start += g.amount_before;
                match kind_of(pipeline, g.after.stage_id) {
                    Some(StageKind::Won) => w.won += g.amount_before,
                    Some(StageKind::Lost) => w.lost += g.amount_before,
                    _ if g.after.archived => w.archived += g.amount_before,
                    _ => {
                        w.moved_out += g.amount_before;
                        w.slipped.extend(&g.moved_out);
                    }
                }
            }
            (None, true) => {
                w.end += g.amount_after;
                match &g.before {
                    None => w.created += g.amount_after,
                    Some(k) if kind_of(pipeline, k.stage_id) != Some(StageKind::Open) => {
                        w.reopened += g.amount_after
                    }
                    Some(_) => w.moved_in += g.amount_after,
                }
            }
        }
    }
    w.slipped.sort_unstable();
    w
}

/// How often opportunities that reached a stage went on to win, with a 95% Wilson interval.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Calibration {
    pub stage_id: StageId,
    /// Reached the stage and are closed now (won or lost).
    pub sample: u64,
    pub won: u64,
    pub empirical: f64,
    pub low: f64,
    pub high: f64,
    /// The stage's configured probability, 0–1.
    pub configured: f64,
    /// The configured probability lies outside the interval (with at least 30 closed).
    pub drift: bool,
}

/// The 95% Wilson score interval of `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = p + z * z / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (
        ((centre - margin) / denom).max(0.0),
        ((centre + margin) / denom).min(1.0),
    )
}

/// P(won | reached stage) per stage of the pipeline, from the opportunities that are closed.
pub fn calibration(lives: &[Life], pipeline: &Pipeline) -> Vec<Calibration> {
    calibration_from(
        pipeline,
        &projection::reach_counts(&stays_of(lives, pipeline)),
    )
}

/// Calibration from how many reached each stage, by the stage they are in now (see
/// [`projection::reach_counts`]); only the closed ones count.
pub fn calibration_from(pipeline: &Pipeline, reach: &[projection::ReachCount]) -> Vec<Calibration> {
    open_stages(pipeline)
        .iter()
        .map(|stage| {
            let (mut n, mut k) = (0, 0);
            for r in reach.iter().filter(|r| r.stage_id == stage.id) {
                match kind_of(pipeline, r.final_stage_id) {
                    Some(StageKind::Won) => {
                        n += r.count;
                        k += r.count;
                    }
                    Some(StageKind::Lost) => n += r.count,
                    _ => {}
                }
            }
            let (low, high) = wilson(k, n);
            let configured = stage.probability as f64 / 100.0;
            Calibration {
                stage_id: stage.id,
                sample: n,
                won: k,
                empirical: ratio(k, n),
                low,
                high,
                configured,
                drift: n >= 30 && !(low..=high).contains(&configured),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{b2b_template, build_pipeline};
    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;
    use time::Duration;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    /// Stages 10 Qualification, 11 Needs, 12 Proposal, 13 Negotiation, 14 Won, 15 Lost.
    fn pipeline() -> Pipeline {
        build_pipeline(&b2b_template(), 1, 10)
    }

    /// Events of one opportunity: created in `path[0]` at day 0 with `amount`, then a move
    /// to each next stage a day later.
    fn walk(id: i64, start_day: i64, amount: i64, path: &[StageId]) -> Vec<OpportunityEvent> {
        let at = |d: i64| T0 + Duration::days(start_day + d);
        let mut out = vec![OpportunityEvent {
            id: id * 100,
            opportunity_id: id,
            kind: EventKind::Created,
            actor_id: 1,
            at: at(0),
            from_stage_id: None,
            to_stage_id: Some(path[0]),
            old_value: None,
            new_value: Some(json!({
                "amount": {"amount_minor": amount, "currency": "CNY"},
                "close_date": "2026-03-31", "probability": 10, "owner_id": 7
            })),
        }];
        for (i, w) in path.windows(2).enumerate() {
            out.push(OpportunityEvent {
                id: id * 100 + i as i64 + 1,
                opportunity_id: id,
                kind: EventKind::StageChanged,
                actor_id: 1,
                at: at(i as i64 + 1),
                from_stage_id: Some(w[0]),
                to_stage_id: Some(w[1]),
                old_value: None,
                new_value: None,
            });
        }
        out
    }

    fn january() -> Period {
        Period {
            from: T0,
            to: T0 + Duration::days(31),
        }
    }

    /// Seed 000: 200 leads a month, 10 deals; the proposal stage loses 60%.
    fn seed_funnel() -> Vec<OpportunityEvent> {
        let mut events = vec![];
        let mut id = 0;
        let mut add = |n: usize, path: &[StageId], events: &mut Vec<OpportunityEvent>| {
            for _ in 0..n {
                id += 1;
                events.extend(walk(id, 0, 1_000_000, path));
            }
        };
        // 200 qualified; 100 lost there, 100 to needs analysis; 50 lost there, 50 to proposal;
        // 30 lost at proposal (60%), 20 to negotiation; 10 lost, 10 won.
        add(100, &[10, 15], &mut events);
        add(50, &[10, 11, 15], &mut events);
        add(30, &[10, 11, 12, 15], &mut events);
        add(10, &[10, 11, 12, 13, 15], &mut events);
        add(10, &[10, 11, 12, 13, 14], &mut events);
        events
    }

    #[test]
    fn the_seed_funnel_comes_out_right() {
        let events = seed_funnel();
        let l = lives(&events);
        let f = funnel(&l, &pipeline(), january());
        let rows: Vec<(u64, u64, u64, u64)> = f
            .iter()
            .map(|r| (r.entered, r.advanced, r.lost, r.won))
            .collect();
        assert_eq!(
            rows,
            vec![
                (200, 100, 100, 10),
                (100, 50, 50, 10),
                (50, 20, 30, 10),
                (20, 10, 10, 10)
            ]
        );
        assert_eq!(f[2].conversion, 0.4, "the proposal stage loses 60%");
        assert_eq!(f[0].to_won, 0.05, "200 → 10 deals");
        let w = win_rate(&l, &pipeline(), january());
        assert_eq!((w.won, w.lost), (10, 190));
        assert_eq!(w.by_count, 10.0 / 200.0);
        // Fixing the proposal stage (60% → 36% lost) gives 18 deals from the same 200.
        let mut fixed = vec![];
        let mut id = 0;
        for (n, path) in [
            (100, &[10, 15][..]),
            (50, &[10, 11, 15][..]),
            (14, &[10, 11, 12, 15][..]),
            (18, &[10, 11, 12, 13, 15][..]),
            (18, &[10, 11, 12, 13, 14][..]),
        ] {
            for _ in 0..n {
                id += 1;
                fixed.extend(walk(id, 0, 1_000_000, path));
            }
        }
        let w = win_rate(&lives(&fixed), &pipeline(), january());
        assert_eq!(w.won, 18);
    }

    #[test]
    fn win_loss_groups_closed_deals() {
        let mut events = seed_funnel();
        // Each loss with its `lost` event: the 30 lost at proposal lost on price to 某德企,
        // the others on timing.
        let lost: Vec<OpportunityEvent> = events
            .iter()
            .filter(|e| e.kind == EventKind::StageChanged && e.to_stage_id == Some(15))
            .map(|e| {
                let (reason, competitor) = if e.from_stage_id == Some(12) {
                    ("price", "某德企")
                } else {
                    ("timing", "")
                };
                OpportunityEvent {
                    id: e.id + 50,
                    kind: EventKind::Lost,
                    new_value: Some(json!({"loss_reason": reason, "competitor": competitor})),
                    ..e.clone()
                }
            })
            .collect();
        events.extend(lost);
        let w = win_loss(&lives(&events), &pipeline(), january());
        let reason: Vec<(&str, u64)> = w
            .by_reason
            .iter()
            .map(|r| (r.value.as_str(), r.lost))
            .collect();
        assert_eq!(reason, [("timing", 160), ("price", 30)]);
        let stage: Vec<(&str, u64)> = w
            .by_stage_lost
            .iter()
            .map(|r| (r.value.as_str(), r.lost))
            .collect();
        assert_eq!(stage, [("10", 100), ("11", 50), ("12", 30), ("13", 10)]);
        assert_eq!(w.by_competitor[1].value, "某德企");
        assert_eq!((w.by_owner[0].won, w.by_owner[0].lost), (10, 190));
    }

    #[test]
    fn leaderboard_ranks_by_won_amount() {
        let mut events = walk(1, 0, 5_000, &[10, 11, 12, 13, 14]);
        // Deal 2 belongs to owner 8 from the start.
        let mut second = walk(2, 0, 9_000, &[10, 15]);
        second[0].new_value.as_mut().unwrap()["owner_id"] = json!(8);
        events.extend(second);
        events.extend(walk(3, 40, 7_000, &[10])); // created after January
        let rows = leaderboard(&lives(&events), &pipeline(), january());
        let got: Vec<(i64, u64, u64, i64, u64)> = rows
            .iter()
            .map(|r| (r.owner_id, r.won, r.lost, r.won_amount, r.created))
            .collect();
        assert_eq!(got, [(7, 1, 0, 5_000, 1), (8, 0, 1, 0, 1)]);
        assert_eq!((rows[0].win_rate, rows[1].win_rate), (1.0, 0.0));
    }

    #[test]
    fn four_s_sizes_the_open_pipeline_and_measures_speed() {
        let mut events = seed_funnel();
        // Two deals still open at the end of January: one in Proposal, one in Negotiation.
        events.extend(walk(1001, 0, 2_000_000, &[10, 11, 12]));
        events.extend(walk(1002, 0, 3_000_000, &[10, 11, 12, 13]));
        let l = lives(&events);
        let f = four_s(&l, &pipeline(), january(), Some(10_000_000));
        assert_eq!((f.open_count, f.open_amount), (2, 5_000_000));
        let proposal = &f.size[2];
        assert_eq!((proposal.count, proposal.amount), (1, 2_000_000));
        // The walk's probabilities stay at the created 10%.
        assert_eq!(f.weighted_amount, 500_000);
        // Won from Proposal: 10 of the 50 closed that reached it (the 2 open ones are not
        // closed) → needs 5× the target.
        assert_eq!(proposal.needed, Some(50_000_000));
        // Won deals took 4 days from creation.
        assert_eq!(f.cycle_days, Some(4));
        // 2 open × 10/200 × ¥10,000 ÷ 4 days = ¥250/day.
        assert_eq!(f.velocity_per_day, Some(25_000));
        assert_eq!(
            f.success[2].conversion,
            21.0 / 52.0,
            "50 + 2 entered, 20 + 1 advanced"
        );
    }

    #[test]
    fn forecast_adds_won_and_weighted_open_by_period() {
        let mut events = seed_funnel(); // 10 won on day 4 (2026-01-05), ¥10,000 each
        events.extend(walk(1001, 0, 2_000_000, &[10, 11, 12])); // open, closes 2026-03-31
        let l = lives(&events);
        let d =
            |s: &str| Date::parse(s, &time::format_description::well_known::Iso8601::DATE).unwrap();
        let months = [
            (d("2026-01-01"), d("2026-01-31")),
            (d("2026-02-01"), d("2026-02-28")),
            (d("2026-03-01"), d("2026-03-31")),
        ];
        let now = T0 + Duration::days(40);
        let f = forecast(&l, &pipeline(), now, &months, Weighting::Configured);
        let got: Vec<(i64, i64, i64)> = f.iter().map(|b| (b.won, b.open, b.weighted)).collect();
        // The walk keeps the created probability, 10%.
        assert_eq!(
            got,
            [(10_000_000, 0, 0), (0, 0, 0), (0, 2_000_000, 200_000)]
        );
        // Empirically 10 of 50 closed deals that reached Proposal were won: 20%.
        let e = forecast(&l, &pipeline(), now, &months, Weighting::Empirical);
        assert_eq!(e[2].weighted, 400_000);
        let b = forecast(&l, &pipeline(), now, &months, Weighting::Blended);
        assert_eq!(b[2].weighted, 300_000);
        assert_eq!(f[0].forecast, 10_000_000);
    }

    #[test]
    fn monte_carlo_brackets_the_expected_value_and_repeats_for_a_seed() {
        let mut events = seed_funnel(); // won deals took 1 day from entering Negotiation
        for i in 0..100 {
            events.extend(walk(2000 + i, 30, 1_000_000, &[10, 11, 12, 13])); // open in Negotiation
        }
        let l = lives(&events);
        let d =
            |s: &str| Date::parse(s, &time::format_description::well_known::Iso8601::DATE).unwrap();
        let periods = [
            (d("2026-01-01"), d("2026-01-31")),
            (d("2026-02-01"), d("2026-02-28")),
        ];
        let now = T0 + Duration::days(33) + Duration::hours(12);
        let sim = monte_carlo(&l, &pipeline(), now, &periods, 10_000, 42);
        // January: the 10 deals already won, in every run.
        assert_eq!((sim[0].p10, sim[0].p90), (10_000_000, 10_000_000));
        // February: 100 open deals at P(won | Negotiation) = 10/20 = 50%, ¥10,000 each:
        // about ¥500,000, P10 < P50 < P90 around it.
        let feb = &sim[1];
        assert!(feb.p10 < feb.p50 && feb.p50 < feb.p90, "{feb:?}");
        assert!((feb.mean - 50_000_000).abs() < 1_000_000, "{feb:?}");
        assert!((40_000_000..=60_000_000).contains(&feb.p50), "{feb:?}");
        assert_eq!(
            sim,
            monte_carlo(&l, &pipeline(), now, &periods, 10_000, 42),
            "seeded"
        );
    }

    /// Seed 000's table: a rep follows 50 opportunities a month and closes 3 (6%); with the
    /// process, 5 of 50 (10%).
    #[test]
    fn conversion_six_to_ten_percent() {
        for (won, want) in [(3, 0.06), (5, 0.10)] {
            let mut events = vec![];
            for i in 0..50 {
                let path: &[StageId] = if i < won {
                    &[10, 11, 12, 13, 14]
                } else {
                    &[10, 15]
                };
                events.extend(walk(i + 1, 0, 100_000, path));
            }
            let l = lives(&events);
            let f = funnel(&l, &pipeline(), january());
            assert_eq!((f[0].entered, f[0].to_won), (50, want));
            assert_eq!(win_rate(&l, &pipeline(), january()).by_count, want);
        }
    }

    #[test]
    fn re_entries_count_once_and_time_adds_up() {
        // Needs → Proposal → back to Needs → Proposal → Won: days 1–2 and 3–4 in Needs.
        let events = walk(1, 0, 500, &[10, 11, 12, 11, 12, 14]);
        let l = lives(&events);
        let f = funnel(&l, &pipeline(), january());
        assert_eq!((f[1].entered, f[1].advanced, f[1].won), (1, 1, 1));
        let t = time_in_stage(&l, &pipeline(), january());
        assert_eq!((t[1].count, t[1].median_hours), (1, Some(48)));
        assert_eq!(l[0].time_in(11, T0 + Duration::days(9)), Duration::days(2));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        let cases = [
            (50, Some(5)),
            (75, Some(8)),
            (90, Some(9)),
            (100, Some(10)),
            (1, Some(1)),
        ];
        for (p, want) in cases {
            assert_eq!(percentile(&v, p), want, "P{p}");
        }
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn state_at_replays_changes() {
        let mut events = walk(1, 0, 1000, &[10, 11]);
        events.push(OpportunityEvent {
            id: 999,
            opportunity_id: 1,
            kind: EventKind::AmountChanged,
            actor_id: 1,
            at: T0 + Duration::days(5),
            from_stage_id: None,
            to_stage_id: None,
            old_value: Some(json!({"amount_minor": 1000, "currency": "CNY"})),
            new_value: Some(json!({"amount_minor": 2500, "currency": "CNY"})),
        });
        let l = lives(&events);
        assert!(l[0].state_at(T0 - Duration::days(1)).is_none());
        let s = l[0].state_at(T0 + Duration::days(2)).unwrap();
        assert_eq!((s.stage_id, s.amount_minor), (11, 1000));
        assert_eq!(
            l[0].state_at(T0 + Duration::days(6)).unwrap().amount_minor,
            2500
        );
    }

    #[test]
    fn waterfall_adds_up_and_names_each_change() {
        let mut events = vec![];
        events.extend(walk(1, 0, 1000, &[10, 11])); // open throughout
        events.extend(walk(2, 0, 2000, &[10, 11, 12, 13, 14])); // won on day 4
        events.extend(walk(3, 10, 3000, &[10])); // created inside
        events.extend(walk(4, 0, 4000, &[10, 15])); // lost on day 1, before the start
        let l = lives(&events);
        let between = Period {
            from: T0 + Duration::days(2),
            to: T0 + Duration::days(20),
        };
        let w = waterfall(&l, &pipeline(), between, None, "CNY");
        assert_eq!((w.start, w.won, w.created, w.end), (3000, 2000, 3000, 4000));
        assert_eq!(
            w.start + w.created + w.increased - w.decreased - w.won - w.lost - w.archived
                + w.moved_in
                - w.moved_out
                + w.reopened,
            w.end
        );
        // With a close window that ends before 2026-03-31, nothing counts.
        let d =
            |s: &str| Date::parse(s, &time::format_description::well_known::Iso8601::DATE).unwrap();
        let none = waterfall(
            &l,
            &pipeline(),
            between,
            Some((d("2026-01-01"), d("2026-02-28"))),
            "CNY",
        );
        assert_eq!((none.start, none.end), (0, 0));
    }

    #[test]
    fn calibration_has_wilson_intervals_and_flags_drift() {
        let events = seed_funnel();
        let c = calibration(&lives(&events), &pipeline());
        // Reached Negotiation: 20, won 10 → 50% against a configured 75%.
        let neg = &c[3];
        assert_eq!((neg.sample, neg.won, neg.empirical), (20, 10, 0.5));
        assert!(neg.low < 0.5 && 0.5 < neg.high);
        assert!(!neg.drift, "20 closed is too few to call drift");
        // Reached Qualification: 200, won 10 → 5%, far from the configured 10%? Inside or not,
        // the interval decides.
        let q = &c[0];
        assert_eq!((q.sample, q.won), (200, 10));
        assert_eq!(q.drift, !(q.low..=q.high).contains(&0.10));
        let (low, high) = wilson(10, 200);
        assert!(
            (low - 0.0274).abs() < 0.001 && (high - 0.0897).abs() < 0.001,
            "{low} {high}"
        );
    }

    proptest! {
        #[test]
        fn rates_stay_in_bounds_and_the_waterfall_balances(
            paths in proptest::collection::vec(
                (0i64..20, 1i64..1_000_000, proptest::collection::vec(10i64..16, 1..6)),
                1..40,
            ),
            from_day in 0i64..10,
            days in 1i64..30,
        ) {
            let mut events = vec![];
            for (i, (start, amount, path)) in paths.iter().enumerate() {
                let mut p = path.clone();
                p.dedup();
                events.extend(walk(i as i64 + 1, *start, *amount, &p));
            }
            let l = lives(&events);
            let pl = pipeline();
            for r in funnel(&l, &pl, january()) {
                prop_assert!((0.0..=1.0).contains(&r.conversion));
                prop_assert!((0.0..=1.0).contains(&r.to_won));
                prop_assert_eq!(r.entered, r.advanced + r.lost + r.open);
            }
            let w = win_rate(&l, &pl, january());
            prop_assert!((0.0..=1.0).contains(&w.by_count) && (0.0..=1.0).contains(&w.by_amount));
            let between = Period { from: T0 + Duration::days(from_day), to: T0 + Duration::days(from_day + days) };
            let w = waterfall(&l, &pl, between, None, "CNY");
            prop_assert_eq!(
                w.start + w.created + w.increased - w.decreased - w.won - w.lost - w.archived
                    + w.moved_in - w.moved_out + w.reopened,
                w.end
            );
            let d = |s: &str| Date::parse(s, &time::format_description::well_known::Iso8601::DATE).unwrap();
            for mode in [Weighting::Configured, Weighting::Empirical, Weighting::Blended] {
                for b in forecast(&l, &pl, T0 + Duration::days(from_day + days), &[(d("2026-01-01"), d("2026-12-31"))], mode) {
                    prop_assert!(0 <= b.weighted && b.weighted <= b.open);
                }
            }
            for b in monte_carlo(&l, &pl, T0 + Duration::days(from_day + days), &[(d("2026-01-01"), d("2026-12-31"))], 200, 7) {
                prop_assert!(b.p10 <= b.p50 && b.p50 <= b.p90);
            }
            for c in calibration(&l, &pl) {
                prop_assert!(c.low <= c.empirical + 1e-12 && c.empirical <= c.high + 1e-12);
            }
        }
    }
}
