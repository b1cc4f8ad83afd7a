//! Importing accounts (with their contacts), contacts, leads, opportunities (with their stage
//! history: see `deals`), follow-ups and tasks (see `activities`) from `.xlsx`, `.xls` and `.csv` files (M26). An upload keeps the file and guesses the mapping; the preview reads every row
//! as it would be stored — the core turns cells into inputs, the records' own rules check
//! them, duplicates are matched against the company and the file's earlier rows — and says
//! what each row would do; the run writes through the same operations as any other create or
//! update (so gates, owners, custom fields, duplicates, scoring and rules hold), records each
//! record it made or changed, and can be rolled back.

use std::collections::BTreeMap;

use futures_util::future::join_all;

use serde::Serialize;
use serde_json::{Map, Value};
use shangji_core::import::{
    self as core, ImportBatch, ImportKind, ImportOptions, ImportStatus, ImportSummary,
    ImportedKind, ImportedRecord, Lookups, Mapping, OnDuplicate, Problem, RowInputs, Sheet,
};
use shangji_core::model::*;
use shangji_store::{Db, ImportMark};

use super::records::{self, Record};
use super::Ctx;
use crate::error::AppError;

mod activities;
mod choices;
mod deals;
mod read;
mod rollback;
mod run;
mod template;
pub use choices::value_options;
use choices::{choices, regions};
pub use read::{read_sheet, MAX_FILE_BYTES};
pub use rollback::*;
pub use run::{recover_stalled, run, spawn_run, STALL};
pub use template::{field_name, template};

/// Rows a preview shows as they would be stored.
pub const PREVIEW_ROWS: usize = 20;

/// Who may import: admins, directors and managers (reps' records come to them through
/// routing and the pool).
pub fn may_import(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Director | Role::Manager)
}

fn require_importer(ctx: &Ctx) -> Result<(), AppError> {
    if may_import(ctx.actor.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden("import_not_allowed"))
    }
}

