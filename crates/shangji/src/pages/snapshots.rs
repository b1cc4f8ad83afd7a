//! The horizon (`/analytics/horizon`: a rep's three months, a team's year, the company's three
//! years, with the band of the simulation), the forecast snapshots (`/analytics/snapshots`,
//! taken on demand by a button) and the forecast accuracy (`/analytics/accuracy`). Each calls
//! the same `ops::snapshots` function as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use shangji_core::model::{Role, User};
use shangji_core::Money;
use time::Date;

use super::{error_text, render, Choice, Nav, Viewer};
use crate::i18n::Tr;
use crate::ops::snapshots::{self, Level};
use crate::state::AppState;

const HORIZON: &str = "/analytics/horizon";
const SNAPSHOTS: &str = "/analytics/snapshots";
const ACCURACY: &str = "/analytics/accuracy";

fn money(tr: Tr, minor: i64) -> String {
    tr.money_short(&Money::cny(minor))
}

/// Amounts on a chart: 万元 in Chinese, thousands of yuan in English.
fn chart_value(tr: Tr, minor: i64) -> f64 {
    let per = if tr.is_zh() { 1_000_000.0 } else { 100_000.0 };
    (minor as f64 / per * 100.0).round() / 100.0
}

fn period_label(from: Date, grain: &str) -> String {
    if grain == "quarter" {
        format!("{} Q{}", from.year(), (from.month() as u8 - 1) / 3 + 1)
    } else {
        format!("{}-{:02}", from.year(), from.month() as u8)
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Whom a row is about, by name.
fn who(
    tr: Tr,
    v: &Viewer,
    users: &[User],
    level: &str,
    team: Option<i64>,
    owner: Option<i64>,
) -> String {
    match level {
        "company" => tr.t("hz.company").to_string(),
        "team" => v
            .ctx
            .dir
            .org
            .teams
            .iter()
            .find(|t| Some(t.id) == team)
            .map_or_else(
                || format!("#{}", team.unwrap_or_default()),
                |t| t.name.clone(),
            ),
        _ => users.iter().find(|u| Some(u.id) == owner).map_or_else(
            || format!("#{}", owner.unwrap_or_default()),
            |u| u.display_name.clone(),
        ),
    }
}

fn get_param<'a>(params: &'a [(String, String)], k: &str) -> Option<&'a str> {
    params
        .iter()
        .rfind(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
}

/// Drops empty values (a form's "any" choice) so they are not read as parameters.
fn non_empty(params: Vec<(String, String)>) -> Vec<(String, String)> {
    params.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

// ---- The horizon ----

struct BucketRow {
    label: String,
    won: String,
    existing: String,
    new: String,
    p10: String,
    p50: String,
    p90: String,
}

#[derive(Template)]
#[template(path = "horizon_page.html")]
struct HorizonPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    levels: Vec<Choice>,
    teams: Vec<Choice>,
    owners: Vec<Choice>,
    error: Option<String>,
    title: String,
    model: String,
    chart: String,
    rows: Vec<BucketRow>,
}

async fn horizon(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let tr = v.tr;
    let params = non_empty(params);
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error(HORIZON, e.into()),
    };
    let result = snapshots::horizon_report(&s.db, &v.ctx, &params).await;
    let level = match &result {
        Ok(r) => r.level,
        Err(_) => match get_param(&params, "level") {
            Some("rep") => Level::Rep,
            Some("team") => Level::Team,
            _ => Level::Company,
        },
    };
    let level_key = match level {
        Level::Rep => "rep",
        Level::Team => "team",
        Level::Company => "company",
    };
    let levels = ["rep", "team", "company"]
        .iter()
        .map(|l| Choice::new(*l, tr.t(&format!("hz.level.{l}")), *l == level_key))
        .collect();
    let chosen_team = result.as_ref().ok().and_then(|r| r.team_id);
    let chosen_owner = result.as_ref().ok().and_then(|r| r.owner_id);
    let mut teams: Vec<Choice> = vec![Choice::new("", tr.t("hz.own_team"), false)];
    teams.extend(
        v.ctx
            .dir
            .org
            .teams
            .iter()
            .filter(|t| !t.archived && snapshots::sees_team(&v.ctx, t.id))
            .map(|t| Choice::new(t.id.to_string(), t.name.clone(), Some(t.id) == chosen_team)),
    );
    let mut owners: Vec<Choice> = vec![Choice::new("", tr.t("hz.myself"), false)];
    owners.extend(
        users
            .iter()
            .filter(|u| v.ctx.scope.covers(Some(u.id)) && u.id != v.user.id)
            .map(|u| {
                Choice::new(
                    u.id.to_string(),
                    u.display_name.clone(),
                    Some(u.id) == chosen_owner,
                )
            }),
    );
    let mut page = HorizonPage {
        tr,
        csrf: v.csrf.clone(),
        here: HORIZON.into(),
        nav: v.nav("analytics"),
        tab: "horizon",
        levels,
        teams,
        owners,
        error: None,
        title: String::new(),
        model: String::new(),
        chart: String::new(),
        rows: vec![],
    };
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            let (field, text) = error_text(tr, &e);
            page.error = Some(if field.is_empty() {
                text
            } else {
                format!("{field}: {text}")
            });
            return (e.status(), render(page)).into_response();
        }
    };
    page.title = match r.level {
        Level::Rep => tr.fmt(
            "hz.title_rep",
            &[("who", &who(tr, &v, &users, "rep", None, r.owner_id))],
        ),
        Level::Team => tr.fmt(
            "hz.title_team",
            &[("who", &who(tr, &v, &users, "team", r.team_id, None))],
        ),
        Level::Company => tr.t("hz.title_company").to_string(),
    };
    page.model = tr.fmt(
        "hz.model",
        &[
            ("months", &r.model.monthly_created.len().to_string()),
            ("level", &format!("{:.1}", r.model.level)),
            ("slope", &format!("{:+.2}", r.model.slope)),
            ("conversion", &pct(r.model.conversion)),
            ("runs", &r.runs.to_string()),
        ],
    );
    let labels: Vec<String> = r
        .buckets
        .iter()
        .map(|b| period_label(b.from, &r.grain))
        .collect();
    let val = |m: i64| chart_value(tr, m);
    let unit = tr.t("hz.chart_unit");
    let option = json!({
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "data": [tr.t("hz.existing"), tr.t("hz.new"), tr.t("hz.p50"), tr.t("hz.band")]},
        "grid": {"left": 56, "right": 16, "top": 36, "bottom": 72},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "name": unit},
        "series": [
            {"name": tr.t("hz.existing"), "type": "bar", "stack": "split", "itemStyle": {"color": "#5b8ff9"},
             "data": r.buckets.iter().map(|b| val(b.existing.mean)).collect::<Vec<_>>()},
            {"name": tr.t("hz.new"), "type": "bar", "stack": "split", "itemStyle": {"color": "#9fc5a8"},
             "data": r.buckets.iter().map(|b| val(b.new.mean)).collect::<Vec<_>>()},
            {"name": "P10", "type": "line", "stack": "band", "symbol": "none", "lineStyle": {"opacity": 0},
             "tooltip": {"show": false},
             "data": r.buckets.iter().map(|b| val(b.total.p10)).collect::<Vec<_>>()},
            {"name": tr.t("hz.band"), "type": "line", "stack": "band", "symbol": "none", "lineStyle": {"opacity": 0},
             "areaStyle": {"color": "rgba(240,150,60,0.25)"}, "itemStyle": {"color": "rgba(240,150,60,0.6)"},
             "data": r.buckets.iter().map(|b| val(b.total.p90 - b.total.p10)).collect::<Vec<_>>()},
            {"name": tr.t("hz.p50"), "type": "line", "itemStyle": {"color": "#d9480f"},
             "data": r.buckets.iter().map(|b| val(b.total.p50)).collect::<Vec<_>>()},
        ]
    });
    page.chart = option.to_string();
    page.rows = r
        .buckets
        .iter()
        .zip(labels)
        .map(|(b, label)| BucketRow {
            label,
            won: money(tr, b.won),
            existing: money(tr, b.existing.mean),
            new: money(tr, b.new.mean),
            p10: money(tr, b.total.p10),
            p50: money(tr, b.total.p50),
            p90: money(tr, b.total.p90),
        })
        .collect();
    render(page)
}

