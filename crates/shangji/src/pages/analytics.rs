//! The report pages (`/analytics` and one page per report): a filter form (pipeline, team,
//! owner, period with quick choices, source, industry), an ECharts chart and the report's
//! tables, CSV / XLSX links carrying the filters, and an empty state when nothing matches.
//! Each page calls the same `ops` report as the API; the tables are the export's tables
//! (`ops::reports::Tabular`), so the page and the download always agree. A filter change
//! re-renders the report body (htmx).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use shangji_core::model::{Opportunity, Source};
use shangji_core::visibility::Scope;
use shangji_core::Money;
use time::{Date, Duration, Month};

use super::{error_text, render, urlencode, Choice, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::reports::{Cell, Names, Sheet, Tabular};
use crate::ops::{self, Report};
use crate::state::AppState;

/// The reports with a page: (URL part, API part, title key).
const REPORTS: &[(&str, &str)] = &[
    ("funnel", "funnel"),
    ("time-in-stage", "time-in-stage"),
    ("4s", "4s"),
    ("waterfall", "waterfall"),
    ("win-loss", "win-loss"),
    ("leaderboard", "leaderboard"),
    ("sources", "sources"),
    ("calibration", "calibration"),
];

/// The other parts' pages the hub links to: (URL, title key, description key).
const OTHER_PAGES: &[(&str, &str)] = &[
    ("/analytics/forecast", "forecast"),
    ("/analytics/horizon", "horizon"),
    ("/analytics/accuracy", "accuracy"),
    ("/analytics/snapshots", "snapshots"),
    ("/review", "review"),
];

// ---- Filters, kept in the URL ----

#[derive(Debug, Clone, Default)]
struct Filters {
    pipeline: Option<i64>,
    team: Option<i64>,
    owner: Option<i64>,
    /// A quick choice: `month`, `90d`, `quarter`, `year` (sets from / to).
    range: String,
    from: String,
    to: String,
    source: String,
    industry: String,
    /// The waterfall's expected-close window (a deal whose close date leaves it slipped).
    close_from: String,
    close_to: String,
}

fn china_today(v: &Viewer) -> Date {
    shangji_core::calendar::china_date(v.ctx.now)
}

fn first_of(y: i32, m: Month) -> Date {
    Date::from_calendar_date(y, m, 1).expect("a first day")
}

impl Filters {
    fn read(params: &[(String, String)]) -> Filters {
        let mut f = Filters::default();
        for (k, val) in params {
            let val = val.trim();
            match k.as_str() {
                "pipeline" => f.pipeline = val.parse().ok(),
                "team" => f.team = val.parse().ok(),
                "owner" => f.owner = val.parse().ok(),
                "range" => f.range = val.chars().take(10).collect(),
                "from" => f.from = val.chars().take(10).collect(),
                "to" => f.to = val.chars().take(10).collect(),
                "source" => f.source = val.chars().take(30).collect(),
                "industry" => f.industry = val.chars().take(100).collect(),
                "close_from" => f.close_from = val.chars().take(10).collect(),
                "close_to" => f.close_to = val.chars().take(10).collect(),
                _ => {}
            }
        }
        f
    }

    /// The period a quick choice stands for, as of today (China time).
    fn quick(&mut self, today: Date) {
        let from = match self.range.as_str() {
            "month" => first_of(today.year(), today.month()),
            "90d" => today - Duration::days(89),
            "quarter" => {
                let m = (today.month() as u8 - 1) / 3 * 3 + 1;
                first_of(today.year(), Month::try_from(m).expect("a month"))
            }
            "year" => first_of(today.year(), Month::January),
            _ => return,
        };
        self.from = from.to_string();
        self.to = today.to_string();
    }

    /// The report's parameters, as the API takes them.
    fn params(&self) -> Vec<(String, String)> {
        let mut p = Vec::new();
        let mut add = |k: &str, v: String| p.push((k.to_string(), v));
        if let Some(id) = self.pipeline {
            add("pipeline_id", id.to_string());
        }
        if let Some(id) = self.team {
            add("team_id", id.to_string());
        }
        if let Some(id) = self.owner {
            add("owner_id", id.to_string());
        }
        if !self.from.is_empty() {
            add("from", self.from.clone());
        }
        if !self.to.is_empty() {
            add("to", self.to.clone());
        }
        if !self.source.is_empty() {
            add("source", self.source.clone());
        }
        if !self.industry.is_empty() {
            add("industry", self.industry.clone());
        }
        if !self.close_from.is_empty() {
            add("close_from", self.close_from.clone());
        }
        if !self.close_to.is_empty() {
            add("close_to", self.close_to.clone());
        }
        p
    }

    /// The page's own query string (without `?`).
    fn query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut add = |k: &str, v: String| parts.push(format!("{k}={}", urlencode(&v)));
        if let Some(id) = self.pipeline {
            add("pipeline", id.to_string());
        }
        if let Some(id) = self.team {
            add("team", id.to_string());
        }
        if let Some(id) = self.owner {
            add("owner", id.to_string());
        }
        for (k, v) in [
            ("from", &self.from),
            ("to", &self.to),
            ("source", &self.source),
            ("industry", &self.industry),
            ("close_from", &self.close_from),
            ("close_to", &self.close_to),
        ] {
            if !v.is_empty() {
                add(k, v.clone());
            }
        }
        parts.join("&")
    }
}

