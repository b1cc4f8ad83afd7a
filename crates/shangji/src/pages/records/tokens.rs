//! Settings: API tokens (the list, creating one, revoking).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::records;
use crate::pages::{render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::state::AppState;

use super::err_text;

struct TokenRow {
    id: i64,
    user_id: i64,
    user: String,
    name: String,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "records_tokens.html")]
struct TokensPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    tokens: Vec<TokenRow>,
    users: Vec<Choice>,
    name: String,
    /// The secret of the token just made: shown this once.
    secret: Option<String>,
    errors: Errors,
    notice: Option<String>,
}

async fn tokens_view(
    s: &AppState,
    v: &Viewer,
    f: Option<&FormData>,
    secret: Option<String>,
    errors: Errors,
    notice: Option<String>,
) -> Result<TokensPage, AppError> {
    let tr = v.tr;
    let all = records::all_tokens(&s.db, &v.ctx).await?;
    let mut tokens = Vec::new();
    for (u, ts) in &all {
        for t in ts {
            tokens.push(TokenRow {
                id: t.id,
                user_id: u.id,
                user: format!("{} ({})", u.display_name, u.login),
                name: t.name.clone(),
                created: tr.datetime(t.created_at),
                revoked: t.revoked_at.map(|r| tr.datetime(r)),
            });
        }
    }
    tokens.sort_by_key(|t| (t.revoked.is_some(), std::cmp::Reverse(t.id)));
    let chosen = f.map_or_else(|| v.user.id.to_string(), |f| f.text("user_id"));
    let users = all
        .iter()
        .filter(|(u, _)| u.active)
        .map(|(u, _)| {
            let id = u.id.to_string();
            let checked = id == chosen;
            Choice::new(id, format!("{} ({})", u.display_name, u.login), checked)
        })
        .collect();
    Ok(TokensPage {
        tr,
        csrf: v.csrf.clone(),
        here: "/admin/tokens".into(),
        nav: v.nav("settings"),
        tab: "tokens",
        tokens,
        users,
        name: f.map_or_else(String::new, |f| f.get("name").to_string()),
        secret,
        errors,
        notice,
    })
}

#[derive(serde::Deserialize)]
pub(super) struct RevokedQuery {
    revoked: Option<String>,
}

pub(super) async fn tokens_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<RevokedQuery>,
) -> Response {
    let notice = q
        .revoked
        .map(|_| v.tr.t("records.token.revoked_notice").to_string());
    match tokens_view(&s, &v, None, None, Errors::default(), notice).await {
        Ok(p) => render(p),
        Err(e) => v.error("/admin/tokens", e),
    }
}

pub(super) async fn tokens_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = "/admin/tokens";
    let f = match v.posted(f, here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let user_id = f.text("user_id").parse::<i64>().unwrap_or(0);
    match records::create_token_for(&s.db, &v.ctx, user_id, f.get("name")).await {
        Ok((secret, _)) => {
            match tokens_view(&s, &v, None, Some(secret), Errors::default(), None).await {
                Ok(p) => (StatusCode::CREATED, render(p)).into_response(),
                Err(e) => v.error(here, e),
            }
        }
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            let (field, text) = err_text(v.tr, &e);
            errors.add(if field == "name" { "name" } else { "user_id" }, text);
            match tokens_view(&s, &v, Some(&f), None, errors, None).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
                Err(e) => v.error(here, e),
            }
        }
        Err(e) => v.error(here, e),
    }
}

pub(super) async fn token_revoke(
    State(s): State<AppState>,
    v: Viewer,
    Path((user_id, id)): Path<(i64, i64)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = "/admin/tokens";
    if let Err(page) = v.posted(f, here) {
        return page;
    }
    match records::revoke_token_of(&s.db, &v.ctx, user_id, id).await {
        Ok(()) => Redirect::to("/admin/tokens?revoked=1").into_response(),
        Err(e) => v.error(here, e),
    }
}
