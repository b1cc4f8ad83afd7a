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
    /// The background jobs this process runs (none: it runs none, as in tests).
    pub jobs: Option<Arc<crate::ops::health::JobsStatus>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The bearer token `GET /metrics` asks for (none: the metrics are not served).
    pub metrics_token: Option<Arc<str>>,
}

impl AppState {
    pub fn new(db: Db, secure_cookies: bool) -> AppState {
        AppState {
            db,
            secure_cookies,
            proxies: Arc::new(TrustedProxies::default()),
            clock: Clock::default(),
            backups: None,
            jobs: None,
            metrics: Arc::new(crate::metrics::Metrics::default()),
            metrics_token: None,
        }
    }

    /// This state reporting the health of `jobs`.
    pub fn with_jobs(mut self, jobs: Arc<crate::ops::health::JobsStatus>) -> AppState {
        self.jobs = Some(jobs);
        self
    }

    /// This state serving the metrics to who shows `token`.
    pub fn with_metrics_token(mut self, token: Option<String>) -> AppState {
        self.metrics_token = token.filter(|t| !t.is_empty()).map(Arc::from);
        self
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
