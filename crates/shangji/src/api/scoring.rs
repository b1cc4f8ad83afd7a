//! Lead scoring over the API: a lead's score with its explanation and history; the scoring
//! settings, the model's state and training it (admin).

use axum::extract::{Path, State};
use axum::Json;
use shangji_core::scoring::ScoringSettings;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::scoring::{self, LeadScore, ModelStatus};
use crate::state::AppState;

/// A lead's score (0–100), grade and the factors behind it, with every change of score or
/// grade
#[utoipa::path(
    get,
    path = "/leads/{id}/score",
    operation_id = "get_lead_score",
    responses((status = 200, body = LeadScore))
)]
async fn lead_score(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<LeadScore>, AppError> {
    Ok(Json(scoring::lead_score(&s.db, &c.ctx, id).await?))
}

/// The scoring settings: fit rules, points per touch, the half-life of engagement, the
/// model's weight and the grade thresholds
#[utoipa::path(
    get,
    path = "/settings/scoring",
    operation_id = "get_scoring_settings",
    responses((status = 200, body = ScoringSettings))
)]
async fn get_settings(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<ScoringSettings>, AppError> {
    Ok(Json(scoring::settings(&s.db).await?))
}

/// Replace the scoring settings; every lead is scored again (admin)
#[utoipa::path(
    put,
    path = "/settings/scoring",
    operation_id = "put_scoring_settings",
    request_body = ScoringSettings,
    responses((status = 200, body = ScoringSettings))
)]
async fn put_settings(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ScoringSettings>,
) -> Result<Json<ScoringSettings>, AppError> {
    let (settings, _) = scoring::save_settings(&s.db, &c.ctx, body.value).await?;
    Ok(Json(settings))
}

/// The predictive model: closed leads available and needed, and the model in use with its
/// held-out AUC beside the fit points' (admin)
#[utoipa::path(
    get,
    path = "/scoring/model",
    operation_id = "get_scoring_model",
    responses((status = 200, body = ModelStatus))
)]
async fn model(State(s): State<AppState>, c: Caller) -> Result<Json<ModelStatus>, AppError> {
    Ok(Json(scoring::status(&s.db, &c.ctx).await?))
}

/// Train the model now on the closed leads and score every lead again (admin; the
/// scheduler does it daily)
#[utoipa::path(
    post,
    path = "/scoring/model",
    operation_id = "train_scoring_model",
    responses((status = 200, body = ModelStatus))
)]
async fn train(State(s): State<AppState>, c: Caller) -> Result<Json<ModelStatus>, AppError> {
    Ok(Json(scoring::train_now(&s.db, &c.ctx).await?))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lead_score))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(model, train))
}
