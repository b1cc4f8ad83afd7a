//! Forecast snapshots: written once (the snapshot and its rows in one transaction), then
//! only read. There is no update or delete here, and the tables' triggers refuse both. A
//! weekly snapshot is unique per ISO week, so instances racing to take it store one.

use shangji_core::model::*;
use time::{Date, OffsetDateTime};

use crate::db::{bind_all, Arg, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

/// A snapshot's header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub id: i64,
    /// `weekly` (taken by the server, once per ISO week) or `manual` (on demand).
    pub kind: String,
    /// The ISO week of a weekly snapshot, e.g. `2026-W48`.
    pub week: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub taken_at: OffsetDateTime,
    /// Who asked for it (none: the server's weekly task or the command line).
    pub taken_by: Option<UserId>,
    pub runs: i32,
    pub seed: i64,
}

/// One period of a snapshot for the company, a team (its whole subtree) or an owner: the
/// forecast as it stood (CNY minor units).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SnapshotRow {
    pub pipeline_id: PipelineId,
    /// `company`, `team` or `rep`.
    pub level: String,
    pub team_id: Option<TeamId>,
    pub owner_id: Option<UserId>,
    /// `month` or `quarter`.
    pub grain: String,
    #[schema(value_type = String, format = Date)]
    pub period_from: Date,
    #[schema(value_type = String, format = Date)]
    pub period_to: Date,
    /// Won in the period by the time of the snapshot.
    pub won: i64,
    /// `won` + the open deals weighted by their configured probability.
    pub configured: i64,
    /// … by P(won | reached their stage).
    pub empirical: i64,
    /// … by the mean of the two.
    pub blended: i64,
    /// Monte Carlo percentiles of the won amount.
    pub p10: i64,
    pub p50: i64,
    pub p90: i64,
}

/// A snapshot row with the time its snapshot was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenRow {
    pub snapshot_id: i64,
    pub taken_at: OffsetDateTime,
    pub row: SnapshotRow,
}

const ROW_COLUMNS: &[&str] = &[
    "pipeline_id",
    "level",
    "team_id",
    "owner_id",
    "grain",
    "period_from",
    "period_to",
    "won",
    "configured",
    "empirical",
    "blended",
    "p10",
    "p50",
    "p90",
];

fn snapshot_from_row<R: RowExt>(r: &R) -> Result<Snapshot, StoreError> {
    Ok(Snapshot {
        id: r.i64("id")?,
        kind: r.text("kind")?,
        week: r.opt_text("week")?,
        taken_at: r.ts("taken_at")?,
        taken_by: r.opt_i64("taken_by")?,
        runs: r.i32("runs")?,
        seed: r.i64("seed")?,
    })
}

fn row_from_row<R: RowExt>(r: &R) -> Result<SnapshotRow, StoreError> {
    let date = |c: &str| {
        r.opt_date(c)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {c} is empty")))
    };
    Ok(SnapshotRow {
        pipeline_id: r.i64("pipeline_id")?,
        level: r.text("level")?,
        team_id: r.opt_i64("team_id")?,
        owner_id: r.opt_i64("owner_id")?,
        grain: r.text("grain")?,
        period_from: date("period_from")?,
        period_to: date("period_to")?,
        won: r.i64("won")?,
        configured: r.i64("configured")?,
        empirical: r.i64("empirical")?,
        blended: r.i64("blended")?,
        p10: r.i64("p10")?,
        p50: r.i64("p50")?,
        p90: r.i64("p90")?,
    })
}

fn row_args(r: &SnapshotRow) -> [Arg; 14] {
    [
        r.pipeline_id.into(),
        r.level.clone().into(),
        r.team_id.into(),
        r.owner_id.into(),
        r.grain.clone().into(),
        r.period_from.into(),
        r.period_to.into(),
        r.won.into(),
        r.configured.into(),
        r.empirical.into(),
        r.blended.into(),
        r.p10.into(),
        r.p50.into(),
        r.p90.into(),
    ]
}

