//! Assignment: the ordered assignment rules (the checked rule as JSON), the opportunities
//! waiting in the public pool, and what the history's `assigned` events say about the reps
//! (assignments today, claims, this rule's turns, the SLA).

use std::collections::BTreeMap;

use shangji_core::assignment::{AssignHow, AssignmentRule, OwnershipChange, OwnershipEvent};
use shangji_core::model::{Id, Lead, Opportunity, OpportunityId, RecordKind, UserId};
use shangji_core::Scope;
use time::OffsetDateTime;

use crate::crud::{update_sql, where_clause};
use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::{Access, Entity};
use crate::error::StoreError;
use crate::on_pool;

/// An assignment rule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAssignmentRule {
    pub rule: AssignmentRule,
    pub version: i64,
    pub updated_at: OffsetDateTime,
}

/// One `assigned` event of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedRow {
    pub opportunity_id: OpportunityId,
    pub at: OffsetDateTime,
    pub owner_id: UserId,
    pub how: AssignHow,
    pub rule_id: Option<Id>,
    /// Since when it had waited in the pool (`None`: it was not in the pool).
    pub waited_since: Option<OffsetDateTime>,
}

fn rule_from_row<R: RowExt>(r: &R) -> Result<StoredAssignmentRule, StoreError> {
    let mut rule: AssignmentRule = r.json("rule")?;
    rule.id = r.i64("id")?;
    rule.position = r.i64("position")?;
    rule.enabled = r.bool("enabled")?;
    rule.name = r.text("name")?;
    Ok(StoredAssignmentRule {
        rule,
        version: r.i64("version")?,
        updated_at: r.ts("updated_at")?,
    })
}

