//! Custom field definitions: listing, creating and changing them (type changes that would
//! lose a stored value are refused).

use shangji_core::custom_fields::{self, CustomFieldDef, CustomFieldInput, ValueMigration};
use shangji_core::model::*;
use shangji_store::{Db, StoreError};

use super::*;

// ---- Custom fields ----

/// The custom field definitions, for anyone signed in: `record_kind` narrows to one kind;
/// archived fields only with `include_archived=true`.
pub fn custom_fields(
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Vec<CustomFieldDef>, AppError> {
    let mut kind: Option<RecordKind> = None;
    let mut include_archived = false;
    for (k, v) in params {
        match k.as_str() {
            "record_kind" => {
                kind = Some(v.trim().parse().map_err(|_| {
                    AppError::bad_request(
                        k,
                        "invalid_parameter",
                        format!(
                            "record_kind: expected one of {}",
                            RecordKind::NAMES.join(", ")
                        ),
                    )
                })?)
            }
            "include_archived" => {
                include_archived = shangji_core::input::flag(k, v).map_err(AppError::BadRequest)?
            }
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown list parameter `{k}`"),
                ))
            }
        }
    }
    Ok(ctx
        .dir
        .custom_fields
        .iter()
        .filter(|d| kind.is_none_or(|k| d.record_kind == k))
        .filter(|d| include_archived || !d.archived)
        .cloned()
        .collect())
}

pub fn custom_field(ctx: &Ctx, id: Id) -> Result<CustomFieldDef, AppError> {
    ctx.dir.custom_field(id).cloned().ok_or(AppError::NotFound)
}

/// Defines a custom field (admins).
pub async fn create_custom_field(
    db: &Db,
    ctx: &Ctx,
    input: CustomFieldInput,
) -> Result<CustomFieldDef, AppError> {
    ctx.require_admin()?;
    let mut def = custom_fields::blank_definition();
    custom_fields::apply(&mut def, input, true, &ctx.dir.custom_fields)?;
    let id = db.insert_custom_field(&def).await.map_err(|e| match e {
        StoreError::Duplicate(_) => AppError::invalid(
            "key",
            "duplicate",
            format!("a {} field with this key exists", def.record_kind),
        ),
        e => e.into(),
    })?;
    super::audit::setting(db, ctx, "custom_fields::create_custom_field", "").await?;
    Ok(CustomFieldDef { id, ..def })
}

/// Changes a custom field (admins): key and record kind stay; a type change (or a change of
/// decimal places) must keep every stored value, which moves with it; renamed options rename
/// the stored values. Archiving keeps the values.
pub async fn update_custom_field(
    db: &Db,
    ctx: &Ctx,
    id: Id,
    input: CustomFieldInput,
) -> Result<CustomFieldDef, AppError> {
    ctx.require_admin()?;
    let before = custom_field(ctx, id)?;
    let mut def = before.clone();
    let renames = custom_fields::apply(&mut def, input, false, &ctx.dir.custom_fields)?;
    let migration =
        if def.field_type != before.field_type || def.decimal_places != before.decimal_places {
            let stored = db.custom_values_of(id).await?;
            custom_fields::convert_values(&before, &def, &stored)?
        } else {
            ValueMigration::None
        };
    if def == before && renames.is_empty() {
        return Ok(before);
    }
    db.update_custom_field(&def, &renames, migration).await?;
    super::audit::setting(db, ctx, "custom_fields::update_custom_field", "").await?;
    Ok(def)
}
