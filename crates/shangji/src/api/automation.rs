//! Automation over the API: rules (admin), their dry runs and firing logs, the working
//! calendar setting, notification preferences and marking every notification read.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use shangji_core::calendar::CalendarData;
use shangji_core::rules::{FactsConfig, RuleInput};

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::automation::{self, DryRunItem, FiringView, PrefsView, RuleView};
use crate::state::AppState;

async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<RuleView>>, AppError> {
    Ok(Json(automation::list_rules(&s.db, &c.ctx).await?))
}

async fn create(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<RuleInput>,
) -> Result<Response, AppError> {
    let rule = automation::create_rule(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<RuleView>, AppError> {
    Ok(Json(automation::get_rule(&s.db, &c.ctx, id).await?))
}

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

async fn delete(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    automation::delete_rule(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn dry_run_saved(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<DryRunItem>>, AppError> {
    Ok(Json(automation::dry_run_saved(&s.db, &c.ctx, id).await?))
}

async fn dry_run_input(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<RuleInput>,
) -> Result<Json<Vec<DryRunItem>>, AppError> {
    Ok(Json(
        automation::dry_run_input(&s.db, &c.ctx, body.value).await?,
    ))
}

async fn firings(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<FiringView>>, AppError> {
    Ok(Json(automation::rule_firings(&s.db, &c.ctx, id).await?))
}

async fn get_calendar(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<CalendarData>, AppError> {
    Ok(Json(automation::calendar(&s.db).await?.data()))
}

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

async fn get_follow_up(
    State(s): State<AppState>,
    _c: Caller,
) -> Result<Json<FactsConfig>, AppError> {
    Ok(Json(automation::facts_config(&s.db).await?))
}

async fn put_follow_up(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<FactsConfig>,
) -> Result<Json<FactsConfig>, AppError> {
    Ok(Json(
        automation::save_facts_config(&s.db, &c.ctx, body.value).await?,
    ))
}

async fn get_prefs(State(s): State<AppState>, c: Caller) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(automation::preferences(&s.db, &c.ctx).await?))
}

async fn put_prefs(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<PrefsView>,
) -> Result<Json<PrefsView>, AppError> {
    Ok(Json(
        automation::save_preferences(&s.db, &c.ctx, body.value).await?,
    ))
}

async fn read_all(State(s): State<AppState>, c: Caller) -> Result<StatusCode, AppError> {
    automation::mark_all_read(&s.db, &c.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/rules", get(list).post(create))
        .route("/rules/dry-run", post(dry_run_input))
        .route("/rules/{id}", get(one).put(replace).delete(delete))
        .route("/rules/{id}/dry-run", post(dry_run_saved))
        .route("/rules/{id}/firings", get(firings))
        .route("/settings/calendar", get(get_calendar).put(put_calendar))
        .route("/settings/follow-up", get(get_follow_up).put(put_follow_up))
        .route("/notification-preferences", get(get_prefs).put(put_prefs))
        .route("/notifications/read-all", post(read_all))
}
