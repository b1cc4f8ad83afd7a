//! Funnel analytics: the report scope (pipeline, period, owners), the funnel, time in stage,
//! win rate, the waterfall, win / loss, the forecasts and the Monte Carlo, the 4S, the
//! leaderboard and the calibration — all read from the stage history's projection.

use serde::Serialize;
use shangji_core::analytics;
use shangji_core::calendar;
use shangji_core::model::*;
use shangji_store::projection::{Facet, Slice};
use shangji_store::Db;
use time::OffsetDateTime;

use super::*;

// ---- Funnel analytics (reports read the stage history). ----

/// What a report covers: a pipeline the caller can see, a period, optionally some owners.
pub struct ReportScope {
    pub pipeline: Pipeline,
    pub period: analytics::Period,
    pub owners: Option<Vec<UserId>>,
    /// For the waterfall: the expected-close window and the currency.
    pub close_window: Option<(time::Date, time::Date)>,
    pub currency: String,
    /// For the 4S: the amount to win that Shape measures against.
    pub target_minor: Option<i64>,
    /// The opportunities' source channel and their account's industry.
    pub filter: shangji_store::HistoryFilter,
    /// For the funnel: how many trailing periods make its baseline.
    pub baseline_periods: u32,
}

/// China days: a date means the day in Asia/Shanghai (UTC+8).
pub(crate) use analytics::china_day_start as day_start;

pub(crate) fn param_date(k: &str, v: &str) -> Result<time::Date, AppError> {
    time::Date::parse(v, &time::format_description::well_known::Iso8601::DATE).map_err(|_| {
        AppError::bad_request(
            k,
            "invalid_date",
            format!("`{v}` is not a date (YYYY-MM-DD)"),
        )
    })
}

/// Reads a report's parameters: `pipeline_id` (default: the default pipeline), `from` and
/// `to` (dates, China days; `to` inclusive; default the last 90 days), `owner_id`, `team_id`,
/// and for the waterfall `close_from`, `close_to`, `currency`.
pub fn report_scope(ctx: &Ctx, params: &[(String, String)]) -> Result<ReportScope, AppError> {
    let today = calendar::china_date(ctx.now);
    let (mut pipeline_id, mut from, mut to) = (None, today - time::Duration::days(89), today);
    let mut owners: Option<Vec<UserId>> = None;
    let (mut close_from, mut close_to) = (None, None);
    let mut currency = "CNY".to_string();
    let mut target_minor = None;
    let mut filter = shangji_store::HistoryFilter::default();
    let mut baseline_periods = shangji_core::report_extras::BASELINE_PERIODS;
    for (k, v) in params {
        let id = || {
            v.parse::<i64>().map_err(|_| {
                AppError::bad_request(k, "invalid_parameter", format!("`{v}` is not an id"))
            })
        };
        match k.as_str() {
            "pipeline_id" => pipeline_id = Some(id()?),
            "from" => from = param_date(k, v)?,
            "to" => to = param_date(k, v)?,
            "owner_id" => owners = Some(vec![id()?]),
            "team_id" => {
                let team = id()?;
                if !ctx.dir.org.teams.iter().any(|t| t.id == team) {
                    return Err(AppError::NotFound);
                }
                owners = Some(ctx.dir.org.members(team));
            }
            "close_from" => close_from = Some(param_date(k, v)?),
            "close_to" => close_to = Some(param_date(k, v)?),
            "currency" => currency = shangji_core::Money::parse(0, v, "currency")?.currency,
            "target_minor" => {
                target_minor = Some(v.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
                    AppError::bad_request(
                        k,
                        "invalid_parameter",
                        "target_minor is a whole number of fen, 0 or more",
                    )
                })?)
            }
            "source" | "industry" | "baseline" => {
                reports::read_filter(k, v, &mut filter, &mut baseline_periods)?
            }
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown report parameter `{k}`"),
                ))
            }
        }
    }
    if to < from || (to - from).whole_days() > 3660 {
        return Err(AppError::bad_request(
            "to",
            "invalid_period",
            "the period runs from `from` to `to` (inclusive), at most ten years",
        ));
    }
    let close_window = match (close_from, close_to) {
        (None, None) => None,
        (Some(a), Some(b)) if a <= b => Some((a, b)),
        _ => {
            return Err(AppError::bad_request(
                "close_to",
                "invalid_period",
                "give both close_from and close_to, in order",
            ))
        }
    };
    let pipeline = match pipeline_id {
        Some(id) => ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)?,
        None => pipeline_for(ctx, None)?.clone(),
    };
    Ok(ReportScope {
        pipeline,
        period: analytics::Period {
            from: day_start(from),
            to: day_start(to + time::Duration::days(1)),
        },
        owners,
        close_window,
        currency,
        target_minor,
        filter,
        baseline_periods,
    })
}

