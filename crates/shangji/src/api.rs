//! JSON REST API v1. Handlers are thin: extract, call one `ops` function, respond.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shangji_core::approval::{ApprovalPolicy, ApprovalRequest};
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldInput};
use shangji_core::model::*;
use shangji_core::opportunity::{MoveInput, OpportunityEvent, OpportunityInput};
use shangji_core::records::{
    AccountInput, ActivityInput, ContactInput, LeadInput, TaskInput, TeamInput, UserInput,
};
use shangji_store::{ApiToken, Page};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{AppError, ErrorBody};
use crate::openapi::{
    AccountCreate, ActivityCreate, ColumnsQuery, ContactCreate, CustomFieldCreate,
    CustomFieldsQuery, LeadCreate, ListQuery, OpportunityCreate, ReportQuery, Spreadsheet,
    TaskCreate, TeamCreate, UserCreate, CSV, XLSX,
};
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
#[derive(Debug, Serialize)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

// Documented as `ListPage_<T>` whose items refer to the record's own schema (a derive would
// copy the record's schema into each page).
impl<T: ToSchema> utoipa::__dev::ComposeSchema for ListPage<T> {
    fn compose(_: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        let mut page = ObjectBuilder::new()
            .description(Some("A page of a list."))
            .property(
                "items",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("items");
        for name in ["total", "page", "per_page"] {
            page = page.property(name, i64::schema()).required(name);
        }
        page.into()
    }
}

impl<T: ToSchema> ToSchema for ListPage<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ListPage")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
    }
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

/// The reads of a record kind: the list (a page), its CSV and XLSX exports, and one record.
macro_rules! record_reads {
    ($T:ident, $what:tt, $base:tt, $item:tt) => {
        #[utoipa::path(
            get,
            path = $base,
            operation_id = concat!("list_", $what),
            summary = concat!("List ", $what, " (filters, sort, pagination)"),
            params(ListQuery<$T>),
            responses((status = 200, body = ListPage<$T>))
        )]
        async fn list(s: State<AppState>, c: Caller, p: Params) -> Result<Json<ListPage<$T>>, AppError> {
            list_h::<$T>(s, c, p).await
        }

        #[utoipa::path(
            get,
            path = concat!($base, "/export.csv"),
            operation_id = concat!("export_", $what, "_csv"),
            summary = concat!("Export ", $what, " as CSV: the list's filters, every page, one column per custom field"),
            params(ListQuery<$T>),
            responses((status = 200, description = "UTF-8 with a byte-order mark", content_type = CSV, body = String))
        )]
        async fn export_csv(s: State<AppState>, c: Caller, p: Params) -> Result<Response, AppError> {
            export_h::<$T>(s, c, p).await
        }

        #[utoipa::path(
            get,
            path = concat!($base, "/export.xlsx"),
            operation_id = concat!("export_", $what, "_xlsx"),
            summary = concat!("Export ", $what, " as XLSX: the list's filters and sort, every page, the columns of `cols`, labels in your language"),
            description = "Money as numbers with a currency column, dates as dates.",
            params(ListQuery<$T>, ColumnsQuery),
            responses((status = 200, content_type = XLSX, body = Spreadsheet))
        )]
        async fn export_xlsx(s: State<AppState>, c: Caller, p: Params) -> Result<Response, AppError> {
            lists::export_xlsx::<$T>(s, c, p).await
        }

        #[utoipa::path(
            get,
            path = $item,
            operation_id = concat!("get_", $what),
            summary = concat!("Get one of ", $what),
            responses((status = 200, body = $T))
        )]
        async fn get(s: State<AppState>, c: Caller, Path(id): Path<i64>) -> Result<Json<$T>, AppError> {
            get_h::<$T>(s, c, Path(id)).await
        }
    };
}

