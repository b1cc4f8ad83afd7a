//! Export, backup and restore. The export is the store's portable archive of the whole
//! database; a backup is that archive written into the backup folder and verified by
//! restoring it into a scratch SQLite database and comparing every table's count and
//! checksum, recorded in `backups` whatever the outcome. The server takes one a day (once
//! across instances) and keeps the newest of the last days and weeks
//! (`shangji_core::backups::retained`). Only admins export, back up or download.

use shangji_core::audit::AuditAction;
use std::path::{Path, PathBuf};
use std::time::Instant;

use shangji_core::backups::{retained, Taken, DEFAULT_KEEP_DAILY, DEFAULT_KEEP_WEEKLY};
use shangji_core::calendar::{china_date, CHINA};
use shangji_core::model::UserId;
use shangji_store::archive::{self, ArchiveError};
use shangji_store::{Backup, Db, Manifest, Restored};
use time::OffsetDateTime;

use super::Ctx;
use crate::error::AppError;

/// The version archives say they were written by.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Backups listed on the page and by the API.
const LIST_LIMIT: i64 = 60;

/// Where backups go and how many are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dir: PathBuf,
    /// The newest backup of each of this many days…
    pub keep_daily: u32,
    /// …and of each of this many weeks.
    pub keep_weekly: u32,
}

impl Settings {
    /// Backups in `dir`, kept as by default.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Settings {
        Settings {
            dir: dir.into(),
            keep_daily: DEFAULT_KEEP_DAILY,
            keep_weekly: DEFAULT_KEEP_WEEKLY,
        }
    }
}

/// How a backup came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The server's daily backup.
    Scheduled,
    /// An admin's "back up now".
    Manual,
    /// `shangji backup`.
    Command,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Scheduled => "scheduled",
            Origin::Manual => "manual",
            Origin::Command => "command",
        }
    }
}

/// Tells the audit log of an export, backup, restore or download (`actor`: none for the
/// server's scheduled backup).
async fn audit(
    db: &Db,
    actor: Option<UserId>,
    now: OffsetDateTime,
    action: AuditAction,
    what: &str,
) -> Result<(), AppError> {
    let login = match actor {
        Some(id) => db.user(id).await?.map(|u| u.login),
        None => None,
    };
    let actor = super::audit::Actor {
        user_id: actor,
        login,
        address: None,
    };
    super::audit::record_as(db, actor, now, action, what, "").await
}

fn archive_error(e: ArchiveError) -> AppError {
    AppError::Internal(e.to_string())
}

/// Writes the whole database as an archive to `out` (the command line's `export`).
pub async fn export(
    db: &Db,
    out: &Path,
    actor: Option<UserId>,
    now: OffsetDateTime,
) -> Result<Manifest, AppError> {
    let manifest = db
        .export_archive(out, APP_VERSION, now)
        .await
        .map_err(archive_error)?;
    let detail = out.display().to_string();
    audit(db, actor, now, AuditAction::Export, &detail).await?;
    Ok(manifest)
}

/// Restores the archive at `file` into `db`, which must be empty, then brings it up to
/// this build's schema.
pub async fn restore(db: &Db, file: &Path) -> Result<Restored, ArchiveError> {
    let restored = db.restore_archive(file).await?;
    db.migrate().await?;
    let what = file.display().to_string();
    let at = OffsetDateTime::now_utc();
    if let Err(e) = audit(db, None, at, AuditAction::Restore, &what).await {
        tracing::error!(error = ?e, "the audit log could not be written");
    }
    Ok(restored)
}

/// Restores the archive at `file` into a scratch SQLite database in `scratch_dir` and
/// compares every table with the manifest.
pub async fn verify(file: &Path, scratch_dir: &Path) -> Result<Restored, ArchiveError> {
    std::fs::create_dir_all(scratch_dir).map_err(|e| {
        ArchiveError::Store(shangji_store::StoreError::Unavailable(format!(
            "cannot create the scratch folder {}: {e}",
            scratch_dir.display()
        )))
    })?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    archive::verify_by_restoring(file, &scratch_dir.join(format!("{name}.db"))).await
}

