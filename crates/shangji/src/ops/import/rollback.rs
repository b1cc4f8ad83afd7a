//! Rolling an import back: what it created removed (a follow-up or task always; a record
//! archived when something refers to it —
//! and an imported deal always: its history is append-only, so it is archived and its
//! external id freed for a corrected file), what it updated given its earlier values —
//! refused, saying which, while a record changed since.

use serde::Serialize;
use serde_json::Value;
use shangji_core::audit::AuditAction;
use shangji_core::import::{ImportBatch, ImportKind, ImportStatus, ImportedKind, ImportedRecord};
use shangji_core::model::*;
use shangji_core::visibility::Scope;
use shangji_store::{Access, Db};

use super::super::records::{self, Record};
use super::super::Ctx;
use super::get;
use crate::error::AppError;

/// A record that keeps the import from being rolled back, or that stays after it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Kept {
    pub row: usize,
    pub record_kind: ImportedKind,
    pub record_id: Id,
    /// `changed_since_import` (blocks the rollback), `missing`, or `referenced` (archived
    /// instead of removed: a follow-up, deal or task refers to it).
    pub reason: String,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rollback {
    /// Whether it was rolled back (else `kept` says which records block it).
    pub rolled_back: bool,
    pub removed: u32,
    pub restored: u32,
    pub kept: Vec<Kept>,
}

/// The current version of a record an import wrote (`None`: gone).
async fn version_of(db: &Db, kind: ImportedKind, id: Id) -> Result<Option<i64>, AppError> {
    Ok(match kind {
        ImportedKind::Account => db
            .get::<Account>(id, &Scope::All, Access::Read)
            .await?
            .map(|r| r.version),
        ImportedKind::Contact => db
            .get::<Contact>(id, &Scope::All, Access::Read)
            .await?
            .map(|r| r.version),
        ImportedKind::Lead => db
            .get::<Lead>(id, &Scope::All, Access::Read)
            .await?
            .map(|r| r.version),
        ImportedKind::Opportunity => db
            .get::<Opportunity>(id, &Scope::All, Access::Read)
            .await?
            .map(|r| r.version),
        ImportedKind::Activity => db
            .get::<Activity>(id, &Scope::All, Access::Read)
            .await?
            .map(|r| r.version),
        ImportedKind::Task => db
            .get::<Task>(id, &Scope::All, Access::Read)
            .await?
            .map(|r| r.version),
    })
}

/// Rolls an import back: each record it created is removed (archived when something refers
/// to it), each it updated gets its earlier values back — refused, saying which, if any of
/// them changed since.
pub async fn rollback(db: &Db, ctx: &Ctx, id: Id) -> Result<Rollback, AppError> {
    let mut batch = get(db, ctx, id).await?;
    if batch.status != ImportStatus::Done {
        return Err(AppError::invalid(
            "status",
            "not_done",
            "only a finished import can be rolled back",
        ));
    }
    let records = db.imported(id).await?;
    let mut blocked = Vec::new();
    for r in &records {
        if version_of(db, r.record_kind, r.record_id).await? != Some(r.version_after) {
            blocked.push(Kept {
                row: r.row,
                record_kind: r.record_kind,
                record_id: r.record_id,
                reason: "changed_since_import".into(),
            });
        }
    }
    if !blocked.is_empty() {
        return Ok(Rollback {
            rolled_back: false,
            removed: 0,
            restored: 0,
            kept: blocked,
        });
    }
    let outcome = undo(db, ctx, &batch).await?;
    batch.status = ImportStatus::RolledBack;
    batch.rolled_back_at = Some(ctx.now);
    db.save_import(&batch, ImportStatus::Done).await?;
    if batch.kind == ImportKind::Opportunities {
        db.mark_import_dirty(id).await?;
    }
    let detail = format!(
        "{}: {} records removed, {} restored",
        batch.file_name, outcome.removed, outcome.restored
    );
    let target = format!("import {id}");
    super::super::audit::record(db, ctx, AuditAction::ImportRollback, target, detail).await?;
    Ok(outcome)
}

/// Undoes what an import wrote, newest first.
pub(super) async fn undo(db: &Db, ctx: &Ctx, batch: &ImportBatch) -> Result<Rollback, AppError> {
    let mut out = Rollback {
        rolled_back: true,
        removed: 0,
        restored: 0,
        kept: vec![],
    };
    for r in db.imported(batch.id).await?.iter().rev() {
        let kept = |reason: &str| Kept {
            row: r.row,
            record_kind: r.record_kind,
            record_id: r.record_id,
            reason: reason.into(),
        };
        match &r.before {
            Some(before) => {
                let restored = match r.record_kind {
                    ImportedKind::Account => restore::<Account>(db, ctx, r, before).await,
                    ImportedKind::Contact => restore::<Contact>(db, ctx, r, before).await,
                    _ => restore::<Lead>(db, ctx, r, before).await,
                };
                match restored {
                    Ok(()) => out.restored += 1,
                    Err(_) => out.kept.push(kept("changed_since_import")),
                }
            }
            None if r.record_kind == ImportedKind::Opportunity => {
                let input = shangji_core::opportunity::OpportunityInput {
                    archived: shangji_core::Field::Value(true),
                    version: Some(r.version_after),
                    ..Default::default()
                };
                let id = r.record_id;
                super::super::opportunities::update_opportunity(db, ctx, id, input).await?;
                db.set_external_id(id, None).await?;
                out.removed += 1;
            }
            None => {
                // A follow-up on a lead counted for its score: scored again without it.
                let lead = match r.record_kind {
                    ImportedKind::Activity => db
                        .get::<Activity>(r.record_id, &Scope::All, Access::Read)
                        .await?
                        .and_then(|a| a.lead_id),
                    _ => None,
                };
                if db.delete_imported(r.record_kind, r.record_id).await? {
                    if let Some(lead) = lead {
                        super::super::scoring::rescore_lead(db, ctx.now, lead).await?;
                    }
                    out.removed += 1;
                } else {
                    let archived = match r.record_kind {
                        ImportedKind::Account => archive::<Account>(db, ctx, r.record_id).await,
                        ImportedKind::Contact => archive::<Contact>(db, ctx, r.record_id).await,
                        _ => archive::<Lead>(db, ctx, r.record_id).await,
                    };
                    archived?;
                    out.kept.push(kept("referenced"));
                }
            }
        }
    }
    Ok(out)
}

/// Puts a record's earlier values back (its version must still be the import's).
async fn restore<T: Record>(
    db: &Db,
    ctx: &Ctx,
    r: &ImportedRecord,
    before: &str,
) -> Result<(), AppError> {
    let mut v: Value =
        serde_json::from_str(before).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(m) = v.as_object_mut() {
        m.insert("version".into(), Value::from(r.version_after));
    }
    let input: T::Input =
        serde_json::from_value(v).map_err(|e| AppError::Internal(e.to_string()))?;
    records::update::<T>(db, ctx, r.record_id, input).await?;
    Ok(())
}

async fn archive<T: Record>(db: &Db, ctx: &Ctx, id: Id) -> Result<(), AppError> {
    let input: T::Input = serde_json::from_value(serde_json::json!({"archived": true}))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    records::update::<T>(db, ctx, id, input).await?;
    Ok(())
}