/// The routes of a record kind written through `ops::create` and `ops::update`: its reads,
/// create (honouring `Idempotency-Key`), partial update and archive.
macro_rules! record_kind {
    ($m:ident: $T:ident, $Create:ident, $Update:ident, $what:tt, $base:tt, $item:tt) => {
        mod $m {
            use super::*;

            record_reads!($T, $what, $base, $item);

            #[utoipa::path(
                post,
                path = $base,
                operation_id = concat!("create_", $what),
                summary = concat!("Create in ", $what, " (honours Idempotency-Key)"),
                request_body = $Create,
                responses(
                    (status = 201, description = "created", body = $T),
                    (status = 200, description = "a retry with the same Idempotency-Key and body: the first result", body = $T),
                )
            )]
            async fn create(
                s: State<AppState>,
                c: Caller,
                headers: HeaderMap,
                body: JsonBody<<$T as Record>::Input>,
            ) -> Result<Response, AppError> {
                create_h::<$T>(s, c, headers, body).await
            }

            #[utoipa::path(
                patch,
                path = $item,
                operation_id = concat!("update_", $what),
                summary = concat!("Partly update one of ", $what, " (send `version`)"),
                request_body = $Update,
                responses((status = 200, body = $T))
            )]
            async fn update(
                s: State<AppState>,
                c: Caller,
                Path(id): Path<i64>,
                body: JsonBody<<$T as Record>::Input>,
            ) -> Result<Json<$T>, AppError> {
                update_h::<$T>(s, c, Path(id), body).await
            }

            #[utoipa::path(
                delete,
                path = $item,
                operation_id = concat!("archive_", $what),
                summary = concat!("Archive one of ", $what),
                responses((status = 200, body = $T))
            )]
            async fn archive(s: State<AppState>, c: Caller, Path(id): Path<i64>) -> Result<Json<$T>, AppError> {
                archive_h::<$T>(s, c, Path(id)).await
            }

            pub(super) fn routes() -> OpenApiRouter<AppState> {
                OpenApiRouter::new()
                    .routes(routes!(list, create))
                    .routes(routes!(export_csv))
                    .routes(routes!(export_xlsx))
                    .routes(routes!(get, update, archive))
            }
        }
    };
}

record_kind!(accounts: Account, AccountCreate, AccountInput, "accounts", "/accounts", "/accounts/{id}");
record_kind!(contacts: Contact, ContactCreate, ContactInput, "contacts", "/contacts", "/contacts/{id}");
record_kind!(leads: Lead, LeadCreate, LeadInput, "leads", "/leads", "/leads/{id}");
record_kind!(activities: Activity, ActivityCreate, ActivityInput, "activities", "/activities", "/activities/{id}");
record_kind!(tasks: Task, TaskCreate, TaskInput, "tasks", "/tasks", "/tasks/{id}");

/// Opportunities: the reads of every record kind; writes through their own operations, and
/// stage moves.
mod opportunities {
    use super::*;

    record_reads!(
        Opportunity,
        "opportunities",
        "/opportunities",
        "/opportunities/{id}"
    );

