//! What the funnel review meeting and the history import read and write: a team's reviews
//! held, the deals a review looks at, a decision with its action items, opportunities by
//! external id, and an imported history written in one transaction.

use shangji_core::model::*;
use shangji_core::opportunity::NewEvent;
use shangji_core::review::HeldReview;
use shangji_core::Scope;
use time::OffsetDateTime;

use crate::crud::{push_events_insert, push_insert, update_sql, EventsOf};
use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::{owner_in_scope, Entity};
use crate::error::StoreError;
use crate::on_pool;

/// Ids per statement in an `IN (…)` list.
const CHUNK: usize = 500;

fn review_from_row<R: RowExt>(r: &R) -> Result<HeldReview, StoreError> {
    Ok(HeldReview {
        id: r.i64("id")?,
        team_id: r.i64("team_id")?,
        since: r.ts("since")?,
        held_at: r.ts("held_at")?,
        held_by: r.i64("held_by")?,
        notes: r.opt_text("notes")?,
    })
}

/// An opportunity after an imported history, the version it must still have, and the
/// events to append.
#[derive(Debug, Clone, Copy)]
pub struct ImportedHistory<'a> {
    pub opp: &'a Opportunity,
    pub expected_version: i64,
    pub events: &'a [NewEvent],
}

impl Db {
    /// The reviews a team has held, newest first (at most `limit`).
    pub async fn reviews(
        &self,
        team_id: TeamId,
        limit: i64,
    ) -> Result<Vec<HeldReview>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM reviews WHERE team_id = $1 ORDER BY held_at DESC, id DESC LIMIT $2")
                .bind(team_id)
                .bind(limit)
                .fetch_all(p)
                .await?;
            rows.iter().map(review_from_row).collect()
        })
    }

    /// Records a review held; returns its id.
    pub async fn insert_review(&self, r: &HeldReview) -> Result<i64, StoreError> {
        let mut sql =
            Sql::new("INSERT INTO reviews (team_id, since, held_at, held_by, notes) VALUES (");
        sql.bind(r.team_id).push(", ").bind(r.since).push(", ");
        sql.bind(r.held_at).push(", ").bind(r.held_by).push(", ");
        sql.bind(r.notes.clone()).push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?;
            Ok(id)
        })
    }

    /// The unarchived opportunities in `scope` owned by one of `owners` that a review looks
    /// at: the open ones, and those changed since `since`.
    pub async fn review_deals(
        &self,
        scope: &Scope,
        owners: &[UserId],
        since: OffsetDateTime,
    ) -> Result<Vec<Opportunity>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM opportunities WHERE ");
        owner_in_scope("opportunities.owner_id", scope, &mut sql);
        sql.push(" AND opportunities.owner_id IN ");
        sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
        sql.push(" AND archived = ").bind(false);
        sql.push(" AND (status = ").bind("open");
        sql.push(" OR updated_at >= ").bind(since);
        sql.push(") ORDER BY id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Opportunity::from_row).collect()
        })
    }

    /// A decision on an opportunity (its events) and the tasks of its action items, in one
    /// transaction. Returns the tasks' ids.
    pub async fn save_review_decision(
        &self,
        opportunity_id: OpportunityId,
        events: &[NewEvent],
        tasks: &[Task],
    ) -> Result<Vec<i64>, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            if !events.is_empty() {
                let mut sql = Sql::new("");
                push_events_insert(&mut sql, EventsOf::Id(opportunity_id), events);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            let mut ids = Vec::new();
            for t in tasks {
                let mut sql = Sql::new("");
                push_insert(&mut sql, Task::TABLE, &t.columns());
                let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                ids.push(id);
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// Sets (or clears) an opportunity's external id; an id another opportunity has is a
    /// `Duplicate`.
    pub async fn set_external_id(
        &self,
        opportunity_id: OpportunityId,
        external_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE opportunities SET external_id = ");
        sql.bind(external_id)
            .push(" WHERE id = ")
            .bind(opportunity_id);
        match self.execute(&sql).await {
            Ok(0) => Err(StoreError::NotFound),
            Ok(_) => Ok(()),
            Err(StoreError::Duplicate(_)) => Err(StoreError::Duplicate("external_id".into())),
            Err(e) => Err(e),
        }
    }

    /// Opportunities by external id: (external id, opportunity id) for those that exist.
    pub async fn opportunities_by_external_id(
        &self,
        external_ids: &[String],
    ) -> Result<Vec<(String, OpportunityId)>, StoreError> {
        let mut out = Vec::new();
        for chunk in external_ids.chunks(CHUNK) {
            let mut sql =
                Sql::new("SELECT external_id, id FROM opportunities WHERE external_id IN (");
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(e.as_str());
            }
            sql.push(")");
            let rows: Vec<(String, i64)> = on_pool!(self, p => {
                let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
                rows.iter()
                    .map(|r| Ok((r.text("external_id")?, r.i64("id")?)))
                    .collect::<Result<Vec<_>, StoreError>>()?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// Writes imported histories: each opportunity at its expected version with its new
    /// events — all or nothing (a `Conflict` if one changed meanwhile).
    pub async fn save_imported_history(
        &self,
        items: &[ImportedHistory<'_>],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            for it in items {
                let sql = update_sql(it.opp, &it.opp.columns(), it.expected_version);
                let n = bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?.rows_affected();
                if n == 0 {
                    let current: Option<i64> = sqlx::query_scalar("SELECT version FROM opportunities WHERE id = $1")
                        .bind(it.opp.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(current.map_or(StoreError::NotFound, |current_version| StoreError::Conflict { current_version }));
                }
                if !it.events.is_empty() {
                    let mut sql = Sql::new("");
                    push_events_insert(&mut sql, EventsOf::Id(it.opp.id), it.events);
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
