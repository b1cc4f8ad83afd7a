//! The analytics projection: each opportunity's replayed history ([`Life`]) flattened into
//! rows a database can aggregate — one row per stay in a stage and one per version of what
//! the opportunity was. Rows are derived from the events (and the stage kinds and order of
//! the opportunity's pipeline) only, and rebuilt whenever the opportunity gets a new event,
//! so reports that add them up in SQL give exactly the numbers of the replay in
//! [`crate::analytics`] (a test compares both on generated data).

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use crate::analytics::{Life, Period, State};
use crate::model::*;
use crate::opportunity::EventKind;

/// One stay of an opportunity in a stage, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayRow {
    pub opportunity_id: OpportunityId,
    /// 0, 1, 2… in order.
    pub seq: i32,
    pub stage_id: StageId,
    pub entered_at: OffsetDateTime,
    /// `None` while it is still there.
    pub left_at: Option<OffsetDateTime>,
    /// When it last entered the same stage before this stay; `None` the first time.
    pub prev_entered_at: Option<OffsetDateTime>,
    /// A later stay is in a won stage or in an open stage further along.
    pub advanced: bool,
    /// A later stay is in a won stage.
    pub won_later: bool,
    /// Not advanced, and a later stay is in a lost stage.
    pub lost_later: bool,
    /// No later stay in the same stage.
    pub last_in_stage: bool,
    /// Time in the stage summed over this and the earlier stays in it, in milliseconds.
    pub ms_in_stage: i64,
    /// The last stay in a won or lost stage.
    pub closing: bool,
    /// The amount when it entered the stage.
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: OffsetDateTime,
    /// The stage of the last stay, and when it was entered.
    pub final_stage_id: StageId,
    pub final_at: OffsetDateTime,
    /// The owner when it entered the stage.
    pub entry_owner_id: UserId,
    /// The stage of the stay before this one; `None` for the first.
    pub from_stage_id: Option<StageId>,
    /// On the closing stay of a lost deal: the loss reason key and the competitor of the
    /// `lost` event that closed it (`""` when not given); `""` on every other stay.
    pub loss_reason: String,
    pub competitor: String,
}

/// What an opportunity was from `valid_from` until `valid_to` (exclusive; `None`: still).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub opportunity_id: OpportunityId,
    pub seq: i32,
    pub valid_from: OffsetDateTime,
    pub valid_to: Option<OffsetDateTime>,
    pub stage_id: StageId,
    pub amount_minor: i64,
    pub currency: String,
    pub close_date: Option<Date>,
    pub probability: i32,
    pub archived: bool,
    /// When it entered the stage it is in in this version.
    pub stage_entered_at: OffsetDateTime,
    /// Its owner now (as on every projection row).
    pub owner_id: UserId,
    /// Its forecast category in this version (see [`crate::rollup::category_at`]).
    pub forecast_category: Option<ForecastCategory>,
}

/// An opportunity's rows; `pipeline` is the one it is in now.
pub fn project(life: &Life, pipeline: &Pipeline) -> (Vec<StayRow>, Vec<VersionRow>) {
    (stays(life, pipeline), versions(life))
}

