//! The list pages of every record kind (one implementation, driven by each kind's column
//! table in `ops::lists`): filters, sort, columns and page in the address, refreshed in place
//! with htmx; saved views; bulk changes with a report per record; exports of the view as CSV
//! and XLSX. Also the search page and the lead page, where a lead is qualified into account,
//! contact and opportunity, or disqualified with a reason.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use shangji_core::model::*;
use shangji_store::SavedView;

use super::opportunity::yuan_to_fen;
use super::{error_text, render, shown_in_form, Choice, Errors, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::{
    self, encode_query, BulkAction, ConvertInput, ConvertOpportunity, DisqualifyInput, ListKind,
    Listed, SearchResults,
};
use crate::state::AppState;

/// A filter of a list's form.
struct FilterField {
    name: String,
    label: String,
    /// `select`, `text` or `date`.
    input: &'static str,
    value: String,
    options: Vec<Choice>,
}

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

struct ReportLine {
    ok: bool,
    title: String,
    text: String,
}

/// The part of a list page that a filter, a sort, a page or a bulk change replaces.
struct Results {
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
    report: Vec<ReportLine>,
    bulk_error: Option<String>,
    view_name: String,
    view_error: Option<String>,
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

fn kind_title(tr: Tr, kind: ListKind) -> String {
    tr.t(&format!("nav.{}", kind.path())).to_string()
}

/// The pairs of a list's address, without blanks and the page's own keys.
fn clean(params: &[(String, String)], drop: &[&str]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, v)| !v.trim().is_empty() && !drop.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect()
}

fn with(pairs: &[(String, String)], key: &str, value: &str) -> String {
    let mut p: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != key).cloned().collect();
    p.push((key.to_string(), value.to_string()));
    encode_query(&p)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

fn options(tr: Tr, names: &[&str], prefix: Option<&str>, current: &str) -> Vec<Choice> {
    let mut v = vec![Choice::new("", tr.t("lists.any"), current.is_empty())];
    v.extend(names.iter().map(|n| {
        let label = match prefix {
            Some(p) => tr
                .get(&format!("{p}.{n}"))
                .map_or_else(|| n.to_string(), str::to_string),
            None => n.to_uppercase(),
        };
        Choice::new(*n, label, *n == current)
    }));
    v
}

fn users_in_scope(v: &Viewer, users: &[User]) -> Vec<User> {
    users
        .iter()
        .filter(|u| u.active && v.ctx.scope.covers(Some(u.id)))
        .cloned()
        .collect()
}

/// The filters of a kind's form, with what the address holds.
fn filters(
    v: &Viewer,
    kind: ListKind,
    users: &[User],
    params: &[(String, String)],
) -> Vec<FilterField> {
    let tr = v.tr;
    let field = |name: &str, input: &'static str, options: Vec<Choice>| FilterField {
        name: name.to_string(),
        label: tr.t(&format!("lists.f.{name}")).to_string(),
        input,
        value: param(params, name).to_string(),
        options,
    };
    let select = |name: &str, names: &[&str], prefix: Option<&str>| {
        field(
            name,
            "select",
            options(tr, names, prefix, param(params, name)),
        )
    };
    let mut out = Vec::new();
    let owner = param(params, "owner_id");
    let mut owners = vec![Choice::new("", tr.t("lists.any"), owner.is_empty())];
    owners.extend(users_in_scope(v, users).iter().map(|u| {
        Choice::new(
            u.id.to_string(),
            u.display_name.clone(),
            u.id.to_string() == owner,
        )
    }));
    let owner_label = match kind {
        ListKind::Activities => "author_id",
        ListKind::Tasks => "assignee_id",
        _ => "owner_id",
    };
    out.push(FilterField {
        label: tr.t(&format!("lists.f.{owner_label}")).to_string(),
        ..field("owner_id", "select", owners)
    });
    let yes_no = |name: &str| {
        let cur = param(params, name);
        field(
            name,
            "select",
            vec![
                Choice::new("", tr.t("lists.any"), cur.is_empty()),
                Choice::new("true", tr.t("value.yes"), cur == "true"),
                Choice::new("false", tr.t("value.no"), cur == "false"),
            ],
        )
    };
    match kind {
        ListKind::Opportunities => {
            let cur = param(params, "pipeline_id");
            let mut pipelines = vec![Choice::new("", tr.t("lists.any"), cur.is_empty())];
            let mut stages = vec![Choice::new(
                "",
                tr.t("lists.any"),
                param(params, "stage_id").is_empty(),
            )];
            for p in v.ctx.dir.pipelines.iter().filter(|p| !p.archived) {
                pipelines.push(Choice::new(
                    p.id.to_string(),
                    p.name.clone(),
                    p.id.to_string() == cur,
                ));
                for s in p.stages.iter().filter(|s| !s.archived) {
                    stages.push(Choice::new(
                        s.id.to_string(),
                        format!("{} · {}", p.name, s.name(tr.lang)),
                        s.id.to_string() == param(params, "stage_id"),
                    ));
                }
            }
            out.push(field("pipeline_id", "select", pipelines));
            out.push(field("stage_id", "select", stages));
            out.push(select("status", StageKind::NAMES, Some("kind")));
            out.push(select("grade", Grade::NAMES, None));
            out.push(select("source", Source::NAMES, Some("source")));
            out.push(field("tag", "text", vec![]));
            out.push(field("close_from", "date", vec![]));
            out.push(field("close_to", "date", vec![]));
        }
        ListKind::Accounts => {
            out.push(select("source", Source::NAMES, Some("source")));
            out.push(select("size", AccountSize::NAMES, Some("lists.size")));
            out.push(field("region", "text", vec![]));
            out.push(field("industry", "text", vec![]));
            out.push(field("tag", "text", vec![]));
        }
        ListKind::Contacts => {
            out.push(select("buying_role", BuyingRole::NAMES, Some("lists.role")));
        }
        ListKind::Leads => {
            out.push(select("status", LeadStatus::NAMES, Some("lists.lead")));
            out.push(select("source", Source::NAMES, Some("source")));
            out.push(field("region", "text", vec![]));
        }
        ListKind::Activities => {
            out.push(select("kind", ActivityType::NAMES, Some("lists.activity")));
            out.push(yes_no("customer_facing"));
        }
        ListKind::Tasks => {
            out.push(yes_no("done"));
            out.push(field("due_from", "date", vec![]));
            out.push(field("due_to", "date", vec![]));
        }
    }
    out.push(field("created_from", "date", vec![]));
    out.push(field("created_to", "date", vec![]));
    let custom_kind = match kind {
        ListKind::Opportunities => Some(RecordKind::Opportunity),
        ListKind::Accounts => Some(RecordKind::Account),
        ListKind::Contacts => Some(RecordKind::Contact),
        ListKind::Leads => Some(RecordKind::Lead),
        _ => None,
    };
    if let Some(ck) = custom_kind {
        for d in v.ctx.dir.custom_fields_of(ck).filter(|d| !d.archived) {
            let name = format!("cf.{}", d.key);
            let cur = param(params, &name).to_string();
            let label = if tr.is_zh() {
                d.label_zh.clone()
            } else {
                d.label_en.clone()
            };
            let label = if label.trim().is_empty() {
                d.key.clone()
            } else {
                label
            };
            let live: Vec<_> = d.options.iter().filter(|o| !o.archived).collect();
            let (input, opts) = if live.is_empty() {
                ("text", vec![])
            } else {
                let mut o = vec![Choice::new("", tr.t("lists.any"), cur.is_empty())];
                o.extend(live.iter().map(|opt| {
                    let l = if tr.is_zh() {
                        opt.value.clone()
                    } else {
                        opt.label_en.clone().unwrap_or_else(|| opt.value.clone())
                    };
                    Choice::new(opt.value.clone(), l, opt.value == cur)
                }));
                ("select", o)
            };
            out.push(FilterField {
                name,
                label,
                input,
                value: cur,
                options: opts,
            });
        }
    }
    out
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

fn wants_fragment(headers: &HeaderMap) -> bool {
    headers
        .get("hx-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == "list-results")
}

async fn page<T: Listed>(
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
    };
    Ok(render(p))
}

async fn list_page<T: Listed>(
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

async fn export_page<T: Listed>(
    s: AppState,
    v: Viewer,
    params: Vec<(String, String)>,
    format: lists::Format,
) -> Response {
    let here = format!("/{}", T::KIND.path());
    match lists::export::<T>(&s.db, &v.ctx, v.tr, &params, format).await {
        Ok(bytes) => match format {
            lists::Format::Xlsx => crate::download::xlsx_response(T::KIND.path(), bytes),
            lists::Format::Csv => (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}.csv\"", T::KIND.path()),
                    ),
                ],
                bytes,
            )
                .into_response(),
        },
        Err(e) => v.error(&here, e),
    }
}

