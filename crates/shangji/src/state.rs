//! What every request handler shares.

use std::sync::Arc;

use shangji_store::Db;
use time::OffsetDateTime;

use crate::client::TrustedProxies;
pub use crate::clock::Clock;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Send the session cookie with `Secure` (behind HTTPS); answers then also carry
    /// Strict-Transport-Security.
    pub secure_cookies: bool,
    /// The proxies whose `X-Forwarded-For` / `X-Real-IP` / `X-Forwarded-Proto` are believed.
    pub proxies: Arc<TrustedProxies>,
    pub clock: Clock,
    /// Where backups go and how many are kept (none: "back up now" is refused; `serve` sets
    /// it from the configuration).
    pub backups: Option<Arc<crate::ops::backups::Settings>>,
}

impl AppState {
    pub fn new(db: Db, secure_cookies: bool) -> AppState {
        AppState {
            db,
            secure_cookies,
            proxies: Arc::new(TrustedProxies::default()),
            clock: Clock::default(),
            backups: None,
        }
    }

    /// This state with backups going to `settings`.
    pub fn with_backups(mut self, settings: crate::ops::backups::Settings) -> AppState {
        self.backups = Some(Arc::new(settings));
        self
    }

    /// This state believing the forwarding headers of `proxies`.
    pub fn with_proxies(mut self, proxies: TrustedProxies) -> AppState {
        self.proxies = Arc::new(proxies);
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
