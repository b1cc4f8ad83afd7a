//! The pipeline board (漏斗看板, `/board`) and the forecast board (`/forecast`).
//!
//! The board has a column per open stage of a pipeline; the forecast board a column per
//! expected close month (the first holds deals without a date or dated before the first
//! month). Column headers are SQL aggregates over everything that matches the filters within
//! the viewer's scope; each column shows its biggest deals first and loads more as it is
//! scrolled (htmx `revealed`). Dragging a card posts the move to `/board/move`, which calls
//! `ops::move_opportunity` like the opportunity page: a gate's unmet requirements come back
//! as a dialog asking for exactly those; dropping on another month posts `/forecast/move`,
//! an ordinary update of the close date (same day of month, clamped to the month's end; the
//! month's last day when the deal had none).

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::future::try_join_all;
use shangji_core::model::{Grade, Opportunity, Pipeline, RecordKind, StageKind, User};
use shangji_core::opportunity::OpportunityInput;
use shangji_core::process::Unmet;
use shangji_core::visibility::Scope;
use shangji_core::{alerts, Field, Money};
use shangji_store::{Column, ColumnTotal, Columns, ListQuery};
use time::{Date, Month};

use super::opportunity::{panel, place, MoveForm, PanelItem};
use super::{error_text, render, shown_in_form, urlencode, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops;
use crate::state::AppState;
use shangji_core::calendar::china_date;

mod quick;

use quick::{account_options, quick_create, Quick};

/// Cards a column shows at first and per "load more".
const PAGE: i64 = 20;
/// Months on the forecast board after the undated / overdue column.
const MONTHS: usize = 6;

// ---- Filters, kept in the URL ----

/// The board's filters as given in the URL (unreadable values are ignored).
#[derive(Debug, Clone, Default)]
struct Filters {
    pipeline: Option<i64>,
    owner: Option<i64>,
    team: Option<i64>,
    close_from: Option<Date>,
    close_to: Option<Date>,
    tag: String,
    grade: Option<Grade>,
    /// Forecast: the first month shown (`YYYY-MM`).
    start: Option<(i32, Month)>,
}

fn iso_date(v: &str) -> Option<Date> {
    Date::parse(
        v.trim(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .ok()
}

fn parse_month(v: &str) -> Option<(i32, Month)> {
    let (y, m) = v.trim().split_once('-')?;
    let year: i32 = y.parse().ok().filter(|y| (1900..=9999).contains(y))?;
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Some((year, month))
}

impl Filters {
    fn read(params: &[(String, String)]) -> Filters {
        let mut f = Filters::default();
        for (k, v) in params {
            let v = v.trim();
            match k.as_str() {
                "pipeline" => f.pipeline = v.parse().ok(),
                "owner" => f.owner = v.parse().ok(),
                "team" => f.team = v.parse().ok(),
                "close_from" => f.close_from = iso_date(v),
                "close_to" => f.close_to = iso_date(v),
                "tag" => f.tag = v.chars().take(50).collect(),
                "grade" => f.grade = v.parse().ok(),
                "start" => f.start = parse_month(v),
                _ => {}
            }
        }
        f
    }

    /// The filters as a query string (without `?`), to keep them in links.
    fn query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut add = |k: &str, v: String| parts.push(format!("{k}={}", urlencode(&v)));
        if let Some(p) = self.pipeline {
            add("pipeline", p.to_string());
        }
        if let Some(o) = self.owner {
            add("owner", o.to_string());
        }
        if let Some(t) = self.team {
            add("team", t.to_string());
        }
        if let Some(d) = self.close_from {
            add("close_from", d.to_string());
        }
        if let Some(d) = self.close_to {
            add("close_to", d.to_string());
        }
        if !self.tag.is_empty() {
            add("tag", self.tag.clone());
        }
        if let Some(g) = self.grade {
            add("grade", g.as_str().to_string());
        }
        if let Some((y, m)) = self.start {
            add("start", format!("{y:04}-{:02}", m as u8));
        }
        parts.join("&")
    }

    /// The store query: open, not archived, in the pipeline (when one is given), and the
    /// filters. A team outside the viewer's scope matches nothing more than the scope does.
    fn list_query(&self, v: &Viewer, pipeline: Option<i64>) -> ListQuery {
        let mut q = ListQuery {
            eq: vec![("status", StageKind::Open.as_str().into())],
            owner_id: self.owner,
            ..Default::default()
        };
        if let Some(p) = pipeline {
            q.eq.push(("pipeline_id", p.into()));
        }
        if let Some(g) = self.grade {
            q.eq.push(("grade", g.as_str().into()));
        }
        if let Some(t) = self.team {
            q.owner_ids = Some(v.ctx.dir.org.members(t));
        }
        if let Some(d) = self.close_from {
            q.ranges.push(("close_date", ">=", d.into()));
        }
        if let Some(d) = self.close_to {
            q.ranges.push(("close_date", "<=", d.into()));
        }
        q
    }

    fn tag(&self) -> Option<&str> {
        Some(self.tag.as_str()).filter(|t| !t.is_empty())
    }
}

fn first_of(year: i32, month: Month) -> Date {
    Date::from_calendar_date(year, month, 1).expect("the first of a month exists")
}

fn next_month(d: Date) -> Date {
    let (y, m) = match d.month() {
        Month::December => (d.year() + 1, Month::January),
        m => (d.year(), m.next()),
    };
    first_of(y, m)
}

/// The new close date when a deal is dropped on the month starting `first`: the same day of
/// the month, clamped to the month's end; the month's last day when it had no date.
pub(crate) fn redate(first: Date, old: Option<Date>) -> Date {
    let last = next_month(first).previous_day().expect("a day before");
    match old {
        Some(d) => Date::from_calendar_date(first.year(), first.month(), d.day()).unwrap_or(last),
        None => last,
    }
}

// ---- What the pages show ----

struct CardView {
    id: i64,
    version: i64,
    title: String,
    account: String,
    amount: String,
    close_date: String,
    owner: String,
    /// Days since the last customer-facing follow-up; `None` when there was none.
    quiet_days: Option<i64>,
    stage_days: i64,
    rotting: bool,
    next_step: String,
    stage: String,
}

struct ColumnView {
    /// The stage id, or the month bucket (0 = undated / overdue).
    key: i64,
    name: String,
    /// Forecast: the month a drop re-dates to (`YYYY-MM`), empty for the first column.
    month: String,
    count: i64,
    amount: String,
    weighted: String,
    cards: Vec<CardView>,
    /// Where the next cards come from, when there are more.
    more_url: Option<String>,
}

/// Sums of one column over currencies, each shown in its own currency.
fn sums(tr: Tr, totals: &[ColumnTotal], key: i64) -> (i64, String, String) {
    let mine: Vec<&ColumnTotal> = totals.iter().filter(|t| t.key == key).collect();
    let count = mine.iter().map(|t| t.count).sum();
    let show = |pick: fn(&ColumnTotal) -> i64| {
        if mine.is_empty() {
            return tr.money_short(&Money::cny(0));
        }
        mine.iter()
            .map(|t| {
                tr.money_short(&Money {
                    amount_minor: pick(t),
                    currency: t.currency.clone(),
                })
            })
            .collect::<Vec<_>>()
            .join(" + ")
    };
    (count, show(|t| t.amount_minor), show(|t| t.weighted_minor))
}

/// Loads one page of a column's cards and what they show.
async fn cards(
    s: &AppState,
    v: &Viewer,
    f: &Filters,
    pipeline: Option<i64>,
    column: &Column,
    offset: i64,
    users: &[User],
) -> Result<(Vec<CardView>, bool), AppError> {
    let tr = v.tr;
    let mut q = f.list_query(v, pipeline);
    q.limit = PAGE + 1;
    q.offset = offset;
    let mut found = s.db.board_cards(&v.ctx.scope, &q, f.tag(), column).await?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let ids: Vec<i64> = found.iter().map(|c| c.opportunity.id).collect();
    let kinds = crate::ops::facts::facts_config(&s.db).await?.kinds();
    let last = s.db.last_follow_ups(&ids, &kinds, v.ctx.now).await?;
    let calendar = crate::ops::facts::calendar(&s.db).await?;
    let now = v.ctx.now;
    let dir = &v.ctx.dir;
    let views = found
        .into_iter()
        .map(|c| {
            let o = c.opportunity;
            let stage = dir
                .pipeline(o.pipeline_id)
                .and_then(|p| p.stage(o.stage_id));
            let stage_days = alerts::days_in_stage(&o, now);
            let rotting = alerts::is_rotting(&o, stage, now);
            CardView {
                id: o.id,
                version: o.version,
                title: o.title,
                account: c.account_name,
                amount: tr.money(&o.amount),
                close_date: o
                    .close_date
                    .map_or_else(|| tr.t("value.none").to_string(), |d| d.to_string()),
                owner: super::opportunity::user_name(users, o.owner_id),
                quiet_days: last.iter().find(|(id, _)| *id == o.id).map(|(_, at)| {
                    alerts::days_without_follow_up(Some(*at), o.created_at, now, &calendar)
                }),
                stage_days,
                rotting,
                next_step: o.next_step.unwrap_or_default(),
                stage: stage.map_or_else(String::new, |s| s.name(tr.lang).to_string()),
            }
        })
        .collect();
    Ok((views, more))
}

/// Which board a request is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Board,
    Forecast,
}

impl Mode {
    fn path(self) -> &'static str {
        match self {
            Mode::Board => "/board",
            Mode::Forecast => "/forecast",
        }
    }
}