async fn export_csv<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    export_page::<T>(s, v, params, lists::Format::Csv).await
}

async fn export_xlsx<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    export_page::<T>(s, v, params, lists::Format::Xlsx).await
}

/// The text of a refused change of one record, in the user's language (a refused move
/// names what its stage still needs).
fn refusal(tr: Tr, e: &AppError) -> String {
    match e {
        AppError::Unmet { missing, .. } => {
            let items: Vec<&str> = missing
                .iter()
                .map(|m| {
                    if tr.is_zh() {
                        m.label_zh.as_str()
                    } else {
                        m.label_en.as_str()
                    }
                })
                .collect();
            format!("{}: {}", error_text(tr, e).1, items.join(tr.t("list.sep")))
        }
        AppError::AwaitingApproval(_) => tr.t("lists.bulk.awaiting").to_string(),
        e => error_text(tr, e).1,
    }
}

async fn bulk_submit<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let kind = T::KIND;
    let here = format!("/{}", kind.path());
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let params = lists::parse_query(f.get("query"));
    let ids: Vec<i64> = f.all("ids").iter().filter_map(|i| i.parse().ok()).collect();
    let tr = v.tr;
    let action = match f.get("action") {
        "reassign" => f.text("to_owner").parse().ok().map(BulkAction::Reassign),
        "tag" => Some(BulkAction::AddTag(f.text("tag"))),
        "move" => f.text("to_stage").parse().ok().map(BulkAction::Move),
        _ => None,
    };
    let outcome = match action {
        None => Err(AppError::invalid("action", "required", "choose what to do")),
        Some(a) => lists::bulk(&s.db, &v.ctx, kind, &ids, &a).await,
    };
    let (report, error, status) = match outcome {
        Ok(done) => {
            let refused = done
                .iter()
                .filter(|o| matches!(o.result, Err(ref e) if !matches!(e, AppError::AwaitingApproval(_))))
                .count();
            let lines = done
                .iter()
                .map(|o| ReportLine {
                    // A move now waiting for approval went as far as it can.
                    ok: matches!(o.result, Ok(()) | Err(AppError::AwaitingApproval(_))),
                    title: o.title.clone(),
                    text: match &o.result {
                        Ok(()) => tr.t("lists.bulk.done").to_string(),
                        Err(e) => refusal(tr, e),
                    },
                })
                .collect();
            let status = if refused > 0 && refused == done.len() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (lines, None, status)
        }
        Err(e) if shown_in_form(&e) => {
            let text = match &e {
                AppError::Invalid(fe) if fe.field == "action" => {
                    tr.t("lists.bulk.choose").to_string()
                }
                AppError::Invalid(fe) if fe.field == "ids" && fe.code == "required" => {
                    tr.t("lists.bulk.none").to_string()
                }
                e => error_text(tr, e).1,
            };
            (vec![], Some(text), e.status())
        }
        Err(e) => return v.error(&here, e),
    };
    match page::<T>(&s, &v, &params, wants_fragment(&headers), |r| {
        r.report = report;
        r.bulk_error = error;
    })
    .await
    {
        Ok(r) => (status, r).into_response(),
        Err(e) => v.error(&here, e),
    }
}

