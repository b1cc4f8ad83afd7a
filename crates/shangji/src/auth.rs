//! Who is calling: API tokens (Bearer), sign-in sessions (cookie + CSRF token), and the
//! sign-in rate limiter.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::Method;
use axum_extra::extract::CookieJar;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shangji_core::model::User;
use shangji_store::Authenticated;

use crate::error::AppError;
use crate::ops::Ctx;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "sj_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_DAYS: i64 = 14;

/// A random secret with a prefix: 32 bytes, URL-safe base64.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Secrets are stored as their SHA-256 digest only.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

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
            let ctx = Ctx::for_user(&state.db, &who, now, lang).await?;
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
        let ctx = Ctx::for_user(&state.db, &who, now, lang).await?;
        Ok(Caller {
            user: who.user,
            ctx,
            csrf: who.csrf,
        })
    }
}

/// The client address of a request, when the server knows it.
pub fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Failed sign-ins per account and per address in a sliding window. Kept in memory: each
/// instance limits on its own, which bounds guessing to limit × instances.
#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    per_account: usize,
    per_address: usize,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

impl RateLimiter {
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> RateLimiter {
        RateLimiter {
            window,
            per_account,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(login: &str, addr: &str) -> [String; 2] {
        [
            format!("login:{}", login.trim().to_lowercase()),
            format!("addr:{addr}"),
        ]
    }

    /// Whether another attempt is allowed now.
    pub fn allowed(&self, login: &str, addr: &str, now: Instant) -> bool {
        let mut map = self.failures.lock().expect("rate limiter lock");
        let [account, address] = Self::keys(login, addr);
        let mut recent = |k: &str| {
            map.get_mut(k)
                .map(|v| {
                    v.retain(|t| now.duration_since(*t) < self.window);
                    v.len()
                })
                .unwrap_or(0)
        };
        recent(&account) < self.per_account && recent(&address) < self.per_address
    }

    pub fn failed(&self, login: &str, addr: &str, now: Instant) {
        let mut map = self.failures.lock().expect("rate limiter lock");
        if map.len() > 100_000 {
            map.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < self.window));
        }
        for k in Self::keys(login, addr) {
            map.entry(k).or_default().push(now);
        }
    }

    pub fn succeeded(&self, login: &str) {
        let [account, _] = Self::keys(login, "");
        self.failures
            .lock()
            .expect("rate limiter lock")
            .remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_per_address_within_the_window() {
        let l = RateLimiter::new(Duration::from_secs(60), 3, 5);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.allowed("wang", "1.2.3.4", t0));
            l.failed("wang", "1.2.3.4", t0);
        }
        assert!(
            !l.allowed("WANG", "5.6.7.8", t0),
            "per account, whatever the address"
        );
        assert!(l.allowed("li", "1.2.3.4", t0));
        l.failed("li", "1.2.3.4", t0);
        l.failed("zhao", "1.2.3.4", t0);
        assert!(
            !l.allowed("sun", "1.2.3.4", t0),
            "per address, whatever the account"
        );
        let later = t0 + Duration::from_secs(61);
        assert!(l.allowed("wang", "1.2.3.4", later), "the window slides");
        l.failed("li", "9.9.9.9", later);
        l.succeeded("li");
        assert!(l.allowed("li", "9.9.9.9", later));
    }

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let a = random_token("sj_");
        let b = random_token("sj_");
        assert_ne!(a, b);
        assert!(a.starts_with("sj_") && a.len() > 40);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), a);
    }
}
