//! The directory: users, teams and API tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shangji_core::model::*;
use shangji_core::records::{TeamInput, UserInput};
use shangji_store::ApiToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::{TeamCreate, UserCreate};
use crate::ops::directory::UserEntry;
use crate::ops::{self};
use crate::state::AppState;

use super::*;

/// Users (contact details, leave and language only of oneself, the people one manages, or
/// everyone for admins)
#[utoipa::path(get, path = "/users", responses((status = 200, body = Vec<UserEntry>)))]
async fn users(State(s): State<AppState>, c: Caller) -> Result<Json<Vec<UserEntry>>, AppError> {
    Ok(Json(ops::directory::users(&s.db, &c.ctx).await?))
}

/// One user (contact details, leave and language only of oneself, the people one manages,
/// or anyone for admins)
#[utoipa::path(get, path = "/users/{id}", responses((status = 200, body = UserEntry)))]
async fn user(
    State(s): State<AppState>,
    c: Caller,
    Path(id): Path<i64>,
) -> Result<Json<UserEntry>, AppError> {
    Ok(Json(ops::directory::user(&s.db, &c.ctx, id).await?))
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

/// Change a user (admin, or oneself for name, contact details, language, and password with
/// `current_password`; an admin setting another user's password revokes their API tokens and
/// ends their sessions)
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
    let (token, id) = ops::create_token(&s.db, Some(&c.ctx), c.user.id, &name, c.ctx.now).await?;
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
    ops::directory::revoke_token(&s.db, &c.ctx, c.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users, create_user))
        .routes(routes!(me))
        .routes(routes!(user, update_user))
        .routes(routes!(teams, create_team))
        .routes(routes!(team, update_team))
        .routes(routes!(tokens, create_token))
        .routes(routes!(revoke_token))
}
