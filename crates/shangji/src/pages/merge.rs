//! Merging duplicates on the pages: from an account, a contact or a lead, pick the record to
//! merge into it (its likely duplicates are offered), compare the two field by field and pick
//! each value, then merge (`ops::merge`). Admins read every merge at `/admin/merges`.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use shangji_core::merge::{self as core_merge, MergeInput};
use shangji_core::model::*;

use super::records::form::{in_words, Editable};
use super::{error_text, render, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::Listed;
use crate::ops::merge::{self, Mergeable};
use crate::state::AppState;

/// A likely duplicate offered to merge.
struct Candidate {
    id: i64,
    name: String,
    why: String,
}

/// A field whose values differ.
struct Row {
    key: &'static str,
    label: String,
    mine: String,
    theirs: String,
    take: bool,
}

#[derive(Template)]
#[template(path = "merge_page.html")]
struct MergePage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    kind_label: String,
    back: String,
    name: String,
    action: String,
    /// Choosing the other record.
    candidates: Vec<Candidate>,
    /// Comparing: the other record, the differing fields, the survivor's version.
    other: Option<(i64, String, String)>,
    rows: Vec<Row>,
    version: i64,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WithQuery {
    with: Option<String>,
}

fn title_of<T: Listed>(r: &T) -> String {
    r.title()
}

async fn page<T: Editable + Mergeable>(
    s: &AppState,
    v: &Viewer,
    id: i64,
    with: Option<i64>,
    error: Option<String>,
) -> Result<MergePage, AppError> {
    let tr = v.tr;
    let base = format!("/{}/{id}", T::path());
    let record = crate::ops::get::<T>(&s.db, &v.ctx, id).await?;
    let mut page = MergePage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{base}/merge"),
        nav: v.nav("home"),
        kind_label: tr
            .t(&format!("lists.kind.{}", T::RECORD_KIND.as_str()))
            .to_string(),
        back: base.clone(),
        name: title_of(&record),
        action: format!("{base}/merge"),
        candidates: vec![],
        other: None,
        rows: vec![],
        version: record.version(),
        error,
    };
    let Some(other_id) = with else {
        if let Some(keys) = record.match_keys() {
            for m in crate::ops::duplicates::find(&s.db, &v.ctx, &keys).await? {
                if let (true, Some(mid), Some(name)) =
                    (m.record_kind == T::RECORD_KIND, m.id, m.name)
                {
                    page.candidates.push(Candidate {
                        id: mid,
                        name,
                        why: tr
                            .t(&format!("dup.on.{}", m.matched_on.as_str()))
                            .to_string(),
                    });
                }
            }
        }
        return Ok(page);
    };
    let (survivor, other) = merge::pair::<T>(&s.db, &v.ctx, id, other_id).await?;
    let users = s.db.users().await?;
    let (mine, theirs) = (
        serde_json::to_value(&survivor).map_err(|e| AppError::Internal(e.to_string()))?,
        serde_json::to_value(&other).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    let ids: Vec<i64> = [&mine, &theirs]
        .iter()
        .filter_map(|j| j.get("account_id").and_then(|v| v.as_i64()))
        .collect();
    let names = s.db.account_names(&ids).await?;
    let account = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    for (key, take) in core_merge::differences(T::RECORD_KIND, &mine, &theirs) {
        let null = serde_json::Value::Null;
        let (Some((label, a)), Some((_, b))) = (
            in_words::<T>(tr, key, mine.get(key).unwrap_or(&null), &users, &account),
            in_words::<T>(tr, key, theirs.get(key).unwrap_or(&null), &users, &account),
        ) else {
            continue;
        };
        page.rows.push(Row {
            key,
            label,
            mine: a,
            theirs: b,
            take,
        });
    }
    page.other = Some((
        other_id,
        title_of(&other),
        format!("/{}/{other_id}", T::path()),
    ));
    Ok(page)
}

async fn show<T: Editable + Mergeable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<WithQuery>,
) -> Response {
    let here = format!("/{}/{id}/merge", T::path());
    let with = q.with.as_deref().map(str::trim).filter(|w| !w.is_empty());
    let parsed = match with.map(str::parse::<i64>) {
        Some(Err(_)) => return v.error(&here, AppError::NotFound),
        Some(Ok(n)) => Some(n),
        None => None,
    };
    match page::<T>(&s, &v, id, parsed, None).await {
        Ok(p) => render(p),
        Err(e @ (AppError::Invalid(_) | AppError::Forbidden(_))) if parsed.is_some() => {
            // The other record cannot be merged: say why on the picker.
            let text = error_text(v.tr, &e).1;
            match page::<T>(&s, &v, id, None, Some(text)).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
                Err(e) => v.error(&here, e),
            }
        }
        Err(e) => v.error(&here, e),
    }
}

