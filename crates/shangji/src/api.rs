//! JSON REST API v1. Handlers are thin: extract, call one `ops` function, respond.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shangji_core::approval::{ApprovalPolicy, ApprovalRequest};
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldInput};
use shangji_core::model::*;
use shangji_core::opportunity::{MoveInput, OpportunityEvent, OpportunityInput};
use shangji_core::records::{TeamInput, UserInput};
use shangji_store::{ApiToken, Page};

use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::{self, reports, Created, Idempotency, Record, Resource};
use crate::state::AppState;

mod assignment;
mod automation;
pub mod delivery;
mod forecast;
pub mod lists;
mod records;
mod review;
mod snapshots;

/// A JSON body read strictly: malformed JSON is a 400, a value of the wrong type or an
/// unknown field is a 422 naming the field. Keeps the raw bytes for idempotency.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

pub const MAX_BODY: usize = 1024 * 1024;

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(AppError::bad_request(
                "Content-Type",
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let raw = Bytes::from_request(req, state).await.map_err(|_| {
            AppError::bad_request(
                "",
                "body_too_large",
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        })?;
        let value = parse_json(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, AppError> {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
            Ok(_) => AppError::invalid("", "invalid_value", "the body must be a JSON object"),
            Err(e) => AppError::bad_request(
                "",
                "malformed_json",
                format!("the body is not valid JSON: {e}"),
            ),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let (field, code) = if let Some(rest) = message.strip_prefix("unknown field `") {
                    let name = rest.split('`').next().unwrap_or("");
                    let path = if field == "." || field.is_empty() {
                        name.to_string()
                    } else {
                        field.clone()
                    };
                    (path, "unknown_field")
                } else if message.starts_with("missing field `") {
                    (
                        message.split('`').nth(1).unwrap_or("").to_string(),
                        "required",
                    )
                } else {
                    (field, "invalid_value")
                };
                AppError::invalid(&field, code, message)
            }
            _ => AppError::bad_request(
                "",
                "malformed_json",
                format!("the body is not valid JSON: {message}"),
            ),
        }
    })?;
    de.end().map_err(|e| {
        AppError::bad_request(
            "",
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

fn idempotency(headers: &HeaderMap, raw: &[u8]) -> Result<Option<Idempotency>, AppError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let key = v.to_str().map_err(|_| {
                AppError::bad_request(
                    "Idempotency-Key",
                    "invalid_idempotency_key",
                    "the key must be visible ASCII",
                )
            })?;
            Ok(Some(Idempotency::new(key, raw)?))
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

fn page_of<T>(page: Page<T>, params: &[(String, String)]) -> ListPage<T> {
    let get = |k: &str, d: i64| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(d)
    };
    ListPage {
        items: page.items,
        total: page.total,
        page: get("page", 1).max(1),
        per_page: get("per_page", 50),
    }
}

fn created<T: Serialize>(c: Created<T>) -> Response {
    let status = if c.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(c.record)).into_response()
}

/// Query parameters of a list, read as pairs so that unknown ones can be reported.
type Params = Query<Vec<(String, String)>>;

async fn list_h<T: Resource>(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Json<ListPage<T>>, AppError> {
    let page = ops::list::<T>(&s.db, &c.ctx, &p).await?;
    Ok(Json(page_of(page, &p)))
}

async fn export_h<T: Resource>(
    State(s): State<AppState>,
    c: Caller,
    Query(p): Params,
) -> Result<Response, AppError> {
    let csv = ops::export_csv::<T>(&s.db, &c.ctx, &p).await?;
    let disposition = format!("attachment; filename=\"{}.csv\"", T::RESOURCE);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

async fn get_h<T: Resource>(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<T>, AppError> {
    Ok(Json(ops::get::<T>(&s.db, &c.ctx, id).await?))
}

async fn create_h<T: Record>(
    State(s): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    body: JsonBody<T::Input>,
) -> Result<Response, AppError>
where
    T::Input: DeserializeOwned,
{
    let idem = idempotency(&headers, &body.raw)?;
    Ok(created(
        ops::create::<T>(&s.db, &c.ctx, body.value, idem).await?,
    ))
}

async fn update_h<T: Record>(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<T::Input>,
) -> Result<Json<T>, AppError>
where
    T::Input: DeserializeOwned,
{
    Ok(Json(ops::update::<T>(&s.db, &c.ctx, id, body.value).await?))
}

/// Archiving is an update of `archived`; records are never deleted.
async fn archive_h<T: Record>(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<T>, AppError>
where
    T::Input: DeserializeOwned,
{
    let input: T::Input = parse_json(br#"{"archived": true}"#)?;
    Ok(Json(ops::update::<T>(&s.db, &c.ctx, id, input).await?))
}

fn crud<T: Record + ops::lists::Listed>() -> Router<AppState>
where
    T::Input: DeserializeOwned,
{
    Router::new()
        .route("/", get(list_h::<T>).post(create_h::<T>))
        .route("/export.csv", get(export_h::<T>))
        .route("/export.xlsx", get(lists::export_xlsx::<T>))
        .route(
            "/{id}",
            get(get_h::<T>).patch(update_h::<T>).delete(archive_h::<T>),
        )
}

async fn create_opportunity(
    State(s): State<AppState>,
    c: Caller,
    headers: HeaderMap,
    body: JsonBody<OpportunityInput>,
) -> Result<Response, AppError> {
    let idem = idempotency(&headers, &body.raw)?;
    Ok(created(
        ops::create_opportunity(&s.db, &c.ctx, body.value, idem).await?,
    ))
}

async fn update_opportunity(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<OpportunityInput>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(
        ops::update_opportunity(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn archive_opportunity(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Opportunity>, AppError> {
    let input: OpportunityInput = parse_json(br#"{"archived": true}"#)?;
    Ok(Json(
        ops::update_opportunity(&s.db, &c.ctx, id, input).await?,
    ))
}

async fn move_opportunity(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<MoveInput>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(
        ops::move_opportunity(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn opportunity_events(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OpportunityEvent>>, AppError> {
    Ok(Json(ops::opportunity_events(&s.db, &c.ctx, id).await?))
}

async fn pipelines(c: Caller) -> Result<Json<Vec<Pipeline>>, AppError> {
    Ok(Json(c.ctx.dir.pipelines.clone()))
}

async fn pipeline(c: Caller, Path(id): Path<i64>) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        c.ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)?,
    ))
}

async fn change_pipeline(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::ChangePipelineInput>,
) -> Result<Json<Opportunity>, AppError> {
    Ok(Json(
        ops::change_pipeline(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn create_pipeline(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::PipelineInput>,
) -> Result<Response, AppError> {
    let p = ops::create_pipeline(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

async fn update_pipeline(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::PipelinePatch>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        ops::update_pipeline(&s.db, &c.ctx, id, body.value).await?,
    ))
}

async fn add_stage(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::NewStageInput>,
) -> Result<Response, AppError> {
    let p = ops::add_stage(&s.db, &c.ctx, id, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

async fn update_stage(
    State(s): State<AppState>,
    c: Caller,
    Path((id, stage_id)): Path<(i64, i64)>,
    body: JsonBody<ops::StagePatch>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        ops::update_stage(&s.db, &c.ctx, id, stage_id, body.value).await?,
    ))
}

async fn delete_stage(
    State(s): State<AppState>,
    c: Caller,
    Path((id, stage_id)): Path<(i64, i64)>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(ops::delete_stage(&s.db, &c.ctx, id, stage_id).await?))
}

/// The body of a stage reorder: every stage id of the pipeline, in the new order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageOrder {
    pub stage_ids: Vec<i64>,
}

async fn reorder_stages(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<StageOrder>,
) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        ops::reorder_stages(&s.db, &c.ctx, id, body.value.stage_ids).await?,
    ))
}

async fn migrate_pipeline(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::MigrateInput>,
) -> Result<Json<ops::Migrated>, AppError> {
    Ok(Json(
        ops::migrate_pipeline(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// A shipped pipeline template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub key: &'static str,
    pub name: &'static str,
    pub policy: shangji_core::process::TransitionPolicy,
    pub stages: Vec<shangji_core::process::StageSpec>,
}

async fn pipeline_templates(_c: Caller) -> Json<Vec<TemplateView>> {
    Json(
        shangji_core::process::templates()
            .into_iter()
            .map(|t| TemplateView {
                key: t.key,
                name: t.name,
                policy: t.policy,
                stages: t.stages,
            })
            .collect(),
    )
}

async fn loss_reasons(c: Caller) -> Json<Vec<shangji_core::process::LossReason>> {
    Json(c.ctx.dir.loss_reasons.clone())
}

async fn create_loss_reason(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::LossReasonInput>,
) -> Result<Response, AppError> {
    let r = ops::create_loss_reason(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

async fn update_loss_reason(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::LossReasonInput>,
) -> Result<Json<shangji_core::process::LossReason>, AppError> {
    Ok(Json(
        ops::update_loss_reason(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// Which approval requests to list.
#[derive(Debug, Deserialize)]
struct ApprovalBox {
    #[serde(default)]
    r#box: Option<String>,
}

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

async fn approve(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ApprovalRequest>, AppError> {
    decide(&s, &c, id, true, &body).await
}

async fn reject(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ApprovalRequest>, AppError> {
    decide(&s, &c, id, false, &body).await
}

async fn withdraw(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ApprovalRequest>, AppError> {
    Ok(Json(ops::withdraw_approval(&s.db, &c.ctx, id).await?))
}

async fn approval_policies(c: Caller) -> Json<Vec<ApprovalPolicy>> {
    Json(c.ctx.dir.approval_policies.clone())
}

async fn create_approval_policy(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::ApprovalPolicyInput>,
) -> Result<Response, AppError> {
    let p = ops::save_approval_policy(&s.db, &c.ctx, None, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

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

async fn notifications(
    State(s): State<AppState>,
    c: Caller,
) -> Result<Json<Vec<Notification>>, AppError> {
    Ok(Json(ops::notifications(&s.db, &c.ctx).await?))
}

async fn read_notification(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    ops::mark_notification_read(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn custom_fields(c: Caller, Query(p): Params) -> Result<Json<Vec<CustomFieldDef>>, AppError> {
    Ok(Json(ops::custom_fields(&c.ctx, &p)?))
}

async fn custom_field(c: Caller, Path(id): Path<i64>) -> Result<Json<CustomFieldDef>, AppError> {
    Ok(Json(ops::custom_field(&c.ctx, id)?))
}

async fn create_custom_field(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<CustomFieldInput>,
) -> Result<Response, AppError> {
    let def = ops::create_custom_field(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(def)).into_response())
}

async fn update_custom_field(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<CustomFieldInput>,
) -> Result<Json<CustomFieldDef>, AppError> {
    Ok(Json(
        ops::update_custom_field(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// Archiving keeps the field's values; definitions are never deleted.
async fn archive_custom_field(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<CustomFieldDef>, AppError> {
    let input: CustomFieldInput = parse_json(br#"{"archived": true}"#)?;
    Ok(Json(
        ops::update_custom_field(&s.db, &c.ctx, id, input).await?,
    ))
}

/// A report answered as JSON, or as CSV or XLSX with `format=csv|xlsx` (flat tables, headers
/// in the caller's language; see `ops::reports`).
macro_rules! report {
    ($($name:ident => $file:literal),* $(,)?) => {$(
        async fn $name(
            State(s): State<AppState>,
            c: Caller,
            Query(p): Params,
        ) -> Result<Response, AppError> {
            let (format, p) = reports::format_of(p)?;
            let r = ops::$name(&s.db, &c.ctx, &p).await?;
            reports::answer(&s.db, &c.ctx, $file, r, format).await
        }
    )*};
}

report!(
    win_rate_report => "win-rate",
    waterfall_report => "waterfall",
    win_loss_report => "win-loss",
    four_s_report => "4s",
    funnel_report => "funnel",
    time_in_stage_report => "time-in-stage",
    leaderboard_report => "leaderboard",
    forecast_report => "forecast",
    monte_carlo_report => "monte-carlo",
    calibration_report => "calibration",
);

report!(
    sources_report => "sources",
    time_in_stage_trend_report => "time-in-stage-trend",
    sales_cycle_report => "sales-cycle",
);

async fn users(State(s): State<AppState>, _c: Caller) -> Result<Json<Vec<User>>, AppError> {
    Ok(Json(s.db.users().await?))
}

async fn user(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<User>, AppError> {
    Ok(Json(s.db.user(id).await?.ok_or(AppError::NotFound)?))
}

async fn me(c: Caller) -> Json<User> {
    Json(c.user)
}

async fn create_user(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<UserInput>,
) -> Result<Response, AppError> {
    let user = ops::create_user(&s.db, Some(&c.ctx), body.value, c.ctx.now).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn update_user(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<UserInput>,
) -> Result<Json<User>, AppError> {
    Ok(Json(ops::update_user(&s.db, &c.ctx, id, body.value).await?))
}

async fn teams(State(s): State<AppState>, _c: Caller) -> Result<Json<Vec<Team>>, AppError> {
    Ok(Json(s.db.teams().await?))
}

async fn team(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Team>, AppError> {
    let teams = s.db.teams().await?;
    Ok(Json(
        teams
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(AppError::NotFound)?,
    ))
}

async fn create_team(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<TeamInput>,
) -> Result<Response, AppError> {
    let team = ops::create_team(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(team)).into_response())
}

async fn update_team(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<TeamInput>,
) -> Result<Json<Team>, AppError> {
    Ok(Json(ops::update_team(&s.db, &c.ctx, id, body.value).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    pub id: i64,
    /// Shown once; only its digest is stored.
    pub token: String,
}

async fn tokens(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<ApiToken>>, AppError> {
    Ok(Json(s.db.tokens(c.user.id).await?))
}

async fn create_token(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<TokenInput>,
) -> Result<Response, AppError> {
    let name = body.value.name.unwrap_or_default();
    let (token, id) = ops::create_token(&s.db, c.user.id, &name, c.ctx.now).await?;
    Ok((StatusCode::CREATED, Json(NewToken { id, token })).into_response())
}

async fn revoke_token(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    s.db.revoke_token(c.user.id, id, c.ctx.now).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

async fn not_found() -> AppError {
    AppError::NotFound
}

pub fn router() -> Router<AppState> {
    Router::new()
        .nest("/accounts", crud::<Account>())
        .nest("/contacts", crud::<Contact>())
        .nest("/leads", crud::<Lead>())
        .nest("/activities", crud::<Activity>())
        .nest("/tasks", crud::<Task>())
        .merge(records::router())
        .route(
            "/opportunities",
            get(list_h::<Opportunity>).post(create_opportunity),
        )
        .route("/opportunities/export.csv", get(export_h::<Opportunity>))
        .route(
            "/opportunities/export.xlsx",
            get(lists::export_xlsx::<Opportunity>),
        )
        .route(
            "/opportunities/{id}",
            get(get_h::<Opportunity>)
                .patch(update_opportunity)
                .delete(archive_opportunity),
        )
        .route("/opportunities/{id}/move", post(move_opportunity))
        .route("/opportunities/{id}/events", get(opportunity_events))
        .route("/opportunities/{id}/change-pipeline", post(change_pipeline))
        .route("/pipelines", get(pipelines).post(create_pipeline))
        .route("/pipelines/{id}", get(pipeline).patch(update_pipeline))
        .route("/pipelines/{id}/stages", post(add_stage))
        .route(
            "/pipelines/{id}/stages/{stage_id}",
            axum::routing::patch(update_stage).delete(delete_stage),
        )
        .route(
            "/pipelines/{id}/stage-order",
            axum::routing::put(reorder_stages),
        )
        .route("/pipelines/{id}/migrate", post(migrate_pipeline))
        .route("/pipeline-templates", get(pipeline_templates))
        .route("/loss-reasons", get(loss_reasons).post(create_loss_reason))
        .route(
            "/loss-reasons/{id}",
            axum::routing::patch(update_loss_reason),
        )
        .route("/approvals", get(approvals))
        .route("/approvals/{id}", get(approval))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/reject", post(reject))
        .route("/approvals/{id}/withdraw", post(withdraw))
        .route(
            "/approval-policies",
            get(approval_policies).post(create_approval_policy),
        )
        .route(
            "/approval-policies/{id}",
            axum::routing::put(replace_approval_policy),
        )
        .route("/analytics/funnel", get(funnel_report))
        .route("/analytics/time-in-stage", get(time_in_stage_report))
        .route("/analytics/win-rate", get(win_rate_report))
        .route("/analytics/waterfall", get(waterfall_report))
        .route("/analytics/win-loss", get(win_loss_report))
        .route("/analytics/leaderboard", get(leaderboard_report))
        .route("/analytics/4s", get(four_s_report))
        .route("/analytics/forecast", get(forecast_report))
        .route("/analytics/monte-carlo", get(monte_carlo_report))
        .route("/analytics/calibration", get(calibration_report))
        .route("/analytics/sources", get(sources_report))
        .route(
            "/analytics/time-in-stage-trend",
            get(time_in_stage_trend_report),
        )
        .route("/analytics/sales-cycle", get(sales_cycle_report))
        .route("/notifications", get(notifications))
        .route("/notifications/{id}/read", post(read_notification))
        .route(
            "/custom-fields",
            get(custom_fields).post(create_custom_field),
        )
        .route(
            "/custom-fields/{id}",
            get(custom_field)
                .patch(update_custom_field)
                .delete(archive_custom_field),
        )
        .route("/users", get(users).post(create_user))
        .route("/users/me", get(me))
        .route("/users/{id}", get(user).patch(update_user))
        .route("/teams", get(teams).post(create_team))
        .route("/teams/{id}", get(team).patch(update_team))
        .route("/tokens", get(tokens).post(create_token))
        .route("/tokens/{id}", axum::routing::delete(revoke_token))
        .merge(lists::router())
        .merge(forecast::router())
        .merge(snapshots::router())
        .merge(review::router())
        .merge(delivery::router())
        .merge(automation::router())
        .merge(assignment::router())
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
}