/// A report: what it covers and its rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report<T> {
    pub pipeline_id: PipelineId,
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    pub rows: T,
}

/// The funnel with each stage's baseline (its conversion over the trailing periods of the
/// same length) and the bottleneck flagged.
pub async fn funnel_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<shangji_core::report_extras::FunnelStage>>, AppError> {
    use shangji_core::report_extras as x;
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    // The period and its trailing ones, side by side.
    let mut periods = vec![r.period];
    periods.extend(x::trailing_periods(r.period, r.baseline_periods));
    let counts =
        futures_util::future::try_join_all(periods.iter().map(|p| db.funnel_counts(of, *p)))
            .await?;
    let mut funnels = counts
        .iter()
        .map(|c| analytics::funnel_from(&r.pipeline, c));
    let current = funnels.next().expect("the period itself");
    Ok(r.report(x::with_baseline(&current, &funnels.collect::<Vec<_>>())))
}

impl ReportScope {
    /// The report of these rows.
    pub(crate) fn report<T>(&self, rows: T) -> Report<T> {
        Report {
            pipeline_id: self.pipeline.id,
            from: self.period.from,
            to: self.period.to,
            rows,
        }
    }

    fn slice<'a>(&'a self, ctx: &'a Ctx) -> Slice<'a> {
        Slice {
            scope: &ctx.scope,
            pipeline_id: self.pipeline.id,
            owners: self.owners.as_deref(),
            filter: &self.filter,
        }
    }
}

/// One turn of the projection job (`jobs`, every few seconds): brings the analytics
/// projection up to the history, so that a report rarely has more than a few opportunities
/// to rebuild first; the outcome is logged.
pub async fn refresh_projection(db: &Db) {
    let done = match db.directory().await {
        Ok(dir) => db.refresh_analytics(&dir.pipelines).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(0) => {}
        Ok(n) => tracing::info!(n, "analytics projection refreshed"),
        Err(e) => tracing::warn!(error = ?e, "analytics projection refresh failed"),
    }
}

/// Rebuilds the whole analytics projection from the history (`shangji analytics rebuild`,
/// for operators: after a restore by other means, or to check the projection): every
/// opportunity is marked and rebuilt; how many.
pub async fn rebuild(db: &Db) -> Result<u64, AppError> {
    let dir = db.directory().await?;
    for p in &dir.pipelines {
        db.mark_pipeline_dirty(p.id).await?;
    }
    Ok(db.refresh_analytics(&dir.pipelines).await?)
}

/// Brings the analytics projection up to date with the history, then says which rows the
/// report reads.
pub(crate) async fn fresh_slice<'a>(
    db: &Db,
    ctx: &'a Ctx,
    r: &'a ReportScope,
) -> Result<Slice<'a>, AppError> {
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    Ok(r.slice(ctx))
}

pub async fn time_in_stage_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::StageTime>>, AppError> {
    let r = report_scope(ctx, params)?;
    let times = db
        .stage_times(fresh_slice(db, ctx, &r).await?, r.period)
        .await?;
    Ok(r.report(analytics::time_in_stage_from(&r.pipeline, &times)))
}

