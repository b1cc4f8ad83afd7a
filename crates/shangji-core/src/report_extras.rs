//! What the report pages add to the funnel analytics of [`crate::analytics`]: the funnel's
//! bottleneck against the team's own trailing baseline, the sales-cycle length, the time in
//! stage month by month, win/loss grouped by any attribute of a deal (source, industry), and
//! the sources report (leads → opportunities → won by source channel). Pure; definitions in
//! `docs/metrics.md`.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Date, Month, OffsetDateTime};
use utoipa::ToSchema;

use crate::analytics::{percentile, Life, Period, StageConversion, StageTime};
use crate::model::*;
use crate::projection::KeyedCount;

/// Trailing periods a funnel's baseline looks back over by default.
pub const BASELINE_PERIODS: u32 = 4;

/// The `n` periods of the same length as `period` just before it, most recent first.
pub fn trailing_periods(period: Period, n: u32) -> Vec<Period> {
    let length = period.to - period.from;
    (1..=n as i32)
        .map(|i| Period {
            from: period.from - length * i,
            to: period.from - length * (i - 1),
        })
        .collect()
}

/// One stage of the funnel with its baseline: the stage's conversion pooled over the
/// trailing periods (advanced ÷ entered over all of them), and whether it is the bottleneck.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelStage {
    pub stage_id: StageId,
    pub entered: u64,
    pub advanced: u64,
    pub won: u64,
    pub lost: u64,
    pub open: u64,
    /// advanced ÷ entered in the period.
    pub conversion: f64,
    /// won ÷ entered in the period.
    pub to_won: f64,
    /// The same stage's conversion over the trailing periods; `None` when nothing entered
    /// it then.
    pub baseline: Option<f64>,
    /// How far the conversion fell below the baseline (`baseline − conversion`, positive
    /// when worse); `None` without a baseline or when nothing entered in the period.
    pub drop: Option<f64>,
    /// The stage whose conversion fell furthest below its baseline (at most one stage; none
    /// when no stage did worse than its baseline).
    pub bottleneck: bool,
}

/// Puts each stage's baseline beside the period's funnel and flags the bottleneck: the stage
/// with the largest drop of conversion against its baseline (the earlier stage on a tie).
/// `trailing` holds the funnel of each trailing period (stages in the same order or not).
pub fn with_baseline(
    current: &[StageConversion],
    trailing: &[Vec<StageConversion>],
) -> Vec<FunnelStage> {
    let mut rows: Vec<FunnelStage> = current
        .iter()
        .map(|c| {
            let (entered, advanced) = trailing
                .iter()
                .flatten()
                .filter(|t| t.stage_id == c.stage_id)
                .fold((0u64, 0u64), |(e, a), t| (e + t.entered, a + t.advanced));
            let baseline = (entered > 0).then(|| advanced as f64 / entered as f64);
            FunnelStage {
                stage_id: c.stage_id,
                entered: c.entered,
                advanced: c.advanced,
                won: c.won,
                lost: c.lost,
                open: c.open,
                conversion: c.conversion,
                to_won: c.to_won,
                baseline,
                drop: baseline.filter(|_| c.entered > 0).map(|b| b - c.conversion),
                bottleneck: false,
            }
        })
        .collect();
    let worst = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.drop.filter(|d| *d > 1e-9).map(|d| (i, d)))
        .fold(None, |best: Option<(usize, f64)>, (i, d)| match best {
            Some((_, b)) if b >= d => best,
            _ => Some((i, d)),
        });
    if let Some((i, _)) = worst {
        rows[i].bottleneck = true;
    }
    rows
}

/// Days from creation to winning of the deals won in the period (their last move, into a
/// won stage, fell in it): how many, median, P75 and P90 (nearest rank).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CycleLength {
    pub count: u64,
    pub median_days: Option<i64>,
    pub p75_days: Option<i64>,
    pub p90_days: Option<i64>,
}

pub fn cycle_length(lives: &[Life], pipeline: &Pipeline, period: Period) -> CycleLength {
    let won = crate::analytics::stages_of_kind(pipeline, StageKind::Won);
    let stays = crate::analytics::stays_of(lives, pipeline);
    cycle_length_from(crate::projection::won_cycles(&stays, &won, period))
}

