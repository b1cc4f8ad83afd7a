//! Settings pages for admins: pipelines (stages, gates, standard actions, transition policy)
//! and the loss-reason taxonomy. Each form post is one `ops` call; what it refuses is shown
//! beside the field it names, with what the admin typed kept.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::{
    ForecastCategory, Language, Pipeline, RecordKind, Role, Stage, StageKind,
};
use shangji_core::process::{
    self, ChecklistItem, StageGate, StageSpec, StandardAction, TransitionPolicy, GATE_FIELDS,
};
use shangji_core::Field;

use super::{
    error_text, field_text, render, role_key, shown_in_form, Choice, Errors, FormData, Nav, Viewer,
};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, LossReasonInput, NewStageInput, PipelineInput, PipelinePatch, StagePatch};
use crate::state::AppState;

type Posted = Form<Vec<(String, String)>>;

const PIPELINES: &str = "/admin/pipelines";
const LOSS_REASONS: &str = "/admin/loss-reasons";

pub(super) fn kind_label(tr: Tr, k: StageKind) -> &'static str {
    match k {
        StageKind::Open => tr.t("kind.open"),
        StageKind::Won => tr.t("kind.won"),
        StageKind::Lost => tr.t("kind.lost"),
    }
}

pub(super) fn forecast_label(tr: Tr, f: ForecastCategory) -> &'static str {
    match f {
        ForecastCategory::Pipeline => tr.t("forecast.pipeline"),
        ForecastCategory::BestCase => tr.t("forecast.best_case"),
        ForecastCategory::Commit => tr.t("forecast.commit"),
        ForecastCategory::Closed => tr.t("forecast.closed"),
        ForecastCategory::Omitted => tr.t("forecast.omitted"),
    }
}

fn kind_choices(tr: Tr, selected: &str) -> Vec<Choice> {
    StageKind::ALL
        .iter()
        .map(|k| Choice::new(k.as_str(), kind_label(tr, *k), k.as_str() == selected))
        .collect()
}

fn forecast_choices(tr: Tr, selected: &str) -> Vec<Choice> {
    ForecastCategory::ALL
        .iter()
        .map(|f| Choice::new(f.as_str(), forecast_label(tr, *f), f.as_str() == selected))
        .collect()
}

fn role_choices(tr: Tr, checked: &[&str]) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| {
            Choice::new(
                r.as_str(),
                tr.t(role_key(*r)),
                checked.contains(&r.as_str()),
            )
        })
        .collect()
}

fn roles_of(values: &[&str]) -> Vec<Role> {
    values.iter().filter_map(|v| v.parse().ok()).collect()
}

/// The checks a settings post passes before anything else: its CSRF token, an admin.
fn admin_post(v: &Viewer, f: &FormData) -> Result<(), AppError> {
    v.check_csrf(f).and_then(|_| v.ctx.require_admin())
}

/// A pipeline for an admin's eyes (archived ones included).
fn admin_pipeline(v: &Viewer, id: i64) -> Result<&Pipeline, AppError> {
    v.ctx.require_admin()?;
    v.ctx.dir.pipeline(id).ok_or(AppError::NotFound)
}

/// Puts an operation's error beside `field` when the form shows it, else on the form.
fn place(errors: &mut Errors, tr: Tr, e: &AppError, known: &[&str]) {
    let (field, text) = error_text(tr, e);
    let at = if known.contains(&field.as_str()) {
        field
    } else {
        "form".to_string()
    };
    errors.add(at, text);
}

fn whole_number(f: &str, value: &str, errors: &mut Errors, tr: Tr) -> Option<i32> {
    match value.trim().parse::<i32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(f, field_text(tr, f, "not_a_number"));
            None
        }
    }
}

// ---- The list of pipelines and creating one. ----

struct PipelineRow {
    id: i64,
    name: String,
    is_default: bool,
    archived: bool,
    stages: String,
}

#[derive(Template)]
#[template(path = "admin_pipelines.html")]
struct PipelinesPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<PipelineRow>,
    name: String,
    templates: Vec<Choice>,
    is_default: bool,
    errors: Errors,
}

fn pipelines_page(
    v: &Viewer,
    name: String,
    template: &str,
    is_default: bool,
    errors: Errors,
) -> PipelinesPage {
    let tr = v.tr;
    let mut rows: Vec<PipelineRow> = v
        .ctx
        .dir
        .pipelines
        .iter()
        .map(|p| {
            let mut stages: Vec<&Stage> = p.stages.iter().filter(|s| !s.archived).collect();
            stages.sort_by_key(|s| s.position);
            PipelineRow {
                id: p.id,
                name: p.name.clone(),
                is_default: p.is_default,
                archived: p.archived,
                stages: stages
                    .iter()
                    .map(|s| s.name(tr.lang))
                    .collect::<Vec<_>>()
                    .join(" → "),
            }
        })
        .collect();
    rows.sort_by_key(|r| (r.archived, !r.is_default, r.id));
    let templates = [
        ("b2b", tr.t("template.b2b")),
        ("transactional", tr.t("template.transactional")),
        ("tender", tr.t("template.tender")),
        ("empty", tr.t("template.empty")),
    ]
    .into_iter()
    .map(|(k, label)| Choice::new(k, label, k == template))
    .collect();
    PipelinesPage {
        tr,
        csrf: v.csrf.clone(),
        here: PIPELINES.into(),
        nav: v.nav("settings"),
        tab: "pipelines",
        rows,
        name,
        templates,
        is_default,
        errors,
    }
}

