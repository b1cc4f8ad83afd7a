//! Long-horizon forecasts and their measured accuracy. A horizon adds to the open pipeline's
//! simulation the pipeline not yet created: monthly creations drawn around the historical
//! creation rate (a least-squares trend over the last 24 complete months, times a
//! month-of-year seasonal index), won with the historical conversion of new deals, after a
//! created → won time and for an amount drawn from the deals won. Also: the accuracy and
//! bias of a forecast against what was won. Pure and seeded; definitions in
//! `docs/metrics.md`.

use rand::{Rng, SeedableRng};
use serde::Serialize;
use time::{Date, Month, OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

use crate::analytics::{percentile, simulated_runs, ForecastInputs, Life};
use crate::model::*;

/// Months of complete history the creation rate is estimated from.
pub const RATE_WINDOW_MONTHS: i32 = 24;

fn china() -> UtcOffset {
    crate::calendar::CHINA
}

/// The first day of the month `d` is in.
pub fn month_start(d: Date) -> Date {
    d.replace_day(1).expect("day 1 exists")
}

/// The first day of the month `n` months after the month of `d` (n may be negative).
pub fn add_months(d: Date, n: i32) -> Date {
    let index = d.year() * 12 + (d.month() as i32 - 1) + n;
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("1..=12");
    Date::from_calendar_date(index.div_euclid(12), month, 1).expect("a first of a month")
}

/// `count` consecutive periods of `months_per` months (1 month, 3 a quarter, 12 a year),
/// the first being the one that contains `today`; each `(first day, last day)`.
pub fn calendar_periods(today: Date, months_per: u8, count: usize) -> Vec<(Date, Date)> {
    let months_per = months_per.max(1) as i32;
    let first_month = (today.month() as i32 - 1) / months_per * months_per;
    let mut start = add_months(
        Date::from_calendar_date(today.year(), Month::January, 1).expect("1 January"),
        first_month,
    );
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let next = add_months(start, months_per);
        out.push((start, next.previous_day().expect("a day before")));
        start = next;
    }
    out
}

/// Percentiles of one simulated amount (CNY minor units) over the runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Band {
    pub p10: i64,
    pub p50: i64,
    pub p90: i64,
    pub mean: i64,
}

impl Band {
    fn of(mut v: Vec<i64>) -> Band {
        v.sort_unstable();
        let mean = if v.is_empty() {
            0
        } else {
            (v.iter().map(|x| *x as i128).sum::<i128>() / v.len() as i128) as i64
        };
        Band {
            p10: percentile(&v, 10).unwrap_or_default(),
            p50: percentile(&v, 50).unwrap_or_default(),
            p90: percentile(&v, 90).unwrap_or_default(),
            mean,
        }
    }
}

/// One period of a horizon: the won amount simulated in total, from the pipeline that
/// exists now (the amount already won in the period included), and from deals not yet
/// created. Means add up (`existing.mean + new.mean ≈ total.mean`); percentiles do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HorizonBucket {
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Already won in the period.
    pub won: i64,
    pub total: Band,
    pub existing: Band,
    pub new: Band,
}

/// What the history says about new pipeline, as estimated for a horizon.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CreationModel {
    /// Opportunities created per month, oldest first (the complete months of the window).
    pub monthly_created: Vec<u64>,
    /// Least-squares line over the window: the level at its centre and the change per month.
    pub level: f64,
    pub slope: f64,
    /// Standard errors of the level and the slope.
    pub level_se: f64,
    pub slope_se: f64,
    /// Month-of-year index (January first), mean 1.
    pub seasonality: Vec<f64>,
    /// Deals created in the window that are closed now: won ÷ (won + lost).
    pub conversion: f64,
    /// Won deals of the window (their created → won days and amounts are drawn from).
    pub won_sample: usize,
}

