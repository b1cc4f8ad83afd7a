//! JSON REST API v1. Handlers are thin: extract, call one `ops` function, respond.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shangji_core::model::*;
use shangji_core::records::{AccountInput, ActivityInput, ContactInput, LeadInput, TaskInput};
use shangji_store::Page;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{
    AccountCreate, ActivityCreate, ColumnsQuery, ContactCreate, LeadCreate, ListQuery, Spreadsheet,
    TaskCreate, CSV, XLSX,
};
use crate::ops::{self, Created, Idempotency, Record, Resource};
use crate::state::AppState;

mod analytics;
mod approvals;
mod assignment;
mod audit;
mod automation;
mod backups;
mod custom_fields;
pub mod delivery;
mod directory;
mod duplicates;
mod forecast;
mod handover;
mod import;
pub mod lists;
mod merge;
mod pipelines;
mod records;
mod review;
mod scoring;
mod snapshots;
mod web_forms;

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
            return Err(AppError::Refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                shangji_core::FieldError::new(
                    "Content-Type",
                    "unsupported_media_type",
                    "send the body as application/json",
                ),
            ));
        }
        let raw = Bytes::from_request(req, state)
            .await
            .map_err(|e| crate::error::from_rejection(e.status(), &e.body_text()))?;
        let value = parse_json(&raw)?;
        refuse_control_characters(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

/// A body whose texts hold control characters — NUL, escape, … (line breaks and tabs aside,
/// which multi-line texts keep) — is refused naming the first such field: the fields each
/// operation checks refuse them too (`input::text`), this guards every other text of a body
/// (a rule's condition, a form's label) alike. Only a body with a `\u00…` escape is looked
/// into: JSON carries no raw control characters.
fn refuse_control_characters(raw: &[u8]) -> Result<(), AppError> {
    if !raw.windows(4).any(|w| w == b"\\u00") {
        return Ok(());
    }
    fn bad(s: &str) -> bool {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    }
    fn find(v: &serde_json::Value, path: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) if bad(s) => Some(path.to_string()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| find(x, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if bad(k) {
                    Some(at)
                } else {
                    find(x, &at)
                }
            }),
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
        AppError::bad_request(
            "",
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    match find(&value, "") {
        Some(field) => Err(AppError::invalid(
            &field,
            "invalid_characters",
            format!("{field} contains control characters"),
        )),
        None => Ok(()),
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

// After the record macros, which it uses.
mod opportunities;

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
        .merge(pipelines::routes())
        .merge(approvals::routes())
        .merge(analytics::routes())
        .merge(custom_fields::routes())
        .merge(web_forms::routes())
        .merge(scoring::routes())
        .merge(merge::routes())
        .merge(handover::routes())
        .merge(directory::routes())
        .merge(duplicates::routes())
        .merge(lists::routes())
        .merge(forecast::routes())
        .merge(import::routes())
        .merge(snapshots::routes())
        .merge(review::routes())
        .merge(delivery::routes())
        .merge(automation::routes())
        .merge(assignment::routes())
        .merge(backups::routes())
        .merge(audit::routes())
        .routes(routes!(openapi))
}

/// The API's router: the route table, and the JSON 404 for any other path.
pub fn router() -> Router<AppState> {
    Router::from(routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(plain_rejections))
}

/// What the framework itself answers without our JSON (a path part that is not a number, a
/// query string or body it cannot read, a method the address does not take — in plain text
/// or with no body at all) as our JSON error (`error::from_rejection`).
async fn plain_rejections(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    crate::error::from_rejection(status, &text).into_response()
}
