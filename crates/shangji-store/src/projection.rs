//! The analytics projection (see `shangji_core::projection`): rebuilding the rows of the
//! opportunities whose history grew, with the maintained totals kept in step
//! (`analytics_stage_totals`, `analytics_days`), and the aggregates reports read from them —
//! each one `GROUP BY` over an index or over the totals, so a report's cost follows the rows
//! in its period, not the whole history.

use std::collections::BTreeMap;

use shangji_core::analytics::{self, lives, Period};
use shangji_core::horizon::{self, CreationSample, WonDeal};
use shangji_core::model::{ForecastCategory, Pipeline, PipelineId, StageId, UserId};
use shangji_core::projection::{
    self, ChangeGroup, FunnelCount, KeyedCount, ReachCount, SizeCount, StateKey, StayRow,
    TotalsDelta, VersionRow,
};
use shangji_core::Scope;
use time::{Date, OffsetDateTime};

use crate::analytics::HistoryFilter;
use crate::db::{bind_all, from_ms, ms, Db, Pool, RowExt, Sql};
use crate::entity::{event_from_row, owner_in_scope};
use crate::error::StoreError;
use crate::on_pool;

/// "Still": the end of a stay or version that has not ended.
const STILL: i64 = i64::MAX;

/// Opportunities rebuilt per transaction.
const REFRESH_BATCH: i64 = 500;

/// Parameters per insert statement: binding grows faster than linearly with their number, so
/// rows go in many modest statements (as in bulk loading).
const INSERT_PARAMS: usize = 1_000;

fn still_or(t: Option<OffsetDateTime>) -> i64 {
    t.map_or(STILL, ms)
}

fn opt_still(v: i64) -> Option<OffsetDateTime> {
    (v != STILL).then(|| from_ms(v))
}

/// A JSON array of integers, as the database's array aggregate writes it (see
/// `Db::json_array_agg`).
fn json_list(text: &str, what: &str) -> Result<Vec<i64>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A row of `analytics_stays`: its pipeline, owner and stay.
fn stay_from_row<R: RowExt>(r: &R) -> Result<(PipelineId, UserId, StayRow), StoreError> {
    Ok((
        r.i64("pipeline_id")?,
        r.i64("owner_id")?,
        StayRow {
            opportunity_id: r.i64("opportunity_id")?,
            seq: r.i32("seq")?,
            stage_id: r.i64("stage_id")?,
            entered_at: r.ts("entered_at")?,
            left_at: opt_still(r.i64("left_at")?),
            prev_entered_at: r.opt_ts("prev_entered_at")?,
            advanced: r.bool("advanced")?,
            won_later: r.bool("won_later")?,
            lost_later: r.bool("lost_later")?,
            last_in_stage: r.bool("last_in_stage")?,
            ms_in_stage: r.i64("ms_in_stage")?,
            closing: r.bool("closing")?,
            amount_minor: r.i64("amount_minor")?,
            currency: r.text("currency")?,
            created_at: r.ts("created_at")?,
            final_stage_id: r.i64("final_stage_id")?,
            final_at: r.ts("final_at")?,
            entry_owner_id: r.i64("entry_owner_id")?,
            from_stage_id: r.opt_i64("from_stage_id")?,
            loss_reason: r.text("loss_reason")?,
            competitor: r.text("competitor")?,
        },
    ))
}

/// Which rows a report reads: a pipeline, the caller's visibility, optionally some owners.
#[derive(Debug, Clone, Copy)]
pub struct Slice<'a> {
    pub scope: &'a Scope,
    pub pipeline_id: PipelineId,
    pub owners: Option<&'a [UserId]>,
    /// The deals' current source and their account's current industry.
    pub filter: &'a HistoryFilter,
}

impl Slice<'_> {
    /// `<alias>.pipeline_id = … AND` the visibility and owner conditions.
    fn push(&self, alias: &str, sql: &mut Sql) {
        sql.push(&format!("{alias}.pipeline_id = "))
            .bind(self.pipeline_id)
            .push(" AND ");
        owner_in_scope(&format!("{alias}.owner_id"), self.scope, sql);
        if let Some(owners) = self.owners {
            sql.push(&format!(" AND {alias}.owner_id IN "));
            sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
        }
        if !self.totals() {
            sql.push(&format!(
                " AND {alias}.opportunity_id IN (SELECT opportunities.id FROM opportunities WHERE 1 = 1"
            ));
            self.filter.push(sql);
            sql.push(")");
        }
    }

    /// The China days of `period` when the maintained per-day totals can answer for it: a
    /// period of whole days, and no filter on what the totals do not keep (source, industry).
    fn days(&self, period: Period) -> Option<(i64, i64)> {
        self.totals()
            .then(|| projection::china_days(period))
            .flatten()
    }

    /// No filter on source or industry: the maintained totals, which keep pipeline and owner
    /// only, can answer.
    fn totals(&self) -> bool {
        self.filter.source.is_none() && self.filter.industry.is_none()
    }
}

/// What deals are counted by in [`Db::closed_by`] and [`Db::created_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facet {
    /// None: all deals under one key, `""`.
    All,
    /// The owner when the stay began.
    Owner,
    LossReason,
    Competitor,
    /// The stage before.
    FromStage,
    /// The deal's source now.
    Source,
    /// Its account's industry now.
    Industry,
}

