//! Approvals (requests, decisions, policies) and the in-app notifications.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shangji_core::approval::{ApprovalPolicy, ApprovalRequest};
use shangji_core::model::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::{self};
use crate::state::AppState;

use super::*;

/// Which approval requests to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ApprovalBox {
    /// `inbox` (waiting for you, the default) or `sent` (your requests).
    #[serde(default)]
    r#box: Option<String>,
}

/// Approval requests: `box=inbox` (waiting for you, the default) or `box=sent`
#[utoipa::path(
    get,
    path = "/approvals",
    params(ApprovalBox),
    responses((status = 200, body = Vec<ApprovalRequest>))
)]
async fn approvals(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<ApprovalBox>,
) -> Result<Json<Vec<ApprovalRequest>>, AppError> {
    let inbox = match q.r#box.as_deref() {
        None | Some("inbox") => true,
        Some("sent") => false,
        Some(other) => {
            return Err(AppError::bad_request(
                "box",
                "invalid_value",
                format!("`{other}` is not inbox or sent"),
            ))
        }
    };
    Ok(Json(ops::approvals(&s.db, &c.ctx, inbox).await?))
}

/// One approval request
#[utoipa::path(
    get,
    path = "/approvals/{id}",
    responses((status = 200, body = ApprovalRequest))
)]
async fn approval(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ApprovalRequest>, AppError> {
    Ok(Json(ops::approval(&s.db, &c.ctx, id).await?))
}

/// An approver's comment.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    #[serde(default)]
    pub comment: Option<String>,
}

async fn decide(
    s: &AppState,
    c: &Caller,
    id: i64,
    approve: bool,
    raw: &[u8],
) -> Result<Json<ApprovalRequest>, AppError> {
    let input: DecisionInput = if raw.is_empty() {
        DecisionInput::default()
    } else {
        parse_json(raw)?
    };
    Ok(Json(
        ops::decide_approval(&s.db, &c.ctx, id, approve, input.comment).await?,
    ))
}

/// Approve (the last approval performs the move)
#[utoipa::path(
    post,
    path = "/approvals/{id}/approve",
    request_body = Option<DecisionInput>,
    responses((status = 200, body = ApprovalRequest))
)]
async fn approve(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ApprovalRequest>, AppError> {
    decide(&s, &c, id, true, &body).await
}

/// Reject (the opportunity stays where it is)
#[utoipa::path(
    post,
    path = "/approvals/{id}/reject",
    request_body = Option<DecisionInput>,
    responses((status = 200, body = ApprovalRequest))
)]
async fn reject(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ApprovalRequest>, AppError> {
    decide(&s, &c, id, false, &body).await
}

/// Withdraw your pending request
#[utoipa::path(
    post,
    path = "/approvals/{id}/withdraw",
    responses((status = 200, body = ApprovalRequest))
)]
async fn withdraw(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ApprovalRequest>, AppError> {
    Ok(Json(ops::withdraw_approval(&s.db, &c.ctx, id).await?))
}

/// Approval policies
#[utoipa::path(
    get,
    path = "/approval-policies",
    responses((status = 200, body = Vec<ApprovalPolicy>))
)]
async fn approval_policies(c: Caller) -> Json<Vec<ApprovalPolicy>> {
    Json(c.ctx.dir.approval_policies.clone())
}

/// Add an approval policy (admin)
#[utoipa::path(
    post,
    path = "/approval-policies",
    request_body = ops::ApprovalPolicyInput,
    responses((status = 201, body = ApprovalPolicy))
)]
async fn create_approval_policy(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::ApprovalPolicyInput>,
) -> Result<Response, AppError> {
    let p = ops::save_approval_policy(&s.db, &c.ctx, None, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Replace an approval policy (admin)
#[utoipa::path(
    put,
    path = "/approval-policies/{id}",
    request_body = ops::ApprovalPolicyInput,
    responses((status = 200, body = ApprovalPolicy))
)]
async fn replace_approval_policy(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::ApprovalPolicyInput>,
) -> Result<Json<ApprovalPolicy>, AppError> {
    Ok(Json(
        ops::save_approval_policy(&s.db, &c.ctx, Some(id), body.value).await?,
    ))
}

/// Your notifications, newest first
#[utoipa::path(
    get,
    path = "/notifications",
    responses((status = 200, body = Vec<Notification>))
)]
async fn notifications(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<Notification>>, AppError> {
    Ok(Json(ops::notifications(&s.db, &c.ctx).await?))
}

/// Mark a notification read
#[utoipa::path(
    post,
    path = "/notifications/{id}/read",
    responses(
        (status = 204, description = "read (again: the time it was first read is kept)"),
        (status = 404, description = "you have no such notification", body = crate::error::ErrorBody)
    )
)]
async fn read_notification(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    ops::mark_notification_read(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(approvals))
        .routes(routes!(approval))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(withdraw))
        .routes(routes!(approval_policies, create_approval_policy))
        .routes(routes!(replace_approval_policy))
        .routes(routes!(notifications))
        .routes(routes!(read_notification))
}
