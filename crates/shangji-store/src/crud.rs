//! Reading and writing records. Every read of a business record takes a [`Scope`]; every
//! write of an opportunity takes the events that describe it and stores both in one
//! transaction.

use shangji_core::approval::ApprovalRequest;
use shangji_core::custom_fields::CustomChange;
use shangji_core::model::*;
use shangji_core::opportunity::{NewEvent, OpportunityEvent};
use shangji_core::Scope;
use time::OffsetDateTime;

use crate::custom::{
    push_custom_filter, push_values_delete, push_values_insert, rows_of, CustomFilter,
};
use crate::db::{bind_all, Arg, Db, Pool, RowExt, Sql};
use crate::entity::{event_from_row, owner_in_scope, Access, Entity};
use crate::error::StoreError;
use crate::on_pool;
use crate::writer::NewRecord;

/// Filters, order and page of a list. Column names come from the entity's whitelists.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub q: Option<String>,
    /// Equality filters: (column, value).
    pub eq: Vec<(&'static str, Arg)>,
    /// Range filters: (column, operator, value) with operator one of `>=`, `<=`.
    pub ranges: Vec<(&'static str, &'static str, Arg)>,
    /// Filters on custom fields.
    pub custom: Vec<CustomFilter>,
    pub owner_id: Option<UserId>,
    /// Owned by one of these users (a team filter, resolved to the team's members).
    pub owner_ids: Option<Vec<UserId>>,
    /// Carrying this tag (record kinds with tags).
    pub tag: Option<String>,
    pub include_archived: bool,
    pub sort: &'static str,
    pub desc: bool,
    pub limit: i64,
    pub offset: i64,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            q: None,
            eq: vec![],
            ranges: vec![],
            custom: vec![],
            owner_id: None,
            owner_ids: None,
            tag: None,
            include_archived: false,
            sort: "updated_at",
            desc: true,
            limit: 50,
            offset: 0,
        }
    }
}

/// A page of records and the total that match.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// An `Idempotency-Key` of a create call.
#[derive(Debug, Clone)]
pub struct IdemKey {
    pub user_id: UserId,
    pub key: String,
    pub resource: &'static str,
    pub request_hash: String,
    pub at: OffsetDateTime,
}

/// What a key was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemRecord {
    pub resource: String,
    pub request_hash: String,
    pub record_id: i64,
}

pub(crate) fn where_clause<E: Entity>(sql: &mut Sql, scope: &Scope, access: Access) {
    sql.push(" WHERE ");
    E::scope_sql(scope, access, sql);
}

fn like_pattern(q: &str) -> String {
    let escaped = q
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(crate) fn list_filters<E: Entity>(sql: &mut Sql, scope: &Scope, query: &ListQuery) {
    where_clause::<E>(sql, scope, Access::Read);
    if !query.include_archived {
        sql.push(&format!(" AND {}.archived = ", E::TABLE))
            .bind(false);
    }
    for (col, v) in &query.eq {
        sql.push(&format!(" AND {}.{col} = ", E::TABLE))
            .bind(v.clone());
    }
    for (col, op, v) in &query.ranges {
        sql.push(&format!(" AND {}.{col} {op} ", E::TABLE))
            .bind(v.clone());
    }
    for f in &query.custom {
        push_custom_filter(sql, E::TABLE, f);
    }
    if let Some(owner) = query.owner_id {
        sql.push(&format!(" AND {}.{} = ", E::TABLE, E::OWNER))
            .bind(owner);
    }
    if let Some(owners) = &query.owner_ids {
        sql.push(&format!(" AND {}.{} IN ", E::TABLE, E::OWNER));
        sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
    }
    if let Some(tag) = query.tag.as_deref().filter(|_| E::TAGS) {
        // Tags are a JSON array in text: the tag as a JSON string, quotes included.
        let json = serde_json::to_string(tag).unwrap_or_default();
        let escaped = json
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        sql.push(&format!(" AND {}.tags LIKE ", E::TABLE))
            .bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    }
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let pattern = like_pattern(q);
        sql.push(" AND (");
        for (i, col) in E::SEARCH.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push(&format!("LOWER({}.{col}) LIKE ", E::TABLE))
                .bind(pattern.clone())
                .push(" ESCAPE '\\'");
        }
        sql.push(")");
    }
}