/// An opportunity's stays, judged by the stages of `pipeline` (the one it is in now).
pub fn stays(life: &Life, pipeline: &Pipeline) -> Vec<StayRow> {
    let kind = |s: StageId| pipeline.stage(s).map(|s| s.kind);
    let position = |s: StageId| pipeline.stage(s).map(|s| s.position);
    let Some(last) = life.spans.last() else {
        return vec![];
    };
    let closing = life
        .spans
        .iter()
        .rposition(|s| matches!(kind(s.stage_id), Some(StageKind::Won | StageKind::Lost)));
    let mut stays = Vec::with_capacity(life.spans.len());
    for (i, span) in life.spans.iter().enumerate() {
        let later = &life.spans[i + 1..];
        let advanced = later.iter().any(|s| {
            kind(s.stage_id) == Some(StageKind::Won)
                || (kind(s.stage_id) == Some(StageKind::Open)
                    && position(s.stage_id) > position(span.stage_id))
        });
        let earlier = &life.spans[..i];
        let amount = life.state_at(span.from);
        let lost = (closing == Some(i) && kind(span.stage_id) == Some(StageKind::Lost))
            .then(|| {
                life.events
                    .iter()
                    .rfind(|e| e.kind == EventKind::Lost && e.at <= span.from)
            })
            .flatten();
        let lost_field = |k: &str| {
            lost.and_then(|e| e.new_value.as_ref())
                .and_then(|v| v.get(k))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        stays.push(StayRow {
            opportunity_id: life.opportunity_id,
            seq: i as i32,
            stage_id: span.stage_id,
            entered_at: span.from,
            left_at: span.to,
            prev_entered_at: earlier
                .iter()
                .rfind(|s| s.stage_id == span.stage_id)
                .map(|s| s.from),
            advanced,
            won_later: later
                .iter()
                .any(|s| kind(s.stage_id) == Some(StageKind::Won)),
            lost_later: !advanced
                && later
                    .iter()
                    .any(|s| kind(s.stage_id) == Some(StageKind::Lost)),
            last_in_stage: !later.iter().any(|s| s.stage_id == span.stage_id),
            ms_in_stage: life.spans[..=i]
                .iter()
                .filter(|s| s.stage_id == span.stage_id)
                .map(|s| (s.to.unwrap_or(s.from) - s.from).whole_milliseconds() as i64)
                .sum(),
            closing: closing == Some(i),
            amount_minor: amount.as_ref().map_or(0, |s| s.amount_minor),
            entry_owner_id: amount.as_ref().map_or(0, |s| s.owner_id),
            currency: amount.map_or_else(|| "CNY".into(), |s| s.currency),
            created_at: life.created_at,
            final_stage_id: last.stage_id,
            final_at: last.from,
            from_stage_id: i.checked_sub(1).map(|p| life.spans[p].stage_id),
            loss_reason: lost_field("loss_reason"),
            competitor: lost_field("competitor"),
        });
    }
    stays
}

/// An opportunity's versions: one per instant at which what it was changed.
pub fn versions(life: &Life) -> Vec<VersionRow> {
    // A version per instant at which what it was changed (events at one instant together).
    let mut versions: Vec<VersionRow> = Vec::new();
    let mut at_times: Vec<OffsetDateTime> = life.events.iter().map(|e| e.at).collect();
    at_times.dedup();
    let mut previous: Option<State> = None;
    let mut owner_now = None;
    for t in at_times {
        let Some(state) = life.state_at(t) else {
            continue;
        };
        owner_now = Some(state.owner_id);
        let entered = life.spans.iter().rfind(|s| s.from <= t).map(|s| s.from);
        let category = crate::rollup::category_at(life, t);
        if previous.as_ref().is_some_and(|p| same_version(p, &state))
            && versions
                .last()
                .map(|v| (v.stage_entered_at, v.forecast_category))
                == entered.map(|e| (e, category))
        {
            continue;
        }
        if let Some(v) = versions.last_mut() {
            v.valid_to = Some(t);
        }
        versions.push(VersionRow {
            opportunity_id: life.opportunity_id,
            seq: versions.len() as i32,
            valid_from: t,
            valid_to: None,
            stage_id: state.stage_id,
            amount_minor: state.amount_minor,
            currency: state.currency.clone(),
            close_date: state.close_date,
            probability: state.probability,
            archived: state.archived,
            stage_entered_at: life
                .spans
                .iter()
                .rfind(|s| s.from <= t)
                .map_or(t, |s| s.from),
            owner_id: state.owner_id,
            forecast_category: category,
        });
        previous = Some(state);
    }
    // The owner now on every version.
    if let Some(owner) = owner_now {
        versions.iter_mut().for_each(|v| v.owner_id = owner);
    }
    versions
}

/// Two states that read the same to every report (the owner and pipeline are the current
/// ones on every row).
fn same_version(a: &State, b: &State) -> bool {
    a.stage_id == b.stage_id
        && a.amount_minor == b.amount_minor
        && a.currency == b.currency
        && a.close_date == b.close_date
        && a.probability == b.probability
        && a.archived == b.archived
}

// ---- What reports add up from the rows. The store computes the same with SQL
// (`GROUP BY`); these in-memory versions define it and serve the replay path. ----

/// Entries into one stage in a period (the first entry per opportunity) and their fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunnelCount {
    pub stage_id: StageId,
    pub entered: u64,
    pub advanced: u64,
    pub won: u64,
    pub lost: u64,
}

