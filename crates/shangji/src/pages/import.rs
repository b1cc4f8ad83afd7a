//! Importing on the pages: upload a file (or download a template first), map its columns and
//! its unknown choice values, read the preview — every problem by row and column, every
//! duplicate with the decision for its row — run it and watch the progress bar, roll it back.
//! Everything is decided in `ops::import`; the page only shows it and posts the choices.

use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use shangji_core::import::{
    self as core, ImportBatch, ImportKind, ImportStatus, ImportedKind, OnDuplicate,
};

use super::{error_text, render, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::import::{self, Preview, Rollback};
use crate::state::AppState;

const PAGE: &str = "/imports";
const KINDS: [ImportKind; 6] = [
    ImportKind::Accounts,
    ImportKind::Contacts,
    ImportKind::Leads,
    ImportKind::Opportunities,
    ImportKind::Activities,
    ImportKind::Tasks,
];

/// An import as the list shows it.
struct Listed {
    id: i64,
    file_name: String,
    kind: String,
    at: String,
    status: ImportStatus,
    status_label: String,
    rows: u32,
    outcome: String,
}

#[derive(Template)]
#[template(path = "import_list.html")]
struct ListPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    kinds: Vec<(String, String)>,
    imports: Vec<Listed>,
    error: Option<String>,
}

/// A column of the file and the field it fills.
struct Column {
    index: usize,
    header: String,
    sample: String,
    key: String,
}

/// A text of a choice or region column to map, with what it may become.
struct Question {
    n: usize,
    key: String,
    field: String,
    column: String,
    value: String,
    options: Vec<(String, String)>,
}

/// A problem, placed and in the user's language.
struct Trouble {
    row: usize,
    column: String,
    text: String,
}

/// A row of the preview.
struct Planned {
    row: usize,
    action: String,
    action_label: String,
    /// Its duplicate: a link to the stored record (or none for an earlier row) and its name.
    duplicate: Option<(Option<String>, String)>,
    /// The decision asked for this row (a duplicate), and whether it is not the default.
    decision: Option<String>,
    /// The values as they would be stored, one per mapped column (first rows only).
    cells: Vec<String>,
}

/// A record that keeps a rollback from happening.
struct Blocker {
    row: usize,
    href: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "import_page.html")]
struct ImportPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    file_name: String,
    kind_label: String,
    status: ImportStatus,
    status_label: String,
    /// Fields a column may fill: key and label.
    fields: Vec<(String, String)>,
    columns: Vec<Column>,
    /// The mapped columns' labels (the preview table's head).
    mapped: Vec<String>,
    questions: Vec<Question>,
    /// The mapping's own problems.
    mapping_problems: Vec<String>,
    problems: Vec<Trouble>,
    more_problems: bool,
    rows: Vec<Planned>,
    on_duplicate: String,
    valid_only: bool,
    summary: core::ImportSummary,
    duplicates: u32,
    total: u32,
    done: u32,
    percent: u32,
    error: Option<String>,
    notice: Option<String>,
    blockers: Vec<Blocker>,
    /// An opportunities import: its stage-history file's name, when it has one.
    deals: bool,
    history_name: Option<String>,
    /// The import whose saved mapping this one started from.
    mapping_from: Option<i64>,
    /// A follow-ups or tasks import: says how rows find the records they are about.
    activities: bool,
}

#[derive(Template)]
#[template(path = "import_progress.html")]
struct Progress {
    tr: Tr,
    id: i64,
    done: u32,
    total: u32,
    percent: u32,
}

fn kind_label(tr: Tr, kind: ImportKind) -> String {
    tr.t(&format!("import.kind.{kind}")).to_string()
}

fn status_label(tr: Tr, status: ImportStatus) -> String {
    tr.t(&format!("import.status.{status}")).to_string()
}

