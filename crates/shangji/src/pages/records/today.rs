//! The today page (首页): due tasks, alerts, deals without follow-up, next steps due,
//! recent changes — mine or my team's.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::alerts::AlertKind;
use shangji_core::model::*;
use shangji_core::Money;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, records};
use crate::pages::opportunity::{describe, stage_name, user_name};
use crate::pages::{render, Nav, Viewer};
use crate::state::AppState;

use super::tasks::{task_row, TaskRow};

struct DealRow {
    id: i64,
    title: String,
    owner: String,
    amount: String,
    badges: Vec<String>,
    next_step: String,
    next_step_date: String,
    last_follow_up: String,
}

struct ChangeRow {
    id: i64,
    title: String,
    who: String,
    when: String,
    iso: String,
    lines: Vec<String>,
}

struct RecentRow {
    id: i64,
    title: String,
    stage: String,
    amount: String,
    close_date: String,
    owner: String,
}

/// A list that shows its first items and folds the rest away ("show n more").
struct Capped<T> {
    first: Vec<T>,
    rest: Vec<T>,
}

impl<T> Capped<T> {
    fn new(mut all: Vec<T>, shown: usize) -> Capped<T> {
        let rest = all.split_off(shown.min(all.len()));
        Capped { first: all, rest }
    }

    fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// Tasks and changes a section shows before "show more".
const TASKS_SHOWN: usize = 8;
/// Deals a section shows before "show more".
const DEALS_SHOWN: usize = 6;

#[derive(Template)]
#[template(path = "records_today.html")]
struct TodayPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    user_name: String,
    team: bool,
    can_team: bool,
    today: String,
    open_count: i64,
    open_amount: String,
    open_amount_exact: String,
    weighted_amount: String,
    weighted_amount_exact: String,
    tasks_due: usize,
    tasks: Capped<TaskRow>,
    alerts: Capped<DealRow>,
    unfollowed: Capped<DealRow>,
    next_steps: Capped<DealRow>,
    changes: Capped<ChangeRow>,
    recent: Vec<RecentRow>,
}

#[derive(serde::Deserialize)]
pub(super) struct TodayQuery {
    team: Option<String>,
}

pub(super) async fn today_page(
    State(s): State<AppState>,
    v: Result<Viewer, Response>,
    Query(q): Query<TodayQuery>,
) -> Response {
    let v = match v {
        Ok(v) => v,
        // A stranger signs in and comes back here.
        Err(r) if r.headers().get("location").is_some_and(|l| l == "/login") => {
            return Redirect::to("/login?next=/").into_response()
        }
        Err(r) => return r,
    };
    // Managers and directors land on their team's day; `?team=0` is their own.
    let team = match q.team.as_deref() {
        Some(t) => t == "1",
        None => matches!(v.ctx.actor.role, Role::Manager | Role::Director),
    };
    match today_inner(&s, &v, team).await {
        Ok(p) => render(p),
        Err(e) => v.error("/", e),
    }
}

