//! The record pages: today (首页: due tasks, alerts, deals without follow-up, next steps
//! due, recent changes — mine or my team's), the follow-up form, the opportunity page's
//! inline edits, contacts and tasks, the account 360 page, and the user, team and API token
//! settings. Handlers are thin: they call `ops` and show the answer in the user's language.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use shangji_core::alerts::AlertKind;
use shangji_core::calendar::china_date;
use shangji_core::custom_fields::{CustomFieldDef, CustomFieldType};
use shangji_core::follow_up::FollowUpInput;
use shangji_core::model::*;
use shangji_core::opportunity::OpportunityInput;
use shangji_core::records::{TeamInput, UserInput};
use shangji_core::{Field, Money};

use super::admin::{forecast_label, kind_label};
use super::opportunity::{describe, source_label, stage_name, user_name, yuan_to_fen, Entry};
use super::{error_text, render, role_key, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::{self, records};
use crate::state::AppState;

/// What an error code means here: `records.err.<code>.<field>`, `records.err.<code>`, else
/// the shared texts.
fn err_text(tr: Tr, e: &AppError) -> (String, String) {
    if let AppError::Invalid(f) | AppError::BadRequest(f) = e {
        let last = f.field.rsplit('.').next().unwrap_or(&f.field);
        let base = last.split('[').next().unwrap_or(last);
        for key in [
            format!("records.err.{}.{base}", f.code),
            format!("records.err.{}", f.code),
        ] {
            if let Some(t) = tr.get(&key) {
                return (f.field.clone(), t.to_string());
            }
        }
    }
    error_text(tr, e)
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

fn date_of(v: &str) -> Result<Option<time::Date>, ()> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    time::Date::parse(v, &time::format_description::well_known::Iso8601::DATE)
        .map(Some)
        .map_err(|_| ())
}

pub(super) fn activity_label(tr: Tr, k: ActivityType) -> &'static str {
    tr.t(match k {
        ActivityType::Call => "records.activity.call",
        ActivityType::Visit => "records.activity.visit",
        ActivityType::Meeting => "records.activity.meeting",
        ActivityType::Email => "records.activity.email",
        ActivityType::Wechat => "records.activity.wechat",
        ActivityType::Sms => "records.activity.sms",
        ActivityType::Demo => "records.activity.demo",
        ActivityType::Note => "records.activity.note",
        ActivityType::Internal => "records.activity.internal",
    })
}

fn buying_role_label(tr: Tr, r: BuyingRole) -> &'static str {
    tr.t(match r {
        BuyingRole::DecisionMaker => "records.role.decision_maker",
        BuyingRole::EconomicBuyer => "records.role.economic_buyer",
        BuyingRole::Champion => "records.role.champion",
        BuyingRole::Influencer => "records.role.influencer",
        BuyingRole::User => "records.role.user",
        BuyingRole::Blocker => "records.role.blocker",
    })
}

fn size_label(tr: Tr, s: AccountSize) -> &'static str {
    tr.t(match s {
        AccountSize::Micro => "records.size.micro",
        AccountSize::Small => "records.size.small",
        AccountSize::Medium => "records.size.medium",
        AccountSize::Large => "records.size.large",
        AccountSize::Enterprise => "records.size.enterprise",
    })
}

// ---- The timeline: follow-ups among the events. ----

fn follow_up_entry(tr: Tr, users: &[User], a: &Activity) -> Entry {
    let mut lines = vec![format!(
        "{}{}{}",
        activity_label(tr, a.kind),
        tr.t("records.sep"),
        a.summary
    )];
    if let Some(step) = &a.next_step {
        lines.push(format!(
            "{}{}{step}",
            tr.t("opp.next_step"),
            tr.t("records.sep")
        ));
    }
    Entry {
        who: user_name(users, a.author_id),
        when: tr.datetime(a.occurred_at),
        iso: a
            .occurred_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        lines,
        kind: "activity",
        at: a.occurred_at,
    }
}

/// The history and the follow-ups in one list, newest first.
pub(super) fn merge_follow_ups(
    tr: Tr,
    users: &[User],
    mut entries: Vec<Entry>,
    activities: Vec<Activity>,
) -> Vec<Entry> {
    entries.extend(activities.iter().map(|a| follow_up_entry(tr, users, a)));
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    entries
}

// ---- The today page. ----

pub(super) struct TaskRow {
    pub(super) id: i64,
    pub(super) version: i64,
    pub(super) title: String,
    pub(super) due: String,
    pub(super) overdue: bool,
    pub(super) done: bool,
    pub(super) opportunity: Option<(i64, String)>,
    pub(super) assignee: String,
    /// Where a plain form goes back to.
    pub(super) back: String,
}

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
    tasks: Vec<TaskRow>,
    alerts: Vec<DealRow>,
    unfollowed: Vec<DealRow>,
    next_steps: Vec<DealRow>,
    changes: Vec<ChangeRow>,
    recent: Vec<RecentRow>,
}

#[derive(serde::Deserialize)]
struct TodayQuery {
    team: Option<String>,
}

fn task_row(tr: Tr, t: &Task, today: time::Date, title: Option<String>, users: &[User]) -> TaskRow {
    TaskRow {
        id: t.id,
        version: t.version,
        title: t.title.clone(),
        due: t
            .due_date
            .map_or_else(|| tr.t("value.none").to_string(), |d| d.to_string()),
        overdue: t.due_date.is_some_and(|d| d < today),
        done: t.done,
        opportunity: match (t.record_kind, t.record_id) {
            (Some(RecordKind::Opportunity), Some(id)) => {
                Some((id, title.unwrap_or_else(|| format!("#{id}"))))
            }
            _ => None,
        },
        assignee: user_name(users, t.assignee_id),
        back: "/".into(),
    }
}

async fn today_page(
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
    match today_inner(&s, &v, q.team.is_some_and(|t| t == "1")).await {
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
        tasks,
        alerts,
        unfollowed,
        next_steps,
        changes,
        recent,
    })
}

#[derive(Template)]
#[template(path = "records_task.html")]
struct TaskFragment {
    tr: Tr,
    csrf: String,
    t: TaskRow,
    error: Option<String>,
}

/// Marks a task done (or open again). An htmx request gets the task's row back; a plain
/// form goes back to where it came from.
async fn task_done(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = match v.posted(f, "/") {
        Ok(f) => f,
        Err(page) => return page,
    };
    let done = f.get("done") != "0";
    let back = super::safe_next(Some(f.get("next")));
    let result =
        records::set_task_done(&s.db, &v.ctx, id, done, f.text("version").parse().ok()).await;
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error("/", e.into()),
    };
    let today = china_date(v.ctx.now);
    match result {
        Ok(t) if is_htmx(&headers) => {
            let title = match t.record_id {
                Some(oid) if t.record_kind == Some(RecordKind::Opportunity) => {
                    ops::get::<Opportunity>(&s.db, &v.ctx, oid)
                        .await
                        .ok()
                        .map(|o| o.title)
                }
                _ => None,
            };
            render(TaskFragment {
                tr: v.tr,
                csrf: v.csrf.clone(),
                t: task_row(v.tr, &t, today, title, &users),
                error: None,
            })
        }
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) if shown_in_form(&e) && is_htmx(&headers) => {
            let task = ops::get::<Task>(&s.db, &v.ctx, id).await;
            match task {
                Ok(t) => render(TaskFragment {
                    tr: v.tr,
                    csrf: v.csrf.clone(),
                    t: task_row(v.tr, &t, today, None, &users),
                    error: Some(err_text(v.tr, &e).1),
                }),
                Err(e) => v.error("/", e),
            }
        }
        Err(e) => v.error(&back, e),
    }
}

