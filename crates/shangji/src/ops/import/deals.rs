//! The opportunities of an import, with their past (`shangji_core::import::deals`): each row's
//! account found by name or credit code, its external id matched against the company's deals,
//! its stage history (the import's history file, keyed by external id) checked as the history
//! import checks it, and the deal built — created at its creation time, taken through its
//! history, closed with its reason — as it will be written. Imported history is taken as fact:
//! gates and approvals are not replayed; the importing user is recorded on every event.

use std::collections::HashMap;

use serde_json::Value;
use shangji_core::custom_fields::CustomChange;
use shangji_core::history_import::{self as history, Target, ValidRow};
use shangji_core::import::deals::{self as core, Past};
use shangji_core::import::{ImportBatch, OnDuplicate, Problem};
use shangji_core::model::*;
use shangji_core::opportunity::{self as core_opp, NewEvent, OpportunityInput};
use shangji_store::{Db, ImportedDeal};
use time::OffsetDateTime;

use super::{account_named, errors_of, placed, read_sheet, Ctx, Planned};
use crate::error::AppError;
use crate::ops::opportunities::pipeline_for;
use crate::ops::records::{
    apply_custom, check_closed_deal_owner, check_links, check_owner, Resource,
};

/// A deal as it will be written.
pub(super) struct Built {
    pub opp: Opportunity,
    pub events: Vec<NewEvent>,
    pub custom: Vec<CustomChange>,
    pub external_id: Option<String>,
}

/// The key an external id is told apart by within a file.
pub(super) fn file_key(deal: &serde_json::Map<String, Value>) -> Option<String> {
    deal.get("external_id")
        .and_then(Value::as_str)
        .map(|e| format!("opportunity:external:{}", e.trim()))
}

/// A row's deal before its history: its input, its past, when it was created, its pipeline.
struct Draft {
    input: OpportunityInput,
    past: Past,
    created_at: OffsetDateTime,
    pipeline: PipelineId,
    stage: StageId,
}

/// Plans the deals of an opportunities file's rows (read by the generic plan): problems go
/// on their rows; the history file's problems (by its own rows) are returned.
pub(super) async fn plan(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    plans: &mut [Planned],
    headers: &[String],
) -> Result<Vec<Problem>, AppError> {
    let column = |key: &str| super::column_of(headers, &batch.mapping, key);
    // The company's deals the file's external ids name: such a row is skipped (the deal and
    // its history are there already).
    let keys: Vec<String> = plans
        .iter()
        .filter_map(|p| p.inputs.deal.as_ref()?.get("external_id")?.as_str())
        .map(|s| s.trim().to_string())
        .collect();
    let stored: HashMap<String, OpportunityId> = db
        .opportunities_by_external_id(&keys)
        .await?
        .into_iter()
        .collect();
    let mut drafts: Vec<Option<Draft>> = Vec::with_capacity(plans.len());
    // Each account the file names is looked up once.
    let mut accounts: HashMap<String, Option<Id>> = HashMap::new();
    for p in plans.iter_mut() {
        let Some(mut deal) = p.inputs.deal.clone() else {
            drafts.push(None);
            continue;
        };
        let past = core::take_past(&mut deal);
        if let Some(id) = past.external_id.as_ref().and_then(|e| stored.get(e.trim())) {
            p.matched = Some((
                RecordKind::Opportunity,
                *id,
                past.external_id.clone().unwrap(),
            ));
        }
        if p.matched.is_some() || p.repeats.is_some() {
            // A deal is imported once: its history cannot be written twice.
            p.action = OnDuplicate::Skip;
            drafts.push(None);
            continue;
        }
        if let Some(name) = p.inputs.account_ref.clone() {
            let found = match accounts.get(&name) {
                Some(found) => *found,
                None => {
                    let found = account_named(db, &name).await?;
                    accounts.insert(name.clone(), found);
                    found
                }
            };
            match found {
                Some(id) => {
                    deal.insert("account_id".into(), Value::from(id));
                }
                None => p.inputs.problems.push(Problem {
                    row: p.inputs.row,
                    column: column("account"),
                    code: "unknown_account".into(),
                    message: format!(
                        "no account is called or has the credit code “{name}”: import the accounts first"
                    ),
                }),
            }
        }
        let (Some(pipeline), Some(stage), true) = (
            deal.get("pipeline_id").and_then(Value::as_i64),
            deal.get("stage_id").and_then(Value::as_i64),
            deal.contains_key("account_id"),
        ) else {
            drafts.push(None);
            continue;
        };
        match serde_json::from_value::<OpportunityInput>(Value::Object(deal)) {
            Ok(input) => drafts.push(Some(Draft {
                input,
                created_at: past.created_at.unwrap_or(ctx.now),
                past,
                pipeline,
                stage,
            })),
            Err(e) => {
                p.inputs.problems.push(Problem {
                    row: p.inputs.row,
                    column: String::new(),
                    code: "invalid_value".into(),
                    message: e.to_string(),
                });
                drafts.push(None);
            }
        }
    }
    let (histories, history_problems) = histories(db, ctx, batch, &mut drafts).await?;
    for (i, (p, draft)) in plans.iter_mut().zip(drafts).enumerate() {
        let Some(d) = draft else { continue };
        let rows: Vec<&ValidRow> = histories.get(&i).map_or(vec![], |r| r.iter().collect());
        match build(db, ctx, d, &rows).await {
            Ok(Ok(built)) => {
                p.record = Some(shown(&built, p.inputs.account_ref.as_deref()));
                p.deal = Some(Box::new(built));
            }
            Ok(Err(misfit)) => p.inputs.problems.push(Problem {
                row: p.inputs.row,
                column: column(misfit.1),
                code: misfit.0.into(),
                message: misfit.2,
            }),
            Err(e) => {
                for fe in errors_of(e)? {
                    p.inputs.problems.push(placed(&p.inputs, "", fe));
                }
            }
        }
    }
    Ok(history_problems)
}

