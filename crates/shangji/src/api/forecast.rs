//! The JSON API of the forecast: the forecast by period with categories and the simulated
//! band, the manager roll-up, and adjustments. Handlers are thin, as in `api.rs`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shangji_core::rollup::{Adjustment, AdjustmentInput};

use super::{JsonBody, Params};
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::forecast::{self, Rollup};
use crate::ops::reports;
use crate::state::AppState;

/// `GET /analytics/forecast/overview`: JSON, or CSV / XLSX with `format=csv|xlsx`.
async fn overview(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Response, AppError> {
    let (format, p) = reports::format_of(p)?;
    let r = forecast::overview(&s.db, &c.ctx, &p).await?;
    reports::answer(&s.db, &c.ctx, "forecast-overview", r, format).await
}

async fn rollup(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<Rollup>, AppError> {
    Ok(Json(forecast::rollup(&s.db, &c.ctx, &p).await?))
}

async fn adjustments(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<Vec<Adjustment>>, AppError> {
    Ok(Json(forecast::adjustments(&s.db, &c.ctx, &p).await?))
}

async fn adjust(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<AdjustmentInput>,
) -> Result<Response, AppError> {
    let a = forecast::adjust(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/forecast/overview", get(overview))
        .route("/analytics/forecast/rollup", get(rollup))
        .route(
            "/analytics/forecast/adjustments",
            get(adjustments).post(adjust),
        )
}
