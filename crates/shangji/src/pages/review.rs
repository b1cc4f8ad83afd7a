//! The funnel review meeting page (漏斗回顾会议): a team's sections since its last review, a
//! decision and action items recorded on each deal discussed, "mark review held", the past
//! reviews. Printable (a print stylesheet hides the navigation and the forms).

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use shangji_core::model::{StageId, User, UserId};
use shangji_core::review::{ReviewItem, RiskReason};
use shangji_core::Money;

use super::{error_text, render, shown_in_form, urlencode, Choice, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::review::{self as review_ops, ActionItem, DecisionInput, HoldInput, ReviewReport};
use crate::state::AppState;

/// One deal in one section, as the table shows it.
struct Row {
    id: i64,
    title: String,
    owner: String,
    stage: String,
    amount: String,
    close: String,
    /// What the section says about it (the move, the slip, the change, the days…).
    detail: String,
}

struct Section {
    key: &'static str,
    title: String,
    hint: String,
    /// The first rows, or all of them when asked (`all=<key>`).
    rows: Vec<Row>,
    /// How many deals the section has.
    total: usize,
}

/// Rows a section shows before "show all".
const ROWS_SHOWN: usize = 10;

/// A deal discussed: its decisions so far and the form to record one.
struct DealCard {
    /// The article's id (`deal-<id>` on the page, `decide-<section>-<id>` when opened in a
    /// section's table).
    dom: String,
    /// Whether the form is open (asked for, or refused).
    form: bool,
    id: i64,
    title: String,
    owner_id: UserId,
    decisions: Vec<(String, String, String)>,
    /// The form's error and values when it was refused.
    error: String,
    decision: String,
    action: String,
    due: String,
}

struct Past {
    held_at: String,
    by: String,
    since: String,
    notes: String,
}

#[derive(Template)]
#[template(path = "review_page.html")]
struct ReviewPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    team_id: i64,
    teams: Vec<Choice>,
    since: String,
    now: String,
    first: bool,
    own_only: bool,
    large: String,
    /// The page's address with its filters (`/review?team_id=…&large=…`) and the filters
    /// alone, for links.
    base: String,
    query: String,
    sections: Vec<Section>,
    deals: Vec<DealCard>,
    assignees: Vec<Choice>,
    past: Vec<Past>,
    can_hold: bool,
    /// An error of the page's own forms (the threshold, marking held).
    error: String,
    /// Set after a review was marked held.
    held: bool,
}

fn name_of(users: &[User], id: UserId) -> String {
    users
        .iter()
        .find(|u| u.id == id)
        .map_or_else(|| format!("#{id}"), |u| u.display_name.clone())
}

fn stage_name(v: &Viewer, id: Option<StageId>) -> String {
    crate::notices::stage_name(v.tr, &v.ctx.dir, id)
}

fn money(tr: Tr, minor: i64, currency: &str) -> String {
    tr.money(&Money {
        amount_minor: minor,
        currency: currency.to_string(),
    })
}

fn detail(v: &Viewer, key: &str, i: &ReviewItem) -> String {
    let tr = v.tr;
    let cur = i.currency.as_deref().unwrap_or("CNY");
    let days = i.days.unwrap_or(0).to_string();
    match key {
        "new_large" => String::new(),
        "advanced" => format!(
            "{} → {}",
            stage_name(v, i.from_stage_id),
            stage_name(v, i.to_stage_id)
        ),
        "slipped" => tr.fmt(
            "rv.slipped_detail",
            &[
                (
                    "old",
                    &i.old_close_date.map(|d| d.to_string()).unwrap_or_default(),
                ),
                (
                    "new",
                    &i.new_close_date.map(|d| d.to_string()).unwrap_or_default(),
                ),
                ("days", &days),
            ],
        ),
        "amount_changed" => {
            let delta = i.delta_minor.unwrap_or(0);
            let sign = if delta >= 0 { "+" } else { "−" };
            format!(
                "{} → {} ({sign}{})",
                money(tr, i.old_amount_minor.unwrap_or(0), cur),
                money(tr, i.new_amount_minor.unwrap_or(0), cur),
                money(tr, delta.abs(), cur)
            )
        }
        "stuck" => tr.fmt("rv.stuck_detail", &[("days", &days)]),
        "no_follow_up" => tr.fmt("rv.no_follow_up_detail", &[("days", &days)]),
        _ => match i.risk {
            Some(RiskReason::ClosePassed) => tr.fmt(
                "rv.risk_passed",
                &[("days", &i.days.unwrap_or(0).abs().to_string())],
            ),
            _ => tr.fmt("rv.risk_soon", &[("days", &days)]),
        },
    }
}