// ---- What the pages show ----

struct RowView {
    cells: Vec<String>,
    highlight: bool,
}

struct TableView {
    title: String,
    head: Vec<String>,
    rows: Vec<RowView>,
}

/// A measure of the 4S cockpit: now, before, and which way it went.
struct Tile {
    label: String,
    now: String,
    before: String,
    /// `up`, `down` or `flat`.
    trend: &'static str,
    /// Whether the move is good news (green) or bad (red).
    good: bool,
}

struct ReportCard {
    href: String,
    title: String,
    text: String,
}

/// The part of a report page that a filter change replaces.
#[derive(Template)]
#[template(path = "analytics_body.html")]
struct Body {
    tr: Tr,
    error: Option<String>,
    empty: bool,
    charts: Vec<String>,
    tiles: Vec<Tile>,
    tables: Vec<TableView>,
    links: Vec<(String, String)>,
    more_links: usize,
    csv: String,
    xlsx: String,
    period: String,
}

#[derive(Template)]
#[template(path = "analytics_report.html")]
struct ReportPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    path: String,
    title: String,
    intro: String,
    pipelines: Vec<Choice>,
    teams: Vec<Choice>,
    owners: Vec<Choice>,
    sources: Vec<Choice>,
    industries: Vec<Choice>,
    ranges: Vec<(String, String)>,
    from: String,
    to: String,
    /// The waterfall's expected-close window inputs (only on that page).
    close_window: bool,
    close_from: String,
    close_to: String,
    /// The report body, rendered (the part htmx replaces).
    body: String,
}

#[derive(Template)]
#[template(path = "analytics_hub.html")]
struct HubPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    reports: Vec<ReportCard>,
    others: Vec<ReportCard>,
}

fn pct(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

fn tables(tr: Tr, sheets: Vec<Sheet>, highlight_col: Option<usize>) -> Vec<TableView> {
    sheets
        .into_iter()
        .map(|s| TableView {
            title: s.title,
            head: s.head,
            rows: s
                .rows
                .into_iter()
                .map(|r| RowView {
                    highlight: highlight_col
                        .and_then(|i| r.get(i))
                        .is_some_and(|c| matches!(c, Cell::Text(t) if !t.is_empty())),
                    cells: r.iter().map(|c| c.show(tr)).collect(),
                })
                .collect(),
        })
        .collect()
}

fn to_json(v: Value) -> String {
    serde_json::to_string(&v).unwrap_or_default()
}

fn bar_chart(title: &str, categories: &[String], series: Vec<(String, Vec<Value>)>) -> String {
    let legend: Vec<&String> = series.iter().map(|(n, _)| n).collect();
    to_json(json!({
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "data": legend, "top": 30},
        "grid": {"left": 8, "right": 8, "top": 72, "bottom": 8, "containLabel": true},
        "xAxis": {"type": "category", "data": categories, "axisLabel": {"interval": 0, "rotate": if categories.len() > 4 { 30 } else { 0 }}},
        "yAxis": {"type": "value"},
        "series": series.into_iter().map(|(name, data)| json!({"type": "bar", "name": name, "data": data})).collect::<Vec<_>>(),
    }))
}