async fn settings_home() -> Redirect {
    Redirect::to(PIPELINES)
}

async fn pipelines(v: Viewer) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(PIPELINES, e);
    }
    render(pipelines_page(
        &v,
        String::new(),
        "b2b",
        false,
        Errors::default(),
    ))
}

/// An "empty" pipeline: one open stage to rename, then won and lost (a pipeline needs them).
fn empty_stages() -> Vec<StageSpec> {
    let (zh, en) = (Tr::new(Language::ZhCn), Tr::new(Language::En));
    let spec = |(name_zh, name_en): (&str, &str), kind, probability, forecast_category| StageSpec {
        name_zh: name_zh.into(),
        name_en: name_en.into(),
        kind,
        probability,
        forecast_category,
        rotting_days: None,
        guidance: None,
        gate: StageGate::default(),
        actions: vec![],
    };
    vec![
        spec(
            (zh.t("stage.first"), en.t("stage.first")),
            StageKind::Open,
            10,
            ForecastCategory::Pipeline,
        ),
        spec(
            (zh.t("kind.won"), en.t("kind.won")),
            StageKind::Won,
            100,
            ForecastCategory::Closed,
        ),
        spec(
            (zh.t("kind.lost"), en.t("kind.lost")),
            StageKind::Lost,
            0,
            ForecastCategory::Omitted,
        ),
    ]
}

async fn create_pipeline(State(s): State<AppState>, v: Viewer, Form(f): Posted) -> Response {
    let f = FormData(f);
    if let Err(e) = admin_post(&v, &f) {
        return v.error(PIPELINES, e);
    }
    let name = f.get("name").to_string();
    let template = f.text("template");
    let is_default = f.has("is_default", "1");
    let empty = template == "empty";
    let input = PipelineInput {
        name: name.clone(),
        template: (!empty).then(|| template.clone()),
        stages: empty.then(empty_stages),
        policy: None,
        is_default,
    };
    match ops::create_pipeline(&s.db, &v.ctx, input).await {
        Ok(p) => Redirect::to(&format!("{PIPELINES}/{}?saved=pipeline", p.id)).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            place(&mut errors, v.tr, &e, &["name", "template"]);
            let page = pipelines_page(&v, name, &template, is_default, errors);
            (e.status(), render(page)).into_response()
        }
        Err(e) => v.error(PIPELINES, e),
    }
}

// ---- One pipeline: its settings and its stages. ----

struct SettingsForm {
    name: String,
    allow_skip: bool,
    allow_backward: bool,
    reopen_roles: Vec<Choice>,
}

struct ItemRow {
    key: String,
    zh: String,
    en: String,
    remove: bool,
    error: Option<String>,
}

struct ActionRow {
    key: String,
    zh: String,
    en: String,
    create_task: bool,
    due: String,
    required: bool,
    remove: bool,
    error: Option<String>,
}

/// A stage's edit form as shown: from the stage, or as the admin posted it.
struct StageForm {
    name_zh: String,
    name_en: String,
    kind: String,
    probability: String,
    forecast: String,
    rotting_days: String,
    guidance: String,
    fields: Vec<String>,
    checklist: Vec<ItemRow>,
    roles: Vec<String>,
    requires_approval: bool,
    actions: Vec<ActionRow>,
    notice: Option<String>,
}

impl StageForm {
    fn of(s: &Stage) -> StageForm {
        StageForm {
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            kind: s.kind.as_str().into(),
            probability: s.probability.to_string(),
            forecast: s.forecast_category.as_str().into(),
            rotting_days: s.rotting_days.map(|d| d.to_string()).unwrap_or_default(),
            guidance: s.guidance.clone().unwrap_or_default(),
            fields: s.gate.required_fields.clone(),
            checklist: s
                .gate
                .checklist
                .iter()
                .map(|c| ItemRow {
                    key: c.key.clone(),
                    zh: c.label_zh.clone(),
                    en: c.label_en.clone(),
                    remove: false,
                    error: None,
                })
                .collect(),
            roles: s
                .gate
                .allowed_roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            requires_approval: s.gate.requires_approval,
            actions: s
                .actions
                .iter()
                .map(|a| ActionRow {
                    key: a.key.clone(),
                    zh: a.name_zh.clone(),
                    en: a.name_en.clone(),
                    create_task: a.create_task,
                    due: a
                        .due_working_days
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    required: a.required_to_leave,
                    remove: false,
                    error: None,
                })
                .collect(),
            notice: None,
        }
    }

