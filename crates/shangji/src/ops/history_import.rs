//! Importing stage history from a CSV file (admins): the file is read, every row checked by
//! `shangji_core::history_import` (all problems, with row and column), and the valid rows
//! written as the opportunities' events in one transaction — nothing at all when a row has a
//! problem, unless only the valid rows are asked for.

use std::collections::HashMap;

use serde::Serialize;
use shangji_core::history_import::{self as core_import, Problem, Target, ValidRow};
use shangji_core::model::*;
use shangji_core::opportunity::EventKind;
use shangji_store::{Db, ImportedHistory};
use utoipa::ToSchema;

use super::Ctx;
use crate::error::AppError;
use shangji_core::audit::AuditAction;

/// What an import did (or would have done).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportOutcome {
    /// Data rows read.
    pub rows: usize,
    /// Rows written (0 when refused).
    pub imported_rows: usize,
    /// Opportunities whose history was extended.
    pub opportunities: usize,
    /// Events written.
    pub events: usize,
    /// Every problem found, by row; with `valid_only` these rows were skipped, without it
    /// nothing was written.
    pub problems: Vec<Problem>,
    pub valid_only: bool,
    /// Imported history is taken as fact: the stages are recorded at the file's times
    /// without replaying gates and approvals, every event naming the importing user.
    pub taken_as_fact: bool,
}

impl ImportOutcome {
    /// Whether the file was refused (problems and not `valid_only`).
    pub fn refused(&self) -> bool {
        !self.problems.is_empty() && !self.valid_only
    }
}

/// Data records of a file, each with its row number (the header being row 1).
type Records = Vec<(usize, Vec<String>)>;

/// The file's header and data records.
fn read_csv(text: &str) -> Result<(Vec<String>, Records), AppError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let bad = |e: csv::Error| {
        let row = e.position().map_or(0, |p| p.line());
        AppError::bad_request(
            "file",
            "invalid_csv",
            format!("row {row}: the file is not valid CSV ({e})"),
        )
    };
    let header: Vec<String> = r
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(AppError::bad_request(
            "file",
            "empty_file",
            "the file is empty: it needs a header row (opportunity,stage,entered_at,amount)",
        ));
    }
    let mut records = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let row = rec
            .position()
            .map_or(records.len() + 2, |p| p.line() as usize);
        records.push((row, rec.iter().map(str::to_string).collect()));
    }
    Ok((header, records))
}

/// Imports a history file (admins only). With `valid_only`, the valid rows are written and
/// the others reported; otherwise any problem refuses the whole file.
pub async fn import_history(
    db: &Db,
    ctx: &Ctx,
    text: &str,
    valid_only: bool,
) -> Result<ImportOutcome, AppError> {
    ctx.require_admin()?;
    let (header, records) = read_csv(text)?;
    let keys: Vec<String> = {
        let col = header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case("opportunity"));
        let mut k: Vec<String> = col
            .map(|c| {
                records
                    .iter()
                    .filter_map(|(_, f)| f.get(c).map(|s| s.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        k.sort();
        k.dedup();
        k
    };
    // An external id first; otherwise a number is shangji's id.
    let external: HashMap<String, OpportunityId> = db
        .opportunities_by_external_id(&keys)
        .await?
        .into_iter()
        .collect();
    let mut ids: HashMap<String, OpportunityId> = HashMap::new();
    for k in &keys {
        if let Some(id) = external.get(k).copied().or_else(|| k.parse().ok()) {
            ids.insert(k.clone(), id);
        }
    }
    let mut wanted: Vec<OpportunityId> = ids.values().copied().collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut opps: HashMap<OpportunityId, Opportunity> = HashMap::new();
    for id in &wanted {
        if let Some(o) = db
            .get::<Opportunity>(*id, &ctx.scope, shangji_store::Access::Write)
            .await?
            .filter(|o| !o.archived)
        {
            opps.insert(*id, o);
        }
    }
    let found: Vec<OpportunityId> = opps.keys().copied().collect();
    let mut history_end: HashMap<OpportunityId, time::OffsetDateTime> = HashMap::new();
    for e in db.events_of(&found, i64::MAX).await? {
        let places = matches!(
            e.kind,
            EventKind::Created | EventKind::StageChanged | EventKind::PipelineChanged
        );
        if places {
            let end = history_end.entry(e.opportunity_id).or_insert(e.at);
            *end = (*end).max(e.at);
        }
    }
    let resolve = |k: &str| -> Option<Target<'_>> {
        let o = opps.get(ids.get(k)?)?;
        Some(Target {
            opp: o,
            pipeline: ctx.dir.pipeline(o.pipeline_id)?,
            history_end: history_end.get(&o.id).copied().unwrap_or(o.created_at),
        })
    };
    let checked = core_import::check(&header, &records, resolve, ctx.now);
    let mut outcome = ImportOutcome {
        rows: checked.rows,
        imported_rows: 0,
        opportunities: 0,
        events: 0,
        problems: checked.problems,
        valid_only,
        taken_as_fact: true,
    };
    if outcome.refused() {
        return Ok(outcome);
    }
    let mut by_opp: Vec<(OpportunityId, Vec<&ValidRow>)> = Vec::new();
    for v in &checked.valid {
        match by_opp.iter_mut().find(|(id, _)| *id == v.opportunity_id) {
            Some((_, rows)) => rows.push(v),
            None => by_opp.push((v.opportunity_id, vec![v])),
        }
    }
    let mut planned = Vec::new();
    for (id, rows) in &by_opp {
        let o = &opps[id];
        let Some(p) = ctx.dir.pipeline(o.pipeline_id) else {
            continue;
        };
        let (after, events) = core_import::plan(o, p, rows, ctx.actor.user_id, ctx.now);
        outcome.imported_rows += rows.len();
        if !events.is_empty() {
            planned.push((after, o.version, events));
        }
    }
    let items: Vec<ImportedHistory> = planned
        .iter()
        .map(|(opp, v, events)| ImportedHistory {
            opp,
            expected_version: *v,
            events,
        })
        .collect();
    db.save_imported_history(&items).await?;
    // The reports read the projection: brought up to the imported history now.
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    let detail = format!(
        "stage history: {} rows, {} events on {} opportunities (taken as fact: gates and approvals not replayed)",
        outcome.imported_rows,
        planned.iter().map(|(_, _, e)| e.len()).sum::<usize>(),
        planned.len()
    );
    super::audit::record(db, ctx, AuditAction::Import, "stage history", detail).await?;
    outcome.opportunities = planned.len();
    outcome.events = planned.iter().map(|(_, _, e)| e.len()).sum();
    Ok(outcome)
}