/// A refused form: its deal (if any) and what to show.
#[derive(Default)]
struct Refused {
    deal: Option<i64>,
    text: String,
    decision: String,
    action: String,
    due: String,
}

fn error_of(tr: Tr, e: &AppError) -> String {
    let code = match e {
        AppError::Invalid(f) | AppError::BadRequest(f) => f.code.as_str(),
        AppError::Forbidden(c) => c,
        _ => "",
    };
    tr.get(&format!("rv.err.{code}"))
        .map(str::to_string)
        .unwrap_or_else(|| error_text(tr, e).1)
}

/// What the page shows beyond the review's own parameters: a section in full (`all`), a
/// deal's form opened (`decide`).
#[derive(Default)]
struct Shown {
    all: String,
    decide: Option<i64>,
}

impl Shown {
    /// Takes the page's own parameters out of `params`.
    fn take(params: &mut Vec<(String, String)>) -> Shown {
        let mut shown = Shown::default();
        params.retain(|(k, v)| match k.as_str() {
            "all" => {
                shown.all = v.clone();
                false
            }
            "decide" => {
                shown.decide = v.parse().ok();
                false
            }
            "held" => false,
            _ => true,
        });
        shown
    }
}

/// A deal's card: its decisions, and the form when `form`.
fn deal_card(
    tr: Tr,
    users: &[User],
    d: &review_ops::ReviewDeal,
    dom: String,
    form: bool,
    refused: &Refused,
) -> DealCard {
    let mine = refused.deal == Some(d.id);
    let kept = |v: &String| if mine { v.clone() } else { String::new() };
    DealCard {
        dom,
        form: form || mine,
        id: d.id,
        title: d.title.clone(),
        owner_id: d.owner_id,
        decisions: d
            .decisions
            .iter()
            .map(|x| (tr.datetime(x.at), name_of(users, x.by), x.text.clone()))
            .collect(),
        error: kept(&refused.text),
        decision: kept(&refused.decision),
        action: kept(&refused.action),
        due: kept(&refused.due),
    }
}

/// Who an action item may be given to: the active users the viewer sees.
fn assignees(v: &Viewer, users: &[User]) -> Vec<Choice> {
    users
        .iter()
        .filter(|u| u.active && v.ctx.scope.covers(Some(u.id)))
        .map(|u| Choice::new(u.id.to_string(), u.display_name.clone(), false))
        .collect()
}

