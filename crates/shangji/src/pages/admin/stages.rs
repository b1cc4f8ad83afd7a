//! A pipeline's stages: adding one, saving one's form, and moving, archiving or deleting it.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::model::{ForecastCategory, Pipeline, Stage, StageKind};
use shangji_core::process::{self, StageGate, StageSpec};

use crate::error::AppError;
use crate::ops::{self, NewStageInput, StagePatch};
use crate::pages::{error_text, field_text, shown_in_form, Errors, FormData, Viewer};
use crate::state::AppState;

use super::pipeline::{saved, show, Shown};
use super::stage_form::{ItemRow, StageForm};
use super::{admin_pipeline, admin_post, place, whole_number, Posted, PIPELINES};

pub(super) async fn add_stage(
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

pub(super) async fn save_stage(
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

pub(super) async fn move_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(ids): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    stage_tool(&s, &v, ids, &FormData(f), "move").await
}

pub(super) async fn archive_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(ids): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    stage_tool(&s, &v, ids, &FormData(f), "archive").await
}

pub(super) async fn delete_stage(
    State(s): State<AppState>,
    v: Viewer,
    Path(ids): Path<(i64, i64)>,
    Form(f): Posted,
) -> Response {
    stage_tool(&s, &v, ids, &FormData(f), "delete").await
}
