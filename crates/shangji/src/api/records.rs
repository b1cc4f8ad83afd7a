//! The record pages' API: a follow-up logged with its next step in one call, and the
//! contacts taking part in an opportunity.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use shangji_core::follow_up::FollowUpInput;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::records::{self, ContactLinkInput, OpportunityContact};
use crate::state::AppState;

async fn log_follow_up(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<FollowUpInput>,
) -> Result<Response, AppError> {
    let done = records::log_follow_up(&s.db, &c.ctx, id, body.value).await?;
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

async fn contacts(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OpportunityContact>>, AppError> {
    Ok(Json(
        records::opportunity_contacts(&s.db, &c.ctx, id).await?,
    ))
}

async fn link_contact(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ContactLinkInput>,
) -> Result<Json<Vec<OpportunityContact>>, AppError> {
    Ok(Json(
        records::link_contact(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn unlink_contact(
    State(s): State<AppState>,
    c: Caller,
    Path((id, contact_id)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    records::unlink_contact(&s.db, &c.ctx, id, contact_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/opportunities/{id}/follow-ups", post(log_follow_up))
        .route(
            "/opportunities/{id}/contacts",
            get(contacts).post(link_contact),
        )
        .route(
            "/opportunities/{id}/contacts/{contact_id}",
            delete(unlink_contact),
        )
}