    #[utoipa::path(
        post,
        path = "/opportunities",
        operation_id = "create_opportunities",
        summary = "Create in opportunities (honours Idempotency-Key)",
        request_body = OpportunityCreate,
        responses(
            (status = 201, description = "created", body = Opportunity),
            (status = 200, description = "a retry with the same Idempotency-Key and body: the first result", body = Opportunity),
        )
    )]
    async fn create(
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

    #[utoipa::path(
        patch,
        path = "/opportunities/{id}",
        operation_id = "update_opportunities",
        summary = "Partly update one of opportunities (send `version`); the stage changes only by a move",
        request_body = OpportunityInput,
        responses((status = 200, body = Opportunity))
    )]
    async fn update(
        State(s): State<AppState>,
        c: Caller,
        Path(id): Path<i64>,
        body: JsonBody<OpportunityInput>,
    ) -> Result<Json<Opportunity>, AppError> {
        Ok(Json(
            ops::update_opportunity(&s.db, &c.ctx, id, body.value).await?,
        ))
    }

    #[utoipa::path(
        delete,
        path = "/opportunities/{id}",
        operation_id = "archive_opportunities",
        summary = "Archive one of opportunities",
        responses((status = 200, body = Opportunity))
    )]
    async fn archive(
        State(s): State<AppState>,
        c: Caller,
        Path(id): Path<i64>,
    ) -> Result<Json<Opportunity>, AppError> {
        let input: OpportunityInput = parse_json(br#"{"archived": true}"#)?;
        Ok(Json(
            ops::update_opportunity(&s.db, &c.ctx, id, input).await?,
        ))
    }

    /// Move to another stage (the one way to win, lose or reopen)
    ///
    /// The gates of every stage entered are checked; when one is unmet the answer is 422
    /// `gate_unmet` with every `missing` item. A move that needs an approval is 202
    /// `approval_requested` with the request in `approval`, and the opportunity stays.
    #[utoipa::path(
        post,
        path = "/opportunities/{id}/move",
        request_body = MoveInput,
        responses(
            (status = 200, description = "moved", body = Opportunity),
            (status = 202, description = "waits for approval: `approval_requested` with the request", body = ErrorBody),
        )
    )]
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

    /// The opportunity's history, oldest first
    #[utoipa::path(
        get,
        path = "/opportunities/{id}/events",
        responses((status = 200, body = Vec<OpportunityEvent>))
    )]
    async fn opportunity_events(
        State(s): State<AppState>,
        c: Caller,
        Path(id): Path<i64>,
    ) -> Result<Json<Vec<OpportunityEvent>>, AppError> {
        Ok(Json(ops::opportunity_events(&s.db, &c.ctx, id).await?))
    }

    /// Move into another pipeline at a mapped stage (managers and up)
    #[utoipa::path(
        post,
        path = "/opportunities/{id}/change-pipeline",
        request_body = ops::ChangePipelineInput,
        responses((status = 200, body = Opportunity))
    )]
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

    pub(super) fn routes() -> OpenApiRouter<AppState> {
        OpenApiRouter::new()
            .routes(routes!(list, create))
            .routes(routes!(export_csv))
            .routes(routes!(export_xlsx))
            .routes(routes!(get, update, archive))
            .routes(routes!(move_opportunity))
            .routes(routes!(opportunity_events))
            .routes(routes!(change_pipeline))
    }
}

/// Pipelines with their stages
#[utoipa::path(get, path = "/pipelines", responses((status = 200, body = Vec<Pipeline>)))]
async fn pipelines(c: Caller) -> Result<Json<Vec<Pipeline>>, AppError> {
    Ok(Json(c.ctx.dir.pipelines.clone()))
}

/// One pipeline with its stages
#[utoipa::path(get, path = "/pipelines/{id}", responses((status = 200, body = Pipeline)))]
async fn pipeline(c: Caller, Path(id): Path<i64>) -> Result<Json<Pipeline>, AppError> {
    Ok(Json(
        c.ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)?,
    ))
}

/// Create a pipeline from a template or from stages (admin)
#[utoipa::path(
    post,
    path = "/pipelines",
    request_body = ops::PipelineInput,
    responses((status = 201, body = Pipeline))
)]
async fn create_pipeline(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::PipelineInput>,
) -> Result<Response, AppError> {
    let p = ops::create_pipeline(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Rename, make default, archive or change the transition policy (admin)
#[utoipa::path(
    patch,
    path = "/pipelines/{id}",
    request_body = ops::PipelinePatch,
    responses((status = 200, body = Pipeline))
)]
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

/// Add a stage (admin)
#[utoipa::path(
    post,
    path = "/pipelines/{id}/stages",
    request_body = ops::NewStageInput,
    responses((status = 201, body = Pipeline))
)]
async fn add_stage(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<ops::NewStageInput>,
) -> Result<Response, AppError> {
    let p = ops::add_stage(&s.db, &c.ctx, id, body.value).await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Change a stage: names, probability, gate, standard actions, archive (admin)
#[utoipa::path(
    patch,
    path = "/pipelines/{id}/stages/{stage_id}",
    request_body = ops::StagePatch,
    responses((status = 200, body = Pipeline))
)]
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

/// Delete a stage no opportunity was ever in (admin; otherwise archive it)
#[utoipa::path(
    delete,
    path = "/pipelines/{id}/stages/{stage_id}",
    responses((status = 200, body = Pipeline))
)]
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