// ---- Logging a follow-up. ----

#[derive(Template)]
#[template(path = "records_follow_up.html")]
struct FollowUpPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    title: String,
    form: FollowUpForm,
    errors: Errors,
}

/// The follow-up form as typed (shared by its own page and the opportunity page).
pub(super) struct FollowUpForm {
    pub(super) kinds: Vec<Choice>,
    pub(super) contacts: Vec<Choice>,
    pub(super) summary: String,
    pub(super) next_step: String,
    pub(super) next_step_date: String,
    pub(super) min_date: String,
}

fn follow_up_form(
    tr: Tr,
    f: Option<&FormData>,
    contacts: &[Contact],
    today: time::Date,
) -> FollowUpForm {
    let get = |k: &str| f.map_or_else(String::new, |f| f.get(k).to_string());
    let kind = f.map_or("call", |f| f.get("kind"));
    let contact = get("contact_id");
    let mut cs = vec![Choice::new(
        "",
        tr.t("records.no_contact"),
        contact.is_empty(),
    )];
    cs.extend(contacts.iter().map(|c| {
        let id = c.id.to_string();
        let checked = id == contact;
        Choice::new(id, c.name.clone(), checked)
    }));
    FollowUpForm {
        kinds: ActivityType::ALL
            .iter()
            .map(|k| Choice::new(k.as_str(), activity_label(tr, *k), k.as_str() == kind))
            .collect(),
        contacts: cs,
        summary: get("summary"),
        next_step: get("next_step"),
        next_step_date: get("next_step_date"),
        min_date: today.to_string(),
    }
}

async fn account_contacts(s: &AppState, v: &Viewer, opp: &Opportunity) -> Vec<Contact> {
    let params = [
        ("account_id".to_string(), opp.account_id.to_string()),
        ("per_page".to_string(), "200".to_string()),
    ];
    ops::list::<Contact>(&s.db, &v.ctx, &params)
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

async fn follow_up_page(State(s): State<AppState>, v: Viewer, Path(id): Path<i64>) -> Response {
    let here = format!("/opportunities/{id}/follow-up");
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    let contacts = account_contacts(&s, &v, &opp).await;
    render(FollowUpPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav("opportunity"),
        here,
        id,
        title: opp.title,
        form: follow_up_form(v.tr, None, &contacts, china_date(v.ctx.now)),
        errors: Errors::default(),
    })
}

