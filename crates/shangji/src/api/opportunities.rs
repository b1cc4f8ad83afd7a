//! Opportunities: the record routes, create and update through the core, stage moves
//! (with their 200 / 202 answers), events and pipeline changes.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use shangji_core::model::*;
use shangji_core::opportunity::{MoveInput, OpportunityEvent, OpportunityInput, Warning};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{AppError, ErrorBody};
use crate::openapi::{ColumnsQuery, ListQuery, OpportunityCreate, Spreadsheet, CSV, XLSX};
use crate::ops::{self};
use crate::state::AppState;

use super::*;

record_reads!(
    Opportunity,
    "opportunities",
    "/opportunities",
    "/opportunities/{id}"
);

/// A deal as saved, with what looked wrong about it without being refused.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OpportunitySaved {
    #[serde(flatten)]
    pub opportunity: Opportunity,
    /// Present when something saved looks implausible, e.g. a close date more than a year
    /// ago or more than five years ahead (`close_date_long_past`, `close_date_far_future`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

#[utoipa::path(
    post,
    path = "/opportunities",
    operation_id = "create_opportunities",
    summary = "Create in opportunities (honours Idempotency-Key)",
    request_body = OpportunityCreate,
    responses(
        (status = 201, description = "created (with `warnings` when something looks implausible)", body = OpportunitySaved),
        (status = 200, description = "a retry with the same Idempotency-Key and body: the first result", body = OpportunitySaved),
    )
)]
async fn create(
    State(s): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    body: JsonBody<OpportunityInput>,
) -> Result<Response, AppError> {
    let idem = idempotency(&headers, &body.raw)?;
    let warnings = ops::input_warnings(&c.ctx, &body.value);
    let saved = ops::create_opportunity(&s.db, &c.ctx, body.value, idem).await?;
    Ok(created(ops::Created {
        replayed: saved.replayed,
        record: OpportunitySaved {
            opportunity: saved.record,
            warnings,
        },
    }))
}

#[utoipa::path(
    patch,
    path = "/opportunities/{id}",
    operation_id = "update_opportunities",
    summary = "Partly update one of opportunities (send `version`); the stage changes only by a move",
    request_body = OpportunityInput,
    responses((status = 200, description = "updated (with `warnings` when something looks implausible)", body = OpportunitySaved))
)]
async fn update(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<OpportunityInput>,
) -> Result<Json<OpportunitySaved>, AppError> {
    let warnings = ops::input_warnings(&c.ctx, &body.value);
    Ok(Json(OpportunitySaved {
        opportunity: ops::update_opportunity(&s.db, &c.ctx, id, body.value).await?,
        warnings,
    }))
}

#[utoipa::path(
    delete,
    path = "/opportunities/{id}",
    operation_id = "archive_opportunities",
    summary = "Archive one of opportunities",
    responses((status = 200, body = Opportunity))
)]
async fn archive(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Opportunity>, AppError> {
    let input: OpportunityInput = parse_json(br#"{"archived": true}"#)?;
    Ok(Json(
        ops::update_opportunity(&s.db, &c.ctx, id, input).await?,
    ))
}

/// Move to another stage (the one way to win, lose or reopen)
///
/// The gates of every stage entered are checked; when one is unmet the answer is 422
/// `gate_unmet` with every `missing` item. A move that needs an approval is 202
/// `approval_requested` with the request in `approval`, and the opportunity stays.
#[utoipa::path(
    post,
    path = "/opportunities/{id}/move",
    request_body = MoveInput,
    responses(
        (status = 200, description = "moved", body = Opportunity),
        (status = 202, description = "waits for approval: `approval_requested` with the request", body = ErrorBody),
    )
)]
async fn move_opportunity(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MoveInput>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(
        ops::move_opportunity(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// The opportunity's history, oldest first
#[utoipa::path(
    get,
    path = "/opportunities/{id}/events",
    responses((status = 200, body = Vec<OpportunityEvent>))
)]
async fn opportunity_events(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OpportunityEvent>>, AppError> {
    Ok(Json(ops::opportunity_events(&s.db, &c.ctx, id).await?))
}

/// Move into another pipeline at a mapped stage (managers and up)
#[utoipa::path(
    post,
    path = "/opportunities/{id}/change-pipeline",
    request_body = ops::ChangePipelineInput,
    responses((status = 200, body = Opportunity))
)]
async fn change_pipeline(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::ChangePipelineInput>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(
        ops::change_pipeline(&s.db, &c.ctx, id, body.value).await?,
    ))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(export_csv))
        .routes(routes!(export_xlsx))
        .routes(routes!(get, update, archive))
        .routes(routes!(move_opportunity))
        .routes(routes!(opportunity_events))
        .routes(routes!(change_pipeline))
}