    /// The form as posted; rows left blank are dropped.
    fn posted(f: &FormData) -> StageForm {
        let (ck_key, ck_zh, ck_en) = (f.all("ck_key"), f.all("ck_zh"), f.all("ck_en"));
        let at = |v: &[&str], i: usize| v.get(i).map_or(String::new(), |s| s.trim().to_string());
        let checklist = (0..ck_key.len())
            .map(|i| ItemRow {
                key: at(&ck_key, i),
                zh: at(&ck_zh, i),
                en: at(&ck_en, i),
                remove: f.has("ck_remove", &i.to_string()),
                error: None,
            })
            .filter(|r| !(r.key.is_empty() && r.zh.is_empty() && r.en.is_empty()))
            .collect();
        let (a_key, a_zh, a_en, a_due) = (
            f.all("act_key"),
            f.all("act_zh"),
            f.all("act_en"),
            f.all("act_due"),
        );
        let actions = (0..a_key.len())
            .map(|i| ActionRow {
                key: at(&a_key, i),
                zh: at(&a_zh, i),
                en: at(&a_en, i),
                create_task: f.has("act_task", &i.to_string()),
                due: at(&a_due, i),
                required: f.has("act_required", &i.to_string()),
                remove: f.has("act_remove", &i.to_string()),
                error: None,
            })
            .filter(|r| !(r.key.is_empty() && r.zh.is_empty() && r.en.is_empty()))
            .collect();
        StageForm {
            name_zh: f.get("name_zh").to_string(),
            name_en: f.get("name_en").to_string(),
            kind: f.text("kind"),
            probability: f.get("probability").to_string(),
            forecast: f.text("forecast_category"),
            rotting_days: f.get("rotting_days").to_string(),
            guidance: f.get("guidance").to_string(),
            fields: f
                .all("required_field")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            checklist,
            roles: f
                .all("allowed_role")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            requires_approval: f.has("requires_approval", "1"),
            actions,
            notice: None,
        }
    }

    /// The change the form asks for, with where each checklist item and action of the
    /// patch sits among the form's rows; or the form's own errors (numbers not numbers).
    fn patch(&mut self, tr: Tr) -> Result<(StagePatch, Vec<usize>, Vec<usize>), Errors> {
        let mut errors = Errors::default();
        let probability = whole_number("probability", &self.probability, &mut errors, tr);
        let rotting_days = match self.rotting_days.trim() {
            "" => Field::Null,
            v => {
                whole_number("rotting_days", v, &mut errors, tr).map_or(Field::Absent, Field::Value)
            }
        };
        let kind = self.kind.parse::<StageKind>().ok();
        if kind.is_none() {
            errors.add("kind", field_text(tr, "kind", "unknown_choice"));
        }
        let forecast = self.forecast.parse::<ForecastCategory>().ok();
        if forecast.is_none() {
            errors.add(
                "forecast_category",
                field_text(tr, "forecast_category", "unknown_choice"),
            );
        }
        let mut ck_rows = Vec::new();
        let checklist = self
            .checklist
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.remove)
            .map(|(i, r)| {
                ck_rows.push(i);
                ChecklistItem {
                    key: r.key.clone(),
                    label_zh: r.zh.clone(),
                    label_en: r.en.clone(),
                }
            })
            .collect();
        let mut act_rows = Vec::new();
        let mut actions = Vec::new();
        let mut bad_row = false;
        for (i, r) in self
            .actions
            .iter_mut()
            .enumerate()
            .filter(|(_, r)| !r.remove)
        {
            let due = match r.due.trim() {
                "" => None,
                d => match d.parse::<i32>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        r.error = Some(field_text(tr, "actions", "not_a_number"));
                        bad_row = true;
                        None
                    }
                },
            };
            act_rows.push(i);
            actions.push(StandardAction {
                key: r.key.clone(),
                name_zh: r.zh.clone(),
                name_en: r.en.clone(),
                create_task: r.create_task,
                due_working_days: due,
                required_to_leave: r.required,
            });
        }
        if bad_row || !errors.is_empty() {
            return Err(errors);
        }
        let guidance = match self.guidance.trim() {
            "" => Field::Null,
            g => Field::Value(g.to_string()),
        };
        let patch = StagePatch {
            name_zh: Some(self.name_zh.trim().to_string()),
            name_en: Some(self.name_en.trim().to_string()),
            kind,
            probability,
            forecast_category: forecast,
            rotting_days,
            guidance,
            gate: Some(StageGate {
                required_fields: self.fields.clone(),
                checklist,
                allowed_roles: roles_of(&self.roles.iter().map(String::as_str).collect::<Vec<_>>()),
                requires_approval: self.requires_approval,
            }),
            actions: Some(actions),
            archived: None,
        };
        Ok((patch, ck_rows, act_rows))
    }

    /// Puts an error of `ops::update_stage` beside its field: a checklist item or an action
    /// by its row, a stage field by its name, anything else on the form.
    fn place(
        &mut self,
        errors: &mut Errors,
        tr: Tr,
        e: &AppError,
        ck_rows: &[usize],
        act_rows: &[usize],
    ) {
        let (field, text) = error_text(tr, e);
        let index = |prefix: &str| -> Option<usize> {
            field.strip_prefix(prefix)?.split(']').next()?.parse().ok()
        };
        if let Some(row) = index("gate.checklist[").and_then(|i| ck_rows.get(i)) {
            self.checklist[*row].error = Some(text);
        } else if let Some(row) = index("actions[").and_then(|i| act_rows.get(i)) {
            self.actions[*row].error = Some(text);
        } else if field.starts_with("gate.required_fields") {
            errors.add("required_fields", text);
        } else if [
            "name_zh",
            "name_en",
            "kind",
            "probability",
            "forecast_category",
            "rotting_days",
            "guidance",
        ]
        .contains(&field.as_str())
        {
            errors.add(field, text);
        } else {
            errors.add("form", text);
        }
    }
}

