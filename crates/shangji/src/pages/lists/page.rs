//! A list page: the results that a filter, a sort, a page or a bulk change replaces (a
//! fragment for htmx), and the whole page around them with its columns and saved views.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use shangji_core::model::*;
use shangji_store::SavedView;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::{self, encode_query, ListKind, Listed};
use crate::pages::{error_text, render, shown_in_form, Choice, Nav, Viewer};
use crate::state::AppState;

use super::filters::{filters, users_in_scope, FilterField};
use super::{clean, kind_title, param, with};

struct HeadCell {
    label: String,
    /// Where a click sorts by this column (ascending, or descending when it already is).
    href: Option<String>,
    /// `ascending`, `descending` or `none`.
    aria_sort: &'static str,
    num: bool,
}

struct CellView {
    text: String,
    href: Option<String>,
    num: bool,
}

struct RowView {
    id: i64,
    cells: Vec<CellView>,
}

pub(super) struct ReportLine {
    pub(super) ok: bool,
    pub(super) title: String,
    pub(super) text: String,
}

/// The part of a list page that a filter, a sort, a page or a bulk change replaces.
pub(super) struct Results {
    kind: &'static str,
    /// The list's query string (filters, sort, columns; no page).
    query: String,
    sort: String,
    head: Vec<HeadCell>,
    rows: Vec<RowView>,
    total_text: String,
    page_text: String,
    prev: Option<String>,
    next: Option<String>,
    export_csv: String,
    export_xlsx: String,
    can_reassign: bool,
    can_tag: bool,
    can_move: bool,
    owners: Vec<Choice>,
    stages: Vec<Choice>,
    pub(super) report: Vec<ReportLine>,
    pub(super) bulk_error: Option<String>,
    pub(super) view_name: String,
    pub(super) view_error: Option<String>,
}

#[derive(Template)]
#[template(path = "lists.html")]
struct ListPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    title: String,
    q: String,
    filters: Vec<FilterField>,
    /// A filter besides the free text is set (the filters start open).
    filtered: bool,
    columns: Vec<Choice>,
    views: Vec<ViewLink>,
    r: Results,
    /// The "new" button of kinds created from a form of their own: address and label.
    new_link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "lists_results.html")]
struct ResultsFragment {
    tr: Tr,
    csrf: String,
    r: Results,
}

struct ViewLink {
    id: i64,
    name: String,
    href: String,
    current: bool,
}

/// The results of a list for its address (with a bulk report, when there is one).
async fn results<T: Listed>(
    s: &AppState,
    v: &Viewer,
    params: &[(String, String)],
    users: &[User],
) -> Result<(Results, Vec<lists::ColumnDef>, Vec<String>), AppError> {
    let tr = v.tr;
    let kind = T::KIND;
    let table = lists::table::<T>(&s.db, &v.ctx, tr, params).await?;
    let pairs = clean(params, &["page", "view", "csrf"]);
    let query = encode_query(&pairs);
    let sort_now = param(&pairs, "sort").to_string();
    let head = table
        .columns
        .iter()
        .map(|c| {
            let (href, aria_sort) = match c.sort {
                Some(col) => {
                    let current = table.sort == col;
                    let next = if current && !table.desc {
                        format!("-{col}")
                    } else {
                        col.to_string()
                    };
                    let aria = match (current, table.desc) {
                        (true, false) => "ascending",
                        (true, true) => "descending",
                        _ => "none",
                    };
                    (
                        Some(format!("/{}?{}", kind.path(), with(&pairs, "sort", &next))),
                        aria,
                    )
                }
                None => (None, "none"),
            };
            HeadCell {
                label: c.label.clone(),
                href,
                aria_sort,
                num: c.key == "amount" || c.key == "probability" || c.key == "score",
            }
        })
        .collect();
    let rows = table
        .rows
        .iter()
        .map(|r| RowView {
            id: r.id,
            cells: r
                .cells
                .iter()
                .map(|c| CellView {
                    text: c.text(tr),
                    href: c.href().map(str::to_string),
                    num: c.numeric(),
                })
                .collect(),
        })
        .collect();
    let pages = ((table.total + table.per_page - 1) / table.per_page.max(1)).max(1);
    let page_href = |n: i64| format!("/{}?{}", kind.path(), with(&pairs, "page", &n.to_string()));
    let in_scope = users_in_scope(v, users);
    let mut owners = vec![Choice::new("", tr.t("form.choose"), true)];
    owners.extend(
        in_scope
            .iter()
            .map(|u| Choice::new(u.id.to_string(), u.display_name.clone(), false)),
    );
    let mut stages = vec![Choice::new("", tr.t("form.choose"), true)];
    if kind == ListKind::Opportunities {
        for p in v.ctx.dir.pipelines.iter().filter(|p| !p.archived) {
            for st in p.stages.iter().filter(|st| !st.archived) {
                stages.push(Choice::new(
                    st.id.to_string(),
                    format!("{} · {}", p.name, st.name(tr.lang)),
                    false,
                ));
            }
        }
    }
    let export = clean(params, &["page", "per_page", "view", "csrf"]);
    let export = encode_query(&export);
    let cols: Vec<String> = table.columns.iter().map(|c| c.key.clone()).collect();
    Ok((
        Results {
            kind: kind.path(),
            sort: if sort_now.is_empty() {
                String::new()
            } else {
                sort_now
            },
            query,
            head,
            rows,
            total_text: tr.fmt("lists.total", &[("n", &table.total.to_string())]),
            page_text: tr.fmt(
                "lists.page_of",
                &[("n", &table.page.to_string()), ("of", &pages.to_string())],
            ),
            prev: (table.page > 1).then(|| page_href(table.page - 1)),
            next: (table.page < pages).then(|| page_href(table.page + 1)),
            export_csv: format!("/{}/export.csv?{export}", kind.path()),
            export_xlsx: format!("/{}/export.xlsx?{export}", kind.path()),
            can_reassign: kind.reassignable(),
            can_tag: kind.has_tags(),
            can_move: kind == ListKind::Opportunities,
            owners,
            stages,
            report: vec![],
            bulk_error: None,
            view_name: String::new(),
            view_error: None,
        },
        table.all,
        cols,
    ))
}

