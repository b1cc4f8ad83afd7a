//! Duplicates on the pages: the admin's duplicate settings (per kind: warn, block, or send to
//! the manager; a credit code in use), and the manager's list of duplicates sent to them —
//! keep both, archive the new record, or merge the two (`ops::duplicates`).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use shangji_core::duplicates::{DuplicatePolicy, DuplicateSettings, ReviewStatus};
use shangji_core::model::RecordKind;

use super::{error_text, render, Choice, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::duplicates::{self, DecideReview, ReviewDecision, ReviewView};
use crate::state::AppState;

const SETTINGS: &str = "/admin/duplicates";
const REVIEWS: &str = "/duplicates/reviews";

/// The path of a record kind's pages.
fn kind_path(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Account => "accounts",
        RecordKind::Contact => "contacts",
        RecordKind::Lead => "leads",
        RecordKind::Opportunity => "opportunities",
    }
}

/// One select of the settings form: (field, label, options).
struct PolicyRow {
    field: &'static str,
    label: String,
    options: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin_duplicates.html")]
struct SettingsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    rows: Vec<PolicyRow>,
    saved: bool,
    error: Option<String>,
}

fn settings_page(
    v: &Viewer,
    s: &DuplicateSettings,
    saved: bool,
    error: Option<String>,
) -> SettingsPage {
    let tr = v.tr;
    let row =
        |field: &'static str, policy: DuplicatePolicy, allowed: &[DuplicatePolicy]| PolicyRow {
            field,
            label: tr.t(&format!("dupe.setting.{field}")).to_string(),
            options: allowed
                .iter()
                .map(|p| {
                    Choice::new(
                        p.as_str(),
                        tr.t(&format!("dupe.policy.{}", p.as_str())),
                        *p == policy,
                    )
                })
                .collect(),
        };
    let all = [
        DuplicatePolicy::Warn,
        DuplicatePolicy::Review,
        DuplicatePolicy::Block,
    ];
    SettingsPage {
        tr,
        csrf: v.csrf.clone(),
        here: SETTINGS.into(),
        nav: v.nav("settings"),
        tab: "duplicates",
        rows: vec![
            row("account", s.account, &all),
            row("contact", s.contact, &all),
            row("lead", s.lead, &all),
            row(
                "credit_code",
                s.credit_code,
                &[DuplicatePolicy::Block, DuplicatePolicy::Warn],
            ),
        ],
        saved,
        error,
    }
}

#[derive(serde::Deserialize)]
struct SavedQuery {
    saved: Option<i64>,
}

async fn settings(State(s): State<AppState>, v: Viewer, Query(q): Query<SavedQuery>) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error(SETTINGS, e);
    }
    match duplicates::settings(&s.db).await {
        Ok(d) => render(settings_page(&v, &d, q.saved.is_some(), None)),
        Err(e) => v.error(SETTINGS, e),
    }
}

async fn save_settings(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, SETTINGS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let policy = |k: &str| form.get(k).parse::<DuplicatePolicy>();
    let input = match (
        policy("account"),
        policy("contact"),
        policy("lead"),
        policy("credit_code"),
    ) {
        (Ok(account), Ok(contact), Ok(lead), Ok(credit_code)) => DuplicateSettings {
            account,
            contact,
            lead,
            credit_code,
        },
        _ => {
            let current = duplicates::settings(&s.db).await.unwrap_or_default();
            let text = v.tr.t("err.invalid_value").to_string();
            return render(settings_page(&v, &current, false, Some(text)));
        }
    };
    match duplicates::save_settings(&s.db, &v.ctx, input.clone()).await {
        Ok(_) => Redirect::to(&format!("{SETTINGS}?saved=1")).into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::InvalidMany(_))) => {
            let (_, text) = error_text(v.tr, &e);
            render(settings_page(&v, &input, false, Some(text)))
        }
        Err(e) => v.error(SETTINGS, e),
    }
}

// ---- The manager's reviews. ----