/// A stage form ready for the template: choices built and translated.
struct StageFormView {
    name_zh: String,
    name_en: String,
    kinds: Vec<Choice>,
    probability: String,
    forecasts: Vec<Choice>,
    rotting_days: String,
    guidance: String,
    fields: Vec<Choice>,
    checklist: Vec<ItemRow>,
    roles: Vec<Choice>,
    requires_approval: bool,
    actions: Vec<ActionRow>,
    notice: Option<String>,
}

impl StageFormView {
    /// `custom` are the opportunity custom fields (a gate names them `custom.<key>`).
    fn new(tr: Tr, f: StageForm, custom: &[&CustomFieldDef]) -> StageFormView {
        let mut fields: Vec<Choice> = GATE_FIELDS
            .iter()
            .map(|(name, zh, en)| {
                let label = if tr.is_zh() { *zh } else { *en };
                Choice::new(*name, label, f.fields.iter().any(|x| x == name))
            })
            .collect();
        // Archived fields only while a gate still names them, so that saving keeps them.
        for def in custom {
            let name = format!("custom.{}", def.key);
            let checked = f.fields.contains(&name);
            if def.archived && !checked {
                continue;
            }
            let mut label = super::custom_fields::label(tr, def);
            if def.archived {
                label = format!("{label} ({})", tr.t("pipelines.archived"));
            }
            fields.push(Choice::new(name, label, checked));
        }
        // A custom field the directory no longer has, still named by the gate.
        for name in &f.fields {
            if !fields.iter().any(|c| &c.value == name) {
                fields.push(Choice::new(name.clone(), name.clone(), true));
            }
        }
        let roles: Vec<&str> = f.roles.iter().map(String::as_str).collect();
        StageFormView {
            kinds: kind_choices(tr, &f.kind),
            forecasts: forecast_choices(tr, &f.forecast),
            roles: role_choices(tr, &roles),
            fields,
            name_zh: f.name_zh,
            name_en: f.name_en,
            probability: f.probability,
            rotting_days: f.rotting_days,
            guidance: f.guidance,
            checklist: f.checklist,
            requires_approval: f.requires_approval,
            actions: f.actions,
            notice: f.notice,
        }
    }
}

struct StageView {
    id: i64,
    number: usize,
    name: String,
    kind: &'static str,
    kind_label: &'static str,
    probability: i32,
    /// What the stage asks for, in one line.
    summary: String,
    archived: bool,
    first: bool,
    last: bool,
    /// The edit form is open (it was just posted).
    open: bool,
    saved: bool,
    /// Errors of moving, archiving or deleting the stage.
    tools: Errors,
    errors: Errors,
    form: StageFormView,
}

struct NewStageForm {
    name_zh: String,
    name_en: String,
    kinds: Vec<Choice>,
    probability: String,
    forecasts: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin_pipeline.html")]
struct PipelinePage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    id: i64,
    name: String,
    is_default: bool,
    archived: bool,
    saved: bool,
    settings: SettingsForm,
    settings_errors: Errors,
    header_errors: Errors,
    stages: Vec<StageView>,
    new_stage: NewStageForm,
    new_errors: Errors,
}

/// What a post changes in how the pipeline page is shown: the form it came from, as typed,
/// with its errors.
#[derive(Default)]
struct Shown {
    settings: Option<(SettingsForm, Errors)>,
    header: Errors,
    stage: Option<(i64, StageForm, Errors)>,
    tools: Option<(i64, Errors)>,
    new_stage: Option<(String, String, String, String, String, Errors)>,
    saved: Option<String>,
}

