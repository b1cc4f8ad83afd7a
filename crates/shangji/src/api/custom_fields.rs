//! Custom field definitions.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldInput};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{CustomFieldCreate, CustomFieldsQuery};
use crate::ops::{self};
use crate::state::AppState;

use super::*;

/// Custom field definitions
#[utoipa::path(
    get,
    path = "/custom-fields",
    params(CustomFieldsQuery),
    responses((status = 200, body = Vec<CustomFieldDef>))
)]
async fn custom_fields(c: Caller, Query(p): Params) -> Result<Json<Vec<CustomFieldDef>>, AppError> {
    Ok(Json(ops::custom_fields(&c.ctx, &p)?))
}

/// One custom field
#[utoipa::path(
    get,
    path = "/custom-fields/{id}",
    responses((status = 200, body = CustomFieldDef))
)]
async fn custom_field(c: Caller, Path(id): Path<i64>) -> Result<Json<CustomFieldDef>, AppError> {
    Ok(Json(ops::custom_field(&c.ctx, id)?))
}

/// Define a custom field (admin)
#[utoipa::path(
    post,
    path = "/custom-fields",
    request_body = CustomFieldCreate,
    responses((status = 201, body = CustomFieldDef))
)]
async fn create_custom_field(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<CustomFieldInput>,
) -> Result<Response, AppError> {
    let def = ops::create_custom_field(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(def)).into_response())
}

/// Change a custom field (admin)
///
/// Key and record kind stay; a type change must keep every value; `rename_options` renames
/// stored values.
#[utoipa::path(
    patch,
    path = "/custom-fields/{id}",
    request_body = CustomFieldInput,
    responses((status = 200, body = CustomFieldDef))
)]
async fn update_custom_field(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<CustomFieldInput>,
) -> Result<Json<CustomFieldDef>, AppError> {
    Ok(Json(
        ops::update_custom_field(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// Archive a custom field (admin; its values are kept)
#[utoipa::path(
    delete,
    path = "/custom-fields/{id}",
    responses((status = 200, body = CustomFieldDef))
)]
async fn archive_custom_field(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<CustomFieldDef>, AppError> {
    let input: CustomFieldInput = parse_json(br#"{"archived": true}"#)?;
    Ok(Json(
        ops::update_custom_field(&s.db, &c.ctx, id, input).await?,
    ))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(custom_fields, create_custom_field))
        .routes(routes!(
            custom_field,
            update_custom_field,
            archive_custom_field
        ))
}
