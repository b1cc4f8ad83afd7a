//! Bulk changes: each selected record through the same operation as a single change, with
//! a report per record.

use std::collections::HashMap;

use shangji_core::model::*;
use shangji_core::opportunity::{MoveInput, OpportunityInput};
use shangji_store::Db;

use crate::error::AppError;
use crate::ops::{Ctx, Record};

use super::columns::Listed;
use super::{internal, ListKind};

/// A change made to each selected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// To this owner (the assignee of a task), with the same check as a single edit.
    Reassign(UserId),
    AddTag(String),
    /// Opportunities to this stage, each through the move with its gates.
    Move(StageId),
}

/// What happened to one record of a bulk change.
pub struct BulkOutcome {
    pub id: i64,
    pub title: String,
    pub result: Result<(), AppError>,
}

async fn titles<T: Listed>(db: &Db, ctx: &Ctx, ids: &[i64]) -> HashMap<i64, String> {
    let mut out = HashMap::new();
    for id in ids {
        if let Ok(Some(r)) = db
            .get::<T>(*id, &ctx.scope, shangji_store::Access::Read)
            .await
        {
            out.insert(*id, r.title());
        }
    }
    out
}

async fn add_tag<T: Record + Listed>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    tag: &str,
    tags: impl Fn(&T) -> &Vec<String>,
) -> Result<(), AppError> {
    let r = crate::ops::get::<T>(db, ctx, id).await?;
    let mut list = tags(&r).clone();
    if list.iter().any(|t| t == tag) {
        return Ok(());
    }
    list.push(tag.to_string());
    let input: T::Input =
        serde_json::from_value(serde_json::json!({ "tags": list, "version": r.version() }))
            .map_err(internal)?;
    crate::ops::update::<T>(db, ctx, id, input)
        .await
        .map(|_| ())
}

async fn reassign<T: Record>(db: &Db, ctx: &Ctx, id: i64, owner: UserId) -> Result<(), AppError> {
    let input: T::Input = serde_json::from_value(serde_json::json!({ T::OWNER: owner }))
        .map_err(|e| AppError::invalid("action", "invalid_value", e.to_string()))?;
    crate::ops::update::<T>(db, ctx, id, input)
        .await
        .map(|_| ())
}

async fn one(
    db: &Db,
    ctx: &Ctx,
    kind: ListKind,
    id: i64,
    action: &BulkAction,
) -> Result<(), AppError> {
    let unsupported = || AppError::invalid("action", "invalid_value", "not for these records");
    match (kind, action) {
        (ListKind::Opportunities, BulkAction::Reassign(owner)) => {
            let input = OpportunityInput {
                owner_id: shangji_core::Field::Value(*owner),
                ..Default::default()
            };
            crate::ops::update_opportunity(db, ctx, id, input)
                .await
                .map(|_| ())
        }
        (ListKind::Opportunities, BulkAction::AddTag(tag)) => {
            let o = crate::ops::get::<Opportunity>(db, ctx, id).await?;
            if o.tags.iter().any(|t| t == tag) {
                return Ok(());
            }
            let mut tags = o.tags.clone();
            tags.push(tag.clone());
            let input = OpportunityInput {
                tags: shangji_core::Field::Value(tags),
                version: Some(o.version),
                ..Default::default()
            };
            crate::ops::update_opportunity(db, ctx, id, input)
                .await
                .map(|_| ())
        }
        (ListKind::Opportunities, BulkAction::Move(stage)) => {
            let input: MoveInput = serde_json::from_value(serde_json::json!({ "stage_id": stage }))
                .map_err(internal)?;
            crate::ops::move_opportunity(db, ctx, id, input)
                .await
                .map(|_| ())
        }
        (ListKind::Accounts, BulkAction::Reassign(o)) => reassign::<Account>(db, ctx, id, *o).await,
        (ListKind::Accounts, BulkAction::AddTag(t)) => {
            add_tag::<Account>(db, ctx, id, t, |a| &a.tags).await
        }
        (ListKind::Contacts, BulkAction::Reassign(o)) => reassign::<Contact>(db, ctx, id, *o).await,
        (ListKind::Leads, BulkAction::Reassign(o)) => reassign::<Lead>(db, ctx, id, *o).await,
        (ListKind::Tasks, BulkAction::Reassign(o)) => reassign::<Task>(db, ctx, id, *o).await,
        _ => Err(unsupported()),
    }
}

/// Applies `action` to each selected record on its own, through the operation a single
/// change uses (so the owner rule, the gates and the approvals hold); each record is saved
/// in its own transaction or not at all. Answers per record, in the order given.
pub async fn bulk(
    db: &Db,
    ctx: &Ctx,
    kind: ListKind,
    ids: &[i64],
    action: &BulkAction,
) -> Result<Vec<BulkOutcome>, AppError> {
    if ids.is_empty() {
        return Err(AppError::invalid(
            "ids",
            "required",
            "select at least one record",
        ));
    }
    if ids.len() > 200 {
        return Err(AppError::invalid(
            "ids",
            "too_many",
            "at most 200 records at once",
        ));
    }
    if let BulkAction::AddTag(t) = action {
        if t.trim().is_empty() {
            return Err(AppError::invalid("tag", "required", "type a tag"));
        }
        if t.chars().count() > 50 {
            return Err(AppError::invalid(
                "tag",
                "too_long",
                "a tag has at most 50 characters",
            ));
        }
    }
    let names = match kind {
        ListKind::Opportunities => titles::<Opportunity>(db, ctx, ids).await,
        ListKind::Accounts => titles::<Account>(db, ctx, ids).await,
        ListKind::Contacts => titles::<Contact>(db, ctx, ids).await,
        ListKind::Leads => titles::<Lead>(db, ctx, ids).await,
        ListKind::Activities => titles::<Activity>(db, ctx, ids).await,
        ListKind::Tasks => titles::<Task>(db, ctx, ids).await,
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = one(db, ctx, kind, *id, action).await;
        out.push(BulkOutcome {
            id: *id,
            title: names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
            result,
        });
    }
    Ok(out)
}
