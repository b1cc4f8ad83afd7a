//! What each report page shows: the report from `ops`, named for people (stages, owners,
//! reasons, sources), as ECharts options, 4S tiles, the export's tables and links.

use serde_json::{json, Value};
use shangji_core::model::{Opportunity, Pipeline, User};
use shangji_core::Money;
use time::Duration;

use super::{RowView, TableView, Tile};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::reports::{Cell, Names, Sheet, Tabular};
use crate::ops::{self, Report};
use crate::pages::Viewer;
use crate::state::AppState;

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
    to_json(bar_option(title, categories, series))
}

/// A bar chart of amounts in yuan (axis and tooltips in 万 / 亿, K / M).
fn money_bar_chart(
    tr: Tr,
    title: &str,
    categories: &[String],
    series: Vec<(String, Vec<Value>)>,
) -> String {
    to_json(crate::pages::money_chart(
        tr,
        bar_option(title, categories, series),
    ))
}

fn bar_option(title: &str, categories: &[String], series: Vec<(String, Vec<Value>)>) -> Value {
    let legend: Vec<&String> = series.iter().map(|(n, _)| n).collect();
    json!({
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "data": legend, "top": 30},
        "grid": {"left": 8, "right": 8, "top": 72, "bottom": 8, "containLabel": true},
        "xAxis": {"type": "category", "data": categories, "axisLabel": {"interval": 0, "rotate": if categories.len() > 4 { 30 } else { 0 }}},
        "yAxis": {"type": "value"},
        "series": series.into_iter().map(|(name, data)| json!({"type": "bar", "name": name, "data": data})).collect::<Vec<_>>(),
    })
}

fn yuan(minor: i64) -> Value {
    json!((minor as f64 / 100.0).round())
}

/// What one report shows: the ECharts options, the 4S tiles, the tables, whether it is
/// empty, and links (slipped deals).
pub(super) struct Shown {
    pub(super) charts: Vec<String>,
    pub(super) tiles: Vec<Tile>,
    pub(super) tables: Vec<TableView>,
    pub(super) empty: bool,
    pub(super) links: Vec<(String, String)>,
    /// How many links were left out.
    pub(super) more_links: usize,
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

/// What a report's rows are named by: the users and the report's pipeline.
struct Naming {
    users: Vec<User>,
    pipeline: Pipeline,
}

impl Naming {
    async fn of<T>(s: &AppState, v: &Viewer, r: &Report<T>) -> Result<Naming, AppError> {
        let pipeline = v
            .ctx
            .dir
            .pipeline(r.pipeline_id)
            .cloned()
            .ok_or(AppError::NotFound)?;
        Ok(Naming {
            users: s.db.users().await?,
            pipeline,
        })
    }

    fn names<'a>(&'a self, v: &'a Viewer) -> Names<'a> {
        Names {
            tr: v.tr,
            pipeline: &self.pipeline,
            users: &self.users,
            reasons: &v.ctx.dir.loss_reasons,
        }
    }
}

/// Runs the report `which` and prepares what its page shows.
pub(super) async fn show(
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
    let shape = money_bar_chart(
        tr,
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
    let chart = to_json(crate::pages::money_chart(
        tr,
        json!({
            "title": {"text": t("analytics.chart.waterfall"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": true},
            "xAxis": {"type": "category", "data": cats, "axisLabel": {"interval": 0, "rotate": 30}},
            "yAxis": {"type": "value"},
            "series": [
                {"type": "bar", "stack": "w", "itemStyle": {"color": "transparent"}, "emphasis": {"disabled": true}, "tooltip": {"show": false}, "data": base},
                {"type": "bar", "stack": "w", "name": t("analytics.up"), "itemStyle": {"color": "#2f7d4f"}, "data": up},
                {"type": "bar", "stack": "w", "name": t("analytics.down"), "itemStyle": {"color": "#b3412e"}, "data": down},
            ],
        }),
    ));
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
    let empty = r.rows.is_empty();
    let cats: Vec<String> = r.rows.iter().map(|x| n.user(x.owner_id)).collect();
    let chart = money_bar_chart(
        tr,
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
    let naming = Naming::of(s, v, &r).await?;
    let n = naming.names(v);
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
}