/// The pipeline a board shows: the one asked for (if visible and not archived), else the
/// default.
fn chosen_pipeline<'a>(v: &'a Viewer, f: &Filters) -> Option<&'a Pipeline> {
    let pipelines = &v.ctx.dir.pipelines;
    f.pipeline
        .and_then(|id| pipelines.iter().find(|p| p.id == id && !p.archived))
        .or_else(|| pipelines.iter().find(|p| p.is_default && !p.archived))
        .or_else(|| pipelines.iter().find(|p| !p.archived))
}

/// The forecast's month bounds: the first of the start month and of each month after.
fn month_bounds(v: &Viewer, f: &Filters) -> Vec<Date> {
    let start = match f.start {
        Some((y, m)) => first_of(y, m),
        None => {
            let d = china_date(v.ctx.now);
            first_of(d.year(), d.month())
        }
    };
    let mut bounds = vec![start];
    for _ in 0..MONTHS {
        let next = next_month(*bounds.last().expect("not empty"));
        bounds.push(next);
    }
    bounds
}

fn month_name(tr: Tr, d: Date) -> String {
    tr.fmt(
        "board.month",
        &[
            ("year", &d.year().to_string()),
            ("month", &(d.month() as u8).to_string()),
        ],
    )
}

/// Every column with its totals and first cards.
async fn columns(
    s: &AppState,
    v: &Viewer,
    f: &Filters,
    mode: Mode,
) -> Result<Vec<ColumnView>, AppError> {
    let tr = v.tr;
    let users = s.db.users().await?;
    let query = f.query();
    let more_url = |key: i64| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("{}/column?key={key}&offset={PAGE}{sep}{query}", mode.path())
    };
    let mut out = Vec::new();
    match mode {
        Mode::Board => {
            let Some(p) = chosen_pipeline(v, f) else {
                return Ok(out);
            };
            let q = f.list_query(v, Some(p.id));
            let mut stages: Vec<_> = p
                .stages
                .iter()
                .filter(|st| st.kind == StageKind::Open && !st.archived)
                .collect();
            stages.sort_by_key(|st| st.position);
            // The totals and every column's first cards are read at the same time.
            let columns: Vec<Column> = stages.iter().map(|st| Column::Stage(st.id)).collect();
            let first_cards = try_join_all(
                columns
                    .iter()
                    .map(|column| cards(s, v, f, Some(p.id), column, 0, &users)),
            );
            let (totals, first_cards) = tokio::join!(
                s.db.board_totals(&v.ctx.scope, &q, f.tag(), &Columns::Stage),
                first_cards
            );
            let (totals, first_cards) = (totals?, first_cards?);
            for (st, (cards, more)) in stages.into_iter().zip(first_cards) {
                let (count, amount, weighted) = sums(tr, &totals, st.id);
                out.push(ColumnView {
                    key: st.id,
                    name: st.name(tr.lang).to_string(),
                    month: String::new(),
                    count,
                    amount,
                    weighted,
                    cards,
                    more_url: more.then(|| more_url(st.id)),
                });
            }
        }
        Mode::Forecast => {
            let pipeline = f
                .pipeline
                .and_then(|id| v.ctx.dir.pipeline(id))
                .map(|p| p.id);
            let q = f.list_query(v, pipeline);
            let bounds = month_bounds(v, f);
            let by_month = Columns::CloseMonth {
                bounds: bounds.clone(),
            };
            // The totals and every column's first cards are read at the same time.
            let columns: Vec<Column> = (0..=MONTHS as i64)
                .map(|key| forecast_column(&bounds, key).expect("in range"))
                .collect();
            let first_cards = try_join_all(
                columns
                    .iter()
                    .map(|column| cards(s, v, f, pipeline, column, 0, &users)),
            );
            let (totals, first_cards) = tokio::join!(
                s.db.board_totals(&v.ctx.scope, &q, f.tag(), &by_month),
                first_cards
            );
            let (totals, first_cards) = (totals?, first_cards?);
            for (key, (cards, more)) in (0..=MONTHS as i64).zip(first_cards) {
                let (count, amount, weighted) = sums(tr, &totals, key);
                let (name, month) = match key {
                    0 => (tr.t("forecast.undated").to_string(), String::new()),
                    _ => {
                        let first = bounds[key as usize - 1];
                        (
                            month_name(tr, first),
                            format!("{:04}-{:02}", first.year(), first.month() as u8),
                        )
                    }
                };
                out.push(ColumnView {
                    key,
                    name,
                    month,
                    count,
                    amount,
                    weighted,
                    cards,
                    more_url: more.then(|| more_url(key)),
                });
            }
        }
    }
    Ok(out)
}

