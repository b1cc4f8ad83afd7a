//! Horizons, forecast snapshots and accuracy over the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shangji_store::Snapshot;

use super::Params;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::snapshots::{self, AccuracyReport, HorizonReport, SnapshotView};
use crate::state::AppState;

async fn horizon(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<HorizonReport>, AppError> {
    Ok(Json(snapshots::horizon_report(&s.db, &c.ctx, &p).await?))
}

async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<Snapshot>>, AppError> {
    Ok(Json(snapshots::snapshots(&s.db, &c.ctx).await?))
}

/// Takes a snapshot now (admins, directors, managers).
async fn take(State(s): State<AppState>, c: Caller) -> Result<Response, AppError> {
    let taken = snapshots::snapshot_now(&s.db, &c.ctx).await?;
    Ok((StatusCode::CREATED, Json(taken)).into_response())
}

async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<SnapshotView>, AppError> {
    Ok(Json(snapshots::snapshot(&s.db, &c.ctx, id).await?))
}

async fn accuracy(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<AccuracyReport>, AppError> {
    Ok(Json(snapshots::accuracy_report(&s.db, &c.ctx, &p).await?))
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/horizon", get(horizon))
        .route("/analytics/snapshots", get(list).post(take))
        .route("/analytics/snapshots/{id}", get(one))
        .route("/analytics/accuracy", get(accuracy))
}
