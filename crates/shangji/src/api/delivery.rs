//! Outgoing notifications over the API: channels, the webhook allow-list, the delivery log
//! (admins), and each user's email preferences.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shangji_store::Delivery;
use utoipa::ToSchema;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::delivery::{self, AllowList, ChannelInput, ChannelView, PrefsInput, PrefsView};
use crate::state::AppState;

async fn channels(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<ChannelView>>, AppError> {
    Ok(Json(delivery::channels(&s.db, &c.ctx).await?))
}

async fn create_channel(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ChannelInput>,
) -> Result<Response, AppError> {
    let ch = delivery::save_channel(&s.db, &c.ctx, None, body.value).await?;
    Ok((StatusCode::CREATED, Json(ch)).into_response())
}

async fn channel(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ChannelView>, AppError> {
    Ok(Json(delivery::channel(&s.db, &c.ctx, id).await?))
}

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

async fn test_channel(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let delivery_id = delivery::test_channel(&s.db, &c.ctx, id).await?;
    Ok((StatusCode::ACCEPTED, Json(QueuedTest { delivery_id })).into_response())
}

async fn allow_list(State(s): State<AppState>, c: Caller) -> Result<Json<AllowList>, AppError> {
    c.ctx.require_admin()?;
    Ok(Json(AllowList {
        entries: delivery::allow_list(&s.db).await?,
    }))
}

async fn set_allow_list(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<AllowList>,
) -> Result<Json<AllowList>, AppError> {
    Ok(Json(
        delivery::set_allow_list(&s.db, &c.ctx, body.value).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    status: Option<String>,
    channel_id: Option<i64>,
}

async fn deliveries(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Vec<Delivery>>, AppError> {
    Ok(Json(
        delivery::deliveries(&s.db, &c.ctx, q.status.as_deref(), q.channel_id).await?,
    ))
}

async fn retry_delivery(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Delivery>, AppError> {
    Ok(Json(delivery::retry_delivery(&s.db, &c.ctx, id).await?))
}

async fn my_prefs(State(s): State<AppState>, c: Caller) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(delivery::my_prefs(&s.db, &c.user).await?))
}

async fn set_my_prefs(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<PrefsInput>,
) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(
        delivery::set_my_prefs(&s.db, &c.user, body.value, c.ctx.now).await?,
    ))
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/notification-channels", get(channels).post(create_channel))
        .route(
            "/notification-channels/{id}",
            get(channel).put(replace_channel).delete(delete_channel),
        )
        .route("/notification-channels/{id}/test", post(test_channel))
        .route(
            "/settings/webhook-allow-list",
            get(allow_list).put(set_allow_list),
        )
        .route("/deliveries", get(deliveries))
        .route("/deliveries/{id}/retry", post(retry_delivery))
        .route(
            "/me/notification-preferences",
            get(my_prefs).put(set_my_prefs),
        )
}
