//! The two pools, opening and migrating them, and the small pieces every query uses: a SQL
//! builder with typed arguments (`$1`, `$2`… work on both SQLite and PostgreSQL) and a
//! row reader implemented for both row types.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};
use time::{Date, OffsetDateTime};

use crate::error::StoreError;

/// A database: one of the two pools, and what the instance shares over it.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    pub(crate) shared: Arc<Shared>,
}

#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// SQLite allows one writer at a time. Writers queue here instead of in SQLite's busy
    /// handler, which sleeps in steps of milliseconds.
    pub(crate) writer: Arc<tokio::sync::Mutex<()>>,
    /// SQLite: the group-commit queue for new records (see `writer.rs`).
    pub(crate) inserts: Option<crate::writer::Inserts>,
    /// The last directory read, reused while its version is current.
    pub(crate) directory: std::sync::Mutex<Option<Arc<crate::directory::Directory>>>,
}

/// Runs `$body` with `$pool` bound to the concrete pool. The body is compiled once per
/// dialect, so the same SQL text and the same Rust code serve both.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The latest migration this build has (the same in both dialects; a test checks).
pub fn latest_migration() -> i64 {
    SQLITE_MIGRATIONS
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

impl Db {
    fn new(pool: Pool) -> Db {
        let mut shared = Shared::default();
        if let Pool::Sqlite(p) = &pool {
            shared.inserts = Some(crate::writer::Inserts::start(
                p.clone(),
                shared.writer.clone(),
            ));
        }
        Db {
            pool,
            shared: Arc::new(shared),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Held while writing in a transaction: on SQLite, the instance's single writer turn;
    /// nothing on PostgreSQL, whose row locks suffice.
    pub(crate) async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.shared.writer.lock().await),
            Pool::Postgres(_) => None,
        }
    }

    /// Opens `sqlite://PATH` (created if missing, with its folder), `sqlite::memory:` or
    /// `postgres://…`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
                })?;
            return Ok(Db::new(Pool::Postgres(pool)));
        }
        let Some(rest) = url.strip_prefix("sqlite:") else {
            return Err(StoreError::Config(format!(
                "unsupported database URL `{url}`: use sqlite://PATH or postgres://…"
            )));
        };
        let memory = rest == ":memory:" || rest == "//:memory:";
        let opts = if memory {
            SqliteConnectOptions::from_str("sqlite::memory:")
                .map_err(|e| StoreError::Config(e.to_string()))?
        } else {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!(
                        "cannot create data directory {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
        };
        let opts = opts
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Each connection drops its page cache (and, were the file memory-mapped, its
            // whole mapping) whenever another one has committed: under a stream of writes a
            // small cache read by system calls costs least. Measured on a million leads
            // (docs/operations.md): 8 MiB and no mapping take web forms from 400 to 510 a
            // second; the largest report scans take up to 1.9× longer (still under 0.2 s).
            .pragma("cache_size", "-8192")
            .pragma("mmap_size", "0")
            // After a checkpoint the write-ahead log is cut back to 64 MiB: a burst of
            // writes while readers hold old snapshots grows it, and it stays that size.
            .pragma("journal_size_limit", "67108864")
            // Keeps the planner's statistics current as data grows.
            .optimize_on_close(true, Some(400));
        let pool = SqlitePoolOptions::new()
            // A connection to a local file does not go stale; testing it before each use
            // would cost a hand-over to its thread per query.
            .test_before_acquire(false)
            // An in-memory database lives in one connection.
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open SQLite database: {e}")))?;
        Ok(Db::new(Pool::Sqlite(pool)))
    }

    /// Applies the dialect's pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await,
        }
        .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        // Keys the core computes, for rows stored before their column existed.
        self.backfill_name_keys().await?;
        Ok(())
    }

    /// Applies the dialect's migrations up to `version` only (a restore loads an archive
    /// into the schema it was taken from, then migrates the rest).
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        let all = match &self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        // `Migrator`'s fields are public so that `migrate!` can build it; a subset of the
        // embedded migrations is built the same way.
        let upto = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(
                all.iter()
                    .filter(|m| m.version <= version)
                    .cloned()
                    .collect(),
            ),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        match &self.pool {
            Pool::Sqlite(p) => upto.run(p).await,
            Pool::Postgres(p) => upto.run(p).await,
        }
        .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    pub async fn connect_and_migrate(url: &str) -> Result<Db, StoreError> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// The statement that opens every write transaction: on SQLite `BEGIN IMMEDIATE`, which takes
    /// the write lock at once (waiting in the busy handler), so that another process's commit
    /// cannot make the transaction's read snapshot stale before its first write — SQLite
    /// refuses that at once (`SQLITE_BUSY_SNAPSHOT`) instead of waiting.
    pub(crate) fn write_begin(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
            Pool::Postgres(_) => "BEGIN",
        }
    }

    pub fn dialect(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool once what is under way is done. A SQLite file's write-ahead log is
    /// checkpointed into the database and emptied first, so that a stopped server leaves one
    /// file behind.
    pub async fn close(&self) {
        if let Pool::Sqlite(p) = &self.pool {
            let _writer = self.writer().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await
            {
                tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
            }
        }
        on_pool!(self, p => p.close().await)
    }

    pub(crate) async fn execute(&self, sql: &Sql) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        Ok(on_pool!(self, p => {
            let q = bind_all!(sqlx::query(&sql.text), &sql.args);
            q.execute(p).await?.rows_affected()
        }))
    }
}