fn forecast_column(bounds: &[Date], key: i64) -> Option<Column> {
    match key {
        0 => Some(Column::Undated { before: bounds[0] }),
        k if k > 0 && (k as usize) < bounds.len() => Some(Column::Dated {
            from: bounds[k as usize - 1],
            to: bounds[k as usize],
        }),
        _ => None,
    }
}

/// The board's columns (the part re-rendered after a move).
#[derive(Template)]
#[template(path = "board_body.html")]
struct BoardBody {
    tr: Tr,
    forecast: bool,
    columns: Vec<ColumnView>,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    forecast: bool,
    /// The page's filters as a query string.
    view: String,
    pipelines: Vec<Choice>,
    owners: Vec<Choice>,
    teams: Vec<Choice>,
    grades: Vec<Choice>,
    close_from: String,
    close_to: String,
    tag: String,
    start: String,
    won_stage: Option<i64>,
    lost_stage: Option<i64>,
    columns: Vec<ColumnView>,
    quick: Quick,
    quick_open: bool,
}

async fn page(
    s: &AppState,
    v: &Viewer,
    f: &Filters,
    mode: Mode,
    quick: Quick,
) -> Result<BoardPage, AppError> {
    let tr = v.tr;
    let columns = columns(s, v, f, mode).await?;
    let chosen = match mode {
        Mode::Board => chosen_pipeline(v, f).map(|p| p.id),
        Mode::Forecast => f.pipeline,
    };
    let mut pipelines: Vec<Choice> = Vec::new();
    if mode == Mode::Forecast {
        pipelines.push(Choice::new(
            "",
            tr.t("forecast.all_pipelines"),
            chosen.is_none(),
        ));
    }
    pipelines.extend(
        v.ctx
            .dir
            .pipelines
            .iter()
            .filter(|p| !p.archived)
            .map(|p| Choice::new(p.id.to_string(), p.name.clone(), Some(p.id) == chosen)),
    );
    let users = s.db.users().await?;
    let in_scope = |id: i64| match &v.ctx.scope {
        Scope::All => true,
        Scope::Teams { members, .. } => members.contains(&id),
        Scope::Own { user_id, .. } => *user_id == id,
    };
    let mut owners = vec![Choice::new("", tr.t("board.everyone"), f.owner.is_none())];
    owners.extend(
        users
            .iter()
            .filter(|u| in_scope(u.id) && (u.active || f.owner == Some(u.id)))
            .map(|u| {
                Choice::new(
                    u.id.to_string(),
                    u.display_name.clone(),
                    f.owner == Some(u.id),
                )
            }),
    );
    let mut teams = vec![Choice::new("", tr.t("board.all_teams"), f.team.is_none())];
    teams.extend(
        v.ctx
            .dir
            .org
            .teams
            .iter()
            .filter(|t| !t.archived)
            .filter(|t| match &v.ctx.scope {
                Scope::All => true,
                Scope::Teams { teams, .. } => teams.iter().any(|root| {
                    shangji_core::visibility::subtree(&v.ctx.dir.org.teams, *root).contains(&t.id)
                }),
                Scope::Own { .. } => false,
            })
            .map(|t| Choice::new(t.id.to_string(), t.name.clone(), f.team == Some(t.id))),
    );
    let mut grades = vec![Choice::new("", tr.t("board.any_grade"), f.grade.is_none())];
    grades.extend(
        Grade::ALL
            .iter()
            .map(|g| Choice::new(g.as_str(), g.as_str().to_uppercase(), f.grade == Some(*g))),
    );
    let (won_stage, lost_stage) = match chosen_pipeline(v, f).filter(|_| mode == Mode::Board) {
        Some(p) => {
            let first = |kind| {
                let mut st: Vec<_> = p
                    .stages
                    .iter()
                    .filter(|s| s.kind == kind && !s.archived)
                    .collect();
                st.sort_by_key(|s| s.position);
                st.first().map(|s| s.id)
            };
            (first(StageKind::Won), first(StageKind::Lost))
        }
        None => (None, None),
    };
    let quick_open = quick.open || !quick.errors.is_empty();
    Ok(BoardPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("{}{}", mode.path(), {
            let q = f.query();
            if q.is_empty() {
                q
            } else {
                format!("?{q}")
            }
        }),
        nav: v.nav(match mode {
            Mode::Board => "board",
            Mode::Forecast => "forecast",
        }),
        forecast: mode == Mode::Forecast,
        view: f.query(),
        pipelines,
        owners,
        teams,
        grades,
        close_from: f.close_from.map(|d| d.to_string()).unwrap_or_default(),
        close_to: f.close_to.map(|d| d.to_string()).unwrap_or_default(),
        tag: f.tag.clone(),
        start: {
            let b = month_bounds(v, f)[0];
            format!("{:04}-{:02}", b.year(), b.month() as u8)
        },
        won_stage,
        lost_stage,
        columns,
        quick,
        quick_open,
    })
}