pub async fn win_rate_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<analytics::WinRate>, AppError> {
    let r = report_scope(ctx, params)?;
    let closed = db
        .closed_by(fresh_slice(db, ctx, &r).await?, r.period, Facet::All)
        .await?;
    Ok(r.report(analytics::win_rate_from(&r.pipeline, &closed)))
}

/// The waterfall between the period's start and end.
pub async fn waterfall_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<analytics::Waterfall>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let w = waterfall_of(db, of, &r.pipeline, r.period, r.close_window, &r.currency).await?;
    Ok(r.report(w))
}

/// The waterfall of a slice of the projection.
pub async fn waterfall_of(
    db: &Db,
    of: Slice<'_>,
    pipeline: &Pipeline,
    between: analytics::Period,
    close_window: Option<(time::Date, time::Date)>,
    currency: &str,
) -> Result<analytics::Waterfall, AppError> {
    let open = analytics::stages_of_kind(pipeline, StageKind::Open);
    let groups = db
        .change_groups(of, between, &open, close_window, currency)
        .await?;
    Ok(analytics::waterfall_from(pipeline, &groups))
}

/// Win/loss by reason, competitor, stage lost and owner, and by source and industry.
pub async fn win_loss_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<reports::WinLossReport>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let by = |facet| db.closed_by(of, r.period, facet);
    let (by_reason, by_competitor, by_stage_lost, by_owner, by_source, by_industry) = tokio::try_join!(
        by(Facet::LossReason),
        by(Facet::Competitor),
        by(Facet::FromStage),
        by(Facet::Owner),
        by(Facet::Source),
        by(Facet::Industry),
    )?;
    let w = analytics::win_loss_from(
        &r.pipeline,
        analytics::WinLossInputs {
            by_reason,
            by_competitor,
            by_stage_lost,
            by_owner,
        },
    );
    Ok(r.report(reports::WinLossReport {
        by_source: analytics::win_loss_rows(&r.pipeline, &by_source),
        by_industry: analytics::win_loss_rows(&r.pipeline, &by_industry),
        by_reason: w.by_reason,
        by_competitor: w.by_competitor,
        by_stage_lost: w.by_stage_lost,
        by_owner: w.by_owner,
    }))
}

/// Forecast periods and options from a report's parameters: `grain` month (default),
/// quarter or year, from the current one; `periods` how many (default 3, at most 36);
/// `weighting` configured (default), empirical or blended; `runs` (default 10,000, at most
/// 100,000) and `seed` for a simulation. The rest are the usual report parameters.
pub(crate) struct ForecastParams {
    pub(crate) periods: Vec<(time::Date, time::Date)>,
    pub(crate) weighting: analytics::Weighting,
    pub(crate) runs: usize,
    pub(crate) seed: u64,
    pub(crate) rest: Vec<(String, String)>,
}

pub(crate) fn forecast_params(
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<ForecastParams, AppError> {
    let (mut months_per, mut count) = (1u8, 3usize);
    let mut f = ForecastParams {
        periods: vec![],
        weighting: analytics::Weighting::Configured,
        runs: 10_000,
        seed: 1,
        rest: vec![],
    };
    for (k, v) in params {
        let bad = |what: &str| AppError::bad_request(k, "invalid_parameter", what.to_string());
        match k.as_str() {
            "grain" => {
                months_per = match v.as_str() {
                    "month" => 1,
                    "quarter" => 3,
                    "year" => 12,
                    _ => return Err(bad("grain is month, quarter or year")),
                }
            }
            "periods" => {
                count = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=36).contains(n))
                    .ok_or_else(|| bad("periods is 1 to 36"))?
            }
            "weighting" => {
                f.weighting = serde_json::from_value(serde_json::Value::String(v.clone()))
                    .map_err(|_| bad("weighting is configured, empirical or blended"))?
            }
            "runs" => {
                f.runs = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| bad("runs is 1 to 100000"))?
            }
            "seed" => f.seed = v.parse().map_err(|_| bad("seed is a whole number"))?,
            _ => f.rest.push((k.clone(), v.clone())),
        }
    }
    let today = calendar::china_date(ctx.now);
    // Periods start on the first day of this month (of this quarter / year).
    let first_month = match months_per {
        3 => (today.month() as u8 - 1) / 3 * 3 + 1,
        12 => 1,
        _ => today.month() as u8,
    };
    let mut start = time::Date::from_calendar_date(
        today.year(),
        time::Month::try_from(first_month).expect("a month"),
        1,
    )
    .expect("the first of a month");
    for _ in 0..count {
        let mut next = start;
        for _ in 0..months_per {
            next = next
                .checked_add(time::Duration::days(32))
                .and_then(|d| d.replace_day(1).ok())
                .ok_or_else(|| AppError::bad_request("periods", "invalid_period", "too far"))?;
        }
        f.periods
            .push((start, next.previous_day().expect("a day before")));
        start = next;
    }
    Ok(f)
}

