//! Assignment over the API: the ordered assignment rules and the pool's settings (admin),
//! the public pool, claiming, returning to the pool, handing over (by hand or by the rules,
//! with a preview) and the assignment SLA.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shangji_core::assignment::{AssignmentRuleInput, PoolSettings, SlaSummary};
use shangji_core::model::Opportunity;
use time::{Duration, OffsetDateTime};

use super::{parse_json, JsonBody};
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::assignment::{self, AssignOutcome, AssignmentRuleView, Decision, PoolView};
use crate::state::AppState;

async fn list(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<AssignmentRuleView>>, AppError> {
    Ok(Json(assignment::list_rules(&s.db, &c.ctx).await?))
}

async fn create(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<AssignmentRuleInput>,
) -> Result<Response, AppError> {
    let rule = assignment::create_rule(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AssignmentRuleView>, AppError> {
    Ok(Json(assignment::get_rule(&s.db, &c.ctx, id).await?))
}

async fn replace(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<AssignmentRuleInput>,
) -> Result<Json<AssignmentRuleView>, AppError> {
    Ok(Json(
        assignment::update_rule(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn delete(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    assignment::delete_rule(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    direction: Direction,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Direction {
    Up,
    Down,
}

async fn reorder(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MoveBody>,
) -> Result<Json<Vec<AssignmentRuleView>>, AppError> {
    let up = body.value.direction == Direction::Up;
    Ok(Json(assignment::move_rule(&s.db, &c.ctx, id, up).await?))
}

async fn get_settings(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<PoolSettings>, AppError> {
    Ok(Json(assignment::settings(&s.db).await?))
}

async fn put_settings(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<PoolSettings>,
) -> Result<Json<PoolSettings>, AppError> {
    Ok(Json(
        assignment::save_settings(&s.db, &c.ctx, body.value).await?,
    ))
}

async fn pool(State(s): State<AppState>, c: Caller) -> Result<Json<PoolView>, AppError> {
    Ok(Json(assignment::pool_view(&s.db, &c.ctx).await?))
}

async fn claim(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(assignment::claim(&s.db, &c.ctx, id).await?))
}

async fn release(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Opportunity>, AppError> {
    let input = optional_body(&body)?;
    Ok(Json(assignment::release(&s.db, &c.ctx, id, input).await?))
}

async fn assign(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<AssignOutcome>, AppError> {
    let input = optional_body(&body)?;
    Ok(Json(assignment::assign(&s.db, &c.ctx, id, input).await?))
}

/// A JSON object body that may be left out (then the defaults).
fn optional_body<T: serde::de::DeserializeOwned + Default>(raw: &[u8]) -> Result<T, AppError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(raw)
    }
}

async fn preview(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Decision>, AppError> {
    Ok(Json(assignment::preview(&s.db, &c.ctx, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaQuery {
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
}

async fn sla(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SlaSummary>, AppError> {
    let Query(q) = q.map_err(|e| AppError::bad_request("", "invalid_query", e.body_text()))?;
    let to = q.to.unwrap_or(c.ctx.now);
    let from = q.from.unwrap_or(to - Duration::days(30));
    Ok(Json(assignment::sla(&s.db, &c.ctx, from, to).await?))
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/assignment-rules", get(list).post(create))
        .route(
            "/assignment-rules/{id}",
            get(one).put(replace).delete(delete),
        )
        .route("/assignment-rules/{id}/move", post(reorder))
        .route("/settings/pool", get(get_settings).put(put_settings))
        .route("/pool", get(pool))
        .route("/pool/sla", get(sla))
        .route("/opportunities/{id}/claim", post(claim))
        .route("/opportunities/{id}/release", post(release))
        .route("/opportunities/{id}/assign", post(assign))
        .route("/opportunities/{id}/assignment-preview", get(preview))
}