/// A typed argument, bound identically on both dialects.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    I64(Option<i64>),
    I32(Option<i32>),
    Text(Option<String>),
    Bool(bool),
    Date(Option<Date>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::I64(v)
    }
}
impl From<i32> for Arg {
    fn from(v: i32) -> Self {
        Arg::I32(Some(v))
    }
}
impl From<Option<i32>> for Arg {
    fn from(v: Option<i32>) -> Self {
        Arg::I32(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<Option<Date>> for Arg {
    fn from(v: Option<Date>) -> Self {
        Arg::Date(v)
    }
}
impl From<Date> for Arg {
    fn from(v: Date) -> Self {
        Arg::Date(Some(v))
    }
}
impl From<OffsetDateTime> for Arg {
    fn from(v: OffsetDateTime) -> Self {
        Arg::I64(Some(ms(v)))
    }
}
impl From<Option<OffsetDateTime>> for Arg {
    fn from(v: Option<OffsetDateTime>) -> Self {
        Arg::I64(v.map(ms))
    }
}

/// Binds every [`Arg`] of a slice to a sqlx query of either dialect.
#[macro_export]
macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::db::Arg::I64(v) => q.bind(*v),
                $crate::db::Arg::I32(v) => q.bind(*v),
                $crate::db::Arg::Text(v) => q.bind(v.clone()),
                $crate::db::Arg::Bool(v) => q.bind(*v),
                $crate::db::Arg::Date(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// SQL text with `$n` placeholders and their arguments, built piece by piece.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends `(p1, p2, …)` for a list of ids.
    /// `(…)` of texts; an empty list is `('')`, which matches no stored key.
    pub fn bind_text_list(&mut self, items: &[&str]) -> &mut Self {
        self.text.push('(');
        if items.is_empty() {
            self.text.push_str("''");
        }
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(*item);
        }
        self.text.push(')');
        self
    }

    pub fn bind_list(&mut self, ids: &[i64]) -> &mut Self {
        self.text.push('(');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(*id);
        }
        self.text.push(')');
        self
    }
}

pub fn ms(t: OffsetDateTime) -> i64 {
    shangji_core::unix_ms(t)
}

pub fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(v as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Reads columns the same way from either dialect's rows.
pub trait RowExt {
    fn i64(&self, col: &str) -> Result<i64, StoreError>;
    fn opt_i64(&self, col: &str) -> Result<Option<i64>, StoreError>;
    fn i32(&self, col: &str) -> Result<i32, StoreError>;
    fn opt_i32(&self, col: &str) -> Result<Option<i32>, StoreError>;
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    fn bool(&self, col: &str) -> Result<bool, StoreError>;
    fn opt_date(&self, col: &str) -> Result<Option<Date>, StoreError>;

    fn ts(&self, col: &str) -> Result<OffsetDateTime, StoreError> {
        Ok(from_ms(self.i64(col)?))
    }
    fn opt_ts(&self, col: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self.opt_i64(col)?.map(from_ms))
    }
    /// A closed-set value stored as text.
    fn parse<T: FromStr>(&self, col: &str) -> Result<T, StoreError> {
        let v = self.text(col)?;
        v.parse()
            .map_err(|_| StoreError::Corrupt(format!("column {col} holds unknown value `{v}`")))
    }
    fn opt_parse<T: FromStr>(&self, col: &str) -> Result<Option<T>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                StoreError::Corrupt(format!("column {col} holds unknown value `{v}`"))
            }),
        }
    }
    /// A JSON document stored as text.
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T, StoreError> {
        let v = self.text(col)?;
        serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
    }
}

macro_rules! row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn i64(&self, col: &str) -> Result<i64, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_i64(&self, col: &str) -> Result<Option<i64>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn i32(&self, col: &str) -> Result<i32, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_i32(&self, col: &str) -> Result<Option<i32>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn text(&self, col: &str) -> Result<String, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn bool(&self, col: &str) -> Result<bool, StoreError> {
                Ok(self.try_get(col)?)
            }
            fn opt_date(&self, col: &str) -> Result<Option<Date>, StoreError> {
                Ok(self.try_get(col)?)
            }
        }
    };
}
row_ext!(sqlx::sqlite::SqliteRow);
row_ext!(sqlx::postgres::PgRow);
