//! The audit log over the API (admins): its entries, newest first, filtered.

use axum::extract::{Query, State};
use axum::Json;
use shangji_core::audit::{AuditEntry, AuditFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::audit;
use crate::state::AppState;

/// The audit log: sign-ins, exports, backups, imports, merges, handovers, users, tokens and
/// settings changes — who, when, from where, what (admins). Page back with `before_id`.
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "list_audit",
    params(AuditFilter),
    responses((status = 200, body = Vec<AuditEntry>))
)]
async fn list(
    State(s): State<AppState>,
    c: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    Ok(Json(audit::list(&s.db, &c.ctx, &filter).await?))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
