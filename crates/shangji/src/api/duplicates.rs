//! Duplicates over the API: what a record about to be entered would match, and the duplicate
//! settings (admin).

use axum::extract::{Path, Query, State};
use axum::Json;
use shangji_core::duplicates::{DuplicateMatch, DuplicateSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::duplicates::{self, DecideReview, DuplicateQuery, ReviewView};
use crate::state::AppState;

/// The records across the company that a record with these values would match; one you cannot
/// see is told only by its kind, what matched and its owner
#[utoipa::path(
    get,
    path = "/duplicates",
    operation_id = "check_duplicates",
    params(DuplicateQuery),
    responses((status = 200, body = Vec<DuplicateMatch>))
)]
async fn check(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<DuplicateQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DuplicateMatch>>, AppError> {
    let Query(q) = q.map_err(|e| AppError::bad_request("", "invalid_query", e.body_text()))?;
    Ok(Json(duplicates::check(&s.db, &c.ctx, q).await?))
}

/// What happens to a record that matches another, per kind (`warn` or `block`), and to a
/// credit code already in use
#[utoipa::path(
    get,
    path = "/settings/duplicates",
    operation_id = "get_duplicate_settings",
    responses((status = 200, body = DuplicateSettings))
)]
async fn get_settings(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<DuplicateSettings>, AppError> {
    Ok(Json(duplicates::settings(&s.db).await?))
}

/// Replace the duplicate settings (admin)
#[utoipa::path(
    put,
    path = "/settings/duplicates",
    operation_id = "put_duplicate_settings",
    request_body = DuplicateSettings,
    responses((status = 200, body = DuplicateSettings))
)]
async fn put_settings(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<DuplicateSettings>,
) -> Result<Json<DuplicateSettings>, AppError> {
    Ok(Json(
        duplicates::save_settings(&s.db, &c.ctx, body.value).await?,
    ))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReviewsQuery {
    /// `true`: the last 100 of any status; default: those waiting for a decision.
    #[serde(default)]
    all: bool,
}

/// Duplicates your people saved under the `review` policy (managers; admins see all)
#[utoipa::path(
    get,
    path = "/duplicate-reviews",
    operation_id = "list_duplicate_reviews",
    params(ReviewsQuery),
    responses((status = 200, body = Vec<ReviewView>))
)]
async fn reviews(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<ReviewsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ReviewView>>, AppError> {
    let Query(q) = q.map_err(|e| AppError::bad_request("", "invalid_query", e.body_text()))?;
    Ok(Json(duplicates::reviews(&s.db, &c.ctx, !q.all).await?))
}

/// Decide a duplicate sent to you: keep both, or archive the new record (merging decides it
/// too)
#[utoipa::path(
    post,
    path = "/duplicate-reviews/{id}/decide",
    operation_id = "decide_duplicate_review",
    request_body = DecideReview,
    responses((status = 200, body = ReviewView))
)]
async fn decide(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<DecideReview>,
) -> Result<Json<ReviewView>, AppError> {
    Ok(Json(
        duplicates::decide_review(&s.db, &c.ctx, id, body.value).await?,
    ))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(reviews))
        .routes(routes!(decide))
}