impl Facet {
    /// `SELECT <key> AS k, stage, currency, count, amount FROM analytics_stays s … WHERE `.
    fn select(self) -> Sql {
        let (key, join) = match self {
            Facet::All => ("''", ""),
            Facet::Owner => ("CAST(s.entry_owner_id AS TEXT)", ""),
            Facet::LossReason => ("s.loss_reason", ""),
            Facet::Competitor => ("s.competitor", ""),
            Facet::FromStage => ("CAST(s.from_stage_id AS TEXT)", ""),
            Facet::Source => ("o.source", " JOIN opportunities o ON o.id = s.opportunity_id"),
            Facet::Industry => (
                "a.industry",
                " JOIN opportunities o ON o.id = s.opportunity_id LEFT JOIN accounts a ON a.id = o.account_id",
            ),
        };
        Sql::new(&format!("SELECT {key} AS k, s.stage_id, s.currency, COUNT(*) AS n, CAST(SUM(s.amount_minor) AS BIGINT) AS amount FROM analytics_stays s{join} WHERE "))
    }
}

/// The deals created by an opportunities import that was rolled back. While such a deal
/// stays archived (the rollback archives it: its history is append-only) it has no rows in
/// the projection, so that every report is again what it was before the import; restored
/// from the archive, it counts again.
const ROLLED_BACK_DEALS: &str = "SELECT r.record_id FROM import_rows r JOIN imports i ON i.id = r.import_id WHERE r.record_kind = 'opportunity' AND r.action = 'created' AND i.status = 'rolled_back'";

