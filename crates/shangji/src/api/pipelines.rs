//! Pipeline administration: pipelines, stages, their order, templates, migration, loss reasons.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shangji_core::model::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::{self};
use crate::state::AppState;

use super::*;

/// Pipelines with their stages
#[utoipa::path(get, path = "/pipelines", responses((status = 200, body = Vec<Pipeline>)))]
async fn pipelines(c: Caller) -> Result<Json<Vec<Pipeline>>, AppError> {
    Ok(Json(c.ctx.dir.pipelines.clone()))
}

/// One pipeline with its stages
#[utoipa::path(get, path = "/pipelines/{id}", responses((status = 200, body = Pipeline)))]
async fn pipeline(c: Caller, Path(id): Path<i64>) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        c.ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)?,
    ))
}

/// Create a pipeline from a template or from stages (admin)
#[utoipa::path(
    post,
    path = "/pipelines",
    request_body = ops::PipelineInput,
    responses((status = 201, body = Pipeline))
)]
async fn create_pipeline(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::PipelineInput>,
) -> Result<Response, AppError> {
    let p = ops::create_pipeline(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Rename, make default, archive or change the transition policy (admin)
#[utoipa::path(
    patch,
    path = "/pipelines/{id}",
    request_body = ops::PipelinePatch,
    responses((status = 200, body = Pipeline))
)]
async fn update_pipeline(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::PipelinePatch>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        ops::update_pipeline(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// Add a stage (admin)
#[utoipa::path(
    post,
    path = "/pipelines/{id}/stages",
    request_body = ops::NewStageInput,
    responses((status = 201, body = Pipeline))
)]
async fn add_stage(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::NewStageInput>,
) -> Result<Response, AppError> {
    let p = ops::add_stage(&s.db, &c.ctx, id, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Change a stage: names, probability, gate, standard actions, archive (admin)
#[utoipa::path(
    patch,
    path = "/pipelines/{id}/stages/{stage_id}",
    request_body = ops::StagePatch,
    responses((status = 200, body = Pipeline))
)]
async fn update_stage(
    State(s): State<AppState>,
    c: Caller,
    Path((id, stage_id)): Path<(i64, i64)>,
    body: JsonBody<ops::StagePatch>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        ops::update_stage(&s.db, &c.ctx, id, stage_id, body.value).await?,
    ))
}

/// Delete a stage no opportunity was ever in (admin; otherwise archive it)
#[utoipa::path(
    delete,
    path = "/pipelines/{id}/stages/{stage_id}",
    responses((status = 200, body = Pipeline))
)]
async fn delete_stage(
    State(s): State<AppState>,
    c: Caller,
    Path((id, stage_id)): Path<(i64, i64)>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(ops::delete_stage(&s.db, &c.ctx, id, stage_id).await?))
}

/// The body of a stage reorder: every stage id of the pipeline, in the new order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageOrder {
    pub stage_ids: Vec<i64>,
}

/// Reorder a pipeline's stages (admin)
#[utoipa::path(
    put,
    path = "/pipelines/{id}/stage-order",
    request_body = StageOrder,
    responses((status = 200, body = Pipeline))
)]
async fn reorder_stages(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<StageOrder>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        ops::reorder_stages(&s.db, &c.ctx, id, body.value.stage_ids).await?,
    ))
}

/// Move every opportunity of this pipeline into another, by a stage mapping (admin)
#[utoipa::path(
    post,
    path = "/pipelines/{id}/migrate",
    request_body = ops::MigrateInput,
    responses((status = 200, body = ops::Migrated))
)]
async fn migrate_pipeline(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::MigrateInput>,
) -> Result<Json<ops::Migrated>, AppError> {
    Ok(Json(
        ops::migrate_pipeline(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// A shipped pipeline template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub key: &'static str,
    pub name: &'static str,
    pub policy: shangji_core::process::TransitionPolicy,
    pub stages: Vec<shangji_core::process::StageSpec>,
}

/// The shipped pipeline templates (b2b, transactional, tender)
#[utoipa::path(
    get,
    path = "/pipeline-templates",
    responses((status = 200, body = Vec<TemplateView>))
)]
async fn pipeline_templates(_c: Caller) -> Json<Vec<TemplateView>> {
    Json(
        shangji_core::process::templates()
            .into_iter()
            .map(|t| TemplateView {
                key: t.key,
                name: t.name,
                policy: t.policy,
                stages: t.stages,
            })
            .collect(),
    )
}

/// The loss-reason taxonomy
#[utoipa::path(
    get,
    path = "/loss-reasons",
    responses((status = 200, body = Vec<shangji_core::process::LossReason>))
)]
async fn loss_reasons(c: Caller) -> Json<Vec<shangji_core::process::LossReason>> {
    Json(c.ctx.dir.loss_reasons.clone())
}

/// Add a loss reason (admin)
#[utoipa::path(
    post,
    path = "/loss-reasons",
    request_body = ops::LossReasonInput,
    responses((status = 201, body = shangji_core::process::LossReason))
)]
async fn create_loss_reason(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::LossReasonInput>,
) -> Result<Response, AppError> {
    let r = ops::create_loss_reason(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// Rename, reorder or archive a loss reason (admin; the key never changes)
#[utoipa::path(
    patch,
    path = "/loss-reasons/{id}",
    request_body = ops::LossReasonInput,
    responses((status = 200, body = shangji_core::process::LossReason))
)]
async fn update_loss_reason(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::LossReasonInput>,
) -> Result<Json<shangji_core::process::LossReason>, AppError> {
    Ok(Json(
        ops::update_loss_reason(&s.db, &c.ctx, id, body.value).await?,
    ))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pipelines, create_pipeline))
        .routes(routes!(pipeline, update_pipeline))
        .routes(routes!(add_stage))
        .routes(routes!(update_stage, delete_stage))
        .routes(routes!(reorder_stages))
        .routes(routes!(migrate_pipeline))
        .routes(routes!(pipeline_templates))
        .routes(routes!(loss_reasons, create_loss_reason))
        .routes(routes!(update_loss_reason))
}
