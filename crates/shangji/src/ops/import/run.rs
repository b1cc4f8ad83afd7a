//! Running an import: its rows written in chunks, side by side (the database batches their
//! writes into one transaction), progress saved after each chunk; a failed or interrupted
//! import undone.

use futures_util::future::join_all;
use shangji_core::audit::AuditAction;
use shangji_core::import::{
    self as core, ImportBatch, ImportKind, ImportStatus, ImportedRecord, OnDuplicate,
};
use shangji_core::model::Id;
use shangji_store::Db;

use super::{deals, errors_of, kind_of, placed, plan, sheet_of, undo, write_row, Ctx, Planned};
use crate::error::AppError;

/// Rows written side by side, and between two progress saves.
const CHUNK: usize = 200;

/// Writes one row without problems, and records at once what it updated (what it created is
/// recorded as it is created), for a rollback (or an interrupted import's undoing) to find;
/// `None` for a row with problems.
async fn write_one(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    p: &Planned,
) -> Option<Result<Vec<ImportedRecord>, AppError>> {
    if !p.inputs.problems.is_empty() {
        return None;
    }
    Some(match write_row(db, ctx, batch, p).await {
        Ok(done) => {
            let updated: Vec<ImportedRecord> = done
                .iter()
                .filter(|d| d.before.is_some())
                .cloned()
                .collect();
            db.insert_imported(&updated)
                .await
                .map(|_| done)
                .map_err(Into::into)
        }
        Err(e) => Err(e),
    })
}

/// Runs a started import in chunks of rows written side by side, saving progress after each (`progress` is told too,
/// for the command line). A row that fails stops the import and undoes what it did, unless
/// valid rows only were asked for; the import as it ends.
pub async fn run(
    db: &Db,
    ctx: &Ctx,
    id: Id,
    progress: &(dyn Fn(u32, u32) + Send + Sync),
) -> Result<ImportBatch, AppError> {
    let mut batch = db.import(id).await?.ok_or(AppError::NotFound)?;
    if batch.status != ImportStatus::Running {
        return Err(AppError::invalid(
            "status",
            "not_running",
            "this import is not running",
        ));
    }
    let outcome = run_rows(db, ctx, &mut batch, progress).await;
    batch.finished_at = Some(ctx.now);
    match outcome {
        Ok(()) => batch.status = ImportStatus::Done,
        Err(e) => {
            batch.error = Some(match &e {
                AppError::Invalid(f) => format!("{}: {}", f.field, f.message),
                other => other.to_string(),
            });
            // Nothing of a failed import stays.
            undo(db, ctx, &batch).await?;
            batch.status = ImportStatus::Failed;
        }
    }
    db.save_import(&batch, ImportStatus::Running).await?;
    let s = &batch.summary;
    let detail = format!(
        "{} ({}): {}; rows {} created, {} updated, {} skipped, {} failed",
        batch.file_name, batch.kind, batch.status, s.created, s.updated, s.skipped, s.failed
    );
    let target = format!("import {}", batch.id);
    crate::ops::audit::record(db, ctx, AuditAction::Import, target, detail).await?;
    Ok(batch)
}

