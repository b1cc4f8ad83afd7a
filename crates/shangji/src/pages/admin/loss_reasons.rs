//! The loss-reason taxonomy: the list, adding a reason, renaming, archiving.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, LossReasonInput};
use crate::pages::{render, shown_in_form, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::{admin_post, place, whole_number, Posted, LOSS_REASONS};

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
pub(super) struct SavedId {
    saved: Option<i64>,
}

pub(super) async fn loss_reasons(
    v: Viewer,
    axum::extract::Query(q): axum::extract::Query<SavedId>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(LOSS_REASONS, e);
    }
    render(loss_reasons_page(&v, q.saved, None, no_new()))
}

pub(super) async fn create_loss_reason(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Posted,
) -> Response {
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

pub(super) async fn save_loss_reason(
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

pub(super) async fn archive_loss_reason(
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