/// The complete months a creation rate is estimated from: from the month of the first
/// creation, at most [`RATE_WINDOW_MONTHS`] back, to the month before `now`'s; as the first
/// day of the first month and the first day of `now`'s month (China time).
pub fn creation_window(first_created: Option<OffsetDateTime>, now: OffsetDateTime) -> (Date, Date) {
    let this_month = month_start(now.to_offset(china()).date());
    let window_start = add_months(this_month, -RATE_WINDOW_MONTHS);
    let start = first_created
        .map(|f| month_start(f.to_offset(china()).date()))
        .map_or(this_month, |f| f.clamp(window_start, this_month));
    (start, this_month)
}

/// The first days of the window's months, then the first day of `now`'s month (its end).
pub fn window_months(window: (Date, Date)) -> Vec<Date> {
    let n = month_index(window.1) - month_index(window.0);
    (0..=n.max(0)).map(|k| add_months(window.0, k)).collect()
}

/// A deal created in the window and won now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WonDeal {
    pub created_at: OffsetDateTime,
    /// When it entered the won stage it is in.
    pub won_at: OffsetDateTime,
    /// The amount when it was won.
    pub amount_minor: i64,
    pub currency: String,
}

/// What the history says about the deals created in the creation window: how many each
/// month, and what became of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationSample {
    /// The first day of the window's first month.
    pub start: Date,
    /// Created per month of the window, oldest first.
    pub monthly_created: Vec<u64>,
    /// Of them, those whose last stay is in a won stage, and in a lost one.
    pub won: u64,
    pub lost: u64,
    /// Days from creation to winning of the deals won, ascending.
    pub days: Vec<i64>,
    /// The amounts (CNY) the deals won were won for, ascending.
    pub amounts: Vec<i64>,
}

impl CreationSample {
    /// The sample of `window` (see [`creation_window`]) from the deals created in each of its
    /// months (see [`window_months`]) and the window's deals won and lost now.
    pub fn new(
        window: (Date, Date),
        monthly_created: Vec<u64>,
        won: &[WonDeal],
        lost: u64,
    ) -> Self {
        let mut days: Vec<i64> = won
            .iter()
            .map(|w| (w.won_at - w.created_at).whole_days().max(0))
            .collect();
        let mut amounts: Vec<i64> = won
            .iter()
            .filter(|w| w.currency == "CNY")
            .map(|w| w.amount_minor)
            .collect();
        days.sort_unstable();
        amounts.sort_unstable();
        CreationSample {
            start: window.0,
            monthly_created,
            won: won.len() as u64,
            lost,
            days,
            amounts,
        }
    }

    /// The sample replayed from lives as of `now`.
    pub fn of(lives: &[Life], pipeline: &Pipeline, now: OffsetDateTime) -> Self {
        let window = creation_window(
            lives
                .iter()
                .map(|l| l.created_at)
                .filter(|&c| c <= now)
                .min(),
            now,
        );
        let (start, end) = (
            window.0.midnight().assume_offset(china()),
            window.1.midnight().assume_offset(china()),
        );
        let months = window_months(window);
        let mut monthly_created = vec![0u64; months.len() - 1];
        let (mut won, mut lost) = (Vec::new(), 0);
        for life in lives
            .iter()
            .filter(|l| start <= l.created_at && l.created_at < end)
        {
            let created = life.created_at.to_offset(china()).date();
            monthly_created[(month_index(created) - month_index(window.0)) as usize] += 1;
            let Some(last) = life.spans.last() else {
                continue;
            };
            match pipeline.stage(last.stage_id).map(|s| s.kind) {
                Some(StageKind::Won) => {
                    let s = life.state_at(last.from);
                    won.push(WonDeal {
                        created_at: life.created_at,
                        won_at: last.from,
                        amount_minor: s.as_ref().map_or(0, |s| s.amount_minor),
                        currency: s.map_or_else(|| "CNY".into(), |s| s.currency),
                    })
                }
                Some(StageKind::Lost) => lost += 1,
                _ => {}
            }
        }
        CreationSample::new(window, monthly_created, &won, lost)
    }
}