/// The weighted forecast from the current period on (see [`forecast_params`]).
pub async fn forecast_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::ForecastBucket>>, AppError> {
    let (f, r, inputs) = forecast_request(db, ctx, params).await?;
    Ok(r.report(analytics::forecast_from(
        &r.pipeline,
        &inputs,
        &f.periods,
        f.weighting,
    )))
}

/// The Monte Carlo forecast: P10 / P50 / P90 of the won amount per period.
pub async fn monte_carlo_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::SimulatedBucket>>, AppError> {
    let (f, r, inputs) = forecast_request(db, ctx, params).await?;
    let rows = simulate(&r.pipeline, inputs, ctx.now, &f.periods, f.runs, f.seed).await?;
    Ok(r.report(rows))
}

/// A forecast request's parameters, its scope, and what it reads from the projection.
pub(crate) async fn forecast_request(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<(ForecastParams, ReportScope, analytics::ForecastInputs), AppError> {
    let f = forecast_params(ctx, params)?;
    let r = report_scope(ctx, &f.rest)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let inputs = forecast_inputs(db, ctx, of, &r.pipeline, &f.periods).await?;
    Ok((f, r, inputs))
}

/// The Monte Carlo forecast of `inputs`, off the request threads.
pub(crate) async fn simulate(
    pipeline: &Pipeline,
    inputs: analytics::ForecastInputs,
    now: OffsetDateTime,
    periods: &[(time::Date, time::Date)],
    runs: usize,
    seed: u64,
) -> Result<Vec<analytics::SimulatedBucket>, AppError> {
    let (pipeline, periods) = (pipeline.clone(), periods.to_vec());
    off_thread("simulation", move || {
        analytics::monte_carlo_from(&pipeline, &inputs, now, &periods, runs, seed)
    })
    .await
}

/// Runs `work` (seconds of CPU: a simulation) off the request threads.
pub(crate) async fn off_thread<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(format!("{what}: {e}")))
}

/// No filter on source or industry.
static NO_FILTER: shangji_store::HistoryFilter = shangji_store::HistoryFilter {
    source: None,
    industry: None,
};

/// The projection's rows of one pipeline's deals in the caller's scope (and of `owners`),
/// after bringing the projection up to date with the history.
pub(crate) async fn fresh_pipeline_slice<'a>(
    db: &Db,
    ctx: &'a Ctx,
    pipeline_id: PipelineId,
    owners: Option<&'a [UserId]>,
) -> Result<Slice<'a>, AppError> {
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    Ok(Slice {
        scope: &ctx.scope,
        pipeline_id,
        owners,
        filter: &NO_FILTER,
    })
}

