//! The funnel reports over the stage history (and the report tables of `ops::reports`).

use axum::extract::{Query, State};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{ReportQuery, Spreadsheet, CSV, XLSX};
use crate::ops::{self, reports};
use crate::state::AppState;

use super::*;

/// A report answered as JSON, or as CSV or XLSX with `format=csv|xlsx` (flat tables, headers
/// in the caller's language; see `ops::reports`).
macro_rules! report {
    ($($name:ident => $file:tt, $path:tt, $summary:tt, [$($rows:tt)+];)*) => {$(
        #[utoipa::path(
            get,
            path = $path,
            summary = $summary,
            params(ReportQuery),
            responses((status = 200, content(
                (ops::Report<$($rows)+> = "application/json"),
                (String = CSV),
                (Spreadsheet = XLSX),
            )))
        )]
        async fn $name(
            State(s): State<AppState>,
            c: Caller,
            Query(p): Params,
        ) -> Result<Response, AppError> {
            let (format, p) = reports::format_of(p)?;
            let r = ops::$name(&s.db, &c.ctx, &p).await?;
            reports::answer(&s.db, &c.ctx, $file, r, format).await
        }
    )*};
}

report! {
    funnel_report => "funnel", "/analytics/funnel",
        "Stage conversion by entry cohort, with each stage's baseline and the bottleneck",
        [Vec<shangji_core::report_extras::FunnelStage>];
    time_in_stage_report => "time-in-stage", "/analytics/time-in-stage",
        "Median, P75 and P90 hours in each stage",
        [Vec<shangji_core::analytics::StageTime>];
    win_rate_report => "win-rate", "/analytics/win-rate",
        "Win rate by count and by amount among deals closed in the period",
        [shangji_core::analytics::WinRate];
    waterfall_report => "waterfall", "/analytics/waterfall",
        "Open pipeline at the start, each kind of change, open pipeline at the end",
        [shangji_core::analytics::Waterfall];
    win_loss_report => "win-loss", "/analytics/win-loss",
        "Won and lost deals of the period: by loss reason, competitor, source and industry",
        [reports::WinLossReport];
    four_s_report => "4s", "/analytics/4s",
        "The 4S shape of the pipeline against `target_minor`",
        [ops::FourSReport];
    leaderboard_report => "leaderboard", "/analytics/leaderboard",
        "Reps ranked by what they won in the period",
        [Vec<shangji_core::analytics::LeaderRow>];
    forecast_report => "forecast", "/analytics/forecast",
        "Won, open and weighted amounts per period",
        [Vec<shangji_core::analytics::ForecastBucket>];
    monte_carlo_report => "monte-carlo", "/analytics/monte-carlo",
        "P10 / P50 / P90 of each period's won amount, simulated",
        [Vec<shangji_core::analytics::SimulatedBucket>];
    calibration_report => "calibration", "/analytics/calibration",
        "P(won | reached stage) with a 95% Wilson interval beside the configured probability",
        [Vec<shangji_core::analytics::Calibration>];
    sources_report => "sources", "/analytics/sources",
        "Leads, converted, opportunities and won by source channel",
        [Vec<shangji_core::report_extras::SourceRow>];
    time_in_stage_trend_report => "time-in-stage-trend", "/analytics/time-in-stage-trend",
        "Median, P75 and P90 hours in each stage for each of 12 months",
        [Vec<shangji_core::report_extras::MonthTimes>];
    sales_cycle_report => "sales-cycle", "/analytics/sales-cycle",
        "Median, P75 and P90 days from creation to won, deals won in the period",
        [shangji_core::report_extras::CycleLength];
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(funnel_report))
        .routes(routes!(time_in_stage_report))
        .routes(routes!(win_rate_report))
        .routes(routes!(waterfall_report))
        .routes(routes!(win_loss_report))
        .routes(routes!(leaderboard_report))
        .routes(routes!(four_s_report))
        .routes(routes!(forecast_report))
        .routes(routes!(monte_carlo_report))
        .routes(routes!(calibration_report))
        .routes(routes!(sources_report))
        .routes(routes!(time_in_stage_trend_report))
        .routes(routes!(sales_cycle_report))
}