// ---- Snapshots ----

struct SnapshotLine {
    id: i64,
    taken_at: String,
    kind: String,
    week: String,
    by: String,
}

#[derive(Template)]
#[template(path = "horizon_snapshots.html")]
struct SnapshotsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    can_take: bool,
    error: Option<String>,
    snapshots: Vec<SnapshotLine>,
}

async fn snapshot_list(State(s): State<AppState>, v: Viewer) -> Response {
    snapshots_page(&s, &v, None).await
}

async fn snapshots_page(s: &AppState, v: &Viewer, error: Option<String>) -> Response {
    let tr = v.tr;
    let result = async {
        Ok::<_, crate::error::AppError>((
            snapshots::snapshots(&s.db, &v.ctx).await?,
            s.db.users().await?,
        ))
    }
    .await;
    let (list, users) = match result {
        Ok(x) => x,
        Err(e) => return v.error(SNAPSHOTS, e),
    };
    let page = SnapshotsPage {
        tr,
        csrf: v.csrf.clone(),
        here: SNAPSHOTS.into(),
        nav: v.nav("analytics"),
        tab: "snapshots",
        can_take: v.user.role != Role::Rep,
        error,
        snapshots: list
            .iter()
            .map(|x| SnapshotLine {
                id: x.id,
                taken_at: tr.datetime(x.taken_at),
                kind: tr.t(&format!("hz.kind.{}", x.kind)).to_string(),
                week: x.week.clone().unwrap_or_default(),
                by: x
                    .taken_by
                    .and_then(|id| users.iter().find(|u| u.id == id))
                    .map_or_else(
                        || tr.t("hz.by_server").to_string(),
                        |u| u.display_name.clone(),
                    ),
            })
            .collect(),
    };
    render(page)
}