/// The stay counts as an entry into its stage in `period`: it began in the period, and the
/// opportunity had not entered the same stage earlier in the period.
pub fn entry_in(s: &StayRow, period: Period) -> bool {
    period.contains(s.entered_at) && s.prev_entered_at.is_none_or(|p| p < period.from)
}

pub fn funnel_counts(stays: &[StayRow], period: Period) -> Vec<FunnelCount> {
    let mut by: BTreeMap<StageId, FunnelCount> = BTreeMap::new();
    for s in stays.iter().filter(|s| entry_in(s, period)) {
        let c = by.entry(s.stage_id).or_insert(FunnelCount {
            stage_id: s.stage_id,
            ..Default::default()
        });
        c.entered += 1;
        c.advanced += s.advanced as u64;
        c.won += s.won_later as u64;
        c.lost += s.lost_later as u64;
    }
    by.into_values().collect()
}

/// Opportunities that reached a stage (counted once), by the stage they are in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReachCount {
    pub stage_id: StageId,
    pub final_stage_id: StageId,
    pub count: u64,
}

pub fn reach_counts(stays: &[StayRow]) -> Vec<ReachCount> {
    let mut by: BTreeMap<(StageId, StageId), u64> = BTreeMap::new();
    for s in stays.iter().filter(|s| s.prev_entered_at.is_none()) {
        *by.entry((s.stage_id, s.final_stage_id)).or_default() += 1;
    }
    by.into_iter()
        .map(|((stage_id, final_stage_id), count)| ReachCount {
            stage_id,
            final_stage_id,
            count,
        })
        .collect()
}

/// The closing stay began in the period and did not end before the period's end.
pub fn closed_in(s: &StayRow, period: Period) -> bool {
    s.closing && period.contains(s.entered_at) && s.left_at.is_none_or(|t| t >= period.to)
}

/// Deals counted by some attribute (their owner then, loss reason, source…; `key`, `""` when
/// none), the stage they are in and currency: how many, and their amount.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyedCount {
    pub key: String,
    pub stage_id: StageId,
    pub currency: String,
    pub count: u64,
    pub amount: i64,
}

fn keyed<'a>(
    stays: impl Iterator<Item = &'a StayRow>,
    key: impl Fn(&StayRow) -> String,
) -> Vec<KeyedCount> {
    let mut by: BTreeMap<(String, StageId, String), (u64, i64)> = BTreeMap::new();
    for s in stays {
        let e = by
            .entry((key(s), s.stage_id, s.currency.clone()))
            .or_default();
        e.0 += 1;
        e.1 += s.amount_minor;
    }
    by.into_iter()
        .map(|((key, stage_id, currency), (count, amount))| KeyedCount {
            key,
            stage_id,
            currency,
            count,
            amount,
        })
        .collect()
}

/// Deals closed in a period (as [`closed_in`] says) by `key` of their closing stay, with the
/// stage they closed in and their amount then.
pub fn closed_by(
    stays: &[StayRow],
    period: Period,
    key: impl Fn(&StayRow) -> String,
) -> Vec<KeyedCount> {
    keyed(stays.iter().filter(|s| closed_in(s, period)), key)
}

/// Deals created in a period — their first stay began in it — by `key` of that stay, with
/// the stage they were created in and their amount then.
pub fn created_by(
    stays: &[StayRow],
    period: Period,
    key: impl Fn(&StayRow) -> String,
) -> Vec<KeyedCount> {
    keyed(
        stays
            .iter()
            .filter(|s| s.seq == 0 && period.contains(s.entered_at)),
        key,
    )
}

/// Time spent in a stage by the opportunities that left it for the last time in the
/// period, in whole hours: (stage, hours, how many).
pub fn stage_times(stays: &[StayRow], period: Period) -> Vec<(StageId, i64, u64)> {
    let mut by: BTreeMap<(StageId, i64), u64> = BTreeMap::new();
    for s in stays
        .iter()
        .filter(|s| s.last_in_stage && s.left_at.is_some_and(|t| period.contains(t)))
    {
        *by.entry((s.stage_id, s.ms_in_stage / MS_PER_HOUR))
            .or_default() += 1;
    }
    by.into_iter().map(|((s, h), n)| (s, h, n)).collect()
}

