//! The application's one error type.
//!
//! Policy: the caller's mistakes are 4xx with a stable snake_case `code`, an English
//! `message` and, where one field is at fault, its name in `field`; pages translate the code.
//! Our own failures are 500 with a generic message; their cause goes to the log only.
//! Nothing is written when an error is returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use shangji_core::duplicates::DuplicateMatch;
use shangji_core::model::Language;
use shangji_core::process::{PolicyError, Unmet, UnmetCode};
use shangji_core::{FieldError, MoveError};
use shangji_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request could not be read (malformed JSON, unknown parameter…): 400.
    #[error("{0}")]
    BadRequest(FieldError),
    /// The request was read but a value is not acceptable: 422.
    #[error("{0}")]
    Invalid(FieldError),
    /// Several values are not acceptable (a rule refused with every mistake): 422 with the
    /// first as `code`/`field` and all of them in `errors`.
    #[error("{0:?}")]
    InvalidMany(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("version conflict")]
    Conflict { current_version: i64 },
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("too many attempts")]
    RateLimited,
    /// A stage move that now waits for approval: 202 with the request.
    #[error("the move waits for approval")]
    AwaitingApproval(Box<shangji_core::approval::ApprovalRequest>),
    /// A stage move whose requirements are not met: 422 listing every one, in `lang`.
    #[error("requirements of the stage are not met")]
    Unmet { missing: Vec<Unmet>, lang: Language },
    /// The record matches others: refused (`blocked`), or saved only once the caller says so
    /// (`allow_duplicate`).
    #[error("duplicate")]
    Duplicate {
        matches: Vec<DuplicateMatch>,
        blocked: bool,
    },
    /// A request refused with a status of its own (405 a method the address does not take,
    /// 413 a body too large, 415 a body not JSON): the status and the error.
    #[error("{1}")]
    Refused(StatusCode, FieldError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid(FieldError::new(field, code, message))
    }
    pub fn bad_request(field: &str, code: &str, message: impl Into<String>) -> AppError {
        AppError::BadRequest(FieldError::new(field, code, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Invalid(_) | AppError::InvalidMany(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } | AppError::Duplicate { .. } => StatusCode::CONFLICT,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unmet { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::AwaitingApproval(_) => StatusCode::ACCEPTED,
            AppError::Refused(status, _) => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body sent to API clients.
    pub fn body(&self) -> ErrorBody {
        let (code, message, field) = match self {
            AppError::BadRequest(f) | AppError::Invalid(f) | AppError::Refused(_, f) => {
                (f.code.clone(), f.message.clone(), Some(f.field.clone()))
            }
            AppError::InvalidMany(list) => match list.first() {
                Some(f) => (f.code.clone(), f.message.clone(), Some(f.field.clone())),
                None => ("invalid".into(), "invalid".into(), None),
            },
            AppError::NotFound => ("not_found".into(), "no such record".into(), None),
            AppError::Conflict { current_version } => (
                "version_conflict".into(),
                format!(
                    "the record was changed by someone else; current version is {current_version}"
                ),
                Some("version".into()),
            ),
            AppError::Unauthorized => (
                "unauthorized".into(),
                "sign in or send a valid API token".into(),
                None,
            ),
            AppError::Forbidden(code) => ((*code).into(), "you may not do this".into(), None),
            AppError::RateLimited => (
                "too_many_attempts".into(),
                "too many failed attempts; try again later".into(),
                None,
            ),
            AppError::Unmet { lang, .. } => (
                "gate_unmet".into(),
                match lang {
                    Language::ZhCn => "未满足进入该阶段的条件".into(),
                    Language::En => "the requirements of the stage are not met".into(),
                },
                None,
            ),
            AppError::Duplicate { blocked: true, .. } => (
                "duplicate_record".into(),
                "the record matches another one; it cannot be saved twice".into(),
                None,
            ),
            AppError::Duplicate { blocked: false, .. } => (
                "possible_duplicate".into(),
                "the record looks like another one; send allow_duplicate: true to save it anyway"
                    .into(),
                None,
            ),
            AppError::AwaitingApproval(_) => (
                "approval_requested".into(),
                "the move waits for approval; the opportunity stays where it is".into(),
                None,
            ),
            AppError::Internal(_) => (
                "internal_error".into(),
                "something went wrong on our side".into(),
                None,
            ),
        };
        ErrorBody {
            code,
            message,
            field: field.filter(|f| !f.is_empty()),
            current_version: match self {
                AppError::Conflict { current_version } => Some(*current_version),
                _ => None,
            },
            approval: match self {
                AppError::AwaitingApproval(req) => Some(req.clone()),
                _ => None,
            },
            missing: match self {
                AppError::Unmet { missing, lang } => Some(
                    missing
                        .iter()
                        .map(|u| MissingItem {
                            code: u.code,
                            field: u.field.clone(),
                            message: u.message(*lang),
                            label: match lang {
                                Language::ZhCn => u.label_zh.clone(),
                                Language::En => u.label_en.clone(),
                            },
                        })
                        .collect(),
                ),
                _ => None,
            },
            errors: match self {
                AppError::InvalidMany(list) => Some(list.clone()),
                _ => None,
            },
            matches: match self {
                AppError::Duplicate { matches, .. } => Some(matches.clone()),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// A move that waits for approval: the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Box<shangji_core::approval::ApprovalRequest>>,
    /// A refused stage move: everything still missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingItem>>,
    /// Every mistake, each with its field path and code (a refused rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<FieldError>>,
    /// A record that matches others (`duplicate_record`, `possible_duplicate`): what it
    /// matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<DuplicateMatch>>,
}

/// One unmet requirement of a stage move.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MissingItem {
    pub code: UnmetCode,
    /// `amount_minor`, `custom.<key>`, `checklist.<key>`, `actions.<key>`, `loss_reason`.
    pub field: String,
    /// In the caller's language.
    pub message: String,
    pub label: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict { current_version } => AppError::Conflict { current_version },
            StoreError::Duplicate(what) => {
                AppError::invalid("", "duplicate", format!("{what} already exists"))
            }
            StoreError::BrokenReference(what) => AppError::invalid(
                "",
                "unknown_reference",
                format!("a referenced record does not exist ({what})"),
            ),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(e)
    }
}

impl AppError {
    /// A refused move, with unmet requirements worded in `lang`.
    pub fn from_move(e: MoveError, lang: Language) -> AppError {
        match e {
            MoveError::UnknownStage(id) => AppError::invalid(
                "stage_id",
                "unknown_stage",
                format!("stage {id} is not in this opportunity's pipeline"),
            ),
            MoveError::ArchivedStage(id) => AppError::invalid(
                "stage_id",
                "archived_stage",
                format!("stage {id} is archived"),
            ),
            MoveError::SameStage => AppError::invalid(
                "stage_id",
                "same_stage",
                "the opportunity is already in this stage",
            ),
            MoveError::Archived => AppError::invalid("", "archived", "the opportunity is archived"),
            MoveError::Invalid(f) => AppError::Invalid(f),
            MoveError::Policy(PolicyError::SkipNotAllowed) => AppError::invalid(
                "stage_id",
                "skip_not_allowed",
                "this pipeline does not allow skipping stages",
            ),
            MoveError::Policy(PolicyError::BackwardNotAllowed) => AppError::invalid(
                "stage_id",
                "backward_not_allowed",
                "this pipeline does not allow moving back",
            ),
            MoveError::Policy(PolicyError::RoleNotAllowed) => {
                AppError::Forbidden("stage_role_forbidden")
            }
            MoveError::Policy(PolicyError::ReopenNotAllowed) => {
                AppError::Forbidden("reopen_forbidden")
            }
            MoveError::Gate(missing) => AppError::Unmet { missing, lang },
            MoveError::ApprovalRequired { .. } => AppError::invalid(
                "stage_id",
                "approval_required",
                "entering this stage needs an approval",
            ),
        }
    }
}

/// The framework's own refusal of an API request — `status` with the plain `text` it wrote
/// (or none) — as our error: a path part that cannot be read (`/opportunities/abc`) is not
/// found, a query string that cannot be read a 400 naming the parameter where the framework
/// names it, and 405, 413, 415 keep their status.
pub fn from_rejection(status: StatusCode, text: &str) -> AppError {
    let text = text.trim();
    if status == StatusCode::NOT_FOUND || text.starts_with("Invalid URL") {
        return AppError::NotFound;
    }
    if let Some(rest) = text.strip_prefix("Failed to deserialize query string: ") {
        let field = rest
            .split_once(": ")
            .map(|(f, _)| f)
            .filter(|f| {
                !f.is_empty()
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
            })
            .unwrap_or("");
        return AppError::bad_request(
            field,
            "invalid_parameter",
            format!("the query string cannot be read: {rest}"),
        );
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this address does not take this method".to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            format!("the body is larger than {} bytes", crate::api::MAX_BODY),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json".to_string(),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_value", text.to_string()),
        s if s.is_server_error() => return AppError::Internal(format!("{s}: {text}")),
        _ if text.is_empty() => ("invalid_request", "the request could not be read".into()),
        _ => ("invalid_request", text.to_string()),
    };
    AppError::Refused(status, FieldError::new("", code, message))
}

/// Whether a response is the framework's own plain-text refusal (a path part that is not a
/// number, a body it cannot read), which the pages and the API answer in their own form.
pub fn is_framework_rejection(resp: &Response) -> bool {
    resp.status().is_client_error()
        && resp
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/plain"))
}