fn rule_json(rule: &AssignmentRule) -> Result<String, StoreError> {
    serde_json::to_string(rule).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn assigned_from(id: OpportunityId, at: OffsetDateTime, v: &str) -> Option<AssignedRow> {
    let v: serde_json::Value = serde_json::from_str(v).ok()?;
    let waited_since = v["waited_since"].as_str().and_then(|s| {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    });
    Some(AssignedRow {
        opportunity_id: id,
        at,
        owner_id: v["owner_id"].as_i64()?,
        how: v["how"].as_str()?.parse().ok()?,
        rule_id: v["rule_id"].as_i64(),
        waited_since,
    })
}

impl Db {
    /// Every assignment rule, in the order they are tried (position, then id).
    pub async fn assignment_rules(&self) -> Result<Vec<StoredAssignmentRule>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM assignment_rules ORDER BY position, id").fetch_all(p).await?;
            rows.iter().map(rule_from_row).collect()
        })
    }

    /// Stores a new rule last in the order; returns its id.
    pub async fn insert_assignment_rule(
        &self,
        rule: &AssignmentRule,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO assignment_rules (position, name, enabled, rule, version, created_at, updated_at) SELECT COALESCE(MAX(position), 0) + 1, ",
        );
        sql.bind(rule.name.clone()).push(", ").bind(rule.enabled);
        sql.push(", ").bind(rule_json(rule)?);
        sql.push(", 1, ").bind(now).push(", ").bind(now);
        sql.push(" FROM assignment_rules RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Replaces a rule (its position included) if its version is still
    /// `expected_version`; returns the new version.
    pub async fn update_assignment_rule(
        &self,
        rule: &AssignmentRule,
        expected_version: i64,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::new("UPDATE assignment_rules SET name = ");
        sql.bind(rule.name.clone());
        sql.push(", position = ").bind(rule.position);
        sql.push(", enabled = ").bind(rule.enabled);
        sql.push(", rule = ").bind(rule_json(rule)?);
        sql.push(", version = version + 1, updated_at = ").bind(now);
        sql.push(" WHERE id = ").bind(rule.id);
        sql.push(" AND version = ").bind(expected_version);
        if self.execute(&sql).await? == 0 {
            let current = self
                .assignment_rules()
                .await?
                .into_iter()
                .find(|r| r.rule.id == rule.id);
            return match current {
                None => Err(StoreError::NotFound),
                Some(r) => Err(StoreError::Conflict {
                    current_version: r.version,
                }),
            };
        }
        Ok(expected_version + 1)
    }

    /// Deletes a rule; `false` when there was none.
    pub async fn delete_assignment_rule(&self, id: i64) -> Result<bool, StoreError> {
        let mut sql = Sql::new("DELETE FROM assignment_rules WHERE id = ");
        sql.bind(id);
        Ok(self.execute(&sql).await? > 0)
    }

    /// The open, unarchived opportunities in the public pool, longest waiting first.
    pub async fn pool_opportunities(&self) -> Result<Vec<Opportunity>, StoreError> {
        let mut sql =
            Sql::new("SELECT * FROM opportunities WHERE pool_since IS NOT NULL AND status = ");
        sql.bind("open").push(" AND archived = ").bind(false);
        sql.push(" ORDER BY pool_since, id");
        let mut items: Vec<Opportunity> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(Opportunity::from_row).collect::<Result<Vec<_>, _>>()?
        });
        self.fill_custom(&mut items).await?;
        Ok(items)
    }

    /// Account names by id (of those that exist).
    pub async fn account_names(&self, ids: &[i64]) -> Result<BTreeMap<i64, String>, StoreError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new("SELECT id, name FROM accounts WHERE id IN ");
            sql.bind_list(chunk);
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?.iter() {
                    out.insert(r.i64("id")?, r.text("name")?);
                }
            });
        }
        Ok(out)
    }

    /// Each owner's open, unarchived opportunities outside the pool.
    pub async fn open_load(&self) -> Result<BTreeMap<UserId, u32>, StoreError> {
        let mut sql = Sql::new("SELECT owner_id, COUNT(*) AS n FROM opportunities WHERE pool_since IS NULL AND status = ");
        sql.bind("open").push(" AND archived = ").bind(false);
        sql.push(" GROUP BY owner_id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.i64("owner_id")?, r.i64("n")? as u32))).collect()
        })
    }

    /// The history's `assigned` events from `from` (inclusive) to `to` (exclusive), oldest
    /// first.
    pub async fn assigned_events(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<AssignedRow>, StoreError> {
        let mut sql =
            Sql::new("SELECT opportunity_id, at, new_value FROM opportunity_events WHERE kind = ");
        sql.bind("assigned").push(" AND at >= ").bind(from);
        sql.push(" AND at < ").bind(to).push(" ORDER BY at, id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let v = r.opt_text("new_value")?.unwrap_or_default();
                if let Some(a) = assigned_from(r.i64("opportunity_id")?, r.ts("at")?, &v) {
                    out.push(a);
                }
            }
            Ok(out)
        })
    }

    // ---- The pool of leads and accounts. ----

    /// Saves `rec` (a lead or an account whose owner changed, if its version is still
    /// `expected_version`) and the event of its history: all or nothing.
    pub async fn save_owner<E: Entity>(
        &self,
        rec: &E,
        expected_version: i64,
        event: &OwnershipEvent,
    ) -> Result<(), StoreError> {
        let update = update_sql(rec, &rec.columns(), expected_version);
        let insert = ownership_insert(event);
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let n = bind_all!(sqlx::query(&update.text), &update.args).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                let current: Option<i64> = sqlx::query_scalar(&format!("SELECT version FROM {} WHERE id = $1", E::TABLE))
                    .bind(rec.id())
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(match current {
                    Some(current_version) => StoreError::Conflict { current_version },
                    None => StoreError::NotFound,
                });
            }
            bind_all!(sqlx::query(&insert.text), &insert.args).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Adds an event to a lead's or an account's history (an owner set by a form, an
    /// import or a rule when the record was created).
    pub async fn insert_ownership_event(&self, event: &OwnershipEvent) -> Result<(), StoreError> {
        self.execute(&ownership_insert(event)).await?;
        Ok(())
    }

    /// The owner history of one lead or account, oldest first.
    pub async fn ownership_events(
        &self,
        kind: RecordKind,
        id: Id,
    ) -> Result<Vec<OwnershipEvent>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM ownership_events WHERE record_kind = ");
        sql.bind(kind.as_str()).push(" AND record_id = ").bind(id);
        sql.push(" ORDER BY at, id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(ownership_from_row).collect()
        })
    }

    /// How many records of `kind` `user` claimed from the pool from `from` (inclusive) to
    /// `to` (exclusive).
    pub async fn claims_of(
        &self,
        kind: RecordKind,
        user: UserId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM ownership_events WHERE record_kind = ");
        sql.bind(kind.as_str())
            .push(" AND kind = ")
            .bind(OwnershipChange::Assigned.as_str());
        sql.push(" AND how = ").bind(AssignHow::Claim.as_str());
        sql.push(" AND owner_id = ").bind(user);
        sql.push(" AND at >= ")
            .bind(from)
            .push(" AND at < ")
            .bind(to);
        let n: i64 = on_pool!(self, p => bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?);
        Ok(n as u32)
    }

    /// The unarchived leads or accounts waiting in the public pool that `scope` sees,
    /// longest waiting first: `limit` of them after the first `offset`, and how many there
    /// are.
    pub async fn pool_records<E: Entity>(
        &self,
        scope: &Scope,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<E>, i64), StoreError> {
        let waiting = |select: &str| {
            let mut sql = Sql::new(&format!("SELECT {select} FROM {}", E::TABLE));
            where_clause::<E>(&mut sql, scope, Access::Read);
            sql.push(&format!(
                " AND {t}.owner_id IS NULL AND {t}.archived = ",
                t = E::TABLE
            ))
            .bind(false);
            sql
        };
        let count = waiting("COUNT(*)");
        let mut sql = waiting("*");
        sql.push(&format!(
            " ORDER BY {t}.pool_since, {t}.id LIMIT ",
            t = E::TABLE
        ))
        .bind(limit)
        .push(" OFFSET ")
        .bind(offset);
        let (mut items, total): (Vec<E>, i64) = on_pool!(self, p => {
            let total: i64 = bind_all!(sqlx::query_scalar(&count.text), &count.args).fetch_one(p).await?;
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            (rows.iter().map(E::from_row).collect::<Result<Vec<_>, _>>()?, total)
        });
        self.fill_custom(&mut items).await?;
        Ok((items, total))
    }

    /// The lead SLA's facts: for each unarchived lead `scope` sees created from `from`
    /// (inclusive) to `to` (exclusive), when it was created and its first follow-up of a type
    /// in `kinds` (not after `to`), if any.
    pub async fn lead_first_follow_ups(
        &self,
        scope: &Scope,
        from: OffsetDateTime,
        to: OffsetDateTime,
        kinds: &[&str],
    ) -> Result<Vec<(OffsetDateTime, Option<OffsetDateTime>)>, StoreError> {
        let mut sql = Sql::new(
            "SELECT leads.created_at, (SELECT MIN(a.occurred_at) FROM activities a WHERE a.lead_id = leads.id AND a.archived = ",
        );
        sql.bind(false)
            .push(" AND a.kind IN ")
            .bind_text_list(kinds);
        sql.push(" AND a.occurred_at <= ").bind(to);
        sql.push(") AS first_at FROM leads");
        where_clause::<Lead>(&mut sql, scope, Access::Read);
        sql.push(" AND leads.archived = ").bind(false);
        sql.push(" AND leads.created_at >= ").bind(from);
        sql.push(" AND leads.created_at < ").bind(to);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.ts("created_at")?, r.opt_ts("first_at")?))).collect()
        })
    }
}

