//! The JSON API of the list features: XLSX exports, saved views, the search box, and
//! qualifying or disqualifying a lead. Handlers are thin, as in `api.rs`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shangji_core::model::Lead;
use shangji_store::SavedView;

use crate::api::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::{self, ConvertInput, Converted, DisqualifyInput, Listed, ViewInput};
use crate::state::AppState;

/// `GET /{kind}/export.xlsx`: the list's filters and sort, every page, the columns of `cols`
/// (all when none), in the caller's language.
pub async fn export_xlsx<T: Listed>(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let mut p = p;
    if !p.iter().any(|(k, v)| k == "cols" && !v.trim().is_empty()) {
        let all = lists::columns::<T>(Tr::new(c.ctx.lang), &c.ctx.dir);
        p.extend(all.into_iter().map(|col| ("cols".to_string(), col.key)));
    }
    let bytes =
        lists::export::<T>(&s.db, &c.ctx, Tr::new(c.ctx.lang), &p, lists::Format::Xlsx).await?;
    Ok(crate::download::xlsx_response(T::KIND.path(), bytes))
}

#[derive(Debug, Deserialize)]
struct KindQuery {
    #[serde(default)]
    kind: Option<String>,
}

async fn views(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<KindQuery>,
) -> Result<Json<Vec<SavedView>>, AppError> {
    Ok(Json(lists::views(&s.db, &c.ctx, q.kind.as_deref()).await?))
}

async fn create_view(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ViewInput>,
) -> Result<Response, AppError> {
    let v = lists::create_view(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn view(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<SavedView>, AppError> {
    Ok(Json(lists::view(&s.db, &c.ctx, id).await?))
}

async fn delete_view(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    lists::delete_view(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<lists::SearchResults>, AppError> {
    Ok(Json(
        lists::search(&s.db, &c.ctx, Tr::new(c.ctx.lang), &q.q).await?,
    ))
}

async fn convert(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ConvertInput>,
) -> Result<Json<Converted>, AppError> {
    Ok(Json(
        lists::convert_lead(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn disqualify(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<DisqualifyInput>,
) -> Result<Json<Lead>, AppError> {
    Ok(Json(
        lists::disqualify_lead(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn outcomes(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<shangji_store::LeadOutcomeRow>>, AppError> {
    crate::ops::get::<Lead>(&s.db, &c.ctx, id).await?;
    Ok(Json(s.db.lead_outcomes(id).await?))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/views", get(views).post(create_view))
        .route("/views/{id}", get(view).delete(delete_view))
        .route("/search", get(search))
        .route("/leads/{id}/convert", post(convert))
        .route("/leads/{id}/disqualify", post(disqualify))
        .route("/leads/{id}/outcomes", get(outcomes))
}
