//! The list of pipelines and creating one.

use askama::Template;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::model::{ForecastCategory, Language, Stage, StageKind};
use shangji_core::process::{StageGate, StageSpec};

use crate::i18n::Tr;
use crate::ops::{self, PipelineInput};
use crate::pages::{render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::{admin_post, place, Posted, PIPELINES};

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

pub(super) async fn settings_home() -> Redirect {
    Redirect::to(PIPELINES)
}

pub(super) async fn pipelines(v: Viewer) -> Response {
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

pub(super) async fn create_pipeline(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Posted,
) -> Response {
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