/// Keeps an uploaded file and maps its columns: as the last import of the same kind with the
/// same headers that ran was mapped (a saved mapping, with its value mappings), else as its
/// headers say.
pub async fn upload(
    db: &Db,
    ctx: &Ctx,
    kind: ImportKind,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportBatch, AppError> {
    require_importer(ctx)?;
    let sheet = read_sheet(file_name, bytes)?;
    let key = core::headers_key(&sheet.headers);
    let defs = &ctx.dir.custom_fields;
    let (mapping_from, mapping) = match db.saved_mapping(kind, &key).await? {
        Some((id, saved)) => (
            Some(id),
            core::fitted(kind, saved, sheet.headers.len(), defs),
        ),
        None => (None, core::auto_map(kind, &sheet.headers, defs)),
    };
    let mut batch = ImportBatch {
        id: 0,
        kind,
        file_name: file_name.chars().take(200).collect(),
        created_by: ctx.actor.user_id,
        created_at: ctx.now,
        status: ImportStatus::Uploaded,
        mapping,
        options: ImportOptions::default(),
        total_rows: sheet.rows.len() as u32,
        done_rows: 0,
        summary: ImportSummary::default(),
        error: None,
        finished_at: None,
        rolled_back_at: None,
        history_name: None,
        mapping_from,
    };
    batch.id = db.insert_import(&batch, &key, bytes).await?;
    Ok(batch)
}

/// Adds (or replaces) an opportunities import's stage-history file, before it runs: a header
/// row naming the deal by its external id, the stage, the time it was entered and, optionally,
/// the amount then (`opportunity, stage, entered_at, amount` — or 外部编号, 阶段, 进入时间, 金额).
pub async fn add_history(
    db: &Db,
    ctx: &Ctx,
    id: Id,
    file_name: &str,
    bytes: &[u8],
) -> Result<ImportBatch, AppError> {
    let batch = get(db, ctx, id).await?;
    if batch.kind != ImportKind::Opportunities {
        return Err(AppError::invalid(
            "history",
            "not_opportunities",
            "only an opportunities import takes a stage-history file",
        ));
    }
    read_sheet(file_name, bytes)?;
    let name: String = file_name.chars().take(200).collect();
    if !db.set_import_history(id, &name, bytes).await? {
        return Err(AppError::invalid(
            "status",
            "import_started",
            "this import has run already; upload the file again to change it",
        ));
    }
    get(db, ctx, id).await
}

/// An import, for the admins and whoever uploaded it.
pub async fn get(db: &Db, ctx: &Ctx, id: Id) -> Result<ImportBatch, AppError> {
    require_importer(ctx)?;
    let b = db.import(id).await?.ok_or(AppError::NotFound)?;
    if b.created_by != ctx.actor.user_id && ctx.actor.role != Role::Admin {
        return Err(AppError::NotFound);
    }
    Ok(b)
}

/// The latest imports the caller may see.
pub async fn list(db: &Db, ctx: &Ctx) -> Result<Vec<ImportBatch>, AppError> {
    require_importer(ctx)?;
    Ok(db
        .imports(200)
        .await?
        .into_iter()
        .filter(|b| b.created_by == ctx.actor.user_id || ctx.actor.role == Role::Admin)
        .collect())
}

/// What the preview tells about one row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowPlan {
    pub row: usize,
    /// `create`, `update`, `merge`, `skip`, or `invalid` (has problems).
    pub action: String,
    /// The record (JSON) as it would be stored — the first rows only.
    #[schema(value_type = Option<Object>)]
    pub record: Option<Value>,
    /// The contact of an accounts file's row, as it would be stored.
    #[schema(value_type = Option<Object>)]
    pub contact: Option<Value>,
    /// What it matched: a stored record (kind, id, name when the caller may read it), or an
    /// earlier row of the file.
    pub duplicate: Option<DuplicateOf>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateOf {
    pub record_kind: ImportedKind,
    pub id: Option<Id>,
    pub name: Option<String>,
    /// The earlier row of the same file it repeats.
    pub row: Option<usize>,
}

/// What an import would do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub batch: ImportBatch,
    pub headers: Vec<String>,
    /// Problems of the mapping itself (a required field no column fills…).
    pub mapping_problems: Vec<Problem>,
    /// The counts and every row's problems.
    pub summary: ImportSummary,
    /// Rows that match a stored record or an earlier row.
    pub duplicates: u32,
    /// The first rows, and every row that matches or has a problem.
    pub rows: Vec<RowPlan>,
    /// Texts of choice and region columns that name nothing known, to map value by value.
    pub unknown_values: Vec<core::UnknownValues>,
    /// Each column's first text, to recognise it by.
    pub samples: Vec<String>,
}

/// One part of a row checked as its record would be stored.
struct Checked<T> {
    record: Option<T>,
    matched: Option<shangji_store::duplicates::Candidate>,
}

/// The column a record rule's error belongs to.
fn placed(row: &RowInputs, prefix: &str, e: shangji_core::error::FieldError) -> Problem {
    let key = format!("{prefix}{}", e.field);
    let column = row
        .columns
        .get(&key)
        .or_else(|| row.columns.get(&format!("{prefix}custom.{}", e.field)))
        .cloned()
        .unwrap_or_default();
    Problem {
        row: row.row,
        column,
        code: e.code,
        message: e.message,
    }
}

fn errors_of(e: AppError) -> Result<Vec<shangji_core::error::FieldError>, AppError> {
    match e {
        AppError::Invalid(one) | AppError::BadRequest(one) => Ok(vec![one]),
        AppError::InvalidMany(many) => Ok(many),
        other => Err(other),
    }
}

