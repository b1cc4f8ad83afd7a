//! Handover on the pages: from a user's page (Settings → Users → the user) or the list of
//! handovers, choose the receivers and how to split, preview the counts per receiver and
//! kind, run it (`ops::handover`); the report shows each receiver's inherited deals and
//! whether they were followed up since.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use shangji_core::handover::{HandoverCount, HandoverInput, HandoverKind, HandoverMethod};
use shangji_core::model::*;
use shangji_core::Money;

use super::{error_text, render, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::handover;
use crate::state::AppState;

/// A user who may receive, and whether they are chosen.
struct Receiver {
    id: UserId,
    name: String,
    chosen: bool,
}

/// One receiver's line of the preview or the counts: a number per kind.
struct CountRow {
    name: String,
    cells: Vec<i64>,
}

#[derive(Template)]
#[template(path = "handover_new.html")]
struct NewPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    from_id: UserId,
    from_name: String,
    receivers: Vec<Receiver>,
    method: &'static str,
    methods: Vec<(&'static str, String)>,
    may_deactivate: bool,
    deactivate: bool,
    kinds: Vec<String>,
    /// The preview, once asked for.
    preview: Option<Vec<CountRow>>,
    error: Option<String>,
}

fn name_of(users: &[User], id: UserId) -> String {
    users
        .iter()
        .find(|u| u.id == id)
        .map_or_else(|| format!("#{id}"), |u| u.display_name.clone())
}

fn kind_labels(tr: Tr) -> Vec<String> {
    HandoverKind::ALL
        .iter()
        .map(|k| tr.t(&format!("handover.kind.{}", k.as_str())).to_string())
        .collect()
}

/// Counts as a table: a row per receiver, a column per kind.
fn count_rows(users: &[User], counts: &[HandoverCount]) -> Vec<CountRow> {
    let mut rows: Vec<(UserId, CountRow)> = Vec::new();
    for c in counts {
        let i = match rows.iter().position(|(u, _)| *u == c.to_user_id) {
            Some(i) => i,
            None => {
                rows.push((
                    c.to_user_id,
                    CountRow {
                        name: name_of(users, c.to_user_id),
                        cells: vec![0; HandoverKind::ALL.len()],
                    },
                ));
                rows.len() - 1
            }
        };
        if let Some(k) = HandoverKind::ALL.iter().position(|k| *k == c.kind) {
            rows[i].1.cells[k] += c.count;
        }
    }
    rows.into_iter().map(|(_, r)| r).collect()
}

#[derive(Debug, Deserialize)]
struct FromQuery {
    from: Option<i64>,
}

async fn new_page(
    s: &AppState,
    v: &Viewer,
    input: &HandoverInput,
    preview: Option<Vec<HandoverCount>>,
    error: Option<String>,
) -> Result<NewPage, AppError> {
    let tr = v.tr;
    let leaver = handover::leaver(&s.db, &v.ctx, input.from_user_id).await?;
    let users = s.db.users().await?;
    let receivers = handover::receivers(&s.db, &v.ctx, leaver.id)
        .await?
        .into_iter()
        .map(|u| Receiver {
            chosen: input.receivers.contains(&u.id),
            id: u.id,
            name: format!("{} ({})", u.display_name, u.login),
        })
        .collect();
    Ok(NewPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/handovers/new?from={}", leaver.id),
        nav: v.nav("settings"),
        from_id: leaver.id,
        from_name: format!("{} ({})", leaver.display_name, leaver.login),
        receivers,
        method: input.method.as_str(),
        methods: HandoverMethod::ALL
            .iter()
            .map(|m| {
                (
                    m.as_str(),
                    tr.t(&format!("handover.method.{}", m.as_str())).to_string(),
                )
            })
            .collect(),
        may_deactivate: shangji_core::handover::may_deactivate(&v.ctx.actor),
        deactivate: input.deactivate,
        kinds: kind_labels(tr),
        preview: preview.map(|p| count_rows(&users, &p)),
        error,
    })
}

async fn show_new(State(s): State<AppState>, v: Viewer, Query(q): Query<FromQuery>) -> Response {
    let here = "/handovers/new";
    let Some(from) = q.from else {
        return v.error(here, AppError::NotFound);
    };
    let input = HandoverInput {
        from_user_id: from,
        receivers: vec![],
        method: HandoverMethod::One,
        deactivate: false,
        dry_run: true,
    };
    match new_page(&s, &v, &input, None, None).await {
        Ok(p) => render(p),
        Err(e) => v.error(here, e),
    }
}

async fn submit_new(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = "/handovers/new";
    let form = match v.posted(form, here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Ok(from) = form.text("from_user_id").parse::<i64>() else {
        return v.error(here, AppError::NotFound);
    };
    let method = form.text("method").parse().unwrap_or(HandoverMethod::One);
    let receivers: Vec<i64> = form
        .all("receiver")
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    let run = form.get("op") == "run";
    let input = HandoverInput {
        from_user_id: from,
        receivers,
        method,
        deactivate: form.has("deactivate", "1"),
        dry_run: !run,
    };
    match handover::hand_over(&s.db, &v.ctx, input.clone()).await {
        Ok(out) => match (run, out.handover) {
            (true, Some(h)) => Redirect::to(&format!("/handovers/{}", h.id)).into_response(),
            _ => match new_page(&s, &v, &input, Some(out.counts), None).await {
                Ok(p) => render(p),
                Err(e) => v.error(here, e),
            },
        },
        Err(e @ AppError::Invalid(_)) => {
            let text = error_text(v.tr, &e).1;
            match new_page(&s, &v, &input, None, Some(text)).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
                Err(e) => v.error(here, e),
            }
        }
        Err(e) => v.error(here, e),
    }
}

