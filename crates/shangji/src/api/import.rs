//! Imports over the API: upload a file (the body, as is), preview it with a mapping and
//! options, run it in the background and follow its progress, roll it back.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shangji_core::import::{ImportBatch, ImportKind, ImportOptions, Mapping};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::import::{self, Preview, Rollback};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct UploadParams {
    /// `accounts` (with their contacts), `contacts`, `leads` or `opportunities` (with their
    /// past; add their stage history with `POST /imports/{id}/history`).
    kind: ImportKind,
    /// The file's name; its extension (`.xlsx`, `.xls`, `.csv`) says how it is read.
    file_name: String,
}

/// Upload a file to import (admins, directors, managers); the answer is its preview with the
/// columns recognised
#[utoipa::path(
    post,
    path = "/imports",
    operation_id = "upload_import",
    params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Preview))
)]
async fn upload(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Query<UploadParams>,
    body: Bytes,
) -> Result<Response, AppError> {
    let batch = import::upload(&s.db, &c.ctx, p.kind, &p.file_name, &body).await?;
    let preview = import::preview(&s.db, &c.ctx, batch.id, None, None).await?;
    Ok((StatusCode::CREATED, Json(preview)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct HistoryParams {
    /// The file's name; its extension (`.xlsx`, `.xls`, `.csv`) says how it is read.
    file_name: String,
}

/// Add the stage history of an opportunities import's deals (the body, as is), before it
/// runs: one row per stage entered — `opportunity` (the deal's external id), `stage`,
/// `entered_at` (China time), optionally `amount` (or their Chinese names). Imported history
/// is taken as fact: gates and approvals are not replayed, the importer is recorded. The
/// answer is the preview, the history's problems among its problems (their column marked
/// `history:`)
#[utoipa::path(
    post,
    path = "/imports/{id}/history",
    operation_id = "add_import_history",
    params(HistoryParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = Preview))
)]
async fn history(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    Query(p): Query<HistoryParams>,
    body: Bytes,
) -> Result<Json<Preview>, AppError> {
    import::add_history(&s.db, &c.ctx, id, &p.file_name, &body).await?;
    Ok(Json(import::preview(&s.db, &c.ctx, id, None, None).await?))
}

/// The latest imports (an admin sees everyone's, others their own)
#[utoipa::path(
    get,
    path = "/imports",
    operation_id = "list_imports",
    responses((status = 200, body = Vec<ImportBatch>))
)]
async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<ImportBatch>>, AppError> {
    Ok(Json(import::list(&s.db, &c.ctx).await?))
}

/// An import: its status and progress while it runs, its outcome after
#[utoipa::path(
    get,
    path = "/imports/{id}",
    operation_id = "get_import",
    responses((status = 200, body = ImportBatch))
)]
async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ImportBatch>, AppError> {
    Ok(Json(import::get(&s.db, &c.ctx, id).await?))
}

/// A new mapping or options for an import not yet run (either may be left out).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PreviewBody {
    pub mapping: Option<Mapping>,
    pub options: Option<ImportOptions>,
}

/// What the import would do: every row's problems by row and column, the duplicates and the
/// decision for each, the first rows as they would be stored (of an import that has started,
/// its summary only)
#[utoipa::path(
    post,
    path = "/imports/{id}/preview",
    operation_id = "preview_import",
    request_body = PreviewBody,
    responses((status = 200, body = Preview))
)]
async fn preview(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<PreviewBody>,
) -> Result<Json<Preview>, AppError> {
    let b = body.value;
    Ok(Json(
        import::preview(&s.db, &c.ctx, id, b.mapping, b.options).await?,
    ))
}

/// Run the import in the background (follow it with `GET /imports/{id}`); refused while any
/// row has a problem, unless the options say valid rows only
#[utoipa::path(
    post,
    path = "/imports/{id}/run",
    operation_id = "run_import",
    responses((status = 202, body = ImportBatch))
)]
async fn run(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let batch = import::start(&s.db, &c.ctx, id).await?;
    import::spawn_run(s.db.clone(), c.ctx.clone(), id);
    Ok((StatusCode::ACCEPTED, Json(batch)).into_response())
}

/// Roll an import back: what it created is removed, what it updated gets its earlier values;
/// 409 with the records that block it when any changed since
#[utoipa::path(
    post,
    path = "/imports/{id}/rollback",
    operation_id = "rollback_import",
    responses((status = 200, body = Rollback), (status = 409, body = Rollback))
)]
async fn rollback(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let out = import::rollback(&s.db, &c.ctx, id).await?;
    let status = if out.rolled_back {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok((status, Json(out)).into_response())
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, list))
        .routes(routes!(history))
        // A file may be larger than any other body.
        .layer(axum::extract::DefaultBodyLimit::max(
            import::MAX_FILE_BYTES + 64 * 1024,
        ))
        .routes(routes!(one))
        .routes(routes!(preview))
        .routes(routes!(run))
        .routes(routes!(rollback))
}
