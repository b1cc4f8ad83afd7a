//! What every request handler shares.

use std::sync::Arc;

use shangji_store::Db;
use time::OffsetDateTime;

pub use crate::clock::Clock;
use crate::limiter::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub limiter: Arc<RateLimiter>,
    /// Send the session cookie with `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    pub clock: Clock,
}

impl AppState {
    pub fn new(db: Db, secure_cookies: bool) -> AppState {
        AppState {
            db,
            limiter: Arc::new(RateLimiter::default()),
            secure_cookies,
            clock: Clock::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