async fn submit<T: Editable + Mergeable>(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/{}/{id}/merge", T::path());
    let form = match v.posted(form, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Ok(merged_id) = form.text("merged_id").parse::<i64>() else {
        return v.error(&here, AppError::NotFound);
    };
    let input = MergeInput {
        merged_id,
        take: core_merge::fields(T::RECORD_KIND)
            .iter()
            .filter(|f| form.get(&format!("pick_{f}")) == "theirs")
            .map(|f| f.to_string())
            .collect(),
        version: form.text("version").parse().ok(),
    };
    match merge::merge::<T>(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!("/{}/{id}?merged=1", T::path())).into_response(),
        Err(e) if super::shown_in_form(&e) => {
            let text = error_text(v.tr, &e).1;
            match page::<T>(&s, &v, id, Some(merged_id), Some(text)).await {
                Ok(p) => (StatusCode::CONFLICT, render(p)).into_response(),
                Err(e) => v.error(&here, e),
            }
        }
        Err(e) => v.error(&here, e),
    }
}

/// The merges a record took part in, in words with a link to the other record: shown on its
/// page (the merge is an event of both).
pub(crate) async fn notes<T: Mergeable>(
    s: &AppState,
    v: &Viewer,
    id: i64,
    path: &str,
) -> Result<Vec<(String, String)>, AppError> {
    let merges = merge::merges_of::<T>(&s.db, &v.ctx, id).await?;
    if merges.is_empty() {
        return Ok(vec![]);
    }
    let users = s.db.users().await?;
    let tr = v.tr;
    Ok(merges
        .into_iter()
        .map(|m| {
            let who = users
                .iter()
                .find(|u| u.id == m.actor_id)
                .map_or_else(|| m.actor_id.to_string(), |u| u.display_name.clone());
            let (key, other) = if m.merged_id == id {
                ("merge.note.into", m.survivor_id)
            } else {
                ("merge.note.took", m.merged_id)
            };
            let text = tr
                .t(key)
                .replace("{id}", &other.to_string())
                .replace("{who}", &who)
                .replace("{when}", &tr.datetime(m.at));
            (text, format!("/{path}/{other}"))
        })
        .collect())
}

struct LogRow {
    at: String,
    who: String,
    kind: String,
    survivor: (String, String),
    merged: String,
    taken: String,
}

#[derive(Template)]
#[template(path = "admin_merges.html")]
struct LogPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<LogRow>,
}

async fn log_page(State(s): State<AppState>, v: Viewer) -> Response {
    let rows = async {
        let merges = merge::log(&s.db, &v.ctx).await?;
        let users = s.db.users().await?;
        let tr = v.tr;
        Ok::<_, AppError>(
            merges
                .into_iter()
                .map(|m| {
                    let kind = m.record_kind.as_str();
                    let path = match m.record_kind {
                        RecordKind::Account => "accounts",
                        RecordKind::Contact => "contacts",
                        _ => "leads",
                    };
                    let name = |j: &serde_json::Value| {
                        ["name", "company_name", "contact_name"]
                            .iter()
                            .find_map(|k| j.get(*k).and_then(|v| v.as_str()).map(str::to_string))
                            .unwrap_or_else(|| format!("#{}", m.merged_id))
                    };
                    LogRow {
                        at: tr.datetime(m.at),
                        who: users
                            .iter()
                            .find(|u| u.id == m.actor_id)
                            .map_or_else(|| m.actor_id.to_string(), |u| u.display_name.clone()),
                        kind: tr.t(&format!("lists.kind.{kind}")).to_string(),
                        survivor: (
                            format!("#{}", m.survivor_id),
                            format!("/{path}/{}", m.survivor_id),
                        ),
                        merged: format!("{} (#{})", name(&m.merged), m.merged_id),
                        taken: m.taken.join(", "),
                    }
                })
                .collect::<Vec<_>>(),
        )
    };
    match rows.await {
        Ok(rows) => render(LogPage {
            tr: v.tr,
            csrf: v.csrf.clone(),
            here: "/admin/merges".into(),
            nav: v.nav("settings"),
            tab: "merges",
            rows,
        }),
        Err(e) => v.error("/admin/merges", e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/accounts/{id}/merge",
            get(show::<Account>).post(submit::<Account>),
        )
        .route(
            "/contacts/{id}/merge",
            get(show::<Contact>).post(submit::<Contact>),
        )
        .route("/leads/{id}/merge", get(show::<Lead>).post(submit::<Lead>))
        .route("/admin/merges", get(log_page))
}