/// Appends `INSERT … RETURNING id` of a new record (version 1).
pub(crate) fn push_insert(sql: &mut Sql, table: &str, cols: &[(&'static str, Arg)]) {
    let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    sql.push(&format!(
        "INSERT INTO {table} ({}, version) VALUES (",
        names.join(", ")
    ));
    for (_, v) in cols {
        sql.bind(v.clone()).push(", ");
    }
    sql.bind(1i64).push(") RETURNING id");
}

/// `UPDATE … SET <cols>, version = version + 1 WHERE id = … AND version = <expected>`.
pub(crate) fn update_sql<E: Entity>(
    rec: &E,
    cols: &[(&'static str, Arg)],
    expected_version: i64,
) -> Sql {
    let mut sql = Sql::new(&format!("UPDATE {} SET ", E::TABLE));
    for (col, v) in cols {
        sql.push(&format!("{col} = ")).bind(v.clone()).push(", ");
    }
    sql.push("version = version + 1 WHERE id = ").bind(rec.id());
    sql.push(" AND version = ").bind(expected_version);
    sql
}

/// Which opportunity new events belong to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EventsOf {
    Id(i64),
    /// The `id` of a common table expression `o` the caller has put before the statement.
    CteO,
}

/// Appends one statement inserting all of an opportunity's new events.
pub(crate) fn push_events_insert(sql: &mut Sql, of: EventsOf, events: &[NewEvent]) {
    sql.push(
        "INSERT INTO opportunity_events (opportunity_id, kind, actor_id, at, from_stage_id, to_stage_id, old_value, new_value) SELECT ",
    );
    match of {
        EventsOf::Id(id) => sql.bind(id),
        EventsOf::CteO => sql.push("o.id"),
    };
    sql.push(", v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM ");
    if let EventsOf::CteO = of {
        sql.push("o, ");
    }
    sql.push("(VALUES ");
    for (i, e) in events.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(e.kind.as_str()).push(", ");
        sql.bind(e.actor_id).push(", ");
        sql.bind(e.at).push(", ");
        sql.bind(e.from_stage_id).push(", ");
        sql.bind(e.to_stage_id).push(", ");
        sql.bind(e.old_value.as_ref().map(|v| v.to_string()))
            .push(", ");
        sql.bind(e.new_value.as_ref().map(|v| v.to_string()))
            .push(")");
    }
    sql.push(") AS v");
}

/// Parameters per statement when bulk loading.
const BULK_PARAMS: usize = 1_000;

/// What [`StoreError::Duplicate`] names when a stage move meets a pending approval request.
pub const APPROVAL_PENDING: &str = "approval_pending";

/// One write of several done together by [`Db::write_all`].
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// An opportunity after a stage move, with its events and the tasks its new stage creates.
    Move {
        opp: &'a Opportunity,
        expected_version: i64,
        events: &'a [NewEvent],
        tasks: &'a [Task],
        /// Custom values set with the move.
        custom: &'a [CustomChange],
    },
    /// Events of an opportunity that itself does not change (an approval requested).
    Events {
        opportunity_id: OpportunityId,
        events: &'a [NewEvent],
    },
    NewApproval(&'a ApprovalRequest),
    Approval {
        req: &'a ApprovalRequest,
        expected_version: i64,
    },
    Notify(&'a [Notification]),
    /// Outgoing deliveries of those notifications (channels, email).
    Deliveries(&'a [crate::delivery::NewDelivery]),
}

/// How a record is saved.
#[derive(Debug, Clone, Copy)]
pub enum Save<'a> {
    Insert {
        idem: Option<&'a IdemKey>,
    },
    /// Update if the stored version is still `expected_version`.
    Update {
        expected_version: i64,
    },
    /// Insert, and record in the same transaction that an import's row created it (what a
    /// rollback, or the undoing of an interrupted import, finds).
    Imported(ImportMark),
}

/// The import row a new record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportMark {
    pub import_id: Id,
    pub row: i64,
    pub kind: shangji_core::import::ImportedKind,
}

impl ImportMark {
    /// `INSERT INTO import_rows … SELECT …, <id>, 'created', NULL, 1 <from>`: the mark of
    /// the new record whose id `id` names, read `from` (a CTE or the table).
    pub(crate) fn push_insert(&self, sql: &mut Sql, id: &str, from: &str) {
        sql.push(
            "INSERT INTO import_rows (import_id, row_no, record_kind, record_id, action, before, version_after) SELECT ",
        );
        sql.bind(self.import_id)
            .push(", ")
            .bind(self.row)
            .push(", ")
            .bind(self.kind.as_str());
        sql.push(&format!(", {id}, 'created', NULL, 1 FROM {from}"));
    }
}

impl Db {
    /// One record by id if it is in `scope` (for `access`); `None` otherwise, so callers
    /// cannot tell "missing" from "not yours".
    pub async fn get<E: Entity>(
        &self,
        id: i64,
        scope: &Scope,
        access: Access,
    ) -> Result<Option<E>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT * FROM {}", E::TABLE));
        where_clause::<E>(&mut sql, scope, access);
        sql.push(&format!(" AND {}.id = ", E::TABLE)).bind(id);
        let mut found: Option<E> = on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(E::from_row).transpose()?
        });
        if let Some(rec) = found.as_mut() {
            self.fill_custom(std::slice::from_mut(rec)).await?;
        }
        Ok(found)
    }

    /// A page of the records in `scope` that match `query`, with the total count.
    pub async fn list<E: Entity>(
        &self,
        scope: &Scope,
        query: &ListQuery,
    ) -> Result<Page<E>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT * FROM {}", E::TABLE));
        list_filters::<E>(&mut sql, scope, query);
        let dir = if query.desc { "DESC" } else { "ASC" };
        sql.push(&format!(
            " ORDER BY {}.{} {dir}, {}.id {dir} LIMIT ",
            E::TABLE,
            query.sort,
            E::TABLE
        ))
        .bind(query.limit)
        .push(" OFFSET ")
        .bind(query.offset);
        let mut count = Sql::new(&format!("SELECT COUNT(*) FROM {}", E::TABLE));
        list_filters::<E>(&mut count, scope, query);
        let mut page = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            let total: i64 = bind_all!(sqlx::query_scalar(&count.text), &count.args).fetch_one(p).await?;
            Page {
                items: rows.iter().map(E::from_row).collect::<Result<Vec<E>, _>>()?,
                total,
            }
        });
        self.fill_custom(&mut page.items).await?;
        Ok(page)
    }

    /// Saves a record and, for opportunities, its events — all or nothing. Returns the id.
    /// Custom values are not written: see [`Db::save_with_custom`].
    pub async fn save<E: Entity>(
        &self,
        rec: &E,
        how: Save<'_>,
        events: &[NewEvent],
    ) -> Result<i64, StoreError> {
        self.save_with_custom(rec, how, events, &[]).await
    }

    /// Saves a record, its events and the changes to its custom values (each change
    /// replaces the field's stored rows) — all or nothing. Returns the id.
    pub async fn save_with_custom<E: Entity>(
        &self,
        rec: &E,
        how: Save<'_>,
        events: &[NewEvent],
        custom: &[CustomChange],
    ) -> Result<i64, StoreError> {
        let cols = rec.columns();
        let kind = match (E::CUSTOM, custom.is_empty()) {
            (_, true) => None,
            (Some(kind), false) => Some(kind),
            (None, false) => {
                return Err(StoreError::Config(format!(
                    "{} have no custom fields",
                    E::TABLE
                )))
            }
        };
        let rows = rows_of(custom);
        let new_rows = kind.filter(|_| !rows.is_empty());
        // A plain insert: no idempotency key to store with it, perhaps an import's mark.
        let plain = match how {
            Save::Insert { idem: None } => Some(None),
            Save::Imported(mark) => Some(Some(mark)),
            _ => None,
        };
        if let (Some(inserts), Some(imported)) = (&self.shared.inserts, plain) {
            return inserts
                .insert(NewRecord {
                    table: E::TABLE,
                    cols,
                    events: events.to_vec(),
                    custom: new_rows.map(|k| (k, rows)),
                    imported,
                })
                .await;
        }
        if let (Pool::Postgres(p), Some(imported)) = (self.pool(), plain) {
            // One statement, atomic by itself: the record, then its events, values and mark.
            let mut sql = Sql::new("WITH o AS (");
            push_insert(&mut sql, E::TABLE, &cols);
            if !events.is_empty() {
                sql.push("), e AS (");
                push_events_insert(&mut sql, EventsOf::CteO, events);
            }
            if let Some(kind) = new_rows {
                sql.push("), c AS (");
                push_values_insert(&mut sql, kind, EventsOf::CteO, &rows);
            }
            if let Some(mark) = imported {
                sql.push("), i AS (");
                mark.push_insert(&mut sql, "id", "o");
            }
            sql.push(") SELECT id FROM o");
            let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args)
                .fetch_one(p)
                .await?;
            return Ok(id);
        }
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let id = match how {
                // Written above: by the writer (SQLite) or in one statement (PostgreSQL).
                Save::Imported(_) => unreachable!("an import's insert is a plain insert"),
                Save::Insert { idem } => {
                    let mut sql = Sql::new("");
                    push_insert(&mut sql, E::TABLE, &cols);
                    let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                    if let Some(k) = idem {
                        let mut sql = Sql::new(
                            "INSERT INTO idempotency_keys (user_id, key, resource, request_hash, record_id, created_at) VALUES (",
                        );
                        sql.bind(k.user_id).push(", ").bind(k.key.clone()).push(", ").bind(k.resource);
                        sql.push(", ").bind(k.request_hash.clone()).push(", ").bind(id).push(", ");
                        sql.bind(k.at);
                        sql.push(")");
                        bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                    }
                    id
                }
                Save::Update { expected_version } => {
                    let sql = update_sql(rec, &cols, expected_version);
                    let n = bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?.rows_affected();
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
                    rec.id()
                }
            };
            if !events.is_empty() {
                let mut sql = Sql::new("");
                push_events_insert(&mut sql, EventsOf::Id(id), events);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            if let (Some(kind), Save::Update { .. }) = (kind, how) {
                let mut sql = Sql::new("");
                push_values_delete(&mut sql, kind, id, custom);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            if let Some(kind) = new_rows {
                let mut sql = Sql::new("");
                push_values_insert(&mut sql, kind, EventsOf::Id(id), &rows);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Saves an opportunity after a stage move: the record, its events and the tasks its
    /// new stage's standard actions create — all or nothing.
    pub async fn save_move(
        &self,
        opp: &Opportunity,
        expected_version: i64,
        events: &[NewEvent],
        tasks: &[Task],
        custom: &[CustomChange],
    ) -> Result<(), StoreError> {
        self.write_all(&[Write::Move {
            opp,
            expected_version,
            events,
            tasks,
            custom,
        }])
        .await
        .map(|_| ())
    }

    /// Several writes in one transaction: all or nothing. Returns the ids of the records
    /// inserted by `NewApproval`, in order.
    pub async fn write_all(&self, writes: &[Write<'_>]) -> Result<Vec<i64>, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let mut ids = Vec::new();
            for w in writes {
                let mut stmts: Vec<Sql> = Vec::new();
                match *w {
                    Write::Move { opp, expected_version, events, tasks, custom } => {
                        // While a move waits for approval, the opportunity stays where it is.
                        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approval_requests WHERE opportunity_id = $1 AND status = 'pending'")
                            .bind(opp.id)
                            .fetch_one(&mut *tx)
                            .await?;
                        if pending > 0 {
                            return Err(StoreError::Duplicate(APPROVAL_PENDING.into()));
                        }
                        let sql = update_sql(opp, &opp.columns(), expected_version);
                        let n = bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?.rows_affected();
                        if n == 0 {
                            let (table, id) = (Opportunity::TABLE, opp.id);
                            let current: Option<i64> = sqlx::query_scalar(&format!("SELECT version FROM {table} WHERE id = $1"))
                                .bind(id)
                                .fetch_optional(&mut *tx)
                                .await?;
                            return Err(current.map_or(StoreError::NotFound, |current_version| StoreError::Conflict { current_version }));
                        }
                        if !events.is_empty() {
                            let mut sql = Sql::new("");
                            push_events_insert(&mut sql, EventsOf::Id(opp.id), events);
                            stmts.push(sql);
                        }
                        for t in tasks {
                            let mut sql = Sql::new("");
                            push_insert(&mut sql, Task::TABLE, &t.columns());
                            stmts.push(sql);
                        }
                        if !custom.is_empty() {
                            let mut sql = Sql::new("");
                            push_values_delete(&mut sql, RecordKind::Opportunity, opp.id, custom);
                            stmts.push(sql);
                            let rows = rows_of(custom);
                            if !rows.is_empty() {
                                let mut sql = Sql::new("");
                                push_values_insert(&mut sql, RecordKind::Opportunity, EventsOf::Id(opp.id), &rows);
                                stmts.push(sql);
                            }
                        }
                    }
                    Write::Events { opportunity_id, events } => {
                        if !events.is_empty() {
                            let mut sql = Sql::new("");
                            push_events_insert(&mut sql, EventsOf::Id(opportunity_id), events);
                            stmts.push(sql);
                        }
                    }
                    Write::NewApproval(req) => {
                        let mut sql = Sql::new("");
                        push_insert(&mut sql, ApprovalRequest::TABLE, &req.columns());
                        let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                        ids.push(id);
                    }
                    Write::Approval { req, expected_version } => {
                        let sql = update_sql(req, &req.columns(), expected_version);
                        let n = bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?.rows_affected();
                        if n == 0 {
                            let (table, id) = (ApprovalRequest::TABLE, req.id);
                            let current: Option<i64> = sqlx::query_scalar(&format!("SELECT version FROM {table} WHERE id = $1"))
                                .bind(id)
                                .fetch_optional(&mut *tx)
                                .await?;
                            return Err(current.map_or(StoreError::NotFound, |current_version| StoreError::Conflict { current_version }));
                        }
                    }
                    Write::Notify(list) => {
                        for note in list {
                            let mut sql = Sql::new("");
                            push_insert(&mut sql, Notification::TABLE, &note.columns());
                            stmts.push(sql);
                        }
                    }
                    Write::Deliveries(list) => {
                        stmts.extend(list.iter().map(crate::delivery::insert_delivery_sql));
                    }
                }
                for sql in stmts {
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// Marks a user's notification read, keeping the time it was first read; `false` when
    /// the user has no such notification.
    pub async fn mark_read(
        &self,
        user_id: UserId,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE notifications SET read_at = COALESCE(read_at, ");
        sql.bind(now).push(") WHERE id = ").bind(id);
        sql.push(" AND user_id = ").bind(user_id);
        Ok(self.execute(&sql).await? > 0)
    }

    /// How many unread notifications a user has.
    pub async fn unread_count(&self, user_id: UserId) -> Result<i64, StoreError> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
                .bind(user_id)
                .fetch_one(p)
                .await?)
        })
    }

    /// The keys of the standard actions done through their tasks on an opportunity.
    pub async fn actions_done_by_tasks(
        &self,
        opportunity_id: OpportunityId,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT action_key FROM tasks WHERE record_kind = 'opportunity' AND record_id = $1 AND done = $2 AND action_key IS NOT NULL ORDER BY action_key",
            )
            .bind(opportunity_id)
            .bind(true)
            .fetch_all(p)
            .await?)
        })
    }

    /// What an idempotency key was first used for, if it was.
    pub async fn idempotency(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<Option<IdemRecord>, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT resource, request_hash, record_id FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                .bind(user_id)
                .bind(key)
                .fetch_optional(p)
                .await?;
            row.map(|r| -> Result<IdemRecord, StoreError> {
                Ok(IdemRecord {
                    resource: r.text("resource")?,
                    request_hash: r.text("request_hash")?,
                    record_id: r.i64("record_id")?,
                })
            })
            .transpose()
        })
    }

    /// An opportunity's history, oldest first.
    pub async fn events(
        &self,
        opportunity_id: OpportunityId,
    ) -> Result<Vec<OpportunityEvent>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM opportunity_events WHERE opportunity_id = $1 ORDER BY at, id")
                .bind(opportunity_id)
                .fetch_all(p)
                .await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    /// Events of all opportunities visible in `scope`, between two instants (for analytics
    /// and exports), oldest first.
    pub async fn events_between(
        &self,
        scope: &Scope,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<OpportunityEvent>, StoreError> {
        let mut sql = Sql::new(
            "SELECT e.* FROM opportunity_events e JOIN opportunities ON opportunities.id = e.opportunity_id WHERE ",
        );
        owner_in_scope("opportunities.owner_id", scope, &mut sql);
        sql.push(" AND e.at >= ")
            .bind(from)
            .push(" AND e.at < ")
            .bind(to);
        sql.push(" ORDER BY e.at, e.id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    /// The whole history of every opportunity of a pipeline visible in `scope` (optionally
    /// owned by one of `owners`), for analytics; by opportunity, oldest first.
    /// With `moves_only`, just the events that place an opportunity in a stage (created,
    /// stage and pipeline changes), without their values: what conversion and time in stage
    /// read.
    pub async fn pipeline_history(
        &self,
        scope: &Scope,
        pipeline_id: PipelineId,
        owners: Option<&[UserId]>,
        moves_only: bool,
        filter: &crate::analytics::HistoryFilter,
    ) -> Result<Vec<OpportunityEvent>, StoreError> {
        let mut sql = Sql::new(if moves_only {
            "SELECT e.id, e.opportunity_id, e.kind, e.actor_id, e.at, e.from_stage_id, e.to_stage_id, CAST(NULL AS TEXT) AS old_value, CAST(NULL AS TEXT) AS new_value FROM opportunity_events e JOIN opportunities ON opportunities.id = e.opportunity_id WHERE e.kind IN ('created', 'stage_changed', 'pipeline_changed') AND "
        } else {
            "SELECT e.* FROM opportunity_events e JOIN opportunities ON opportunities.id = e.opportunity_id WHERE "
        });
        owner_in_scope("opportunities.owner_id", scope, &mut sql);
        sql.push(" AND opportunities.pipeline_id = ")
            .bind(pipeline_id);
        if let Some(owners) = owners {
            sql.push(" AND opportunities.owner_id IN ");
            sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
        }
        filter.push(&mut sql);
        sql.push(" ORDER BY e.opportunity_id, e.at, e.id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    /// Meaningful follow-ups (activities of `kinds`) per author in `[from, to)`, authors in
    /// `scope` (optionally one of `owners`).
    pub async fn follow_ups_by_author(
        &self,
        scope: &Scope,
        from: OffsetDateTime,
        to: OffsetDateTime,
        owners: Option<&[UserId]>,
        kinds: &[&str],
    ) -> Result<Vec<(UserId, i64)>, StoreError> {
        // The author as an expression (`author_id + 0`), in the conditions and the grouping:
        // the period's range on `activities_follow_ups` is what makes this cheap, and a
        // planner that saw the author's own index (ordered for the grouping, good for an IN
        // list) would read every activity those authors ever logged.
        let author = "(author_id + 0)";
        let mut sql = Sql::new(&format!(
            "SELECT {author} AS author_id, COUNT(*) AS n FROM activities WHERE "
        ));
        owner_in_scope(author, scope, &mut sql);
        sql.push(" AND kind IN ").bind_text_list(kinds);
        sql.push(" AND archived = ").bind(false);
        sql.push(" AND occurred_at >= ").bind(from);
        sql.push(" AND occurred_at < ").bind(to);
        if let Some(owners) = owners {
            sql.push(&format!(" AND {author} IN "));
            sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
        }
        sql.push(" GROUP BY 1");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.i64("author_id")?, r.i64("n")?))).collect()
        })
    }

    /// Whether a row with this id exists in `table` (for reference checks before writing).
    pub async fn exists(&self, table: &'static str, id: i64) -> Result<bool, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
        on_pool!(self, p => {
            let n: i64 = sqlx::query_scalar(&sql).bind(id).fetch_one(p).await?;
            Ok(n > 0)
        })
    }

    /// Number of rows of a table (tests, status, benchmarks).
    pub async fn count(&self, table: &'static str) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        on_pool!(self, p => Ok(sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await?))
    }

    /// Inserts records with their own ids, in batches, in one transaction (demo and
    /// benchmark data into an empty database). Custom values are not written.
    pub async fn bulk_insert<E: Entity>(&self, records: &[E]) -> Result<(), StoreError> {
        let Some(first) = records.first() else {
            return Ok(());
        };
        let names: Vec<&str> = first.columns().iter().map(|(c, _)| *c).collect();
        let per_row = names.len() + 2;
        // Binding cost grows faster than linearly with a statement's parameter count (SQLite
        // looks `$n` names up), so batches stay near a thousand parameters.
        let batch = (BULK_PARAMS / per_row).max(1);
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            for chunk in records.chunks(batch) {
                let mut sql = Sql::new(&format!("INSERT INTO {} (id, {}, version) VALUES ", E::TABLE, names.join(", ")));
                for (i, r) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.bind(r.id());
                    for (_, v) in r.columns() {
                        sql.push(", ").bind(v);
                    }
                    sql.push(", ").bind(r.version()).push(")");
                }
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Inserts stored events with their own ids (demo and benchmark data).
    pub async fn bulk_insert_events(&self, events: &[OpportunityEvent]) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            for chunk in events.chunks(BULK_PARAMS / 9) {
                let mut sql = Sql::new(
                    "INSERT INTO opportunity_events (id, opportunity_id, kind, actor_id, at, from_stage_id, to_stage_id, old_value, new_value) VALUES ",
                );
                for (i, e) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.bind(e.id).push(", ").bind(e.opportunity_id).push(", ").bind(e.kind.as_str());
                    sql.push(", ").bind(e.actor_id).push(", ").bind(e.at);
                    sql.push(", ").bind(e.from_stage_id).push(", ").bind(e.to_stage_id);
                    sql.push(", ").bind(e.old_value.as_ref().map(|v| v.to_string()));
                    sql.push(", ").bind(e.new_value.as_ref().map(|v| v.to_string())).push(")");
                }
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Refreshes the statistics the query planner chooses indexes by, after a bulk load; on
    /// PostgreSQL also the visibility map, without which index-only scans read the table.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        match self.pool() {
            Pool::Sqlite(p) => sqlx::query("ANALYZE").execute(p).await.map(|_| ())?,
            Pool::Postgres(p) => sqlx::query("VACUUM ANALYZE").execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    /// After inserting rows with explicit ids, moves PostgreSQL's identity sequences past
    /// them, every identity column of the schema (SQLite needs nothing).
    pub async fn reset_sequences(&self) -> Result<(), StoreError> {
        if let Pool::Postgres(p) = self.pool() {
            let identities = sqlx::query(
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
                 WHERE table_schema = current_schema() AND is_identity = 'YES'",
            )
            .fetch_all(p)
            .await?;
            for row in identities {
                let (table, column) = (row.text("t")?, row.text("c")?);
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), GREATEST((SELECT MAX(\"{column}\") FROM \"{table}\"), 1))"
                ))
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }
}