fn yuan(minor: i64) -> Value {
    json!((minor as f64 / 100.0).round())
}

/// What one report shows: the ECharts options, the 4S tiles, the tables, whether it is
/// empty, and links (slipped deals).
struct Shown {
    charts: Vec<String>,
    tiles: Vec<Tile>,
    tables: Vec<TableView>,
    empty: bool,
    links: Vec<(String, String)>,
    /// How many links were left out.
    more_links: usize,
}

/// How many slipped deals the waterfall page lists by name.
const SLIPPED_SHOWN: usize = 100;

impl Shown {
    fn new(charts: Vec<String>, tables: Vec<TableView>, empty: bool) -> Shown {
        Shown {
            charts,
            tiles: vec![],
            tables,
            empty,
            links: vec![],
            more_links: 0,
        }
    }
}

async fn names_of<T>(
    s: &AppState,
    v: &Viewer,
    r: &Report<T>,
) -> Result<
    (
        Vec<shangji_core::model::User>,
        shangji_core::model::Pipeline,
    ),
    AppError,
> {
    let users = s.db.users().await?;
    let pipeline = v
        .ctx
        .dir
        .pipeline(r.pipeline_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    Ok((users, pipeline))
}

macro_rules! with_names {
    ($s:expr, $v:expr, $r:expr, |$n:ident| $body:expr) => {{
        let (users, pipeline) = names_of($s, $v, &$r).await?;
        let $n = Names {
            tr: $v.tr,
            pipeline: &pipeline,
            users: &users,
            reasons: &$v.ctx.dir.loss_reasons,
        };
        $body
    }};
}

/// Runs the report `which` and prepares what its page shows.
async fn show(
    s: &AppState,
    v: &Viewer,
    which: &str,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    match which {
        "funnel" => funnel(s, v, p).await,
        "time-in-stage" => time_in_stage(s, v, p).await,
        "4s" => four_s(s, v, p).await,
        "waterfall" => waterfall(s, v, p).await,
        "win-loss" => win_loss(s, v, p).await,
        "leaderboard" => leaderboard(s, v, p).await,
        "sources" => sources(s, v, p).await,
        "calibration" => calibration(s, v, p).await,
        _ => Err(AppError::NotFound),
    }
}

/// The period of a report in China dates, its last day included.
fn period(from: time::OffsetDateTime, to: time::OffsetDateTime) -> String {
    let day = shangji_core::calendar::china_date;
    format!("{} – {}", day(from), day(to - Duration::milliseconds(1)))
}

/// The funnel: how many entered each stage.
async fn funnel(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::funnel_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let empty = r.rows.iter().all(|x| x.entered == 0);
        let data: Vec<Value> = r
            .rows
            .iter()
            .map(|x| json!({"name": n.stage(x.stage_id), "value": x.entered}))
            .collect();
        let chart = to_json(json!({
            "title": {"text": t("analytics.chart.funnel"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "item"},
            "series": [{"type": "funnel", "sort": "none", "left": "10%", "width": "80%", "top": 40, "bottom": 8, "minSize": "20%",
                "label": {"show": true, "position": "inside", "formatter": "{b}: {c}"}, "data": data}],
        }));
        let shown = Shown::new(vec![chart], tables(tr, r.rows.sheets(&n), Some(9)), empty);
        Ok((shown, period(r.from, r.to)))
    })
}