async fn save_view<T: Listed>(
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

async fn delete_view<T: Listed>(
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

fn list_routes<T: Listed>() -> Router<AppState> {
    let base = format!("/{}", T::KIND.path());
    Router::new()
        .route(&base, get(list_page::<T>))
        .route(&format!("{base}/export.csv"), get(export_csv::<T>))
        .route(&format!("{base}/export.xlsx"), get(export_xlsx::<T>))
        .route(&format!("{base}/bulk"), post(bulk_submit::<T>))
        .route(&format!("{base}/views"), post(save_view::<T>))
        .route(
            &format!("{base}/views/{{id}}/delete"),
            post(delete_view::<T>),
        )
}

// ---- Search. ----

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
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<SearchQuery>,
) -> Response {
    let here = format!("/search?q={}", super::urlencode(&q.q));
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

// ---- The lead page: qualify or disqualify. ----

/// What the qualification form holds (as typed, kept when refused).
#[derive(Default)]
struct ConvertForm {
    /// `new`, or the id of an existing account.
    account: String,
    account_name: String,
    credit_code: String,
    contact_name: String,
    with_opp: bool,
    opp_title: String,
    opp_amount: String,
    opp_pipeline: String,
    opp_close: String,
}

struct Fact {
    label: String,
    value: String,
}

struct OutcomeView {
    qualified: bool,
    who: String,
    when: String,
    reason: String,
    links: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "lists_lead.html")]
struct LeadPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    version: i64,
    title: String,
    status: &'static str,
    status_label: String,
    open: bool,
    facts: Vec<Fact>,
    outcomes: Vec<OutcomeView>,
    matches: Vec<Choice>,
    pipelines: Vec<Choice>,
    form: ConvertForm,
    reason: String,
    errors: Errors,
    notice: Option<String>,
}