async fn follow_up_submit(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}/follow-up");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let tr = v.tr;
    let mut errors = Errors::default();
    let kind = f.get("kind").parse::<ActivityType>().ok();
    if kind.is_none() {
        errors.add("kind", tr.t("err.unknown_choice"));
    }
    let next_step_date = date_of(f.get("next_step_date")).unwrap_or_else(|_| {
        errors.add("next_step_date", tr.t("err.invalid_date"));
        None
    });
    let contact_id = f.text("contact_id").parse::<i64>().ok();
    let result = if errors.is_empty() {
        let input = FollowUpInput {
            kind,
            summary: f.get("summary").to_string(),
            contact_id,
            next_step: Some(f.get("next_step").to_string()),
            next_step_date,
            version: None,
        };
        records::log_follow_up(&s.db, &v.ctx, id, input).await
    } else {
        Err(AppError::invalid("", "invalid_value", "see the fields"))
    };
    let e = match result {
        Ok(_) => {
            return Redirect::to(&format!("/opportunities/{id}?logged=1#timeline")).into_response()
        }
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    if errors.is_empty() {
        let (field, text) = err_text(tr, &e);
        let at = match field.as_str() {
            "summary" | "kind" | "next_step" | "next_step_date" | "contact_id" => field.as_str(),
            _ => "form",
        };
        errors.add(at, text);
    }
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    let contacts = account_contacts(&s, &v, &opp).await;
    let page = FollowUpPage {
        tr,
        csrf: v.csrf.clone(),
        nav: v.nav("opportunity"),
        here,
        id,
        title: opp.title,
        form: follow_up_form(tr, Some(&f), &contacts, china_date(v.ctx.now)),
        errors,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}

// ---- The opportunity page: fields edited in place, contacts, tasks. ----

/// One field of the opportunity, shown or being edited.
pub(super) struct FieldView {
    pub(super) key: String,
    /// The part of the element ids: `opp-<dom>` holds the value.
    pub(super) dom: String,
    pub(super) label: String,
    pub(super) shown: String,
    pub(super) editing: bool,
    /// `text`, `amount`, `date`, `number`, `select`, `multi`, `bool`, `textarea`, `step`
    /// (next step and its date).
    pub(super) input: &'static str,
    pub(super) value: String,
    pub(super) value2: String,
    pub(super) options: Vec<Choice>,
    pub(super) error: Option<String>,
    pub(super) error2: Option<String>,
    pub(super) version: i64,
    pub(super) editable: bool,
}

const BUILTIN: &[&str] = &[
    "title",
    "amount",
    "close_date",
    "probability",
    "forecast_category",
    "grade",
    "source",
    "next_step",
    "tags",
];

fn dom_of(key: &str) -> String {
    match key {
        "title" => "title-edit".into(),
        k if k.starts_with("cf.") => format!("cf-{}", &k[3..]),
        k => k.replace('_', "-"),
    }
}

fn label_of(tr: Tr, key: &str, defs: &[&CustomFieldDef]) -> String {
    match key {
        "title" => tr.t("records.field.title").into(),
        "amount" => tr.t("col.amount").into(),
        "close_date" => tr.t("col.close_date").into(),
        "probability" => tr.t("opp.probability").into(),
        "forecast_category" => tr.t("stage.forecast_category").into(),
        "grade" => tr.t("records.field.grade").into(),
        "source" => tr.t("records.field.source").into(),
        "next_step" => tr.t("opp.next_step").into(),
        "tags" => tr.t("records.field.tags").into(),
        k => defs
            .iter()
            .find(|d| Some(d.key.as_str()) == k.strip_prefix("cf."))
            .map_or_else(|| k.to_string(), |d| super::custom_fields::label(tr, d)),
    }
}

fn choices(tr: Tr, all: Vec<(String, String)>, current: &str, with_none: bool) -> Vec<Choice> {
    let mut v = Vec::new();
    if with_none {
        v.push(Choice::new("", tr.t("value.none"), current.is_empty()));
    }
    v.extend(all.into_iter().map(|(value, label)| {
        let checked = value == current;
        Choice::new(value, label, checked)
    }));
    v
}

/// A custom value as an input holds it.
fn custom_raw(def: &CustomFieldDef, v: Option<&Value>) -> String {
    match (def.field_type, v) {
        (_, None) | (_, Some(Value::Null)) => String::new(),
        (CustomFieldType::Money, Some(m)) => m
            .get("amount_minor")
            .and_then(Value::as_i64)
            .map(|f| format!("{}.{:02}", f / 100, f % 100))
            .unwrap_or_default(),
        (CustomFieldType::DateTime, Some(Value::String(t))) => {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|t| {
                    let l = t.to_offset(crate::i18n::DISPLAY_OFFSET);
                    format!("{}T{:02}:{:02}", l.date(), l.hour(), l.minute())
                })
                .unwrap_or_default()
        }
        (CustomFieldType::MultiSelect, Some(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

/// The view of field `key` of `opp`; `typed` holds what the user typed when editing.
#[allow(clippy::too_many_arguments)]
fn field_view(
    tr: Tr,
    opp: &Opportunity,
    key: &str,
    defs: &[&CustomFieldDef],
    users: &[User],
    editing: bool,
    typed: Option<&FormData>,
    editable: bool,
) -> FieldView {
    let none = || tr.t("value.none").to_string();
    let def = key
        .strip_prefix("cf.")
        .and_then(|k| defs.iter().find(|d| d.key == k).copied());
    let (shown, raw, raw2): (String, String, String) = match key {
        "title" => (opp.title.clone(), opp.title.clone(), String::new()),
        "amount" => (
            tr.money(&opp.amount),
            format!(
                "{}.{:02}",
                opp.amount.amount_minor / 100,
                opp.amount.amount_minor % 100
            ),
            String::new(),
        ),
        "close_date" => (
            opp.close_date.map_or_else(none, |d| d.to_string()),
            opp.close_date.map(|d| d.to_string()).unwrap_or_default(),
            String::new(),
        ),
        "probability" => (
            format!("{}%", opp.probability),
            opp.probability.to_string(),
            String::new(),
        ),
        "forecast_category" => (
            forecast_label(tr, opp.forecast_category).to_string(),
            opp.forecast_category.as_str().to_string(),
            String::new(),
        ),
        "grade" => (
            opp.grade.map_or_else(none, |g| g.as_str().to_uppercase()),
            opp.grade
                .map(|g| g.as_str().to_string())
                .unwrap_or_default(),
            String::new(),
        ),
        "source" => (
            opp.source
                .map_or_else(none, |s| source_label(tr, s).to_string()),
            opp.source
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            String::new(),
        ),
        "next_step" => (
            match (&opp.next_step, opp.next_step_date) {
                (Some(s), Some(d)) => format!("{s} ({d})"),
                (Some(s), None) => s.clone(),
                (None, Some(d)) => d.to_string(),
                (None, None) => none(),
            },
            opp.next_step.clone().unwrap_or_default(),
            opp.next_step_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        "tags" => (
            if opp.tags.is_empty() {
                none()
            } else {
                opp.tags.join("、")
            },
            opp.tags.join(", "),
            String::new(),
        ),
        _ => match def {
            Some(d) => (
                opp.custom.get(&d.key).map_or_else(none, |v| {
                    super::custom_fields::display_value(tr, d, v, users)
                }),
                custom_raw(d, opp.custom.get(&d.key)),
                String::new(),
            ),
            None => (none(), String::new(), String::new()),
        },
    };
    let (value, value2) = match typed {
        Some(f) => match def.map(|d| d.field_type) {
            Some(CustomFieldType::MultiSelect) => (f.all("value").join("\n"), String::new()),
            Some(CustomFieldType::Boolean) => (
                if f.get("value") == "true" {
                    "true".into()
                } else {
                    String::new()
                },
                String::new(),
            ),
            _ => (f.get("value").to_string(), f.get("value2").to_string()),
        },
        None => (raw, raw2),
    };
    let mut options = Vec::new();
    let input = match key {
        "title" | "tags" => "text",
        "amount" => "amount",
        "close_date" => "date",
        "probability" => "number",
        "next_step" => "step",
        "forecast_category" => {
            options = choices(
                tr,
                ForecastCategory::ALL
                    .iter()
                    .map(|c| (c.as_str().into(), forecast_label(tr, *c).into()))
                    .collect(),
                &value,
                false,
            );
            "select"
        }
        "grade" => {
            options = choices(
                tr,
                Grade::ALL
                    .iter()
                    .map(|g| (g.as_str().into(), g.as_str().to_uppercase()))
                    .collect(),
                &value,
                true,
            );
            "select"
        }
        "source" => {
            options = choices(
                tr,
                Source::ALL
                    .iter()
                    .map(|s| (s.as_str().into(), source_label(tr, *s).into()))
                    .collect(),
                &value,
                true,
            );
            "select"
        }
        _ => match def.map(|d| d.field_type) {
            Some(CustomFieldType::LongText) => "textarea",
            Some(CustomFieldType::Money) => "amount",
            Some(CustomFieldType::Date) => "date",
            Some(CustomFieldType::DateTime) => "datetime",
            Some(CustomFieldType::Boolean) => "bool",
            Some(t @ (CustomFieldType::SingleSelect | CustomFieldType::MultiSelect)) => {
                let d = def.expect("a custom field");
                let chosen: Vec<&str> = value.lines().collect();
                if t == CustomFieldType::SingleSelect {
                    options.push(Choice::new("", tr.t("value.none"), value.is_empty()));
                }
                options.extend(d.options.iter().filter(|o| !o.archived).map(|o| {
                    Choice::new(
                        o.value.clone(),
                        super::custom_fields::option_label(tr, d, &o.value),
                        chosen.contains(&o.value.as_str()),
                    )
                }));
                if t == CustomFieldType::SingleSelect {
                    "select"
                } else {
                    "multi"
                }
            }
            Some(CustomFieldType::User) => {
                options.push(Choice::new("", tr.t("value.none"), value.is_empty()));
                options.extend(users.iter().filter(|u| u.active).map(|u| {
                    let id = u.id.to_string();
                    let checked = id == value;
                    Choice::new(id, u.display_name.clone(), checked)
                }));
                "select"
            }
            _ => "text",
        },
    };
    FieldView {
        key: key.to_string(),
        dom: dom_of(key),
        label: label_of(tr, key, defs),
        shown,
        editing,
        input,
        value,
        value2,
        options,
        error: None,
        error2: None,
        version: opp.version,
        editable,
    }
}

/// What the posted field form asks to change, or the error beside the field.
fn field_input(
    tr: Tr,
    key: &str,
    f: &FormData,
    defs: &[&CustomFieldDef],
) -> Result<OpportunityInput, (String, &'static str)> {
    let v = f.text("value");
    let mut input = OpportunityInput {
        version: f.text("version").parse().ok(),
        ..Default::default()
    };
    let opt_text = |v: &str| {
        if v.is_empty() {
            Field::Null
        } else {
            Field::Value(v.to_string())
        }
    };
    let bad = |code: &'static str| Err(("value".to_string(), code));
    match key {
        "title" => input.title = Field::Value(v),
        "amount" => match yuan_to_fen(&v) {
            Some(fen) => input.amount_minor = Field::Value(fen),
            None => return bad("invalid_amount"),
        },
        "close_date" => match date_of(&v) {
            Ok(d) => input.close_date = d.map_or(Field::Null, Field::Value),
            Err(_) => return bad("invalid_date"),
        },
        "probability" => match v.trim_end_matches('%').trim() {
            "" => input.probability = Field::Null,
            n => match n.parse::<i32>() {
                Ok(p) => input.probability = Field::Value(p),
                Err(_) => return bad("not_a_number"),
            },
        },
        "forecast_category" => match v.parse() {
            Ok(c) => input.forecast_category = Field::Value(c),
            Err(_) => return bad("unknown_choice"),
        },
        "grade" => match v.as_str() {
            "" => input.grade = Field::Null,
            g => match g.parse() {
                Ok(g) => input.grade = Field::Value(g),
                Err(_) => return bad("unknown_choice"),
            },
        },
        "source" => match v.as_str() {
            "" => input.source = Field::Null,
            x => match x.parse() {
                Ok(x) => input.source = Field::Value(x),
                Err(_) => return bad("unknown_choice"),
            },
        },
        "next_step" => {
            input.next_step = opt_text(&v);
            match date_of(f.get("value2")) {
                Ok(d) => input.next_step_date = d.map_or(Field::Null, Field::Value),
                Err(_) => return Err(("value2".into(), "invalid_date")),
            }
        }
        "tags" => {
            input.tags = Field::Value(
                v.split([',', '，', '、', ';', '；'])
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            )
        }
        _ => {
            let Some(def) = key
                .strip_prefix("cf.")
                .and_then(|k| defs.iter().find(|d| d.key == k))
            else {
                return bad("unknown_field");
            };
            let value = match def.field_type {
                CustomFieldType::MultiSelect => {
                    let all: Vec<Value> = f
                        .all("value")
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::from(*s))
                        .collect();
                    if all.is_empty() {
                        Value::Null
                    } else {
                        Value::Array(all)
                    }
                }
                CustomFieldType::Boolean => Value::Bool(f.get("value") == "true"),
                _ if v.is_empty() => Value::Null,
                CustomFieldType::Money => match yuan_to_fen(&v) {
                    Some(fen) => serde_json::json!({ "amount_minor": fen, "currency": "CNY" }),
                    None => return bad("invalid_amount"),
                },
                CustomFieldType::DateTime if v.len() == 16 => Value::from(format!("{v}:00+08:00")),
                CustomFieldType::Integer | CustomFieldType::User => match v.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => return bad("not_a_number"),
                },
                _ => Value::from(v),
            };
            let _ = tr;
            let mut custom = CustomValues::new();
            custom.insert(def.key.clone(), value);
            input.custom = Some(custom);
        }
    }
    Ok(input)
}

pub(super) struct ContactRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) title: String,
    pub(super) role: String,
}

/// What the opportunity page shows besides the process: fields to edit in place, the
/// contacts with their roles, the tasks, and the follow-up form.
pub(super) struct OppExtras {
    pub(super) fields: Vec<FieldView>,
    pub(super) can_edit: bool,
    pub(super) contacts: Vec<ContactRow>,
    /// The account's contacts not linked yet.
    pub(super) candidates: Vec<Choice>,
    pub(super) roles: Vec<Choice>,
    pub(super) tasks: Vec<TaskRow>,
    pub(super) follow_up: FollowUpForm,
    pub(super) account_id: i64,
    pub(super) today: String,
}

pub(super) async fn opp_extras(
    s: &AppState,
    v: &Viewer,
    opp: &Opportunity,
    users: &[User],
) -> Result<OppExtras, AppError> {
    let tr = v.tr;
    let can_edit = v.ctx.scope.covers(Some(opp.owner_id));
    let mut defs: Vec<&CustomFieldDef> = v
        .ctx
        .dir
        .custom_fields_of(RecordKind::Opportunity)
        .filter(|d| !d.archived || opp.custom.contains_key(&d.key))
        .collect();
    defs.sort_by_key(|d| (d.position, d.id));
    let keys: Vec<String> = BUILTIN
        .iter()
        .map(|k| k.to_string())
        .chain(defs.iter().map(|d| format!("cf.{}", d.key)))
        .collect();
    let fields = keys
        .iter()
        .map(|k| {
            let archived_cf = k
                .strip_prefix("cf.")
                .and_then(|key| defs.iter().find(|d| d.key == key))
                .is_some_and(|d| d.archived);
            field_view(
                tr,
                opp,
                k,
                &defs,
                users,
                false,
                None,
                can_edit && !archived_cf,
            )
        })
        .collect();
    let linked = records::opportunity_contacts(&s.db, &v.ctx, opp.id).await?;
    let all = account_contacts(s, v, opp).await;
    let contacts = linked
        .iter()
        .map(|c| ContactRow {
            id: c.contact.id,
            name: c.contact.name.clone(),
            title: c.contact.title.clone().unwrap_or_default(),
            role: c
                .buying_role
                .map_or_else(String::new, |r| buying_role_label(tr, r).to_string()),
        })
        .collect();
    let mut candidates = vec![Choice::new("", tr.t("form.choose"), true)];
    candidates.extend(
        all.iter()
            .filter(|c| !linked.iter().any(|l| l.contact.id == c.id))
            .map(|c| Choice::new(c.id.to_string(), c.name.clone(), false)),
    );
    let mut roles = vec![Choice::new("", tr.t("value.none"), true)];
    roles.extend(
        BuyingRole::ALL
            .iter()
            .map(|r| Choice::new(r.as_str(), buying_role_label(tr, *r), false)),
    );
    let today = china_date(v.ctx.now);
    let tasks = records::opportunity_tasks(&s.db, &v.ctx, opp.id)
        .await?
        .iter()
        .map(|t| TaskRow {
            back: format!("/opportunities/{}#tasks", opp.id),
            ..task_row(tr, t, today, None, users)
        })
        .collect();
    Ok(OppExtras {
        fields,
        can_edit,
        contacts,
        candidates,
        roles,
        tasks,
        follow_up: follow_up_form(tr, None, &all, today),
        account_id: opp.account_id,
        today: today.to_string(),
    })
}

#[derive(Template)]
#[template(path = "records_field.html")]
struct FieldFragment {
    tr: Tr,
    csrf: String,
    id: i64,
    f: FieldView,
}

#[derive(Template)]
#[template(path = "records_field_page.html")]
struct FieldPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    title: String,
    f: FieldView,
}

