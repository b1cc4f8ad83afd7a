//! Logging a follow-up: its own page, and the form the opportunity page shares.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::calendar::china_date;
use shangji_core::follow_up::FollowUpInput;
use shangji_core::model::*;
use shangji_core::records::ActivityInput;
use shangji_core::Field;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, records};
use crate::pages::{render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::form::Editable;
use super::{activity_label, date_of, err_text};

#[derive(Template)]
#[template(path = "records_follow_up.html")]
struct FollowUpPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    /// The record's page.
    back: String,
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
    /// Where the form posts.
    pub(in crate::pages) action: String,
    /// Whether it sets the next step (deals have one).
    pub(in crate::pages) with_next_step: bool,
}

pub(super) fn follow_up_form(
    tr: Tr,
    f: Option<&FormData>,
    contacts: &[Contact],
    today: time::Date,
    action: String,
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
        with_next_step: action.starts_with("/opportunities/"),
        action,
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
        back: format!("/opportunities/{id}"),
        title: opp.title,
        form: follow_up_form(
            v.tr,
            None,
            &contacts,
            china_date(v.ctx.now),
            format!("/opportunities/{id}/follow-up"),
        ),
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
        records::log_follow_up(&s.db, &v.ctx, id, input, None).await
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
        back: format!("/opportunities/{id}"),
        title: opp.title,
        form: follow_up_form(
            tr,
            Some(&f),
            &contacts,
            china_date(v.ctx.now),
            format!("/opportunities/{id}/follow-up"),
        ),
        errors,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}

/// Where a follow-up on an account, a contact or a lead is linked: the record itself, and
/// for a contact its account too (so that the account's timeline shows it).
fn linked_input<T: Editable>(record: &T, f: &FormData) -> ActivityInput {
    let mut input = ActivityInput {
        kind: f
            .get("kind")
            .parse::<ActivityType>()
            .map_or(Field::Absent, Field::Value),
        summary: Field::Value(f.get("summary").to_string()),
        occurred_at: Field::Absent,
        ..Default::default()
    };
    let id = record.id();
    match T::RECORD_KIND {
        RecordKind::Account => input.account_id = Field::Value(id),
        RecordKind::Contact => {
            input.contact_id = Field::Value(id);
            let account = record
                .links()
                .into_iter()
                .find(|l| l.1 == RecordKind::Account);
            if let Some((_, _, a)) = account {
                input.account_id = Field::Value(a);
            }
        }
        RecordKind::Lead => input.lead_id = Field::Value(id),
        RecordKind::Opportunity => input.opportunity_id = Field::Value(id),
    }
    // For an account, the contact the follow-up was with.
    if let Ok(c) = f.text("contact_id").parse::<i64>() {
        input.contact_id = Field::Value(c);
    }
    input
}

/// The contacts offered by an account's follow-up form.
async fn contacts_of<T: Editable>(s: &AppState, v: &Viewer, record: &T) -> Vec<Contact> {
    if T::RECORD_KIND != RecordKind::Account {
        return vec![];
    }
    let params = [
        ("account_id".to_string(), record.id().to_string()),
        ("per_page".to_string(), "200".to_string()),
    ];
    ops::list::<Contact>(&s.db, &v.ctx, &params)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

async fn record_follow_up_view<T: Editable>(
    s: &AppState,
    v: &Viewer,
    record: &T,
    f: Option<&FormData>,
    errors: Errors,
) -> FollowUpPage {
    let page = format!("/{}/{}", T::path(), record.id());
    let contacts = contacts_of(s, v, record).await;
    FollowUpPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav(T::path()),
        here: format!("{page}/follow-up"),
        title: record.title(),
        form: follow_up_form(
            v.tr,
            f,
            &contacts,
            china_date(v.ctx.now),
            format!("{page}/follow-up"),
        ),
        back: page,
        errors,
    }
}

/// The follow-up form of an account, a contact or a lead, on its own page.
pub(super) async fn record_follow_up_page<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
) -> Response {
    let here = format!("/{}/{id}/follow-up", T::path());
    match ops::get::<T>(&s.db, &v.ctx, id).await {
        Ok(r) => render(record_follow_up_view(&s, &v, &r, None, Errors::default()).await),
        Err(e) => v.error(&here, e),
    }
}

/// Logs a follow-up on an account, a contact or a lead; back to its page, or the form with
/// the error beside the field.
pub(super) async fn record_follow_up_submit<T: Editable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}/{id}/follow-up", T::path());
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let record = match ops::get::<T>(&s.db, &v.ctx, id).await {
        Ok(r) => r,
        Err(e) => return v.error(&here, e),
    };
    let input = linked_input(&record, &f);
    let e = match ops::create::<Activity>(&s.db, &v.ctx, input, None).await {
        Ok(_) => {
            return Redirect::to(&format!("/{}/{id}?logged=1#follow-ups", T::path()))
                .into_response()
        }
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let mut errors = Errors::default();
    let (field, text) = err_text(v.tr, &e);
    let at = match field.as_str() {
        "summary" | "kind" | "contact_id" => field.as_str(),
        _ => "form",
    };
    errors.add(at, text);
    let page = record_follow_up_view(&s, &v, &record, Some(&f), errors).await;
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}
