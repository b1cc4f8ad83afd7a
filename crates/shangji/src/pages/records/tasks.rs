//! Tasks as rows: marking one done (or open again) and adding one to an opportunity.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::calendar::china_date;
use shangji_core::model::*;
use shangji_core::Field;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, records};
use crate::pages::opportunity::user_name;
use crate::pages::{render, shown_in_form, Viewer};
use crate::state::AppState;

use super::{date_of, err_text, is_htmx};

pub(in crate::pages) struct TaskRow {
    pub(in crate::pages) id: i64,
    pub(in crate::pages) version: i64,
    pub(in crate::pages) title: String,
    pub(in crate::pages) due: String,
    pub(in crate::pages) overdue: bool,
    pub(in crate::pages) done: bool,
    pub(in crate::pages) opportunity: Option<(i64, String)>,
    pub(in crate::pages) assignee: String,
    /// Where a plain form goes back to.
    pub(in crate::pages) back: String,
}

pub(super) fn task_row(
    tr: Tr,
    t: &Task,
    today: time::Date,
    title: Option<String>,
    users: &[User],
) -> TaskRow {
    TaskRow {
        id: t.id,
        version: t.version,
        title: t.title.clone(),
        due: t
            .due_date
            .map_or_else(|| tr.t("value.none").to_string(), |d| d.to_string()),
        overdue: t.due_date.is_some_and(|d| d < today),
        done: t.done,
        opportunity: match (t.record_kind, t.record_id) {
            (Some(RecordKind::Opportunity), Some(id)) => {
                Some((id, title.unwrap_or_else(|| format!("#{id}"))))
            }
            _ => None,
        },
        assignee: user_name(users, t.assignee_id),
        back: "/".into(),
    }
}

/// The title of the deal a task is for, when the user can read it.
async fn deal_title(s: &AppState, v: &Viewer, t: &Task) -> Option<String> {
    match (t.record_kind, t.record_id) {
        (Some(RecordKind::Opportunity), Some(id)) => ops::get::<Opportunity>(&s.db, &v.ctx, id)
            .await
            .ok()
            .map(|o| o.title),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "records_task.html")]
struct TaskFragment {
    tr: Tr,
    csrf: String,
    t: TaskRow,
    error: Option<String>,
}

/// Marks a task done (or open again). An htmx request gets the task's row back; a plain
/// form goes back to where it came from.
pub(super) async fn task_done(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = match v.posted(f, "/") {
        Ok(f) => f,
        Err(page) => return page,
    };
    let done = f.get("done") != "0";
    let back = crate::pages::safe_next(Some(f.get("next")));
    let result =
        records::set_task_done(&s.db, &v.ctx, id, done, f.text("version").parse().ok()).await;
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error("/", e.into()),
    };
    let today = china_date(v.ctx.now);
    match result {
        Ok(t) if is_htmx(&headers) => {
            let title = deal_title(&s, &v, &t).await;
            render(TaskFragment {
                tr: v.tr,
                csrf: v.csrf.clone(),
                t: task_row(v.tr, &t, today, title, &users),
                error: None,
            })
        }
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) if shown_in_form(&e) && is_htmx(&headers) => {
            let task = ops::get::<Task>(&s.db, &v.ctx, id).await;
            match task {
                Ok(t) => render(TaskFragment {
                    tr: v.tr,
                    csrf: v.csrf.clone(),
                    t: task_row(v.tr, &t, today, deal_title(&s, &v, &t).await, &users),
                    error: Some(err_text(v.tr, &e).1),
                }),
                Err(e) => v.error("/", e),
            }
        }
        Err(e) => v.error(&back, e),
    }
}

pub(super) async fn task_create(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    let Ok(due) = date_of(f.get("due_date")) else {
        return Redirect::to(&format!("{here}?task_error=invalid_date#tasks")).into_response();
    };
    let input = shangji_core::records::TaskInput {
        title: Field::Value(f.get("title").to_string()),
        due_date: due.map_or(Field::Absent, Field::Value),
        assignee_id: Field::Value(opp.owner_id),
        record_kind: Field::Value(RecordKind::Opportunity),
        record_id: Field::Value(id),
        ..Default::default()
    };
    match ops::create::<Task>(&s.db, &v.ctx, input, None).await {
        Ok(_) => Redirect::to(&format!("{here}#tasks")).into_response(),
        Err(AppError::Invalid(e)) => {
            Redirect::to(&format!("{here}?task_error={}#tasks", e.code)).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}
