//! Saving a list's view under a name, and deleting one.

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use crate::ops::lists::{self, Listed};
use crate::pages::{error_text, shown_in_form, Viewer};
use crate::state::AppState;

use super::page::page;

pub(super) async fn save_view<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let kind = T::KIND;
    let here = format!("/{}", kind.path());
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let input = lists::ViewInput {
        kind: kind.path().to_string(),
        name: f.text("name"),
        query: f.get("query").to_string(),
    };
    match lists::create_view(&s.db, &v.ctx, input).await {
        Ok(view) => Redirect::to(&format!("/{}?{}&view={}", kind.path(), view.query, view.id))
            .into_response(),
        Err(e) if shown_in_form(&e) => {
            let text = error_text(v.tr, &e).1;
            let params = lists::parse_query(f.get("query"));
            let name = f.text("name");
            match page::<T>(&s, &v, &params, false, |r| {
                r.view_error = Some(text);
                r.view_name = name;
            })
            .await
            {
                Ok(r) => (e.status(), r).into_response(),
                Err(e) => v.error(&here, e),
            }
        }
        Err(e) => v.error(&here, e),
    }
}

pub(super) async fn delete_view<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}", T::KIND.path());
    if let Err(page) = v.posted(f, &here) {
        return page;
    }
    match lists::delete_view(&s.db, &v.ctx, id).await {
        Ok(()) => Redirect::to(&here).into_response(),
        Err(e) => v.error(&here, e),
    }
}
