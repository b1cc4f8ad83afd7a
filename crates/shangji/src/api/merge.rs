//! Merging duplicates over the API: an account, a contact or a lead takes in another of its
//! kind (the picked fields, everything pointing at it, its history); the merge log (admin).

use axum::extract::{Path, State};
use axum::Json;
use shangji_core::merge::{Merge, MergeInput};
use shangji_core::model::{Account, Contact, Lead};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::merge::{self, Merged};
use crate::state::AppState;

/// Merge another account into this one: its contacts, deals, follow-ups, tasks and missing
/// custom values move here, the fields in `take` come from it, and it is archived
#[utoipa::path(
    post,
    path = "/accounts/{id}/merge",
    operation_id = "merge_accounts",
    request_body = MergeInput,
    responses((status = 200, body = Merged<Account>))
)]
async fn accounts(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MergeInput>,
) -> Result<Json<Merged<Account>>, AppError> {
    Ok(Json(merge::merge(&s.db, &c.ctx, id, body.value).await?))
}

/// Merge another contact into this one: its follow-ups, deals (with their buying roles),
/// tasks and missing custom values move here, the fields in `take` come from it, and it is
/// archived
#[utoipa::path(
    post,
    path = "/contacts/{id}/merge",
    operation_id = "merge_contacts",
    request_body = MergeInput,
    responses((status = 200, body = Merged<Contact>))
)]
async fn contacts(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MergeInput>,
) -> Result<Json<Merged<Contact>>, AppError> {
    Ok(Json(merge::merge(&s.db, &c.ctx, id, body.value).await?))
}

/// Merge another lead into this one: its follow-ups, tasks, form submissions, outcomes, score
/// history and missing custom values move here, the fields in `take` come from it, and it is
/// archived
#[utoipa::path(
    post,
    path = "/leads/{id}/merge",
    operation_id = "merge_leads",
    request_body = MergeInput,
    responses((status = 200, body = Merged<Lead>))
)]
async fn leads(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MergeInput>,
) -> Result<Json<Merged<Lead>>, AppError> {
    Ok(Json(merge::merge(&s.db, &c.ctx, id, body.value).await?))
}

/// The latest 200 merges: who merged which record into which, when, and the merged record as
/// it was (admin)
#[utoipa::path(
    get,
    path = "/merges",
    operation_id = "list_merges",
    responses((status = 200, body = Vec<Merge>))
)]
async fn log(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<Merge>>, AppError> {
    Ok(Json(merge::log(&s.db, &c.ctx).await?))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(accounts))
        .routes(routes!(contacts))
        .routes(routes!(leads))
        .routes(routes!(log))
}