#[derive(serde::Deserialize)]
struct ShowQuery {
    show: Option<String>,
}

fn custom_defs(v: &Viewer) -> Vec<&CustomFieldDef> {
    v.ctx
        .dir
        .custom_fields_of(RecordKind::Opportunity)
        .collect()
}

fn known_field(v: &Viewer, key: &str) -> bool {
    BUILTIN.contains(&key)
        || key
            .strip_prefix("cf.")
            .is_some_and(|k| custom_defs(v).iter().any(|d| d.key == k && !d.archived))
}

/// The field's edit form (or, with `show`, its value again): a fragment for htmx, a small
/// page otherwise.
async fn field_get(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, key)): Path<(i64, String)>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    if !known_field(&v, &key) {
        return v.error(&here, AppError::NotFound);
    }
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error(&here, e.into()),
    };
    let can_edit = v.ctx.scope.covers(Some(opp.owner_id));
    let editing = q.show.is_none() && can_edit;
    let f = field_view(
        v.tr,
        &opp,
        &key,
        &custom_defs(&v),
        &users,
        editing,
        None,
        can_edit,
    );
    field_response(&v, &headers, id, &opp.title, f, StatusCode::OK)
}

fn field_response(
    v: &Viewer,
    headers: &HeaderMap,
    id: i64,
    title: &str,
    f: FieldView,
    status: StatusCode,
) -> Response {
    if is_htmx(headers) {
        // htmx swaps only successful answers: an error comes back as 200 with the form.
        return render(FieldFragment {
            tr: v.tr,
            csrf: v.csrf.clone(),
            id,
            f,
        });
    }
    let page = FieldPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: format!("/opportunities/{id}/fields/{}", f.key),
        nav: v.nav("opportunity"),
        id,
        title: title.to_string(),
        f,
    };
    (status, render(page)).into_response()
}

