//! Group commit for new records on SQLite.
//!
//! SQLite has one writer at a time, and each statement is a hand-over to the connection's
//! thread. Under load, most of a create's time was spent holding the write turn while those
//! hand-overs waited for a CPU. So new records (with their events) go to one task that
//! writes whatever has queued up — up to [`MAX_BATCH`] records — as one transaction sent in
//! one command, and answers each caller with its id. Should the batch fail, it is rolled back
//! and each record is written alone, so every caller gets its own answer and one bad record
//! never takes others down with it. PostgreSQL, which writes concurrently, does not use this.

use std::sync::Arc;

use shangji_core::custom_fields::CustomRow;
use shangji_core::model::{Id, RecordKind};
use shangji_core::opportunity::NewEvent;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::crud::{push_events_insert, push_insert, EventsOf, ImportMark};
use crate::custom::push_values_insert;
use crate::db::{bind_all, Arg, RowExt, Sql};
use crate::error::StoreError;

/// Records per transaction at most.
const MAX_BATCH: usize = 128;

/// A new record, its events, its custom value rows (by field) and its import mark.
#[derive(Debug)]
pub(crate) struct NewRecord {
    pub table: &'static str,
    pub cols: Vec<(&'static str, Arg)>,
    pub events: Vec<NewEvent>,
    pub custom: Option<(RecordKind, Vec<(Id, CustomRow)>)>,
    /// The import row it comes from.
    pub imported: Option<ImportMark>,
}

type Job = (NewRecord, oneshot::Sender<Result<i64, StoreError>>);

/// The queue of the instance's group-commit task.
#[derive(Debug, Clone)]
pub(crate) struct Inserts(mpsc::UnboundedSender<Job>);

impl Inserts {
    /// Starts the task. It takes `turn` (the instance's SQLite write turn) for each batch and
    /// ends when the last [`Inserts`] is dropped.
    pub(crate) fn start(pool: SqlitePool, turn: Arc<Mutex<()>>) -> Inserts {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, turn, rx));
        Inserts(tx)
    }

    /// Writes a record with its events; returns its id once committed.
    pub(crate) async fn insert(&self, record: NewRecord) -> Result<i64, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the database writer has stopped".into());
        self.0.send((record, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pool: SqlitePool, turn: Arc<Mutex<()>>, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let _turn = turn.lock().await;
        let (records, replies): (Vec<NewRecord>, Vec<_>) = batch.into_iter().unzip();
        match write(&pool, &records).await {
            Ok(ids) => {
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(e) if records.len() == 1 => {
                let _ = replies.into_iter().next().map(|r| r.send(Err(e)));
            }
            Err(_) => {
                for (record, reply) in records.iter().zip(replies) {
                    let one = write(&pool, std::slice::from_ref(record)).await;
                    let _ = reply.send(one.map(|ids| ids[0]));
                }
            }
        }
    }
}

/// One transaction, one command: each record's `INSERT … RETURNING id`, then its events and
/// custom values.
async fn write(pool: &SqlitePool, records: &[NewRecord]) -> Result<Vec<i64>, StoreError> {
    let mut sql = Sql::new("BEGIN IMMEDIATE; ");
    for r in records {
        push_insert(&mut sql, r.table, &r.cols);
        sql.push("; ");
        if !r.events.is_empty() {
            // The new row's id, read once before the events are inserted.
            sql.push("WITH o(id) AS MATERIALIZED (SELECT last_insert_rowid()) ");
            push_events_insert(&mut sql, EventsOf::CteO, &r.events);
            sql.push("; ");
        }
        if let Some((kind, rows)) = &r.custom {
            // The new row has the table's largest id (SQLite gives a new row one more than the
            // largest), and the batch holds the write lock; `last_insert_rowid()` may name an
            // event by now.
            sql.push(&format!(
                "WITH o(id) AS MATERIALIZED (SELECT MAX(id) FROM {}) ",
                r.table
            ));
            push_values_insert(&mut sql, *kind, EventsOf::CteO, rows);
            sql.push("; ");
        }
        if let Some(mark) = &r.imported {
            // The largest id again: the new row's.
            mark.push_insert(&mut sql, "MAX(id)", r.table);
            sql.push("; ");
        }
    }
    sql.push("COMMIT;");
    let mut conn = pool.acquire().await?;
    let done = bind_all!(sqlx::query(&sql.text).persistent(false), &sql.args)
        .fetch_all(&mut *conn)
        .await;
    match done {
        Ok(rows) if rows.len() == records.len() => rows.iter().map(|r| r.i64("id")).collect(),
        Ok(rows) => Err(StoreError::Corrupt(format!(
            "{} ids for {} new records",
            rows.len(),
            records.len()
        ))),
        Err(e) => {
            // Harmless when the transaction never began.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e.into())
        }
    }
}
