//! Settings → Backups (admins): the latest backups with their verification, "back up now",
//! and each kept backup's archive to download.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::{render, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::backups;
use crate::state::AppState;

const PAGE: &str = "/admin/backups";

/// A backup as the page lists it.
struct Row {
    id: i64,
    at: String,
    origin: &'static str,
    file: String,
    size: String,
    duration: String,
    verified: bool,
    status: &'static str,
    detail: String,
    /// Still on disk: offered for download.
    kept: bool,
}

#[derive(Template)]
#[template(path = "admin_backups.html")]
struct BackupsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<Row>,
    /// Where backups go (none: this instance has no backup folder).
    dir: Option<String>,
    keep_daily: u32,
    keep_weekly: u32,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Shown {
    taken: Option<i64>,
}

fn size(bytes: Option<i64>) -> String {
    match bytes {
        None => "—".into(),
        Some(b) if b < 1_000_000 => format!("{:.1} KB", b as f64 / 1e3),
        Some(b) => format!("{:.1} MB", b as f64 / 1e6),
    }
}

fn seconds(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

async fn show(State(s): State<AppState>, v: Viewer, Query(q): Query<Shown>) -> Response {
    let page = async {
        let list = backups::list(&s.db, &v.ctx).await?;
        let tr = v.tr;
        let notice = q
            .taken
            .and_then(|id| list.iter().find(|b| b.id == id))
            .map(|b| {
                tr.t(if b.status == "verified" {
                    "backup.taken"
                } else {
                    "backup.taken_failed"
                })
                .to_string()
            });
        let rows = list
            .into_iter()
            .map(|b| {
                let verified = b.status == "verified";
                Row {
                    id: b.id,
                    at: tr.datetime(b.started_at),
                    origin: tr.t(match b.origin.as_str() {
                        "scheduled" => "backup.origin.scheduled",
                        "manual" => "backup.origin.manual",
                        _ => "backup.origin.command",
                    }),
                    file: b.file,
                    size: size(b.size_bytes),
                    duration: seconds(b.duration_ms + b.verify_ms.unwrap_or(0)),
                    verified,
                    status: tr.t(if verified {
                        "backup.verified"
                    } else {
                        "backup.failed"
                    }),
                    detail: b.detail.unwrap_or_default(),
                    kept: b.removed_at.is_none(),
                }
            })
            .collect();
        let settings = s.backups.as_deref();
        Ok::<_, AppError>(BackupsPage {
            tr,
            csrf: v.csrf.clone(),
            here: PAGE.into(),
            nav: v.nav("settings"),
            tab: "backups",
            rows,
            dir: settings.map(|c| c.dir.display().to_string()),
            keep_daily: settings.map_or(0, |c| c.keep_daily),
            keep_weekly: settings.map_or(0, |c| c.keep_weekly),
            notice,
        })
    };
    match page.await {
        Ok(p) => render(p),
        Err(e) => v.error(PAGE, e),
    }
}

fn not_configured() -> AppError {
    AppError::invalid(
        "",
        "backups_not_configured",
        "this instance has no backup folder",
    )
}

async fn take(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(form, PAGE) {
        return page;
    }
    let taken = async {
        v.ctx.require_admin()?;
        let settings = s.backups.as_deref().ok_or_else(not_configured)?;
        backups::backup_now(&s.db, &v.ctx, settings).await
    };
    match taken.await {
        Ok(b) => Redirect::to(&format!("{PAGE}?taken={}", b.id)).into_response(),
        Err(e) => v.error(PAGE, e),
    }
}

async fn download(State(s): State<AppState>, v: Viewer, Path(id): Path<i64>) -> Response {
    let file = async {
        v.ctx.require_admin()?;
        let settings = s.backups.as_deref().ok_or(AppError::NotFound)?;
        let (path, name) = backups::download(&s.db, &v.ctx, settings, id).await?;
        crate::download::file_response(&path, &name, crate::openapi::ZIP).await
    };
    match file.await {
        Ok(r) => r,
        Err(e) => v.error(PAGE, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show).post(take))
        .route("/admin/backups/{id}/file", get(download))
}
