//! The checks every create and update of a record passes before it is saved: the records it
//! links to are visible to the actor, its owner is an active user in the actor's scope, its
//! custom values fit their definitions.

use shangji_core::custom_fields::{self, CustomChange, CustomFieldType};
use shangji_core::model::*;
use shangji_store::{Access, Db};

use super::super::Ctx;
use super::Resource;
use crate::error::AppError;

/// Checks that the actor can read every linked record (a link to something outside their
/// scope is reported as unknown, as if it did not exist).
pub(crate) async fn check_links(
    db: &Db,
    ctx: &Ctx,
    links: Vec<(&'static str, RecordKind, i64)>,
) -> Result<(), AppError> {
    for (field, kind, id) in links {
        let found = match kind {
            RecordKind::Account => db
                .get::<Account>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
            RecordKind::Contact => db
                .get::<Contact>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
            RecordKind::Lead => db
                .get::<Lead>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
            RecordKind::Opportunity => db
                .get::<Opportunity>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
        };
        if !found {
            return Err(AppError::invalid(
                field,
                "unknown_reference",
                format!("{field} {id} does not exist"),
            ));
        }
    }
    Ok(())
}

/// The owner of a record must be an active user within the actor's scope (a rep can only
/// own things themselves; a manager assigns within the team).
pub(crate) fn check_owner(
    ctx: &Ctx,
    field: &str,
    owner: Option<UserId>,
    before: Option<UserId>,
) -> Result<(), AppError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    if Some(owner) == before {
        return Ok(());
    }
    owner_in_scope(ctx, field, owner, true)
}

/// The owner of a deal a migration brings in already closed may have left the company since:
/// any user, active or not, within the actor's scope.
pub(crate) fn check_closed_deal_owner(
    ctx: &Ctx,
    field: &str,
    owner: UserId,
) -> Result<(), AppError> {
    owner_in_scope(ctx, field, owner, false)
}

fn owner_in_scope(
    ctx: &Ctx,
    field: &str,
    owner: UserId,
    active_only: bool,
) -> Result<(), AppError> {
    let user = ctx.dir.user(owner).filter(|u| u.active || !active_only);
    let Some(user) = user else {
        return Err(AppError::invalid(
            field,
            "unknown_user",
            format!("user {owner} does not exist or is inactive"),
        ));
    };
    if !ctx.scope.covers(Some(user.id)) {
        return Err(AppError::invalid(
            field,
            "owner_out_of_scope",
            "you cannot assign records to this user",
        ));
    }
    Ok(())
}

/// Applies the `custom` object of a body to a record's values: the core checks each value
/// against the definitions of the record kind; a user named by a user field must be active.
/// Returns the changes, which the save writes with the record.
pub(crate) async fn apply_custom<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    record: &mut T,
    input: Option<CustomValues>,
    creating: bool,
) -> Result<Vec<CustomChange>, AppError> {
    let (Some(kind), Some(values)) = (T::CUSTOM, record.custom_mut()) else {
        return match input {
            Some(_) => Err(AppError::invalid(
                "custom",
                "unknown_field",
                format!("{} have no custom fields", T::RESOURCE),
            )),
            None => Ok(vec![]),
        };
    };
    if input.is_none() && !creating {
        return Ok(vec![]);
    }
    let changes =
        custom_fields::apply_values(&ctx.dir.custom_fields, kind, values, input, creating)?;
    for c in &changes {
        let is_user = ctx
            .dir
            .custom_field(c.field_id)
            .is_some_and(|d| d.field_type == CustomFieldType::User);
        if let (true, Some(id)) = (is_user, c.new.as_i64()) {
            if !db.user(id).await?.is_some_and(|u| u.active) {
                return Err(AppError::invalid(
                    &custom_fields::field_name(&c.key),
                    "unknown_user",
                    format!("user {id} does not exist or is inactive"),
                ));
            }
        }
    }
    Ok(changes)
}
