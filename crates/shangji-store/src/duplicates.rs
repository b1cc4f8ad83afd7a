//! Duplicate candidates across the whole company (no visibility scope: the operations decide
//! what the caller may be told), and filling in the name keys of rows written before they
//! existed.

use shangji_core::duplicates::{company_key, name_stem, DuplicateReview, MatchedOn, ReviewStatus};
use shangji_core::model::*;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

/// What a record being saved is matched on; `None` fields are not looked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The record itself (left out of the answer), when it is stored already.
    pub exclude: Option<(RecordKind, i64)>,
    pub credit_code: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    /// The company name's key (`duplicates::company_key`): equal keys always match.
    pub name_key: Option<String>,
    /// The key's stem (`duplicates::name_stem`): where similar names are looked for.
    pub name_stem: Option<String>,
}

/// A stored record that shares a key with the probe (names still to be compared).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub kind: RecordKind,
    pub id: i64,
    pub name: String,
    pub owner_id: Option<UserId>,
    pub on: MatchedOn,
    /// The company name's key, for candidates found by name.
    pub key: Option<String>,
}

/// How many candidates one lookup returns at most.
const LIMIT: i64 = 200;

impl Db {
    /// Unarchived accounts, contacts and open leads sharing a credit code, a mobile, an email
    /// or a company-name stem with the probe, across the whole company.
    pub async fn duplicate_candidates(&self, probe: &Probe) -> Result<Vec<Candidate>, StoreError> {
        // (table, kind, name expression, key column, the column matched, what it is)
        let lead_name = "COALESCE(company_name, contact_name)";
        let mut lookups: Vec<(&str, RecordKind, &str, &str, &str, MatchedOn, &String)> = vec![];
        if let Some(c) = &probe.credit_code {
            lookups.push((
                "accounts",
                RecordKind::Account,
                "name",
                "name_key",
                "credit_code",
                MatchedOn::CreditCode,
                c,
            ));
        }
        for (value, column, on) in [
            (&probe.mobile, "mobile", MatchedOn::Mobile),
            (&probe.email, "email", MatchedOn::Email),
        ] {
            if let Some(v) = value {
                lookups.push((
                    "contacts",
                    RecordKind::Contact,
                    "name",
                    "NULL",
                    column,
                    on,
                    v,
                ));
                lookups.push(("leads", RecordKind::Lead, lead_name, "NULL", column, on, v));
            }
        }
        // Equal keys first (all of them), then names sharing the stem (the first ones).
        for (value, account_col, lead_col) in [
            (&probe.name_key, "name_key", "company_key"),
            (&probe.name_stem, "name_stem", "company_stem"),
        ] {
            if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
                lookups.push((
                    "accounts",
                    RecordKind::Account,
                    "name",
                    "name_key",
                    account_col,
                    MatchedOn::Name,
                    v,
                ));
                lookups.push((
                    "leads",
                    RecordKind::Lead,
                    lead_name,
                    "company_key",
                    lead_col,
                    MatchedOn::Name,
                    v,
                ));
            }
        }
        if lookups.is_empty() {
            return Ok(vec![]);
        }
        // One statement: each lookup's first rows, told apart by its position `n`.
        let mut sql = Sql::new("SELECT * FROM (");
        for (n, (table, kind, name, key, column, _, value)) in lookups.iter().enumerate() {
            if n > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!(
                "SELECT * FROM (SELECT id, {name} AS name, owner_id, {key} AS k, {n} AS n FROM {table} WHERE {column} = "
            ));
            sql.bind((*value).clone())
                .push(" AND archived = ")
                .bind(false);
            if *kind == RecordKind::Lead {
                sql.push(" AND status IN ('new', 'working')");
            }
            if let Some((_, id)) = probe.exclude.filter(|(k, _)| k == kind) {
                sql.push(" AND id <> ").bind(id);
            }
            sql.push(" ORDER BY id LIMIT ").bind(LIMIT);
            sql.push(&format!(") AS q{n}"));
        }
        sql.push(") AS found ORDER BY n, id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let (_, kind, _, _, _, on, _) = lookups[r.i32("n")? as usize];
                    Ok(Candidate {
                        kind,
                        id: r.i64("id")?,
                        name: r.opt_text("name")?.unwrap_or_default(),
                        owner_id: r.opt_i64("owner_id")?,
                        on,
                        key: r.opt_text("k")?,
                    })
                })
                .collect()
        })
    }

    /// Fills in the company-name keys of rows stored before they were kept (run after the
    /// migrations; a no-op once every row has its key).
    pub async fn backfill_name_keys(&self) -> Result<u64, StoreError> {
        let mut done = 0;
        for (table, name, key, stem) in [
            ("accounts", "name", "name_key", "name_stem"),
            ("leads", "company_name", "company_key", "company_stem"),
        ] {
            loop {
                let mut sql = Sql::new(&format!(
                    "SELECT id, {name} AS name FROM {table} WHERE {key} IS NULL AND {name} IS NOT NULL ORDER BY id LIMIT "
                ));
                sql.bind(1000_i64);
                let rows: Vec<(i64, String)> = on_pool!(self, p => {
                    let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
                    rows.iter()
                        .map(|r| Ok((r.i64("id")?, r.text("name")?)))
                        .collect::<Result<Vec<_>, StoreError>>()?
                });
                if rows.is_empty() {
                    break;
                }
                for (id, n) in rows {
                    let k = company_key(&n);
                    let mut sql = Sql::new(&format!("UPDATE {table} SET {key} = "));
                    sql.bind(k.clone())
                        .push(&format!(", {stem} = "))
                        .bind(name_stem(&k))
                        .push(" WHERE id = ")
                        .bind(id);
                    done += self.execute(&sql).await?;
                }
            }
        }
        Ok(done)
    }

    /// Records a duplicate sent to the manager; returns its id.
    pub async fn insert_duplicate_review(&self, r: &DuplicateReview) -> Result<i64, StoreError> {
        let matched =
            serde_json::to_string(&r.matched).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut sql = Sql::new(
            "INSERT INTO duplicate_reviews (record_kind, record_id, matched, requested_by, requested_at, status) VALUES (",
        );
        sql.bind(r.record_kind.as_str())
            .push(", ")
            .bind(r.record_id);
        sql.push(", ").bind(matched).push(", ").bind(r.requested_by);
        sql.push(", ")
            .bind(r.requested_at)
            .push(", ")
            .bind(r.status.as_str());
        sql.push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Duplicates sent to managers, newest first: those still waiting (`pending_only`), or
    /// the last `limit` of any status.
    pub async fn duplicate_reviews(
        &self,
        pending_only: bool,
        limit: i64,
    ) -> Result<Vec<DuplicateReview>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM duplicate_reviews");
        if pending_only {
            sql.push(" WHERE status = ")
                .bind(ReviewStatus::Pending.as_str());
        }
        sql.push(" ORDER BY requested_at DESC, id DESC LIMIT ")
            .bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(review_from_row).collect()
        })
    }

    pub async fn duplicate_review(&self, id: i64) -> Result<Option<DuplicateReview>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM duplicate_reviews WHERE id = ");
        sql.bind(id);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(review_from_row).transpose()
        })
    }

    /// Decides the pending reviews `ids` (another decision first: nothing, `false`).
    pub async fn decide_duplicate_reviews(
        &self,
        ids: &[i64],
        status: ReviewStatus,
        by: UserId,
        at: time::OffsetDateTime,
        note: Option<String>,
    ) -> Result<bool, StoreError> {
        if ids.is_empty() {
            return Ok(false);
        }
        let mut sql = Sql::new("UPDATE duplicate_reviews SET status = ");
        sql.bind(status.as_str()).push(", decided_by = ").bind(by);
        sql.push(", decided_at = ")
            .bind(at)
            .push(", note = ")
            .bind(note);
        sql.push(" WHERE status = ")
            .bind(ReviewStatus::Pending.as_str());
        sql.push(" AND id IN ").bind_list(ids);
        Ok(self.execute(&sql).await? > 0)
    }

    /// The pending reviews any of the records `ids` of `kind` takes part in: as the record
    /// reviewed, or as one it matched.
    pub async fn pending_reviews_of(
        &self,
        kind: RecordKind,
        ids: &[i64],
    ) -> Result<Vec<DuplicateReview>, StoreError> {
        let takes_part = |k: RecordKind, id: i64| k == kind && ids.contains(&id);
        Ok(self
            .duplicate_reviews(true, 10_000)
            .await?
            .into_iter()
            .filter(|r| {
                takes_part(r.record_kind, r.record_id)
                    || r.matched.iter().any(|m| takes_part(m.record_kind, m.id))
            })
            .collect())
    }
}

fn review_from_row<R: RowExt>(r: &R) -> Result<DuplicateReview, StoreError> {
    Ok(DuplicateReview {
        id: r.i64("id")?,
        record_kind: r.parse("record_kind")?,
        record_id: r.i64("record_id")?,
        matched: r.json("matched")?,
        requested_by: r.i64("requested_by")?,
        requested_at: r.ts("requested_at")?,
        status: r.parse("status")?,
        decided_by: r.opt_i64("decided_by")?,
        decided_at: r.opt_ts("decided_at")?,
        note: r.opt_text("note")?,
    })
}