async fn field_post(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Path((id, key)): Path<(i64, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    if !known_field(&v, &key) {
        return v.error(&here, AppError::NotFound);
    }
    let defs = custom_defs(&v);
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error(&here, e.into()),
    };
    let result = match field_input(v.tr, &key, &f, &defs) {
        Ok(input) => ops::update_opportunity(&s.db, &v.ctx, id, input)
            .await
            .map_err(|e| (None, e)),
        Err((field, code)) => Err((
            Some((field, code)),
            AppError::invalid("value", code, "see the field"),
        )),
    };
    match result {
        Ok(opp) => {
            if is_htmx(&headers) {
                let fv = field_view(v.tr, &opp, &key, &defs, &users, false, None, true);
                render(FieldFragment {
                    tr: v.tr,
                    csrf: v.csrf.clone(),
                    id,
                    f: fv,
                })
            } else {
                Redirect::to(&format!("{here}#f-{}", dom_of(&key))).into_response()
            }
        }
        Err((local, e)) if local.is_some() || shown_in_form(&e) => {
            let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
                Ok(o) => o,
                Err(e) => return v.error(&here, e),
            };
            let mut fv = field_view(v.tr, &opp, &key, &defs, &users, true, Some(&f), true);
            let (field, text) = match &local {
                Some((field, code)) => (field.clone(), super::field_text(v.tr, "value", code)),
                None => err_text(v.tr, &e),
            };
            // The version the user read stays, so that saving again does not overwrite the
            // other change unseen; the message says to reload.
            fv.version = f.text("version").parse().unwrap_or(opp.version);
            if field == "value2" || field == "next_step_date" {
                fv.error2 = Some(text);
            } else {
                fv.error = Some(text);
            }
            field_response(&v, &headers, id, &opp.title, fv, e.status())
        }
        Err((_, e)) => v.error(&here, e),
    }
}