pub const MS_PER_HOUR: i64 = 3_600_000;

/// Days from creation to winning, for the deals that are won now and were won in the period
/// (`won` are the won stages).
pub fn won_cycles(stays: &[StayRow], won: &[StageId], period: Period) -> Vec<i64> {
    stays
        .iter()
        .filter(|s| {
            s.left_at.is_none() && won.contains(&s.stage_id) && period.contains(s.entered_at)
        })
        .map(|s| (s.entered_at - s.created_at).whole_days())
        .collect()
}

/// Days from entering a stage to winning, for the deals won now that passed through it
/// (every stay but the last): (stage, days, how many).
pub fn to_win_days(stays: &[StayRow], won: &[StageId]) -> Vec<(StageId, i64, u64)> {
    let mut by: BTreeMap<(StageId, i64), u64> = BTreeMap::new();
    for s in stays
        .iter()
        .filter(|s| won.contains(&s.final_stage_id) && s.left_at.is_some())
    {
        *by.entry((s.stage_id, (s.final_at - s.entered_at).whole_days()))
            .or_default() += 1;
    }
    by.into_iter().map(|((s, d), n)| (s, d, n)).collect()
}

/// The versions valid at `t` in `stages`, not archived, in `currency`, that are either in an
/// `open` stage or entered their stage at `since` or later: what a forecast reads.
pub fn deals_at<'a>(
    versions: &'a [VersionRow],
    stages: &[StageId],
    open: &[StageId],
    since: OffsetDateTime,
    t: OffsetDateTime,
    currency: &str,
) -> Vec<&'a VersionRow> {
    versions
        .iter()
        .filter(|v| {
            valid_at(v, t)
                && !v.archived
                && v.currency == currency
                && stages.contains(&v.stage_id)
                && (open.contains(&v.stage_id) || v.stage_entered_at >= since)
        })
        .collect()
}

/// Open deals of one stage at an instant: count, amount and weighted amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeCount {
    pub stage_id: StageId,
    pub count: u64,
    pub amount: i64,
    pub weighted: i64,
}

/// The version valid at `t`.
pub fn valid_at(v: &VersionRow, t: OffsetDateTime) -> bool {
    v.valid_from <= t && v.valid_to.is_none_or(|to| to > t)
}

/// Deals in `stages` at `t`, not archived, in `currency`; weighted = amount × probability ÷
/// 100 per deal, rounded down.
pub fn size_at(
    versions: &[VersionRow],
    stages: &[StageId],
    t: OffsetDateTime,
    currency: &str,
) -> Vec<SizeCount> {
    let mut by: BTreeMap<StageId, SizeCount> = BTreeMap::new();
    for v in versions.iter().filter(|v| {
        valid_at(v, t) && !v.archived && v.currency == currency && stages.contains(&v.stage_id)
    }) {
        let c = by.entry(v.stage_id).or_insert(SizeCount {
            stage_id: v.stage_id,
            ..Default::default()
        });
        c.count += 1;
        c.amount += v.amount_minor;
        c.weighted += v.amount_minor * v.probability as i64 / 100;
    }
    by.into_values().collect()
}

/// What a waterfall needs to know of an opportunity's state at one instant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateKey {
    pub stage_id: StageId,
    pub archived: bool,
    /// It counts in the waterfall (open stage, not archived, the currency, in the window).
    pub counted: bool,
}

/// Opportunities counted at the start or at the end of a waterfall, grouped by what they
/// were at both instants (`None`: not created yet), with their amounts summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeGroup {
    pub before: Option<StateKey>,
    pub after: StateKey,
    pub count: u64,
    /// Sum of the amounts at the start (of those that had one) and at the end.
    pub amount_before: i64,
    pub amount_after: i64,
    /// Sum of the positive and of the negative differences end − start.
    pub increase: i64,
    pub decrease: i64,
    /// The opportunities, when counted at the start and not at the end although still in an
    /// open stage (their close date or currency moved them out); otherwise empty.
    pub moved_out: Vec<OpportunityId>,
}