/// Where a record an import wrote is seen: its page, or (a follow-up, a task) its list.
fn record_href(kind: ImportedKind, id: i64) -> String {
    let base = match kind {
        ImportedKind::Account => "/accounts",
        ImportedKind::Contact => "/contacts",
        ImportedKind::Lead => "/leads",
        ImportedKind::Opportunity => "/opportunities",
        ImportedKind::Activity => return "/activities".into(),
        ImportedKind::Task => return "/tasks".into(),
    };
    format!("{base}/{id}")
}

fn percent(done: u32, total: u32) -> u32 {
    (done * 100).checked_div(total).unwrap_or(100)
}

/// The label of a field among the fields a column may fill (its key when it is none of them).
fn field_label(key: &str, fields: &[(String, String)]) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map_or_else(|| key.to_string(), |(_, l)| l.clone())
}

/// The fields a column of a `kind` file may fill, with their labels: the field's name in the
/// user's language (the contact's fields of an accounts file say so), or a custom field's.
fn fields_of(v: &Viewer, kind: ImportKind) -> Vec<(String, String)> {
    let tr = v.tr;
    let mut out: Vec<(String, String)> = core::fields(kind)
        .iter()
        .map(|s| {
            let name = import::field_name(tr, s);
            let label = if s.key.starts_with("contact.") {
                format!("{} · {name}", tr.t("import.contact_field"))
            } else {
                name.to_string()
            };
            (s.key.to_string(), label)
        })
        .collect();
    for d in core::custom_defs(kind, &v.ctx.dir.custom_fields) {
        let label = if tr.is_zh() { &d.label_zh } else { &d.label_en };
        out.push((format!("custom.{}", d.key), label.clone()));
    }
    out
}

/// A stored value as the preview shows it.
fn shown(v: &Viewer, key: &str, value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n))
            if ["owner_id", "author_id", "assignee_id"].contains(&key)
                || key.ends_with(".owner_id") =>
        {
            n.as_i64()
                .and_then(|id| v.ctx.dir.user(id))
                .map_or_else(|| n.to_string(), |u| u.display_name.clone())
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| shown(v, "", Some(i)))
            .collect::<Vec<_>>()
            .join("、"),
        Some(m @ Value::Object(o)) if o.contains_key("amount_minor") => {
            serde_json::from_value::<shangji_core::money::Money>(m.clone())
                .map(|m| v.tr.money(&m))
                .unwrap_or_default()
        }
        Some(other) => other.to_string(),
    }
}

/// The value a mapped field has in a row's record (or its contact).
fn cell_of(v: &Viewer, key: &str, record: Option<&Value>, contact: Option<&Value>) -> String {
    let (source, field) = match key.strip_prefix("contact.") {
        Some(f) => (contact, f),
        None => (record, key),
    };
    let value = match field.strip_prefix("custom.") {
        Some(c) => source
            .and_then(|r| r.get("custom"))
            .and_then(|c2| c2.get(c)),
        // A record named: the id found (a task's in `record_id`).
        // A record named: as the file names it when the plan says, else the id found (a
        // task's in `record_id`).
        None if ["account", "contact", "opportunity", "lead"].contains(&field) => {
            source.and_then(|r| {
                r.get(field)
                    .or_else(|| r.get(format!("{field}_id")))
                    .or_else(|| r.get("record_id"))
            })
        }
        None => source.and_then(|r| r.get(field)),
    };
    let text = shown(v, field, value);
    // A choice shows its label.
    import::value_options(&v.ctx, v.tr, field)
        .into_iter()
        .find(|(code, _)| *code == text)
        .map_or(text, |(_, label)| label)
}

fn trouble(tr: Tr, p: &core::Problem) -> Trouble {
    // A problem of an opportunities import's history file: its column says so.
    let (column, field) = match p.column.strip_prefix("history:") {
        Some(c) => (format!("{} · {c}", tr.t("import.history.file")), c),
        None => (p.column.clone(), p.column.as_str()),
    };
    Trouble {
        row: p.row,
        column,
        text: super::field_text(tr, field, &p.code),
    }
}

