//! The sign-in rate limiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}