async fn build(
    s: &AppState,
    v: &Viewer,
    params: &[(String, String)],
    refused: Refused,
    held: bool,
) -> Result<ReviewPage, AppError> {
    let mut params = params.to_vec();
    let shown = Shown::take(&mut params);
    let params = &params[..];
    let tr = v.tr;
    let report: ReviewReport = review_ops::review(&s.db, &v.ctx, params).await?;
    let users = s.db.users().await?;
    let deal = |id: i64| report.deals.iter().find(|d| d.id == id);
    let names = [
        "new_large",
        "advanced",
        "slipped",
        "amount_changed",
        "stuck",
        "no_follow_up",
        "at_risk",
    ];
    let sections = names
        .iter()
        .zip(report.sections.sections())
        .map(|(key, items)| {
            let shown_rows = if shown.all == *key {
                usize::MAX
            } else {
                ROWS_SHOWN
            };
            Section {
                key,
                title: tr.t(&format!("rv.section.{key}")).to_string(),
                hint: tr.t(&format!("rv.hint.{key}")).to_string(),
                total: items
                    .iter()
                    .filter(|i| deal(i.opportunity_id).is_some())
                    .count(),
                rows: items
                    .iter()
                    .filter_map(|i| {
                        let d = deal(i.opportunity_id)?;
                        Some(Row {
                            id: d.id,
                            title: d.title.clone(),
                            owner: name_of(&users, d.owner_id),
                            stage: stage_name(v, Some(d.stage_id)),
                            amount: money(tr, d.amount_minor, &d.currency),
                            close: d.close_date.map(|c| c.to_string()).unwrap_or_default(),
                            detail: detail(v, key, i),
                        })
                    })
                    .take(shown_rows)
                    .collect(),
            }
        })
        .collect();
    // The decisions section: the deals decided on in this window, and the one whose form was
    // asked for or refused; every other form opens on demand from its row.
    let deals = report
        .deals
        .iter()
        .filter(|d| {
            !d.decisions.is_empty() || refused.deal == Some(d.id) || shown.decide == Some(d.id)
        })
        .map(|d| {
            let open = shown.decide == Some(d.id);
            deal_card(tr, &users, d, format!("deal-{}", d.id), open, &refused)
        })
        .collect();
    let teams = v
        .ctx
        .dir
        .org
        .teams
        .iter()
        .filter(|t| !t.archived && review_ops::review_team(&v.ctx, Some(t.id)).is_ok())
        .map(|t| Choice::new(t.id.to_string(), t.name.clone(), t.id == report.team_id))
        .collect();
    let assignees = assignees(v, &users);
    let large = report.large_minor / 100;
    let query = format!("team_id={}&large={large}", report.team_id);
    Ok(ReviewPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/review?team_id={}", report.team_id),
        nav: v.nav("review"),
        team_id: report.team_id,
        teams,
        since: tr.datetime(report.since),
        now: tr.datetime(report.now),
        first: report.past.is_empty(),
        own_only: report.own_only,
        large: large.to_string(),
        base: format!("/review?{query}"),
        query,
        sections,
        deals,
        assignees,
        past: report
            .past
            .iter()
            .map(|p| Past {
                held_at: tr.datetime(p.held_at),
                by: name_of(&users, p.held_by),
                since: tr.datetime(p.since),
                notes: p.notes.clone().unwrap_or_default(),
            })
            .collect(),
        can_hold: report.can_hold,
        error: if refused.deal.is_none() {
            refused.text
        } else {
            String::new()
        },
        held,
    })
}

async fn page(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let held = params.iter().any(|(k, _)| k == "held");
    match build(&s, &v, &params, Refused::default(), held).await {
        Ok(p) => render(p),
        Err(e) if shown_in_form(&e) => {
            // A bad threshold: the page with the default one and the message.
            let text = error_of(v.tr, &e);
            let keep: Vec<(String, String)> =
                params.into_iter().filter(|(k, _)| k == "team_id").collect();
            match build(
                &s,
                &v,
                &keep,
                Refused {
                    text,
                    ..Default::default()
                },
                false,
            )
            .await
            {
                Ok(p) => render(p),
                Err(e) => v.error("/review", e),
            }
        }
        Err(e) => v.error("/review", e),
    }
}

fn back(team_id: &str, large: &str, anchor: &str) -> String {
    format!(
        "/review?team_id={}&large={}{anchor}",
        urlencode(team_id),
        urlencode(large)
    )
}