async fn board(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let f = Filters::read(&params);
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    let quick = Quick {
        account: param("account").unwrap_or_default().to_string(),
        open: param("quick") == Some("1"),
        ..Quick::default()
    };
    match page(&s, &v, &f, Mode::Board, quick).await {
        Ok(p) => render(p),
        Err(e) => v.error("/board", e),
    }
}

async fn forecast(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let f = Filters::read(&params);
    match page(&s, &v, &f, Mode::Forecast, Quick::default()).await {
        Ok(p) => render(p),
        Err(e) => v.error("/forecast", e),
    }
}

/// More cards of one column (the "load more" sentinel).
#[derive(Template)]
#[template(path = "board_cards.html")]
struct CardsFragment {
    tr: Tr,
    forecast: bool,
    col: ColumnView,
}

async fn more_cards(s: &AppState, v: &Viewer, params: &[(String, String)], mode: Mode) -> Response {
    let f = Filters::read(params);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.trim().parse::<i64>().ok())
    };
    let (Some(key), offset) = (get("key"), get("offset").unwrap_or(0).max(0)) else {
        return v.error(mode.path(), AppError::NotFound);
    };
    let (pipeline, column) = match mode {
        Mode::Board => {
            let Some(p) = chosen_pipeline(v, &f) else {
                return v.error(mode.path(), AppError::NotFound);
            };
            if p.stage(key).is_none() {
                return v.error(mode.path(), AppError::NotFound);
            }
            (Some(p.id), Column::Stage(key))
        }
        Mode::Forecast => {
            let bounds = month_bounds(v, &f);
            let Some(c) = forecast_column(&bounds, key) else {
                return v.error(mode.path(), AppError::NotFound);
            };
            (f.pipeline, c)
        }
    };
    let users = match s.db.users().await {
        Ok(users) => users,
        Err(e) => return v.error(mode.path(), e.into()),
    };
    match cards(s, v, &f, pipeline, &column, offset, &users).await {
        Ok((cards, more)) => {
            let query = f.query();
            let sep = if query.is_empty() { "" } else { "&" };
            render(CardsFragment {
                tr: v.tr,
                forecast: mode == Mode::Forecast,
                col: ColumnView {
                    key,
                    name: String::new(),
                    month: String::new(),
                    count: 0,
                    amount: String::new(),
                    weighted: String::new(),
                    cards,
                    more_url: more.then(|| {
                        format!(
                            "{}/column?key={key}&offset={}{sep}{query}",
                            mode.path(),
                            offset + PAGE
                        )
                    }),
                },
            })
        }
        Err(e) => v.error(mode.path(), e),
    }
}