/// A deal as the preview shows it, by the fields of the file: its account as the file names
/// it, its stage's id (which the page names), its amount, its times in China time.
fn shown(b: &Built, account: Option<&str>) -> Value {
    let china = |t: OffsetDateTime| {
        let t = t.to_offset(shangji_core::calendar::CHINA);
        Value::String(format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute()))
    };
    let mut v = serde_json::to_value(&b.opp).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("external_id".into(), b.external_id.clone().into());
        o.insert("account".into(), account.into());
        o.insert("stage".into(), b.opp.stage_id.to_string().into());
        o.insert("amount_minor".into(), serde_json::json!(b.opp.amount));
        o.insert("created_at".into(), china(b.opp.created_at));
        o.insert(
            "closed_at".into(),
            b.opp.closed_at.map_or(Value::Null, china),
        );
    }
    v
}

/// The history file's valid rows by the index of the row (of `drafts`) whose deal they
/// belong to, and its problems (by its own rows, their column marked `history:`). A deal
/// without a creation time is created at its first history row.
async fn histories(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    drafts: &mut [Option<Draft>],
) -> Result<(HashMap<usize, Vec<ValidRow>>, Vec<Problem>), AppError> {
    let Some(name) = batch.history_name.as_deref() else {
        return Ok((HashMap::new(), vec![]));
    };
    let bytes = db.import_history_file(batch.id).await?.unwrap_or_default();
    let sheet = read_sheet(name, &bytes)?;
    let (header, records) = core::history_records(&sheet.headers, &sheet.rows);
    let by_key: HashMap<String, usize> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            Some((
                d.as_ref()?.past.external_id.as_deref()?.trim().to_string(),
                i,
            ))
        })
        .collect();
    let (c_opp, c_at) = (
        header.iter().position(|h| h == "opportunity"),
        header.iter().position(|h| h == "entered_at"),
    );
    // Creation times the deals file leaves out: the first history row's.
    if let (Some(c_opp), Some(c_at)) = (c_opp, c_at) {
        let mut first: HashMap<usize, OffsetDateTime> = HashMap::new();
        for (_, texts) in &records {
            let key = texts.get(c_opp).map_or("", |s| s.trim());
            let at = texts.get(c_at).and_then(|t| history::parse_time(t));
            if let (Some(i), Some((at, _))) = (by_key.get(key), at) {
                let e = first.entry(*i).or_insert(at);
                *e = (*e).min(at);
            }
        }
        for (i, at) in first {
            if let Some(d) = drafts[i].as_mut().filter(|d| d.past.created_at.is_none()) {
                d.created_at = at;
            }
        }
    }
    // Each deal as the history sees it before its first row: created, nothing moved yet.
    let provisional: HashMap<usize, Opportunity> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let d = d.as_ref()?;
            let pipeline = ctx.dir.pipeline(d.pipeline)?;
            let (mut opp, _) =
                core_opp::create(d.input.clone(), pipeline, &ctx.actor, d.created_at).ok()?;
            opp.id = i as i64 + 1;
            Some((i, opp))
        })
        .collect();
    let resolve = |key: &str| -> Option<Target<'_>> {
        let opp = provisional.get(by_key.get(key.trim())?)?;
        Some(Target {
            opp,
            pipeline: ctx.dir.pipeline(opp.pipeline_id)?,
            history_end: opp.created_at,
        })
    };
    let checked = history::check(&header, &records, resolve, ctx.now);
    let mut out: HashMap<usize, Vec<ValidRow>> = HashMap::new();
    for v in checked.valid {
        out.entry(v.opportunity_id as usize - 1)
            .or_default()
            .push(v);
    }
    let problems = checked
        .problems
        .into_iter()
        .map(|mut p| {
            p.column = format!("history:{}", p.column);
            if p.code == "unknown_opportunity" {
                p.message = format!(
                    "{}: no deal of this file has that external id (the history of deals already stored is imported on its own)",
                    p.message
                );
            }
            p
        })
        .collect();
    Ok((out, problems))
}