async fn list(State(s): State<AppState>, v: Viewer) -> Response {
    list_page(&s, &v, None).await
}

async fn list_page(s: &AppState, v: &Viewer, error: Option<String>) -> Response {
    let page = async {
        let tr = v.tr;
        let imports = import::list(&s.db, &v.ctx)
            .await?
            .into_iter()
            .map(|b| Listed {
                id: b.id,
                kind: kind_label(tr, b.kind),
                at: tr.datetime(b.created_at),
                status: b.status,
                status_label: status_label(tr, b.status),
                rows: b.total_rows,
                outcome: outcome(tr, &b),
                file_name: b.file_name,
            })
            .collect();
        Ok::<_, AppError>(ListPage {
            tr,
            csrf: v.csrf.clone(),
            here: PAGE.into(),
            nav: v.nav("imports"),
            kinds: KINDS
                .iter()
                .map(|k| (k.as_str().to_string(), kind_label(tr, *k)))
                .collect(),
            imports,
            error,
        })
    };
    match page.await {
        Ok(p) => render(p),
        Err(e) => v.error(PAGE, e),
    }
}

/// What an import did, in a few words.
fn outcome(tr: Tr, b: &ImportBatch) -> String {
    match b.status {
        ImportStatus::Uploaded | ImportStatus::Running => String::new(),
        _ => tr
            .t("import.outcome")
            .replace("{created}", &b.summary.created.to_string())
            .replace("{updated}", &b.summary.updated.to_string())
            .replace("{skipped}", &b.summary.skipped.to_string())
            .replace("{failed}", &b.summary.failed.to_string()),
    }
}

/// A multipart form's fields and its `file` (name and bytes); `None` when it cannot be read
/// (too large).
type Posted = (Vec<(String, String)>, Option<(String, Vec<u8>)>);

async fn multipart(mut parts: Multipart) -> Option<Posted> {
    let mut form = Vec::new();
    let mut file = None;
    while let Some(field) = parts.next_field().await.ok()? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            file = Some((file_name, field.bytes().await.ok()?.to_vec()));
        } else {
            form.push((name, field.text().await.unwrap_or_default()));
        }
    }
    Some((form, file))
}

/// The upload: a multipart form with the CSRF token, the kind and the file.
async fn upload(State(s): State<AppState>, v: Viewer, parts: Multipart) -> Response {
    let Some((form, file)) = multipart(parts).await else {
        return too_large(&s, &v).await;
    };
    let form = match v.posted(form, PAGE) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let uploaded = async {
        let kind: ImportKind = form.get("kind").parse().map_err(|_| {
            AppError::invalid("kind", "invalid_value", "choose what the file holds")
        })?;
        let (name, bytes) = file
            .filter(|(n, b)| !n.is_empty() && !b.is_empty())
            .ok_or_else(|| AppError::invalid("file", "required", "choose a file"))?;
        import::upload(&s.db, &v.ctx, kind, &name, &bytes).await
    };
    match uploaded.await {
        Ok(b) => Redirect::to(&format!("{PAGE}/{}", b.id)).into_response(),
        Err(e) if super::shown_in_form(&e) => {
            let (field, text) = error_text(v.tr, &e);
            let text = if field.is_empty() {
                text
            } else {
                format!("{}: {text}", v.tr.t(&format!("import.field.{field}")))
            };
            list_page(&s, &v, Some(text)).await
        }
        Err(e) => v.error(PAGE, e),
    }
}