async fn board_column(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    more_cards(&s, &v, &params, Mode::Board).await
}

async fn forecast_column_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    more_cards(&s, &v, &params, Mode::Forecast).await
}

// ---- Moves ----

/// What a drop answered, for board.js: `moved` (the body is the new board body), `dialog`
/// (a dialog asking for what is missing), `refused` or `approval` (a message; the card goes
/// back).
pub(super) const OUTCOME: &str = "x-board-outcome";

fn outcome(status: StatusCode, kind: &'static str, body: Response) -> Response {
    let mut r = body;
    *r.status_mut() = status;
    r.headers_mut()
        .insert(OUTCOME, axum::http::HeaderValue::from_static(kind));
    r
}

fn message(status: StatusCode, kind: &'static str, text: String) -> Response {
    let body = (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response();
    outcome(status, kind, body)
}

/// The re-rendered columns after a change.
async fn moved(s: &AppState, v: &Viewer, view: &str, mode: Mode) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(view).unwrap_or_default();
    let f = Filters::read(&params);
    match columns(s, v, &f, mode).await {
        Ok(columns) => outcome(
            StatusCode::OK,
            "moved",
            render(BoardBody {
                tr: v.tr,
                forecast: mode == Mode::Forecast,
                columns,
            }),
        ),
        Err(e) => message(e.status(), "refused", error_text(v.tr, &e).1),
    }
}