/// The file name of a backup started at `now`: its time in China, made unique in `dir`.
fn file_name(dir: &Path, now: OffsetDateTime) -> String {
    let t = now.to_offset(CHINA);
    let stem = format!(
        "shangji-{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut name = format!("{stem}.zip");
    let mut n = 1;
    while dir.join(&name).exists() {
        n += 1;
        name = format!("{stem}-{n}.zip");
    }
    name
}

/// Takes a backup into the backup folder, verifies it, records it — a failure too, with
/// what failed — and applies retention. Returns the record.
pub async fn take(
    db: &Db,
    settings: &Settings,
    origin: Origin,
    actor: Option<UserId>,
    now: OffsetDateTime,
) -> Result<Backup, AppError> {
    let now = super::whole_millis(now);
    std::fs::create_dir_all(&settings.dir).map_err(|e| {
        AppError::Internal(format!(
            "cannot create the backup folder {}: {e}",
            settings.dir.display()
        ))
    })?;
    let file = file_name(&settings.dir, now);
    let path = settings.dir.join(&file);
    let mut record = Backup {
        id: 0,
        started_at: now,
        file: file.clone(),
        origin: origin.as_str().into(),
        actor_id: actor,
        size_bytes: None,
        duration_ms: 0,
        verify_ms: None,
        table_count: None,
        row_count: None,
        status: "failed".into(),
        detail: None,
        removed_at: None,
    };
    let started = Instant::now();
    let exported = db.export_archive(&path, APP_VERSION, now).await;
    record.duration_ms = started.elapsed().as_millis() as i64;
    match exported {
        Err(e) => record.detail = Some(format!("writing the archive failed: {e}")),
        Ok(manifest) => {
            record.size_bytes = std::fs::metadata(&path).ok().map(|m| m.len() as i64);
            record.table_count = Some(manifest.tables.len() as i64);
            record.row_count = Some(manifest.rows() as i64);
            let started = Instant::now();
            let verified = verify(&path, &settings.dir.join(".verify")).await;
            record.verify_ms = Some(started.elapsed().as_millis() as i64);
            match verified {
                Ok(r) if r.manifest == manifest => {
                    record.status = "verified".into();
                    record.detail = Some(format!(
                        "{} tables, {} rows restored into a scratch database: counts and checksums identical",
                        manifest.tables.len(),
                        manifest.rows()
                    ));
                }
                Ok(_) => {
                    record.detail = Some("the archive read back is not the one written".into())
                }
                Err(e) => record.detail = Some(format!("verification failed: {e}")),
            }
        }
    }
    record.id = db.insert_backup(&record).await?;
    audit(db, actor, now, AuditAction::Backup, &file).await?;
    if record.status == "verified" {
        tracing::info!(file, rows = record.row_count, "backup taken and verified");
    } else {
        tracing::warn!(file, detail = record.detail, "backup failed");
    }
    apply_retention(db, settings, now).await?;
    Ok(record)
}

/// Removes the backup files retention no longer keeps (only files in the backup folder).
pub async fn apply_retention(
    db: &Db,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<Vec<i64>, AppError> {
    let kept = db.backups_kept().await?;
    let taken: Vec<Taken> = kept
        .iter()
        .map(|b| Taken {
            id: b.id,
            at: b.started_at,
            verified: b.status == "verified",
        })
        .collect();
    let keep = retained(&taken, settings.keep_daily, settings.keep_weekly);
    let mut removed = Vec::new();
    for b in kept.iter().filter(|b| !keep.contains(&b.id)) {
        match std::fs::remove_file(settings.dir.join(&b.file)) {
            Ok(()) => removed.push(b.id),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.push(b.id),
            Err(e) => tracing::warn!(file = b.file, error = %e, "cannot remove an old backup"),
        }
    }
    db.mark_backups_removed(&removed, now).await?;
    Ok(removed)
}

/// The daily backup: the first turn of each day in China, on one instance.
pub async fn daily_turn(db: &Db, settings: &Settings, now: OffsetDateTime) {
    let day = china_date(now).to_string();
    let turn = async {
        if db.claim_setting("backup_last_day", &day, now).await? {
            take(db, settings, Origin::Scheduled, None, now).await?;
        }
        Ok::<(), AppError>(())
    };
    if let Err(e) = turn.await {
        tracing::warn!(error = ?e, "the daily backup failed");
    }
}

/// The latest backups (admin).
pub async fn list(db: &Db, ctx: &Ctx) -> Result<Vec<Backup>, AppError> {
    ctx.require_admin()?;
    Ok(db.backups(LIST_LIMIT).await?)
}

/// "Back up now" (admin).
pub async fn backup_now(db: &Db, ctx: &Ctx, settings: &Settings) -> Result<Backup, AppError> {
    ctx.require_admin()?;
    take(
        db,
        settings,
        Origin::Manual,
        Some(ctx.actor.user_id),
        ctx.now,
    )
    .await
}

/// A backup's file to download (admin): its path and name, while retention keeps it.
pub async fn download(
    db: &Db,
    ctx: &Ctx,
    settings: &Settings,
    id: i64,
) -> Result<(PathBuf, String), AppError> {
    ctx.require_admin()?;
    let b = db.backup(id).await?.ok_or(AppError::NotFound)?;
    let path = settings.dir.join(&b.file);
    if b.removed_at.is_some() || b.file.contains(['/', '\\']) || !path.is_file() {
        return Err(AppError::NotFound);
    }
    super::audit::record(db, ctx, AuditAction::Download, &b.file, "backup").await?;
    Ok((path, b.file))
}
