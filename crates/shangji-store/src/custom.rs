//! Custom fields: their definitions, and their values in `custom_values` — the one place
//! values live, one row per value (one per chosen option of a multi-select). Every `get` and
//! `list` of a record kind with custom fields fills the records' `custom` from it (one query
//! per page); `Db::save_with_custom` writes changed values in the record's transaction.

use std::collections::HashMap;

use shangji_core::custom_fields::{
    value_of, CustomChange, CustomFieldDef, CustomRow, IndexValue, OptionRename, StoredValue,
    ValueMigration,
};
use shangji_core::model::*;

use crate::crud::EventsOf;
use crate::db::{bind_all, Arg, Db, RowExt, Sql};
use crate::entity::Entity;
use crate::error::StoreError;
use crate::on_pool;

/// How a list filter compares a custom field's stored values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Equal (a multi-select: has this option).
    Eq,
    AtLeast,
    AtMost,
}

/// A list filter on a custom field: the records with a value that compares so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFilter {
    pub field_id: Id,
    pub compare: Compare,
    pub value: IndexValue,
}

/// Appends the condition of a custom filter on `table`'s records: a lookup in the field's
/// text or number index.
pub(crate) fn push_custom_filter(sql: &mut Sql, table: &str, f: &CustomFilter) {
    let op = match f.compare {
        Compare::Eq => "=",
        Compare::AtLeast => ">=",
        Compare::AtMost => "<=",
    };
    sql.push(&format!(
        " AND {table}.id IN (SELECT record_id FROM custom_values WHERE field_id = "
    ))
    .bind(f.field_id);
    match &f.value {
        IndexValue::Text(v) => sql.push(&format!(" AND value_text {op} ")).bind(v.clone()),
        IndexValue::Num(v) => sql.push(&format!(" AND value_num {op} ")).bind(*v),
    };
    sql.push(")");
}

/// The rows that store the new values of `changes`, with their field.
pub(crate) fn rows_of(changes: &[CustomChange]) -> Vec<(Id, CustomRow)> {
    changes
        .iter()
        .flat_map(|c| c.rows.iter().map(move |r| (c.field_id, r.clone())))
        .collect()
}

/// Appends one statement inserting a record's value rows (not empty).
pub(crate) fn push_values_insert(
    sql: &mut Sql,
    kind: RecordKind,
    of: EventsOf,
    rows: &[(Id, CustomRow)],
) {
    sql.push("INSERT INTO custom_values (record_kind, record_id, field_id, value_text, value_num, value_long) SELECT ");
    sql.bind(kind.as_str()).push(", ");
    match of {
        EventsOf::Id(id) => sql.bind(id),
        EventsOf::CteO => sql.push("o.id"),
    };
    sql.push(", v.column1, v.column2, v.column3, v.column4 FROM ");
    if let EventsOf::CteO = of {
        sql.push("o, ");
    }
    sql.push("(VALUES ");
    for (i, (field_id, row)) in rows.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(*field_id).push(", ");
        sql.bind(row.value_text.clone()).push(", ");
        sql.bind(row.value_num).push(", ");
        sql.bind(row.value_long.clone()).push(")");
    }
    sql.push(") AS v");
}

/// Appends the statement removing the stored values of the changed fields of one record.
pub(crate) fn push_values_delete(
    sql: &mut Sql,
    kind: RecordKind,
    id: Id,
    changes: &[CustomChange],
) {
    let fields: Vec<Id> = changes.iter().map(|c| c.field_id).collect();
    sql.push("DELETE FROM custom_values WHERE record_kind = ")
        .bind(kind.as_str())
        .push(" AND record_id = ")
        .bind(id)
        .push(" AND field_id IN ")
        .bind_list(&fields);
}