/// The dialog asking for what a move still needs.
#[derive(Template)]
#[template(path = "board_dialog.html")]
struct MoveDialog {
    tr: Tr,
    csrf: String,
    id: i64,
    version: i64,
    view: String,
    stage_id: i64,
    title: String,
    heading: String,
    lost: bool,
    /// A drop on a won stage: confirm the deal's amount and the day it is won.
    won: Option<(String, String)>,
    reasons: Vec<Choice>,
    loss_note: String,
    competitor: String,
    panel: Vec<PanelItem>,
    errors: Errors,
}

#[allow(clippy::too_many_arguments)]
async fn dialog(
    s: &AppState,
    v: &Viewer,
    id: i64,
    view: String,
    form: MoveForm,
    missing: Vec<Unmet>,
    errors: Errors,
) -> Result<MoveDialog, AppError> {
    let tr = v.tr;
    let dir = v.ctx.dir.clone();
    let opp: Opportunity = ops::get(&s.db, &v.ctx, id).await?;
    let p = dir
        .pipeline(opp.pipeline_id)
        .ok_or_else(|| AppError::Internal(format!("pipeline {} is missing", opp.pipeline_id)))?;
    let stage_id: i64 = form.stage_id.parse().unwrap_or_default();
    let target = p.stage(stage_id).ok_or(AppError::NotFound)?;
    let lost = target.kind == StageKind::Lost;
    let won = (target.kind == StageKind::Won).then(|| {
        (
            tr.money(&opp.amount),
            shangji_core::calendar::china_date(v.ctx.now).to_string(),
        )
    });
    let wants_contact = missing.iter().any(|u| u.field == "primary_contact_id");
    let contacts = if wants_contact {
        let params = [
            ("account_id".to_string(), opp.account_id.to_string()),
            ("per_page".to_string(), "200".to_string()),
        ];
        ops::list::<shangji_core::model::Contact>(&s.db, &v.ctx, &params)
            .await?
            .items
    } else {
        vec![]
    };
    let users = s.db.users().await?;
    let mut defs: Vec<_> = dir.custom_fields_of(RecordKind::Opportunity).collect();
    defs.sort_by_key(|d| (d.position, d.id));
    // In the dialog the loss reason has its own select; the panel lists the rest.
    let rest: Vec<Unmet> = missing
        .iter()
        .filter(|u| !(lost && u.field == "loss_reason"))
        .cloned()
        .collect();
    let items = panel(tr, p, &rest, &form, &errors, &contacts, (&defs, &users));
    let mut reasons = vec![Choice::new(
        "",
        tr.t("form.choose"),
        form.loss_reason.is_empty(),
    )];
    reasons.extend(dir.loss_reasons.iter().filter(|r| !r.archived).map(|r| {
        let label = if tr.is_zh() { &r.name_zh } else { &r.name_en };
        Choice::new(r.key.clone(), label.clone(), r.key == form.loss_reason)
    }));
    Ok(MoveDialog {
        tr,
        csrf: v.csrf.clone(),
        id,
        version: opp.version,
        view,
        stage_id,
        title: opp.title,
        heading: if won.is_some() && missing.is_empty() {
            tr.fmt("board.confirm_won_title", &[("to", target.name(tr.lang))])
        } else {
            tr.fmt("board.dialog_title", &[("to", target.name(tr.lang))])
        },
        lost,
        won,
        reasons,
        loss_note: form.loss_note,
        competitor: form.competitor,
        panel: items,
        errors,
    })
}

