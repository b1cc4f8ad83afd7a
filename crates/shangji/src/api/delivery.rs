//! Outgoing notifications over the API: channels, the webhook allow-list, the delivery log
//! (admins), and each user's email preferences.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shangji_store::Delivery;
use utoipa::ToSchema;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::delivery::{self, AllowList, ChannelInput, ChannelView, PrefsInput, PrefsView};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Notification channels (admin)
#[utoipa::path(
    get,
    path = "/notification-channels",
    responses((status = 200, body = Vec<ChannelView>))
)]
async fn channels(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<ChannelView>>, AppError> {
    Ok(Json(delivery::channels(&s.db, &c.ctx).await?))
}

/// Add a channel: webhook, wecom, dingtalk or feishu; the URL must pass the allow-list (admin)
#[utoipa::path(
    post,
    path = "/notification-channels",
    request_body = ChannelInput,
    responses((status = 201, body = ChannelView))
)]
async fn create_channel(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ChannelInput>,
) -> Result<Response, AppError> {
    let ch = delivery::save_channel(&s.db, &c.ctx, None, body.value).await?;
    Ok((StatusCode::CREATED, Json(ch)).into_response())
}

/// One channel, its secret masked (admin)
#[utoipa::path(
    get,
    path = "/notification-channels/{id}",
    responses((status = 200, body = ChannelView))
)]
async fn channel(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ChannelView>, AppError> {
    Ok(Json(delivery::channel(&s.db, &c.ctx, id).await?))
}

/// Replace a channel; an absent secret keeps the stored one (admin)
#[utoipa::path(
    put,
    path = "/notification-channels/{id}",
    request_body = ChannelInput,
    responses((status = 200, body = ChannelView))
)]
async fn replace_channel(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ChannelInput>,
) -> Result<Json<ChannelView>, AppError> {
    Ok(Json(
        delivery::save_channel(&s.db, &c.ctx, Some(id), body.value).await?,
    ))
}

/// Delete a channel; its log stays (admin)
#[utoipa::path(
    delete,
    path = "/notification-channels/{id}",
    responses((status = 204, description = "deleted"))
)]
async fn delete_channel(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    delivery::delete_channel(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The test message queued for a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedTest {
    pub delivery_id: i64,
}

/// Queue a test message to the channel (admin)
#[utoipa::path(
    post,
    path = "/notification-channels/{id}/test",
    responses((status = 202, body = QueuedTest))
)]
async fn test_channel(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let delivery_id = delivery::test_channel(&s.db, &c.ctx, id).await?;
    Ok((StatusCode::ACCEPTED, Json(QueuedTest { delivery_id })).into_response())
}

/// The webhook URL allow-list (admin)
#[utoipa::path(
    get,
    path = "/settings/webhook-allow-list",
    responses((status = 200, body = AllowList))
)]
async fn allow_list(State(s): State<AppState>, c: Caller) -> Result<Json<AllowList>, AppError> {
    c.ctx.require_admin()?;
    Ok(Json(AllowList {
        entries: delivery::allow_list(&s.db).await?,
    }))
}

/// Replace the webhook URL allow-list (admin)
#[utoipa::path(
    put,
    path = "/settings/webhook-allow-list",
    request_body = AllowList,
    responses((status = 200, body = AllowList))
)]
async fn set_allow_list(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<AllowList>,
) -> Result<Json<AllowList>, AppError> {
    Ok(Json(
        delivery::set_allow_list(&s.db, &c.ctx, body.value).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// pending, retrying, delivered, failed, held or digested
    status: Option<String>,
    /// One channel's deliveries.
    channel_id: Option<i64>,
}

/// The delivery log, newest first (admin)
#[utoipa::path(
    get,
    path = "/deliveries",
    params(DeliveryQuery),
    responses((status = 200, body = Vec<Delivery>))
)]
async fn deliveries(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Vec<Delivery>>, AppError> {
    Ok(Json(
        delivery::deliveries(&s.db, &c.ctx, q.status.as_deref(), q.channel_id).await?,
    ))
}

/// Send a failed delivery again now (admin)
#[utoipa::path(
    post,
    path = "/deliveries/{id}/retry",
    responses((status = 200, body = Delivery))
)]
async fn retry_delivery(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Delivery>, AppError> {
    Ok(Json(delivery::retry_delivery(&s.db, &c.ctx, id).await?))
}

/// Your email preferences
#[utoipa::path(
    get,
    path = "/me/notification-preferences",
    responses((status = 200, body = PrefsView))
)]
async fn my_prefs(State(s): State<AppState>, c: Caller) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(delivery::my_prefs(&s.db, &c.user).await?))
}

/// Set your email preferences
#[utoipa::path(
    put,
    path = "/me/notification-preferences",
    request_body = PrefsInput,
    responses((status = 200, body = PrefsView))
)]
async fn set_my_prefs(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<PrefsInput>,
) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(
        delivery::set_my_prefs(&s.db, &c.user, body.value, c.ctx.now).await?,
    ))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(channels, create_channel))
        .routes(routes!(channel, replace_channel, delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(allow_list, set_allow_list))
        .routes(routes!(deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(my_prefs, set_my_prefs))
}
