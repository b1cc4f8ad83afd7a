//! Logging a follow-up: its own page, and the form the opportunity page shares.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::calendar::china_date;
use shangji_core::follow_up::FollowUpInput;
use shangji_core::model::*;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, records};
use crate::pages::{render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::{activity_label, date_of, err_text};

#[derive(Template)]
#[template(path = "records_follow_up.html")]
struct FollowUpPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    title: String,
    form: FollowUpForm,
    errors: Errors,
}

/// The follow-up form as typed (shared by its own page and the opportunity page).
pub(in crate::pages) struct FollowUpForm {
    pub(in crate::pages) kinds: Vec<Choice>,
    pub(in crate::pages) contacts: Vec<Choice>,
    pub(in crate::pages) summary: String,
    pub(in crate::pages) next_step: String,
    pub(in crate::pages) next_step_date: String,
    pub(in crate::pages) min_date: String,
}

pub(super) fn follow_up_form(
    tr: Tr,
    f: Option<&FormData>,
    contacts: &[Contact],
    today: time::Date,
) -> FollowUpForm {
    let get = |k: &str| f.map_or_else(String::new, |f| f.get(k).to_string());
    let kind = f.map_or("call", |f| f.get("kind"));
    let contact = get("contact_id");
    let mut cs = vec![Choice::new(
        "",
        tr.t("records.no_contact"),
        contact.is_empty(),
    )];
    cs.extend(contacts.iter().map(|c| {
        let id = c.id.to_string();
        let checked = id == contact;
        Choice::new(id, c.name.clone(), checked)
    }));
    FollowUpForm {
        kinds: ActivityType::ALL
            .iter()
            .map(|k| Choice::new(k.as_str(), activity_label(tr, *k), k.as_str() == kind))
            .collect(),
        contacts: cs,
        summary: get("summary"),
        next_step: get("next_step"),
        next_step_date: get("next_step_date"),
        min_date: today.to_string(),
    }
}

pub(super) async fn account_contacts(s: &AppState, v: &Viewer, opp: &Opportunity) -> Vec<Contact> {
    let params = [
        ("account_id".to_string(), opp.account_id.to_string()),
        ("per_page".to_string(), "200".to_string()),
    ];
    ops::list::<Contact>(&s.db, &v.ctx, &params)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

pub(super) async fn follow_up_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
) -> Response {
    let here = format!("/opportunities/{id}/follow-up");
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    let contacts = account_contacts(&s, &v, &opp).await;
    render(FollowUpPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav("opportunity"),
        here,
        id,
        title: opp.title,
        form: follow_up_form(v.tr, None, &contacts, china_date(v.ctx.now)),
        errors: Errors::default(),
    })
}

pub(super) async fn follow_up_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}/follow-up");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let tr = v.tr;
    let mut errors = Errors::default();
    let kind = f.get("kind").parse::<ActivityType>().ok();
    if kind.is_none() {
        errors.add("kind", tr.t("err.unknown_choice"));
    }
    let next_step_date = date_of(f.get("next_step_date")).unwrap_or_else(|_| {
        errors.add("next_step_date", tr.t("err.invalid_date"));
        None
    });
    let contact_id = f.text("contact_id").parse::<i64>().ok();
    let result = if errors.is_empty() {
        let input = FollowUpInput {
            kind,
            summary: f.get("summary").to_string(),
            contact_id,
            next_step: Some(f.get("next_step").to_string()),
            next_step_date,
            version: None,
        };
        records::log_follow_up(&s.db, &v.ctx, id, input).await
    } else {
        Err(AppError::invalid("", "invalid_value", "see the fields"))
    };
    let e = match result {
        Ok(_) => {
            return Redirect::to(&format!("/opportunities/{id}?logged=1#timeline")).into_response()
        }
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    if errors.is_empty() {
        let (field, text) = err_text(tr, &e);
        let at = match field.as_str() {
            "summary" | "kind" | "next_step" | "next_step_date" | "contact_id" => field.as_str(),
            _ => "form",
        };
        errors.add(at, text);
    }
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    let contacts = account_contacts(&s, &v, &opp).await;
    let page = FollowUpPage {
        tr,
        csrf: v.csrf.clone(),
        nav: v.nav("opportunity"),
        here,
        id,
        title: opp.title,
        form: follow_up_form(tr, Some(&f), &contacts, china_date(v.ctx.now)),
        errors,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}