pub(super) fn wants_fragment(headers: &HeaderMap) -> bool {
    headers
        .get("hx-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == "list-results")
}

pub(super) async fn page<T: Listed>(
    s: &AppState,
    v: &Viewer,
    params: &[(String, String)],
    fragment: bool,
    tweak: impl FnOnce(&mut Results),
) -> Result<Response, AppError> {
    let kind = T::KIND;
    let users = s.db.users().await?;
    let (mut r, all, cols) = results::<T>(s, v, params, &users).await?;
    tweak(&mut r);
    if fragment {
        return Ok(render(ResultsFragment {
            tr: v.tr,
            csrf: v.csrf.clone(),
            r,
        }));
    }
    let current_view: i64 = param(params, "view").parse().unwrap_or(0);
    let views =
        s.db.saved_views(v.user.id, Some(kind.path()))
            .await?
            .into_iter()
            .map(|sv: SavedView| ViewLink {
                href: format!("/{}?{}&view={}", kind.path(), sv.query, sv.id),
                current: sv.id == current_view,
                id: sv.id,
                name: sv.name,
            })
            .collect();
    let columns = all
        .iter()
        .map(|c| Choice::new(c.key.clone(), c.label.clone(), cols.contains(&c.key)))
        .collect();
    let section: &'static str = kind.path();
    let p = ListPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: format!("/{}?{}", kind.path(), r.query),
        nav: v.nav(section),
        title: kind_title(v.tr, kind),
        q: param(params, "q").to_string(),
        filtered: params.iter().any(|(k, v)| {
            !v.trim().is_empty()
                && !["q", "sort", "cols", "page", "per_page", "view"].contains(&k.as_str())
        }),
        filters: filters(v, kind, &users, params),
        columns,
        views,
        r,
        new_link: ["accounts", "contacts", "leads"]
            .contains(&kind.path())
            .then(|| {
                (
                    format!("/{}/new", kind.path()),
                    v.tr.t(&format!("form.new.{}", kind.path())).to_string(),
                )
            }),
    };
    Ok(render(p))
}

pub(super) async fn list_page<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}", T::KIND.path());
    match page::<T>(&s, &v, &params, wants_fragment(&headers), |_| {}).await {
        Ok(r) => r,
        // A filter the list cannot read: the list without it, and why.
        Err(e) if shown_in_form(&e) => {
            let (field, text) = error_text(v.tr, &e);
            let kept: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| *k != field)
                .cloned()
                .collect();
            let msg = format!("{field}: {text}");
            match page::<T>(&s, &v, &kept, wants_fragment(&headers), |r| {
                r.bulk_error = Some(msg)
            })
            .await
            {
                Ok(r) => (StatusCode::BAD_REQUEST, r).into_response(),
                Err(e) => v.error(&here, e),
            }
        }
        Err(e) => v.error(&here, e),
    }
}