async fn contact_link(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Ok(contact_id) = f.text("contact_id").parse::<i64>() else {
        return Redirect::to(&format!("{here}?contact_error=required#contacts")).into_response();
    };
    let input = records::ContactLinkInput {
        contact_id,
        buying_role: f.text("buying_role").parse().ok(),
    };
    match records::link_contact(&s.db, &v.ctx, id, input).await {
        Ok(_) => Redirect::to(&format!("{here}#contacts")).into_response(),
        Err(AppError::Invalid(_)) => {
            Redirect::to(&format!("{here}?contact_error=invalid#contacts")).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}

async fn contact_unlink(
    State(s): State<AppState>,
    v: Viewer,
    Path((id, contact_id)): Path<(i64, i64)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    if let Err(page) = v.posted(f, &here) {
        return page;
    }
    match records::unlink_contact(&s.db, &v.ctx, id, contact_id).await {
        Ok(()) => Redirect::to(&format!("{here}#contacts")).into_response(),
        Err(e) => v.error(&here, e),
    }
}

async fn task_create(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/opportunities/{id}");
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let opp = match ops::get::<Opportunity>(&s.db, &v.ctx, id).await {
        Ok(o) => o,
        Err(e) => return v.error(&here, e),
    };
    let Ok(due) = date_of(f.get("due_date")) else {
        return Redirect::to(&format!("{here}?task_error=invalid_date#tasks")).into_response();
    };
    let input = shangji_core::records::TaskInput {
        title: Field::Value(f.get("title").to_string()),
        due_date: due.map_or(Field::Absent, Field::Value),
        assignee_id: Field::Value(opp.owner_id),
        record_kind: Field::Value(RecordKind::Opportunity),
        record_id: Field::Value(id),
        ..Default::default()
    };
    match ops::create::<Task>(&s.db, &v.ctx, input, None).await {
        Ok(_) => Redirect::to(&format!("{here}#tasks")).into_response(),
        Err(AppError::Invalid(e)) => {
            Redirect::to(&format!("{here}?task_error={}#tasks", e.code)).into_response()
        }
        Err(e) => v.error(&here, e),
    }
}

// ---- The account 360 page. ----

struct OppRow {
    id: i64,
    title: String,
    stage: String,
    amount: String,
    close_date: String,
    owner: String,
}

struct TotalView {
    kind: &'static str,
    label: &'static str,
    count: usize,
    amount: String,
    exact: String,
}

#[derive(Template)]
#[template(path = "records_account.html")]
struct AccountPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    name: String,
    facts: Vec<(String, String)>,
    contacts: Vec<(i64, String, String, String, String)>,
    open: Vec<OppRow>,
    won: Vec<OppRow>,
    lost: Vec<OppRow>,
    totals: Vec<TotalView>,
    won_total: String,
    last_follow_up: Option<String>,
    timeline: Vec<Entry>,
}

async fn account_page(State(s): State<AppState>, v: Viewer, Path(id): Path<i64>) -> Response {
    let here = format!("/accounts/{id}");
    match account_inner(&s, &v, id).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

async fn account_inner(s: &AppState, v: &Viewer, id: i64) -> Result<AccountPage, AppError> {
    let tr = v.tr;
    let a = records::account_360(&s.db, &v.ctx, id).await?;
    let users = s.db.users().await?;
    let dir = &v.ctx.dir;
    let none = || tr.t("value.none").to_string();
    let acc = &a.account;
    let facts = vec![
        (
            tr.t("records.account.credit_code").to_string(),
            acc.credit_code.clone().unwrap_or_else(none),
        ),
        (
            tr.t("records.account.industry").to_string(),
            acc.industry.clone().unwrap_or_else(none),
        ),
        (
            tr.t("records.account.region").to_string(),
            acc.region.clone().unwrap_or_else(none),
        ),
        (
            tr.t("records.account.size").to_string(),
            acc.size
                .map_or_else(none, |x| size_label(tr, x).to_string()),
        ),
        (
            tr.t("records.field.source").to_string(),
            acc.source
                .map_or_else(none, |x| source_label(tr, x).to_string()),
        ),
        (
            tr.t("col.owner").to_string(),
            acc.owner_id.map_or_else(none, |o| user_name(&users, o)),
        ),
        (
            tr.t("records.account.address").to_string(),
            acc.address.clone().unwrap_or_else(none),
        ),
        (
            tr.t("records.field.tags").to_string(),
            if acc.tags.is_empty() {
                none()
            } else {
                acc.tags.join("、")
            },
        ),
    ];
    let contacts = a
        .contacts
        .iter()
        .map(|c| {
            (
                c.id,
                c.name.clone(),
                c.title.clone().unwrap_or_default(),
                c.mobile.clone().or(c.phone.clone()).unwrap_or_default(),
                c.buying_role
                    .map_or_else(String::new, |r| buying_role_label(tr, r).to_string()),
            )
        })
        .collect();
    let rows = |kind: StageKind| {
        a.opportunities
            .iter()
            .filter(|o| o.status == kind)
            .map(|o| OppRow {
                id: o.id,
                title: o.title.clone(),
                stage: stage_name(tr, dir, Some(o.stage_id)),
                amount: tr.money(&o.amount),
                close_date: o.close_date.map(|d| d.to_string()).unwrap_or_default(),
                owner: user_name(&users, o.owner_id),
            })
            .collect::<Vec<_>>()
    };
    let join = |ms: &[Money], f: &dyn Fn(&Money) -> String| {
        ms.iter().map(f).collect::<Vec<_>>().join(" + ")
    };
    let totals: Vec<TotalView> = a
        .totals
        .iter()
        .map(|t| TotalView {
            kind: t.kind.as_str(),
            label: kind_label(tr, t.kind),
            count: t.count,
            amount: join(&t.amounts, &|m| tr.money_short(m)),
            exact: join(&t.amounts, &|m| tr.money(m)),
        })
        .collect();
    let won_total = totals
        .iter()
        .find(|t| t.kind == "won")
        .map(|t| t.exact.clone())
        .unwrap_or_default();
    let mut entries = Vec::new();
    for e in &a.events {
        let Some(o) = a.opportunities.iter().find(|o| o.id == e.opportunity_id) else {
            continue;
        };
        let Some(p) = dir.pipeline(o.pipeline_id) else {
            continue;
        };
        let mut lines = vec![o.title.clone()];
        lines.extend(describe(tr, dir, p, &users, e));
        entries.push(Entry {
            who: user_name(&users, e.actor_id),
            when: tr.datetime(e.at),
            iso: e
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            lines,
            kind: "event",
            at: e.at,
        });
    }
    Ok(AccountPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/accounts/{id}"),
        nav: v.nav("accounts"),
        name: acc.name.clone(),
        facts,
        contacts,
        open: rows(StageKind::Open),
        won: rows(StageKind::Won),
        lost: rows(StageKind::Lost),
        totals,
        won_total,
        last_follow_up: a.last_follow_up.as_ref().map(|f| {
            format!(
                "{} · {} · {}",
                tr.datetime(f.occurred_at),
                activity_label(tr, f.kind),
                f.summary
            )
        }),
        timeline: merge_follow_ups(tr, &users, entries, a.activities.clone()),
    })
}

// ---- Settings: users, teams, API tokens. ----

struct UserRow {
    id: i64,
    login: String,
    name: String,
    role: &'static str,
    team: String,
    active: bool,
    language: String,
}

#[derive(Template)]
#[template(path = "records_users.html")]
struct UsersPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    users: Vec<UserRow>,
    form: UserForm,
    errors: Errors,
    notice: Option<String>,
}

/// The user form as typed.
struct UserForm {
    id: i64,
    login: String,
    display_name: String,
    email: String,
    mobile: String,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
    languages: Vec<Choice>,
    active: bool,
    leaves: String,
}

#[derive(Template)]
#[template(path = "records_user.html")]
struct UserPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    form: UserForm,
    errors: Errors,
    notice: Option<String>,
}

fn team_path(teams: &[Team], id: TeamId) -> String {
    let mut names = Vec::new();
    let mut at = Some(id);
    while let Some(t) = at.and_then(|i| teams.iter().find(|t| t.id == i)) {
        names.push(t.name.clone());
        at = t.parent_id;
        if names.len() > 20 {
            break;
        }
    }
    names.reverse();
    names.join(" › ")
}

fn role_choices(tr: Tr, current: &str) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| Choice::new(r.as_str(), tr.t(role_key(*r)), r.as_str() == current))
        .collect()
}

fn team_choices(tr: Tr, teams: &[Team], current: &str, skip: Option<TeamId>) -> Vec<Choice> {
    let mut v = vec![Choice::new("", tr.t("records.no_team"), current.is_empty())];
    let mut all: Vec<(String, &Team)> = teams
        .iter()
        .filter(|t| Some(t.id) != skip && (!t.archived || t.id.to_string() == current))
        .map(|t| (team_path(teams, t.id), t))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    v.extend(all.into_iter().map(|(path, t)| {
        let id = t.id.to_string();
        let checked = id == current;
        Choice::new(id, path, checked)
    }));
    v
}

fn language_choices(tr: Tr, current: &str) -> Vec<Choice> {
    vec![
        Choice::new("", tr.t("records.lang_browser"), current.is_empty()),
        Choice::new("zh-CN", "中文", current == "zh-CN"),
        Choice::new("en", "English", current == "en"),
    ]
}