/// Whether the card is dropped on a won stage of its pipeline.
fn drops_on_won(v: &Viewer, opp: &Opportunity, form: &MoveForm) -> bool {
    let stage: i64 = form.stage_id.parse().unwrap_or_default();
    v.ctx
        .dir
        .pipeline(opp.pipeline_id)
        .and_then(|p| p.stage(stage))
        .is_some_and(|st| st.kind == StageKind::Won)
}

/// Says that the drop won the deal (`x-board-won`) and, when the user may take it back
/// (`process::may_undo_won`), what the undo posts (`x-board-undo`: the stage it came from
/// and the version it has now); board.js shows "已赢单 · 撤销" for a few seconds.
fn offer_undo(v: &Viewer, before: &Opportunity, after: &Opportunity, r: Response) -> Response {
    let mut r = r;
    let h = r.headers_mut();
    h.insert("x-board-won", axum::http::HeaderValue::from_static("1"));
    let may = v.ctx.dir.pipeline(after.pipeline_id).is_some_and(|p| {
        match (p.stage(before.stage_id), p.stage(after.stage_id)) {
            (Some(from), Some(won)) => {
                shangji_core::process::may_undo_won(p, from, won, v.ctx.actor.role)
            }
            _ => false,
        }
    });
    if may {
        let undo = format!("stage_id={}&version={}", before.stage_id, after.version);
        if let Ok(value) = axum::http::HeaderValue::from_str(&undo) {
            h.insert("x-board-undo", value);
        }
    }
    r
}

async fn move_submit(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    let tr = v.tr;
    if let Err(e) = v.check_csrf(&f) {
        return message(e.status(), "refused", error_text(tr, &e).1);
    }
    let Ok(id) = f.text("id").parse::<i64>() else {
        return message(
            StatusCode::NOT_FOUND,
            "refused",
            tr.t("error.not_found").into(),
        );
    };
    let view = f.get("view").to_string();
    let form = MoveForm::posted(&f);
    let before = ops::get::<Opportunity>(&s.db, &v.ctx, id).await.ok();
    let on_won = before.as_ref().is_some_and(|o| drops_on_won(&v, o, &form));
    // A drop on a won stage closes the deal: asked first, with its amount and the day.
    if f.get("confirmed") != "1" && on_won {
        return match dialog(&s, &v, id, view, form, vec![], Errors::default()).await {
            Ok(d) => outcome(StatusCode::OK, "dialog", render(d)),
            Err(e) => message(e.status(), "refused", error_text(tr, &e).1),
        };
    }
    let version = f.text("version").parse().ok();
    let (result, mut errors) = match form.input(tr, version, &v.ctx.dir) {
        Ok(input) => (
            ops::move_opportunity(&s.db, &v.ctx, id, input).await,
            Errors::default(),
        ),
        Err(errors) => (
            Err(AppError::invalid("", "invalid_value", "see the fields")),
            errors,
        ),
    };
    let e = match result {
        Ok(after) => {
            let r = moved(&s, &v, &view, Mode::Board).await;
            return match before.filter(|_| on_won) {
                Some(before) => offer_undo(&v, &before, &after, r),
                None => r,
            };
        }
        Err(AppError::AwaitingApproval(_)) => {
            return message(
                StatusCode::ACCEPTED,
                "approval",
                tr.t("opp.approval_requested").into(),
            )
        }
        Err(e) => e,
    };
    // What the user can supply in the dialog; anything else refuses the drop with a reason.
    let missing = match &e {
        AppError::Unmet { missing, .. } => missing.clone(),
        _ => vec![],
    };
    let in_dialog = !missing.is_empty() || !errors.is_empty() || f.get("dialog") == "1";
    if !in_dialog || !shown_in_form(&e) || matches!(e, AppError::Conflict { .. }) {
        return message(e.status(), "refused", error_text(tr, &e).1);
    }
    if errors.is_empty() && missing.is_empty() {
        place(&mut errors, tr, &e);
    }
    // A dialog sent without a loss reason: say so beside its select.
    if f.get("dialog") == "1" {
        if let Some(u) = missing.iter().find(|u| u.field == "loss_reason") {
            errors.add("loss_reason", u.message(tr.lang));
        }
    }
    let status = e.status();
    match dialog(&s, &v, id, view, form, missing, errors).await {
        Ok(d) => outcome(status, "dialog", render(d)),
        Err(e) => message(e.status(), "refused", error_text(tr, &e).1),
    }
}

