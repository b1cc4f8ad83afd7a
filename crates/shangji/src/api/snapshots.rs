//! Horizons, forecast snapshots and accuracy over the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shangji_store::Snapshot;

use super::Params;
use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{AccuracyQuery, HorizonQuery};
use crate::ops::snapshots::{self, AccuracyReport, HorizonReport, SnapshotView};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// P10 / P50 / P90 per period with the pipeline not yet created
#[utoipa::path(
    get,
    path = "/analytics/horizon",
    params(HorizonQuery),
    responses((status = 200, body = HorizonReport))
)]
async fn horizon(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<HorizonReport>, AppError> {
    Ok(Json(snapshots::horizon_report(&s.db, &c.ctx, &p).await?))
}

/// Forecast snapshots, newest first
#[utoipa::path(
    get,
    path = "/analytics/snapshots",
    operation_id = "list_snapshots",
    responses((status = 200, body = Vec<Snapshot>))
)]
async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<Snapshot>>, AppError> {
    Ok(Json(snapshots::snapshots(&s.db, &c.ctx).await?))
}

/// Take a forecast snapshot now (admin, director, manager)
#[utoipa::path(
    post,
    path = "/analytics/snapshots",
    operation_id = "take_snapshot",
    responses((status = 201, body = SnapshotView))
)]
async fn take(State(s): State<AppState>, c: Caller) -> Result<Response, AppError> {
    let taken = snapshots::snapshot_now(&s.db, &c.ctx).await?;
    Ok((StatusCode::CREATED, Json(taken)).into_response())
}

/// One snapshot with the rows you may see
#[utoipa::path(
    get,
    path = "/analytics/snapshots/{id}",
    operation_id = "get_snapshot",
    responses((status = 200, body = SnapshotView))
)]
async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<SnapshotView>, AppError> {
    Ok(Json(snapshots::snapshot(&s.db, &c.ctx, id).await?))
}

/// Forecast against won, per period, team and rep
///
/// The forecast is the last snapshot at or before the start of the period.
#[utoipa::path(
    get,
    path = "/analytics/accuracy",
    params(AccuracyQuery),
    responses((status = 200, body = AccuracyReport))
)]
async fn accuracy(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<AccuracyReport>, AppError> {
    Ok(Json(snapshots::accuracy_report(&s.db, &c.ctx, &p).await?))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(horizon))
        .routes(routes!(list, take))
        .routes(routes!(one))
        .routes(routes!(accuracy))
}
