//! The search page.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use crate::i18n::Tr;
use crate::ops::lists::{self, SearchResults};
use crate::pages::{error_text, render, shown_in_form, Nav, Viewer};
use crate::state::AppState;

struct Group {
    id: &'static str,
    label: String,
    hits: Vec<lists::Hit>,
}

#[derive(Template)]
#[template(path = "lists_search.html")]
struct SearchPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    q: String,
    searched: bool,
    groups: Vec<Group>,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub(super) async fn search_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<SearchQuery>,
) -> Response {
    let here = format!("/search?q={}", crate::pages::urlencode(&q.q));
    let tr = v.tr;
    let (found, error) = match lists::search(&s.db, &v.ctx, tr, &q.q).await {
        Ok(r) => (r, None),
        Err(e) if shown_in_form(&e) => (SearchResults::default(), Some(error_text(tr, &e).1)),
        Err(e) => return v.error(&here, e),
    };
    let groups = vec![
        Group {
            id: "accounts",
            label: tr.t("nav.accounts").to_string(),
            hits: found.accounts,
        },
        Group {
            id: "contacts",
            label: tr.t("nav.contacts").to_string(),
            hits: found.contacts,
        },
        Group {
            id: "opportunities",
            label: tr.t("nav.opportunities").to_string(),
            hits: found.opportunities,
        },
        Group {
            id: "leads",
            label: tr.t("nav.leads").to_string(),
            hits: found.leads,
        },
    ]
    .into_iter()
    .filter(|g| !g.hits.is_empty())
    .collect();
    render(SearchPage {
        tr,
        csrf: v.csrf.clone(),
        here,
        nav: v.nav("search"),
        searched: !q.q.trim().is_empty(),
        q: q.q.trim().to_string(),
        groups,
        error,
    })
}
