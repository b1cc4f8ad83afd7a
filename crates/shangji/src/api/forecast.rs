//! The JSON API of the forecast: the forecast by period with categories and the simulated
//! band, the manager roll-up, and adjustments. Handlers are thin, as in `api.rs`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shangji_core::rollup::{Adjustment, AdjustmentInput};

use super::{JsonBody, Params};
use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{AdjustmentsQuery, OverviewQuery, Spreadsheet, CSV, XLSX};
use crate::ops::forecast::{self, Rollup};
use crate::ops::reports;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The forecast per period
///
/// Won, open, weighted, the open amount by forecast category, the call (won + commit) and the
/// Monte Carlo P10 / P50 / P90; CSV or XLSX with `format=csv|xlsx`.
#[utoipa::path(
    get,
    path = "/analytics/forecast/overview",
    params(OverviewQuery),
    responses((status = 200, content(
        (crate::ops::Report<Vec<forecast::ForecastRow>> = "application/json"),
        (String = CSV),
        (Spreadsheet = XLSX),
    )))
)]
async fn overview(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Response, AppError> {
    let (format, p) = reports::format_of(p)?;
    let r = forecast::overview(&s.db, &c.ctx, &p).await?;
    reports::answer(&s.db, &c.ctx, "forecast-overview", r, format).await
}

/// The manager roll-up of a month or quarter along the team tree
///
/// Each row's system forecast, call, latest adjustment and adjusted total.
#[utoipa::path(
    get,
    path = "/analytics/forecast/rollup",
    params(crate::openapi::RollupQuery),
    responses((status = 200, body = Rollup))
)]
async fn rollup(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<Rollup>, AppError> {
    Ok(Json(forecast::rollup(&s.db, &c.ctx, &p).await?))
}

/// Adjustments on teams and people you see, newest first
#[utoipa::path(
    get,
    path = "/analytics/forecast/adjustments",
    params(AdjustmentsQuery),
    responses((status = 200, body = Vec<Adjustment>))
)]
async fn adjustments(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<Vec<Adjustment>>, AppError> {
    Ok(Json(forecast::adjustments(&s.db, &c.ctx, &p).await?))
}

/// Record an adjustment of a team's or a person's number for a period
///
/// Managers on their subtree, directors and admins; 403 `adjust_forbidden` otherwise.
#[utoipa::path(
    post,
    path = "/analytics/forecast/adjustments",
    request_body = AdjustmentInput,
    responses((status = 201, body = Adjustment))
)]
async fn adjust(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<AdjustmentInput>,
) -> Result<Response, AppError> {
    let a = forecast::adjust(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(rollup))
        .routes(routes!(adjustments, adjust))
}
