//! Who is calling: API tokens (Bearer) and sign-in sessions (cookie + CSRF token). The token
//! secrets come from `ops::directory`, the client's address from `client`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use axum_extra::extract::CookieJar;
use shangji_core::model::User;
use shangji_store::Authenticated;

use crate::error::AppError;
use crate::ops::directory::digest;
use crate::ops::Ctx;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "sj_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_DAYS: i64 = 14;

/// The caller of a request, with their context for operations.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub ctx: Ctx,
    /// The CSRF token of the caller's session; `None` for API tokens.
    pub csrf: Option<String>,
}

/// A signed-in session's user and CSRF token, if the request carries a live session.
pub async fn session_user(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Option<Authenticated>, AppError> {
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .db
        .session(&digest(cookie.value()), state.now())
        .await?)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = state.now();
        if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = h
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(AppError::Unauthorized)?;
            let who = state
                .db
                .user_by_token(&digest(token.trim()))
                .await?
                .ok_or(AppError::Unauthorized)?;
            let lang = crate::i18n::choose(who.user.language, &parts.headers);
            let mut ctx = Ctx::for_user(&state.db, &who, now, lang).await?;
            ctx.address = Some(client_addr(parts));
            return Ok(Caller {
                user: who.user,
                ctx,
                csrf: None,
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let who = session_user(state, &jar)
            .await?
            .ok_or(AppError::Unauthorized)?;
        // A browser session may change things only with its CSRF token.
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent.is_none() || sent != who.csrf.as_deref() {
                return Err(AppError::Forbidden("csrf_token_invalid"));
            }
        }
        let lang = crate::i18n::choose(who.user.language, &parts.headers);
        let mut ctx = Ctx::for_user(&state.db, &who, now, lang).await?;
        ctx.address = Some(client_addr(parts));
        Ok(Caller {
            user: who.user,
            ctx,
            csrf: who.csrf,
        })
    }
}

/// The client address of a request, as `client` found it behind the trusted proxies
/// ("unknown" when the server does not know it).
pub fn client_addr(parts: &Parts) -> String {
    crate::client::of_parts(parts).address()
}