/// A matched record as the manager may see it.
struct MatchRow {
    /// Its page and the merge page for the two, when the manager can read it.
    link: Option<(String, String)>,
    text: String,
}

struct ReviewRow {
    id: i64,
    link: String,
    name: String,
    kind: String,
    who: String,
    when: String,
    matches: Vec<MatchRow>,
    outcome: String,
}

#[derive(Template)]
#[template(path = "duplicate_reviews.html")]
struct ReviewsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    pending: Vec<ReviewRow>,
    decided: Vec<ReviewRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn review_row(tr: Tr, r: &ReviewView) -> ReviewRow {
    let kind = kind_path(r.review.record_kind);
    let id = r.review.record_id;
    ReviewRow {
        id: r.review.id,
        link: format!("/{kind}/{id}"),
        name: r.name.clone(),
        kind: tr
            .t(&format!("lists.kind.{}", r.review.record_kind.as_str()))
            .to_string(),
        who: r.requested_by_name.clone(),
        when: tr.datetime(r.review.requested_at),
        matches: r
            .matches
            .iter()
            .map(|m| {
                let on = tr
                    .t(&format!("dup.on.{}", m.matched_on.as_str()))
                    .to_string();
                let owner = m
                    .owner_name
                    .clone()
                    .unwrap_or_else(|| tr.t("dup.no_owner").to_string());
                match (m.id, &m.name) {
                    (Some(other), Some(name)) => MatchRow {
                        link: (m.record_kind == r.review.record_kind).then(|| {
                            (
                                format!("/{}/{other}", kind_path(m.record_kind)),
                                format!("/{kind}/{other}/merge?with={id}"),
                            )
                        }),
                        text: format!("{name} · {on} · {owner}"),
                    },
                    _ => MatchRow {
                        link: None,
                        text: format!("{} · {on} · {owner}", tr.t("dup.hidden")),
                    },
                }
            })
            .collect(),
        outcome: tr
            .t(&format!("dupe.status.{}", r.review.status.as_str()))
            .to_string(),
    }
}

async fn reviews_page(
    s: &AppState,
    v: &Viewer,
    notice: Option<String>,
    error: Option<String>,
) -> Result<ReviewsPage, AppError> {
    let all = duplicates::reviews(&s.db, &v.ctx, false).await?;
    let (pending, decided): (Vec<&ReviewView>, Vec<&ReviewView>) = all
        .iter()
        .partition(|r| r.review.status == ReviewStatus::Pending);
    Ok(ReviewsPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: REVIEWS.into(),
        nav: v.nav("approvals"),
        pending: pending.iter().map(|r| review_row(v.tr, r)).collect(),
        decided: decided.iter().map(|r| review_row(v.tr, r)).collect(),
        notice,
        error,
    })
}

#[derive(serde::Deserialize)]
struct DecidedQuery {
    decided: Option<i64>,
}

async fn reviews(State(s): State<AppState>, v: Viewer, Query(q): Query<DecidedQuery>) -> Response {
    let notice = q.decided.map(|_| v.tr.t("dupe.decided").to_string());
    match reviews_page(&s, &v, notice, None).await {
        Ok(p) => render(p),
        Err(e) => v.error(REVIEWS, e),
    }
}

async fn decide(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(f, REVIEWS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let decision = match form.get("decision") {
        "archive" => ReviewDecision::Archive,
        _ => ReviewDecision::Keep,
    };
    let note = form.text("note");
    let input = DecideReview {
        decision,
        note: (!note.trim().is_empty()).then_some(note),
    };
    match duplicates::decide_review(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!("{REVIEWS}?decided={id}")).into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::InvalidMany(_))) => {
            let (_, text) = error_text(v.tr, &e);
            match reviews_page(&s, &v, None, Some(text)).await {
                Ok(p) => render(p),
                Err(e) => v.error(REVIEWS, e),
            }
        }
        Err(e) => v.error(REVIEWS, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(SETTINGS, get(settings).post(save_settings))
        .route(REVIEWS, get(reviews))
        .route("/duplicates/reviews/{id}", post(decide))
}