fn pipeline_page(v: &Viewer, p: &Pipeline, shown: Shown) -> PipelinePage {
    let tr = v.tr;
    let mut stages: Vec<&Stage> = p.stages.iter().collect();
    stages.sort_by_key(|s| s.position);
    let n = stages.len();
    let (mut posted, mut tools) = (shown.stage, shown.tools);
    let mut custom: Vec<&CustomFieldDef> = v
        .ctx
        .dir
        .custom_fields_of(RecordKind::Opportunity)
        .collect();
    custom.sort_by_key(|d| (d.position, d.id));
    let saved = shown.saved.unwrap_or_default();
    let views = stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (form, errors, open) = match posted.take_if(|(id, _, _)| *id == s.id) {
                Some((_, form, errors)) => (form, errors, true),
                None => (StageForm::of(s), Errors::default(), false),
            };
            StageView {
                id: s.id,
                number: i + 1,
                name: s.name(tr.lang).to_string(),
                kind: s.kind.as_str(),
                kind_label: kind_label(tr, s.kind),
                probability: s.probability,
                summary: tr.fmt(
                    "stage.summary",
                    &[
                        ("fields", &s.gate.required_fields.len().to_string()),
                        ("items", &s.gate.checklist.len().to_string()),
                        ("actions", &s.actions.len().to_string()),
                    ],
                ),
                archived: s.archived,
                first: i == 0,
                last: i + 1 == n,
                open,
                saved: saved == s.id.to_string(),
                tools: tools
                    .take_if(|(id, _)| *id == s.id)
                    .map(|(_, e)| e)
                    .unwrap_or_default(),
                errors,
                form: StageFormView::new(tr, form, &custom),
            }
        })
        .collect();
    let (settings, settings_errors) = shown.settings.unwrap_or_else(|| {
        let roles: Vec<&str> = p.policy.reopen_roles.iter().map(|r| r.as_str()).collect();
        (
            SettingsForm {
                name: p.name.clone(),
                allow_skip: p.policy.allow_skip,
                allow_backward: p.policy.allow_backward,
                reopen_roles: role_choices(tr, &roles),
            },
            Errors::default(),
        )
    });
    let (name_zh, name_en, kind, probability, forecast, new_errors) =
        shown.new_stage.unwrap_or_else(|| {
            (
                String::new(),
                String::new(),
                "open".into(),
                "50".into(),
                "pipeline".into(),
                Errors::default(),
            )
        });
    PipelinePage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{PIPELINES}/{}", p.id),
        nav: v.nav("settings"),
        tab: "pipelines",
        id: p.id,
        name: p.name.clone(),
        is_default: p.is_default,
        archived: p.archived,
        saved: saved == "pipeline",
        settings,
        settings_errors,
        header_errors: shown.header,
        stages: views,
        new_stage: NewStageForm {
            name_zh,
            name_en,
            kinds: kind_choices(tr, &kind),
            probability,
            forecasts: forecast_choices(tr, &forecast),
        },
        new_errors,
    }
}

fn show(v: &Viewer, p: &Pipeline, status: StatusCode, shown: Shown) -> Response {
    (status, render(pipeline_page(v, p, shown))).into_response()
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn pipeline(
    v: Viewer,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> Response {
    let p = match admin_pipeline(&v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&format!("{PIPELINES}/{id}"), e),
    };
    let shown = Shown {
        saved: q.saved,
        ..Default::default()
    };
    render(pipeline_page(&v, p, shown))
}

fn saved(pid: i64, what: impl std::fmt::Display) -> Response {
    Redirect::to(&format!("{PIPELINES}/{pid}?saved={what}#stage-{what}")).into_response()
}

async fn save_pipeline(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Posted,
) -> Response {
    let f = FormData(f);
    let here = format!("{PIPELINES}/{id}");
    if let Err(e) = admin_post(&v, &f) {
        return v.error(&here, e);
    }
    let p = match admin_pipeline(&v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&format!("{PIPELINES}/{id}"), e),
    };
    let roles = f.all("reopen_role");
    let form = SettingsForm {
        name: f.get("name").to_string(),
        allow_skip: f.has("allow_skip", "1"),
        allow_backward: f.has("allow_backward", "1"),
        reopen_roles: role_choices(v.tr, &roles),
    };
    let patch = PipelinePatch {
        name: Some(form.name.clone()),
        policy: Some(TransitionPolicy {
            allow_skip: form.allow_skip,
            allow_backward: form.allow_backward,
            reopen_roles: roles_of(&roles),
        }),
        ..Default::default()
    };
    match ops::update_pipeline(&s.db, &v.ctx, id, patch).await {
        Ok(_) => Redirect::to(&format!("{here}?saved=pipeline")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            place(&mut errors, v.tr, &e, &["name"]);
            let shown = Shown {
                settings: Some((form, errors)),
                ..Default::default()
            };
            show(&v, p, e.status(), shown)
        }
        Err(e) => v.error(&here, e),
    }
}