/// A handover as a line of a list.
struct Line {
    id: i64,
    at: String,
    from: String,
    to: String,
    status: String,
    done: bool,
}

#[derive(Template)]
#[template(path = "handover_list.html")]
struct ListPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    lines: Vec<Line>,
    /// The users the viewer may hand over: `(id, name)`.
    leavers: Vec<(UserId, String)>,
}

fn lines(tr: Tr, users: &[User], hs: Vec<shangji_core::handover::Handover>) -> Vec<Line> {
    hs.into_iter()
        .map(|h| Line {
            id: h.id,
            at: tr.datetime(h.created_at),
            from: name_of(users, h.from_user_id),
            to: h
                .settings
                .receivers
                .iter()
                .map(|r| name_of(users, *r))
                .collect::<Vec<_>>()
                .join("、"),
            status: tr
                .t(&format!("handover.status.{}", h.status.as_str()))
                .to_string(),
            done: h.status == shangji_core::handover::HandoverStatus::Done,
        })
        .collect()
}

async fn list_page(State(s): State<AppState>, v: Viewer) -> Response {
    let here = "/handovers";
    let data = async {
        let hs = handover::list(&s.db, &v.ctx, None).await?;
        let users = s.db.users().await?;
        let leavers = handover::leavers(&s.db, &v.ctx)
            .await?
            .into_iter()
            .map(|u| (u.id, format!("{} ({})", u.display_name, u.login)))
            .collect();
        Ok::<_, AppError>((lines(v.tr, &users, hs), leavers))
    };
    match data.await {
        Ok((lines, leavers)) => render(ListPage {
            tr: v.tr,
            csrf: v.csrf.clone(),
            here: here.into(),
            nav: v.nav("settings"),
            lines,
            leavers,
        }),
        Err(e) => v.error(here, e),
    }
}

/// A receiver's inherited deals in the report.
struct ReceiverBlock {
    name: String,
    deals: i64,
    followed: i64,
    rows: Vec<DealRow>,
}

struct DealRow {
    id: i64,
    title: String,
    amount: String,
    status: String,
    followed: Option<String>,
}

#[derive(Template)]
#[template(path = "handover_report.html")]
struct ReportPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    from_id: UserId,
    from_name: String,
    by: String,
    at: String,
    status: String,
    done: bool,
    kinds: Vec<String>,
    counts: Vec<CountRow>,
    blocks: Vec<ReceiverBlock>,
    /// The leaver's page in the settings is the admin's.
    is_admin: bool,
}

async fn report_page(State(s): State<AppState>, v: Viewer, Path(id): Path<i64>) -> Response {
    let here = format!("/handovers/{id}");
    let data = async {
        let r = handover::report(&s.db, &v.ctx, id).await?;
        let users = s.db.users().await?;
        Ok::<_, AppError>((r, users))
    };
    let (r, users) = match data.await {
        Ok(d) => d,
        Err(e) => return v.error(&here, e),
    };
    let tr = v.tr;
    let h = &r.handover;
    let blocks = r
        .receivers
        .iter()
        .map(|rc| ReceiverBlock {
            name: name_of(&users, rc.user_id),
            deals: rc.deals,
            followed: rc.followed,
            rows: r
                .deals
                .iter()
                .filter(|d| d.receiver_id == rc.user_id)
                .map(|d| DealRow {
                    id: d.opportunity_id,
                    title: d.title.clone(),
                    amount: tr.money(&Money {
                        amount_minor: d.amount_minor,
                        currency: d.currency.clone(),
                    }),
                    status: tr
                        .t(&format!("handover.deal.{}", d.status.as_str()))
                        .to_string(),
                    followed: d.followed_at.map(|t| tr.datetime(t)),
                })
                .collect(),
        })
        .collect();
    render(ReportPage {
        tr,
        csrf: v.csrf.clone(),
        nav: v.nav("settings"),
        id,
        from_id: h.from_user_id,
        from_name: name_of(&users, h.from_user_id),
        by: name_of(&users, h.actor_id),
        at: tr.datetime(h.created_at),
        status: tr
            .t(&format!("handover.status.{}", h.status.as_str()))
            .to_string(),
        done: h.status == shangji_core::handover::HandoverStatus::Done,
        kinds: kind_labels(tr),
        counts: count_rows(&users, &h.counts),
        blocks,
        is_admin: v.ctx.actor.role == Role::Admin,
        here,
    })
}

async fn resume(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/handovers/{id}");
    if let Err(page) = v.posted(form, &here) {
        return page;
    }
    match handover::resume(&s.db, &v.ctx, id).await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) => v.error(&here, e),
    }
}

/// The handovers of a user, for their page: `(id, when, status)`.
pub(crate) async fn of_user(s: &AppState, v: &Viewer, user: UserId) -> Vec<(i64, String, String)> {
    let Ok(hs) = handover::list(&s.db, &v.ctx, Some(user)).await else {
        return vec![];
    };
    hs.into_iter()
        .map(|h| {
            (
                h.id,
                v.tr.datetime(h.created_at),
                v.tr.t(&format!("handover.status.{}", h.status.as_str()))
                    .to_string(),
            )
        })
        .collect()
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/handovers", get(list_page))
        .route("/handovers/new", get(show_new).post(submit_new))
        .route("/handovers/{id}", get(report_page))
        .route("/handovers/{id}/resume", post(resume))
}
