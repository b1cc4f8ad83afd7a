//! The JSON API of the list features: XLSX exports, saved views, the search box, and
//! qualifying or disqualifying a lead. Handlers are thin, as in `api.rs`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shangji_core::model::Lead;
use shangji_store::SavedView;

use crate::api::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::{self, ConvertInput, Converted, DisqualifyInput, Listed, ViewInput};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct KindQuery {
    /// One list's views only: opportunities, accounts, contacts, leads, activities or tasks.
    #[serde(default)]
    kind: Option<String>,
}

/// Your saved list views; views are private to their owner
#[utoipa::path(
    get,
    path = "/views",
    params(KindQuery),
    responses((status = 200, body = Vec<SavedView>))
)]
async fn views(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<KindQuery>,
) -> Result<Json<Vec<SavedView>>, AppError> {
    Ok(Json(lists::views(&s.db, &c.ctx, q.kind.as_deref()).await?))
}

/// Save a list view
///
/// Its list, a name of your own for that list, the list's query string (checked as the list
/// reads it).
#[utoipa::path(
    post,
    path = "/views",
    request_body = ViewInput,
    responses((status = 201, body = SavedView))
)]
async fn create_view(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ViewInput>,
) -> Result<Response, AppError> {
    let v = lists::create_view(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// One of your saved views
#[utoipa::path(get, path = "/views/{id}", responses((status = 200, body = SavedView)))]
async fn view(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<SavedView>, AppError> {
    Ok(Json(lists::view(&s.db, &c.ctx, id).await?))
}

/// Delete one of your saved views
#[utoipa::path(
    delete,
    path = "/views/{id}",
    responses((status = 204, description = "deleted"))
)]
async fn delete_view(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    lists::delete_view(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// What to look for.
    #[serde(default)]
    q: String,
}

/// Search accounts, contacts, opportunities and leads in your visibility
///
/// Digits a mobile prefix, an email exactly, 18 letters and digits a credit code, other text
/// part of a name or title.
#[utoipa::path(
    get,
    path = "/search",
    params(SearchQuery),
    responses((status = 200, body = lists::SearchResults))
)]
async fn search(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<lists::SearchResults>, AppError> {
    Ok(Json(
        lists::search(&s.db, &c.ctx, Tr::new(c.ctx.lang), &q.q).await?,
    ))
}

/// Qualify a lead
///
/// The account (existing `account_id` or new), the contact and optionally an opportunity,
/// written with the lead's new status in one transaction.
#[utoipa::path(
    post,
    path = "/leads/{id}/convert",
    request_body = ConvertInput,
    responses((status = 200, body = Converted))
)]
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

/// Disqualify a lead with a reason (required)
#[utoipa::path(
    post,
    path = "/leads/{id}/disqualify",
    request_body = DisqualifyInput,
    responses((status = 200, body = Lead))
)]
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

/// A lead's outcomes
///
/// Qualified with the records it became, or disqualified with the reason.
#[utoipa::path(
    get,
    path = "/leads/{id}/outcomes",
    responses((status = 200, body = Vec<shangji_store::LeadOutcomeRow>))
)]
async fn outcomes(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<shangji_store::LeadOutcomeRow>>, AppError> {
    crate::ops::get::<Lead>(&s.db, &c.ctx, id).await?;
    Ok(Json(s.db.lead_outcomes(id).await?))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(views, create_view))
        .routes(routes!(view, delete_view))
        .routes(routes!(search))
        .routes(routes!(convert))
        .routes(routes!(disqualify))
        .routes(routes!(outcomes))
}
