//! The working calendar: the year's holidays and make-up days, and the JSON editor.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::calendar::WorkCalendar;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::automation;
use crate::pages::{render, Nav, Viewer};
use crate::state::AppState;

use super::rule::pretty;
use super::CALENDAR;

struct DayRow {
    name: String,
    dates: String,
}

#[derive(Template)]
#[template(path = "automation_calendar.html")]
struct CalendarPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    year: i32,
    years: Vec<i32>,
    holidays: Vec<DayRow>,
    make_up: Vec<DayRow>,
    json: String,
    error: String,
    saved: bool,
}

#[derive(serde::Deserialize)]
pub(super) struct CalendarQuery {
    year: Option<i32>,
    saved: Option<String>,
}

fn calendar_page(
    v: &Viewer,
    cal: &WorkCalendar,
    year: Option<i32>,
    json: String,
    error: String,
    saved: bool,
) -> CalendarPage {
    let tr = v.tr;
    let today = cal.local_date(v.ctx.now);
    let year = year.unwrap_or(today.year());
    let mut years: Vec<i32> = cal
        .holidays()
        .iter()
        .flat_map(|h| [h.from.year(), h.to.year()])
        .chain(cal.make_up_days().iter().map(|m| m.date.year()))
        .chain([year])
        .collect();
    years.sort();
    years.dedup();
    let name = |zh: &str, en: &str| {
        if tr.is_zh() {
            zh.to_string()
        } else {
            en.to_string()
        }
    };
    CalendarPage {
        tr,
        csrf: v.csrf.clone(),
        here: CALENDAR.into(),
        nav: v.nav("settings"),
        tab: "calendar",
        year,
        years,
        holidays: cal
            .holidays()
            .iter()
            .filter(|h| h.from.year() == year || h.to.year() == year)
            .map(|h| DayRow {
                name: name(&h.name.zh, &h.name.en),
                dates: if h.from == h.to {
                    h.from.to_string()
                } else {
                    format!("{} – {}", h.from, h.to)
                },
            })
            .collect(),
        make_up: cal
            .make_up_days()
            .iter()
            .filter(|m| m.date.year() == year)
            .map(|m| DayRow {
                name: name(&m.name.zh, &m.name.en),
                dates: m.date.to_string(),
            })
            .collect(),
        json,
        error,
        saved,
    }
}

pub(super) async fn calendar(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<CalendarQuery>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(CALENDAR, e);
    }
    match crate::ops::facts::calendar(&s.db).await {
        Ok(cal) => render(calendar_page(
            &v,
            &cal,
            q.year,
            pretty(&cal.data()),
            String::new(),
            q.saved.is_some(),
        )),
        Err(e) => v.error(CALENDAR, e),
    }
}

pub(super) async fn save_calendar(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, CALENDAR) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let json = form.text("calendar");
    match automation::save_calendar(&s.db, &v.ctx, &json).await {
        Ok(_) => Redirect::to(&format!("{CALENDAR}?saved=1")).into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::BadRequest(_))) => {
            let (AppError::Invalid(f) | AppError::BadRequest(f)) = &e else {
                unreachable!()
            };
            // The check's English detail follows in English pages, or when the code has no
            // words of its own.
            let (text, detail) = match v.tr.get(&format!("auto.cal.err.{}", f.code)) {
                Some(t) => (t, !v.tr.is_zh()),
                None => (v.tr.t("auto.cal.err.other"), true),
            };
            let error = if detail && !f.message.is_empty() {
                format!("{}: {text} — {}", f.field, f.message)
            } else {
                format!("{}: {text}", f.field)
            };
            let current = crate::ops::facts::calendar(&s.db)
                .await
                .unwrap_or_else(|_| WorkCalendar::china_default());
            render(calendar_page(&v, &current, None, json, error, false))
        }
        Err(e) => v.error(CALENDAR, e),
    }
}
