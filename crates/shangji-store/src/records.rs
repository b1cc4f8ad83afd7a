//! What the today, opportunity and account pages read besides single records: the latest
//! follow-up of each opportunity, recent history, the follow-ups about an account; the
//! contacts taking part in an opportunity; and a follow-up written with its task and the
//! opportunity's next step in one transaction.

use shangji_core::model::*;
use shangji_core::opportunity::{NewEvent, OpportunityEvent};
use shangji_core::Scope;
use time::OffsetDateTime;

use crate::crud::{push_events_insert, push_insert, update_sql, EventsOf, IdemKey};
use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::{event_from_row, owner_in_scope, Access, Entity};
use crate::error::StoreError;
use crate::on_pool;

/// Ids per statement in an `IN (…)` list.
const CHUNK: usize = 500;

/// What follows a follow-up's idempotency key in the row that keeps its task's id.
pub const FOLLOW_UP_TASK_KEY: &str = "\n#task";

/// The ids a follow-up wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpIds {
    pub activity_id: i64,
    pub task_id: Option<i64>,
}

impl Db {
    /// The time of the latest meaningful follow-up of each of these opportunities: an
    /// unarchived activity of one of `kinds` (the configured meaningful types, see
    /// `rules::FactsConfig`) not after `until`. Those without one are left out.
    pub async fn last_follow_ups(
        &self,
        opportunity_ids: &[OpportunityId],
        kinds: &[&str],
        until: OffsetDateTime,
    ) -> Result<Vec<(OpportunityId, OffsetDateTime)>, StoreError> {
        let mut out = Vec::new();
        for ids in opportunity_ids.chunks(CHUNK) {
            let mut sql = Sql::new(
                "SELECT opportunity_id, MAX(occurred_at) AS last_at FROM activities WHERE archived = ",
            );
            sql.bind(false).push(" AND occurred_at <= ").bind(until);
            sql.push(" AND kind IN ").bind_text_list(kinds);
            sql.push(" AND opportunity_id IN ").bind_list(ids);
            sql.push(" GROUP BY opportunity_id");
            let rows: Vec<(i64, OffsetDateTime)> = on_pool!(self, p => {
                let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
                rows.iter()
                    .map(|r| Ok((r.i64("opportunity_id")?, r.ts("last_at")?)))
                    .collect::<Result<Vec<_>, StoreError>>()?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// The latest events of the opportunities in `scope` (optionally owned by one of
    /// `owners`), newest first.
    pub async fn recent_events(
        &self,
        scope: &Scope,
        owners: Option<&[UserId]>,
        limit: i64,
    ) -> Result<Vec<OpportunityEvent>, StoreError> {
        let mut sql = Sql::new(
            "SELECT e.* FROM opportunity_events e JOIN opportunities ON opportunities.id = e.opportunity_id WHERE ",
        );
        owner_in_scope("opportunities.owner_id", scope, &mut sql);
        if let Some(owners) = owners {
            sql.push(" AND opportunities.owner_id IN ");
            sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
        }
        sql.push(" ORDER BY e.at DESC, e.id DESC LIMIT ")
            .bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    /// The history of these opportunities, newest first (at most `limit` events).
    pub async fn events_of(
        &self,
        opportunity_ids: &[OpportunityId],
        limit: i64,
    ) -> Result<Vec<OpportunityEvent>, StoreError> {
        if opportunity_ids.is_empty() {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        for ids in opportunity_ids.chunks(CHUNK) {
            let mut sql = Sql::new("SELECT * FROM opportunity_events WHERE opportunity_id IN ");
            sql.bind_list(ids);
            sql.push(" ORDER BY at DESC, id DESC LIMIT ").bind(limit);
            let rows: Vec<OpportunityEvent> = on_pool!(self, p => {
                let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
                rows.iter().map(event_from_row).collect::<Result<Vec<_>, StoreError>>()?
            });
            out.extend(rows);
        }
        out.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }

    /// The unarchived follow-ups readable in `scope` logged on an account or on one of these
    /// opportunities, newest first (at most `limit`).
    pub async fn activities_about(
        &self,
        scope: &Scope,
        account_id: Option<AccountId>,
        opportunity_ids: &[OpportunityId],
        limit: i64,
    ) -> Result<Vec<Activity>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM activities WHERE ");
        Activity::scope_sql(scope, Access::Read, &mut sql);
        sql.push(" AND activities.archived = ").bind(false);
        sql.push(" AND (");
        match account_id {
            Some(a) => sql.push("activities.account_id = ").bind(a),
            None => sql.push("1 = 0"),
        };
        for ids in opportunity_ids.chunks(CHUNK) {
            sql.push(" OR activities.opportunity_id IN ").bind_list(ids);
        }
        sql.push(") ORDER BY activities.occurred_at DESC, activities.id DESC LIMIT ")
            .bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Activity::from_row).collect()
        })
    }

    /// The contacts taking part in an opportunity and their buying role in it, in the order
    /// they were added.
    pub async fn opportunity_contacts(
        &self,
        opportunity_id: OpportunityId,
    ) -> Result<Vec<(ContactId, Option<BuyingRole>)>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT contact_id, buying_role FROM opportunity_contacts WHERE opportunity_id = $1 ORDER BY created_at, contact_id")
                .bind(opportunity_id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.i64("contact_id")?, r.opt_parse("buying_role")?)))
                .collect()
        })
    }

    /// The opportunities a contact takes part in and their buying role in each, newest link
    /// first (at most `limit`).
    pub async fn contact_opportunities(
        &self,
        contact_id: ContactId,
        limit: i64,
    ) -> Result<Vec<(OpportunityId, Option<BuyingRole>)>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT opportunity_id, buying_role FROM opportunity_contacts WHERE contact_id = $1 ORDER BY created_at DESC, opportunity_id DESC LIMIT $2")
                .bind(contact_id)
                .bind(limit)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.i64("opportunity_id")?, r.opt_parse("buying_role")?)))
                .collect()
        })
    }

    /// Links a contact to an opportunity with a role (or changes the role of a linked one).
    pub async fn link_contact(
        &self,
        opportunity_id: OpportunityId,
        contact_id: ContactId,
        role: Option<BuyingRole>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO opportunity_contacts (opportunity_id, contact_id, buying_role, created_at) VALUES (",
        );
        sql.bind(opportunity_id)
            .push(", ")
            .bind(contact_id)
            .push(", ");
        sql.bind(role.map(|r| r.as_str().to_string()))
            .push(", ")
            .bind(now);
        sql.push(") ON CONFLICT (opportunity_id, contact_id) DO UPDATE SET buying_role = excluded.buying_role");
        self.execute(&sql).await?;
        Ok(())
    }

    /// Takes a contact off an opportunity; `false` when it was not on it.
    pub async fn unlink_contact(
        &self,
        opportunity_id: OpportunityId,
        contact_id: ContactId,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("DELETE FROM opportunity_contacts WHERE opportunity_id = ");
        sql.bind(opportunity_id)
            .push(" AND contact_id = ")
            .bind(contact_id);
        Ok(self.execute(&sql).await? > 0)
    }

    /// A follow-up, the task of its next step and the opportunity with its new next step
    /// (and the opportunity's events) — all or nothing. The opportunity, when given, is
    /// written only if it is still at `expected_version`. An idempotency key, when given, is
    /// kept with the activity's id, and the task's under the key followed by
    /// [`FOLLOW_UP_TASK_KEY`] (a suffix no header value can carry); a key already used is
    /// `Duplicate`.
    pub async fn save_follow_up(
        &self,
        activity: &Activity,
        task: Option<&Task>,
        opp: Option<(&Opportunity, i64)>,
        events: &[NewEvent],
        idem: Option<&IdemKey>,
    ) -> Result<FollowUpIds, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            if let Some((opp, expected_version)) = opp {
            let sql = update_sql(opp, &opp.columns(), expected_version);
            let n = bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                let current: Option<i64> = sqlx::query_scalar("SELECT version FROM opportunities WHERE id = $1")
                    .bind(opp.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(current.map_or(StoreError::NotFound, |current_version| StoreError::Conflict { current_version }));
            }
            if !events.is_empty() {
                let mut sql = Sql::new("");
                push_events_insert(&mut sql, EventsOf::Id(opp.id), events);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            }
            let mut sql = Sql::new("");
            push_insert(&mut sql, Activity::TABLE, &activity.columns());
            let activity_id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
            let task_id = match task {
                Some(t) => {
                    let mut sql = Sql::new("");
                    push_insert(&mut sql, Task::TABLE, &t.columns());
                    let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                    Some(id)
                }
                None => None,
            };
            if let Some(k) = idem {
                let rows = std::iter::once((k.key.clone(), activity_id))
                    .chain(task_id.map(|id| (format!("{}{FOLLOW_UP_TASK_KEY}", k.key), id)));
                for (key, id) in rows {
                    let mut sql = Sql::new(
                        "INSERT INTO idempotency_keys (user_id, key, resource, request_hash, record_id, created_at) VALUES (",
                    );
                    sql.bind(k.user_id).push(", ").bind(key).push(", ").bind(k.resource);
                    sql.push(", ").bind(k.request_hash.clone()).push(", ").bind(id).push(", ");
                    sql.bind(k.at);
                    sql.push(")");
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(FollowUpIds { activity_id, task_id })
        })
    }
}