async fn run_rows(
    db: &Db,
    ctx: &Ctx,
    batch: &mut ImportBatch,
    progress: &(dyn Fn(u32, u32) + Send + Sync),
) -> Result<(), AppError> {
    let sheet = sheet_of(db, batch).await?;
    let planned = plan(db, ctx, batch, &sheet, true).await?;
    if let Some(p) = planned.mapping_problems.first() {
        return Err(AppError::invalid("mapping", &p.code, p.message.clone()));
    }
    let (mut summary, _) = planned.summary();
    if planned.has_problems(&summary) && !batch.options.valid_only {
        return Err(AppError::invalid(
            "file",
            "file_has_problems",
            format!("{} rows have problems", summary.failed),
        ));
    }
    let plans = planned.rows;
    let total = plans.len() as u32;
    if batch.kind == ImportKind::Opportunities {
        // All the deals in one transaction: a deal's history is written whole or not at all.
        summary.created = deals::write(db, ctx, batch, &plans).await?;
        batch.done_rows = total;
        progress(total, total);
        batch.summary = summary;
        batch.total_rows = total;
        return Ok(());
    }
    (summary.created, summary.updated, summary.skipped) = (0, 0, 0);
    let mut start = 0;
    while start < plans.len() {
        let end = start + chunk_len(&plans[start..]);
        let chunk = &plans[start..end];
        let running: &ImportBatch = batch;
        let mut writes = Vec::with_capacity(chunk.len());
        for p in chunk {
            writes.push(write_one(db, ctx, running, p));
        }
        let written = join_all(writes).await;
        let mut refused = None;
        for (p, w) in chunk.iter().zip(written) {
            match w {
                None => {}
                Some(Ok(done)) => {
                    // A row counts once, by what happened to its record (an account's
                    // contact goes with it), as the preview counts it.
                    let main = done.iter().find(|d| d.record_kind == kind_of(batch.kind));
                    match main {
                        Some(m) if m.before.is_none() => summary.created += 1,
                        None if done.is_empty() => summary.skipped += 1,
                        _ => summary.updated += 1,
                    }
                }
                Some(Err(e)) if batch.options.valid_only => {
                    summary.failed += 1;
                    for fe in errors_of(e).unwrap_or_else(|e| {
                        vec![shangji_core::error::FieldError::new(
                            "",
                            "failed",
                            e.to_string(),
                        )]
                    }) {
                        if summary.problems.len() < core::MAX_PROBLEMS {
                            summary.problems.push(placed(&p.inputs, "", fe));
                        }
                    }
                }
                Some(Err(e)) if refused.is_none() => {
                    refused = Some(match errors_of(e) {
                        Ok(mut many) => {
                            let first = many.remove(0);
                            let at = placed(&p.inputs, "", first);
                            AppError::invalid(
                                "file",
                                &at.code,
                                format!("row {}: {} — nothing was imported", at.row, at.message),
                            )
                        }
                        Err(other) => other,
                    })
                }
                Some(Err(_)) => {}
            }
        }
        if let Some(e) = refused {
            return Err(e);
        }
        start = end;
        let done = end as u32;
        batch.done_rows = done;
        batch.summary = summary.clone();
        db.save_import(batch, ImportStatus::Running).await?;
        progress(done, total);
    }
    batch.summary = summary;
    batch.total_rows = total;
    Ok(())
}

/// How many of `rows` (at least one) can be written side by side: up to [`CHUNK`], and up
/// to the first row that needs one of them written first — a row repeating one of them (its
/// match is what that row makes, found once it is written), or updating a record one of them
/// may update (the same stored match, or one found only as it is written). A skipped row
/// writes nothing and waits for nothing.
fn chunk_len(rows: &[Planned]) -> usize {
    let updates = |q: &Planned| matches!(q.action, OnDuplicate::Update | OnDuplicate::Merge);
    let mut taken: Vec<&Planned> = Vec::with_capacity(CHUNK);
    for p in rows.iter().take(CHUNK) {
        let waits = p.action != OnDuplicate::Skip
            && taken.iter().any(|q| {
                p.repeats == Some(q.inputs.row)
                    || (updates(p)
                        && updates(q)
                        && (p.matched.is_none() || q.matched.is_none() || p.matched == q.matched))
            });
        if waits {
            break;
        }
        taken.push(p);
    }
    taken.len().max(1)
}

/// How long a running import may go without saving progress before it counts as
/// interrupted (it saves every 200 rows, a second or less apart).
pub const STALL: time::Duration = time::Duration::minutes(10);

/// Imports whose runner stopped mid-way (its process died): each is undone — nothing of an
/// interrupted import stays, as with one that failed — and marked failed, saying so. `wall`
/// is the machine's time, which the heartbeat is kept in. The number undone.
pub async fn recover_stalled(db: &Db, wall: time::OffsetDateTime) -> Result<u32, AppError> {
    let mut n = 0;
    for mut batch in db.stalled_imports(wall - STALL).await? {
        let ctx = match db.user(batch.created_by).await? {
            Some(u) => Ctx::for_cli(db, &u, wall).await?,
            None => Ctx::system(db, wall).await?,
        };
        undo(db, &ctx, &batch).await?;
        batch.status = ImportStatus::Failed;
        batch.finished_at = Some(wall);
        batch.error =
            Some("interrupted: the server stopped while importing; nothing of it stays".into());
        if db.save_import(&batch, ImportStatus::Running).await? {
            tracing::warn!(import = batch.id, "an interrupted import was undone");
            n += 1;
        }
    }
    Ok(n)
}

/// Runs a started import in the background (the server's way): the import's row says how far
/// it is and how it ended.
pub fn spawn_run(db: Db, ctx: Ctx, id: Id) {
    tokio::spawn(async move {
        if let Err(e) = run(&db, &ctx, id, &|_, _| {}).await {
            tracing::warn!(error = ?e, import = id, "import failed");
        }
    });
}
