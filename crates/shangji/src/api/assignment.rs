//! Assignment over the API: the ordered assignment rules and the pool's settings (admin),
//! the public pool, claiming, returning to the pool, handing over (by hand or by the rules,
//! with a preview) and the assignment SLA — for opportunities, and the pool of leads and
//! accounts (claims, giving back, handing over, owner history, the lead SLA).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shangji_core::assignment::{AssignmentRuleInput, OwnershipEvent, PoolSettings, SlaSummary};
use shangji_core::model::{Account, Lead, Opportunity};
use time::{Duration, OffsetDateTime};

use super::{parse_json, JsonBody};
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::assignment::{
    self, AssignInput, AssignOutcome, AssignmentRuleView, Decision, PoolView, RecordAssignOutcome,
    RecordPoolView, ReleaseInput,
};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Assignment rules in the order they are tried (admin)
#[utoipa::path(
    get,
    path = "/assignment-rules",
    operation_id = "list_assignment_rules",
    responses((status = 200, body = Vec<AssignmentRuleView>))
)]
async fn list(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<AssignmentRuleView>>, AppError> {
    Ok(Json(assignment::list_rules(&s.db, &c.ctx).await?))
}

/// Add an assignment rule, last in the order (admin)
#[utoipa::path(
    post,
    path = "/assignment-rules",
    operation_id = "create_assignment_rule",
    request_body = AssignmentRuleInput,
    responses((status = 201, body = AssignmentRuleView))
)]
async fn create(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<AssignmentRuleInput>,
) -> Result<Response, AppError> {
    let rule = assignment::create_rule(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

/// An assignment rule (admin)
#[utoipa::path(
    get,
    path = "/assignment-rules/{id}",
    operation_id = "get_assignment_rule",
    responses((status = 200, body = AssignmentRuleView))
)]
async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AssignmentRuleView>, AppError> {
    Ok(Json(assignment::get_rule(&s.db, &c.ctx, id).await?))
}

/// Replace an assignment rule; a stale version is a conflict (admin)
#[utoipa::path(
    put,
    path = "/assignment-rules/{id}",
    operation_id = "replace_assignment_rule",
    request_body = AssignmentRuleInput,
    responses((status = 200, body = AssignmentRuleView))
)]
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

/// Delete an assignment rule (admin)
#[utoipa::path(
    delete,
    path = "/assignment-rules/{id}",
    operation_id = "delete_assignment_rule",
    responses((status = 204, description = "deleted"))
)]
async fn delete(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    assignment::delete_rule(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which way to move an assignment rule in the order.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    direction: Direction,
}

#[derive(Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum Direction {
    Up,
    Down,
}

/// Move a rule one place up or down (admin)
#[utoipa::path(
    post,
    path = "/assignment-rules/{id}/move",
    operation_id = "move_assignment_rule",
    request_body = MoveBody,
    responses((status = 200, body = Vec<AssignmentRuleView>))
)]
async fn reorder(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MoveBody>,
) -> Result<Json<Vec<AssignmentRuleView>>, AppError> {
    let up = body.value.direction == Direction::Up;
    Ok(Json(assignment::move_rule(&s.db, &c.ctx, id, up).await?))
}

/// The public pool's settings: daily claim limit, assignment SLA
#[utoipa::path(get, path = "/settings/pool", responses((status = 200, body = PoolSettings)))]
async fn get_settings(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<PoolSettings>, AppError> {
    Ok(Json(assignment::settings(&s.db).await?))
}

/// Replace the public pool's settings (admin)
#[utoipa::path(
    put,
    path = "/settings/pool",
    request_body = PoolSettings,
    responses((status = 200, body = PoolSettings))
)]
async fn put_settings(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<PoolSettings>,
) -> Result<Json<PoolSettings>, AppError> {
    Ok(Json(
        assignment::save_settings(&s.db, &c.ctx, body.value).await?,
    ))
}

/// The public pool (公海): what waits, how long, and your claims left today
#[utoipa::path(get, path = "/pool", responses((status = 200, body = PoolView)))]
async fn pool(State(s): State<AppState>, c: Caller) -> Result<Json<PoolView>, AppError> {
    Ok(Json(assignment::pool_view(&s.db, &c.ctx).await?))
}

/// Claim a pool opportunity for yourself, within the daily limit
#[utoipa::path(
    post,
    path = "/opportunities/{id}/claim",
    responses((status = 200, body = Opportunity))
)]
async fn claim(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(assignment::claim(&s.db, &c.ctx, id).await?))
}

/// Return an opportunity to the public pool, with an optional reason
#[utoipa::path(
    post,
    path = "/opportunities/{id}/release",
    request_body = Option<ReleaseInput>,
    responses((status = 200, body = Opportunity))
)]
async fn release(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Opportunity>, AppError> {
    let input = optional_body(&body)?;
    Ok(Json(assignment::release(&s.db, &c.ctx, id, input).await?))
}

/// Hand an opportunity over: to `user_id`, or by the assignment rules (managers)
#[utoipa::path(
    post,
    path = "/opportunities/{id}/assign",
    request_body = Option<AssignInput>,
    responses((status = 200, body = AssignOutcome))
)]
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