/// Reorder a pipeline's stages (admin)
#[utoipa::path(
    put,
    path = "/pipelines/{id}/stage-order",
    request_body = StageOrder,
    responses((status = 200, body = Pipeline))
)]
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

/// Move every opportunity of this pipeline into another, by a stage mapping (admin)
#[utoipa::path(
    post,
    path = "/pipelines/{id}/migrate",
    request_body = ops::MigrateInput,
    responses((status = 200, body = ops::Migrated))
)]
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

/// The shipped pipeline templates (b2b, transactional, tender)
#[utoipa::path(
    get,
    path = "/pipeline-templates",
    responses((status = 200, body = Vec<TemplateView>))
)]
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

/// The loss-reason taxonomy
#[utoipa::path(
    get,
    path = "/loss-reasons",
    responses((status = 200, body = Vec<shangji_core::process::LossReason>))
)]
async fn loss_reasons(c: Caller) -> Json<Vec<shangji_core::process::LossReason>> {
    Json(c.ctx.dir.loss_reasons.clone())
}

/// Add a loss reason (admin)
#[utoipa::path(
    post,
    path = "/loss-reasons",
    request_body = ops::LossReasonInput,
    responses((status = 201, body = shangji_core::process::LossReason))
)]
async fn create_loss_reason(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<ops::LossReasonInput>,
) -> Result<Response, AppError> {
    let r = ops::create_loss_reason(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// Rename, reorder or archive a loss reason (admin; the key never changes)
#[utoipa::path(
    patch,
    path = "/loss-reasons/{id}",
    request_body = ops::LossReasonInput,
    responses((status = 200, body = shangji_core::process::LossReason))
)]
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
    responses((status = 204, description = "read"))
)]
async fn read_notification(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    ops::mark_notification_read(&s.db, &c.ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Custom field definitions
#[utoipa::path(
    get,
    path = "/custom-fields",
    params(CustomFieldsQuery),
    responses((status = 200, body = Vec<CustomFieldDef>))
)]
async fn custom_fields(c: Caller, Query(p): Params) -> Result<Json<Vec<CustomFieldDef>>, AppError> {
    Ok(Json(ops::custom_fields(&c.ctx, &p)?))
}

/// One custom field
#[utoipa::path(
    get,
    path = "/custom-fields/{id}",
    responses((status = 200, body = CustomFieldDef))
)]
async fn custom_field(c: Caller, Path(id): Path<i64>) -> Result<Json<CustomFieldDef>, AppError> {
    Ok(Json(ops::custom_field(&c.ctx, id)?))
}

/// Define a custom field (admin)
#[utoipa::path(
    post,
    path = "/custom-fields",
    request_body = CustomFieldCreate,
    responses((status = 201, body = CustomFieldDef))
)]
async fn create_custom_field(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<CustomFieldInput>,
) -> Result<Response, AppError> {
    let def = ops::create_custom_field(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(def)).into_response())
}

/// Change a custom field (admin)
///
/// Key and record kind stay; a type change must keep every value; `rename_options` renames
/// stored values.
#[utoipa::path(
    patch,
    path = "/custom-fields/{id}",
    request_body = CustomFieldInput,
    responses((status = 200, body = CustomFieldDef))
)]
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

/// Archive a custom field (admin; its values are kept)
#[utoipa::path(
    delete,
    path = "/custom-fields/{id}",
    responses((status = 200, body = CustomFieldDef))
)]
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
    ($($name:ident => $file:tt, $path:tt, $summary:tt, [$($rows:tt)+];)*) => {$(
        #[utoipa::path(
            get,
            path = $path,
            summary = $summary,
            params(ReportQuery),
            responses((status = 200, content(
                (ops::Report<$($rows)+> = "application/json"),
                (String = CSV),
                (Spreadsheet = XLSX),
            )))
        )]
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

