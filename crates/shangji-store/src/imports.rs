//! Imports: the uploaded file, its mapping and progress, and the records each created or
//! changed (`shangji_core::import`).

use shangji_core::custom_fields::CustomChange;
use shangji_core::import::activities::Named;
use shangji_core::import::{ImportBatch, ImportedKind, ImportedRecord};
use shangji_core::model::{Id, Opportunity, RecordKind};
use shangji_core::opportunity::NewEvent;
use sqlx::Row;

use crate::crud::{push_events_insert, push_insert, EventsOf, ImportMark};
use crate::custom::{push_values_insert, rows_of};
use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::Entity;
use crate::error::StoreError;
use crate::on_pool;

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn batch_from_row(r: &impl RowExt) -> Result<ImportBatch, StoreError> {
    Ok(ImportBatch {
        id: r.i64("id")?,
        kind: r.parse("kind")?,
        file_name: r.text("file_name")?,
        created_by: r.i64("created_by")?,
        created_at: r.ts("created_at")?,
        status: r.parse("status")?,
        mapping: r.json("mapping")?,
        options: r.json("options")?,
        total_rows: r.i64("total_rows")? as u32,
        done_rows: r.i64("done_rows")? as u32,
        summary: r.json("summary")?,
        error: r.opt_text("error")?,
        finished_at: r.opt_ts("finished_at")?,
        rolled_back_at: r.opt_ts("rolled_back_at")?,
        history_name: r.opt_text("history_name")?,
        mapping_from: r.opt_i64("mapping_from")?,
    })
}

/// Every column but the file.
const COLUMNS: &str = "id, kind, file_name, created_by, created_at, status, mapping, options, total_rows, done_rows, summary, error, finished_at, rolled_back_at, history_name, mapping_from";

