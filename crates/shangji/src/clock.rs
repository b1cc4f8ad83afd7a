//! The application's clock, shared by the requests and the background jobs.

use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

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
