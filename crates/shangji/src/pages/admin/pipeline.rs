//! One pipeline's page: its settings, its stages with their forms, and the switches of the
//! pipeline itself (default, archived).

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::{Pipeline, RecordKind, Stage};
use shangji_core::process::TransitionPolicy;

use crate::i18n::Tr;
use crate::ops::{self, PipelinePatch};
use crate::pages::{render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::stage_form::{StageForm, StageFormView};
use super::{
    admin_pipeline, admin_post, forecast_choices, kind_choices, kind_label, place, role_choices,
    roles_of, Posted, PIPELINES,
};

pub(super) struct SettingsForm {
    name: String,
    allow_skip: bool,
    allow_backward: bool,
    reopen_roles: Vec<Choice>,
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
pub(super) struct Shown {
    pub(super) settings: Option<(SettingsForm, Errors)>,
    pub(super) header: Errors,
    pub(super) stage: Option<(i64, StageForm, Errors)>,
    pub(super) tools: Option<(i64, Errors)>,
    pub(super) new_stage: Option<(String, String, String, String, String, Errors)>,
    pub(super) saved: Option<String>,
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

pub(super) fn show(v: &Viewer, p: &Pipeline, status: StatusCode, shown: Shown) -> Response {
    (status, render(pipeline_page(v, p, shown))).into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct SavedQuery {
    saved: Option<String>,
}

pub(super) async fn pipeline(
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

pub(super) fn saved(pid: i64, what: impl std::fmt::Display) -> Response {
    Redirect::to(&format!("{PIPELINES}/{pid}?saved={what}#stage-{what}")).into_response()
}

pub(super) async fn save_pipeline(
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

pub(super) async fn make_default(
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

pub(super) async fn archive_pipeline(
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
