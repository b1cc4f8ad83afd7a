//! Exports of a list's view as CSV and XLSX.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ops::lists::{self, Listed};
use crate::pages::Viewer;
use crate::state::AppState;

async fn export_page<T: Listed>(
    s: AppState,
    v: Viewer,
    params: Vec<(String, String)>,
    format: lists::Format,
) -> Response {
    let here = format!("/{}", T::KIND.path());
    match lists::export::<T>(&s.db, &v.ctx, v.tr, &params, format).await {
        Ok(bytes) => match format {
            lists::Format::Xlsx => crate::download::xlsx_response(T::KIND.path(), bytes),
            lists::Format::Csv => (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}.csv\"", T::KIND.path()),
                    ),
                ],
                bytes,
            )
                .into_response(),
        },
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn export_csv<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    export_page::<T>(s, v, params, lists::Format::Csv).await
}

pub(super) async fn export_xlsx<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    export_page::<T>(s, v, params, lists::Format::Xlsx).await
}