/// What a forecast as of now for `periods` reads from (an up-to-date slice of) the
/// projection.
pub(crate) async fn forecast_inputs(
    db: &Db,
    ctx: &Ctx,
    of: Slice<'_>,
    pipeline: &Pipeline,
    periods: &[(time::Date, time::Date)],
) -> Result<analytics::ForecastInputs, AppError> {
    let open = analytics::stages_of_kind(pipeline, StageKind::Open);
    let won = analytics::stages_of_kind(pipeline, StageKind::Won);
    let mut stages = open.clone();
    stages.extend(&won);
    let first = periods
        .first()
        .map_or(calendar::china_date(ctx.now), |p| p.0);
    let closed = closed_stages(pipeline);
    let (deals, reach, to_win) = tokio::try_join!(
        db.deals_at(
            of,
            &stages,
            &open,
            analytics::china_day_start(first),
            ctx.now,
            "CNY"
        ),
        db.reach_counts(of, &closed),
        db.to_win_days(of, &won),
    )?;
    Ok(analytics::ForecastInputs {
        deals,
        reach,
        to_win,
    })
}

/// The 4S for the period and for the period of the same length just before it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FourSReport {
    pub current: analytics::FourS,
    pub previous: analytics::FourS,
}

pub async fn four_s_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<FourSReport>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let length = r.period.to - r.period.from;
    let before = analytics::Period {
        from: r.period.from - length,
        to: r.period.from,
    };
    // The reach counts span all history: read once for both periods.
    let reach = db.reach_counts(of, &closed_stages(&r.pipeline)).await?;
    let (current, previous) = tokio::try_join!(
        four_s_of(db, of, &r.pipeline, r.period, r.target_minor, &reach),
        four_s_of(db, of, &r.pipeline, before, r.target_minor, &reach),
    )?;
    Ok(r.report(FourSReport { current, previous }))
}

/// The 4S of a slice of the projection for one period, with the slice's reach counts
/// (`Db::reach_counts`, all history).
pub async fn four_s_of(
    db: &Db,
    of: Slice<'_>,
    pipeline: &Pipeline,
    period: analytics::Period,
    target_minor: Option<i64>,
    reach: &[shangji_core::projection::ReachCount],
) -> Result<analytics::FourS, AppError> {
    let open = analytics::stages_of_kind(pipeline, StageKind::Open);
    let won = analytics::stages_of_kind(pipeline, StageKind::Won);
    let (entries, closed, size, stage_times, cycles) = tokio::try_join!(
        db.funnel_counts(of, period),
        db.closed_by(of, period, Facet::All),
        db.size_at(of, &open, analytics::size_instant(period), "CNY"),
        db.stage_times(of, period),
        db.won_cycles(of, &won, period),
    )?;
    let inputs = analytics::FourSInputs {
        entries,
        closed,
        reach: reach.to_vec(),
        size,
        stage_times,
        cycles,
    };
    Ok(analytics::four_s_from(pipeline, inputs, target_minor))
}

/// The won and lost stages.
pub(crate) fn closed_stages(pipeline: &Pipeline) -> Vec<StageId> {
    let mut closed = analytics::stages_of_kind(pipeline, StageKind::Won);
    closed.extend(analytics::stages_of_kind(pipeline, StageKind::Lost));
    closed
}

/// Won amount, win rate, pipeline created and customer-facing follow-ups per person.
pub async fn leaderboard_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::LeaderRow>>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let (closed, created) = tokio::try_join!(
        db.closed_by(of, r.period, Facet::Owner),
        db.created_by(of, r.period, Facet::Owner),
    )?;
    let mut out = r.report(analytics::leaderboard_from(&r.pipeline, &closed, &created));
    let kinds = super::facts::facts_config(db).await?.kinds();
    let follow_ups = db
        .follow_ups_by_author(
            &ctx.scope,
            r.period.from,
            r.period.to,
            r.owners.as_deref(),
            &kinds,
        )
        .await?;
    for (author, n) in follow_ups {
        match out.rows.iter_mut().find(|row| row.owner_id == author) {
            Some(row) => row.follow_ups = n as u64,
            None => out.rows.push(analytics::LeaderRow {
                owner_id: author,
                follow_ups: n as u64,
                ..Default::default()
            }),
        }
    }
    Ok(out)
}

pub async fn calibration_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::Calibration>>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let reach = db.reach_counts(of, &closed_stages(&r.pipeline)).await?;
    Ok(r.report(analytics::calibration_from(&r.pipeline, &reach)))
}