report! {
    funnel_report => "funnel", "/analytics/funnel",
        "Stage conversion by entry cohort, with each stage's baseline and the bottleneck",
        [Vec<shangji_core::report_extras::FunnelStage>];
    time_in_stage_report => "time-in-stage", "/analytics/time-in-stage",
        "Median, P75 and P90 hours in each stage",
        [Vec<shangji_core::analytics::StageTime>];
    win_rate_report => "win-rate", "/analytics/win-rate",
        "Win rate by count and by amount among deals closed in the period",
        [shangji_core::analytics::WinRate];
    waterfall_report => "waterfall", "/analytics/waterfall",
        "Open pipeline at the start, each kind of change, open pipeline at the end",
        [shangji_core::analytics::Waterfall];
    win_loss_report => "win-loss", "/analytics/win-loss",
        "Won and lost deals of the period: by loss reason, competitor, source and industry",
        [reports::WinLossReport];
    four_s_report => "4s", "/analytics/4s",
        "The 4S shape of the pipeline against `target_minor`",
        [ops::FourSReport];
    leaderboard_report => "leaderboard", "/analytics/leaderboard",
        "Reps ranked by what they won in the period",
        [Vec<shangji_core::analytics::LeaderRow>];
    forecast_report => "forecast", "/analytics/forecast",
        "Won, open and weighted amounts per period",
        [Vec<shangji_core::analytics::ForecastBucket>];
    monte_carlo_report => "monte-carlo", "/analytics/monte-carlo",
        "P10 / P50 / P90 of each period's won amount, simulated",
        [Vec<shangji_core::analytics::SimulatedBucket>];
    calibration_report => "calibration", "/analytics/calibration",
        "P(won | reached stage) with a 95% Wilson interval beside the configured probability",
        [Vec<shangji_core::analytics::Calibration>];
    sources_report => "sources", "/analytics/sources",
        "Leads, converted, opportunities and won by source channel",
        [Vec<shangji_core::report_extras::SourceRow>];
    time_in_stage_trend_report => "time-in-stage-trend", "/analytics/time-in-stage-trend",
        "Median, P75 and P90 hours in each stage for each of 12 months",
        [Vec<shangji_core::report_extras::MonthTimes>];
    sales_cycle_report => "sales-cycle", "/analytics/sales-cycle",
        "Median, P75 and P90 days from creation to won, deals won in the period",
        [shangji_core::report_extras::CycleLength];
}

/// Users
#[utoipa::path(get, path = "/users", responses((status = 200, body = Vec<User>)))]
async fn users(State(s): State<AppState>, _c: Caller) -> Result<Json<Vec<User>>, AppError> {
    Ok(Json(s.db.users().await?))
}

/// One user
#[utoipa::path(get, path = "/users/{id}", responses((status = 200, body = User)))]
async fn user(
    State(s): State<AppState>,
    _c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<User>, AppError> {
    Ok(Json(s.db.user(id).await?.ok_or(AppError::NotFound)?))
}

/// The calling user
#[utoipa::path(get, path = "/users/me", responses((status = 200, body = User)))]
async fn me(c: Caller) -> Json<User> {
    Json(c.user)
}

/// Create a user (admin)
#[utoipa::path(
    post,
    path = "/users",
    request_body = UserCreate,
    responses((status = 201, body = User))
)]
async fn create_user(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<UserInput>,
) -> Result<Response, AppError> {
    let user = ops::create_user(&s.db, Some(&c.ctx), body.value, c.ctx.now).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Change a user (admin, or oneself for name, contact details, language, password)
#[utoipa::path(
    patch,
    path = "/users/{id}",
    request_body = UserInput,
    responses((status = 200, body = User))
)]
async fn update_user(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<UserInput>,
) -> Result<Json<User>, AppError> {
    Ok(Json(ops::update_user(&s.db, &c.ctx, id, body.value).await?))
}

/// Teams (a tree by parent_id)
#[utoipa::path(get, path = "/teams", responses((status = 200, body = Vec<Team>)))]
async fn teams(State(s): State<AppState>, _c: Caller) -> Result<Json<Vec<Team>>, AppError> {
    Ok(Json(s.db.teams().await?))
}

/// One team
#[utoipa::path(get, path = "/teams/{id}", responses((status = 200, body = Team)))]
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