/// Make default, archive or restore: one button each, errors beside the buttons.
async fn pipeline_flag(
    s: &AppState,
    v: &Viewer,
    id: i64,
    f: &FormData,
    patch: PipelinePatch,
) -> Response {
    let here = format!("{PIPELINES}/{id}");
    if let Err(e) = admin_post(v, f) {
        return v.error(&here, e);
    }
    let p = match admin_pipeline(v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&format!("{PIPELINES}/{id}"), e),
    };
    match ops::update_pipeline(&s.db, &v.ctx, id, patch).await {
        Ok(_) => Redirect::to(&format!("{here}?saved=pipeline")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut header = Errors::default();
            place(&mut header, v.tr, &e, &["is_default", "archived"]);
            let shown = Shown {
                header,
                ..Default::default()
            };
            show(v, p, e.status(), shown)
        }
        Err(e) => v.error(&here, e),
    }
}

async fn make_default(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Posted,
) -> Response {
    let patch = PipelinePatch {
        is_default: Some(true),
        ..Default::default()
    };
    pipeline_flag(&s, &v, id, &FormData(f), patch).await
}

async fn archive_pipeline(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Posted,
) -> Response {
    let f = FormData(f);
    let patch = PipelinePatch {
        archived: Some(f.get("archived") == "1"),
        ..Default::default()
    };
    pipeline_flag(&s, &v, id, &f, patch).await
}

async fn add_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Posted,
) -> Response {
    let f = FormData(f);
    let here = format!("{PIPELINES}/{id}");
    if let Err(e) = admin_post(&v, &f) {
        return v.error(&here, e);
    }
    let p = match admin_pipeline(&v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&format!("{PIPELINES}/{id}"), e),
    };
    let (name_zh, name_en) = (f.get("name_zh").to_string(), f.get("name_en").to_string());
    let (kind, probability, forecast) = (
        f.text("kind"),
        f.get("probability").to_string(),
        f.text("forecast_category"),
    );
    let mut errors = Errors::default();
    let number = whole_number("probability", &probability, &mut errors, v.tr);
    let k = kind.parse::<StageKind>().ok();
    let fc = forecast.parse::<ForecastCategory>().ok();
    if k.is_none() {
        errors.add("kind", field_text(v.tr, "kind", "unknown_choice"));
    }
    if fc.is_none() {
        errors.add(
            "forecast_category",
            field_text(v.tr, "forecast_category", "unknown_choice"),
        );
    }
    let result = match (number, k, fc) {
        (Some(probability), Some(kind), Some(forecast_category)) => {
            let input = NewStageInput {
                stage: StageSpec {
                    name_zh: name_zh.trim().to_string(),
                    name_en: name_en.trim().to_string(),
                    kind,
                    probability,
                    forecast_category,
                    rotting_days: None,
                    guidance: None,
                    gate: StageGate::default(),
                    actions: vec![],
                },
                position: None,
            };
            ops::add_stage(&s.db, &v.ctx, id, input).await
        }
        _ => Err(AppError::invalid("", "invalid_value", "see the fields")),
    };
    match result {
        Ok(after) => {
            let new = after
                .stages
                .iter()
                .find(|st| p.stage(st.id).is_none())
                .map_or(0, |st| st.id);
            saved(id, new)
        }
        Err(e) if shown_in_form(&e) => {
            if errors.is_empty() {
                place(
                    &mut errors,
                    v.tr,
                    &e,
                    &[
                        "name_zh",
                        "name_en",
                        "kind",
                        "probability",
                        "forecast_category",
                    ],
                );
            }
            let shown = Shown {
                new_stage: Some((name_zh, name_en, kind, probability, forecast, errors)),
                ..Default::default()
            };
            show(&v, p, StatusCode::UNPROCESSABLE_ENTITY, shown)
        }
        Err(e) => v.error(&here, e),
    }
}

/// The checklist keys of a pipeline's other stages (a key is unique in the pipeline).
fn keys_elsewhere(p: &Pipeline, stage_id: i64) -> Vec<String> {
    p.stages
        .iter()
        .filter(|s| s.id != stage_id)
        .flat_map(|s| s.gate.checklist.iter().map(|c| c.key.clone()))
        .collect()
}