/// Rows per INSERT statement (14 arguments each, well below both dialects' limits).
const ROWS_PER_INSERT: usize = 400;

impl Db {
    /// Stores a snapshot (its `id` is ignored) with its rows in one transaction; its id. A
    /// second weekly snapshot of the same week is `Duplicate`, and nothing of it is stored.
    pub async fn insert_snapshot(
        &self,
        s: &Snapshot,
        rows: &[SnapshotRow],
    ) -> Result<i64, StoreError> {
        let mut head = Sql::new(
            "INSERT INTO forecast_snapshots (kind, week, taken_at, taken_by, runs, seed) VALUES (",
        );
        head.bind(s.kind.clone())
            .push(", ")
            .bind(s.week.clone())
            .push(", ")
            .bind(s.taken_at)
            .push(", ")
            .bind(s.taken_by)
            .push(", ")
            .bind(s.runs)
            .push(", ")
            .bind(s.seed)
            .push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let id: i64 = bind_all!(sqlx::query_scalar(&head.text), &head.args)
                .fetch_one(&mut *tx)
                .await?;
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut sql = Sql::new(&format!(
                    "INSERT INTO forecast_snapshot_rows (snapshot_id, {}) VALUES ",
                    ROW_COLUMNS.join(", ")
                ));
                for (i, r) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" }).bind(id);
                    for a in row_args(r) {
                        sql.push(", ").bind(a);
                    }
                    sql.push(")");
                }
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Whether the snapshot of `kind` for `week` exists.
    pub async fn snapshot_of_week(&self, kind: &str, week: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM forecast_snapshots WHERE kind = ");
        sql.bind(kind).push(" AND week = ").bind(week);
        on_pool!(self, p => {
            let n: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?;
            Ok(n > 0)
        })
    }

    /// The latest snapshots, newest first.
    pub async fn snapshots(&self, limit: i64) -> Result<Vec<Snapshot>, StoreError> {
        let mut sql =
            Sql::new("SELECT * FROM forecast_snapshots ORDER BY taken_at DESC, id DESC LIMIT ");
        sql.bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(snapshot_from_row).collect()
        })
    }

    /// One snapshot with its rows (by pipeline, level, team, owner, grain, period).
    pub async fn snapshot(
        &self,
        id: i64,
    ) -> Result<Option<(Snapshot, Vec<SnapshotRow>)>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM forecast_snapshots WHERE id = ");
        sql.bind(id);
        let mut rows_sql = Sql::new("SELECT * FROM forecast_snapshot_rows WHERE snapshot_id = ");
        rows_sql
            .bind(id)
            .push(" ORDER BY pipeline_id, level, team_id, owner_id, grain, period_from");
        on_pool!(self, p => {
            let Some(head) = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await? else {
                return Ok(None);
            };
            let rows = bind_all!(sqlx::query(&rows_sql.text), &rows_sql.args).fetch_all(p).await?;
            Ok(Some((
                snapshot_from_row(&head)?,
                rows.iter().map(row_from_row).collect::<Result<Vec<_>, _>>()?,
            )))
        })
    }

    /// The rows of a pipeline's snapshots for periods of `grain` starting in
    /// `[from, to]`, with the time their snapshot was taken, oldest snapshot first.
    pub async fn snapshot_rows_for(
        &self,
        pipeline_id: PipelineId,
        grain: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<TakenRow>, StoreError> {
        let mut sql = Sql::new(
            "SELECT r.*, s.taken_at FROM forecast_snapshot_rows r JOIN forecast_snapshots s ON s.id = r.snapshot_id WHERE r.pipeline_id = ",
        );
        sql.bind(pipeline_id)
            .push(" AND r.grain = ")
            .bind(grain)
            .push(" AND r.period_from >= ")
            .bind(from)
            .push(" AND r.period_from <= ")
            .bind(to)
            .push(" ORDER BY s.taken_at, s.id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(TakenRow {
                        snapshot_id: r.i64("snapshot_id")?,
                        taken_at: r.ts("taken_at")?,
                        row: row_from_row(r)?,
                    })
                })
                .collect()
        })
    }
}