async fn today_inner(s: &AppState, v: &Viewer, team: bool) -> Result<TodayPage, AppError> {
    let tr = v.tr;
    let day = records::today(&s.db, &v.ctx, team).await?;
    let users = s.db.users().await?;
    let dir = &v.ctx.dir;
    let title_of = |id: i64| {
        day.deals
            .iter()
            .find(|d| d.opportunity.id == id)
            .map(|d| d.opportunity.title.clone())
    };
    let mut tasks = Vec::new();
    for t in &day.tasks {
        let mut title = t.record_id.and_then(title_of);
        if title.is_none() && t.record_kind == Some(RecordKind::Opportunity) {
            if let Some(id) = t.record_id {
                title = ops::get::<Opportunity>(&s.db, &v.ctx, id)
                    .await
                    .ok()
                    .map(|o| o.title);
            }
        }
        tasks.push(task_row(tr, t, day.today, title, &users));
    }
    let (mut amount, mut weighted) = (0i64, 0i64);
    for d in day
        .deals
        .iter()
        .filter(|d| d.opportunity.amount.currency == "CNY")
    {
        amount += d.opportunity.amount.amount_minor;
        weighted += d.opportunity.amount.amount_minor * i64::from(d.opportunity.probability) / 100;
    }
    let row = |d: &records::TodayDeal| {
        let o = &d.opportunity;
        DealRow {
            id: o.id,
            title: o.title.clone(),
            owner: user_name(&users, o.owner_id),
            amount: tr.money_short(&o.amount),
            badges: d
                .alerts
                .iter()
                .map(|a| {
                    let key = match a.kind {
                        AlertKind::Rotting => "records.alert.rotting",
                        AlertKind::CloseDatePassed => "records.alert.close_date_passed",
                        AlertKind::NoFollowUp => "records.alert.no_follow_up",
                    };
                    tr.fmt(key, &[("days", &a.days.to_string())])
                })
                .collect(),
            next_step: o.next_step.clone().unwrap_or_default(),
            next_step_date: o.next_step_date.map(|d| d.to_string()).unwrap_or_default(),
            last_follow_up: d
                .last_follow_up
                .map_or_else(|| tr.t("records.never").to_string(), |t| tr.datetime(t)),
        }
    };
    let alerts = day
        .deals
        .iter()
        .filter(|d| !d.alerts.is_empty())
        .map(row)
        .collect();
    let unfollowed = day
        .deals
        .iter()
        .filter(|d| d.last_follow_up.is_none())
        .map(row)
        .collect();
    let mut due: Vec<&records::TodayDeal> = day.deals.iter().filter(|d| d.next_step_due).collect();
    due.sort_by_key(|d| d.opportunity.next_step_date);
    let next_steps = due.into_iter().map(row).collect();
    let mut changes = Vec::new();
    for e in &day.events {
        let opp = match day
            .deals
            .iter()
            .find(|d| d.opportunity.id == e.opportunity_id)
        {
            Some(d) => Some(d.opportunity.clone()),
            None => ops::get::<Opportunity>(&s.db, &v.ctx, e.opportunity_id)
                .await
                .ok(),
        };
        let Some(opp) = opp else { continue };
        let Some(p) = dir.pipeline(opp.pipeline_id) else {
            continue;
        };
        changes.push(ChangeRow {
            id: opp.id,
            title: opp.title.clone(),
            who: user_name(&users, e.actor_id),
            when: tr.datetime(e.at),
            iso: e
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            lines: describe(tr, dir, p, &users, e),
        });
    }
    let recent = day
        .deals
        .iter()
        .take(10)
        .map(|d| {
            let o = &d.opportunity;
            RecentRow {
                id: o.id,
                title: o.title.clone(),
                stage: stage_name(tr, dir, Some(o.stage_id)),
                amount: tr.money(&o.amount),
                close_date: o.close_date.map(|d| d.to_string()).unwrap_or_default(),
                owner: user_name(&users, o.owner_id),
            }
        })
        .collect();
    Ok(TodayPage {
        tr,
        csrf: v.csrf.clone(),
        here: if day.team {
            "/?team=1".into()
        } else {
            "/".into()
        },
        nav: v.nav("home"),
        user_name: v.user.display_name.clone(),
        team: day.team,
        can_team: v.ctx.scope.is_manager(),
        today: day.today.to_string(),
        open_count: day.open_total,
        open_amount: tr.money_short(&Money::cny(amount)),
        open_amount_exact: tr.money(&Money::cny(amount)),
        weighted_amount: tr.money_short(&Money::cny(weighted)),
        weighted_amount_exact: tr.money(&Money::cny(weighted)),
        tasks_due: tasks.len(),
        tasks: Capped::new(tasks, TASKS_SHOWN),
        alerts: Capped::new(alerts, DEALS_SHOWN),
        unfollowed: Capped::new(unfollowed, DEALS_SHOWN),
        next_steps: Capped::new(next_steps, DEALS_SHOWN),
        changes: Capped::new(changes, TASKS_SHOWN),
        recent,
    })
}