async fn lead_page(
    s: &AppState,
    v: &Viewer,
    id: i64,
    form: Option<ConvertForm>,
    reason: String,
    errors: Errors,
) -> Result<LeadPage, AppError> {
    let tr = v.tr;
    let lead = crate::ops::get::<Lead>(&s.db, &v.ctx, id).await?;
    let users = s.db.users().await?;
    let user = |id: Option<i64>| {
        id.and_then(|id| users.iter().find(|u| u.id == id))
            .map_or_else(
                || tr.t("lists.pool").to_string(),
                |u| u.display_name.clone(),
            )
    };
    let txt = |v: &Option<String>| v.clone().unwrap_or_default();
    let facts = [
        ("company_name", txt(&lead.company_name)),
        ("contact_name", txt(&lead.contact_name)),
        ("mobile", txt(&lead.mobile)),
        ("email", txt(&lead.email)),
        ("wechat", txt(&lead.wechat)),
        ("job_title", txt(&lead.title)),
        ("region", txt(&lead.region)),
        ("industry", txt(&lead.industry)),
        (
            "source",
            lead.source
                .map(|s| tr.t(&format!("source.{}", s.as_str())).to_string())
                .unwrap_or_default(),
        ),
        ("owner", user(lead.owner_id)),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, value)| Fact {
        label: tr.t(&format!("lists.col.{k}")).to_string(),
        value,
    })
    .collect();
    let outcomes =
        s.db.lead_outcomes(id)
            .await?
            .into_iter()
            .map(|o| {
                let mut links = vec![];
                if let Some(a) = o.account_id {
                    links.push((
                        tr.t("lists.kind.account").to_string(),
                        format!("/accounts/{a}"),
                    ));
                }
                if let Some(c) = o.contact_id {
                    links.push((
                        tr.t("lists.kind.contact").to_string(),
                        format!("/contacts/{c}"),
                    ));
                }
                if let Some(op) = o.opportunity_id {
                    links.push((
                        tr.t("lists.kind.opportunity").to_string(),
                        format!("/opportunities/{op}"),
                    ));
                }
                OutcomeView {
                    qualified: o.outcome == "qualified",
                    who: user(Some(o.actor_id)),
                    when: tr.datetime(o.at),
                    reason: o.reason.unwrap_or_default(),
                    links,
                }
            })
            .collect();
    let open = matches!(lead.status, LeadStatus::New | LeadStatus::Working);
    let form = form.unwrap_or_else(|| ConvertForm {
        account: String::new(),
        account_name: lead.company_name.clone().unwrap_or_default(),
        contact_name: lead.contact_name.clone().unwrap_or_default(),
        opp_title: lead.company_name.clone().unwrap_or_default(),
        ..Default::default()
    });
    let found = if open {
        lists::matching_accounts(
            &s.db,
            &v.ctx,
            Some(form.account_name.as_str())
                .filter(|n| !n.is_empty())
                .or(lead.company_name.as_deref()),
            Some(form.credit_code.as_str()),
        )
        .await?
    } else {
        vec![]
    };
    // A matching account is offered first; creating a new one stays a choice.
    let chosen = if form.account.is_empty() {
        found
            .first()
            .map_or_else(|| "new".to_string(), |a| a.id.to_string())
    } else {
        form.account.clone()
    };
    let mut matches: Vec<Choice> = found
        .iter()
        .map(|a| {
            let detail = a
                .credit_code
                .clone()
                .map(|c| format!(" · {c}"))
                .unwrap_or_default();
            Choice::new(
                a.id.to_string(),
                format!("{}{detail}", a.name),
                chosen == a.id.to_string(),
            )
        })
        .collect();
    matches.push(Choice::new(
        "new",
        tr.t("lists.convert.new_account"),
        chosen == "new",
    ));
    let pipelines = v
        .ctx
        .dir
        .pipelines
        .iter()
        .filter(|p| !p.archived)
        .map(|p| {
            let sel = if form.opp_pipeline.is_empty() {
                p.is_default
            } else {
                form.opp_pipeline == p.id.to_string()
            };
            Choice::new(p.id.to_string(), p.name.clone(), sel)
        })
        .collect();
    let title = lists::Listed::title(&lead);
    Ok(LeadPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/leads/{id}"),
        nav: v.nav("leads"),
        id,
        version: lead.version,
        title,
        status: lead.status.as_str(),
        status_label: tr
            .t(&format!("lists.lead.{}", lead.status.as_str()))
            .to_string(),
        open,
        facts,
        outcomes,
        matches,
        pipelines,
        form: ConvertForm {
            account: chosen,
            ..form
        },
        reason,
        errors,
        notice: None,
    })
}