fn user_form(tr: Tr, teams: &[Team], u: Option<&User>, f: Option<&FormData>) -> UserForm {
    let pick = |name: &str, stored: String| f.map_or(stored, |f| f.get(name).to_string());
    let role = pick("role", u.map_or("rep".into(), |u| u.role.as_str().into()));
    let team = pick(
        "team_id",
        u.and_then(|u| u.team_id)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    let lang = pick(
        "language",
        u.and_then(|u| u.language)
            .map(|l| l.as_str().to_string())
            .unwrap_or_default(),
    );
    UserForm {
        id: u.map_or(0, |u| u.id),
        login: pick("login", u.map(|u| u.login.clone()).unwrap_or_default()),
        display_name: pick(
            "display_name",
            u.map(|u| u.display_name.clone()).unwrap_or_default(),
        ),
        email: pick("email", u.and_then(|u| u.email.clone()).unwrap_or_default()),
        mobile: pick(
            "mobile",
            u.and_then(|u| u.mobile.clone()).unwrap_or_default(),
        ),
        roles: role_choices(tr, &role),
        teams: team_choices(tr, teams, &team, None),
        languages: language_choices(tr, &lang),
        active: f.map_or(u.is_none_or(|u| u.active), |f| f.has("active", "true")),
        leaves: pick(
            "leaves",
            u.map(|u| {
                u.leaves
                    .iter()
                    .map(|l| format!("{} {}", l.from, l.to))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        ),
    }
}

/// The user body a form asks for, or the form's own errors.
fn user_input(tr: Tr, f: &FormData, creating: bool) -> Result<UserInput, Errors> {
    let mut errors = Errors::default();
    let text = |name: &str| {
        let v = f.text(name);
        if v.is_empty() {
            if creating {
                Field::Absent
            } else {
                Field::Null
            }
        } else {
            Field::Value(v)
        }
    };
    let role = match f.get("role").parse::<Role>() {
        Ok(r) => Field::Value(r),
        Err(_) => {
            errors.add("role", tr.t("err.unknown_choice"));
            Field::Absent
        }
    };
    let team_id = match f.text("team_id").as_str() {
        "" => Field::Null,
        t => match t.parse() {
            Ok(id) => Field::Value(id),
            Err(_) => {
                errors.add("team_id", tr.t("err.unknown_choice"));
                Field::Absent
            }
        },
    };
    let language = match f.text("language").as_str() {
        "" => Field::Null,
        l => match l.parse::<Language>() {
            Ok(l) => Field::Value(l),
            Err(_) => Field::Absent,
        },
    };
    let mut leaves = Vec::new();
    for line in f
        .get("leaves")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let parts: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '~' || c == '～' || c == ',')
            .filter(|p| !p.is_empty())
            .collect();
        let dates: Vec<Option<time::Date>> =
            parts.iter().map(|p| date_of(p).ok().flatten()).collect();
        match dates.as_slice() {
            [Some(a), Some(b)] => leaves.push(Leave { from: *a, to: *b }),
            [Some(a)] => leaves.push(Leave { from: *a, to: *a }),
            _ => {
                errors.add("leaves", tr.t("records.err.leave_format"));
                break;
            }
        }
    }
    let input = UserInput {
        login: if creating {
            Field::Value(f.text("login"))
        } else {
            Field::Absent
        },
        display_name: text("display_name"),
        email: text("email"),
        mobile: text("mobile"),
        role,
        team_id,
        active: Field::Value(creating || f.has("active", "true")),
        leaves: Field::Value(leaves),
        language,
        password: if creating && !f.get("password").is_empty() {
            Field::Value(f.get("password").to_string())
        } else {
            Field::Absent
        },
    };
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

fn place_user_error(tr: Tr, errors: &mut Errors, e: &AppError) {
    let (field, text) = err_text(tr, e);
    let base = field.split('[').next().unwrap_or(&field).to_string();
    let at = match base.as_str() {
        "login" | "display_name" | "email" | "mobile" | "role" | "team_id" | "leaves"
        | "password" | "language" => base,
        _ => "form".into(),
    };
    errors.add(at, text);
}

async fn users_data(s: &AppState) -> Result<(Vec<User>, Vec<Team>), AppError> {
    Ok((s.db.users().await?, s.db.teams().await?))
}

fn user_rows(tr: Tr, users: &[User], teams: &[Team]) -> Vec<UserRow> {
    let mut rows: Vec<UserRow> = users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            login: u.login.clone(),
            name: u.display_name.clone(),
            role: tr.t(role_key(u.role)),
            team: u.team_id.map(|t| team_path(teams, t)).unwrap_or_default(),
            active: u.active,
            language: u.language.map_or("", |l| l.as_str()).to_string(),
        })
        .collect();
    rows.sort_by(|a, b| (!a.active, &a.login).cmp(&(!b.active, &b.login)));
    rows
}

#[derive(serde::Deserialize)]
struct NoticeQuery {
    saved: Option<String>,
}

async fn users_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let here = "/admin/users";
    if let Err(e) = v.ctx.require_admin() {
        return v.error(here, e);
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(here, e),
    };
    render(UsersPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: here.into(),
        nav: v.nav("settings"),
        tab: "users",
        users: user_rows(v.tr, &users, &teams),
        form: user_form(v.tr, &teams, None, None),
        errors: Errors::default(),
        notice: q.saved.map(|_| v.tr.t("form.saved").to_string()),
    })
}

async fn users_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    let here = "/admin/users";
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(here, e);
    }
    let (result, mut errors) = match user_input(v.tr, &f, true) {
        Ok(input) => (
            ops::create_user(&s.db, Some(&v.ctx), input, v.ctx.now).await,
            Errors::default(),
        ),
        Err(errors) => (
            Err(AppError::invalid("", "invalid_value", "see the fields")),
            errors,
        ),
    };
    match result {
        Ok(u) => return Redirect::to(&format!("/admin/users/{}?saved=1", u.id)).into_response(),
        Err(e) if shown_in_form(&e) => {
            if errors.is_empty() {
                place_user_error(v.tr, &mut errors, &e);
            }
        }
        Err(e) => return v.error(here, e),
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(here, e),
    };
    let page = UsersPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: here.into(),
        nav: v.nav("settings"),
        tab: "users",
        users: user_rows(v.tr, &users, &teams),
        form: user_form(v.tr, &teams, None, Some(&f)),
        errors,
        notice: None,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}

async fn user_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let here = format!("/admin/users/{id}");
    if let Err(e) = v.ctx.require_admin() {
        return v.error(&here, e);
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(&here, e),
    };
    let Some(u) = users.iter().find(|u| u.id == id) else {
        return v.error(&here, AppError::NotFound);
    };
    render(UserPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav("settings"),
        here,
        tab: "users",
        form: user_form(v.tr, &teams, Some(u), None),
        errors: Errors::default(),
        notice: q.saved.map(|_| v.tr.t("form.saved").to_string()),
    })
}

async fn user_save(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    let here = format!("/admin/users/{id}");
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(&here, e);
    }
    let password = f.get("op") == "password";
    let (result, mut errors) = if password {
        (
            ops::set_password(&s.db, id, f.get("password"))
                .await
                .map(|_| ()),
            Errors::default(),
        )
    } else {
        match user_input(v.tr, &f, false) {
            Ok(input) => (
                ops::update_user(&s.db, &v.ctx, id, input).await.map(|_| ()),
                Errors::default(),
            ),
            Err(errors) => (
                Err(AppError::invalid("", "invalid_value", "see the fields")),
                errors,
            ),
        }
    };
    match result {
        Ok(()) => return Redirect::to(&format!("{here}?saved=1")).into_response(),
        Err(e) if shown_in_form(&e) => {
            if errors.is_empty() {
                place_user_error(v.tr, &mut errors, &e);
            }
        }
        Err(e) => return v.error(&here, e),
    }
    let (users, teams) = match users_data(&s).await {
        Ok(d) => d,
        Err(e) => return v.error(&here, e),
    };
    let Some(u) = users.iter().find(|u| u.id == id) else {
        return v.error(&here, AppError::NotFound);
    };
    let page = UserPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        nav: v.nav("settings"),
        here,
        tab: "users",
        form: user_form(v.tr, &teams, Some(u), (!password).then_some(&f)),
        errors,
        notice: None,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
}