/// The pipeline not yet created, estimated from the deals created in the complete months
/// before `now`'s month (at most [`RATE_WINDOW_MONTHS`]).
pub fn creation_model(lives: &[Life], pipeline: &Pipeline, now: OffsetDateTime) -> CreationModel {
    creation_model_from(&CreationSample::of(lives, pipeline, now))
}

/// The creation model of a sample: the trend line, its errors, the seasonality and the
/// conversion.
pub fn creation_model_from(sample: &CreationSample) -> CreationModel {
    let counts = sample.monthly_created.clone();
    let start = sample.start;
    let n = counts.len() as f64;
    let (mut level, mut slope, mut level_se, mut slope_se) = (0.0, 0.0, 0.0, 0.0);
    if !counts.is_empty() {
        let centre = (n - 1.0) / 2.0;
        level = counts.iter().map(|&c| c as f64).sum::<f64>() / n;
        let sxx: f64 = (0..counts.len()).map(|i| (i as f64 - centre).powi(2)).sum();
        if counts.len() >= 3 && sxx > 0.0 {
            slope = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| (i as f64 - centre) * (c as f64 - level))
                .sum::<f64>()
                / sxx;
            let rss: f64 = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| (c as f64 - level - slope * (i as f64 - centre)).powi(2))
                .sum();
            // Counts vary at least as a Poisson count does (variance = mean).
            let s2 = (rss / (n - 2.0)).max(level);
            level_se = (s2 / n).sqrt();
            slope_se = (s2 / sxx).sqrt();
        } else {
            // Too short for a trend: the level alone, as uncertain as a Poisson count.
            level_se = (level / n).sqrt();
        }
    }
    // Seasonality: the mean ratio of each calendar month's count to the line, scaled to
    // mean 1 over the months seen; months never seen count 1.
    let mut seasonality = vec![1.0; 12];
    if counts.len() >= 12 {
        let centre = (n - 1.0) / 2.0;
        let mut sums = [(0.0f64, 0u32); 12];
        for (i, &c) in counts.iter().enumerate() {
            let fitted = level + slope * (i as f64 - centre);
            if fitted > 0.0 {
                let m = add_months(start, i as i32).month() as usize - 1;
                sums[m].0 += c as f64 / fitted;
                sums[m].1 += 1;
            }
        }
        let seen: Vec<f64> = sums
            .iter()
            .filter(|s| s.1 > 0)
            .map(|s| s.0 / s.1 as f64)
            .collect();
        let mean = seen.iter().sum::<f64>() / seen.len().max(1) as f64;
        if mean > 0.0 {
            for (m, s) in sums.iter().enumerate() {
                if s.1 > 0 {
                    seasonality[m] = s.0 / s.1 as f64 / mean;
                }
            }
        }
    }
    CreationModel {
        // The centre of the line is the middle of the window; store the level there.
        monthly_created: counts,
        level,
        slope,
        level_se,
        slope_se,
        seasonality,
        conversion: if sample.won + sample.lost == 0 {
            0.0
        } else {
            sample.won as f64 / (sample.won + sample.lost) as f64
        },
        won_sample: sample.days.len(),
    }
}

