//! The record pages' API: a follow-up logged with its next step in one call, and the
//! contacts taking part in an opportunity.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shangji_core::follow_up::FollowUpInput;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::records::{self, ContactLinkInput, OpportunityContact};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Log a follow-up
///
/// The activity, the next step's task for the owner and the opportunity's next step, in one
/// transaction. Honours `Idempotency-Key`: a retry answers the first follow-up.
#[utoipa::path(
    post,
    path = "/opportunities/{id}/follow-ups",
    request_body = FollowUpInput,
    responses(
        (status = 201, body = records::FollowUp),
        (status = 200, description = "a retry with the same Idempotency-Key and body: the first follow-up (the opportunity as it is now)", body = records::FollowUp),
    )
)]
async fn log_follow_up(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: JsonBody<FollowUpInput>,
) -> Result<Response, AppError> {
    // The key is bound to the opportunity as well as to the body.
    let mut request = body.raw.to_vec();
    request.extend_from_slice(format!("\n{id}").as_bytes());
    let idem = super::idempotency(&headers, &request)?;
    let done = records::log_follow_up(&s.db, &c.ctx, id, body.value, idem).await?;
    let status = if done.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(done)).into_response())
}

/// The contacts taking part in the opportunity, with their buying roles
#[utoipa::path(
    get,
    path = "/opportunities/{id}/contacts",
    responses((status = 200, body = Vec<OpportunityContact>))
)]
async fn contacts(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OpportunityContact>>, AppError> {
    Ok(Json(
        records::opportunity_contacts(&s.db, &c.ctx, id).await?,
    ))
}

/// Link a contact of the account with a buying role (or change the role)
#[utoipa::path(
    post,
    path = "/opportunities/{id}/contacts",
    request_body = ContactLinkInput,
    responses((status = 200, body = Vec<OpportunityContact>))
)]
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

/// Take a contact off the opportunity
#[utoipa::path(
    delete,
    path = "/opportunities/{id}/contacts/{contact_id}",
    responses((status = 204, description = "taken off"))
)]
async fn unlink_contact(
    State(s): State<AppState>,
    c: Caller,
    Path((id, contact_id)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    records::unlink_contact(&s.db, &c.ctx, id, contact_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log_follow_up))
        .routes(routes!(contacts, link_contact))
        .routes(routes!(unlink_contact))
}
