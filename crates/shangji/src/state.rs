//! What every request handler shares.

use std::sync::{Arc, RwLock};

use shangji_store::Db;
use time::OffsetDateTime;

use crate::limiter::RateLimiter;

/// The application's clock: the system clock, unless it was set (tests set it to run the
/// scheduler and requests at chosen instants).
#[derive(Clone, Debug, Default)]
pub struct Clock(Arc<RwLock<Option<OffsetDateTime>>>);

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        self.0
            .read()
            .ok()
            .and_then(|t| *t)
            .unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// Sets the instant `now` answers (`None`: the system clock again).
    pub fn set(&self, at: Option<OffsetDateTime>) {
        if let Ok(mut t) = self.0.write() {
            *t = at;
        }
    }
}

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