/// The cycle from the days of each deal (see [`crate::projection::won_cycles`]).
pub fn cycle_length_from(mut days: Vec<i64>) -> CycleLength {
    days.sort_unstable();
    CycleLength {
        count: days.len() as u64,
        median_days: percentile(&days, 50),
        p75_days: percentile(&days, 75),
        p90_days: percentile(&days, 90),
    }
}

/// The `n` calendar months ending with the month of `last_day`, oldest first, each as its
/// first and last day.
pub fn months_ending(last_day: Date, n: u32) -> Vec<(Date, Date)> {
    let first_of = |y: i32, m: Month| Date::from_calendar_date(y, m, 1).expect("a first day");
    let mut out = Vec::new();
    let (mut y, mut m) = (last_day.year(), last_day.month());
    for _ in 0..n {
        let first = first_of(y, m);
        let (ny, nm) = if m == Month::December {
            (y + 1, Month::January)
        } else {
            (y, m.next())
        };
        let last = first_of(ny, nm).previous_day().expect("a day before");
        out.push((first, last));
        if m == Month::January {
            y -= 1;
        }
        m = m.previous();
    }
    out.reverse();
    out
}

/// Time in stage for one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MonthTimes {
    /// `YYYY-MM`.
    pub month: String,
    pub stages: Vec<StageTime>,
}

/// A lead as the sources report sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadSeen {
    /// The source channel's key (`Source`), `None` when not recorded.
    pub source: Option<String>,
    pub created_at: OffsetDateTime,
    /// When it was first qualified into an opportunity.
    pub converted_at: Option<OffsetDateTime>,
}

/// One source channel's way from leads to won deals in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct SourceRow {
    /// The source key (`website`, `referral`, …); `""` for records without a source.
    pub source: String,
    /// Leads created in the period.
    pub leads: u64,
    /// Of those, qualified into an opportunity (by now).
    pub converted: u64,
    /// converted ÷ leads (0 without leads).
    pub lead_conversion: f64,
    /// Opportunities of this source created in the period.
    pub opportunities: u64,
    /// Opportunities of this source won / lost in the period (closed as the win rate counts).
    pub won: u64,
    pub lost: u64,
    /// Amount won, CNY minor units, at closing.
    pub won_amount: i64,
    /// won ÷ (won + lost) (0 when none closed).
    pub win_rate: f64,
}