/// Re-dates a deal dropped on another month of the forecast board.
async fn forecast_move(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = FormData(f);
    let tr = v.tr;
    if let Err(e) = v.check_csrf(&f) {
        return message(e.status(), "refused", error_text(tr, &e).1);
    }
    let (Ok(id), Some((y, m))) = (f.text("id").parse::<i64>(), parse_month(f.get("month"))) else {
        return message(
            StatusCode::NOT_FOUND,
            "refused",
            tr.t("error.not_found").into(),
        );
    };
    let result = async {
        let opp: Opportunity = ops::get(&s.db, &v.ctx, id).await?;
        let input = OpportunityInput {
            version: f.text("version").parse().ok(),
            close_date: Field::Value(redate(first_of(y, m), opp.close_date)),
            ..Default::default()
        };
        ops::update_opportunity(&s.db, &v.ctx, id, input).await
    }
    .await;
    match result {
        Ok(_) => moved(&s, &v, f.get("view"), Mode::Forecast).await,
        Err(e) => message(e.status(), "refused", error_text(tr, &e).1),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/board/accounts", get(account_options))
        .route("/board", get(board))
        .route("/board/column", get(board_column))
        .route("/board/move", post(move_submit))
        .route("/board/quick", post(quick_create))
        .route("/forecast", get(forecast))
        .route("/forecast/column", get(forecast_column_page))
        .route("/forecast/move", post(forecast_move))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_redated_deal_keeps_its_day_clamped_to_the_month() {
        let cases = [
            (
                date!(2026 - 03 - 01),
                Some(date!(2026 - 01 - 15)),
                date!(2026 - 03 - 15),
            ),
            (
                date!(2026 - 02 - 01),
                Some(date!(2026 - 01 - 31)),
                date!(2026 - 02 - 28),
            ),
            (
                date!(2028 - 02 - 01),
                Some(date!(2026 - 05 - 30)),
                date!(2028 - 02 - 29),
            ),
            (
                date!(2026 - 04 - 01),
                Some(date!(2026 - 12 - 31)),
                date!(2026 - 04 - 30),
            ),
            (date!(2026 - 12 - 01), None, date!(2026 - 12 - 31)),
        ];
        for (month, old, want) in cases {
            assert_eq!(redate(month, old), want, "{month} {old:?}");
        }
    }

    #[test]
    fn filters_survive_the_url() {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(
            "pipeline=2&owner=5&team=3&close_from=2026-01-01&close_to=2026-06-30&tag=%E9%87%8D%E7%82%B9&grade=a&start=2026-07&junk=1",
        )
        .unwrap();
        let f = Filters::read(&params);
        let again: Vec<(String, String)> = serde_urlencoded::from_str(&f.query()).unwrap();
        assert_eq!(Filters::read(&again).query(), f.query());
        assert_eq!(f.tag, "重点");
        assert_eq!(f.start, Some((2026, Month::July)));
    }
}