async fn take_snapshot(
    State(s): State<AppState>,
    v: Viewer,
    axum::extract::Form(form): axum::extract::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = v.posted(form, SNAPSHOTS) {
        return r;
    }
    match snapshots::snapshot_now(&s.db, &v.ctx).await {
        Ok(taken) => Redirect::to(&format!("{SNAPSHOTS}/{}", taken.snapshot.id)).into_response(),
        Err(e) => {
            let (_, text) = error_text(v.tr, &e);
            let status = e.status();
            (status, snapshots_page(&s, &v, Some(text)).await).into_response()
        }
    }
}

struct SnapshotRowView {
    who: String,
    level: String,
    period: String,
    won: String,
    configured: String,
    empirical: String,
    blended: String,
    p10: String,
    p50: String,
    p90: String,
}

#[derive(Template)]
#[template(path = "horizon_snapshot.html")]
struct SnapshotPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    id: i64,
    taken_at: String,
    kind: String,
    rows: Vec<SnapshotRowView>,
}

async fn snapshot_one(State(s): State<AppState>, v: Viewer, Path(id): Path<i64>) -> Response {
    let tr = v.tr;
    let here = format!("{SNAPSHOTS}/{id}");
    let result = async {
        Ok::<_, crate::error::AppError>((
            snapshots::snapshot(&s.db, &v.ctx, id).await?,
            s.db.users().await?,
        ))
    }
    .await;
    let (view, users) = match result {
        Ok(x) => x,
        Err(e) => return v.error(&here, e),
    };
    let rows = view
        .rows
        .iter()
        .map(|r| SnapshotRowView {
            who: who(tr, &v, &users, &r.level, r.team_id, r.owner_id),
            level: tr.t(&format!("hz.row.{}", r.level)).to_string(),
            period: period_label(r.period_from, &r.grain),
            won: money(tr, r.won),
            configured: money(tr, r.configured),
            empirical: money(tr, r.empirical),
            blended: money(tr, r.blended),
            p10: money(tr, r.p10),
            p50: money(tr, r.p50),
            p90: money(tr, r.p90),
        })
        .collect();
    render(SnapshotPage {
        tr,
        csrf: v.csrf.clone(),
        here,
        nav: v.nav("analytics"),
        tab: "snapshots",
        id,
        taken_at: tr.datetime(view.snapshot.taken_at),
        kind: tr.t(&format!("hz.kind.{}", view.snapshot.kind)).to_string(),
        rows,
    })
}

// ---- Accuracy ----

struct AccuracyLine {
    who: String,
    level: String,
    period: String,
    forecast: String,
    actual: String,
    accuracy: String,
    bias: String,
    taken_at: String,
    complete: bool,
}

