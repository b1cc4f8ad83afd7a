//! The contacts of an opportunity: linking one with its buying role, and unlinking.

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::ops::records;
use crate::pages::Viewer;
use crate::state::AppState;

pub(in crate::pages) struct ContactRow {
    pub(in crate::pages) id: i64,
    pub(in crate::pages) name: String,
    pub(in crate::pages) title: String,
    pub(in crate::pages) role: String,
}

pub(super) async fn contact_link(
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
    let Ok(contact_id) = f.text("contact_id").parse::<i64>() else {
        return Redirect::to(&format!("{here}?contact_error=required#contacts")).into_response();
    };
    let input = records::ContactLinkInput {
        contact_id,
        buying_role: f.text("buying_role").parse().ok(),
    };
    match records::link_contact(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!("{here}#contacts")).into_response(),
        Err(AppError::Invalid(_)) => {
            Redirect::to(&format!("{here}?contact_error=invalid#contacts")).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn contact_unlink(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, contact_id)): Path<(i64, i64)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    if let Err(page) = v.posted(f, &here) {
        return page;
    }
    match records::unlink_contact(&s.db, &v.ctx, id, contact_id).await {
        Ok(()) => Redirect::to(&format!("{here}#contacts")).into_response(),
        Err(e) => v.error(&here, e),
    }
}
