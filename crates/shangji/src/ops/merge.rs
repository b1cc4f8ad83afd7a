//! Merging duplicates: two accounts, contacts or leads become one. The caller must be able
//! to change both; the survivor takes the fields picked from the merged record
//! (`shangji_core::merge`), everything pointing at the merged record moves to the survivor,
//! the merged record is archived, and the merge is logged on both (with a copy of the merged
//! record), in one transaction. Admins read the log of every merge.

use serde::de::DeserializeOwned;
use shangji_core::audit::AuditAction;
use shangji_core::merge::{self, Merge, MergeInput};
use shangji_core::model::*;
use shangji_store::Db;

use super::records::{check_version, for_update, Record};
use super::Ctx;
use crate::error::AppError;

/// Latest merges an admin sees.
pub const LOG_LIMIT: i64 = 200;

/// A merge done: the survivor as it is now, and how many rows moved to it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Merged<T> {
    pub record: T,
    pub moved: u64,
}

/// A record kind that can be merged (accounts, contacts, leads: the kinds with forms, a
/// duplicate check and an archive).
pub trait Mergeable: Record + DeserializeOwned {
    const RECORD_KIND: RecordKind;
    fn is_archived(&self) -> bool;
}

impl Mergeable for Account {
    const RECORD_KIND: RecordKind = RecordKind::Account;
    fn is_archived(&self) -> bool {
        self.archived
    }
}
impl Mergeable for Contact {
    const RECORD_KIND: RecordKind = RecordKind::Contact;
    fn is_archived(&self) -> bool {
        self.archived
    }
}
impl Mergeable for Lead {
    const RECORD_KIND: RecordKind = RecordKind::Lead;
    fn is_archived(&self) -> bool {
        self.archived
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.to_string()))
}

/// The two records of a merge, both open to change by the caller and not archived.
pub async fn pair<T: Mergeable>(
    db: &Db,
    ctx: &Ctx,
    survivor_id: i64,
    merged_id: i64,
) -> Result<(T, T), AppError> {
    if survivor_id == merged_id {
        return Err(AppError::invalid(
            "merged_id",
            "same_record",
            "a record cannot be merged into itself",
        ));
    }
    let survivor = for_update::<T>(db, ctx, survivor_id).await?;
    let merged = match for_update::<T>(db, ctx, merged_id).await {
        Ok(m) => m,
        Err(AppError::NotFound) => {
            return Err(AppError::invalid(
                "merged_id",
                "unknown_record",
                format!("there is no {} {merged_id} you may change", T::RECORD_KIND),
            ))
        }
        Err(e) => return Err(e),
    };
    if survivor.is_archived() || merged.is_archived() {
        return Err(AppError::invalid(
            "merged_id",
            "archived_record",
            "an archived record cannot be merged; restore it first",
        ));
    }
    Ok((survivor, merged))
}

/// Merges `input.merged_id` into `survivor_id`.
pub async fn merge<T: Mergeable>(
    db: &Db,
    ctx: &Ctx,
    survivor_id: i64,
    input: MergeInput,
) -> Result<Merged<T>, AppError> {
    let (survivor, merged) = pair::<T>(db, ctx, survivor_id, input.merged_id).await?;
    check_version(survivor.version(), input.version)?;
    let picked = merge::pick(
        T::RECORD_KIND,
        &json(&survivor)?,
        &json(&merged)?,
        &input.take,
    )
    .map_err(AppError::InvalidMany)?;
    let mut next: T =
        serde_json::from_value(picked).map_err(|e| AppError::Internal(e.to_string()))?;
    next.set_updated(ctx.now);
    let log = Merge {
        id: 0,
        record_kind: T::RECORD_KIND,
        survivor_id,
        merged_id: input.merged_id,
        actor_id: ctx.actor.user_id,
        at: ctx.now,
        taken: input.take,
        merged: json(&merged)?,
    };
    let moved = db.merge_records(&next, survivor.version(), &log).await?;
    // A duplicate sent to the manager is decided by merging it.
    super::duplicates::merged(db, ctx, T::RECORD_KIND, [survivor_id, input.merged_id]).await?;
    if T::RECORD_KIND == RecordKind::Lead {
        super::scoring::rescore_lead(db, ctx.now, survivor_id).await?;
    }
    let target = format!("{} {survivor_id}", T::RECORD_KIND);
    let detail = format!("{} {} merged into it", T::RECORD_KIND, input.merged_id);
    super::audit::record(db, ctx, AuditAction::Merge, target, detail).await?;
    let record = super::get::<T>(db, ctx, survivor_id).await?;
    Ok(Merged { record, moved })
}

/// The merges a record took part in (for those who can read it).
pub async fn merges_of<T: Mergeable>(db: &Db, ctx: &Ctx, id: i64) -> Result<Vec<Merge>, AppError> {
    super::get::<T>(db, ctx, id).await?;
    Ok(db.merges_of(T::RECORD_KIND, id).await?)
}

/// Every merge, newest first (admin).
pub async fn log(db: &Db, ctx: &Ctx) -> Result<Vec<Merge>, AppError> {
    ctx.require_admin()?;
    Ok(db.merges(LOG_LIMIT).await?)
}