#[derive(Template)]
#[template(path = "horizon_accuracy.html")]
struct AccuracyPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    grains: Vec<Choice>,
    methods: Vec<Choice>,
    error: Option<String>,
    mean: String,
    chart: String,
    rows: Vec<AccuracyLine>,
}

async fn accuracy(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let tr = v.tr;
    let params = non_empty(params);
    let grain = get_param(&params, "grain").unwrap_or("month").to_string();
    let method = get_param(&params, "method")
        .unwrap_or("configured")
        .to_string();
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error(ACCURACY, e.into()),
    };
    let mut page = AccuracyPage {
        tr,
        csrf: v.csrf.clone(),
        here: ACCURACY.into(),
        nav: v.nav("analytics"),
        tab: "accuracy",
        grains: ["month", "quarter"]
            .iter()
            .map(|g| Choice::new(*g, tr.t(&format!("hz.grain.{g}")), *g == grain))
            .collect(),
        methods: ["configured", "empirical", "blended", "p50"]
            .iter()
            .map(|m| Choice::new(*m, tr.t(&format!("hz.method.{m}")), *m == method))
            .collect(),
        error: None,
        mean: String::new(),
        chart: String::new(),
        rows: vec![],
    };
    let r = match snapshots::accuracy_report(&s.db, &v.ctx, &params).await {
        Ok(r) => r,
        Err(e) => {
            let (field, text) = error_text(tr, &e);
            page.error = Some(if field.is_empty() {
                text
            } else {
                format!("{field}: {text}")
            });
            return (e.status(), render(page)).into_response();
        }
    };
    page.mean = r.mean_accuracy.map_or_else(
        || tr.t("hz.no_mean").to_string(),
        |m| tr.fmt("hz.mean", &[("mean", &pct(m))]),
    );
    // The chart: the first group shown (the company when the reader sees it).
    let top = r
        .rows
        .first()
        .map(|x| (x.level.clone(), x.team_id, x.owner_id));
    let series: Vec<&snapshots::AccuracyRow> = r
        .rows
        .iter()
        .filter(|x| Some((x.level.clone(), x.team_id, x.owner_id)) == top)
        .collect();
    let val = |m: i64| chart_value(tr, m);
    let option = json!({
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0, "data": [tr.t("hz.forecast"), tr.t("hz.actual"), tr.t("hz.accuracy")]},
        "grid": {"left": 56, "right": 48, "top": 36, "bottom": 72},
        "xAxis": {"type": "category", "data": series.iter().map(|x| period_label(x.period_from, &r.grain)).collect::<Vec<_>>()},
        "yAxis": [
            {"type": "value", "name": tr.t("hz.chart_unit")},
            {"type": "value", "name": "%", "min": 0, "max": 100, "splitLine": {"show": false}}
        ],
        "series": [
            {"name": tr.t("hz.forecast"), "type": "bar", "itemStyle": {"color": "#5b8ff9"},
             "data": series.iter().map(|x| val(x.forecast)).collect::<Vec<_>>()},
            {"name": tr.t("hz.actual"), "type": "bar", "itemStyle": {"color": "#52a35b"},
             "data": series.iter().map(|x| val(x.actual)).collect::<Vec<_>>()},
            {"name": tr.t("hz.accuracy"), "type": "line", "yAxisIndex": 1, "itemStyle": {"color": "#d9480f"},
             "data": series.iter().map(|x| (x.accuracy * 1000.0).round() / 10.0).collect::<Vec<_>>()},
        ]
    });
    page.chart = option.to_string();
    page.rows = r
        .rows
        .iter()
        .map(|x| AccuracyLine {
            who: who(tr, &v, &users, &x.level, x.team_id, x.owner_id),
            level: tr.t(&format!("hz.row.{}", x.level)).to_string(),
            period: period_label(x.period_from, &r.grain),
            forecast: money(tr, x.forecast),
            actual: money(tr, x.actual),
            accuracy: pct(x.accuracy),
            bias: x
                .bias
                .map_or_else(|| "—".to_string(), |b| format!("{:+.1}%", b * 100.0)),
            taken_at: tr.datetime(x.snapshot_taken_at),
            complete: x.complete,
        })
        .collect();
    render(page)
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(HORIZON, get(horizon))
        .route(SNAPSHOTS, get(snapshot_list).post(take_snapshot))
        .route("/analytics/snapshots/{id}", get(snapshot_one))
        .route(ACCURACY, get(accuracy))
}