/// Counted at the start and, at the end, still in an open stage and not archived but no
/// longer counted (its close date or currency moved it out): a slipped deal.
pub fn slipped(before: Option<&StateKey>, after: &StateKey, open_stages: &[StageId]) -> bool {
    before.is_some_and(|k| k.counted)
        && !after.counted
        && !after.archived
        && open_stages.contains(&after.stage_id)
}

/// Groups the opportunities counted at the start or end of `between` (see [`ChangeGroup`]);
/// `counted` says whether a version counts.
pub fn change_groups(
    versions: &[VersionRow],
    between: Period,
    open_stages: &[StageId],
    counted: impl Fn(&VersionRow) -> bool,
) -> Vec<ChangeGroup> {
    let mut by_opp: BTreeMap<OpportunityId, (Option<&VersionRow>, Option<&VersionRow>)> =
        BTreeMap::new();
    for v in versions {
        if valid_at(v, between.from) {
            by_opp.entry(v.opportunity_id).or_default().0 = Some(v);
        }
        if valid_at(v, between.to) {
            by_opp.entry(v.opportunity_id).or_default().1 = Some(v);
        }
    }
    let key = |v: &VersionRow| StateKey {
        stage_id: v.stage_id,
        archived: v.archived,
        counted: counted(v),
    };
    let mut groups: BTreeMap<(Option<StateKey>, StateKey), ChangeGroup> = BTreeMap::new();
    for (id, (a, b)) in by_opp {
        let Some(b) = b else { continue };
        let (ka, kb) = (a.map(key), key(b));
        if !kb.counted && !ka.as_ref().is_some_and(|k| k.counted) {
            continue;
        }
        let g = groups
            .entry((ka.clone(), kb.clone()))
            .or_insert(ChangeGroup {
                before: ka,
                after: kb,
                count: 0,
                amount_before: 0,
                amount_after: 0,
                increase: 0,
                decrease: 0,
                moved_out: vec![],
            });
        if slipped(g.before.as_ref(), &g.after, open_stages) {
            g.moved_out.push(id);
        }
        let before = a.map_or(0, |a| a.amount_minor);
        g.count += 1;
        g.amount_before += before;
        g.amount_after += b.amount_minor;
        let d = b.amount_minor - before;
        if a.is_some() && d > 0 {
            g.increase += d;
        } else if a.is_some() {
            g.decrease -= d;
        }
    }
    groups.into_values().collect()
}

// ---- Maintained totals. The history-wide counts (calibration, time to win) and the per-day
// counts of the reports that read a period of whole days would otherwise add up every stay;
// the store keeps these sums beside the stays, subtracting an opportunity's old stays and
// adding its new ones whenever it is rebuilt. What one stay adds is decided here. ----

/// How far China time (UTC+8) is ahead of UTC, in milliseconds.
const CHINA_OFFSET_MS: i64 = crate::analytics::CHINA.whole_seconds() as i64 * 1000;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// The China day (UTC+8) of an instant in milliseconds: days since 1970-01-01.
pub fn china_day_of_ms(ms: i64) -> i64 {
    (ms + CHINA_OFFSET_MS).div_euclid(MS_PER_DAY)
}

/// The China days `[from, to)` a period covers when both its ends are China midnights (as
/// every report period is); `None` otherwise.
pub fn china_days(period: Period) -> Option<(i64, i64)> {
    let (from, to) = (crate::unix_ms(period.from), crate::unix_ms(period.to));
    let midnight = |m: i64| (m + CHINA_OFFSET_MS).rem_euclid(MS_PER_DAY) == 0;
    let exact = |t: OffsetDateTime| t.unix_timestamp_nanos() % 1_000_000 == 0;
    (midnight(from) && midnight(to) && exact(period.from) && exact(period.to))
        .then(|| (china_day_of_ms(from), china_day_of_ms(to)))
}

/// Where a stay counts in the history-wide totals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageTotalKey {
    pub stage_id: StageId,
    pub final_stage_id: StageId,
    /// The first stay in its stage: it counts in [`reach_counts`].
    pub first_entry: bool,
    /// It has ended: with a won final stage it counts in [`to_win_days`].
    pub left: bool,
    /// Whole days from entering the stage to entering the final one.
    pub days_to_final: i64,
}