fn ownership_insert(e: &OwnershipEvent) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO ownership_events (record_kind, record_id, kind, owner_id, how, rule_id, waited_since, reason, handover_id, actor_id, at) VALUES (",
    );
    sql.bind(e.record_kind.as_str())
        .push(", ")
        .bind(e.record_id);
    sql.push(", ")
        .bind(e.kind.as_str())
        .push(", ")
        .bind(e.owner_id);
    sql.push(", ").bind(e.how.map(|h| h.as_str().to_string()));
    sql.push(", ")
        .bind(e.rule_id)
        .push(", ")
        .bind(e.waited_since);
    sql.push(", ")
        .bind(e.reason.clone())
        .push(", ")
        .bind(e.handover_id);
    sql.push(", ").bind(e.actor_id);
    sql.push(", ").bind(e.at).push(")");
    sql
}

fn ownership_from_row<R: RowExt>(r: &R) -> Result<OwnershipEvent, StoreError> {
    Ok(OwnershipEvent {
        record_kind: r.parse("record_kind")?,
        record_id: r.i64("record_id")?,
        kind: r.parse("kind")?,
        owner_id: r.opt_i64("owner_id")?,
        how: r.opt_parse("how")?,
        rule_id: r.opt_i64("rule_id")?,
        waited_since: r.opt_ts("waited_since")?,
        reason: r.opt_text("reason")?,
        handover_id: r.opt_i64("handover_id")?,
        actor_id: r.i64("actor_id")?,
        at: r.ts("at")?,
    })
}