/// Time in stage: P50 / P75 / P90 days per stage, their monthly trend, and the sales cycle.
async fn time_in_stage(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::time_in_stage_report(db, ctx, p).await?;
    let trend = ops::time_in_stage_trend_report(db, ctx, p).await?;
    let cycle = ops::sales_cycle_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let empty = r.rows.iter().all(|x| x.count == 0) && cycle.rows.count == 0;
        let cats: Vec<String> = r.rows.iter().map(|x| n.stage(x.stage_id)).collect();
        let days = |h: Option<i64>| json!(h.map(|h| (h as f64 / 24.0 * 10.0).round() / 10.0));
        let bars = bar_chart(
            &t("analytics.chart.time"),
            &cats,
            vec![
                (
                    "P50".into(),
                    r.rows.iter().map(|x| days(x.median_hours)).collect(),
                ),
                (
                    "P75".into(),
                    r.rows.iter().map(|x| days(x.p75_hours)).collect(),
                ),
                (
                    "P90".into(),
                    r.rows.iter().map(|x| days(x.p90_hours)).collect(),
                ),
            ],
        );
        let months: Vec<&String> = trend.rows.iter().map(|m| &m.month).collect();
        let lines: Vec<Value> = r
            .rows
            .iter()
            .enumerate()
            .map(|(i, x)| {
                json!({"type": "line", "name": n.stage(x.stage_id), "connectNulls": true,
                    "data": trend.rows.iter().map(|m| days(m.stages.get(i).and_then(|s| s.median_hours))).collect::<Vec<_>>()})
            })
            .collect();
        let trend_chart = to_json(json!({
            "title": {"text": t("analytics.chart.trend"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"},
            "legend": {"type": "scroll", "top": 30},
            "grid": {"left": 8, "right": 8, "top": 72, "bottom": 8, "containLabel": true},
            "xAxis": {"type": "category", "data": months},
            "yAxis": {"type": "value", "name": t("analytics.days")},
            "series": lines,
        }));
        let mut sheets = r.rows.sheets(&n);
        sheets.extend(cycle.rows.sheets(&n));
        sheets.extend(trend.rows.sheets(&n));
        let shown = Shown::new(vec![bars, trend_chart], tables(tr, sheets, None), empty);
        Ok((shown, period(r.from, r.to)))
    })
}

/// The 4S cockpit: size, shape, speed and success, now against the period before.
async fn four_s(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::four_s_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let (c, b) = (&r.rows.current, &r.rows.previous);
        let empty = c.open_count == 0
            && c.win_rate.won + c.win_rate.lost == 0
            && c.success.iter().all(|x| x.entered == 0);
        let money = |m: i64| tr.money_short(&Money::cny(m));
        let trend = |now: f64, before: f64| {
            if (now - before).abs() < 1e-9 {
                "flat"
            } else if now > before {
                "up"
            } else {
                "down"
            }
        };
        let tile =
            |key: &str, now: String, before: String, tr_: &'static str, higher_good: bool| Tile {
                label: t(key),
                now,
                before,
                trend: tr_,
                good: (tr_ == "up") == higher_good || tr_ == "flat",
            };
        let cyc = |d: Option<i64>| {
            d.map_or_else(
                || t("analytics.none"),
                |d| format!("{d} {}", t("analytics.days")),
            )
        };
        let tiles = vec![
            tile(
                "analytics.fs.size",
                money(c.open_amount),
                money(b.open_amount),
                trend(c.open_amount as f64, b.open_amount as f64),
                true,
            ),
            tile(
                "analytics.fs.open_count",
                c.open_count.to_string(),
                b.open_count.to_string(),
                trend(c.open_count as f64, b.open_count as f64),
                true,
            ),
            tile(
                "analytics.fs.weighted",
                money(c.weighted_amount),
                money(b.weighted_amount),
                trend(c.weighted_amount as f64, b.weighted_amount as f64),
                true,
            ),
            tile(
                "analytics.fs.cycle_days",
                cyc(c.cycle_days),
                cyc(b.cycle_days),
                trend(
                    c.cycle_days.unwrap_or(0) as f64,
                    b.cycle_days.unwrap_or(0) as f64,
                ),
                false,
            ),
            tile(
                "analytics.fs.velocity",
                c.velocity_per_day
                    .map_or_else(|| t("analytics.none"), money),
                b.velocity_per_day
                    .map_or_else(|| t("analytics.none"), money),
                trend(
                    c.velocity_per_day.unwrap_or(0) as f64,
                    b.velocity_per_day.unwrap_or(0) as f64,
                ),
                true,
            ),
            tile(
                "analytics.fs.win_rate",
                pct(c.win_rate.by_count),
                pct(b.win_rate.by_count),
                trend(c.win_rate.by_count, b.win_rate.by_count),
                true,
            ),
        ];
        let cats: Vec<String> = c.size.iter().map(|x| n.stage(x.stage_id)).collect();
        let shape = bar_chart(
            &t("analytics.chart.shape"),
            &cats,
            vec![
                (
                    t("analytics.col.amount"),
                    c.size.iter().map(|x| yuan(x.amount)).collect(),
                ),
                (
                    t("analytics.col.needed"),
                    c.size
                        .iter()
                        .map(|x| x.needed.map_or(Value::Null, yuan))
                        .collect(),
                ),
            ],
        );
        let success = bar_chart(
            &t("analytics.chart.success"),
            &cats,
            vec![
                (
                    t("analytics.col.current"),
                    c.success
                        .iter()
                        .map(|x| json!((x.conversion * 1000.0).round() / 10.0))
                        .collect(),
                ),
                (
                    t("analytics.col.previous"),
                    b.success
                        .iter()
                        .map(|x| json!((x.conversion * 1000.0).round() / 10.0))
                        .collect(),
                ),
            ],
        );
        let mut shown = Shown::new(
            vec![shape, success],
            tables(tr, r.rows.sheets(&n).split_off(1), None),
            empty,
        );
        shown.tiles = tiles;
        Ok((shown, period(r.from, r.to)))
    })
}

