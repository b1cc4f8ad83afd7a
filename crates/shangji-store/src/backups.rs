//! The record of backups taken (`backups`): each with its file, size, durations and
//! verification; retention notes when a file was removed. The archive itself is `archive.rs`.

use shangji_core::model::UserId;
use time::OffsetDateTime;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

/// A backup taken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Backup {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The archive's file name in the backup folder.
    pub file: String,
    /// `scheduled` (the server's daily backup), `manual` (an admin's "back up now") or
    /// `command` (`shangji backup`).
    pub origin: String,
    /// Who asked for it (none: the server or the command line).
    pub actor_id: Option<UserId>,
    pub size_bytes: Option<i64>,
    /// Writing the archive, in milliseconds.
    pub duration_ms: i64,
    /// Restoring it into a scratch database and comparing, in milliseconds.
    pub verify_ms: Option<i64>,
    pub table_count: Option<i64>,
    pub row_count: Option<i64>,
    /// `verified` (restored and found identical, table by table) or `failed`.
    pub status: String,
    /// What failed, or what was compared.
    pub detail: Option<String>,
    /// When retention removed the file (none: it is still there).
    #[serde(with = "time::serde::rfc3339::option")]
    pub removed_at: Option<OffsetDateTime>,
}

fn backup_from_row<R: RowExt>(r: &R) -> Result<Backup, StoreError> {
    Ok(Backup {
        id: r.i64("id")?,
        started_at: r.ts("started_at")?,
        file: r.text("file")?,
        origin: r.text("origin")?,
        actor_id: r.opt_i64("actor_id")?,
        size_bytes: r.opt_i64("size_bytes")?,
        duration_ms: r.i64("duration_ms")?,
        verify_ms: r.opt_i64("verify_ms")?,
        table_count: r.opt_i64("table_count")?,
        row_count: r.opt_i64("row_count")?,
        status: r.text("status")?,
        detail: r.opt_text("detail")?,
        removed_at: r.opt_ts("removed_at")?,
    })
}

impl Db {
    /// Records a backup (its id is ignored) and returns its id.
    pub async fn insert_backup(&self, b: &Backup) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO backups (started_at, file, origin, actor_id, size_bytes, duration_ms, verify_ms, table_count, row_count, status, detail) VALUES (",
        );
        sql.bind(b.started_at).push(", ").bind(b.file.clone());
        sql.push(", ")
            .bind(b.origin.clone())
            .push(", ")
            .bind(b.actor_id);
        sql.push(", ")
            .bind(b.size_bytes)
            .push(", ")
            .bind(b.duration_ms);
        sql.push(", ")
            .bind(b.verify_ms)
            .push(", ")
            .bind(b.table_count);
        sql.push(", ")
            .bind(b.row_count)
            .push(", ")
            .bind(b.status.clone());
        sql.push(", ").bind(b.detail.clone()).push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// The latest backups, newest first.
    pub async fn backups(&self, limit: i64) -> Result<Vec<Backup>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM backups ORDER BY started_at DESC, id DESC LIMIT ");
        sql.bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(backup_from_row).collect()
        })
    }

    pub async fn backup(&self, id: i64) -> Result<Option<Backup>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM backups WHERE id = $1").bind(id).fetch_optional(p).await?;
            row.as_ref().map(backup_from_row).transpose()
        })
    }

    /// The backups whose file has not been removed, oldest first.
    pub async fn backups_kept(&self) -> Result<Vec<Backup>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM backups WHERE removed_at IS NULL ORDER BY started_at, id").fetch_all(p).await?;
            rows.iter().map(backup_from_row).collect()
        })
    }

    /// Notes that retention removed these backups' files.
    pub async fn mark_backups_removed(
        &self,
        ids: &[i64],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new("UPDATE backups SET removed_at = ");
        sql.bind(now).push(" WHERE id IN ").bind_list(ids);
        self.execute(&sql).await.map(|_| ())
    }
}
