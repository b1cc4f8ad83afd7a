//! A user's own account: changing one's password (`/password`, from the user menu) with the
//! current one, as `PATCH /api/v1/users/{id}` does. Every other session of the user ends.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use shangji_core::records::UserInput;
use shangji_core::Field;

use super::{error_text, render, Errors, Nav, Viewer};
use crate::i18n::Tr;
use crate::ops;
use crate::state::AppState;

const HERE: &str = "/password";

#[derive(Template)]
#[template(path = "directory_password.html")]
struct PasswordPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    errors: Errors,
    changed: bool,
}

#[derive(Deserialize)]
struct Changed {
    changed: Option<u8>,
}

async fn password_page(v: Viewer, Query(q): Query<Changed>) -> Response {
    page(&v, Errors::default(), q.changed.is_some())
}

fn page(v: &Viewer, errors: Errors, changed: bool) -> Response {
    render(PasswordPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: HERE.into(),
        nav: v.nav("password"),
        errors,
        changed,
    })
}

async fn password_submit(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = match v.posted(f, HERE) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let mut errors = Errors::default();
    if f.get("password") != f.get("repeat") {
        errors.add("repeat", v.tr.t("password.mismatch"));
        return page(&v, errors, false);
    }
    let input = UserInput {
        password: Field::Value(f.get("password").to_string()),
        current_password: Field::Value(f.get("current_password").to_string()),
        ..Default::default()
    };
    match ops::update_user(&s.db, &v.ctx, v.ctx.actor.user_id, input).await {
        // Every session ended with the change, this one too: sign in with the new password.
        Ok(_) => Redirect::to("/login?next=%2Fpassword%3Fchanged%3D1").into_response(),
        Err(e) => {
            let (field, text) = error_text(v.tr, &e);
            let at = match field.as_str() {
                "current_password" | "password" => field,
                _ => "form".into(),
            };
            errors.add(at, text);
            page(&v, errors, false)
        }
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route(HERE, get(password_page).post(password_submit))
}