/// Leads → opportunities → won by source channel, in the period: one row per source with
/// any number (in the order of [`Source::ALL`], records without a source last). `created`
/// and `closed` are the opportunities created and closed in the period keyed by source (see
/// [`crate::projection::created_by`] and [`crate::projection::closed_by`]).
pub fn sources(
    leads: &[LeadSeen],
    pipeline: &Pipeline,
    created: &[KeyedCount],
    closed: &[KeyedCount],
    period: Period,
) -> Vec<SourceRow> {
    let mut rows: BTreeMap<String, SourceRow> = BTreeMap::new();
    fn row<'a>(rows: &'a mut BTreeMap<String, SourceRow>, key: &str) -> &'a mut SourceRow {
        rows.entry(key.to_string()).or_insert_with(|| SourceRow {
            source: key.to_string(),
            ..Default::default()
        })
    }
    for l in leads.iter().filter(|l| period.contains(l.created_at)) {
        let r = row(&mut rows, l.source.as_deref().unwrap_or_default());
        r.leads += 1;
        r.converted += l.converted_at.is_some() as u64;
    }
    for c in created {
        row(&mut rows, &c.key).opportunities += c.count;
    }
    for c in closed {
        let r = row(&mut rows, &c.key);
        if pipeline.stage(c.stage_id).map(|s| s.kind) == Some(StageKind::Won) {
            r.won += c.count;
            r.won_amount += if c.currency == "CNY" { c.amount } else { 0 };
        } else {
            r.lost += c.count;
        }
    }
    let order = |s: &str| {
        Source::ALL
            .iter()
            .position(|x| x.as_str() == s)
            .unwrap_or(Source::ALL.len())
    };
    let mut out: Vec<SourceRow> = rows
        .into_values()
        .map(|mut r| {
            r.lead_conversion = if r.leads == 0 {
                0.0
            } else {
                r.converted as f64 / r.leads as f64
            };
            r.win_rate = if r.won + r.lost == 0 {
                0.0
            } else {
                r.won as f64 / (r.won + r.lost) as f64
            };
            r
        })
        .collect();
    out.sort_by_key(|r| (order(&r.source), r.source.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{funnel, lives, stays_of, win_loss_rows};
    use crate::opportunity::{EventKind, OpportunityEvent};
    use crate::process::{b2b_template, build_pipeline};
    use crate::projection::{closed_by, created_by, StayRow};
    use serde_json::json;
    use time::macros::{date, datetime};
    use time::Duration;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    /// Stages 10 Qualification, 11 Needs, 12 Proposal, 13 Negotiation, 14 Won, 15 Lost.
    fn pipeline() -> Pipeline {
        build_pipeline(&b2b_template(), 1, 10)
    }

    /// One opportunity created at `start` (days after T0) in `path[0]`, moving a day later
    /// to each next stage.
    fn walk(id: i64, start: i64, amount: i64, path: &[StageId]) -> Vec<OpportunityEvent> {
        let at = |d: i64| T0 + Duration::days(start + d);
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
                "probability": 10, "owner_id": 7
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

    fn period(from_day: i64, days: i64) -> Period {
        Period {
            from: T0 + Duration::days(from_day),
            to: T0 + Duration::days(from_day + days),
        }
    }

    fn conv(stage: StageId, entered: u64, advanced: u64) -> StageConversion {
        StageConversion {
            stage_id: stage,
            entered,
            advanced,
            won: 0,
            lost: entered - advanced,
            open: 0,
            conversion: if entered == 0 {
                0.0
            } else {
                advanced as f64 / entered as f64
            },
            to_won: 0.0,
        }
    }

    #[test]
    fn trailing_periods_are_the_same_length_just_before() {
        let p = period(28, 7);
        let t = trailing_periods(p, 4);
        assert_eq!(t.len(), 4);
        assert_eq!((t[0].from, t[0].to), (T0 + Duration::days(21), p.from));
        assert_eq!((t[3].from, t[3].to), (T0, T0 + Duration::days(7)));
    }

    /// (current (entered, advanced) per stage, trailing periods' rows, expected baselines in
    /// percent, expected bottleneck index).
    #[test]
    fn the_bottleneck_is_the_largest_drop_against_the_baseline() {
        type Rows = Vec<(u64, u64)>;
        type Case = (
            &'static str,
            Rows,
            Vec<Rows>,
            Vec<Option<u64>>,
            Option<usize>,
        );
        let cases: Vec<Case> = vec![
            (
                // Seed 000: 200 → 100 → 50 → 20 → 10; the proposal stage loses 60% where the
                // team usually loses 40% → the bottleneck, a 20-point drop.
                "seed 000, proposal loses 60%",
                vec![(200, 100), (100, 50), (50, 20), (20, 10)],
                vec![
                    vec![(200, 100), (100, 50), (50, 30), (30, 15)],
                    vec![(100, 50), (50, 25), (25, 15), (15, 7)],
                ],
                vec![Some(50), Some(50), Some(60), Some(48)], // 22 of 45 at negotiation
                Some(2),
            ),
            (
                // Everything at least as good as usual: no bottleneck.
                "no stage worse than usual",
                vec![(10, 6), (6, 3)],
                vec![vec![(10, 5), (5, 2)]],
                vec![Some(50), Some(40)],
                None,
            ),
            (
                // Nothing entered the first stage before: no baseline for it; the second
                // fell from 80% to 50%.
                "a stage without baseline is never the bottleneck",
                vec![(10, 1), (10, 5)],
                vec![vec![(0, 0), (10, 8)]],
                vec![None, Some(80)],
                Some(1),
            ),
            (
                // Two equal drops (10 points): the earlier stage.
                "a tie goes to the earlier stage",
                vec![(10, 4), (10, 4)],
                vec![vec![(10, 5), (10, 5)]],
                vec![Some(50), Some(50)],
                Some(0),
            ),
            ("no history at all", vec![(5, 1)], vec![], vec![None], None),
        ];
        for (name, current, trailing, baselines, bottleneck) in cases {
            let cur: Vec<StageConversion> = current
                .iter()
                .enumerate()
                .map(|(i, (e, a))| conv(10 + i as i64, *e, *a))
                .collect();
            let tr: Vec<Vec<StageConversion>> = trailing
                .iter()
                .map(|rows| {
                    rows.iter()
                        .enumerate()
                        .map(|(i, (e, a))| conv(10 + i as i64, *e, *a))
                        .collect()
                })
                .collect();
            let got = with_baseline(&cur, &tr);
            let pct: Vec<Option<u64>> = got
                .iter()
                .map(|r| r.baseline.map(|b| (b * 100.0).floor() as u64))
                .collect();
            assert_eq!(pct, baselines, "{name}: baselines");
            let flagged: Vec<usize> = got
                .iter()
                .enumerate()
                .filter(|(_, r)| r.bottleneck)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                flagged,
                bottleneck.into_iter().collect::<Vec<_>>(),
                "{name}"
            );
        }
    }

    #[test]
    fn the_bottleneck_from_the_history_itself() {
        // Four trailing weeks: 10 qualified a week, 5 lost there, 5 through needs analysis
        // to proposal, where 2 are lost (40%) and 3 go on to win.
        let mut events = vec![];
        let mut id = 0;
        let mut add = |n: usize, start: i64, path: &[StageId]| {
            for _ in 0..n {
                id += 1;
                events.extend(walk(id, start, 100, path));
            }
        };
        for week in 0..4 {
            add(5, week * 7, &[10, 15]);
            add(2, week * 7, &[10, 11, 12, 15]);
            add(3, week * 7, &[10, 11, 12, 13, 14]);
        }
        // This week, as in seed 000: the proposal stage loses 60%.
        add(10, 28, &[10, 15]);
        add(6, 28, &[10, 11, 12, 15]);
        add(4, 28, &[10, 11, 12, 13, 14]);
        let l = lives(&events);
        let p = pipeline();
        let now = period(28, 7);
        let trailing: Vec<_> = trailing_periods(now, BASELINE_PERIODS)
            .into_iter()
            .map(|t| funnel(&l, &p, t))
            .collect();
        let rows = with_baseline(&funnel(&l, &p, now), &trailing);
        let got: Vec<(u64, u64, Option<f64>, bool)> = rows
            .iter()
            .map(|r| (r.entered, r.advanced, r.baseline, r.bottleneck))
            .collect();
        assert_eq!(
            got,
            [
                (20, 10, Some(0.5), false),
                (10, 10, Some(1.0), false),
                (10, 4, Some(0.6), true),
                (4, 4, Some(1.0), false),
            ]
        );
        assert!((rows[2].drop.unwrap() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn cycle_length_of_deals_won_in_the_period() {
        let mut events = vec![];
        // Won after 4, 5, 6, 7 days (paths with extra needs-analysis loops), one lost.
        events.extend(walk(1, 0, 100, &[10, 11, 12, 13, 14]));
        events.extend(walk(2, 0, 100, &[10, 11, 12, 11, 13, 14]));
        events.extend(walk(3, 0, 100, &[10, 11, 12, 11, 12, 13, 14]));
        events.extend(walk(4, 0, 100, &[10, 11, 12, 11, 12, 11, 13, 14]));
        events.extend(walk(5, 0, 100, &[10, 15]));
        let l = lives(&events);
        let c = cycle_length(&l, &pipeline(), period(0, 31));
        assert_eq!(
            (c.count, c.median_days, c.p75_days, c.p90_days),
            (4, Some(5), Some(6), Some(7))
        );
        // Won before the period: nothing.
        assert_eq!(cycle_length(&l, &pipeline(), period(10, 5)).count, 0);
    }

    #[test]
    fn months_ending_cover_calendar_months() {
        let cases = [
            (
                date!(2026 - 03 - 15),
                3,
                vec![
                    (date!(2026 - 01 - 01), date!(2026 - 01 - 31)),
                    (date!(2026 - 02 - 01), date!(2026 - 02 - 28)),
                    (date!(2026 - 03 - 01), date!(2026 - 03 - 31)),
                ],
            ),
            (
                date!(2026 - 01 - 01),
                2,
                vec![
                    (date!(2025 - 12 - 01), date!(2025 - 12 - 31)),
                    (date!(2026 - 01 - 01), date!(2026 - 01 - 31)),
                ],
            ),
        ];
        for (last, n, want) in cases {
            assert_eq!(months_ending(last, n), want);
        }
        assert_eq!(months_ending(date!(2026 - 05 - 31), 12).len(), 12);
    }

    #[test]
    fn win_loss_grouped_by_an_attribute() {
        let mut events = vec![];
        events.extend(walk(1, 0, 1_000, &[10, 14]));
        events.extend(walk(2, 0, 2_000, &[10, 15]));
        events.extend(walk(3, 0, 4_000, &[10, 11, 14]));
        events.extend(walk(4, 0, 8_000, &[10, 11])); // still open
        let stays = stays_of(&lives(&events), &pipeline());
        let key = |s: &StayRow| {
            if s.opportunity_id == 1 {
                "制造业"
            } else {
                ""
            }
            .to_string()
        };
        let counts = closed_by(&stays, period(0, 31), key);
        let rows = win_loss_rows(&pipeline(), &counts);
        let got: Vec<(&str, u64, u64, i64, i64)> = rows
            .iter()
            .map(|r| (r.value.as_str(), r.won, r.lost, r.won_amount, r.lost_amount))
            .collect();
        assert_eq!(got, [("", 1, 1, 4_000, 2_000), ("制造业", 1, 0, 1_000, 0)]);
    }

    #[test]
    fn sources_follow_leads_to_won_deals() {
        let lead = |source: Option<&str>, day: i64, converted: bool| LeadSeen {
            source: source.map(str::to_string),
            created_at: T0 + Duration::days(day),
            converted_at: converted.then(|| T0 + Duration::days(day + 1)),
        };
        // Website: 4 leads in January, 1 converted; one more in February (outside).
        // Referral: 2 leads, both converted. No source: 1 lead.
        let leads = vec![
            lead(Some("website"), 1, true),
            lead(Some("website"), 2, false),
            lead(Some("website"), 3, false),
            lead(Some("website"), 4, false),
            lead(Some("website"), 40, true),
            lead(Some("referral"), 5, true),
            lead(Some("referral"), 6, true),
            lead(None, 7, false),
        ];
        let mut events = vec![];
        events.extend(walk(1, 2, 5_000, &[10, 11, 14])); // website, won
        events.extend(walk(2, 6, 9_000, &[10, 14])); // referral, won
        events.extend(walk(3, 7, 1_000, &[10, 15])); // referral, lost
        events.extend(walk(4, 8, 3_000, &[10])); // referral, open
        events.extend(walk(5, 50, 3_000, &[10, 14])); // website, February
        let source_of = |id: OpportunityId| match id {
            1 | 5 => Some("website".to_string()),
            _ => Some("referral".to_string()),
        };
        let stays = stays_of(&lives(&events), &pipeline());
        let key = |s: &StayRow| source_of(s.opportunity_id).unwrap_or_default();
        let p = period(0, 31);
        let rows = sources(
            &leads,
            &pipeline(),
            &created_by(&stays, p, key),
            &closed_by(&stays, p, key),
            p,
        );
        let got: Vec<(&str, u64, u64, u64, u64, u64, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.source.as_str(),
                    r.leads,
                    r.converted,
                    r.opportunities,
                    r.won,
                    r.lost,
                    r.won_amount,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("website", 4, 1, 1, 1, 0, 5_000),
                ("referral", 2, 2, 3, 1, 1, 9_000),
                ("", 1, 0, 0, 0, 0, 0),
            ]
        );
        assert_eq!(rows[0].lead_conversion, 0.25);
        assert_eq!((rows[1].lead_conversion, rows[1].win_rate), (1.0, 0.5));
        assert_eq!(rows[2].win_rate, 0.0);
    }
}
