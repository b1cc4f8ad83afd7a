//! Store errors. `NotFound` and `Conflict` are the caller's business (404/409); the rest are
//! ours and carry their cause for the log.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The record changed since the caller read it; `current_version` is what is stored now.
    #[error("version conflict (current version {current_version})")]
    Conflict { current_version: i64 },
    /// A unique value is already taken (a login, an idempotency key…).
    #[error("{0} already exists")]
    Duplicate(String),
    /// A referenced record does not exist.
    #[error("a referenced record does not exist: {0}")]
    BrokenReference(String),
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return StoreError::Duplicate(d.constraint().unwrap_or("value").to_string());
            }
            if d.is_foreign_key_violation() {
                return StoreError::BrokenReference(
                    d.constraint().unwrap_or("reference").to_string(),
                );
            }
        }
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Sql(other),
        }
    }
}
