//! The funnel review meeting's API (the review since the last one, decisions with action
//! items, reviews held) and the stage history import.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shangji_core::review::HeldReview;

use super::{JsonBody, Params};
use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{ImportQuery, ReviewQuery, ReviewsQuery};
use crate::ops::history_import::{self, ImportOutcome};
use crate::ops::review::{self, DecisionInput, DecisionRecorded, HoldInput, ReviewReport};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The funnel review of a team since its last review
#[utoipa::path(
    get,
    path = "/review",
    operation_id = "review",
    params(ReviewQuery),
    responses((status = 200, body = ReviewReport))
)]
async fn review_h(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<ReviewReport>, AppError> {
    Ok(Json(review::review(&s.db, &c.ctx, &p).await?))
}

/// Record a decision and/or action items (tasks) on a deal
#[utoipa::path(
    post,
    path = "/review/decisions",
    request_body = DecisionInput,
    responses((status = 201, body = DecisionRecorded))
)]
async fn decision(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<DecisionInput>,
) -> Result<(StatusCode, Json<DecisionRecorded>), AppError> {
    let done = review::record_decision(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// A team's reviews held, newest first
#[utoipa::path(
    get,
    path = "/reviews",
    params(ReviewsQuery),
    responses((status = 200, body = Vec<HeldReview>))
)]
async fn reviews(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<Vec<HeldReview>>, AppError> {
    Ok(Json(review::reviews(&s.db, &c.ctx, &p).await?))
}

/// Mark a team's review held (managers, directors, admins)
#[utoipa::path(
    post,
    path = "/reviews",
    request_body = HoldInput,
    responses((status = 201, body = HeldReview))
)]
async fn hold(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<HoldInput>,
) -> Result<(StatusCode, Json<HeldReview>), AppError> {
    let held = review::mark_held(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(held)))
}

/// Import stage history from a CSV body (admin)
///
/// 200 with what was imported, or 422 with every problem and nothing imported;
/// `valid_only=true` imports the valid rows.
#[utoipa::path(
    post,
    path = "/import/history",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "the stage history file"),
    responses(
        (status = 200, description = "imported", body = ImportOutcome),
        (status = 422, description = "every problem; nothing imported", body = ImportOutcome),
    )
)]
async fn import_history(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let mut valid_only = false;
    for (k, v) in &p {
        match (k.as_str(), v.as_str()) {
            ("valid_only", "true" | "1") => valid_only = true,
            ("valid_only", "false" | "0") => valid_only = false,
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown parameter `{k}={v}` (valid_only=true|false)"),
                ))
            }
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with("text/csv") || ct.starts_with("text/plain")) {
        return Err(AppError::bad_request(
            "Content-Type",
            "unsupported_media_type",
            "send the file as text/csv",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        AppError::bad_request("file", "invalid_encoding", "the file is not UTF-8 text")
    })?;
    let out: ImportOutcome =
        history_import::import_history(&s.db, &c.ctx, text, valid_only).await?;
    let status = if out.refused() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)).into_response())
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(review_h))
        .routes(routes!(decision))
        .routes(routes!(reviews, hold))
        .routes(routes!(import_history))
}
