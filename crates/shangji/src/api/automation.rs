//! Automation over the API: rules (admin), their dry runs and firing logs, the working
//! calendar setting, notification preferences and marking every notification read.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shangji_core::calendar::CalendarData;
use shangji_core::rules::{FactsConfig, RuleInput};

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::automation::{self, DryRunItem, FiringView, PrefsView, RuleView};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Automation rules (admin), with when each last fired
#[utoipa::path(
    get,
    path = "/rules",
    operation_id = "list_rules",
    responses((status = 200, body = Vec<RuleView>))
)]
async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<RuleView>>, AppError> {
    Ok(Json(automation::list_rules(&s.db, &c.ctx).await?))
}

/// Add a rule (admin); a refused rule lists every mistake in `errors`
#[utoipa::path(
    post,
    operation_id = "create_rule",
    path = "/rules",
    request_body = RuleInput,
    responses((status = 201, body = RuleView))
)]
async fn create(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<RuleInput>,
) -> Result<Response, AppError> {
    let rule = automation::create_rule(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

/// A rule (admin)
#[utoipa::path(
    get,
    path = "/rules/{id}",
    operation_id = "get_rule",
    responses((status = 200, body = RuleView))
)]
async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<RuleView>, AppError> {
    Ok(Json(automation::get_rule(&s.db, &c.ctx, id).await?))
}

/// Replace a rule (admin); a stale `version` is a conflict
#[utoipa::path(
    put,
    operation_id = "replace_rule",
    path = "/rules/{id}",
    request_body = RuleInput,
    responses((status = 200, body = RuleView))
)]
async fn replace(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<RuleInput>,
) -> Result<Json<RuleView>, AppError> {
    Ok(Json(
        automation::update_rule(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// Delete a rule and its firing log (admin)
#[utoipa::path(
    delete,
    operation_id = "delete_rule",
    path = "/rules/{id}",
    responses((status = 204, description = "deleted"))
)]
async fn delete(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    automation::delete_rule(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which records a saved rule would fire for now, and why (admin)
#[utoipa::path(
    post,
    path = "/rules/{id}/dry-run",
    responses((status = 200, body = Vec<DryRunItem>))
)]
async fn dry_run_saved(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<DryRunItem>>, AppError> {
    Ok(Json(automation::dry_run_saved(&s.db, &c.ctx, id).await?))
}

/// Which records a rule not saved would fire for now, and why (admin)
#[utoipa::path(
    post,
    path = "/rules/dry-run",
    request_body = RuleInput,
    responses((status = 200, body = Vec<DryRunItem>))
)]
async fn dry_run_input(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<RuleInput>,
) -> Result<Json<Vec<DryRunItem>>, AppError> {
    Ok(Json(
        automation::dry_run_input(&s.db, &c.ctx, body.value).await?,
    ))
}

/// A rule's firing log, newest first (admin)
#[utoipa::path(
    get,
    path = "/rules/{id}/firings",
    responses((status = 200, body = Vec<FiringView>))
)]
async fn firings(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<FiringView>>, AppError> {
    Ok(Json(automation::rule_firings(&s.db, &c.ctx, id).await?))
}

/// The working calendar
#[utoipa::path(
    get,
    path = "/settings/calendar",
    responses((status = 200, body = CalendarData))
)]
async fn get_calendar(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<CalendarData>, AppError> {
    Ok(Json(crate::ops::facts::calendar(&s.db).await?.data()))
}

/// Replace the working calendar (admin); the first problem is refused with its place
#[utoipa::path(
    put,
    path = "/settings/calendar",
    request_body = CalendarData,
    responses((status = 200, body = CalendarData))
)]
async fn put_calendar(
    State(s): State<AppState>,
    c: Caller,
    body: Bytes,
) -> Result<Json<CalendarData>, AppError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::bad_request("", "invalid_json", "the body is not UTF-8 JSON"))?;
    Ok(Json(
        automation::save_calendar(&s.db, &c.ctx, text).await?.data(),
    ))
}

/// Which activity types count as a meaningful follow-up, and which standard actions send the proposal
#[utoipa::path(
    get,
    path = "/settings/follow-up",
    responses((status = 200, body = FactsConfig))
)]
async fn get_follow_up(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<FactsConfig>, AppError> {
    Ok(Json(crate::ops::facts::facts_config(&s.db).await?))
}

/// Replace the follow-up setting (admin); every follow-up count and rule reads it
#[utoipa::path(
    put,
    path = "/settings/follow-up",
    request_body = FactsConfig,
    responses((status = 200, body = FactsConfig))
)]
async fn put_follow_up(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<FactsConfig>,
) -> Result<Json<FactsConfig>, AppError> {
    Ok(Json(
        automation::save_facts_config(&s.db, &c.ctx, body.value).await?,
    ))
}

/// Your notification preferences
#[utoipa::path(
    get,
    path = "/notification-preferences",
    responses((status = 200, body = PrefsView))
)]
async fn get_prefs(State(s): State<AppState>, c: Caller) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(automation::preferences(&s.db, &c.ctx).await?))
}

/// Replace your notification preferences (muted rules, daily digest)
#[utoipa::path(
    put,
    path = "/notification-preferences",
    request_body = PrefsView,
    responses((status = 200, body = PrefsView))
)]
async fn put_prefs(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<PrefsView>,
) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(
        automation::save_preferences(&s.db, &c.ctx, body.value).await?,
    ))
}

/// Mark all your notifications read
#[utoipa::path(
    post,
    path = "/notifications/read-all",
    responses((status = 204, description = "read"))
)]
async fn read_all(State(s): State<AppState>, c: Caller) -> Result<StatusCode, AppError> {
    automation::mark_all_read(&s.db, &c.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(dry_run_input))
        .routes(routes!(one, replace, delete))
        .routes(routes!(dry_run_saved))
        .routes(routes!(firings))
        .routes(routes!(get_calendar, put_calendar))
        .routes(routes!(get_follow_up, put_follow_up))
        .routes(routes!(get_prefs, put_prefs))
        .routes(routes!(read_all))
}