async fn save_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, stage_id)): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    let f = FormData(f);
    let here = format!("{PIPELINES}/{id}");
    if let Err(e) = admin_post(&v, &f) {
        return v.error(&here, e);
    }
    let p = match admin_pipeline(&v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&format!("{PIPELINES}/{id}"), e),
    };
    if p.stage(stage_id).is_none() {
        return v.error(&here, AppError::NotFound);
    }
    let mut form = StageForm::posted(&f);
    // "Add BANT" / "Add MEDDIC": the items go into the form, saved with the next save.
    let framework = match f.get("op") {
        "bant" => Some(("BANT", process::bant())),
        "meddic" => Some(("MEDDIC", process::meddic())),
        _ => None,
    };
    if let Some((name, items)) = framework {
        let taken = keys_elsewhere(p, stage_id);
        let mut added = 0;
        for item in items {
            if !taken.contains(&item.key) && !form.checklist.iter().any(|r| r.key == item.key) {
                form.checklist.push(ItemRow {
                    key: item.key,
                    zh: item.label_zh,
                    en: item.label_en,
                    remove: false,
                    error: None,
                });
                added += 1;
            }
        }
        form.notice = Some(if added > 0 {
            v.tr.fmt(
                "stage.items_added",
                &[("n", &added.to_string()), ("name", name)],
            )
        } else {
            v.tr.fmt("stage.items_present", &[("name", name)])
        });
        let shown = Shown {
            stage: Some((stage_id, form, Errors::default())),
            ..Default::default()
        };
        return show(&v, p, StatusCode::OK, shown);
    }
    let (patch, ck_rows, act_rows) = match form.patch(v.tr) {
        Ok(x) => x,
        Err(errors) => {
            let shown = Shown {
                stage: Some((stage_id, form, errors)),
                ..Default::default()
            };
            return show(&v, p, StatusCode::UNPROCESSABLE_ENTITY, shown);
        }
    };
    match ops::update_stage(&s.db, &v.ctx, id, stage_id, patch).await {
        Ok(_) => saved(id, stage_id),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            form.place(&mut errors, v.tr, &e, &ck_rows, &act_rows);
            let shown = Shown {
                stage: Some((stage_id, form, errors)),
                ..Default::default()
            };
            show(&v, p, e.status(), shown)
        }
        Err(e) => v.error(&here, e),
    }
}

/// Moving a stage up or down, archiving or restoring it, deleting it: errors beside the
/// stage's buttons.
async fn stage_tool(
    s: &AppState,
    v: &Viewer,
    (id, stage_id): (i64, i64),
    f: &FormData,
    op: &str,
) -> Response {
    let here = format!("{PIPELINES}/{id}");
    if let Err(e) = admin_post(v, f) {
        return v.error(&here, e);
    }
    let p = match admin_pipeline(v, id) {
        Ok(p) => p,
        Err(e) => return v.error(&format!("{PIPELINES}/{id}"), e),
    };
    let result = match op {
        "move" => {
            let mut order: Vec<&Stage> = p.stages.iter().collect();
            order.sort_by_key(|s| s.position);
            let Some(i) = order.iter().position(|s| s.id == stage_id) else {
                return v.error(&here, AppError::NotFound);
            };
            let j = match f.get("direction") {
                "up" => i.checked_sub(1),
                _ => Some(i + 1).filter(|j| *j < order.len()),
            };
            let Some(j) = j else {
                return saved(id, stage_id);
            };
            order.swap(i, j);
            let ids = order.iter().map(|s| s.id).collect();
            ops::reorder_stages(&s.db, &v.ctx, id, ids).await
        }
        "archive" => {
            let patch = StagePatch {
                archived: Some(f.get("archived") == "1"),
                ..Default::default()
            };
            ops::update_stage(&s.db, &v.ctx, id, stage_id, patch).await
        }
        _ => ops::delete_stage(&s.db, &v.ctx, id, stage_id).await,
    };
    match result {
        Ok(after) if after.stage(stage_id).is_some() => saved(id, stage_id),
        Ok(_) => Redirect::to(&format!("{here}?saved=pipeline")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut tools = Errors::default();
            tools.add("tools", error_text(v.tr, &e).1);
            let shown = Shown {
                tools: Some((stage_id, tools)),
                ..Default::default()
            };
            show(v, p, e.status(), shown)
        }
        Err(e) => v.error(&here, e),
    }
}

async fn move_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(ids): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    stage_tool(&s, &v, ids, &FormData(f), "move").await
}

async fn archive_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(ids): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    stage_tool(&s, &v, ids, &FormData(f), "archive").await
}

async fn delete_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(ids): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    stage_tool(&s, &v, ids, &FormData(f), "delete").await
}

// ---- Loss reasons. ----

struct ReasonRow {
    id: i64,
    key: String,
    name_zh: String,
    name_en: String,
    position: String,
    archived: bool,
    saved: bool,
    errors: Errors,
}

#[derive(Template)]
#[template(path = "admin_loss_reasons.html")]
struct LossReasonsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<ReasonRow>,
    key: String,
    name_zh: String,
    name_en: String,
    errors: Errors,
}

/// A row as the admin posted it, with its errors.
type PostedRow = (i64, String, String, String, Errors);

fn loss_reasons_page(
    v: &Viewer,
    saved: Option<i64>,
    mut posted_row: Option<PostedRow>,
    new: (String, String, String, Errors),
) -> LossReasonsPage {
    let rows = v
        .ctx
        .dir
        .loss_reasons
        .iter()
        .map(|r| {
            let (name_zh, name_en, position, errors) =
                match posted_row.take_if(|(id, ..)| *id == r.id) {
                    Some((_, zh, en, position, errors)) => (zh, en, position, errors),
                    None => (
                        r.name_zh.clone(),
                        r.name_en.clone(),
                        r.position.to_string(),
                        Errors::default(),
                    ),
                };
            ReasonRow {
                id: r.id,
                key: r.key.clone(),
                name_zh,
                name_en,
                position,
                archived: r.archived,
                saved: saved == Some(r.id),
                errors,
            }
        })
        .collect();
    let (key, name_zh, name_en, errors) = new;
    LossReasonsPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: LOSS_REASONS.into(),
        nav: v.nav("settings"),
        tab: "loss_reasons",
        rows,
        key,
        name_zh,
        name_en,
        errors,
    }
}

