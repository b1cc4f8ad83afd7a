//! The operator's probes and metrics, outside `/api/v1` and without a session: `/healthz`
//! (the process answers), `/readyz` (ready to serve: 503 with what is wrong otherwise) and
//! `/metrics` (Prometheus, for the bearer of the configured token).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::ops::health;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let r = health::readiness(&state.db, state.jobs.as_deref()).await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(r)).into_response()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some(token) = state.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    let shown = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as digests: the time taken says nothing of the token.
    if Sha256::digest(shown.as_bytes()) != Sha256::digest(token.as_bytes()) {
        return Err(AppError::Unauthorized);
    }
    let gauges = health::gauges(&state.db, state.jobs.as_deref()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response())
}