/// Checks one part of a row (its JSON input) as [`records::create`] would, and matches it
/// against the company's records of its kind.
async fn check_part<T: Record>(
    db: &Db,
    ctx: &Ctx,
    row: &mut RowInputs,
    prefix: &str,
    input: Option<Map<String, Value>>,
    matching: bool,
) -> Result<Checked<T>, AppError> {
    let Some(input) = input else {
        return Ok(Checked {
            record: None,
            matched: None,
        });
    };
    let parsed: T::Input = match serde_json::from_value(Value::Object(input)) {
        Ok(i) => i,
        Err(e) => {
            row.problems.push(Problem {
                row: row.row,
                column: String::new(),
                code: "invalid_value".into(),
                message: e.to_string(),
            });
            return Ok(Checked {
                record: None,
                matched: None,
            });
        }
    };
    match records::prepared::<T>(db, ctx, parsed).await {
        Ok((record, _, _)) => {
            let matched = match record.match_keys().filter(|_| matching) {
                Some(keys) => super::duplicates::matching(db, &keys)
                    .await?
                    .into_iter()
                    .find(|c| Some(c.kind) == keys_kind::<T>(&record)),
                None => None,
            };
            Ok(Checked {
                record: Some(record),
                matched,
            })
        }
        Err(e) => {
            for fe in errors_of(e)? {
                row.problems.push(placed(row, prefix, fe));
            }
            Ok(Checked {
                record: None,
                matched: None,
            })
        }
    }
}

fn keys_kind<T: Record>(record: &T) -> Option<RecordKind> {
    record.match_keys().map(|k| k.kind)
}