fn no_new() -> (String, String, String, Errors) {
    Default::default()
}

#[derive(serde::Deserialize)]
struct SavedId {
    saved: Option<i64>,
}

async fn loss_reasons(
    v: Viewer,
    axum::extract::Query(q): axum::extract::Query<SavedId>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(LOSS_REASONS, e);
    }
    render(loss_reasons_page(&v, q.saved, None, no_new()))
}

async fn create_loss_reason(State(s): State<AppState>, v: Viewer, Form(f): Posted) -> Response {
    let f = FormData(f);
    if let Err(e) = admin_post(&v, &f) {
        return v.error(LOSS_REASONS, e);
    }
    let (key, name_zh, name_en) = (f.text("key"), f.text("name_zh"), f.text("name_en"));
    let input = LossReasonInput {
        key: Some(key.clone()),
        name_zh: Some(name_zh.clone()),
        name_en: Some(name_en.clone()),
        ..Default::default()
    };
    match ops::create_loss_reason(&s.db, &v.ctx, input).await {
        Ok(r) => {
            Redirect::to(&format!("{LOSS_REASONS}?saved={}#reason-{}", r.id, r.id)).into_response()
        }
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            place(&mut errors, v.tr, &e, &["key", "name_zh", "name_en"]);
            let page = loss_reasons_page(&v, None, None, (key, name_zh, name_en, errors));
            (e.status(), render(page)).into_response()
        }
        Err(e) => v.error(LOSS_REASONS, e),
    }
}

async fn save_loss_reason(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Posted,
) -> Response {
    let f = FormData(f);
    if let Err(e) = admin_post(&v, &f) {
        return v.error(LOSS_REASONS, e);
    }
    let (name_zh, name_en, position) = (
        f.get("name_zh").to_string(),
        f.get("name_en").to_string(),
        f.get("position").to_string(),
    );
    let mut errors = Errors::default();
    let result = match whole_number("position", &position, &mut errors, v.tr) {
        Some(n) => {
            let input = LossReasonInput {
                name_zh: Some(name_zh.trim().to_string()),
                name_en: Some(name_en.trim().to_string()),
                position: Some(n),
                ..Default::default()
            };
            ops::update_loss_reason(&s.db, &v.ctx, id, input).await
        }
        None => Err(AppError::invalid("", "invalid_value", "see the fields")),
    };
    match result {
        Ok(_) => Redirect::to(&format!("{LOSS_REASONS}?saved={id}#reason-{id}")).into_response(),
        Err(e) if shown_in_form(&e) => {
            if errors.is_empty() {
                place(&mut errors, v.tr, &e, &["name_zh", "name_en", "position"]);
            }
            let row = Some((id, name_zh, name_en, position, errors));
            let page = loss_reasons_page(&v, None, row, no_new());
            (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
        }
        Err(e) => v.error(LOSS_REASONS, e),
    }
}

async fn archive_loss_reason(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Posted,
) -> Response {
    let f = FormData(f);
    if let Err(e) = admin_post(&v, &f) {
        return v.error(LOSS_REASONS, e);
    }
    let input = LossReasonInput {
        archived: Some(f.get("archived") == "1"),
        ..Default::default()
    };
    match ops::update_loss_reason(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!("{LOSS_REASONS}?saved={id}#reason-{id}")).into_response(),
        Err(e) => v.error(LOSS_REASONS, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(settings_home))
        .route("/admin/pipelines", get(pipelines).post(create_pipeline))
        .route("/admin/pipelines/{id}", get(pipeline).post(save_pipeline))
        .route("/admin/pipelines/{id}/default", post(make_default))
        .route("/admin/pipelines/{id}/archive", post(archive_pipeline))
        .route("/admin/pipelines/{id}/stages", post(add_stage))
        .route("/admin/pipelines/{id}/stages/{stage_id}", post(save_stage))
        .route(
            "/admin/pipelines/{id}/stages/{stage_id}/move",
            post(move_stage),
        )
        .route(
            "/admin/pipelines/{id}/stages/{stage_id}/archive",
            post(archive_stage),
        )
        .route(
            "/admin/pipelines/{id}/stages/{stage_id}/delete",
            post(delete_stage),
        )
        .route(
            "/admin/loss-reasons",
            get(loss_reasons).post(create_loss_reason),
        )
        .route("/admin/loss-reasons/{id}", post(save_loss_reason))
        .route(
            "/admin/loss-reasons/{id}/archive",
            post(archive_loss_reason),
        )
}
