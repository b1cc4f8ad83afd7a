//! Web-to-lead forms over the API: the forms and their submission logs (admin), and the
//! inbound endpoint other systems (the website's back end, a 400 phone system, an exhibition
//! app) post leads to with the form's secret.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use shangji_core::web_forms::{Submission, SubmissionVia, WebForm, WebFormInput};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{parse_json, JsonBody};
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::web_forms::{self, Incoming, Outcome, WebFormView, WithSecret};
use crate::state::AppState;

/// The header that carries a form's secret to the inbound endpoint.
pub const SECRET_HEADER: &str = "x-form-secret";

/// Every web-to-lead form with its accepted and refused submissions (admin)
#[utoipa::path(
    get,
    path = "/web-forms",
    operation_id = "list_web_forms",
    responses((status = 200, body = Vec<WebFormView>))
)]
async fn list(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<WebFormView>>, AppError> {
    Ok(Json(web_forms::list(&s.db, &c.ctx).await?))
}

/// Create a form (admin); the answer carries its inbound secret, told only here
#[utoipa::path(
    post,
    path = "/web-forms",
    operation_id = "create_web_form",
    request_body = WebFormInput,
    responses((status = 201, body = WithSecret))
)]
async fn create(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<WebFormInput>,
) -> Result<Response, AppError> {
    let form = web_forms::create(&s.db, &c.ctx, body.value).await?;
    Ok((StatusCode::CREATED, Json(form)).into_response())
}

/// A form (admin)
#[utoipa::path(
    get,
    path = "/web-forms/{id}",
    operation_id = "get_web_form",
    responses((status = 200, body = WebForm))
)]
async fn one(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<WebForm>, AppError> {
    Ok(Json(web_forms::get(&s.db, &c.ctx, id).await?))
}

/// Replace a form; a stale version is a conflict (admin)
#[utoipa::path(
    put,
    path = "/web-forms/{id}",
    operation_id = "replace_web_form",
    request_body = WebFormInput,
    responses((status = 200, body = WebForm))
)]
async fn replace(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
    body: JsonBody<WebFormInput>,
) -> Result<Json<WebForm>, AppError> {
    Ok(Json(
        web_forms::update(&s.db, &c.ctx, id, body.value).await?,
    ))
}

/// Archive a form: it takes no more submissions (admin)
#[utoipa::path(
    post,
    path = "/web-forms/{id}/archive",
    operation_id = "archive_web_form",
    responses((status = 200, body = WebForm))
)]
async fn archive(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<WebForm>, AppError> {
    Ok(Json(
        web_forms::set_archived(&s.db, &c.ctx, id, true).await?,
    ))
}

/// Restore an archived form (admin)
#[utoipa::path(
    post,
    path = "/web-forms/{id}/restore",
    operation_id = "restore_web_form",
    responses((status = 200, body = WebForm))
)]
async fn restore(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<WebForm>, AppError> {
    Ok(Json(
        web_forms::set_archived(&s.db, &c.ctx, id, false).await?,
    ))
}

/// Replace a form's inbound secret; the old one stops working at once (admin)
#[utoipa::path(
    post,
    path = "/web-forms/{id}/secret",
    operation_id = "rotate_web_form_secret",
    responses((status = 200, body = WithSecret))
)]
async fn rotate(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<WithSecret>, AppError> {
    Ok(Json(web_forms::rotate_secret(&s.db, &c.ctx, id).await?))
}

/// A form's latest 200 submissions, refused ones included, newest first (admin)
#[utoipa::path(
    get,
    path = "/web-forms/{id}/submissions",
    operation_id = "list_web_form_submissions",
    responses((status = 200, body = Vec<Submission>))
)]
async fn log(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Submission>>, AppError> {
    Ok(Json(web_forms::submissions(&s.db, &c.ctx, id).await?))
}

/// What the inbound endpoint answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Taken {
    /// The lead made; `null` when a duplicate the settings block was kept in the log instead.
    lead_id: Option<i64>,
}

/// Post a lead to a form from another system: a JSON object of the form's field names (and
/// `utm_*`, `referrer`) to values, with the form's secret in `X-Form-Secret`. Goes through
/// the form's mapping, the lead rules, routing and scoring like a visitor's submission; the
/// per-form rate limit applies
#[utoipa::path(
    post,
    path = "/inbound/forms/{slug}",
    operation_id = "post_inbound_lead",
    security(()),
    params(("X-Form-Secret" = String, Header, description = "the form's secret")),
    request_body(content = Object, description = "field name → value"),
    responses(
        (status = 201, body = Taken),
        (status = 401, description = "missing or wrong secret"),
        (status = 422, description = "a value is not acceptable; `field` is the form's field name"),
        (status = 429, description = "the form's rate limit is reached")
    )
)]
async fn inbound(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, AppError> {
    let (parts, body) = req.into_parts();
    let raw = axum::body::to_bytes(body, super::MAX_BODY)
        .await
        .map_err(|_| AppError::bad_request("", "body_too_large", "the body is too large"))?;
    let body: serde_json::Map<String, serde_json::Value> = parse_json(&raw)?;
    let mut values = BTreeMap::new();
    for (k, v) in body {
        let text = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => continue,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => v.to_string(),
            _ => {
                return Err(AppError::invalid(
                    &k,
                    "not_text",
                    format!("{k} must be a string, a number or a boolean"),
                ))
            }
        };
        values.insert(k, text);
    }
    let incoming = Incoming {
        via: SubmissionVia::Inbound,
        address: crate::auth::client_addr(&parts),
        values,
        token: None,
        secret: parts
            .headers
            .get(SECRET_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string()),
        bytes: raw.len(),
    };
    match web_forms::submit(&s.db, s.now(), &slug, incoming).await?.1 {
        Outcome::Accepted { lead_id } => {
            Ok((StatusCode::CREATED, Json(Taken { lead_id })).into_response())
        }
        Outcome::Invalid(errors) => Err(AppError::InvalidMany(errors)),
        Outcome::RateLimited => Err(AppError::RateLimited),
        Outcome::Closed => Err(AppError::Forbidden("form_closed")),
    }
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, replace))
        .routes(routes!(archive))
        .routes(routes!(restore))
        .routes(routes!(rotate))
        .routes(routes!(log))
        .routes(routes!(inbound))
}