pub fn stage_total_key(s: &StayRow) -> StageTotalKey {
    StageTotalKey {
        stage_id: s.stage_id,
        final_stage_id: s.final_stage_id,
        first_entry: s.prev_entered_at.is_none(),
        left: s.left_at.is_some(),
        days_to_final: (s.final_at - s.entered_at).whole_days(),
    }
}

/// A stay's day in the per-day totals: the China day it began, its stage and currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DayKey {
    pub day: i64,
    pub stage_id: StageId,
    pub currency: String,
}

/// What stays add to their day: first entries into a stage with their fate (the funnel's
/// entries, except re-entries, which the store counts from the stays), and closings still
/// in force (the closed deals, except those reopened since).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub entered: i64,
    pub advanced: i64,
    pub won: i64,
    pub lost: i64,
    pub closed: i64,
    pub closed_amount: i64,
}

impl DayCounts {
    /// Adds `other` times `sign` (1 or −1).
    pub fn add(&mut self, other: &DayCounts, sign: i64) {
        self.entered += sign * other.entered;
        self.advanced += sign * other.advanced;
        self.won += sign * other.won;
        self.lost += sign * other.lost;
        self.closed += sign * other.closed;
        self.closed_amount += sign * other.closed_amount;
    }
}

/// What a stay adds to its day, if anything.
pub fn day_counts(s: &StayRow) -> Option<(DayKey, DayCounts)> {
    let first = s.prev_entered_at.is_none();
    let closed = s.closing && s.left_at.is_none();
    (first || closed).then(|| {
        (
            DayKey {
                day: china_day_of_ms(crate::unix_ms(s.entered_at)),
                stage_id: s.stage_id,
                currency: s.currency.clone(),
            },
            DayCounts {
                entered: first as i64,
                advanced: (first && s.advanced) as i64,
                won: (first && s.won_later) as i64,
                lost: (first && s.lost_later) as i64,
                closed: closed as i64,
                closed_amount: if closed { s.amount_minor } else { 0 },
            },
        )
    })
}

/// Changes to the maintained totals, per pipeline and owner (those of the stays' rows):
/// [`TotalsDelta::add`] an opportunity's old stays with −1 and its new ones with +1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotalsDelta {
    pub stages: BTreeMap<(PipelineId, UserId, StageTotalKey), i64>,
    pub days: BTreeMap<(PipelineId, UserId, DayKey), DayCounts>,
}

impl TotalsDelta {
    pub fn add(&mut self, pipeline_id: PipelineId, owner_id: UserId, s: &StayRow, sign: i64) {
        *self
            .stages
            .entry((pipeline_id, owner_id, stage_total_key(s)))
            .or_default() += sign;
        if let Some((key, counts)) = day_counts(s) {
            self.days
                .entry((pipeline_id, owner_id, key))
                .or_default()
                .add(&counts, sign);
        }
    }