struct TeamRow {
    id: i64,
    name: String,
    depth: usize,
    archived: bool,
    members: usize,
}

#[derive(Template)]
#[template(path = "records_teams.html")]
struct TeamsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    teams: Vec<TeamRow>,
    /// The team being edited, if any: (id, name, archived).
    editing: Option<(i64, String, bool)>,
    name: String,
    parents: Vec<Choice>,
    errors: Errors,
    notice: Option<String>,
}

fn team_rows(teams: &[Team], users: &[User]) -> Vec<TeamRow> {
    fn walk(
        teams: &[Team],
        users: &[User],
        parent: Option<TeamId>,
        depth: usize,
        out: &mut Vec<TeamRow>,
    ) {
        let mut kids: Vec<&Team> = teams.iter().filter(|t| t.parent_id == parent).collect();
        kids.sort_by(|a, b| a.name.cmp(&b.name));
        for t in kids {
            if out.iter().any(|r| r.id == t.id) || depth > 20 {
                continue;
            }
            out.push(TeamRow {
                id: t.id,
                name: t.name.clone(),
                depth,
                archived: t.archived,
                members: users
                    .iter()
                    .filter(|u| u.team_id == Some(t.id) && u.active)
                    .count(),
            });
            walk(teams, users, Some(t.id), depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(teams, users, None, 0, &mut out);
    out
}

async fn teams_view(
    s: &AppState,
    v: &Viewer,
    editing: Option<TeamId>,
    f: Option<&FormData>,
    errors: Errors,
    notice: Option<String>,
) -> Result<TeamsPage, AppError> {
    let (users, teams) = users_data(s).await?;
    let team = match editing {
        Some(id) => Some(
            teams
                .iter()
                .find(|t| t.id == id)
                .ok_or(AppError::NotFound)?,
        ),
        None => None,
    };
    let parent = f.map_or_else(
        || {
            team.and_then(|t| t.parent_id)
                .map(|p| p.to_string())
                .unwrap_or_default()
        },
        |f| f.text("parent_id"),
    );
    let name = f.map_or_else(
        || team.map(|t| t.name.clone()).unwrap_or_default(),
        |f| f.get("name").to_string(),
    );
    Ok(TeamsPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: editing.map_or_else(|| "/admin/teams".into(), |id| format!("/admin/teams/{id}")),
        nav: v.nav("settings"),
        tab: "teams",
        teams: team_rows(&teams, &users),
        editing: team.map(|t| (t.id, t.name.clone(), t.archived)),
        name,
        parents: team_choices(v.tr, &teams, &parent, editing),
        errors,
        notice,
    })
}

async fn teams_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(e) = v.ctx.require_admin() {
        return v.error("/admin/teams", e);
    }
    let notice = q.saved.map(|_| v.tr.t("form.saved").to_string());
    match teams_view(&s, &v, None, None, Errors::default(), notice).await {
        Ok(p) => render(p),
        Err(e) => v.error("/admin/teams", e),
    }
}

async fn team_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let here = format!("/admin/teams/{id}");
    if let Err(e) = v.ctx.require_admin() {
        return v.error(&here, e);
    }
    let notice = q.saved.map(|_| v.tr.t("form.saved").to_string());
    match teams_view(&s, &v, Some(id), None, Errors::default(), notice).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

/// Creates a team (`/admin/teams`) or changes one (`/admin/teams/{id}`: name, parent,
/// archive or restore).
async fn team_save(s: AppState, v: Viewer, id: Option<TeamId>, f: FormData) -> Response {
    let here = id.map_or_else(|| "/admin/teams".into(), |id| format!("/admin/teams/{id}"));
    if let Err(e) = v.check_csrf(&f).and_then(|_| v.ctx.require_admin()) {
        return v.error(&here, e);
    }
    let parent_id = match f.text("parent_id").parse::<i64>() {
        Ok(p) => Field::Value(p),
        Err(_) => Field::Null,
    };
    let mut input = TeamInput {
        name: Field::Value(f.get("name").to_string()),
        parent_id,
        archived: Field::Absent,
    };
    match f.get("op") {
        "archive" => {
            input = TeamInput {
                archived: Field::Value(true),
                ..Default::default()
            }
        }
        "restore" => {
            input = TeamInput {
                archived: Field::Value(false),
                ..Default::default()
            }
        }
        _ => {}
    }
    let result = match id {
        Some(id) => ops::update_team(&s.db, &v.ctx, id, input).await,
        None => ops::create_team(&s.db, &v.ctx, input).await,
    };
    let e = match result {
        Ok(t) => return Redirect::to(&format!("/admin/teams/{}?saved=1", t.id)).into_response(),
        Err(e) if shown_in_form(&e) => e,
        Err(e) => return v.error(&here, e),
    };
    let mut errors = Errors::default();
    let (field, text) = err_text(v.tr, &e);
    errors.add(
        if field == "name" || field == "parent_id" {
            field
        } else {
            "form".into()
        },
        text,
    );
    match teams_view(&s, &v, id, Some(&f), errors, None).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
        Err(e) => v.error(&here, e),
    }
}

async fn teams_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    team_save(s, v, None, FormData(f)).await
}

async fn team_update(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    team_save(s, v, Some(id), FormData(f)).await
}

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
struct RevokedQuery {
    revoked: Option<String>,
}

async fn tokens_page(
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

async fn tokens_create(
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

async fn token_revoke(
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

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(today_page))
        .route("/tasks/{id}/done", post(task_done))
        .route(
            "/opportunities/{id}/follow-up",
            get(follow_up_page).post(follow_up_submit),
        )
        .route(
            "/opportunities/{id}/fields/{key}",
            get(field_get).post(field_post),
        )
        .route("/opportunities/{id}/contacts", post(contact_link))
        .route(
            "/opportunities/{id}/contacts/{contact_id}/remove",
            post(contact_unlink),
        )
        .route("/opportunities/{id}/tasks", post(task_create))
        .route("/accounts/{id}", get(account_page))
        .route("/admin/users", get(users_page).post(users_create))
        .route("/admin/users/{id}", get(user_page).post(user_save))
        .route("/admin/teams", get(teams_page).post(teams_create))
        .route("/admin/teams/{id}", get(team_page).post(team_update))
        .route("/admin/tokens", get(tokens_page).post(tokens_create))
        .route("/admin/tokens/{user_id}/{id}/revoke", post(token_revoke))
}