/// A draft built into the deal as it will be written, or why its past does not hold together.
async fn build(
    db: &Db,
    ctx: &Ctx,
    mut d: Draft,
    history: &[&ValidRow],
) -> Result<Result<Built, core::Misfit>, AppError> {
    if d.created_at > ctx.now {
        return Ok(Err((
            "in_future",
            "created_at",
            "the deal cannot be created in the future".into(),
        )));
    }
    let pipeline = pipeline_for(ctx, Some(d.pipeline))?;
    let start = core::start_stage(pipeline, d.stage, d.created_at, history)
        .ok_or_else(|| AppError::invalid("stage_id", "no_open_stage", "no open stage"))?;
    d.input.stage_id = shangji_core::Field::Value(start);
    let amount = match d.input.amount_minor {
        shangji_core::Field::Value(a) => Some(a),
        _ => None,
    };
    if let Some(first) = history.first().and_then(|r| r.amount_minor) {
        d.input.amount_minor = shangji_core::Field::Value(first);
    }
    let custom = d.input.custom.take();
    let (mut opp, events) = core_opp::create(d.input, pipeline, &ctx.actor, d.created_at)?;
    let changes = apply_custom(db, ctx, &mut opp, custom, true).await?;
    // A deal closed before it came here may be of a rep who has left since; an open one
    // goes to someone who can follow it up.
    let closed = pipeline
        .stage(d.stage)
        .is_some_and(|s| s.kind != StageKind::Open);
    if closed {
        check_closed_deal_owner(ctx, "owner_id", opp.owner_id)?;
    } else {
        check_owner(ctx, "owner_id", Some(opp.owner_id), Some(ctx.actor.user_id))?;
    }
    // The account must be one the importer may see, as for any deal created.
    check_links(db, ctx, opp.links()).await?;
    let mut events = events;
    core_opp::note_custom_values(&mut events, &opp.custom);
    Ok(core::complete(
        (opp, events),
        pipeline,
        core::Now {
            stage: d.stage,
            amount_minor: amount,
        },
        &d.past,
        history,
        ctx.actor.user_id,
        ctx.now,
    )
    .map(|(opp, events)| Built {
        opp,
        events,
        custom: changes,
        external_id: d.past.external_id.map(|e| e.trim().to_string()),
    }))
}

/// Writes the planned deals (valid, not skipped) in one transaction, and brings the analytics
/// projection up to their history; how many.
pub(super) async fn write(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    plans: &[Planned],
) -> Result<u32, AppError> {
    let items: Vec<ImportedDeal> = plans
        .iter()
        .filter(|p| p.inputs.problems.is_empty() && p.action != OnDuplicate::Skip)
        .filter_map(|p| {
            let b = p.deal.as_deref()?;
            Some(ImportedDeal {
                row: p.inputs.row,
                opp: &b.opp,
                external_id: b.external_id.as_deref(),
                events: &b.events,
                custom: &b.custom,
            })
        })
        .collect();
    let n = db.save_imported_deals(batch.id, &items).await?.len() as u32;
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    Ok(n)
}
