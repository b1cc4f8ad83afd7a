//! Handovers (交接): the job as recorded, what the leaver holds, and the moves — set-based
//! `UPDATE`s in batches of ids, each batch in one transaction with its history (the
//! opportunities' `owner_changed` and `handed_over` events, the leads' and accounts'
//! `assigned` ownership events, a `handover_moves` row per record). Every statement moves
//! only what the leaver still owns, so a run interrupted anywhere resumes by running again.
//! What a handed-over deal's history says since ([`Db::deal_trails`]) is read here for the
//! core to decide whether it is inherited and touched (`shangji_core::handover::inherited`).

use std::collections::HashMap;

use shangji_core::handover::{
    DealTrail, HandedOver, Handover, HandoverCount, HandoverKind, HandoverSettings, Holding,
};
use shangji_core::model::{Id, UserId};
use time::OffsetDateTime;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

/// Ids per statement: with the few other parameters, under SQLite's comfortable limit.
pub const BATCH: usize = 300;

/// One inherited deal of a handover's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InheritedDeal {
    pub to_user_id: UserId,
    pub opportunity_id: Id,
    pub title: String,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub owner_id: UserId,
}

/// A pending approval's chain, as a handover re-routes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChain {
    pub id: Id,
    pub approver_ids: Vec<UserId>,
    pub step: i32,
    pub current_approver_id: Option<UserId>,
    pub version: i64,
}

/// The table, its owner column and what else a moved row satisfies.
fn table_of(kind: HandoverKind) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match kind {
        HandoverKind::Account => ("accounts", "owner_id", ""),
        HandoverKind::Contact => ("contacts", "owner_id", ""),
        HandoverKind::Lead => ("leads", "owner_id", " AND status IN ('new', 'working')"),
        HandoverKind::Opportunity => (
            "opportunities",
            "owner_id",
            " AND status = 'open' AND pool_since IS NULL",
        ),
        HandoverKind::Task => ("tasks", "assignee_id", " AND done = $3"),
        _ => return None,
    })
}

