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
    /// Where backups go and how many are kept (none: "back up now" is refused; `serve` sets
    /// it from the configuration).
    pub backups: Option<Arc<crate::ops::backups::Settings>>,
}

impl AppState {
    pub fn new(db: Db, secure_cookies: bool) -> AppState {
        AppState {
            db,
            limiter: Arc::new(RateLimiter::default()),
            secure_cookies,
            clock: Clock::default(),
            backups: None,
        }
    }

    /// This state with backups going to `settings`.
    pub fn with_backups(mut self, settings: crate::ops::backups::Settings) -> AppState {
        self.backups = Some(Arc::new(settings));
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