pub(crate) fn def_from_row<R: RowExt>(r: &R) -> Result<CustomFieldDef, StoreError> {
    Ok(CustomFieldDef {
        id: r.i64("id")?,
        record_kind: r.parse("record_kind")?,
        key: r.text("key")?,
        label_zh: r.text("label_zh")?,
        label_en: r.text("label_en")?,
        field_type: r.parse("field_type")?,
        required: r.bool("required")?,
        options: r.json("options")?,
        validation: r.json("validation")?,
        decimal_places: r.opt_i32("decimal_places")?,
        help_zh: r.opt_text("help_zh")?,
        help_en: r.opt_text("help_en")?,
        position: r.i32("position")?,
        archived: r.bool("archived")?,
    })
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<Arg, StoreError> {
    serde_json::to_string(v)
        .map(|s| Arg::Text(Some(s)))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn def_columns(d: &CustomFieldDef) -> Result<Vec<(&'static str, Arg)>, StoreError> {
    Ok(vec![
        ("record_kind", d.record_kind.as_str().into()),
        ("key", d.key.clone().into()),
        ("label_zh", d.label_zh.clone().into()),
        ("label_en", d.label_en.clone().into()),
        ("field_type", d.field_type.as_str().into()),
        ("required", d.required.into()),
        ("options", json_text(&d.options)?),
        ("validation", json_text(&d.validation)?),
        ("decimal_places", d.decimal_places.into()),
        ("help_zh", d.help_zh.clone().into()),
        ("help_en", d.help_en.clone().into()),
        ("position", d.position.into()),
        ("archived", d.archived.into()),
    ])
}

/// Reads value rows joined with their definitions (`f.*` and `v_record_id`, `v_text`,
/// `v_num`, `v_long`, ordered by record and field) into each record's values.
fn read_values<R: RowExt>(rows: &[R]) -> Result<HashMap<Id, CustomValues>, StoreError> {
    let mut defs: HashMap<Id, CustomFieldDef> = HashMap::new();
    let mut out: HashMap<Id, CustomValues> = HashMap::new();
    let mut group: Option<(Id, Id, Vec<CustomRow>)> = None;
    let mut flush = |group: Option<(Id, Id, Vec<CustomRow>)>,
                     defs: &HashMap<Id, CustomFieldDef>|
     -> Result<(), StoreError> {
        if let Some((record, field, rows)) = group {
            let def = &defs[&field];
            let value = value_of(def, &rows).map_err(StoreError::Corrupt)?;
            out.entry(record)
                .or_default()
                .insert(def.key.clone(), value);
        }
        Ok(())
    };
    for r in rows {
        let record = r.i64("v_record_id")?;
        let field = r.i64("id")?;
        if let std::collections::hash_map::Entry::Vacant(e) = defs.entry(field) {
            e.insert(def_from_row(r)?);
        }
        let row = CustomRow {
            value_text: r.opt_text("v_text")?,
            value_num: r.opt_i64("v_num")?,
            value_long: r.opt_text("v_long")?,
        };
        match &mut group {
            Some((rec, fld, rows)) if *rec == record && *fld == field => rows.push(row),
            _ => {
                let done = group.replace((record, field, vec![row]));
                flush(done, &defs)?;
            }
        }
    }
    flush(group, &defs)?;
    Ok(out)
}

impl Db {
    /// Fills the custom values of records of one kind (one query for all of them).
    pub(crate) async fn fill_custom<E: Entity>(&self, items: &mut [E]) -> Result<(), StoreError> {
        let Some(kind) = E::CUSTOM else {
            return Ok(());
        };
        if items.is_empty() {
            return Ok(());
        }
        // No field of this kind as of the directory this instance last read (each request
        // reads it first): no value to look for.
        let none_defined = self
            .shared
            .directory
            .lock()
            .expect("directory cache")
            .as_ref()
            .is_some_and(|d| d.custom_fields_of(kind).next().is_none());
        if none_defined {
            return Ok(());
        }
        let ids: Vec<Id> = items.iter().map(|r| r.id()).collect();
        let mut sql = Sql::new(
            "SELECT f.*, v.record_id AS v_record_id, v.value_text AS v_text, v.value_num AS v_num, v.value_long AS v_long FROM custom_values v JOIN custom_fields f ON f.id = v.field_id WHERE v.record_kind = ",
        );
        sql.bind(kind.as_str()).push(" AND v.record_id IN ");
        sql.bind_list(&ids);
        sql.push(" ORDER BY v.record_id, v.field_id");
        let mut values = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            read_values(&rows)?
        });
        for item in items {
            let id = item.id();
            if let Some(custom) = item.custom_mut() {
                *custom = values.remove(&id).unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Every custom field definition, archived ones too, by record kind and position.
    pub async fn custom_fields(&self) -> Result<Vec<CustomFieldDef>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM custom_fields ORDER BY record_kind, position, id")
                .fetch_all(p)
                .await?;
            rows.iter().map(def_from_row).collect()
        })
    }

    /// Stores a new definition; a key already used by the record kind is `Duplicate`.
    pub async fn insert_custom_field(&self, d: &CustomFieldDef) -> Result<Id, StoreError> {
        let cols = def_columns(d)?;
        let mut sql = Sql::new("INSERT INTO custom_fields (");
        sql.push(&cols.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "));
        sql.push(") VALUES (");
        for (i, (_, v)) in cols.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(v);
        }
        sql.push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Changes a definition and, in the same transaction, its stored values: each option
    /// rename is one statement over the field's values, and so is a migration for a type or
    /// decimal-places change. Key and record kind are never changed.
    pub async fn update_custom_field(
        &self,
        d: &CustomFieldDef,
        renames: &[OptionRename],
        migration: ValueMigration,
    ) -> Result<(), StoreError> {
        let mut update = Sql::new("UPDATE custom_fields SET ");
        for (i, (col, v)) in def_columns(d)?
            .into_iter()
            .filter(|(c, _)| *c != "key" && *c != "record_kind")
            .enumerate()
        {
            if i > 0 {
                update.push(", ");
            }
            update.push(&format!("{col} = ")).bind(v);
        }
        update.push(" WHERE id = ").bind(d.id);
        let mut statements = Vec::new();
        for r in renames {
            let mut sql = Sql::new("UPDATE custom_values SET value_text = ");
            sql.bind(r.to.clone())
                .push(" WHERE field_id = ")
                .bind(d.id)
                .push(" AND value_text = ")
                .bind(r.from.clone());
            statements.push(sql);
        }
        let set = match migration {
            ValueMigration::None => None,
            ValueMigration::TextToLong => Some(Sql::new(
                "UPDATE custom_values SET value_long = value_text, value_text = NULL",
            )),
            ValueMigration::LongToText => Some(Sql::new(
                "UPDATE custom_values SET value_text = value_long, value_long = NULL",
            )),
            ValueMigration::Multiply(k) => {
                let mut s = Sql::new("UPDATE custom_values SET value_num = value_num * ");
                s.bind(k);
                Some(s)
            }
            ValueMigration::Divide(k) => {
                let mut s = Sql::new("UPDATE custom_values SET value_num = value_num / ");
                s.bind(k);
                Some(s)
            }
        };
        if let Some(mut s) = set {
            s.push(" WHERE field_id = ").bind(d.id);
            statements.push(s);
        }
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let n = bind_all!(sqlx::query(&update.text), &update.args).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            for s in &statements {
                bind_all!(sqlx::query(&s.text), &s.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every stored value row of one field (to check a type change).
    pub async fn custom_values_of(&self, field_id: Id) -> Result<Vec<StoredValue>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT record_id, value_text, value_num, value_long FROM custom_values WHERE field_id = $1 ORDER BY record_id")
                .bind(field_id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(StoredValue {
                        record_id: r.i64("record_id")?,
                        row: CustomRow {
                            value_text: r.opt_text("value_text")?,
                            value_num: r.opt_i64("value_num")?,
                            value_long: r.opt_text("value_long")?,
                        },
                    })
                })
                .collect()
        })
    }
}