/// What a record is told apart by within one file: its kind and each key it is matched on.
fn file_keys<T: Record>(record: &T) -> Vec<String> {
    let Some(k) = record.match_keys() else {
        return vec![];
    };
    let kind = k.kind.as_str();
    [
        k.probe.credit_code.map(|v| format!("{kind}:credit:{v}")),
        k.probe.mobile.map(|v| format!("{kind}:mobile:{v}")),
        k.probe
            .email
            .map(|v| format!("{kind}:email:{}", v.to_lowercase())),
        k.name_key.map(|v| format!("{kind}:name:{v}")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A row read and checked.
struct Planned {
    inputs: RowInputs,
    action: OnDuplicate,
    /// The record the row's main part matched (to update or merge).
    matched: Option<(RecordKind, Id, String)>,
    /// The earlier row it repeats.
    repeats: Option<usize>,
    /// The contact's match (an accounts file), and the account a contacts file names.
    contact_matched: Option<Id>,
    account_id: Option<Id>,
    record: Option<Value>,
    contact: Option<Value>,
    /// An opportunities file's deal, as it will be written.
    deal: Option<Box<deals::Built>>,
}

/// A file read and checked: its rows, the problems of its mapping (which stop everything),
/// and those of an opportunities import's history file.
struct Plan {
    rows: Vec<Planned>,
    mapping_problems: Vec<Problem>,
    history_problems: Vec<Problem>,
}

impl Plan {
    /// The counts, every problem (the history file's after the rows'), and the duplicates.
    fn summary(&self) -> (ImportSummary, u32) {
        let (mut s, duplicates) = summarise(&self.rows);
        let room = core::MAX_PROBLEMS.saturating_sub(s.problems.len());
        s.problems
            .extend(self.history_problems.iter().take(room).cloned());
        (s, duplicates)
    }

    /// Whether anything keeps the whole file from being imported.
    fn has_problems(&self, summary: &ImportSummary) -> bool {
        summary.failed > 0 || !self.history_problems.is_empty()
    }
}

fn lookups<'a>(ctx: &'a Ctx, regions: &'a [String]) -> Lookups<'a> {
    Lookups {
        users: &ctx.dir.users,
        regions,
        choices: choices(),
        custom: &ctx.dir.custom_fields,
        pipelines: &ctx.dir.pipelines,
        loss_reasons: &ctx.dir.loss_reasons,
    }
}

/// Reads and checks every row, and (`matching`) matches each against the company's records
/// and the file's earlier rows.
async fn plan(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    sheet: &Sheet,
    matching: bool,
) -> Result<Plan, AppError> {
    let mapping_problems = core::check_mapping(batch.kind, &sheet.headers, &batch.mapping);
    if !mapping_problems.is_empty() {
        return Ok(Plan {
            rows: vec![],
            mapping_problems,
            history_problems: vec![],
        });
    }
    let regions = regions(ctx);
    let lookups = lookups(ctx, &regions);
    let read: Vec<RowInputs> = sheet
        .rows
        .iter()
        .enumerate()
        .map(|(i, cells)| {
            let m = &batch.mapping;
            core::read_row(batch.kind, &sheet.headers, m, &lookups, i + 2, cells)
        })
        .filter(|r| {
            r.account.is_some()
                || r.contact.is_some()
                || r.lead.is_some()
                || r.deal.is_some()
                || r.activity.is_some()
                || r.task.is_some()
        })
        .collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(read.len());
    // Rows checked side by side (their lookups are independent), then in file order for the
    // rows they repeat.
    for chunk in read.chunks(50) {
        let mut checks = Vec::with_capacity(chunk.len());
        for inputs in chunk {
            checks.push(check_row(db, ctx, batch, sheet, inputs.clone(), matching));
        }
        for checked in join_all(checks).await {
            let (mut p, keys) = checked?;
            let row = p.inputs.row;
            // A row repeating an earlier one matches what that row makes.
            p.repeats = keys.iter().find_map(|k| seen.get(k).copied());
            for k in keys {
                seen.entry(k).or_insert(row);
            }
            let duplicate = p.matched.is_some() || p.repeats.is_some();
            p.action = if duplicate {
                batch.options.decision(row)
            } else {
                OnDuplicate::Create
            };
            out.push(p);
        }
    }
    let history_problems = match batch.kind {
        ImportKind::Opportunities => deals::plan(db, ctx, batch, &mut out, &sheet.headers).await?,
        ImportKind::Activities | ImportKind::Tasks => {
            activities::plan(db, ctx, batch, &mut out, &sheet.headers).await?;
            vec![]
        }
        _ => vec![],
    };
    Ok(Plan {
        rows: out,
        mapping_problems: vec![],
        history_problems,
    })
}

/// Checks one row read from the file, as its records would be stored, and (`matching`)
/// matches it against the company's records; the row planned (but for what it repeats in the
/// file) and the keys it is told apart by within the file.
async fn check_row(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    sheet: &Sheet,
    mut inputs: RowInputs,
    matching: bool,
) -> Result<(Planned, Vec<String>), AppError> {
    let row = inputs.row;
    let mut p = Planned {
        inputs: RowInputs::default(),
        action: OnDuplicate::Create,
        matched: None,
        repeats: None,
        contact_matched: None,
        account_id: None,
        record: None,
        contact: None,
        deal: None,
    };
    let mut keys = Vec::new();
    match batch.kind {
        ImportKind::Accounts => {
            let account = inputs.account.take();
            let contact = inputs.contact.take();
            let a =
                check_part::<Account>(db, ctx, &mut inputs, "", account.clone(), matching).await?;
            let c =
                check_part::<Contact>(db, ctx, &mut inputs, "contact.", contact.clone(), matching)
                    .await?;
            if let Some(r) = &a.record {
                keys.extend(file_keys(r));
                p.record = serde_json::to_value(r).ok();
            }
            if let Some(r) = &c.record {
                keys.extend(file_keys(r));
                p.contact = serde_json::to_value(r).ok();
            }
            p.matched = a.matched.map(|m| (m.kind, m.id, m.name));
            p.contact_matched = c.matched.map(|m| m.id);
            inputs.account = account;
            inputs.contact = contact;
        }
        ImportKind::Contacts => {
            let contact = inputs.contact.take();
            if let Some(name) = inputs.account_ref.clone() {
                match account_named(db, &name).await? {
                    Some(id) => p.account_id = Some(id),
                    None => inputs.problems.push(Problem {
                        row,
                        column: column_of(&sheet.headers, &batch.mapping, "account"),
                        code: "unknown_account".into(),
                        message: format!("no account is called or has the credit code “{name}”"),
                    }),
                }
            }
            let mut with_account = contact.clone();
            if let (Some(c), Some(a)) = (with_account.as_mut(), p.account_id) {
                c.insert("account_id".into(), Value::from(a));
            }
            let c = check_part::<Contact>(db, ctx, &mut inputs, "", with_account, matching).await?;
            if let Some(r) = &c.record {
                keys.extend(file_keys(r));
                p.record = serde_json::to_value(r).ok();
            }
            p.matched = c.matched.map(|m| (m.kind, m.id, m.name));
            inputs.contact = contact;
        }
        ImportKind::Leads => {
            let lead = inputs.lead.take();
            let l = check_part::<Lead>(db, ctx, &mut inputs, "", lead.clone(), matching).await?;
            if let Some(r) = &l.record {
                keys.extend(file_keys(r));
                p.record = serde_json::to_value(r).ok();
            }
            p.matched = l.matched.map(|m| (m.kind, m.id, m.name));
            inputs.lead = lead;
        }
        ImportKind::Opportunities => keys.extend(inputs.deal.as_ref().and_then(deals::file_key)),
        // Checked together, their references found once per name (`activities::plan`).
        ImportKind::Activities | ImportKind::Tasks => {}
    }
    p.inputs = inputs;
    Ok((p, keys))
}

fn column_of(headers: &[String], mapping: &Mapping, key: &str) -> String {
    mapping
        .columns
        .iter()
        .position(|k| k.as_deref() == Some(key))
        .and_then(|i| headers.get(i))
        .cloned()
        .unwrap_or_default()
}

/// The account a contacts file's cell names: by credit code, else by name (its key).
async fn account_named(db: &Db, text: &str) -> Result<Option<Id>, AppError> {
    let text = text.trim();
    let key = shangji_core::duplicates::company_key(text);
    let probe = shangji_store::duplicates::Probe {
        credit_code: Some(text.to_uppercase()),
        name_key: (!key.is_empty()).then(|| key.clone()),
        ..Default::default()
    };
    Ok(db
        .duplicate_candidates(&probe)
        .await?
        .into_iter()
        .find(|c| {
            c.kind == RecordKind::Account
                && (c.on == shangji_core::duplicates::MatchedOn::CreditCode
                    || c.key.as_deref() == Some(key.as_str()))
        })
        .map(|c| c.id))
}

fn summarise(plans: &[Planned]) -> (ImportSummary, u32) {
    let mut s = ImportSummary::default();
    let mut duplicates = 0;
    for p in plans {
        if p.matched.is_some() || p.repeats.is_some() {
            duplicates += 1;
        }
        if !p.inputs.problems.is_empty() {
            s.failed += 1;
            let room = core::MAX_PROBLEMS.saturating_sub(s.problems.len());
            s.problems
                .extend(p.inputs.problems.iter().take(room).cloned());
            continue;
        }
        match p.action {
            OnDuplicate::Create => s.created += 1,
            OnDuplicate::Update | OnDuplicate::Merge => s.updated += 1,
            OnDuplicate::Skip => s.skipped += 1,
        }
    }
    (s, duplicates)
}

async fn sheet_of(db: &Db, batch: &ImportBatch) -> Result<Sheet, AppError> {
    let bytes = db.import_file(batch.id).await?.ok_or(AppError::NotFound)?;
    read_sheet(&batch.file_name, &bytes)
}

/// Saves the mapping and the options (while the import has not run) and says what the import
/// would do; of an import that has started, its summary only.
pub async fn preview(
    db: &Db,
    ctx: &Ctx,
    id: Id,
    mapping: Option<Mapping>,
    options: Option<ImportOptions>,
) -> Result<Preview, AppError> {
    let mut batch = get(db, ctx, id).await?;
    if batch.status != ImportStatus::Uploaded {
        if mapping.is_some() || options.is_some() {
            return Err(AppError::invalid(
                "status",
                "import_started",
                "this import has run already; upload the file again to change it",
            ));
        }
        // Running or ended: what it did is its summary. Planning its rows again would match
        // each against the records it wrote, on every look at its page.
        return Ok(Preview {
            headers: vec![],
            mapping_problems: vec![],
            summary: batch.summary.clone(),
            duplicates: 0,
            rows: vec![],
            unknown_values: vec![],
            samples: vec![],
            batch,
        });
    }
    let sheet = sheet_of(db, &batch).await?;
    if mapping.is_some() || options.is_some() {
        if let Some(mut m) = mapping {
            m.columns.resize(sheet.headers.len(), None);
            batch.mapping = m;
        }
        if let Some(o) = options {
            batch.options = o;
        }
        db.save_import(&batch, ImportStatus::Uploaded).await?;
    }
    let planned = plan(db, ctx, &batch, &sheet, true).await?;
    let (summary, duplicates) = planned.summary();
    let rows = planned
        .rows
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            *i < PREVIEW_ROWS
                || !p.inputs.problems.is_empty()
                || p.matched.is_some()
                || p.repeats.is_some()
        })
        .take(500)
        .map(|(i, p)| RowPlan {
            row: p.inputs.row,
            action: if p.inputs.problems.is_empty() {
                p.action.as_str().to_string()
            } else {
                "invalid".into()
            },
            record: (i < PREVIEW_ROWS).then(|| p.record.clone()).flatten(),
            contact: (i < PREVIEW_ROWS).then(|| p.contact.clone()).flatten(),
            duplicate: match (&p.matched, p.repeats) {
                (_, Some(r)) => Some(DuplicateOf {
                    record_kind: kind_of(batch.kind),
                    id: None,
                    name: None,
                    row: Some(r),
                }),
                (Some((kind, id, name)), None) => Some(DuplicateOf {
                    record_kind: (*kind).into(),
                    id: Some(*id),
                    name: Some(name.clone()),
                    row: None,
                }),
                _ => None,
            },
        })
        .collect();
    let regions = regions(ctx);
    let unknown_values =
        core::unknown_values(batch.kind, &sheet, &batch.mapping, &lookups(ctx, &regions));
    let samples = (0..sheet.headers.len())
        .map(|i| {
            sheet
                .rows
                .iter()
                .map(|r| r.get(i).map(core::Cell::text).unwrap_or_default())
                .find(|t| !t.is_empty())
                .unwrap_or_default()
        })
        .collect();
    Ok(Preview {
        samples,
        unknown_values,
        headers: sheet.headers,
        mapping_problems: planned.mapping_problems,
        summary,
        duplicates,
        rows,
        batch,
    })
}

fn kind_of(kind: ImportKind) -> ImportedKind {
    core::imported_kind(kind)
}

/// Checks that the import can run (mapped, and no problem unless valid rows only are
/// wanted) and marks it running; the caller then calls [`run`] (the server in the
/// background, the command line in place).
pub async fn start(db: &Db, ctx: &Ctx, id: Id) -> Result<ImportBatch, AppError> {
    let mut batch = get(db, ctx, id).await?;
    if batch.status != ImportStatus::Uploaded {
        return Err(AppError::invalid(
            "status",
            "import_started",
            "this import has run already",
        ));
    }
    // The rows' problems, without matching duplicates (the run matches them).
    let sheet = sheet_of(db, &batch).await?;
    let planned = plan(db, ctx, &batch, &sheet, false).await?;
    if let Some(p) = planned.mapping_problems.first() {
        return Err(AppError::invalid("mapping", &p.code, p.message.clone()));
    }
    let (summary, _) = planned.summary();
    if planned.has_problems(&summary) && !batch.options.valid_only {
        return Err(AppError::invalid(
            "file",
            "file_has_problems",
            format!(
                "{} rows have problems: correct them, or import the valid rows only",
                summary.failed + planned.history_problems.len() as u32
            ),
        ));
    }
    batch.status = ImportStatus::Running;
    batch.done_rows = 0;
    if !db.save_import(&batch, ImportStatus::Uploaded).await? {
        return Err(AppError::invalid(
            "status",
            "import_started",
            "this import has been started already",
        ));
    }
    Ok(batch)
}

/// What an import sets on a record beyond its input, once the record's rules passed (a
/// follow-up's author: `activities`).
type Adjust<'a, T> = &'a (dyn Fn(&mut T) -> Result<(), AppError> + Send + Sync);

/// Creates a record from a row's input; `matched`: the preview found it a duplicate and the
/// row creates it all the same (it is saved over its duplicates, sent for review where the
/// settings say so, refused where they block). A row the preview matched with nothing is
/// not matched again.
async fn create_part<T: Record>(
    db: &Db,
    ctx: &Ctx,
    (batch, row): (&ImportBatch, usize),
    input: Map<String, Value>,
    matched: bool,
    adjust: Adjust<'_, T>,
) -> Result<T, AppError> {
    let input: T::Input = serde_json::from_value(Value::Object(input))
        .map_err(|e| AppError::invalid("", "invalid_value", e.to_string()))?;
    let (mut record, changes, _) = records::prepared::<T>(db, ctx, input).await?;
    adjust(&mut record)?;
    let review = if matched {
        super::duplicates::guard(db, ctx, record.match_keys(), true).await?
    } else {
        None
    };
    // Marked as the row's in the same transaction: an interrupted import's undoing finds it.
    let mark = ImportMark {
        import_id: batch.id,
        row: row as i64,
        kind: kind_of_record::<T>(),
    };
    let saved = records::save_new(
        db,
        ctx,
        record,
        &changes,
        None,
        Some(mark),
        review,
        async |_: &T| Ok(()),
    );
    Ok(saved.await?.record)
}

/// Updates the matched record with a row's values — all of them, or (merging) only those
/// the record lacks; the fields written as they were before, and the record after.
async fn update_part<T: Record>(
    db: &Db,
    ctx: &Ctx,
    id: Id,
    mut input: Map<String, Value>,
    merge: bool,
) -> Result<(Map<String, Value>, T), AppError> {
    let before = records::for_update::<T>(db, ctx, id).await?;
    let stored = serde_json::to_value(&before).unwrap_or_default();
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if merge {
        input.retain(|k, _| k == "custom" || empty(stored.get(k)));
        if let Some(Value::Object(custom)) = input.get_mut("custom") {
            custom.retain(|k, _| empty(stored.get("custom").and_then(|c| c.get(k))));
        }
    }
    // What rolling back puts back: the fields the row writes, as they were.
    let mut earlier: Map<String, Value> = input
        .iter()
        .filter(|(k, _)| *k != "custom")
        .map(|(k, _)| (k.clone(), stored.get(k).cloned().unwrap_or(Value::Null)))
        .collect();
    if let Some(Value::Object(custom)) = input.get("custom") {
        let was = custom
            .keys()
            .map(|k| {
                let v = stored.get("custom").and_then(|c| c.get(k));
                (k.clone(), v.cloned().unwrap_or(Value::Null))
            })
            .collect();
        earlier.insert("custom".into(), Value::Object(was));
    }
    input.insert("allow_duplicate".into(), Value::Bool(true));
    let input: T::Input = serde_json::from_value(Value::Object(input))
        .map_err(|e| AppError::invalid("", "invalid_value", e.to_string()))?;
    let after = records::update::<T>(db, ctx, id, input).await?;
    Ok((earlier, after))
}

/// What one record written for a row leaves to undo (`before`: the fields an update wrote,
/// as they were).
fn written<T: Record>(
    batch: &ImportBatch,
    row: usize,
    before: Option<Map<String, Value>>,
    after: &T,
) -> ImportedRecord {
    ImportedRecord {
        import_id: batch.id,
        row,
        record_kind: kind_of_record::<T>(),
        record_id: after.id(),
        before: before.map(|b| Value::Object(b).to_string()),
        version_after: after.version(),
    }
}

fn kind_of_record<T: Record>() -> ImportedKind {
    match T::RESOURCE {
        "accounts" => ImportedKind::Account,
        "contacts" => ImportedKind::Contact,
        "opportunities" => ImportedKind::Opportunity,
        "activities" => ImportedKind::Activity,
        "tasks" => ImportedKind::Task,
        _ => ImportedKind::Lead,
    }
}

/// Writes one part of a row by the row's decision; what was written (none when skipped).
async fn write_part<T: Record>(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    row: usize,
    input: Map<String, Value>,
    action: OnDuplicate,
    matched: Option<Id>,
) -> Result<(Option<Id>, Option<ImportedRecord>), AppError> {
    match (action, matched) {
        (OnDuplicate::Skip, m) => Ok((m, None)),
        (OnDuplicate::Update | OnDuplicate::Merge, Some(id)) => {
            let (before, after) =
                update_part::<T>(db, ctx, id, input, action == OnDuplicate::Merge).await?;
            Ok((Some(id), Some(written(batch, row, Some(before), &after))))
        }
        (_, matched) => {
            let at = (batch, row);
            let r = create_part::<T>(db, ctx, at, input, matched.is_some(), &|_| Ok(())).await?;
            Ok((Some(r.id()), Some(written(batch, row, None, &r))))
        }
    }
}

/// Writes one planned row; the records written.
async fn write_row(
    db: &Db,
    ctx: &Ctx,
    batch: &ImportBatch,
    p: &Planned,
) -> Result<Vec<ImportedRecord>, AppError> {
    let row = p.inputs.row;
    let mut done = Vec::new();
    let action = p.action;
    if action == OnDuplicate::Skip {
        // The whole row: an account's contact is not added to the account it repeats.
        return Ok(done);
    }
    // A row repeating an earlier one: its match is what that row made, found now.
    let matched = match p.matched.as_ref() {
        Some((_, id, _)) => Some(*id),
        None if p.repeats.is_some() => rematch(db, ctx, batch.kind, &p.inputs).await?,
        None => None,
    };
    match batch.kind {
        ImportKind::Accounts => {
            let mut account_id = None;
            if let Some(a) = p.inputs.account.clone() {
                let (id, w) =
                    write_part::<Account>(db, ctx, batch, row, a, action, matched).await?;
                account_id = id;
                done.extend(w);
            }
            if let Some(mut c) = p.inputs.contact.clone() {
                if let Some(a) = account_id {
                    c.insert("account_id".into(), Value::from(a));
                }
                let action = if p.contact_matched.is_some() {
                    action
                } else {
                    OnDuplicate::Create
                };
                let (_, w) =
                    write_part::<Contact>(db, ctx, batch, row, c, action, p.contact_matched)
                        .await?;
                done.extend(w);
            }
        }
        ImportKind::Contacts => {
            if let Some(mut c) = p.inputs.contact.clone() {
                if let Some(a) = p.account_id {
                    c.insert("account_id".into(), Value::from(a));
                }
                let (_, w) = write_part::<Contact>(db, ctx, batch, row, c, action, matched).await?;
                done.extend(w);
            }
        }
        ImportKind::Leads => {
            if let Some(l) = p.inputs.lead.clone() {
                let (_, w) = write_part::<Lead>(db, ctx, batch, row, l, action, matched).await?;
                done.extend(w);
            }
        }
        // Written together, in one transaction (`deals::write`).
        ImportKind::Opportunities => {}
        ImportKind::Activities | ImportKind::Tasks => {
            done.extend(activities::write(db, ctx, batch, p).await?);
        }
    }
    Ok(done)
}

/// The stored record a row matches now (after the file's earlier rows were written).
async fn rematch(
    db: &Db,
    ctx: &Ctx,
    kind: ImportKind,
    inputs: &RowInputs,
) -> Result<Option<Id>, AppError> {
    let mut scratch = inputs.clone();
    let found = match kind {
        ImportKind::Accounts => {
            check_part::<Account>(db, ctx, &mut scratch, "", inputs.account.clone(), true)
                .await?
                .matched
        }
        ImportKind::Contacts => {
            check_part::<Contact>(db, ctx, &mut scratch, "", inputs.contact.clone(), true)
                .await?
                .matched
        }
        ImportKind::Leads => {
            check_part::<Lead>(db, ctx, &mut scratch, "", inputs.lead.clone(), true)
                .await?
                .matched
        }
        ImportKind::Opportunities | ImportKind::Activities | ImportKind::Tasks => None,
    };
    Ok(found.map(|c| c.id))
}