/// Create a team (admin)
#[utoipa::path(
    post,
    path = "/teams",
    request_body = TeamCreate,
    responses((status = 201, body = Team))
)]
async fn create_team(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<TeamInput>,
) -> Result<Response, AppError> {
    let team = ops::create_team(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(team)).into_response())
}

/// Change a team (admin)
#[utoipa::path(
    patch,
    path = "/teams/{id}",
    request_body = TeamInput,
    responses((status = 200, body = Team))
)]
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

/// The caller's API tokens
#[utoipa::path(get, path = "/tokens", responses((status = 200, body = Vec<ApiToken>)))]
async fn tokens(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<ApiToken>>, AppError> {
    Ok(Json(s.db.tokens(c.user.id).await?))
}

/// Create an API token (the secret is returned once)
#[utoipa::path(
    post,
    path = "/tokens",
    request_body = TokenInput,
    responses((status = 201, body = NewToken))
)]
async fn create_token(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<TokenInput>,
) -> Result<Response, AppError> {
    let name = body.value.name.unwrap_or_default();
    let (token, id) = ops::create_token(&s.db, c.user.id, &name, c.ctx.now).await?;
    Ok((StatusCode::CREATED, Json(NewToken { id, token })).into_response())
}

/// Revoke an API token
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    responses((status = 204, description = "revoked"))
)]
async fn revoke_token(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    s.db.revoke_token(c.user.id, id, c.ctx.now).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This document
#[utoipa::path(
    get,
    path = "/openapi.json",
    security(()),
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object))
)]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document().clone())
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// The API's route table: every route with its documentation, one table per capability.
/// The router is built from it, and so is the OpenAPI document (`openapi::document`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(accounts::routes())
        .merge(contacts::routes())
        .merge(leads::routes())
        .merge(activities::routes())
        .merge(tasks::routes())
        .merge(opportunities::routes())
        .merge(records::routes())
        .routes(routes!(pipelines, create_pipeline))
        .routes(routes!(pipeline, update_pipeline))
        .routes(routes!(add_stage))
        .routes(routes!(update_stage, delete_stage))
        .routes(routes!(reorder_stages))
        .routes(routes!(migrate_pipeline))
        .routes(routes!(pipeline_templates))
        .routes(routes!(loss_reasons, create_loss_reason))
        .routes(routes!(update_loss_reason))
        .routes(routes!(approvals))
        .routes(routes!(approval))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(withdraw))
        .routes(routes!(approval_policies, create_approval_policy))
        .routes(routes!(replace_approval_policy))
        .routes(routes!(funnel_report))
        .routes(routes!(time_in_stage_report))
        .routes(routes!(win_rate_report))
        .routes(routes!(waterfall_report))
        .routes(routes!(win_loss_report))
        .routes(routes!(leaderboard_report))
        .routes(routes!(four_s_report))
        .routes(routes!(forecast_report))
        .routes(routes!(monte_carlo_report))
        .routes(routes!(calibration_report))
        .routes(routes!(sources_report))
        .routes(routes!(time_in_stage_trend_report))
        .routes(routes!(sales_cycle_report))
        .routes(routes!(notifications))
        .routes(routes!(read_notification))
        .routes(routes!(custom_fields, create_custom_field))
        .routes(routes!(
            custom_field,
            update_custom_field,
            archive_custom_field
        ))
        .routes(routes!(users, create_user))
        .routes(routes!(me))
        .routes(routes!(user, update_user))
        .routes(routes!(teams, create_team))
        .routes(routes!(team, update_team))
        .routes(routes!(tokens, create_token))
        .routes(routes!(revoke_token))
        .merge(lists::routes())
        .merge(forecast::routes())
        .merge(snapshots::routes())
        .merge(review::routes())
        .merge(delivery::routes())
        .merge(automation::routes())
        .merge(assignment::routes())
        .routes(routes!(openapi))
}

/// The API's router: the route table, and the JSON 404 for any other path.
pub fn router() -> Router<AppState> {
    Router::from(routes()).fallback(not_found)
}
