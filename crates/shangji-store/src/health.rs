//! What the operator's probes and metrics read of the database: whether it answers, the
//! pool's connections, and counts of work waiting or failed.

use crate::db::{Db, Pool};
use crate::error::StoreError;
use crate::on_pool;

/// The connection pool as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open.
    pub open: u32,
    /// Of which idle.
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

impl Db {
    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, p => {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        let (open, idle, max) = match self.pool() {
            Pool::Sqlite(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            Pool::Postgres(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
        };
        PoolStats {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }

    /// Outgoing deliveries (e-mail, webhooks) by status: `pending`, `retrying`, `sent`,
    /// `failed`…
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(on_pool!(self, p => {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status",
            )
            .fetch_all(p)
            .await?
        }))
    }
}