/// The pipeline waterfall from the start of the period to its end, and the slipped deals by
/// title.
async fn waterfall(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::waterfall_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let w = &r.rows;
        let empty = w.start == 0 && w.end == 0 && w.created == 0 && w.won == 0 && w.lost == 0;
        let steps: Vec<(&str, i64)> = vec![
            ("start", w.start),
            ("created", w.created),
            ("increased", w.increased),
            ("decreased", -w.decreased),
            ("won", -w.won),
            ("lost", -w.lost),
            ("archived", -w.archived),
            ("moved_in", w.moved_in),
            ("moved_out", -w.moved_out),
            ("reopened", w.reopened),
            ("end", w.end),
        ];
        let mut level = 0i64;
        let (mut base, mut up, mut down) = (vec![], vec![], vec![]);
        for (k, d) in &steps {
            match *k {
                "start" | "end" => {
                    base.push(json!(0));
                    up.push(yuan(*d));
                    down.push(Value::Null);
                    level = *d;
                }
                _ if *d >= 0 => {
                    base.push(yuan(level));
                    up.push(yuan(*d));
                    down.push(Value::Null);
                    level += d;
                }
                _ => {
                    level += d;
                    base.push(yuan(level));
                    up.push(Value::Null);
                    down.push(yuan(-d));
                }
            }
        }
        let cats: Vec<String> = steps
            .iter()
            .map(|(k, _)| t(&format!("analytics.wf.{k}")))
            .collect();
        let chart = to_json(json!({
            "title": {"text": t("analytics.chart.waterfall"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": true},
            "xAxis": {"type": "category", "data": cats, "axisLabel": {"interval": 0, "rotate": 30}},
            "yAxis": {"type": "value", "name": "¥"},
            "series": [
                {"type": "bar", "stack": "w", "itemStyle": {"color": "transparent"}, "emphasis": {"disabled": true}, "tooltip": {"show": false}, "data": base},
                {"type": "bar", "stack": "w", "name": t("analytics.up"), "itemStyle": {"color": "#2f7d4f"}, "data": up},
                {"type": "bar", "stack": "w", "name": t("analytics.down"), "itemStyle": {"color": "#b3412e"}, "data": down},
            ],
        }));
        let mut sheets = r.rows.sheets(&n);
        sheets.truncate(1);
        let mut shown = Shown::new(vec![chart], tables(tr, sheets, None), empty);
        // The slipped deals by title (the first SLIPPED_SHOWN; the export has all).
        for id in w.slipped.iter().take(SLIPPED_SHOWN) {
            let title = match ops::get::<Opportunity>(db, ctx, *id).await {
                Ok(o) => o.title,
                Err(AppError::NotFound) => format!("{} #{id}", t("analytics.deal")),
                Err(e) => return Err(e),
            };
            shown.links.push((format!("/opportunities/{id}"), title));
        }
        shown.more_links = w.slipped.len().saturating_sub(SLIPPED_SHOWN);
        Ok((shown, period(r.from, r.to)))
    })
}