/// Which rule and rep the assignment rules would choose now, and who is skipped (managers)
#[utoipa::path(
    get,
    path = "/opportunities/{id}/assignment-preview",
    responses((status = 200, body = Decision))
)]
async fn preview(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Decision>, AppError> {
    Ok(Json(assignment::preview(&s.db, &c.ctx, id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SlaQuery {
    /// RFC 3339 (default 30 days before `to`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    /// RFC 3339 (default now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
}

/// The period an SLA query asks for: `to` (default now) and `from` (default 30 days before).
fn period(
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
    c: &Caller,
) -> Result<(OffsetDateTime, OffsetDateTime), AppError> {
    let Query(q) = q.map_err(|e| AppError::bad_request("", "invalid_query", e.body_text()))?;
    let to = q.to.unwrap_or(c.ctx.now);
    Ok((q.from.unwrap_or(to - Duration::days(30)), to))
}

/// The assignment SLA from `from` to `to` and what waits now (managers)
#[utoipa::path(
    get,
    path = "/pool/sla",
    params(SlaQuery),
    responses((status = 200, body = SlaSummary))
)]
async fn sla(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SlaSummary>, AppError> {
    let (from, to) = period(q, &c)?;
    Ok(Json(assignment::sla(&s.db, &c.ctx, from, to).await?))
}

/// The lead SLA from `from` to `to`: new leads followed up within `lead_sla_hours`, and
/// those still waiting for a first follow-up (managers)
#[utoipa::path(
    get,
    path = "/pool/lead-sla",
    params(SlaQuery),
    responses((status = 200, body = SlaSummary))
)]
async fn lead_sla(
    State(s): State<AppState>,
    c: Caller,
    q: Result<Query<SlaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SlaSummary>, AppError> {
    let (from, to) = period(q, &c)?;
    Ok(Json(assignment::lead_sla(&s.db, &c.ctx, from, to).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    /// From 1 (default 1).
    page: Option<i64>,
}

/// The pool operations of a lead or an account, under `path` (`leads` / `accounts`).
macro_rules! pool_routes {
    ($t:ty, $path:literal, $pool:ident, $claim:ident, $release:ident, $assign:ident, $history:ident) => {
        #[doc = concat!("The public pool of ", $path, " you see (your regions), longest waiting first, 50 a page, and your claims left today")]
        #[utoipa::path(get, path = concat!("/pool/", $path), params(PageQuery), responses((status = 200, body = RecordPoolView)))]
        async fn $pool(
            State(s): State<AppState>,
            c: Caller,
            q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
        ) -> Result<Json<RecordPoolView>, AppError> {
            let Query(q) = q.map_err(|e| AppError::bad_request("page", "invalid_query", e.body_text()))?;
            Ok(Json(assignment::record_pool::<$t>(&s.db, &c.ctx, q.page.unwrap_or(1)).await?))
        }

        #[doc = "Claim one from the pool for yourself, within the daily limit"]
        #[utoipa::path(post, path = concat!("/", $path, "/{id}/claim"), responses((status = 200, body = $t)))]
        async fn $claim(State(s): State<AppState>, c: Caller, Path(id): Path<i64>) -> Result<Json<$t>, AppError> {
            Ok(Json(assignment::claim_record::<$t>(&s.db, &c.ctx, id).await?))
        }

        #[doc = "Give one back to the public pool, with an optional reason"]
        #[utoipa::path(post, path = concat!("/", $path, "/{id}/release"), request_body = Option<ReleaseInput>, responses((status = 200, body = $t)))]
        async fn $release(State(s): State<AppState>, c: Caller, Path(id): Path<i64>, body: Bytes) -> Result<Json<$t>, AppError> {
            let input = optional_body(&body)?;
            Ok(Json(assignment::release_record::<$t>(&s.db, &c.ctx, id, input).await?))
        }

        #[doc = "Hand one over: to `user_id` (managers), or a lead by the lead assignment rules"]
        #[utoipa::path(post, path = concat!("/", $path, "/{id}/assign"), request_body = Option<AssignInput>, responses((status = 200, body = RecordAssignOutcome<$t>)))]
        async fn $assign(State(s): State<AppState>, c: Caller, Path(id): Path<i64>, body: Bytes) -> Result<Json<RecordAssignOutcome<$t>>, AppError> {
            let input = optional_body(&body)?;
            Ok(Json(assignment::assign_record::<$t>(&s.db, &c.ctx, id, input).await?))
        }

        #[doc = "Who had it: claims, hand-overs and returns to the pool, oldest first"]
        #[utoipa::path(get, path = concat!("/", $path, "/{id}/owner-history"), responses((status = 200, body = Vec<OwnershipEvent>)))]
        async fn $history(State(s): State<AppState>, c: Caller, Path(id): Path<i64>) -> Result<Json<Vec<OwnershipEvent>>, AppError> {
            Ok(Json(assignment::history::<$t>(&s.db, &c.ctx, id).await?))
        }
    };
}

pool_routes!(
    Lead,
    "leads",
    lead_pool,
    lead_claim,
    lead_release,
    lead_assign,
    lead_history
);
pool_routes!(
    Account,
    "accounts",
    account_pool,
    account_claim,
    account_release,
    account_assign,
    account_history
);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, replace, delete))
        .routes(routes!(reorder))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(pool))
        .routes(routes!(sla))
        .routes(routes!(claim))
        .routes(routes!(release))
        .routes(routes!(assign))
        .routes(routes!(preview))
        .routes(routes!(lead_sla))
        .routes(routes!(lead_pool))
        .routes(routes!(lead_claim))
        .routes(routes!(lead_release))
        .routes(routes!(lead_assign))
        .routes(routes!(lead_history))
        .routes(routes!(account_pool))
        .routes(routes!(account_claim))
        .routes(routes!(account_release))
        .routes(routes!(account_assign))
        .routes(routes!(account_history))
}