async fn decide(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let f: FormData = match v.posted(form, "/review") {
        Ok(f) => f,
        Err(r) => return r,
    };
    let team = f.text("team_id");
    let Ok(id) = f.text("opportunity_id").parse::<i64>() else {
        return v.error("/review", AppError::NotFound);
    };
    let (decision, action, due) = (f.text("decision"), f.text("action"), f.text("due_date"));
    let mut refused = Refused {
        deal: Some(id),
        decision: decision.clone(),
        action: action.clone(),
        due: due.clone(),
        ..Default::default()
    };
    let due_date = if due.is_empty() {
        None
    } else {
        match time::Date::parse(&due, &time::format_description::well_known::Iso8601::DATE) {
            Ok(d) => Some(d),
            Err(_) => {
                refused.text = v.tr.t("rv.err.invalid_date").to_string();
                return again(&s, &v, &team, &f.text("large"), refused).await;
            }
        }
    };
    let assignee = f.text("assignee_id").parse::<i64>().ok();
    let input = DecisionInput {
        opportunity_id: id,
        decision: Some(decision),
        action_items: if action.is_empty() {
            vec![]
        } else {
            vec![ActionItem {
                title: action,
                assignee_id: assignee,
                due_date,
            }]
        },
    };
    match review_ops::record_decision(&s.db, &v.ctx, input).await {
        Ok(_) => {
            Redirect::to(&back(&team, &f.text("large"), &format!("#deal-{id}"))).into_response()
        }
        Err(e) if shown_in_form(&e) => {
            refused.text = error_of(v.tr, &e);
            again(&s, &v, &team, &f.text("large"), refused).await
        }
        Err(e) => v.error("/review", e),
    }
}

/// The page again with a refused form's message and values.
async fn again(s: &AppState, v: &Viewer, team: &str, large: &str, refused: Refused) -> Response {
    let params = vec![
        ("team_id".to_string(), team.to_string()),
        ("large".to_string(), large.to_string()),
    ];
    match build(s, v, &params, refused, false).await {
        Ok(p) => render(p),
        Err(e) => v.error("/review", e),
    }
}

async fn hold(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let f: FormData = match v.posted(form, "/review") {
        Ok(f) => f,
        Err(r) => return r,
    };
    let team = f.text("team_id");
    let input = HoldInput {
        team_id: team.parse().ok(),
        notes: Some(f.text("notes")),
    };
    match review_ops::mark_held(&s.db, &v.ctx, input).await {
        Ok(r) => Redirect::to(&format!("/review?team_id={}&held=1", r.team_id)).into_response(),
        Err(e) if shown_in_form(&e) => {
            let text = error_of(v.tr, &e);
            again(
                &s,
                &v,
                &team,
                "",
                Refused {
                    text,
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => v.error("/review", e),
    }
}

/// A deal's decision form, opened from its row in a section's table (htmx): a table row
/// holding the card, put after the deal's row.
#[derive(Template)]
#[template(path = "review_deal_row.html")]
struct DealRowFragment {
    tr: Tr,
    csrf: String,
    team_id: i64,
    large: String,
    base: String,
    assignees: Vec<Choice>,
    d: DealCard,
    columns: u8,
}

async fn deal_form(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let Ok(id) = get("opportunity_id").parse::<i64>() else {
        return v.error("/review", AppError::NotFound);
    };
    // Where it opens: letters and underscores of a section's key, for the article's id.
    let section: String = get("section")
        .chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .take(20)
        .collect();
    let columns = get("columns").parse::<u8>().unwrap_or(7).clamp(1, 7);
    let keep: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k == "team_id" || k == "large")
        .cloned()
        .collect();
    let result = async {
        let report = review_ops::review(&s.db, &v.ctx, &keep).await?;
        let users = s.db.users().await?;
        let d = report
            .deals
            .iter()
            .find(|d| d.id == id)
            .ok_or(AppError::NotFound)?;
        let large = report.large_minor / 100;
        Ok::<_, AppError>(DealRowFragment {
            tr: v.tr,
            csrf: v.csrf.clone(),
            team_id: report.team_id,
            large: large.to_string(),
            base: format!("/review?team_id={}&large={large}", report.team_id),
            assignees: assignees(&v, &users),
            d: deal_card(
                v.tr,
                &users,
                d,
                format!("decide-{section}-{id}"),
                true,
                &Refused::default(),
            ),
            columns,
        })
    }
    .await;
    match result {
        Ok(f) => render(f),
        Err(e) => v.error("/review", e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/review", get(page))
        .route("/review/deal", get(deal_form))
        .route("/review/decisions", post(decide))
        .route("/review/held", post(hold))
}