/// Wins and losses: the loss reasons, and won and lost by source.
async fn win_loss(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::win_loss_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let w = &r.rows;
        let empty = w.by_owner.is_empty();
        let sheets = r.rows.sheets(&n);
        let reasons = &sheets[0];
        let cats: Vec<String> = reasons.rows.iter().map(|x| x[0].show(tr)).collect();
        let lost: Vec<Value> = w.by_reason.iter().map(|x| json!(x.lost)).collect();
        let won_lost = bar_chart(
            &t("analytics.chart.reasons"),
            &cats,
            vec![(t("analytics.col.lost"), lost)],
        );
        let src_cats: Vec<String> = w.by_source.iter().map(|x| n.source(&x.value)).collect();
        let by_source = bar_chart(
            &t("analytics.chart.by_source"),
            &src_cats,
            vec![
                (
                    t("analytics.col.won"),
                    w.by_source.iter().map(|x| json!(x.won)).collect(),
                ),
                (
                    t("analytics.col.lost"),
                    w.by_source.iter().map(|x| json!(x.lost)).collect(),
                ),
            ],
        );
        Ok((
            Shown::new(vec![won_lost, by_source], tables(tr, sheets, None), empty),
            period(r.from, r.to),
        ))
    })
}

/// The leaderboard: won amount by owner.
async fn leaderboard(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::leaderboard_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let empty = r.rows.is_empty();
        let cats: Vec<String> = r.rows.iter().map(|x| n.user(x.owner_id)).collect();
        let chart = bar_chart(
            &t("analytics.chart.leaderboard"),
            &cats,
            vec![(
                t("analytics.col.won_amount"),
                r.rows.iter().map(|x| yuan(x.won_amount)).collect(),
            )],
        );
        Ok((
            Shown::new(vec![chart], tables(tr, r.rows.sheets(&n), None), empty),
            period(r.from, r.to),
        ))
    })
}

/// Sources: leads, conversions, opportunities and wins by source.
async fn sources(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::sources_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let empty = r.rows.is_empty();
        let cats: Vec<String> = r.rows.iter().map(|x| n.source(&x.source)).collect();
        let chart = bar_chart(
            &t("analytics.chart.sources"),
            &cats,
            vec![
                (
                    t("analytics.col.leads"),
                    r.rows.iter().map(|x| json!(x.leads)).collect(),
                ),
                (
                    t("analytics.col.converted"),
                    r.rows.iter().map(|x| json!(x.converted)).collect(),
                ),
                (
                    t("analytics.col.opportunities"),
                    r.rows.iter().map(|x| json!(x.opportunities)).collect(),
                ),
                (
                    t("analytics.col.won"),
                    r.rows.iter().map(|x| json!(x.won)).collect(),
                ),
            ],
        );
        Ok((
            Shown::new(vec![chart], tables(tr, r.rows.sheets(&n), None), empty),
            period(r.from, r.to),
        ))
    })
}