#[derive(Debug, serde::Deserialize)]
struct LeadQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn lead_show(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<LeadQuery>,
) -> Response {
    match lead_page(&s, &v, id, None, String::new(), Errors::default()).await {
        Ok(mut p) => {
            p.notice = match q.done.as_deref() {
                Some("qualified") => Some(v.tr.t("lists.convert.done").to_string()),
                Some("disqualified") => Some(v.tr.t("lists.disqualify.done").to_string()),
                _ => None,
            };
            render(p)
        }
        Err(e) => v.error(&format!("/leads/{id}"), e),
    }
}

/// Where an error of the qualification is shown.
fn convert_field(field: &str) -> &'static str {
    match field {
        "account_id" => "account",
        "account_name" | "account.name" => "account_name",
        "credit_code" | "account.credit_code" => "credit_code",
        "contact_name" => "contact_name",
        "opportunity.title" => "opp_title",
        "opportunity.amount_minor" | "opportunity.currency" => "opp_amount",
        "opportunity.pipeline_id" => "opp_pipeline",
        "opportunity.close_date" => "opp_close",
        _ => "convert",
    }
}

async fn convert_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/leads/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let tr = v.tr;
    let form = ConvertForm {
        account: f.text("account"),
        account_name: f.text("account_name"),
        credit_code: f.text("credit_code"),
        contact_name: f.text("contact_name"),
        with_opp: f.has("with_opp", "1"),
        opp_title: f.text("opp_title"),
        opp_amount: f.text("opp_amount"),
        opp_pipeline: f.text("opp_pipeline"),
        opp_close: f.text("opp_close"),
    };
    let mut errors = Errors::default();
    let mut opportunity = None;
    if form.with_opp {
        let amount = if form.opp_amount.is_empty() {
            None
        } else {
            match yuan_to_fen(&form.opp_amount) {
                Some(a) => Some(a),
                None => {
                    errors.add("opp_amount", tr.t("err.invalid_amount"));
                    None
                }
            }
        };
        let close_date = if form.opp_close.is_empty() {
            None
        } else {
            match time::Date::parse(
                &form.opp_close,
                &time::format_description::well_known::Iso8601::DATE,
            ) {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.add("opp_close", tr.t("err.invalid_date"));
                    None
                }
            }
        };
        if form.opp_title.is_empty() {
            errors.add("opp_title", tr.t("err.required"));
        }
        opportunity = Some(ConvertOpportunity {
            title: form.opp_title.clone(),
            amount_minor: amount,
            currency: None,
            pipeline_id: form.opp_pipeline.parse().ok(),
            close_date,
        });
    }
    let result = if errors.is_empty() {
        let input = ConvertInput {
            version: f.text("version").parse().ok(),
            account_id: form.account.parse().ok(),
            account_name: Some(form.account_name.clone()),
            credit_code: Some(form.credit_code.clone()),
            contact_name: Some(form.contact_name.clone()),
            opportunity,
        };
        lists::convert_lead(&s.db, &v.ctx, id, input)
            .await
            .map(|_| ())
    } else {
        Err(AppError::invalid("", "invalid_value", "see the fields"))
    };
    let e = match result {
        Ok(()) => return Redirect::to(&format!("{here}?done=qualified")).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    if errors.is_empty() {
        let (field, text) = error_text(tr, &e);
        errors.add(convert_field(&field), text);
    }
    match lead_page(&s, &v, id, Some(form), String::new(), errors).await {
        Ok(p) => (e.status(), render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}

async fn disqualify_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/leads/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let input = DisqualifyInput {
        reason: f.get("reason").to_string(),
        version: f.text("version").parse().ok(),
    };
    let e = match lists::disqualify_lead(&s.db, &v.ctx, id, input).await {
        Ok(_) => return Redirect::to(&format!("{here}?done=disqualified")).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let mut errors = Errors::default();
    let (field, text) = error_text(v.tr, &e);
    errors.add(
        if field == "reason" {
            "reason"
        } else {
            "disqualify"
        },
        text,
    );
    match lead_page(&s, &v, id, None, f.get("reason").to_string(), errors).await {
        Ok(p) => (e.status(), render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(list_routes::<Opportunity>())
        .merge(list_routes::<Account>())
        .merge(list_routes::<Contact>())
        .merge(list_routes::<Lead>())
        .merge(list_routes::<Activity>())
        .merge(list_routes::<Task>())
        .route("/search", get(search_page))
        .route("/leads/{id}", get(lead_show))
        .route("/leads/{id}/convert", post(convert_submit))
        .route("/leads/{id}/disqualify", post(disqualify_submit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::lists::Column;

    /// Labels made from keys at run time (columns, filters, closed sets) exist in both
    /// languages.
    #[test]
    fn every_generated_label_is_translated() {
        let columns: [&[Column]; 6] = [
            <Opportunity as Listed>::COLUMNS,
            <Account as Listed>::COLUMNS,
            <Contact as Listed>::COLUMNS,
            <Lead as Listed>::COLUMNS,
            <Activity as Listed>::COLUMNS,
            <Task as Listed>::COLUMNS,
        ];
        let filters = [
            "q",
            "owner_id",
            "author_id",
            "assignee_id",
            "pipeline_id",
            "stage_id",
            "status",
            "grade",
            "source",
            "tag",
            "close_from",
            "close_to",
            "size",
            "region",
            "industry",
            "buying_role",
            "kind",
            "customer_facing",
            "done",
            "due_from",
            "due_to",
            "created_from",
            "created_to",
        ];
        let sets: [(&str, &[&str]); 8] = [
            ("lists.size", AccountSize::NAMES),
            ("lists.role", BuyingRole::NAMES),
            ("lists.lead", LeadStatus::NAMES),
            ("lists.activity", ActivityType::NAMES),
            ("lists.kind", RecordKind::NAMES),
            ("source", Source::NAMES),
            ("kind", StageKind::NAMES),
            ("forecast", ForecastCategory::NAMES),
        ];
        for lang in [Language::ZhCn, Language::En] {
            let tr = Tr::new(lang);
            for c in columns.iter().flat_map(|c| c.iter()) {
                assert!(
                    tr.get(&format!("lists.col.{}", c.label)).is_some(),
                    "{}",
                    c.label
                );
            }
            for f in filters {
                assert!(tr.get(&format!("lists.f.{f}")).is_some(), "{f}");
            }
            for (prefix, names) in sets {
                for n in names {
                    assert!(tr.get(&format!("{prefix}.{n}")).is_some(), "{prefix}.{n}");
                }
            }
            for k in ListKind::ALL {
                assert!(tr.get(&format!("nav.{}", k.path())).is_some());
            }
        }
    }

    #[test]
    fn a_sort_link_replaces_the_sort_and_keeps_the_filters() {
        let pairs = vec![
            ("status".to_string(), "open".to_string()),
            ("sort".to_string(), "title".to_string()),
        ];
        assert_eq!(with(&pairs, "sort", "-title"), "status=open&sort=-title");
        let cleaned = clean(
            &[
                ("q".into(), " ".into()),
                ("page".into(), "2".into()),
                ("owner_id".into(), "3".into()),
            ],
            &["page"],
        );
        assert_eq!(cleaned, vec![("owner_id".to_string(), "3".to_string())]);
    }
}