impl Db {
    /// Stores an uploaded file and its import; the import's id.
    /// `headers_key` tells its headers apart (`shangji_core::import::headers_key`).
    pub async fn insert_import(
        &self,
        b: &ImportBatch,
        headers_key: &str,
        file: &[u8],
    ) -> Result<Id, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO imports (kind, file_name, created_by, created_at, status, mapping, options, total_rows, done_rows, summary, headers_key, mapping_from, file) VALUES (",
        );
        sql.bind(b.kind.as_str())
            .push(", ")
            .bind(b.file_name.clone());
        sql.push(", ")
            .bind(b.created_by)
            .push(", ")
            .bind(b.created_at);
        sql.push(", ")
            .bind(b.status.as_str())
            .push(", ")
            .bind(json(&b.mapping)?);
        sql.push(", ")
            .bind(json(&b.options)?)
            .push(", ")
            .bind(i64::from(b.total_rows));
        sql.push(", ")
            .bind(i64::from(b.done_rows))
            .push(", ")
            .bind(json(&b.summary)?);
        sql.push(", ")
            .bind(headers_key)
            .push(", ")
            .bind(b.mapping_from);
        let n = sql.args.len() + 1;
        sql.push(&format!(", ${n}) RETURNING id"));
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args)
            .bind(file.to_vec())
            .fetch_one(p)
            .await?))
    }

    /// The mapping of the last import of `kind` with these headers that ran (or started):
    /// its id and mapping.
    pub async fn saved_mapping(
        &self,
        kind: shangji_core::import::ImportKind,
        headers_key: &str,
    ) -> Result<Option<(Id, shangji_core::import::Mapping)>, StoreError> {
        let mut sql = Sql::new("SELECT id, mapping FROM imports WHERE kind = ");
        sql.bind(kind.as_str())
            .push(" AND headers_key = ")
            .bind(headers_key);
        sql.push(" AND status <> ")
            .bind(shangji_core::import::ImportStatus::Uploaded.as_str())
            .push(" ORDER BY id DESC LIMIT 1");
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.map(|r| Ok((r.i64("id")?, r.json("mapping")?))).transpose()
        })
    }

    /// An import (without its file).
    pub async fn import(&self, id: Id) -> Result<Option<ImportBatch>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM imports WHERE id = "));
        sql.bind(id);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(batch_from_row).transpose()
        })
    }

    /// The latest imports, newest first.
    pub async fn imports(&self, limit: i64) -> Result<Vec<ImportBatch>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM imports ORDER BY id DESC LIMIT "
        ));
        sql.bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(batch_from_row).collect()
        })
    }

    /// The file an import was uploaded with.
    pub async fn import_file(&self, id: Id) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT file FROM imports WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            row.map(|r| r.try_get::<Vec<u8>, _>("file").map_err(StoreError::from))
                .transpose()
        })
    }

    /// Keeps an opportunities import's stage-history file (replacing an earlier one) — only
    /// while the import has not started; whether it was kept.
    pub async fn set_import_history(
        &self,
        id: Id,
        name: &str,
        file: &[u8],
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(sqlx::query("UPDATE imports SET history_name = $1, history_file = $2 WHERE id = $3 AND status = $4")
            .bind(name)
            .bind(file.to_vec())
            .bind(id)
            .bind(shangji_core::import::ImportStatus::Uploaded.as_str())
            .execute(p)
            .await?
            .rows_affected() == 1))
    }

    /// An import's stage-history file, if it has one.
    pub async fn import_history_file(&self, id: Id) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT history_file FROM imports WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            Ok(row.and_then(|r| r.try_get::<Option<Vec<u8>>, _>("history_file").ok().flatten()))
        })
    }

    /// Saves an import's state (status, mapping, options, progress, outcome) — only while it
    /// is in `from` (so that two instances cannot both start or roll back one import);
    /// whether it was.
    pub async fn save_import(
        &self,
        b: &ImportBatch,
        from: shangji_core::import::ImportStatus,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE imports SET status = ");
        sql.bind(b.status.as_str())
            .push(", mapping = ")
            .bind(json(&b.mapping)?);
        sql.push(", options = ")
            .bind(json(&b.options)?)
            .push(", total_rows = ")
            .bind(i64::from(b.total_rows));
        sql.push(", done_rows = ")
            .bind(i64::from(b.done_rows))
            .push(", summary = ")
            .bind(json(&b.summary)?);
        sql.push(", error = ")
            .bind(b.error.clone())
            .push(", finished_at = ")
            .bind(b.finished_at);
        sql.push(", rolled_back_at = ")
            .bind(b.rolled_back_at)
            // The heartbeat is the machine's time, not the business clock: it says whether
            // the runner is alive.
            .push(", beat_at = ")
            .bind(time::OffsetDateTime::now_utc())
            .push(" WHERE id = ")
            .bind(b.id);
        sql.push(" AND status = ").bind(from.as_str());
        Ok(self.execute(&sql).await? == 1)
    }

    /// Running imports whose runner last saved progress (wall-clock time) before `before`.
    pub async fn stalled_imports(
        &self,
        before: time::OffsetDateTime,
    ) -> Result<Vec<ImportBatch>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM imports WHERE status = "));
        sql.bind(shangji_core::import::ImportStatus::Running.as_str())
            .push(" AND (beat_at IS NULL OR beat_at < ")
            .bind(before)
            .push(") ORDER BY id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(batch_from_row).collect()
        })
    }

    /// Writes the deals of an opportunities import — each opportunity with its external id,
    /// its custom values and its whole history, and the import's record of it — all or
    /// nothing; their ids, in order.
    pub async fn save_imported_deals(
        &self,
        import_id: Id,
        deals: &[ImportedDeal<'_>],
    ) -> Result<Vec<Id>, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let mut ids = Vec::with_capacity(deals.len());
            for d in deals {
                let mut cols = d.opp.columns();
                cols.push(("external_id", d.external_id.map(str::to_string).into()));
                let mut sql = Sql::new("");
                push_insert(&mut sql, "opportunities", &cols);
                let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                for events in d.events.chunks(40) {
                    let mut sql = Sql::new("");
                    push_events_insert(&mut sql, EventsOf::Id(id), events);
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
                let rows = rows_of(d.custom);
                if !rows.is_empty() {
                    let mut sql = Sql::new("");
                    push_values_insert(&mut sql, RecordKind::Opportunity, EventsOf::Id(id), &rows);
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
                let mark = ImportMark { import_id, row: d.row as i64, kind: ImportedKind::Opportunity };
                let mut sql = Sql::new("");
                mark.push_insert(&mut sql, &id.to_string(), "(SELECT 1) AS one");
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                ids.push(id);
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// Records what an import created or changed.
    pub async fn insert_imported(&self, records: &[ImportedRecord]) -> Result<(), StoreError> {
        // Seven parameters a row: SQLite binds numbered parameters in quadratic time, so
        // statements stay small.
        for chunk in records.chunks(50) {
            let mut sql = Sql::new(
                "INSERT INTO import_rows (import_id, row_no, record_kind, record_id, action, before, version_after) VALUES ",
            );
            for (i, r) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.bind(r.import_id)
                    .push(", ")
                    .bind(r.row as i64)
                    .push(", ");
                sql.bind(r.record_kind.as_str())
                    .push(", ")
                    .bind(r.record_id)
                    .push(", ");
                sql.bind(if r.before.is_some() {
                    "updated"
                } else {
                    "created"
                })
                .push(", ")
                .bind(r.before.clone())
                .push(", ")
                .bind(r.version_after)
                .push(")");
            }
            self.execute(&sql).await?;
        }
        Ok(())
    }

    /// What an import created or changed, in the order it did.
    pub async fn imported(&self, import_id: Id) -> Result<Vec<ImportedRecord>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM import_rows WHERE import_id = ");
        sql.bind(import_id).push(" ORDER BY row_no, record_kind");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(ImportedRecord {
                        import_id: r.i64("import_id")?,
                        row: r.i64("row_no")? as usize,
                        record_kind: r.parse("record_kind")?,
                        record_id: r.i64("record_id")?,
                        before: r.opt_text("before")?,
                        version_after: r.i64("version_after")?,
                    })
                })
                .collect()
        })
    }

    /// Deletes a record an import created, with what only it had (custom values, score and
    /// ownership history, its duplicate reviews), in one transaction; `false` when something
    /// else refers to it (a follow-up, a deal, a contact, a task), which then stays. A
    /// follow-up or a task has nothing of its own and nothing refers to it.
    pub async fn delete_imported(&self, kind: ImportedKind, id: Id) -> Result<bool, StoreError> {
        let (table, kind) = match kind {
            ImportedKind::Account => ("accounts", RecordKind::Account),
            ImportedKind::Contact => ("contacts", RecordKind::Contact),
            ImportedKind::Lead => ("leads", RecordKind::Lead),
            ImportedKind::Opportunity => return Ok(false),
            ImportedKind::Activity | ImportedKind::Task => {
                let table = if kind == ImportedKind::Task {
                    "tasks"
                } else {
                    "activities"
                };
                let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE id = "));
                sql.bind(id);
                self.execute(&sql).await?;
                return Ok(true);
            }
        };
        let k = kind.as_str();
        let mut statements = vec![
            format!("DELETE FROM custom_values WHERE record_kind = '{k}' AND record_id = {id}"),
            format!("DELETE FROM duplicate_reviews WHERE record_kind = '{k}' AND record_id = {id}"),
        ];
        if kind != RecordKind::Contact {
            statements.push(format!(
                "DELETE FROM ownership_events WHERE record_kind = '{k}' AND record_id = {id}"
            ));
        }
        if kind == RecordKind::Lead {
            statements.push(format!(
                "DELETE FROM lead_score_events WHERE lead_id = {id}"
            ));
        }
        statements.push(format!("DELETE FROM {table} WHERE id = {id}"));
        let _writer = self.writer().await;
        let done: Result<(), StoreError> = on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            for s in &statements {
                sqlx::query(s).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        });
        match done {
            Ok(()) => Ok(true),
            // Rolled back: something refers to it.
            Err(StoreError::BrokenReference(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Db {
    /// The records (not archived) of `kind` a follow-ups or tasks file may name by these
    /// texts, compared without case: contacts by name, opportunities by title or external id,
    /// leads by company or contact name (accounts are found as duplicates are). Each with the
    /// texts it is known by and its account; the caller tells them apart
    /// (`shangji_core::import::activities::find`).
    pub async fn records_named(
        &self,
        kind: RecordKind,
        texts: &[String],
    ) -> Result<Vec<Named>, StoreError> {
        let (select, columns): (&str, &[&str]) = match kind {
            RecordKind::Contact => ("SELECT id, name, account_id FROM contacts", &["name"]),
            RecordKind::Opportunity => (
                "SELECT id, title, external_id, account_id FROM opportunities",
                &["title", "external_id"],
            ),
            RecordKind::Lead => (
                "SELECT id, company_name, contact_name FROM leads",
                &["company_name", "contact_name"],
            ),
            RecordKind::Account => return Ok(vec![]),
        };
        let lower: Vec<String> = texts.iter().map(|t| t.trim().to_lowercase()).collect();
        let mut out: Vec<Named> = Vec::new();
        for chunk in lower.chunks(CHUNK) {
            let mut sql = Sql::new(select);
            sql.push(" WHERE archived = ").bind(false).push(" AND (");
            for (c, column) in columns.iter().enumerate() {
                if c > 0 {
                    sql.push(" OR ");
                }
                sql.push(&format!("LOWER({column}) IN ("));
                for (i, t) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(t.as_str());
                }
                sql.push(")");
            }
            sql.push(") ORDER BY id");
            let rows: Vec<Named> = on_pool!(self, p => {
                let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
                rows.iter()
                    .map(|r| {
                        let text = |c: &str| r.opt_text(c);
                        Ok(match kind {
                            RecordKind::Contact => Named {
                                id: r.i64("id")?,
                                names: text("name")?.into_iter().collect(),
                                external_id: None,
                                account_id: r.opt_i64("account_id")?,
                            },
                            RecordKind::Opportunity => Named {
                                id: r.i64("id")?,
                                names: text("title")?.into_iter().collect(),
                                external_id: text("external_id")?,
                                account_id: r.opt_i64("account_id")?,
                            },
                            _ => Named {
                                id: r.i64("id")?,
                                names: [text("company_name")?, text("contact_name")?]
                                    .into_iter()
                                    .flatten()
                                    .collect(),
                                external_id: None,
                                account_id: None,
                            },
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
            });
            for n in rows {
                if !out.iter().any(|o| o.id == n.id) {
                    out.push(n);
                }
            }
        }
        Ok(out)
    }
}

/// Texts per statement in each `IN (…)` list.
const CHUNK: usize = 300;

/// A deal an opportunities import writes (see [`Db::save_imported_deals`]).
pub struct ImportedDeal<'a> {
    /// The row of the file it comes from.
    pub row: usize,
    pub opp: &'a Opportunity,
    pub external_id: Option<&'a str>,
    pub events: &'a [NewEvent],
    pub custom: &'a [CustomChange],
}
