//! Handovers over the API: preview (`dry_run`) or run a leaving user's handover, list them,
//! read one with its report, resume one that was interrupted.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use shangji_core::handover::{Handover, HandoverInput};
use shangji_core::model::UserId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::JsonBody;
use crate::auth::Caller;
use crate::error::AppError;
use crate::ops::handover::{self, HandoverOutcome, HandoverReport};
use crate::state::AppState;

/// Preview (`dry_run: true`: counts per receiver and kind, nothing moves) or run a handover:
/// the leaver's accounts with their contacts, open deals, open leads and open tasks go to
/// the receivers (split by account, by turns or to the least loaded); pending approvals,
/// named approver places and assignment rule memberships go to the first receiver; won and
/// lost deals stay. Admins hand over anyone; managers the reps of their teams
#[utoipa::path(
    post,
    path = "/handovers",
    operation_id = "hand_over",
    request_body = HandoverInput,
    responses((status = 200, body = HandoverOutcome))
)]
async fn create(
    State(s): State<AppState>,
    c: Caller,
    body: JsonBody<HandoverInput>,
) -> Result<Json<HandoverOutcome>, AppError> {
    Ok(Json(handover::hand_over(&s.db, &c.ctx, body.value).await?))
}

/// Whose handovers to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Of {
    /// Only the handovers of this leaver.
    from_user_id: Option<UserId>,
}

/// The latest 200 handovers of users the caller may hand over, newest first
#[utoipa::path(
    get,
    path = "/handovers",
    operation_id = "list_handovers",
    params(Of),
    responses((status = 200, body = Vec<Handover>))
)]
async fn list(
    State(s): State<AppState>,
    c: Caller,
    Query(q): Query<Of>,
) -> Result<Json<Vec<Handover>>, AppError> {
    Ok(Json(handover::list(&s.db, &c.ctx, q.from_user_id).await?))
}

/// A handover: its status and counts, and its report — per receiver the inherited deals and
/// how many were followed up since, and the deals themselves
#[utoipa::path(
    get,
    path = "/handovers/{id}",
    operation_id = "get_handover",
    responses((status = 200, body = HandoverReport))
)]
async fn get(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<HandoverReport>, AppError> {
    Ok(Json(handover::report(&s.db, &c.ctx, id).await?))
}

/// Resume an interrupted handover: what the leaver still holds moves now (a finished one is
/// returned unchanged)
#[utoipa::path(
    post,
    path = "/handovers/{id}/resume",
    operation_id = "resume_handover",
    responses((status = 200, body = Handover))
)]
async fn resume(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Handover>, AppError> {
    Ok(Json(handover::resume(&s.db, &c.ctx, id).await?))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(resume))
}