/// Stage calibration: the empirical probability with its interval against the configured one.
async fn calibration(
    s: &AppState,
    v: &Viewer,
    p: &[(String, String)],
) -> Result<(Shown, String), AppError> {
    let (db, ctx, tr) = (&s.db, &v.ctx, v.tr);
    let t = |k: &str| tr.t(k).to_string();
    let r = ops::calibration_report(db, ctx, p).await?;
    with_names!(s, v, r, |n| {
        let empty = r.rows.iter().all(|x| x.sample == 0);
        let cats: Vec<String> = r.rows.iter().map(|x| n.stage(x.stage_id)).collect();
        let p100 = |x: f64| json!((x * 1000.0).round() / 10.0);
        // The interval as a floating bar (a transparent base up to its low end), the
        // empirical and configured probabilities as points.
        let chart = to_json(json!({
            "title": {"text": t("analytics.chart.calibration"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"},
            "legend": {"type": "scroll", "top": 30, "data": [t("analytics.interval"), t("analytics.col.empirical"), t("analytics.col.configured")]},
            "grid": {"left": 8, "right": 8, "top": 72, "bottom": 8, "containLabel": true},
            "xAxis": {"type": "category", "data": cats},
            "yAxis": {"type": "value", "max": 100, "name": "%"},
            "series": [
                {"type": "bar", "stack": "ci", "itemStyle": {"color": "transparent"}, "tooltip": {"show": false}, "barWidth": 14, "data": r.rows.iter().map(|x| p100(x.low)).collect::<Vec<_>>()},
                {"type": "bar", "stack": "ci", "name": t("analytics.interval"), "itemStyle": {"color": "#9db8d9"}, "barWidth": 14, "data": r.rows.iter().map(|x| p100(x.high - x.low)).collect::<Vec<_>>()},
                {"type": "scatter", "name": t("analytics.col.empirical"), "symbolSize": 12, "itemStyle": {"color": "#1f4e89"}, "data": r.rows.iter().map(|x| p100(x.empirical)).collect::<Vec<_>>()},
                {"type": "scatter", "name": t("analytics.col.configured"), "symbol": "diamond", "symbolSize": 14, "itemStyle": {"color": "#c0392b"}, "data": r.rows.iter().map(|x| p100(x.configured)).collect::<Vec<_>>()},
            ],
        }));
        Ok((
            Shown::new(vec![chart], tables(tr, r.rows.sheets(&n), Some(7)), empty),
            period(r.from, r.to),
        ))
    })
}

/// A refused filter in words: the filter's label, then what is wrong with it.
fn report_error(tr: Tr, e: &AppError) -> String {
    let (field, text) = error_text(tr, e);
    let code = match e {
        AppError::Invalid(f) | AppError::BadRequest(f) => f.code.as_str(),
        _ => "",
    };
    let text = tr
        .get(&format!("analytics.err.{code}"))
        .map_or(text, str::to_string);
    let label = match field.as_str() {
        "from" | "to" | "close_from" | "close_to" | "source" | "industry" => {
            tr.t(&format!("analytics.{field}")).to_string()
        }
        "pipeline_id" => tr.t("analytics.pipeline").to_string(),
        "team_id" => tr.t("analytics.team").to_string(),
        "owner_id" => tr.t("analytics.owner").to_string(),
        _ => return text,
    };
    format!("{label}{}{text}", tr.t("analytics.colon"))
}

async fn body(s: &AppState, v: &Viewer, which: &str, f: &Filters) -> Result<Body, AppError> {
    let api = REPORTS
        .iter()
        .find(|(page, _)| *page == which)
        .map(|(_, api)| *api)
        .ok_or(AppError::NotFound)?;
    let params = f.params();
    let export = |format: &str| {
        let mut q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        q.push(format!("format={format}"));
        format!("/api/v1/analytics/{api}?{}", q.join("&"))
    };
    let (csv, xlsx) = (export("csv"), export("xlsx"));
    match show(s, v, which, &params).await {
        Ok((shown, period)) => Ok(Body {
            tr: v.tr,
            error: None,
            empty: shown.empty,
            charts: if shown.empty { vec![] } else { shown.charts },
            tiles: shown.tiles,
            tables: shown.tables,
            links: shown.links,
            more_links: shown.more_links,
            csv,
            xlsx,
            period,
        }),
        Err(e @ (AppError::BadRequest(_) | AppError::Invalid(_))) => Ok(Body {
            tr: v.tr,
            error: Some(report_error(v.tr, &e)),
            empty: true,
            charts: vec![],
            tiles: vec![],
            tables: vec![],
            links: vec![],
            more_links: 0,
            csv,
            xlsx,
            period: String::new(),
        }),
        Err(e) => Err(e),
    }
}

async fn report_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(which): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/analytics/{which}");
    let mut f = Filters::read(&params);
    f.quick(china_today(&v));
    let body = match body(&s, &v, &which, &f).await {
        Ok(b) => b,
        Err(e) => return v.error(&here, e),
    };
    if headers.contains_key("hx-request") {
        return render(body);
    }
    match page(&s, &v, &which, &f, body).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

async fn page(
    s: &AppState,
    v: &Viewer,
    which: &str,
    f: &Filters,
    body: Body,
) -> Result<ReportPage, AppError> {
    let tr = v.tr;
    let dir = &v.ctx.dir;
    let default = dir.pipelines.iter().find(|p| p.is_default && !p.archived);
    let chosen = f.pipeline.or(default.map(|p| p.id));
    let pipelines = dir
        .pipelines
        .iter()
        .filter(|p| !p.archived)
        .map(|p| Choice::new(p.id.to_string(), p.name.clone(), Some(p.id) == chosen))
        .collect();
    let in_scope = |id: i64| match &v.ctx.scope {
        Scope::All => true,
        Scope::Teams { members, .. } => members.contains(&id),
        Scope::Own { user_id } => *user_id == id,
    };
    let users = s.db.users().await?;
    let mut owners = vec![Choice::new(
        "",
        tr.t("analytics.everyone"),
        f.owner.is_none(),
    )];
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
    let mut teams = vec![Choice::new(
        "",
        tr.t("analytics.all_teams"),
        f.team.is_none(),
    )];
    teams.extend(
        dir.org
            .teams
            .iter()
            .filter(|t| !t.archived)
            .filter(|t| match &v.ctx.scope {
                Scope::All => true,
                Scope::Teams { teams, .. } => teams.iter().any(|root| {
                    shangji_core::visibility::subtree(&dir.org.teams, *root).contains(&t.id)
                }),
                Scope::Own { .. } => false,
            })
            .map(|t| Choice::new(t.id.to_string(), t.name.clone(), f.team == Some(t.id))),
    );
    let mut sources = vec![Choice::new(
        "",
        tr.t("analytics.all_sources"),
        f.source.is_empty(),
    )];
    sources.extend(Source::ALL.iter().map(|x| {
        Choice::new(
            x.as_str(),
            tr.t(&format!("source.{}", x.as_str())).to_string(),
            f.source == x.as_str(),
        )
    }));
    let mut industries = vec![Choice::new(
        "",
        tr.t("analytics.all_industries"),
        f.industry.is_empty(),
    )];
    let mut known = s.db.industries(&v.ctx.scope).await?;
    if !f.industry.is_empty() && !known.contains(&f.industry) {
        known.push(f.industry.clone());
    }
    industries.extend(
        known
            .into_iter()
            .map(|i| Choice::new(i.clone(), i.clone(), f.industry == i)),
    );
    // Quick periods are links carrying the other filters.
    let ranges = ["month", "90d", "quarter", "year"]
        .iter()
        .map(|r| {
            let other = Filters {
                from: String::new(),
                to: String::new(),
                ..f.clone()
            }
            .query();
            let sep = if other.is_empty() { "" } else { "&" };
            (
                format!("/analytics/{which}?range={r}{sep}{other}"),
                tr.t(&format!("analytics.range.{r}")).to_string(),
            )
        })
        .collect();
    let query = f.query();
    let path = format!("/analytics/{which}");
    let key = which.replace('-', "_");
    Ok(ReportPage {
        tr,
        csrf: v.csrf.clone(),
        here: if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        },
        nav: v.nav("analytics"),
        path,
        title: tr.t(&format!("analytics.title.{key}")).to_string(),
        intro: tr.t(&format!("analytics.intro.{key}")).to_string(),
        pipelines,
        teams,
        owners,
        sources,
        industries,
        ranges,
        from: f.from.clone(),
        to: f.to.clone(),
        close_window: which == "waterfall",
        close_from: f.close_from.clone(),
        close_to: f.close_to.clone(),
        body: body
            .render()
            .map_err(|e| AppError::Internal(format!("template: {e}")))?,
    })
}

async fn hub(v: Viewer) -> Response {
    let tr = v.tr;
    let card = |href: String, key: &str| ReportCard {
        href,
        title: tr.t(&format!("analytics.title.{key}")).to_string(),
        text: tr.t(&format!("analytics.intro.{key}")).to_string(),
    };
    render(HubPage {
        tr,
        csrf: v.csrf.clone(),
        here: "/analytics".into(),
        nav: v.nav("analytics"),
        reports: REPORTS
            .iter()
            .map(|(p, _)| card(format!("/analytics/{p}"), &p.replace('-', "_")))
            .collect(),
        others: OTHER_PAGES
            .iter()
            .map(|(href, key)| card(href.to_string(), key))
            .collect(),
    })
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics", get(hub))
        .route("/analytics/{report}", get(report_page))
}