/// An opportunities import's stage-history file: a multipart form with the CSRF token and
/// the file.
async fn history(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    parts: Multipart,
) -> Response {
    let here = format!("{PAGE}/{id}");
    let Some((form, file)) = multipart(parts).await else {
        let e = AppError::invalid("file", "file_too_large", "the file is too large");
        return refused(&s, &v, id, e).await;
    };
    if let Err(page) = v.posted(form, &here) {
        return page;
    }
    let added = async {
        let (name, bytes) = file
            .filter(|(n, b)| !n.is_empty() && !b.is_empty())
            .ok_or_else(|| AppError::invalid("file", "required", "choose a file"))?;
        import::add_history(&s.db, &v.ctx, id, &name, &bytes).await
    };
    match added.await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) => refused(&s, &v, id, e).await,
    }
}

async fn too_large(s: &AppState, v: &Viewer) -> Response {
    list_page(s, v, Some(v.tr.t("err.file_too_large").to_string())).await
}

#[derive(Debug, Deserialize)]
struct TemplateQuery {
    kind: String,
}

async fn template(
    State(_s): State<AppState>,
    v: Viewer,
    Query(q): Query<TemplateQuery>,
) -> Response {
    let made = async {
        let kind: ImportKind = q.kind.parse().map_err(|_| AppError::NotFound)?;
        let bytes = import::template(&v.ctx, v.tr, kind)?;
        let name = format!(
            "{}-{}",
            v.tr.t("import.template.file"),
            kind_label(v.tr, kind)
        );
        Ok::<_, AppError>(crate::download::xlsx_response(&name, bytes))
    };
    match made.await {
        Ok(r) => r,
        Err(e) => v.error(PAGE, e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Shown {
    rolled: Option<u8>,
}

async fn show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<Shown>,
) -> Response {
    let notice = q.rolled.map(|_| v.tr.t("import.rolled_back").to_string());
    match import::preview(&s.db, &v.ctx, id, None, None).await {
        Ok(p) => render(page_of(&v, p, None, notice, vec![])),
        Err(e) => v.error(&format!("{PAGE}/{id}"), e),
    }
}

fn page_of(
    v: &Viewer,
    p: Preview,
    error: Option<String>,
    notice: Option<String>,
    blockers: Vec<Blocker>,
) -> ImportPage {
    let tr = v.tr;
    let b = &p.batch;
    let fields = fields_of(v, b.kind);
    let samples: Vec<String> = (0..p.headers.len())
        .map(|i| p.samples.get(i).cloned().unwrap_or_default())
        .collect();
    let columns: Vec<Column> = p
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| Column {
            index: i,
            header: h.clone(),
            sample: samples[i].clone(),
            key: b
                .mapping
                .columns
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_default(),
        })
        .collect();
    let mapped_keys: Vec<String> = b.mapping.columns.iter().flatten().cloned().collect();
    let mut n = 0;
    let mut questions = Vec::new();
    for u in &p.unknown_values {
        let options = import::value_options(&v.ctx, tr, &u.key);
        for value in &u.values {
            questions.push(Question {
                n,
                key: u.key.clone(),
                field: field_label(&u.key, &fields),
                column: u.column.clone(),
                value: value.clone(),
                options: options.clone(),
            });
            n += 1;
        }
    }
    let mapping_problems = p
        .mapping_problems
        .iter()
        .map(|m| match m.code.as_str() {
            "duplicate_column" => tr
                .t("import.problem.duplicate_column")
                .replace("{column}", &m.column),
            _ => tr.t("import.problem.missing_column").to_string(),
        })
        .chain(
            core::fields(b.kind)
                .iter()
                .filter(|s| s.required && !mapped_keys.iter().any(|k| k == s.key))
                .map(|s| {
                    tr.t("import.problem.required_field")
                        .replace("{field}", import::field_name(tr, s))
                }),
        )
        .collect();
    let default = b.options.on_duplicate;
    let rows = p
        .rows
        .iter()
        .map(|r| {
            let duplicate = r.duplicate.as_ref().map(|d| match (d.id, d.row) {
                (_, Some(row)) => (
                    None,
                    tr.t("import.earlier_row")
                        .replace("{row}", &row.to_string()),
                ),
                (Some(id), None) => (
                    Some(record_href(d.record_kind, id)),
                    d.name.clone().unwrap_or_default(),
                ),
                (None, None) => (None, String::new()),
            });
            Planned {
                row: r.row,
                action: r.action.clone(),
                action_label: tr.t(&format!("import.action.{}", r.action)).to_string(),
                decision: duplicate.as_ref().map(|_| {
                    b.options
                        .rows
                        .get(&r.row)
                        .copied()
                        .unwrap_or(default)
                        .as_str()
                        .to_string()
                }),
                duplicate,
                cells: if r.record.is_some() {
                    mapped_keys
                        .iter()
                        .map(|k| cell_of(v, k, r.record.as_ref(), r.contact.as_ref()))
                        .collect()
                } else {
                    vec![]
                },
            }
        })
        .collect();
    let all = if b.status == ImportStatus::Uploaded {
        &p.summary.problems
    } else {
        &b.summary.problems
    };
    let problems: Vec<Trouble> = all.iter().take(200).map(|x| trouble(tr, x)).collect();
    let summary = if b.status == ImportStatus::Uploaded {
        p.summary.clone()
    } else {
        b.summary.clone()
    };
    let error = error.or_else(|| {
        b.error
            .as_ref()
            .map(|e| format!("{} {e}", tr.t("import.failed_because")))
    });
    ImportPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{PAGE}/{}", b.id),
        nav: v.nav("imports"),
        id: b.id,
        file_name: b.file_name.clone(),
        kind_label: kind_label(tr, b.kind),
        status: b.status,
        status_label: status_label(tr, b.status),
        mapped: mapped_keys
            .iter()
            .map(|k| field_label(k, &fields))
            .collect(),
        fields,
        columns,
        questions,
        mapping_problems,
        more_problems: all.len() > problems.len(),
        problems,
        rows,
        on_duplicate: default.as_str().to_string(),
        valid_only: b.options.valid_only,
        summary,
        duplicates: p.duplicates,
        total: b.total_rows,
        done: b.done_rows,
        percent: percent(b.done_rows, b.total_rows),
        error,
        notice,
        blockers,
        deals: b.kind == ImportKind::Opportunities,
        activities: matches!(b.kind, ImportKind::Activities | ImportKind::Tasks),
        history_name: b.history_name.clone(),
        mapping_from: b.mapping_from,
    }
}

