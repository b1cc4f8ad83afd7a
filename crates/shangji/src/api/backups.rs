//! Backups over the API (admins): the latest backups with their verification, back up now,
//! download a backup's archive.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use shangji_store::Backup;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{Archive, ZIP};
use crate::ops::backups;
use crate::state::AppState;

fn settings(s: &AppState) -> Result<&backups::Settings, AppError> {
    s.backups.as_deref().ok_or_else(|| {
        AppError::invalid(
            "",
            "backups_not_configured",
            "this instance has no backup folder",
        )
    })
}

/// The latest 60 backups, newest first: when, the file, how it came about, size, durations
/// and the verification (restored into a scratch database and compared table by table)
#[utoipa::path(
    get,
    path = "/backups",
    operation_id = "list_backups",
    responses((status = 200, body = Vec<Backup>))
)]
async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<Backup>>, AppError> {
    Ok(Json(backups::list(&s.db, &c.ctx).await?))
}

/// Back up now: the archive of the whole database into the backup folder, verified; the
/// answer is the record, `status` `verified` or `failed` with the reason in `detail`
#[utoipa::path(
    post,
    path = "/backups",
    operation_id = "create_backup",
    responses((status = 201, body = Backup))
)]
async fn create(
    State(s): State<AppState>,
    c: Caller,
) -> Result<(StatusCode, Json<Backup>), AppError> {
    c.ctx.require_admin()?;
    let b = backups::backup_now(&s.db, &c.ctx, settings(&s)?).await?;
    Ok((StatusCode::CREATED, Json(b)))
}

/// A backup's archive (a zip file), while retention keeps it
#[utoipa::path(
    get,
    path = "/backups/{id}/file",
    operation_id = "download_backup",
    params(("id" = i64, Path, description = "the backup")),
    responses((status = 200, content((Archive = ZIP))))
)]
async fn download(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    c.ctx.require_admin()?;
    let (path, name) = backups::download(&s.db, &c.ctx, settings(&s)?, id).await?;
    crate::download::file_response(&path, &name, ZIP).await
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(download))
}
