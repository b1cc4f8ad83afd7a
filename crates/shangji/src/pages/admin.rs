//! Settings pages for admins: pipelines (stages, gates, standard actions, transition policy)
//! and the loss-reason taxonomy. Each form post is one `ops` call; what it refuses is shown
//! beside the field it names, with what the admin typed kept.
//!
//! This module holds the helpers the settings pages share and the routes; each page is a
//! submodule.

mod loss_reasons;
mod pipeline;
mod pipelines;
mod stage_form;
mod stages;

use axum::extract::Form;
use axum::routing::{get, post};
use axum::Router;
use shangji_core::model::{ForecastCategory, Pipeline, Role, StageKind};

use super::{error_text, field_text, role_key, Choice, Errors, FormData, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::state::AppState;

use loss_reasons::{archive_loss_reason, create_loss_reason, loss_reasons, save_loss_reason};
use pipeline::{archive_pipeline, make_default, pipeline, save_pipeline};
use pipelines::{create_pipeline, pipelines, settings_home};
use stages::{add_stage, archive_stage, delete_stage, move_stage, save_stage};

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
