//! What every request handler shares.

use std::sync::Arc;

use shangji_store::Db;
use time::OffsetDateTime;

use crate::auth::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub limiter: Arc<RateLimiter>,
    /// Send the session cookie with `Secure` (behind HTTPS).
    pub secure_cookies: bool,
}

impl AppState {
    pub fn new(db: Db, secure_cookies: bool) -> AppState {
        AppState {
            db,
            limiter: Arc::new(RateLimiter::default()),
            secure_cookies,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
