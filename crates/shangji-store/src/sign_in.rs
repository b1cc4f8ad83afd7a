//! The sign-in limiter's counters (`sign_in_throttle`, migration 0037): read before an
//! attempt, counted after a failure, reset after a success. Each change is one atomic
//! statement, so instances sharing the database count together without losing a failure.

use shangji_core::sign_in::{Counter, Counters, KNOWN_FOR, WINDOW};
use time::{Duration, OffsetDateTime};

use crate::db::{bind_all, from_ms, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

/// The counters' keys of an attempt at `login` (as typed) from `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKeys {
    pub pair: String,
    pub account: String,
    pub address: String,
}

impl ThrottleKeys {
    pub fn new(login: &str, address: &str) -> ThrottleKeys {
        let login: String = login.trim().to_lowercase().chars().take(100).collect();
        ThrottleKeys {
            pair: format!("pair:{address} {login}"),
            account: format!("account:{login}"),
            address: format!("address:{address}"),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.pair, &self.account, &self.address]
    }
}

fn counter_from_row<R: RowExt>(r: &R) -> Result<Counter, StoreError> {
    let blocked = r.i64("blocked_until")?;
    Ok(Counter {
        failures: r.i32("failures")?.max(0) as u32,
        blocked_until: (blocked > 0).then(|| from_ms(blocked)),
        succeeded_at: r.opt_ts("succeeded_at")?,
    })
}

impl Db {
    /// The counters of an attempt (failures of a window that has passed are not counted).
    pub async fn sign_in_counters(
        &self,
        keys: &ThrottleKeys,
        now: OffsetDateTime,
    ) -> Result<Counters, StoreError> {
        let mut sql = Sql::new(
            "SELECT key, failures, window_start, blocked_until, succeeded_at FROM sign_in_throttle WHERE key IN ",
        );
        sql.bind_text_list(&keys.all());
        let rows: Vec<(String, Counter, i64)> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.text("key")?, counter_from_row(r)?, r.i64("window_start")?)))
                .collect::<Result<_, StoreError>>()?
        });
        let start = crate::db::ms(now - WINDOW);
        let mut out = Counters::default();
        for (key, mut c, window_start) in rows {
            if window_start < start {
                c.failures = 0;
            }
            if key == keys.pair {
                out.pair = c;
            } else if key == keys.account {
                out.account = c;
            } else {
                out.address = c;
            }
        }
        Ok(out)
    }

    /// Counts a failure on each counter (starting a counter's window again once it has
    /// passed) and returns the failures each now holds: pair, account, address.
    pub async fn count_sign_in_failure(
        &self,
        keys: &ThrottleKeys,
        now: OffsetDateTime,
    ) -> Result<[u32; 3], StoreError> {
        let mut counts = [0u32; 3];
        let _writer = self.writer().await;
        for (i, key) in keys.all().into_iter().enumerate() {
            let mut sql = Sql::new(
                "INSERT INTO sign_in_throttle (key, failures, window_start, blocked_until, touched_at) VALUES (",
            );
            sql.bind(key)
                .push(", 1, ")
                .bind(now)
                .push(", 0, ")
                .bind(now);
            sql.push(
                ") ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN sign_in_throttle.window_start < ",
            )
            .bind(now - WINDOW)
            .push(" THEN 1 ELSE sign_in_throttle.failures + 1 END, window_start = CASE WHEN sign_in_throttle.window_start < ")
            .bind(now - WINDOW)
            .push(" THEN ")
            .bind(now)
            .push(" ELSE sign_in_throttle.window_start END, touched_at = ")
            .bind(now)
            .push(" RETURNING failures");
            let n: i64 = on_pool!(self, p => {
                let v: i32 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?;
                i64::from(v)
            });
            counts[i] = n.max(0) as u32;
        }
        // Counters nobody has touched for a day are gone; a known address stays 90 days.
        let mut old = Sql::new("DELETE FROM sign_in_throttle WHERE touched_at < ");
        old.bind(now - Duration::days(1))
            .push(" AND (succeeded_at IS NULL OR succeeded_at < ")
            .bind(now - KNOWN_FOR)
            .push(")");
        on_pool!(self, p => {
            bind_all!(sqlx::query(&old.text), &old.args).execute(p).await?;
        });
        Ok(counts)
    }

    /// Makes attempts counted under `key` wait until `until` (never shortening a wait).
    pub async fn hold_sign_in(&self, key: &str, until: OffsetDateTime) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE sign_in_throttle SET blocked_until = ");
        sql.bind(until)
            .push(" WHERE key = ")
            .bind(key)
            .push(" AND blocked_until < ")
            .bind(until);
        self.execute(&sql).await?;
        Ok(())
    }

    /// A successful sign-in: the login's counter at that address starts again and the
    /// address becomes known for the login.
    pub async fn sign_in_succeeded(
        &self,
        keys: &ThrottleKeys,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO sign_in_throttle (key, failures, window_start, blocked_until, succeeded_at, touched_at) VALUES (",
        );
        sql.bind(keys.pair.as_str())
            .push(", 0, ")
            .bind(now)
            .push(", 0, ")
            .bind(now)
            .push(", ")
            .bind(now);
        sql.push(
            ") ON CONFLICT (key) DO UPDATE SET failures = 0, blocked_until = 0, succeeded_at = ",
        )
        .bind(now)
        .push(", window_start = ")
        .bind(now)
        .push(", touched_at = ")
        .bind(now);
        self.execute(&sql).await?;
        Ok(())
    }
}