/// The mapping and options a posted page sets: `col_I` per column, the value questions
/// (`vk_N` field, `vt_N` text, `vv_N` chosen value), `on_duplicate`, `valid_only`, `row_R`.
fn choices_of(form: &FormData, columns: usize) -> (core::Mapping, core::ImportOptions) {
    let mut mapping = core::Mapping {
        columns: (0..columns)
            .map(|i| Some(form.text(&format!("col_{i}"))).filter(|k| !k.is_empty()))
            .collect(),
        values: Default::default(),
    };
    for n in 0.. {
        let key = form.text(&format!("vk_{n}"));
        if key.is_empty() {
            break;
        }
        let chosen = form.text(&format!("vv_{n}"));
        if !chosen.is_empty() {
            mapping
                .values
                .entry(key)
                .or_default()
                .insert(form.get(&format!("vt_{n}")).to_string(), chosen);
        }
    }
    let on_duplicate: OnDuplicate = form.get("on_duplicate").parse().unwrap_or_default();
    let rows = form
        .0
        .iter()
        .filter_map(|(k, val)| {
            let row = k.strip_prefix("row_")?.parse().ok()?;
            let d: OnDuplicate = val.parse().ok()?;
            (d != on_duplicate).then_some((row, d))
        })
        .collect();
    let options = core::ImportOptions {
        on_duplicate,
        rows,
        valid_only: form.has("valid_only", "1"),
    };
    (mapping, options)
}