fn month_index(d: Date) -> i32 {
    d.year() * 12 + d.month() as i32 - 1
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A Poisson draw: by multiplication below 30, else the normal approximation, rounded.
fn poisson(rng: &mut impl Rng, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= rng.gen::<f64>();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
    (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u64
}

/// What a horizon simulation takes besides the history.
#[derive(Debug, Clone, Copy)]
pub struct HorizonOptions {
    pub runs: usize,
    pub seed: u64,
    /// Add the pipeline not yet created (false: the open pipeline only).
    pub include_new: bool,
}

/// The horizon forecast (seeded Monte Carlo) for consecutive `periods` from `now`.
///
/// Existing pipeline, per run: each open deal (CNY, not archived) is won with P(won |
/// reached its current stage) from the closed history and then closes its stage-entry time
/// plus a drawn stage → won time (a time already past closes it today): the Monte Carlo
/// forecast's own runs ([`simulated_runs`]). New pipeline, per run: the creation line's level and slope are drawn from
/// their estimates' normal errors (so the uncertainty of the rate grows with the distance);
/// each month from now on, the number of new deals that will be won is Poisson with mean
/// `max(0, line) × season × conversion` (only the rest of the current month counts), each
/// created at a uniform instant of the month and won after a created → won time and with an
/// amount both drawn from the deals won in the window (computed per period, see
/// `new_pipeline_runs`).
pub fn horizon(
    lives: &[Life],
    pipeline: &Pipeline,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    opts: HorizonOptions,
) -> Vec<HorizonBucket> {
    let first = periods.first().map_or(now.date(), |p| p.0);
    horizon_from(
        pipeline,
        &ForecastInputs::of(lives, pipeline, now, first),
        &CreationSample::of(lives, pipeline, now),
        now,
        periods,
        opts,
    )
}

/// [`horizon`] from what it reads: the forecast's inputs as of `now` for periods from the
/// first of `periods`, and the creation sample.
pub fn horizon_from(
    pipeline: &Pipeline,
    inputs: &ForecastInputs,
    sample: &CreationSample,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    opts: HorizonOptions,
) -> Vec<HorizonBucket> {
    let runs = opts.runs.max(1);
    // The existing pipeline: exactly the Monte Carlo forecast's runs.
    let existing = simulated_runs(pipeline, inputs, now, periods, runs, opts.seed);
    let model = creation_model_from(sample);
    let new_on = opts.include_new
        && model.conversion > 0.0
        && !sample.days.is_empty()
        && !sample.amounts.is_empty();
    let new = if new_on {
        new_pipeline_runs(&model, sample, now, periods, runs, opts.seed)
    } else {
        vec![vec![0; runs]; periods.len()]
    };
    periods
        .iter()
        .enumerate()
        .map(|(i, &(from, to))| {
            let total = existing.totals[i]
                .iter()
                .zip(&new[i])
                .map(|(a, b)| a + b)
                .collect();
            HorizonBucket {
                from,
                to,
                won: existing.settled[i],
                total: Band::of(total),
                existing: Band::of(existing.totals[i].clone()),
                new: Band::of(new[i].clone()),
            }
        })
        .collect()
}

/// From this many new deals won in a period of one run on, the sum of their amounts is drawn
/// from the normal distribution with the sample's mean and variance times the count (the
/// central limit), rather than deal by deal.
const EXACT_SUM_BELOW: u64 = 200;

/// The won amount of the pipeline not yet created, per period and run (see [`horizon`]).
///
/// A deal created in month k at a uniform instant and won a drawn created → won time later
/// lands in period i with a chance `q[k][i]` computed once from the sample. The deals won of
/// month k being Poisson with mean λₖ, those of month k that land in period i are Poisson with
/// mean λₖ·q[k][i], independently, and those of period i Poisson with mean Σₖ λₖ·q[k][i]
/// (Poisson splitting and superposition): one draw per period and run, each deal's amount
/// then drawn from the sample.
fn new_pipeline_runs(
    model: &CreationModel,
    sample: &CreationSample,
    now: OffsetDateTime,
    periods: &[(Date, Date)],
    runs: usize,
    seed: u64,
) -> Vec<Vec<i64>> {
    let today = now.to_offset(china()).date();
    let this_month = month_start(today);
    let last_day = periods.iter().map(|p| p.1).max().unwrap_or(today);
    let months_ahead = (month_index(last_day) - month_index(this_month) + 1).max(0);
    let at = |d: Date| d.midnight().assume_offset(china()).unix_timestamp();
    let bounds: Vec<(i64, i64)> = periods
        .iter()
        .map(|&(a, b)| (at(a), at(b.next_day().expect("a day after"))))
        .collect();
    // Created → won days: (days, how many).
    let mut days: Vec<(i64, u64)> = Vec::new();
    for &d in &sample.days {
        match days.last_mut() {
            Some(last) if last.0 == d => last.1 += 1,
            _ => days.push((d, 1)),
        }
    }
    let total_days = sample.days.len() as f64;
    // Per month from now on: its line position, season and the part of it still to come, and
    // the chance of each period.
    let n_window = model.monthly_created.len() as f64;
    let centre = (n_window - 1.0) / 2.0;
    let months: Vec<(f64, f64, Vec<f64>)> = (0..months_ahead)
        .map(|k| {
            let month = add_months(this_month, k);
            let (month_from, month_to) = (at(month), at(add_months(this_month, k + 1)));
            let from = if k == 0 {
                now.unix_timestamp().max(month_from)
            } else {
                month_from
            };
            let share = (month_to - from) as f64 / (month_to - month_from) as f64;
            let q = bounds
                .iter()
                .map(|&(a, b)| {
                    let span = (month_to - from).max(1) as f64;
                    days.iter()
                        .map(|&(d, n)| {
                            let (x, y) = (from + d * 86_400, month_to + d * 86_400);
                            (y.min(b) - x.max(a)).max(0) as f64 / span * n as f64
                        })
                        .sum::<f64>()
                        / total_days
                })
                .collect();
            let x = n_window + k as f64 - centre;
            let season = model.seasonality[month.month() as usize - 1];
            (x, season * model.conversion * share, q)
        })
        .collect();
    let amounts = &sample.amounts;
    let n_amounts = amounts.len() as f64;
    let mean = amounts.iter().map(|&a| a as f64).sum::<f64>() / n_amounts;
    let sd = (amounts
        .iter()
        .map(|&a| (a as f64 - mean).powi(2))
        .sum::<f64>()
        / n_amounts)
        .sqrt();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<Vec<i64>> = vec![Vec::with_capacity(runs); periods.len()];
    let mut lambda = vec![0.0f64; periods.len()];
    for _ in 0..runs {
        let level = model.level + model.level_se * normal(&mut rng);
        let slope = model.slope + model.slope_se * normal(&mut rng);
        lambda.iter_mut().for_each(|l| *l = 0.0);
        for (x, factor, q) in &months {
            let rate = (level + slope * x).max(0.0) * factor;
            for (l, qi) in lambda.iter_mut().zip(q) {
                *l += rate * qi;
            }
        }
        for (i, &l) in lambda.iter().enumerate() {
            let n = poisson(&mut rng, l);
            let won = if n < EXACT_SUM_BELOW {
                (0..n)
                    .map(|_| amounts[rng.gen_range(0..amounts.len())])
                    .sum()
            } else {
                let n = n as f64;
                (n * mean + n.sqrt() * sd * normal(&mut rng))
                    .round()
                    .max(0.0) as i64
            };
            out[i].push(won);
        }
    }
    out
}

/// How close a forecast came to what was won, and its bias.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Accuracy {
    /// `1 − |forecast − actual| ÷ actual`, at least 0; with nothing won, 1 for a forecast of
    /// 0 and 0 otherwise.
    pub accuracy: f64,
    /// `(forecast − actual) ÷ actual` (positive: over-forecast); `None` when nothing was won
    /// (0 when nothing was forecast either).
    pub bias: Option<f64>,
}

/// The accuracy and bias of `forecast` against `actual` (minor units).
pub fn accuracy(forecast: i64, actual: i64) -> Accuracy {
    if actual == 0 {
        return Accuracy {
            accuracy: if forecast == 0 { 1.0 } else { 0.0 },
            bias: (forecast == 0).then_some(0.0),
        };
    }
    let (f, a) = (forecast as f64, actual as f64);
    Accuracy {
        accuracy: (1.0 - (f - a).abs() / a.abs()).max(0.0),
        bias: Some((f - a) / a.abs()),
    }
}

/// The mean accuracy of some forecasts (`None` for none).
pub fn mean_accuracy(values: &[Accuracy]) -> Option<f64> {
    (!values.is_empty())
        .then(|| values.iter().map(|a| a.accuracy).sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::lives;
    use crate::opportunity::{EventKind, OpportunityEvent};
    use crate::process::{b2b_template, build_pipeline};
    use serde_json::json;
    use time::macros::{date, datetime};
    use time::Duration;

    /// Stages 10 Qualification, 11 Needs, 12 Proposal, 13 Negotiation, 14 Won, 15 Lost.
    fn pipeline() -> Pipeline {
        build_pipeline(&b2b_template(), 1, 10)
    }

    fn event(
        id: i64,
        opp: i64,
        kind: EventKind,
        at: OffsetDateTime,
        to: StageId,
    ) -> OpportunityEvent {
        OpportunityEvent {
            id,
            opportunity_id: opp,
            kind,
            actor_id: 1,
            at,
            from_stage_id: None,
            to_stage_id: Some(to),
            old_value: None,
            new_value: (kind == EventKind::Created).then(|| {
                json!({"amount": {"amount_minor": 100, "currency": "CNY"},
                       "close_date": "2026-03-31", "probability": 10, "owner_id": 7})
            }),
        }
    }

    /// `per_month` deals created over the first ten days of each of the 24 months before
    /// `now`'s month (China time), every other one won 30 days later, the rest lost after
    /// 5 days; all for 100 fen.
    fn stationary(now: OffsetDateTime, per_month: i64) -> Vec<OpportunityEvent> {
        let this_month = month_start(now.to_offset(china()).date());
        let mut out = vec![];
        let mut id = 0;
        for m in 1..=24 {
            let month = add_months(this_month, -m);
            for j in 0..per_month {
                id += 1;
                let at = month.midnight().assume_offset(china())
                    + Duration::hours(10 + j % 8)
                    + Duration::days(j % 10);
                out.push(event(id * 10, id, EventKind::Created, at, 10));
                let (after, to) = if id % 2 == 0 { (30, 14) } else { (5, 15) };
                out.push(event(
                    id * 10 + 1,
                    id,
                    EventKind::StageChanged,
                    at + Duration::days(after),
                    to,
                ));
            }
        }
        out.retain(|e| e.at <= now);
        out
    }

    #[test]
    fn calendar_periods_start_with_the_current_one() {
        let check = |today: Date, per: u8, n: usize, expected: Vec<(Date, Date)>| {
            assert_eq!(calendar_periods(today, per, n), expected, "{today} {per}");
        };
        check(
            date!(2026 - 11 - 25),
            1,
            3,
            vec![
                (date!(2026 - 11 - 01), date!(2026 - 11 - 30)),
                (date!(2026 - 12 - 01), date!(2026 - 12 - 31)),
                (date!(2027 - 01 - 01), date!(2027 - 01 - 31)),
            ],
        );
        check(
            date!(2026 - 11 - 25),
            3,
            2,
            vec![
                (date!(2026 - 10 - 01), date!(2026 - 12 - 31)),
                (date!(2027 - 01 - 01), date!(2027 - 03 - 31)),
            ],
        );
        check(
            date!(2024 - 02 - 10),
            1,
            1,
            vec![(date!(2024 - 02 - 01), date!(2024 - 02 - 29))],
        );
        assert_eq!(
            add_months(date!(2026 - 01 - 15), -13),
            date!(2024 - 12 - 01)
        );
    }

    #[test]
    fn accuracy_and_bias_by_hand() {
        // (forecast, actual, accuracy, bias)
        let table: &[(i64, i64, f64, Option<f64>)] = &[
            (100, 100, 1.0, Some(0.0)),
            (120, 100, 0.8, Some(0.2)),
            (80, 100, 0.8, Some(-0.2)),
            (50, 200, 0.25, Some(-0.75)),
            (300, 100, 0.0, Some(2.0)),
            (0, 100, 0.0, Some(-1.0)),
            (0, 0, 1.0, Some(0.0)),
            (10, 0, 0.0, None),
        ];
        for &(f, a, acc, bias) in table {
            let got = accuracy(f, a);
            assert!((got.accuracy - acc).abs() < 1e-12, "{f} vs {a}: {got:?}");
            match (got.bias, bias) {
                (Some(g), Some(b)) => assert!((g - b).abs() < 1e-12, "{f} vs {a}: {got:?}"),
                (g, b) => assert_eq!(g, b, "{f} vs {a}"),
            }
        }
        assert_eq!(
            mean_accuracy(&[accuracy(120, 100), accuracy(100, 100)]),
            Some(0.9)
        );
        assert_eq!(mean_accuracy(&[]), None);
    }

    #[test]
    fn the_creation_line_and_conversion_come_from_the_history() {
        let now = datetime!(2026-06-15 04:00 UTC);
        let events = stationary(now, 20);
        let l = lives(&events);
        let m = creation_model(&l, &pipeline(), now);
        assert_eq!(m.monthly_created, vec![20; 24]);
        assert!((m.level - 20.0).abs() < 1e-9 && m.slope.abs() < 1e-9);
        assert!(m.seasonality.iter().all(|s| (s - 1.0).abs() < 1e-9));
        assert_eq!(m.conversion, 0.5);
        assert_eq!(m.won_sample, 240);
    }

    #[test]
    fn a_known_rate_and_conversion_are_recovered() {
        // 20 created a month, half won after 30 days for 100 fen: 1,000 fen a month.
        let now = datetime!(2026-06-15 04:00 UTC);
        let events = stationary(now, 20);
        let l = lives(&events);
        let periods = calendar_periods(date!(2026 - 06 - 15), 1, 12);
        let out = horizon(
            &l,
            &pipeline(),
            now,
            &periods,
            HorizonOptions {
                runs: 10_000,
                seed: 7,
                include_new: true,
            },
        );
        // Won on day d: created on day d − 30, at 20 ÷ (days of that month) a day, half won.
        let expected = |from: Date, to: Date| {
            let mut sum = 0.0;
            let mut d = from;
            while d <= to {
                let source = d - Duration::days(30);
                let days = (add_months(source, 1) - month_start(source)).whole_days() as f64;
                sum += 20.0 / days * 0.5 * 100.0;
                d = d.next_day().unwrap();
            }
            sum
        };
        for b in &out[2..] {
            let e = expected(b.from, b.to);
            assert!(
                (b.total.mean as f64 - e).abs() <= e * 0.04,
                "{}: mean {} (expected {e:.0})",
                b.from,
                b.total.mean
            );
            assert_eq!(b.existing.mean, 0, "nothing is open");
            assert!(b.total.p10 <= b.total.p50 && b.total.p50 <= b.total.p90);
        }
    }

    #[test]
    fn a_large_creation_rate_is_recovered_with_an_honest_band() {
        // 4,000 created a month, half won after 30 days for 100 or 300 fen: about 2,000 won a
        // month, so each period's amounts are summed by the central limit.
        let now = datetime!(2026-06-15 04:00 UTC);
        let today = date!(2026 - 06 - 15);
        let start = add_months(month_start(today), -24);
        let won: Vec<WonDeal> = (0..1_000)
            .map(|i| WonDeal {
                created_at: now - Duration::days(100),
                won_at: now - Duration::days(70),
                amount_minor: if i % 2 == 0 { 100 } else { 300 },
                currency: "CNY".into(),
            })
            .collect();
        let window = creation_window(Some(start.midnight().assume_utc() + Duration::days(1)), now);
        assert_eq!(window, (start, month_start(today)));
        assert_eq!(window_months(window).len(), 25, "24 months and the end");
        let sample = CreationSample::new(window, vec![4_000; 24], &won, 1_000);
        let periods = calendar_periods(today, 1, 6);
        let out = horizon_from(
            &pipeline(),
            &ForecastInputs::default(),
            &sample,
            now,
            &periods,
            HorizonOptions {
                runs: 4_000,
                seed: 11,
                include_new: true,
            },
        );
        for b in &out[2..] {
            let mut e = 0.0;
            let mut d = b.from;
            while d <= b.to {
                let source = d - Duration::days(30);
                let days = (add_months(source, 1) - month_start(source)).whole_days() as f64;
                e += 4_000.0 / days * 0.5 * 200.0;
                d = d.next_day().unwrap();
            }
            let mean = b.new.mean as f64;
            assert!(
                (mean - e).abs() <= e * 0.02,
                "{}: mean {mean} (expected {e:.0})",
                b.from
            );
            // About 2,000 deals: the count's Poisson spread (±2.2 %), the amounts' (±1.1 %) and
            // the rate's: P10–P90 about 6 % of the mean.
            let width = (b.new.p90 - b.new.p10) as f64 / mean;
            assert!((0.04..0.10).contains(&width), "{}: width {width}", b.from);
        }
    }

    #[test]
    fn the_band_widens_with_distance_on_a_stationary_history() {
        let now = datetime!(2026-06-15 04:00 UTC);
        let events = stationary(now, 20);
        let l = lives(&events);
        let periods = calendar_periods(date!(2026 - 06 - 15), 1, 36);
        let out = horizon(
            &l,
            &pipeline(),
            now,
            &periods,
            HorizonOptions {
                runs: 10_000,
                seed: 3,
                include_new: true,
            },
        );
        let width = |b: &HorizonBucket| b.total.p90 - b.total.p10;
        let near: i64 = out[2..5].iter().map(width).sum();
        let far: i64 = out[33..36].iter().map(width).sum();
        assert!(far > near, "near {near}, far {far}");
        // Without new pipeline nothing is forecast where nothing is open.
        let only_open = horizon(
            &l,
            &pipeline(),
            now,
            &periods,
            HorizonOptions {
                runs: 100,
                seed: 3,
                include_new: false,
            },
        );
        assert!(only_open.iter().all(|b| b.total.p90 == b.won));
        assert!(only_open[1..].iter().all(|b| b.total.p90 == 0));
    }

    #[test]
    fn open_deals_land_in_the_existing_part() {
        let now = datetime!(2026-06-15 04:00 UTC);
        let mut events = stationary(now, 4);
        // One open deal in Qualification, created two days ago; Qualification deals won half
        // the time, 30 days after creation.
        events.push(event(
            9_000_000,
            90_000,
            EventKind::Created,
            now - Duration::days(2),
            10,
        ));
        let l = lives(&events);
        let periods = calendar_periods(date!(2026 - 06 - 15), 1, 3);
        let out = horizon(
            &l,
            &pipeline(),
            now,
            &periods,
            HorizonOptions {
                runs: 4_000,
                seed: 1,
                include_new: false,
            },
        );
        // Won 30 days after 13 June: 13 July, the second period, half the time.
        assert_eq!(out[0].existing.p90, out[0].won, "nothing more this month");
        assert!((out[1].existing.mean - 50).abs() <= 4, "{:?}", out[1]);
        assert_eq!(out[1].existing.p10, 0);
        assert_eq!(out[1].existing.p90, 100);
    }

    proptest::proptest! {
        #[test]
        fn percentiles_are_ordered(per_month in 1i64..12, seed in 0u64..1000, day in 1u8..28) {
            let now = time::Date::from_calendar_date(2026, Month::March, day)
                .unwrap()
                .midnight()
                .assume_utc();
            let events = stationary(now, per_month);
            let l = lives(&events);
            let periods = calendar_periods(now.date(), 3, 4);
            let out = horizon(&l, &pipeline(), now, &periods,
                HorizonOptions { runs: 200, seed, include_new: true });
            for b in out {
                for band in [b.total, b.existing, b.new] {
                    proptest::prop_assert!(band.p10 <= band.p50 && band.p50 <= band.p90);
                    proptest::prop_assert!(band.p10 >= 0);
                }
                proptest::prop_assert!(b.total.p90 >= b.won);
            }
        }
    }
}