    /// Without the changes that cancelled out.
    pub fn nonzero(mut self) -> Self {
        self.stages.retain(|_, n| *n != 0);
        self.days.retain(|_, c| *c != DayCounts::default());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::lives;
    use crate::opportunity::{EventKind, OpportunityEvent};
    use crate::process::{b2b_template, build_pipeline};
    use serde_json::json;
    use time::macros::datetime;
    use time::Duration;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    fn ev(
        id: i64,
        day: i64,
        kind: EventKind,
        to: Option<StageId>,
        new: serde_json::Value,
    ) -> OpportunityEvent {
        OpportunityEvent {
            id,
            opportunity_id: 1,
            kind,
            actor_id: 1,
            at: T0 + Duration::days(day),
            from_stage_id: None,
            to_stage_id: to,
            old_value: None,
            new_value: Some(new),
        }
    }

    /// Stages 10 Qualification, 11 Needs, 12 Proposal, 13 Negotiation, 14 Won, 15 Lost.
    /// Created in 10 with ¥100; to 12 on day 2; amount ¥150 on day 3; back to 11 on day 4;
    /// to 12 on day 6; lost on day 9.
    fn history() -> Vec<OpportunityEvent> {
        vec![
            ev(
                1,
                0,
                EventKind::Created,
                Some(10),
                json!({"amount": {"amount_minor": 10000, "currency": "CNY"}, "probability": 10, "owner_id": 7}),
            ),
            ev(2, 2, EventKind::StageChanged, Some(12), json!(null)),
            ev(
                3,
                3,
                EventKind::AmountChanged,
                None,
                json!({"amount_minor": 15000, "currency": "CNY"}),
            ),
            ev(4, 4, EventKind::StageChanged, Some(11), json!(null)),
            ev(5, 6, EventKind::StageChanged, Some(12), json!(null)),
            ev(6, 9, EventKind::StageChanged, Some(15), json!(null)),
        ]
    }

    #[test]
    fn stays_say_what_became_of_each_stay() {
        let events = history();
        let life = &lives(&events)[0];
        let (stays, _) = project(life, &build_pipeline(&b2b_template(), 1, 10));
        let day = |d: i64| T0 + Duration::days(d);
        let got: Vec<_> = stays
            .iter()
            .map(|s| {
                (
                    s.stage_id,
                    s.prev_entered_at,
                    s.advanced,
                    s.lost_later,
                    s.last_in_stage,
                    s.ms_in_stage / 86_400_000,
                    s.closing,
                    s.amount_minor,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                // Qualification: later reached Proposal, so advanced.
                (10, None, true, false, true, 2, false, 10000),
                // Proposal (first time): went back and came again, never further: lost.
                (12, None, false, true, false, 2, false, 10000),
                // Needs: advanced to Proposal.
                (11, None, true, false, true, 2, false, 15000),
                // Proposal again: 2 + 3 days in all.
                (12, Some(day(2)), false, true, true, 5, false, 15000),
                // Lost: the closing stay, still there.
                (15, None, false, false, true, 0, true, 15000),
            ]
        );
        assert!(stays
            .iter()
            .all(|s| s.final_stage_id == 15 && s.final_at == day(9)));
        assert_eq!(stays[4].left_at, None);
    }

    #[test]
    fn versions_change_only_when_what_it_was_changes() {
        let mut events = history();
        // A note-like event that changes nothing a report reads makes no version.
        events.push(ev(7, 5, EventKind::OwnerChanged, None, json!(8)));
        events.sort_by_key(|e| e.at);
        let life = &lives(&events)[0];
        let (_, versions) = project(life, &build_pipeline(&b2b_template(), 1, 10));
        let got: Vec<_> = versions
            .iter()
            .map(|v| (v.valid_from, v.valid_to, v.stage_id, v.amount_minor))
            .collect();
        let day = |d: i64| T0 + Duration::days(d);
        assert_eq!(
            got,
            vec![
                (day(0), Some(day(2)), 10, 10000),
                (day(2), Some(day(3)), 12, 10000),
                (day(3), Some(day(4)), 12, 15000),
                (day(4), Some(day(6)), 11, 15000),
                (day(6), Some(day(9)), 12, 15000),
                (day(9), None, 15, 15000),
            ]
        );
    }

    #[test]
    fn china_days_are_whole_days_of_utc_plus_8() {
        use time::macros::offset;
        let day0 = china_day_of_ms(crate::unix_ms(datetime!(2026-01-01 00:00 +8)));
        assert_eq!(
            day0,
            datetime!(2026-01-01 00:00 UTC).unix_timestamp() / 86_400
        );
        let cases = [
            (
                datetime!(2026-01-01 00:00 +8),
                datetime!(2026-01-02 00:00 +8),
                Some((day0, day0 + 1)),
            ),
            (
                datetime!(2025-10-04 00:00 +8),
                datetime!(2026-01-01 00:00 +8),
                Some((day0 - 89, day0)),
            ),
            (
                datetime!(2026-01-01 00:00 UTC),
                datetime!(2026-01-02 00:00 +8),
                None,
            ),
            (
                datetime!(2026-01-01 00:00 +8),
                datetime!(2026-01-02 00:00:00.000_000_5 +8),
                None,
            ),
            (
                datetime!(2026-01-01 00:00 +8),
                datetime!(2026-01-01 12:00 +8),
                None,
            ),
        ];
        for (from, to, want) in cases {
            let period = Period {
                from: from.to_offset(offset!(UTC)),
                to: to.to_offset(offset!(UTC)),
            };
            assert_eq!(china_days(period), want, "{from} – {to}");
        }
        // Just before China midnight is the day before.
        assert_eq!(
            china_day_of_ms(crate::unix_ms(datetime!(2026-01-01 23:59:59.999 +8))),
            day0
        );
        assert_eq!(
            china_day_of_ms(crate::unix_ms(datetime!(2025-12-31 23:59:59.999 +8))),
            day0 - 1
        );
    }

    #[test]
    fn each_stay_adds_its_entry_closing_and_reach_to_the_totals() {
        let events = history();
        let life = &lives(&events)[0];
        let (stays, _) = project(life, &build_pipeline(&b2b_template(), 1, 10));
        // T0 is 08:00 China time on 2026-01-01.
        let day = |d: i64| china_day_of_ms(crate::unix_ms(T0)) + d;
        let counts = |entered, advanced, lost, closed, closed_amount| DayCounts {
            entered,
            advanced,
            won: 0,
            lost,
            closed,
            closed_amount,
        };
        let got: Vec<_> = stays
            .iter()
            .map(|s| day_counts(s).map(|(k, c)| (k.day, k.stage_id, c)))
            .collect();
        assert_eq!(
            got,
            vec![
                Some((day(0), 10, counts(1, 1, 0, 0, 0))),
                Some((day(2), 12, counts(1, 0, 1, 0, 0))),
                Some((day(4), 11, counts(1, 1, 0, 0, 0))),
                // A re-entry adds nothing: the store counts re-entries from the stays.
                None,
                // The lost stay: an entry, and a closing still in force.
                Some((day(9), 15, counts(1, 0, 0, 1, 15000))),
            ]
        );
        let keys: Vec<_> = stays
            .iter()
            .map(|s| {
                let k = stage_total_key(s);
                (
                    k.stage_id,
                    k.final_stage_id,
                    k.first_entry,
                    k.left,
                    k.days_to_final,
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                (10, 15, true, true, 9),
                (12, 15, true, true, 7),
                (11, 15, true, true, 5),
                (12, 15, false, true, 3),
                (15, 15, true, false, 0),
            ]
        );
    }

    #[test]
    fn a_rebuild_changes_the_totals_by_the_difference() {
        let pipeline = build_pipeline(&b2b_template(), 1, 10);
        let before = history();
        let mut after = history();
        // Reopened on day 12: back to Negotiation.
        after.push(ev(7, 12, EventKind::StageChanged, Some(13), json!(null)));
        let (old, _) = project(&lives(&before)[0], &pipeline);
        let (new, _) = project(&lives(&after)[0], &pipeline);
        let mut same = TotalsDelta::default();
        for s in &old {
            same.add(1, 7, s, 1);
        }
        for s in &old {
            same.add(1, 7, s, -1);
        }
        assert_eq!(same.nonzero(), TotalsDelta::default());

        let mut delta = TotalsDelta::default();
        for s in &old {
            delta.add(1, 7, s, -1);
        }
        for s in &new {
            delta.add(1, 7, s, 1);
        }
        let delta = delta.nonzero();
        let day9 = china_day_of_ms(crate::unix_ms(T0)) + 9;
        let day12 = day9 + 3;
        let days: Vec<_> = delta
            .days
            .iter()
            .map(|((_, _, k), c)| (k.day, k.stage_id, c.entered, c.advanced, c.closed))
            .collect();
        // The lost closing is no longer in force; Qualification and Needs advanced as before;
        // Proposal's first entry now advanced (to Negotiation); Negotiation entered on day 12.
        assert_eq!(
            days,
            vec![
                (day9 - 7, 12, 0, 1, 0),
                (day9, 15, 0, 0, -1),
                (day12, 13, 1, 0, 0),
            ]
        );
        // Every stay's final stage moved from Lost to Negotiation.
        assert_eq!(delta.stages.values().sum::<i64>(), 1);
        assert!(delta
            .stages
            .keys()
            .all(|(_, _, k)| k.final_stage_id == 15 || k.final_stage_id == 13));
    }
}