async fn save(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{PAGE}/{id}");
    let form = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let columns = form.get("columns").parse().unwrap_or(0);
    let (mut mapping, mut options) = choices_of(&form, columns);
    let saved = async {
        let kept = import::get(&s.db, &v.ctx, id).await?;
        // Values mapped before are no longer asked for: they stay.
        for (key, values) in kept.mapping.values {
            let now = mapping.values.entry(key).or_default();
            for (text, code) in values {
                now.entry(text).or_insert(code);
            }
        }
        // Per-row decisions of rows the page did not show stay as they were.
        for (row, d) in kept.options.rows {
            if !form.0.iter().any(|(k, _)| *k == format!("row_{row}")) {
                options.rows.entry(row).or_insert(d);
            }
        }
        import::preview(&s.db, &v.ctx, id, Some(mapping), Some(options)).await?;
        if form.get("action") == "run" {
            import::start(&s.db, &v.ctx, id).await?;
            import::spawn_run(s.db.clone(), v.ctx.clone(), id);
        }
        Ok::<_, AppError>(())
    };
    match saved.await {
        Ok(()) => Redirect::to(&here).into_response(),
        Err(e) => refused(&s, &v, id, e).await,
    }
}

/// The import's page again with an error the user can act on beside it (or the error's own
/// page).
async fn refused(s: &AppState, v: &Viewer, id: i64, e: AppError) -> Response {
    let here = format!("{PAGE}/{id}");
    if !super::shown_in_form(&e) {
        return v.error(&here, e);
    }
    let (_, text) = error_text(v.tr, &e);
    match import::preview(&s.db, &v.ctx, id, None, None).await {
        Ok(p) => render(page_of(v, p, Some(text), None, vec![])),
        Err(e) => v.error(&here, e),
    }
}

/// The progress bar, asked for again until the import ends; then the page reloads.
async fn progress(State(s): State<AppState>, v: Viewer, Path(id): Path<i64>) -> Response {
    match import::get(&s.db, &v.ctx, id).await {
        Ok(b) if b.status == ImportStatus::Running => render(Progress {
            tr: v.tr,
            id,
            done: b.done_rows,
            total: b.total_rows,
            percent: percent(b.done_rows, b.total_rows),
        }),
        Ok(_) => {
            let mut r = render(Progress {
                tr: v.tr,
                id,
                done: 1,
                total: 1,
                percent: 100,
            });
            r.headers_mut()
                .insert("HX-Refresh", HeaderValue::from_static("true"));
            r
        }
        Err(e) => v.error(PAGE, e),
    }
}

async fn rollback(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("{PAGE}/{id}");
    if let Err(page) = v.posted(form, &here) {
        return page;
    }
    let done = async {
        let out: Rollback = import::rollback(&s.db, &v.ctx, id).await?;
        if out.rolled_back {
            return Ok(None);
        }
        let blockers = out
            .kept
            .into_iter()
            .map(|k| Blocker {
                row: k.row,
                href: record_href(k.record_kind, k.record_id),
                reason: v.tr.t(&format!("import.kept.{}", k.reason)).to_string(),
            })
            .collect();
        let p = import::preview(&s.db, &v.ctx, id, None, None).await?;
        Ok::<_, AppError>(Some((p, blockers)))
    };
    match done.await {
        Ok(None) => Redirect::to(&format!("{here}?rolled=1")).into_response(),
        Ok(Some((p, blockers))) => render(page_of(
            &v,
            p,
            Some(v.tr.t("import.rollback_blocked").to_string()),
            None,
            blockers,
        )),
        Err(e) => refused(&s, &v, id, e).await,
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(list).post(upload))
        .route("/imports/template", get(template))
        .route("/imports/{id}", get(show).post(save))
        .route("/imports/{id}/progress", get(progress))
        .route("/imports/{id}/history", post(history))
        .route("/imports/{id}/rollback", post(rollback))
        .layer(axum::extract::DefaultBodyLimit::max(
            import::MAX_FILE_BYTES + 64 * 1024,
        ))
}
