//! Merging two accounts, contacts or leads in one transaction: the survivor's new values,
//! everything that pointed at the merged record moved to the survivor, the merged record
//! archived, and the merge logged with a copy of the merged record.

use shangji_core::merge::Merge;
use shangji_core::model::{Id, RecordKind};

use crate::crud::update_sql;
use crate::db::{bind_all, ms, Db, RowExt, Sql};
use crate::entity::Entity;
use crate::error::StoreError;
use crate::on_pool;

/// What points at a record of each kind, as `(table, column, extra condition)`: the rows
/// that move to the survivor.
fn references(kind: RecordKind) -> &'static [(&'static str, &'static str, &'static str)] {
    match kind {
        RecordKind::Account => &[
            ("contacts", "account_id", ""),
            ("opportunities", "account_id", ""),
            ("activities", "account_id", ""),
            ("tasks", "record_id", " AND record_kind = 'account'"),
            ("lead_outcomes", "account_id", ""),
        ],
        RecordKind::Contact => &[
            ("activities", "contact_id", ""),
            ("opportunities", "primary_contact_id", ""),
            ("opportunity_contacts", "contact_id", ""),
            ("tasks", "record_id", " AND record_kind = 'contact'"),
            ("lead_outcomes", "contact_id", ""),
        ],
        RecordKind::Lead => &[
            ("activities", "lead_id", ""),
            ("tasks", "record_id", " AND record_kind = 'lead'"),
            ("web_form_submissions", "lead_id", ""),
            ("lead_outcomes", "lead_id", ""),
            ("lead_score_events", "lead_id", ""),
        ],
        RecordKind::Opportunity => &[],
    }
}

fn merge_from_row<R: RowExt>(r: &R) -> Result<Merge, StoreError> {
    Ok(Merge {
        id: r.i64("id")?,
        record_kind: r.parse("record_kind")?,
        survivor_id: r.i64("survivor_id")?,
        merged_id: r.i64("merged_id")?,
        actor_id: r.i64("actor_id")?,
        at: r.ts("at")?,
        taken: r.json("taken")?,
        merged: r.json("merged")?,
    })
}

impl Db {
    /// Merges record `log.merged_id` into `survivor` (saved with its picked values if its
    /// version is still `expected_version`): all or nothing. Returns how many rows moved.
    pub async fn merge_records<E: Entity>(
        &self,
        survivor: &E,
        expected_version: i64,
        log: &Merge,
    ) -> Result<u64, StoreError> {
        let kind = log.record_kind;
        let (s, m) = (log.survivor_id, log.merged_id);
        let update = update_sql(survivor, &survivor.columns(), expected_version);
        let taken =
            serde_json::to_string(&log.taken).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let merged =
            serde_json::to_string(&log.merged).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let n = bind_all!(sqlx::query(&update.text), &update.args).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                let current: Option<i64> = sqlx::query_scalar(&format!("SELECT version FROM {} WHERE id = $1", E::TABLE))
                    .bind(s)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(match current {
                    Some(current_version) => StoreError::Conflict { current_version },
                    None => StoreError::NotFound,
                });
            }
            let archived = sqlx::query(&format!("UPDATE {} SET archived = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND archived = $4", E::TABLE))
                .bind(true)
                .bind(ms(log.at))
                .bind(m)
                .bind(false)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if archived == 0 {
                return Err(StoreError::NotFound);
            }
            let mut moved = 0;
            if kind == RecordKind::Contact {
                // A deal the survivor already takes part in keeps the survivor's role.
                sqlx::query("DELETE FROM opportunity_contacts WHERE contact_id = $1 AND opportunity_id IN (SELECT opportunity_id FROM opportunity_contacts WHERE contact_id = $2)")
                    .bind(m)
                    .bind(s)
                    .execute(&mut *tx)
                    .await?;
            }
            for (table, column, condition) in references(kind) {
                moved += sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2{condition}"))
                    .bind(s)
                    .bind(m)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            // Custom values the survivor lacks come from the merged record.
            moved += sqlx::query("UPDATE custom_values SET record_id = $1 WHERE record_kind = $3 AND record_id = $2 AND field_id NOT IN (SELECT field_id FROM custom_values WHERE record_kind = $3 AND record_id = $1)")
                .bind(s)
                .bind(m)
                .bind(kind.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("INSERT INTO record_merges (record_kind, survivor_id, merged_id, actor_id, at, taken, merged) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(kind.as_str())
                .bind(s)
                .bind(m)
                .bind(log.actor_id)
                .bind(ms(log.at))
                .bind(taken)
                .bind(merged)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(moved)
        })
    }

    /// The merges a record took part in, as survivor or as merged, newest first.
    pub async fn merges_of(&self, kind: RecordKind, id: Id) -> Result<Vec<Merge>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM record_merges WHERE record_kind = ");
        sql.bind(kind.as_str())
            .push(" AND (survivor_id = ")
            .bind(id);
        sql.push(" OR merged_id = ")
            .bind(id)
            .push(") ORDER BY at DESC, id DESC");
        self.some_merges(sql).await
    }

    /// The latest merges across the company, newest first.
    pub async fn merges(&self, limit: i64) -> Result<Vec<Merge>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM record_merges ORDER BY at DESC, id DESC LIMIT ");
        sql.bind(limit);
        self.some_merges(sql).await
    }

    async fn some_merges(&self, sql: Sql) -> Result<Vec<Merge>, StoreError> {
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(merge_from_row).collect()
        })
    }
}