impl Db {
    /// Rebuilds the projection rows of every opportunity marked dirty (by a new event, or by
    /// a change to its pipeline's stages), a batch per transaction; returns how many were
    /// rebuilt. `pipelines` are all pipelines (stage kinds and order). Safe to run from
    /// several instances at once: on PostgreSQL they take turns on an advisory lock, and a
    /// dirty mark is only cleared if no event came after it was read.
    pub async fn refresh_analytics(&self, pipelines: &[Pipeline]) -> Result<u64, StoreError> {
        // Usually nothing to do: find out without waiting for the writer.
        let any: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT opportunity_id FROM analytics_dirty LIMIT 1")
                .fetch_optional(p)
                .await
        })?;
        if any.is_none() {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            let n = self.refresh_batch(pipelines).await?;
            done += n;
            if n < REFRESH_BATCH as u64 {
                return Ok(done);
            }
        }
    }

    async fn refresh_batch(&self, pipelines: &[Pipeline]) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            if matches!(self.pool(), Pool::Postgres(_)) {
                sqlx::query("SELECT pg_advisory_xact_lock(7340012)").execute(&mut *tx).await?;
            }
            let dirty = sqlx::query("SELECT opportunity_id, n FROM analytics_dirty ORDER BY opportunity_id LIMIT $1")
                .bind(REFRESH_BATCH)
                .fetch_all(&mut *tx)
                .await?;
            if dirty.is_empty() {
                return Ok(0);
            }
            let marks: Vec<(i64, i64)> = dirty
                .iter()
                .map(|r| Ok((r.i64("opportunity_id")?, r.i64("n")?)))
                .collect::<Result<_, StoreError>>()?;
            let ids: Vec<i64> = marks.iter().map(|m| m.0).collect();
            let mut sql = Sql::new("SELECT id, pipeline_id, owner_id FROM opportunities WHERE id IN ");
            sql.bind_list(&ids);
            sql.push(" AND NOT (archived = ").bind(true);
            sql.push(&format!(" AND id IN ({ROLLED_BACK_DEALS}))"));
            let opps: Vec<(i64, i64, i64)> = bind_all!(sqlx::query(&sql.text), &sql.args)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.i64("id")?, r.i64("pipeline_id")?, r.i64("owner_id")?)))
                .collect::<Result<_, StoreError>>()?;
            let mut sql = Sql::new("SELECT * FROM opportunity_events WHERE opportunity_id IN ");
            sql.bind_list(&ids);
            sql.push(" ORDER BY opportunity_id, at, id");
            let events = bind_all!(sqlx::query(&sql.text), &sql.args)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(event_from_row)
                .collect::<Result<Vec<_>, StoreError>>()?;
            // What the stays to be replaced added to the totals, taken away again.
            let mut sql = Sql::new("SELECT * FROM analytics_stays WHERE opportunity_id IN ");
            sql.bind_list(&ids);
            let mut delta = TotalsDelta::default();
            for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(&mut *tx).await? {
                let (pipeline_id, owner_id, stay) = stay_from_row(&r)?;
                delta.add(pipeline_id, owner_id, &stay, -1);
            }
            for table in ["analytics_stays", "analytics_versions"] {
                let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE opportunity_id IN "));
                sql.bind_list(&ids);
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            let mut stays = vec![];
            let mut versions = vec![];
            for life in lives(&events) {
                let Some(&(_, pipeline_id, owner_id)) = opps.iter().find(|o| o.0 == life.opportunity_id) else {
                    continue;
                };
                let Some(pipeline) = pipelines.iter().find(|p| p.id == pipeline_id) else {
                    continue;
                };
                let (s, v) = projection::project(&life, pipeline);
                for stay in &s {
                    delta.add(pipeline_id, owner_id, stay, 1);
                }
                stays.extend(s.into_iter().map(|s| (pipeline_id, owner_id, s)));
                versions.extend(v.into_iter().map(|v| (pipeline_id, owner_id, v)));
            }
            for chunk in stays.chunks(INSERT_PARAMS / 23) {
                let mut sql = Sql::new("INSERT INTO analytics_stays (opportunity_id, seq, pipeline_id, owner_id, stage_id, entered_at, left_at, prev_entered_at, advanced, won_later, lost_later, last_in_stage, ms_in_stage, closing, amount_minor, currency, created_at, final_stage_id, final_at, entry_owner_id, from_stage_id, loss_reason, competitor) VALUES ");
                for (i, (pipeline_id, owner_id, s)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.bind(s.opportunity_id).push(", ").bind(s.seq).push(", ");
                    sql.bind(*pipeline_id).push(", ").bind(*owner_id).push(", ");
                    sql.bind(s.stage_id).push(", ").bind(ms(s.entered_at)).push(", ");
                    sql.bind(still_or(s.left_at)).push(", ").bind(s.prev_entered_at.map(ms)).push(", ");
                    sql.bind(s.advanced).push(", ").bind(s.won_later).push(", ");
                    sql.bind(s.lost_later).push(", ").bind(s.last_in_stage).push(", ");
                    sql.bind(s.ms_in_stage).push(", ").bind(s.closing).push(", ");
                    sql.bind(s.amount_minor).push(", ").bind(s.currency.as_str()).push(", ");
                    sql.bind(ms(s.created_at)).push(", ").bind(s.final_stage_id).push(", ");
                    sql.bind(ms(s.final_at)).push(", ").bind(s.entry_owner_id).push(", ");
                    sql.bind(s.from_stage_id).push(", ").bind(s.loss_reason.as_str()).push(", ");
                    sql.bind(s.competitor.as_str()).push(")");
                }
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            for chunk in versions.chunks(INSERT_PARAMS / 14) {
                let mut sql = Sql::new("INSERT INTO analytics_versions (opportunity_id, seq, pipeline_id, owner_id, valid_from, valid_to, stage_id, amount_minor, currency, close_date, probability, archived, stage_entered_at, forecast_category) VALUES ");
                for (i, (pipeline_id, owner_id, v)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.bind(v.opportunity_id).push(", ").bind(v.seq).push(", ");
                    sql.bind(*pipeline_id).push(", ").bind(*owner_id).push(", ");
                    sql.bind(ms(v.valid_from)).push(", ").bind(still_or(v.valid_to)).push(", ");
                    sql.bind(v.stage_id).push(", ").bind(v.amount_minor).push(", ");
                    sql.bind(v.currency.as_str()).push(", ").bind(v.close_date).push(", ");
                    sql.bind(v.probability).push(", ").bind(v.archived).push(", ");
                    sql.bind(ms(v.stage_entered_at)).push(", ");
                    sql.bind(v.forecast_category.map(ForecastCategory::as_str)).push(")");
                }
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            let delta = delta.nonzero();
            let stage_totals: Vec<_> = delta.stages.iter().collect();
            for chunk in stage_totals.chunks(INSERT_PARAMS / 8) {
                let mut sql = Sql::new("INSERT INTO analytics_stage_totals (pipeline_id, owner_id, stage_id, final_stage_id, first_entry, left_stage, days_to_final, n) VALUES ");
                for (i, ((pipeline_id, owner_id, k), n)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.bind(*pipeline_id).push(", ").bind(*owner_id).push(", ");
                    sql.bind(k.stage_id).push(", ").bind(k.final_stage_id).push(", ");
                    sql.bind(k.first_entry).push(", ").bind(k.left).push(", ");
                    sql.bind(k.days_to_final).push(", ").bind(**n).push(")");
                }
                sql.push(" ON CONFLICT (pipeline_id, final_stage_id, stage_id, first_entry, left_stage, days_to_final, owner_id) DO UPDATE SET n = analytics_stage_totals.n + excluded.n");
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            let days: Vec<_> = delta.days.iter().collect();
            for chunk in days.chunks(INSERT_PARAMS / 11) {
                let mut sql = Sql::new("INSERT INTO analytics_days (pipeline_id, day, owner_id, stage_id, currency, entered, advanced, won, lost, closed, closed_amount) VALUES ");
                for (i, ((pipeline_id, owner_id, k), c)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.bind(*pipeline_id).push(", ").bind(k.day).push(", ");
                    sql.bind(*owner_id).push(", ").bind(k.stage_id).push(", ");
                    sql.bind(k.currency.as_str()).push(", ").bind(c.entered).push(", ");
                    sql.bind(c.advanced).push(", ").bind(c.won).push(", ");
                    sql.bind(c.lost).push(", ").bind(c.closed).push(", ");
                    sql.bind(c.closed_amount).push(")");
                }
                sql.push(" ON CONFLICT (pipeline_id, day, owner_id, stage_id, currency) DO UPDATE SET entered = analytics_days.entered + excluded.entered, advanced = analytics_days.advanced + excluded.advanced, won = analytics_days.won + excluded.won, lost = analytics_days.lost + excluded.lost, closed = analytics_days.closed + excluded.closed, closed_amount = analytics_days.closed_amount + excluded.closed_amount");
                bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            }
            // Clear a mark only if no event came since it was read.
            let mut sql = Sql::new("DELETE FROM analytics_dirty WHERE (opportunity_id, n) IN (VALUES ");
            for (i, (id, n)) in marks.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.bind(*id).push(", ").bind(*n).push(")");
            }
            sql.push(")");
            bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(marks.len() as u64)
        })
    }

    /// Marks the deals an opportunities import created dirty: it was rolled back, which
    /// takes them out of the projection (see [`ROLLED_BACK_DEALS`]).
    pub async fn mark_import_dirty(&self, import_id: i64) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            sqlx::query("INSERT INTO analytics_dirty (opportunity_id, n) SELECT record_id, 1 FROM import_rows WHERE import_id = $1 AND record_kind = 'opportunity' AND action = 'created' ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1")
                .bind(import_id)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// Marks every opportunity of a pipeline dirty: its stages' kinds or order changed, which
    /// changes what its stays mean.
    pub async fn mark_pipeline_dirty(&self, pipeline_id: PipelineId) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            sqlx::query("INSERT INTO analytics_dirty (opportunity_id, n) SELECT id, 1 FROM opportunities WHERE pipeline_id = $1 ON CONFLICT (opportunity_id) DO UPDATE SET n = analytics_dirty.n + 1")
                .bind(pipeline_id)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    /// The maintained totals as stored, and as the stays add up now: the two are equal
    /// unless the totals drifted from the stays.
    pub async fn analytics_totals(&self) -> Result<(TotalsDelta, TotalsDelta), StoreError> {
        let mut stored = TotalsDelta::default();
        let mut recomputed = TotalsDelta::default();
        on_pool!(self, p => {
            for r in sqlx::query("SELECT * FROM analytics_stays").fetch_all(p).await? {
                let (pipeline_id, owner_id, stay) = stay_from_row(&r)?;
                recomputed.add(pipeline_id, owner_id, &stay, 1);
            }
            for r in sqlx::query("SELECT * FROM analytics_stage_totals").fetch_all(p).await? {
                let key = projection::StageTotalKey {
                    stage_id: r.i64("stage_id")?,
                    final_stage_id: r.i64("final_stage_id")?,
                    first_entry: r.bool("first_entry")?,
                    left: r.bool("left_stage")?,
                    days_to_final: r.i64("days_to_final")?,
                };
                stored.stages.insert((r.i64("pipeline_id")?, r.i64("owner_id")?, key), r.i64("n")?);
            }
            for r in sqlx::query("SELECT * FROM analytics_days").fetch_all(p).await? {
                let key = projection::DayKey {
                    day: r.i64("day")?,
                    stage_id: r.i64("stage_id")?,
                    currency: r.text("currency")?,
                };
                let counts = projection::DayCounts {
                    entered: r.i64("entered")?,
                    advanced: r.i64("advanced")?,
                    won: r.i64("won")?,
                    lost: r.i64("lost")?,
                    closed: r.i64("closed")?,
                    closed_amount: r.i64("closed_amount")?,
                };
                stored.days.insert((r.i64("pipeline_id")?, r.i64("owner_id")?, key), counts);
            }
            Ok::<_, StoreError>(())
        })?;
        Ok((stored.nonzero(), recomputed.nonzero()))
    }

    /// Opportunities waiting to be rebuilt.
    pub async fn analytics_backlog(&self) -> Result<i64, StoreError> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM analytics_dirty").fetch_one(p).await?;
            row.i64("n")
        })
    }

    /// Entries into each stage in `period` and their fate (see
    /// `projection::funnel_counts`): the first entries from the per-day totals (or the stays,
    /// for a period that is not whole days), the re-entries from the stays.
    pub async fn funnel_counts(
        &self,
        of: Slice<'_>,
        period: Period,
    ) -> Result<Vec<FunnelCount>, StoreError> {
        const COUNTS: &str = "SUM(CASE WHEN s.advanced THEN 1 ELSE 0 END) AS advanced, SUM(CASE WHEN s.won_later THEN 1 ELSE 0 END) AS won, SUM(CASE WHEN s.lost_later THEN 1 ELSE 0 END) AS lost FROM analytics_stays s WHERE ";
        let firsts = match of.days(period) {
            Some((from, to)) => {
                let mut sql = Sql::new("SELECT d.stage_id, CAST(SUM(d.entered) AS BIGINT) AS n, CAST(SUM(d.advanced) AS BIGINT) AS advanced, CAST(SUM(d.won) AS BIGINT) AS won, CAST(SUM(d.lost) AS BIGINT) AS lost FROM analytics_days d WHERE ");
                of.push("d", &mut sql);
                sql.push(" AND d.day >= ").bind(from);
                sql.push(" AND d.day < ").bind(to);
                sql.push(" GROUP BY d.stage_id");
                sql
            }
            None => {
                let mut sql = Sql::new(&format!("SELECT s.stage_id, COUNT(*) AS n, {COUNTS}"));
                of.push("s", &mut sql);
                sql.push(" AND s.prev_entered_at IS NULL AND s.entered_at >= ")
                    .bind(ms(period.from));
                sql.push(" AND s.entered_at < ").bind(ms(period.to));
                sql.push(" GROUP BY s.stage_id");
                sql
            }
        };
        let mut again = Sql::new(&format!("SELECT s.stage_id, COUNT(*) AS n, {COUNTS}"));
        of.push("s", &mut again);
        again
            .push(" AND s.prev_entered_at IS NOT NULL AND s.entered_at >= ")
            .bind(ms(period.from));
        again.push(" AND s.entered_at < ").bind(ms(period.to));
        again
            .push(" AND s.prev_entered_at < ")
            .bind(ms(period.from));
        again.push(" GROUP BY s.stage_id");
        let mut by: BTreeMap<StageId, FunnelCount> = BTreeMap::new();
        for sql in [firsts, again] {
            on_pool!(self, p => {
                for r in bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await? {
                    let stage_id = r.i64("stage_id")?;
                    let c = by.entry(stage_id).or_insert(FunnelCount { stage_id, ..Default::default() });
                    c.entered += r.i64("n")? as u64;
                    c.advanced += r.i64("advanced")? as u64;
                    c.won += r.i64("won")? as u64;
                    c.lost += r.i64("lost")? as u64;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(by.into_values().filter(|c| c.entered > 0).collect())
    }

    /// Deals closed in `period` and still closed at its end, by `facet` (see
    /// `projection::closed_by`).
    pub async fn closed_by(
        &self,
        of: Slice<'_>,
        period: Period,
        facet: Facet,
    ) -> Result<Vec<KeyedCount>, StoreError> {
        let mut sql = facet.select();
        of.push("s", &mut sql);
        let days = of.days(period).filter(|_| facet == Facet::All);
        if days.is_some() {
            // Closings reopened since: the per-day totals count only those still in force.
            sql.push(&format!(" AND s.closing AND s.left_at < {STILL}"));
        } else {
            // Literal, so that the index of closings answers.
            sql.push(" AND s.closing");
        }
        sql.push(" AND s.entered_at >= ").bind(ms(period.from));
        sql.push(" AND s.entered_at < ").bind(ms(period.to));
        sql.push(" AND s.left_at >= ").bind(ms(period.to));
        let mut counts = self.keyed_counts(sql).await?;
        let Some((from, to)) = days else {
            return Ok(counts);
        };
        let mut sql = Sql::new("SELECT '' AS k, d.stage_id, d.currency, CAST(SUM(d.closed) AS BIGINT) AS n, CAST(SUM(d.closed_amount) AS BIGINT) AS amount FROM analytics_days d WHERE ");
        of.push("d", &mut sql);
        sql.push(" AND d.day >= ").bind(from);
        sql.push(" AND d.day < ").bind(to);
        sql.push(" AND d.closed <> 0 GROUP BY d.stage_id, d.currency");
        for c in self.keyed_counts_of(sql).await? {
            match counts
                .iter_mut()
                .find(|k| k.stage_id == c.stage_id && k.currency == c.currency)
            {
                Some(k) => {
                    k.count += c.count;
                    k.amount += c.amount;
                }
                None => counts.push(c),
            }
        }
        counts.retain(|c| c.count > 0);
        counts.sort();
        Ok(counts)
    }

    /// Deals created in `period`, by `facet` (see `projection::created_by`).
    pub async fn created_by(
        &self,
        of: Slice<'_>,
        period: Period,
        facet: Facet,
    ) -> Result<Vec<KeyedCount>, StoreError> {
        let mut sql = facet.select();
        of.push("s", &mut sql);
        sql.push(" AND s.seq = 0 AND s.entered_at >= ")
            .bind(ms(period.from));
        sql.push(" AND s.entered_at < ").bind(ms(period.to));
        self.keyed_counts(sql).await
    }

    async fn keyed_counts(&self, mut sql: Sql) -> Result<Vec<KeyedCount>, StoreError> {
        sql.push(" GROUP BY 1, s.stage_id, s.currency");
        self.keyed_counts_of(sql).await
    }

    /// Rows of `k`, `stage_id`, `currency`, `n` and `amount`.
    async fn keyed_counts_of(&self, sql: Sql) -> Result<Vec<KeyedCount>, StoreError> {
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(KeyedCount {
                        key: r.opt_text("k")?.unwrap_or_default(),
                        stage_id: r.i64("stage_id")?,
                        currency: r.text("currency")?,
                        count: r.i64("n")? as u64,
                        amount: r.i64("amount")?,
                    })
                })
                .collect()
        })
    }

    /// How many reached each stage, by the stage they are in now (see
    /// `projection::reach_counts`); only deals now in `closed` stages are read.
    pub async fn reach_counts(
        &self,
        of: Slice<'_>,
        closed: &[StageId],
    ) -> Result<Vec<ReachCount>, StoreError> {
        let closed = if closed.is_empty() { &[-1][..] } else { closed };
        let sql = if of.totals() {
            let mut sql = Sql::new("SELECT t.stage_id, t.final_stage_id, CAST(SUM(t.n) AS BIGINT) AS n FROM analytics_stage_totals t WHERE ");
            of.push("t", &mut sql);
            sql.push(" AND t.final_stage_id IN ").bind_list(closed);
            sql.push(" AND t.first_entry = ").bind(true);
            sql.push(" GROUP BY t.stage_id, t.final_stage_id HAVING SUM(t.n) > 0");
            sql
        } else {
            let mut sql = Sql::new(
                "SELECT s.stage_id, s.final_stage_id, COUNT(*) AS n FROM analytics_stays s WHERE ",
            );
            of.push("s", &mut sql);
            sql.push(" AND s.final_stage_id IN ").bind_list(closed);
            sql.push(" AND s.prev_entered_at IS NULL GROUP BY s.stage_id, s.final_stage_id");
            sql
        };
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(ReachCount {
                        stage_id: r.i64("stage_id")?,
                        final_stage_id: r.i64("final_stage_id")?,
                        count: r.i64("n")? as u64,
                    })
                })
                .collect()
        })
    }

    /// (stage, milliseconds in it) of the deals that left a stage for the last time in
    /// `period` (see `projection::stage_times`).
    pub async fn stage_times(
        &self,
        of: Slice<'_>,
        period: Period,
    ) -> Result<Vec<(StageId, i64, u64)>, StoreError> {
        // Each stage's hours as one JSON array: grouped by stage alone, in the order of the
        // index, SQLite needs no sort of the period's rows (a `GROUP BY` of stage and hours
        // would sort them all).
        let list = self.json_array_agg();
        let mut sql = Sql::new(&format!(
            "SELECT s.stage_id, CAST({list}(s.ms_in_stage / {}) AS TEXT) AS hours FROM analytics_stays s WHERE ",
            projection::MS_PER_HOUR
        ));
        of.push("s", &mut sql);
        sql.push(" AND s.last_in_stage = ").bind(true);
        sql.push(" AND s.stage_id IN (SELECT st.id FROM stages st WHERE st.pipeline_id = ")
            .bind(of.pipeline_id);
        sql.push(") AND s.left_at >= ").bind(ms(period.from));
        sql.push(" AND s.left_at < ").bind(ms(period.to));
        sql.push(" GROUP BY s.stage_id");
        let lists: Vec<(StageId, String)> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.i64("stage_id")?, r.text("hours")?)))
                .collect::<Result<_, StoreError>>()
        })?;
        let mut out = vec![];
        for (stage_id, list) in lists {
            let mut hours = json_list(&list, "time in stage")?;
            hours.sort_unstable();
            for run in hours.chunk_by(|a, b| a == b) {
                out.push((stage_id, run[0], run.len() as u64));
            }
        }
        Ok(out)
    }

    /// Days from creation to winning of the deals won in `period` and won still (see
    /// `projection::won_cycles`).
    pub async fn won_cycles(
        &self,
        of: Slice<'_>,
        won: &[StageId],
        period: Period,
    ) -> Result<Vec<i64>, StoreError> {
        // SQLite's statistics do not know that most stays have not ended, and would walk the
        // index of stays by leaving time for `left_at = STILL`: named here.
        let index = match self.pool() {
            Pool::Sqlite(_) => " INDEXED BY analytics_stays_in_force",
            Pool::Postgres(_) => "",
        };
        let mut sql = Sql::new(&format!("SELECT (s.entered_at - s.created_at) / 86400000 AS days, COUNT(*) AS n FROM analytics_stays s{index} WHERE "));
        of.push("s", &mut sql);
        // A stay that has not ended in a won stage is the closing one; `closing` lets the
        // index of closings in force answer.
        sql.push(&format!(" AND s.closing AND s.left_at = {STILL}"));
        sql.push(" AND s.stage_id IN ");
        sql.bind_list(if won.is_empty() { &[-1] } else { won });
        sql.push(" AND s.entered_at >= ").bind(ms(period.from));
        sql.push(" AND s.entered_at < ").bind(ms(period.to));
        sql.push(" GROUP BY (s.entered_at - s.created_at) / 86400000");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            let mut days = vec![];
            for r in rows {
                days.extend(std::iter::repeat_n(r.i64("days")?, r.i64("n")? as usize));
            }
            Ok(days)
        })
    }

    /// The horizon's sample of the deals created in the creation window as of `now` (see
    /// `horizon::CreationSample`): creations per China day, and the deals whose closing
    /// stay in force is in one of the `won` or `lost` stages.
    pub async fn creation_sample(
        &self,
        of: Slice<'_>,
        won: &[StageId],
        lost: &[StageId],
        now: OffsetDateTime,
    ) -> Result<CreationSample, StoreError> {
        let mut sql = Sql::new("SELECT MIN(s.entered_at) AS first FROM analytics_stays s WHERE ");
        of.push("s", &mut sql);
        sql.push(" AND s.seq = 0 AND s.entered_at <= ")
            .bind(ms(now));
        let first = on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_one(p).await?;
            row.opt_i64("first")?
        });
        let window = horizon::creation_window(first.map(from_ms), now);
        let bound = |d: Date| ms(analytics::china_day_start(d));
        let (from, to) = (bound(window.0), bound(window.1));
        let months = horizon::window_months(window);
        // A deal's first stay began when it was created: per month of the window, a count of
        // a range of the index of first stays.
        let mut created = Sql::new("SELECT ");
        for (k, m) in months.windows(2).enumerate() {
            created.push(if k == 0 { "(" } else { ", (" });
            created.push("SELECT COUNT(*) FROM analytics_stays s WHERE ");
            of.push("s", &mut created);
            created
                .push(" AND s.seq = 0 AND s.entered_at >= ")
                .bind(bound(m[0]));
            created.push(" AND s.entered_at < ").bind(bound(m[1]));
            created.push(&format!(") AS m{k}"));
        }
        if months.len() < 2 {
            created.push("0 AS none");
        }
        // The closings in force of the deals created in the window: the won ones with what
        // they were won for, the lost ones counted.
        let index = match self.pool() {
            Pool::Sqlite(_) => " INDEXED BY analytics_stays_in_force",
            Pool::Postgres(_) => "",
        };
        let closed = |stages: &[StageId], what: &str| {
            let mut sql = Sql::new(&format!(
                "SELECT {what} FROM analytics_stays s{index} WHERE "
            ));
            of.push("s", &mut sql);
            sql.push(&format!(" AND s.closing AND s.left_at = {STILL}"));
            sql.push(" AND s.stage_id IN ");
            sql.bind_list(if stages.is_empty() { &[-1] } else { stages });
            sql.push(" AND s.created_at >= ").bind(from);
            sql.push(" AND s.created_at < ").bind(to);
            sql
        };
        let won_sql = closed(
            won,
            "s.created_at, s.entered_at, s.amount_minor, s.currency",
        );
        let lost_sql = closed(lost, "COUNT(*) AS n");
        let (monthly_created, won_deals, lost_n) = on_pool!(self, p => {
            let (created, won_rows, lost_row) = tokio::try_join!(
                bind_all!(sqlx::query(&created.text), &created.args).fetch_one(p),
                bind_all!(sqlx::query(&won_sql.text), &won_sql.args).fetch_all(p),
                bind_all!(sqlx::query(&lost_sql.text), &lost_sql.args).fetch_one(p),
            )?;
            let monthly = (0..months.len().saturating_sub(1))
                .map(|k| Ok(created.i64(&format!("m{k}"))? as u64))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let won_deals = won_rows
                .iter()
                .map(|r| {
                    Ok(WonDeal {
                        created_at: from_ms(r.i64("created_at")?),
                        won_at: from_ms(r.i64("entered_at")?),
                        amount_minor: r.i64("amount_minor")?,
                        currency: r.text("currency")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            (monthly, won_deals, lost_row.i64("n")? as u64)
        });
        Ok(CreationSample::new(
            window,
            monthly_created,
            &won_deals,
            lost_n,
        ))
    }

    /// Everyone who owns a deal of the pipeline now (from the maintained totals).
    pub async fn pipeline_owners(
        &self,
        pipeline_id: PipelineId,
    ) -> Result<Vec<UserId>, StoreError> {
        let sql = "SELECT DISTINCT owner_id FROM analytics_stage_totals WHERE pipeline_id = $1 AND n > 0 ORDER BY owner_id";
        on_pool!(self, p => {
            let rows = sqlx::query(sql).bind(pipeline_id).fetch_all(p).await?;
            rows.iter().map(|r| r.i64("owner_id")).collect()
        })
    }

    /// What a forecast reads (see `projection::deals_at`).
    pub async fn deals_at(
        &self,
        of: Slice<'_>,
        stages: &[StageId],
        open: &[StageId],
        since: OffsetDateTime,
        t: OffsetDateTime,
        currency: &str,
    ) -> Result<Vec<VersionRow>, StoreError> {
        let mut sql = Sql::new("SELECT v.opportunity_id, v.stage_id, v.valid_from, v.amount_minor, v.close_date, v.probability, v.stage_entered_at, v.owner_id, v.forecast_category FROM analytics_versions v WHERE ");
        of.push("v", &mut sql);
        sql.push(" AND v.stage_id IN ");
        sql.bind_list(if stages.is_empty() { &[-1] } else { stages });
        sql.push(" AND v.valid_to > ").bind(ms(t));
        sql.push(" AND v.valid_from <= ").bind(ms(t));
        sql.push(" AND v.archived = ").bind(false);
        sql.push(" AND v.currency = ").bind(currency);
        sql.push(" AND (v.stage_id IN ");
        sql.bind_list(if open.is_empty() { &[-1] } else { open });
        sql.push(" OR v.stage_entered_at >= ").bind(ms(since));
        sql.push(") ORDER BY v.opportunity_id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(VersionRow {
                        opportunity_id: r.i64("opportunity_id")?,
                        seq: 0,
                        valid_from: from_ms(r.i64("valid_from")?),
                        valid_to: None,
                        stage_id: r.i64("stage_id")?,
                        amount_minor: r.i64("amount_minor")?,
                        currency: currency.to_string(),
                        close_date: r.opt_date("close_date")?,
                        probability: r.i32("probability")?,
                        archived: false,
                        stage_entered_at: from_ms(r.i64("stage_entered_at")?),
                        owner_id: r.i64("owner_id")?,
                        forecast_category: r
                            .opt_text("forecast_category")?
                            .and_then(|c| c.parse().ok()),
                    })
                })
                .collect()
        })
    }

    /// Days from entering a stage to winning (see `projection::to_win_days`).
    pub async fn to_win_days(
        &self,
        of: Slice<'_>,
        won: &[StageId],
    ) -> Result<Vec<(StageId, i64, u64)>, StoreError> {
        let won = if won.is_empty() { &[-1][..] } else { won };
        let sql = if of.totals() {
            let mut sql = Sql::new("SELECT t.stage_id, t.days_to_final AS days, CAST(SUM(t.n) AS BIGINT) AS n FROM analytics_stage_totals t WHERE ");
            of.push("t", &mut sql);
            sql.push(" AND t.final_stage_id IN ").bind_list(won);
            sql.push(" AND t.left_stage = ").bind(true);
            sql.push(" GROUP BY t.stage_id, t.days_to_final HAVING SUM(t.n) > 0");
            sql
        } else {
            let mut sql = Sql::new("SELECT s.stage_id, (s.final_at - s.entered_at) / 86400000 AS days, COUNT(*) AS n FROM analytics_stays s WHERE ");
            of.push("s", &mut sql);
            sql.push(" AND s.final_stage_id IN ").bind_list(won);
            sql.push(" AND s.left_at < ").bind(STILL);
            sql.push(" GROUP BY s.stage_id, (s.final_at - s.entered_at) / 86400000");
            sql
        };
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.i64("stage_id")?, r.i64("days")?, r.i64("n")? as u64)))
                .collect()
        })
    }

    /// Open deals per stage at `t` (see `projection::size_at`).
    pub async fn size_at(
        &self,
        of: Slice<'_>,
        stages: &[StageId],
        t: OffsetDateTime,
        currency: &str,
    ) -> Result<Vec<SizeCount>, StoreError> {
        let mut sql = Sql::new("SELECT v.stage_id, COUNT(*) AS n, CAST(SUM(v.amount_minor) AS BIGINT) AS amount, CAST(SUM(v.amount_minor * v.probability / 100) AS BIGINT) AS weighted FROM analytics_versions v WHERE ");
        of.push("v", &mut sql);
        sql.push(" AND v.stage_id IN ");
        sql.bind_list(if stages.is_empty() { &[-1] } else { stages });
        sql.push(" AND v.valid_to > ").bind(ms(t));
        sql.push(" AND v.valid_from <= ").bind(ms(t));
        sql.push(" AND v.archived = ").bind(false);
        sql.push(" AND v.currency = ").bind(currency);
        sql.push(" GROUP BY v.stage_id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(SizeCount {
                        stage_id: r.i64("stage_id")?,
                        count: r.i64("n")? as u64,
                        amount: r.i64("amount")?,
                        weighted: r.i64("weighted")?,
                    })
                })
                .collect()
        })
    }

    /// The deals counted at the start or end of `between`, grouped by what they were at both
    /// (see `projection::change_groups`): a deal counts when in one of `open` stages, not
    /// archived, in `currency` and (with a window) expected to close in it.
    pub async fn change_groups(
        &self,
        of: Slice<'_>,
        between: Period,
        open: &[StageId],
        close_window: Option<(Date, Date)>,
        currency: &str,
    ) -> Result<Vec<ChangeGroup>, StoreError> {
        let open = if open.is_empty() { &[-1][..] } else { open };
        let (from, to) = (ms(between.from), ms(between.to));
        let list = self.json_array_agg();
        let counted = |alias: &str, sql: &mut Sql| {
            sql.push(&format!("({alias}.stage_id IN "));
            sql.bind_list(open);
            sql.push(&format!(" AND {alias}.archived = ")).bind(false);
            sql.push(&format!(" AND {alias}.currency = "))
                .bind(currency);
            if let Some((a, b)) = close_window {
                sql.push(&format!(" AND {alias}.close_date >= ")).bind(a);
                sql.push(&format!(" AND {alias}.close_date <= ")).bind(b);
            }
            sql.push(")");
        };
        // 1. The same version from start to end, counted: no change.
        let mut unchanged = Sql::new("SELECT v.stage_id, COUNT(*) AS n, CAST(SUM(v.amount_minor) AS BIGINT) AS amount FROM analytics_versions v WHERE ");
        of.push("v", &mut unchanged);
        unchanged.push(" AND v.valid_to > ").bind(to);
        unchanged.push(" AND v.valid_from <= ").bind(from);
        unchanged.push(" AND ");
        counted("v", &mut unchanged);
        unchanged.push(" GROUP BY v.stage_id");
        // 2. Counted at the end by a version begun in the period, with the one at the start.
        // 3. Counted at the start by a version ended in the period, not counted at the end.
        let changed = |part: u8| {
            let (x, y) = if part == 2 { ("b", "a") } else { ("a", "b") };
            let mut sql = Sql::new("SELECT a.stage_id AS a_stage, a.archived AS a_archived, ");
            counted("a", &mut sql);
            sql.push(" AS a_counted, b.stage_id AS b_stage, b.archived AS b_archived, ");
            counted("b", &mut sql);
            sql.push(" AS b_counted, COUNT(*) AS n, CAST(SUM(COALESCE(a.amount_minor, 0)) AS BIGINT) AS amount_a, CAST(SUM(b.amount_minor) AS BIGINT) AS amount_b, CAST(SUM(CASE WHEN b.amount_minor > a.amount_minor THEN b.amount_minor - a.amount_minor ELSE 0 END) AS BIGINT) AS incr, CAST(SUM(CASE WHEN b.amount_minor < a.amount_minor THEN a.amount_minor - b.amount_minor ELSE 0 END) AS BIGINT) AS decr");
            if part == 3 {
                // The deals of each group, for those that moved out of the count while
                // still open (the slipped deals).
                sql.push(&format!(", CAST({list}(a.opportunity_id) AS TEXT) AS ids"));
            }
            sql.push(&format!(" FROM analytics_versions {x} "));
            sql.push(if part == 2 { "LEFT JOIN" } else { "JOIN" });
            sql.push(&format!(" analytics_versions {y} ON {y}.opportunity_id = {x}.opportunity_id AND {y}.valid_from <= "));
            sql.bind(if part == 2 { from } else { to });
            sql.push(&format!(" AND {y}.valid_to > "))
                .bind(if part == 2 { from } else { to });
            sql.push(" WHERE ");
            of.push(x, &mut sql);
            sql.push(&format!(" AND {x}.stage_id IN "));
            sql.bind_list(open);
            if part == 2 {
                sql.push(" AND b.valid_to > ").bind(to);
                sql.push(" AND b.valid_from > ").bind(from);
                sql.push(" AND b.valid_from <= ").bind(to);
                sql.push(" AND ");
                counted("b", &mut sql);
            } else {
                sql.push(" AND a.valid_to > ").bind(from);
                sql.push(" AND a.valid_to <= ").bind(to);
                sql.push(" AND a.valid_from <= ").bind(from);
                sql.push(" AND ");
                counted("a", &mut sql);
                sql.push(" AND NOT ");
                counted("b", &mut sql);
            }
            sql.push(
                " GROUP BY a.stage_id, a.archived, a_counted, b.stage_id, b.archived, b_counted",
            );
            sql
        };
        // The three read side by side.
        let (begun, ended) = (changed(2), changed(3));
        let (mut groups, begun, ended) = tokio::try_join!(
            self.unchanged_groups(&unchanged),
            self.changed_groups(&begun, None),
            self.changed_groups(&ended, Some(open)),
        )?;
        groups.extend(begun);
        groups.extend(ended);
        Ok(groups)
    }

    /// The aggregate function that collects a column into a JSON array.
    fn json_array_agg(&self) -> &'static str {
        match self.pool() {
            Pool::Sqlite(_) => "json_group_array",
            Pool::Postgres(_) => "json_agg",
        }
    }

    /// Part 1 of [`Db::change_groups`]: rows of `stage_id`, `n`, `amount`.
    async fn unchanged_groups(&self, sql: &Sql) -> Result<Vec<ChangeGroup>, StoreError> {
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let key = StateKey {
                        stage_id: r.i64("stage_id")?,
                        archived: false,
                        counted: true,
                    };
                    let amount = r.i64("amount")?;
                    Ok(ChangeGroup {
                        before: Some(key.clone()),
                        after: key,
                        count: r.i64("n")? as u64,
                        amount_before: amount,
                        amount_after: amount,
                        increase: 0,
                        decrease: 0,
                        moved_out: vec![],
                    })
                })
                .collect()
        })
    }

    /// Parts 2 and 3 of [`Db::change_groups`]: the states at both ends (`a_…`: none when
    /// not created yet), with counts and amounts; with `open` stages, the query has the
    /// groups' `ids`, kept for the groups that moved out of the count while still open.
    async fn changed_groups(
        &self,
        sql: &Sql,
        open: Option<&[StageId]>,
    ) -> Result<Vec<ChangeGroup>, StoreError> {
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let before = match r.opt_i64("a_stage")? {
                        Some(stage_id) => Some(StateKey {
                            stage_id,
                            archived: r.bool("a_archived")?,
                            counted: r.bool("a_counted")?,
                        }),
                        None => None,
                    };
                    let (increase, decrease) = match before {
                        Some(_) => (r.i64("incr")?, r.i64("decr")?),
                        None => (0, 0),
                    };
                    let after = StateKey {
                        stage_id: r.i64("b_stage")?,
                        archived: r.bool("b_archived")?,
                        counted: r.bool("b_counted")?,
                    };
                    let moved_out = match open {
                        Some(open) if projection::slipped(before.as_ref(), &after, open) => {
                            let mut ids = json_list(&r.text("ids")?, "waterfall")?;
                            ids.sort_unstable();
                            ids
                        }
                        _ => vec![],
                    };
                    Ok(ChangeGroup {
                        before,
                        after,
                        count: r.i64("n")? as u64,
                        amount_before: r.i64("amount_a")?,
                        amount_after: r.i64("amount_b")?,
                        increase,
                        decrease,
                        moved_out,
                    })
                })
                .collect()
        })
    }
}