fn handover_from_row<R: RowExt>(r: &R) -> Result<Handover, StoreError> {
    Ok(Handover {
        id: r.i64("id")?,
        from_user_id: r.i64("from_user_id")?,
        actor_id: r.i64("actor_id")?,
        settings: r.json("settings")?,
        status: r.parse("status")?,
        counts: r.json("counts")?,
        created_at: r.ts("created_at")?,
        finished_at: r.opt_ts("finished_at")?,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `WHERE owner = from AND not archived [AND the kind's condition]` for `kind`'s table, the
/// first three parameters being the leaver, `false` and (tasks) `false`.
fn held_where(kind: HandoverKind) -> Option<(&'static str, String)> {
    let (table, owner, extra) = table_of(kind)?;
    Some((table, format!("{owner} = $1 AND archived = $2{extra}")))
}

impl Db {
    /// What `from` holds that a handover moves, each with the account it belongs to.
    pub async fn handover_holdings(&self, from: UserId) -> Result<Vec<Holding>, StoreError> {
        let mut out = Vec::new();
        for kind in HandoverKind::RECORDS {
            let Some((table, cond)) = held_where(kind) else {
                continue;
            };
            let account = match kind {
                HandoverKind::Account => "id",
                HandoverKind::Lead => "NULL",
                HandoverKind::Task => "CASE tasks.record_kind WHEN 'account' THEN tasks.record_id \
                     WHEN 'opportunity' THEN (SELECT o.account_id FROM opportunities o WHERE o.id = tasks.record_id) \
                     WHEN 'contact' THEN (SELECT c.account_id FROM contacts c WHERE c.id = tasks.record_id) END",
                _ => "account_id",
            };
            let text =
                format!("SELECT id, {account} AS account_id FROM {table} WHERE {cond} ORDER BY id");
            let rows = on_pool!(self, p => {
                let mut q = sqlx::query(&text).bind(from).bind(false);
                if kind == HandoverKind::Task {
                    q = q.bind(false);
                }
                let rows = q.fetch_all(p).await?;
                rows.iter()
                    .map(|r| Ok((r.i64("id")?, r.opt_i64("account_id")?)))
                    .collect::<Result<Vec<_>, StoreError>>()?
            });
            out.extend(rows.into_iter().map(|(id, account_id)| Holding {
                kind,
                id,
                account_id,
            }));
        }
        Ok(out)
    }

    /// The owners of these accounts.
    pub async fn account_owners(
        &self,
        ids: &[Id],
    ) -> Result<HashMap<Id, Option<UserId>>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let mut sql = Sql::new("SELECT id, owner_id FROM accounts WHERE id IN ");
            sql.bind_list(chunk);
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await? {
                    out.insert(r.i64("id")?, r.opt_i64("owner_id")?);
                }
            });
        }
        Ok(out)
    }

    /// What each of `users` holds now: accounts, open deals and open leads.
    pub async fn owner_loads(&self, users: &[UserId]) -> Result<HashMap<UserId, i64>, StoreError> {
        if users.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new(
            "SELECT owner_id, COUNT(*) AS n FROM (SELECT owner_id FROM accounts WHERE archived = ",
        );
        sql.bind(false).push(" AND owner_id IN ").bind_list(users);
        sql.push(
            " UNION ALL SELECT owner_id FROM opportunities WHERE status = 'open' AND archived = ",
        )
        .bind(false)
        .push(" AND owner_id IN ")
        .bind_list(users);
        sql.push(" UNION ALL SELECT owner_id FROM leads WHERE status IN ('new', 'working') AND archived = ")
            .bind(false)
            .push(" AND owner_id IN ")
            .bind_list(users);
        sql.push(") AS held GROUP BY owner_id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.i64("owner_id")?, r.i64("n")?))).collect()
        })
    }

    /// Records a new handover, running; returns its id.
    pub async fn insert_handover(
        &self,
        from: UserId,
        actor: UserId,
        settings: &HandoverSettings,
        now: OffsetDateTime,
    ) -> Result<Id, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO handovers (from_user_id, actor_id, settings, status, counts, created_at) VALUES (",
        );
        sql.bind(from).push(", ").bind(actor);
        sql.push(", ").bind(to_json(settings)?);
        sql.push(", 'running', '[]', ")
            .bind(now)
            .push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Saves what has moved so far and, with `finished_at`, that the handover is done.
    pub async fn save_handover_progress(
        &self,
        id: Id,
        counts: &[HandoverCount],
        finished_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE handovers SET counts = ");
        sql.bind(to_json(&counts)?);
        sql.push(", status = ").bind(if finished_at.is_some() {
            "done"
        } else {
            "running"
        });
        sql.push(", finished_at = ").bind(finished_at);
        sql.push(" WHERE id = ").bind(id);
        match self.execute(&sql).await? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn handover(&self, id: Id) -> Result<Option<Handover>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM handovers WHERE id = $1").bind(id).fetch_optional(p).await?;
            row.as_ref().map(handover_from_row).transpose()
        })
    }

    /// Handovers, newest first: all, or of one leaver.
    pub async fn handovers(
        &self,
        from: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<Handover>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM handovers");
        if let Some(f) = from {
            sql.push(" WHERE from_user_id = ").bind(f);
        }
        sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(handover_from_row).collect()
        })
    }

    /// Moves the records `ids` of `kind` that `from` still holds to `to`, with their history,
    /// in one transaction; returns how many moved. At most [`BATCH`] ids.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_for_handover(
        &self,
        handover_id: Id,
        kind: HandoverKind,
        from: UserId,
        to: UserId,
        ids: &[Id],
        actor: UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let Some((table, cond)) = held_where(kind) else {
            return Ok(0);
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let owner = table_of(kind).map_or("owner_id", |t| t.1);
        // $1 from, $2 false, $3 false (tasks), then the ids.
        let mut filter = Sql::new("");
        filter.args = vec![from.into(), false.into(), false.into()];
        filter.push(&format!(" FROM {table} WHERE {cond} AND id IN "));
        filter.bind_list(ids);
        let with = |head: &str, tail: &[crate::db::Arg]| {
            let mut s = filter.clone();
            s.text = format!("{head}{}", s.text);
            let base = s.args.len();
            for (i, a) in tail.iter().enumerate() {
                s.text = s
                    .text
                    .replace(&format!("${{{i}}}"), &format!("${}", base + i + 1));
                s.args.push(a.clone());
            }
            s
        };
        let mut statements = vec![with(
            &format!("INSERT INTO handover_moves (handover_id, record_kind, record_id, to_user_id) SELECT ${{0}}, '{}', id, ${{1}}", kind.as_str()),
            &[handover_id.into(), to.into()],
        )];
        match kind {
            HandoverKind::Opportunity => {
                statements.push(with(
                    "INSERT INTO opportunity_events (opportunity_id, kind, actor_id, at, old_value, new_value) SELECT id, 'owner_changed', ${0}, ${1}, ${2}, ${3}",
                    &[actor.into(), now.into(), from.to_string().into(), to.to_string().into()],
                ));
                let detail =
                    serde_json::json!({"handover_id": handover_id, "from": from, "to": to});
                statements.push(with(
                    "INSERT INTO opportunity_events (opportunity_id, kind, actor_id, at, new_value) SELECT id, 'handed_over', ${0}, ${1}, ${2}",
                    &[actor.into(), now.into(), detail.to_string().into()],
                ));
            }
            HandoverKind::Account | HandoverKind::Lead => {
                statements.push(with(
                    &format!("INSERT INTO ownership_events (record_kind, record_id, kind, owner_id, how, handover_id, actor_id, at) SELECT '{}', id, 'assigned', ${{0}}, 'handover', ${{1}}, ${{2}}, ${{3}}", kind.as_str()),
                    &[to.into(), handover_id.into(), actor.into(), now.into()],
                ));
            }
            _ => {}
        }
        let mut update = with(
            &format!(
                "UPDATE {table} SET {owner} = ${{0}}, version = version + 1, updated_at = ${{1}}"
            ),
            &[to.into(), now.into()],
        );
        // An UPDATE names its table once: `UPDATE t SET … FROM t WHERE` becomes `… WHERE`.
        update.text = update
            .text
            .replacen(&format!(" FROM {table} WHERE"), " WHERE", 1);
        statements.push(update);
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let mut moved = 0;
            for s in &statements {
                moved = bind_all!(sqlx::query(&s.text), &s.args).execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(moved)
        })
    }

    /// What a handover has moved so far, per receiver and record kind.
    pub async fn handover_move_counts(&self, id: Id) -> Result<Vec<HandoverCount>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT to_user_id, record_kind, COUNT(*) AS n FROM handover_moves WHERE handover_id = $1 GROUP BY to_user_id, record_kind ORDER BY to_user_id, record_kind")
                .bind(id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(HandoverCount {
                        to_user_id: r.i64("to_user_id")?,
                        kind: r.parse("record_kind")?,
                        count: r.i64("n")?,
                    })
                })
                .collect()
        })
    }

    /// Pending approvals whose chain names `user` at the current step or later.
    pub async fn pending_chains_of(&self, user: UserId) -> Result<Vec<PendingChain>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT id, approver_ids, step, current_approver_id, version FROM approval_requests WHERE status = 'pending' ORDER BY id")
                .fetch_all(p)
                .await?;
            let mut out = Vec::new();
            for r in &rows {
                let c = PendingChain {
                    id: r.i64("id")?,
                    approver_ids: r.json("approver_ids")?,
                    step: r.i32("step")?,
                    current_approver_id: r.opt_i64("current_approver_id")?,
                    version: r.i64("version")?,
                };
                if c.approver_ids.iter().skip(c.step.max(0) as usize).any(|a| *a == user) {
                    out.push(c);
                }
            }
            Ok(out)
        })
    }

    /// Saves a pending approval's new chain if its version is still `c.version`.
    pub async fn save_pending_chain(&self, c: &PendingChain) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE approval_requests SET approver_ids = ");
        sql.bind(to_json(&c.approver_ids)?);
        sql.push(", current_approver_id = ")
            .bind(c.current_approver_id);
        sql.push(", version = version + 1 WHERE status = 'pending' AND id = ")
            .bind(c.id);
        sql.push(" AND version = ").bind(c.version);
        Ok(self.execute(&sql).await? == 1)
    }

    /// Every deal a handover gave, by receiver then id (whether each was followed up since
    /// is the core's to say, from [`Db::deal_trails`]).
    pub async fn inherited_deals(&self, h: &Handover) -> Result<Vec<InheritedDeal>, StoreError> {
        let mut sql = Sql::new("SELECT m.to_user_id, o.id, o.title, o.status, o.amount_minor, o.currency, o.owner_id FROM handover_moves m JOIN opportunities o ON o.id = m.record_id WHERE m.record_kind = 'opportunity' AND m.handover_id = ");
        sql.bind(h.id).push(" ORDER BY m.to_user_id, o.id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(InheritedDeal {
                        to_user_id: r.i64("to_user_id")?,
                        opportunity_id: r.i64("id")?,
                        title: r.text("title")?,
                        status: r.text("status")?,
                        amount_minor: r.i64("amount_minor")?,
                        currency: r.text("currency")?,
                        owner_id: r.i64("owner_id")?,
                    })
                })
                .collect()
        })
    }

    /// The history of those of these deals that were ever handed over, in grouped queries:
    /// their `handed_over` events, their latest owner change, when their latest unarchived
    /// activity was logged, and each user's latest change. Deals never handed over are left
    /// out (one indexed query for them).
    pub async fn deal_trails(&self, ids: &[Id]) -> Result<HashMap<Id, DealTrail>, StoreError> {
        let mut out: HashMap<Id, DealTrail> = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let mut sql = Sql::new("SELECT opportunity_id, at, new_value FROM opportunity_events WHERE kind = 'handed_over' AND opportunity_id IN ");
            sql.bind_list(chunk)
                .push(" ORDER BY opportunity_id, at, id");
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await? {
                    let detail: serde_json::Value = serde_json::from_str(&r.opt_text("new_value")?.unwrap_or_default())
                        .map_err(|e| StoreError::Corrupt(format!("handed_over event: {e}")))?;
                    let field = |k: &str| {
                        detail[k].as_i64().ok_or_else(|| StoreError::Corrupt(format!("handed_over event without {k}")))
                    };
                    out.entry(r.i64("opportunity_id")?).or_default().handovers.push(HandedOver {
                        handover_id: field("handover_id")?,
                        at: r.ts("at")?,
                        to: field("to")?,
                    });
                }
            });
        }
        let mut handed: Vec<Id> = out.keys().copied().collect();
        handed.sort_unstable();
        for chunk in handed.chunks(BATCH) {
            let mut owners = Sql::new("SELECT opportunity_id, MAX(at) AS at FROM opportunity_events WHERE kind = 'owner_changed' AND opportunity_id IN ");
            owners.bind_list(chunk).push(" GROUP BY opportunity_id");
            let mut logged = Sql::new(
                "SELECT opportunity_id, MAX(created_at) AS at FROM activities WHERE archived = ",
            );
            logged
                .bind(false)
                .push(" AND opportunity_id IN ")
                .bind_list(chunk);
            logged.push(" GROUP BY opportunity_id");
            let mut changes = Sql::new("SELECT opportunity_id, actor_id, MAX(at) AS at FROM opportunity_events WHERE opportunity_id IN ");
            changes
                .bind_list(chunk)
                .push(" GROUP BY opportunity_id, actor_id");
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&owners.text), &owners.args).fetch_all(p).await? {
                    if let Some(t) = out.get_mut(&r.i64("opportunity_id")?) {
                        t.owner_changed_at = r.opt_ts("at")?;
                    }
                }
                for r in bind_all!(sqlx::query(&logged.text), &logged.args).fetch_all(p).await? {
                    if let Some(t) = out.get_mut(&r.i64("opportunity_id")?) {
                        t.activity_logged_at = r.opt_ts("at")?;
                    }
                }
                for r in bind_all!(sqlx::query(&changes.text), &changes.args).fetch_all(p).await? {
                    if let (Some(t), Some(at)) = (out.get_mut(&r.i64("opportunity_id")?), r.opt_ts("at")?) {
                        t.changed_by.insert(r.i64("actor_id")?, at);
                    }
                }
            });
        }
        Ok(out)
    }

    /// The handovers a record was moved by, oldest first: `(handover, receiver)`.
    pub async fn handovers_of(
        &self,
        kind: HandoverKind,
        id: Id,
    ) -> Result<Vec<(Id, UserId)>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT handover_id, to_user_id FROM handover_moves WHERE record_kind = $1 AND record_id = $2 ORDER BY id")
                .bind(kind.as_str())
                .bind(id)
                .fetch_all(p)
                .await?;
            rows.iter().map(|r| Ok((r.i64("handover_id")?, r.i64("to_user_id")?))).collect()
        })
    }
}
