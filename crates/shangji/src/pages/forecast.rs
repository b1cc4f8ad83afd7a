//! The forecast pages: `/analytics/forecast` (won and weighted per month, quarter or year,
//! the Monte Carlo P10–P90 band, the open amounts by forecast category, and the open deals
//! whose category the viewer may change in place) and `/analytics/forecast/rollup` (the
//! manager roll-up along the team tree with an adjust form on each row the viewer may
//! adjust, and the period's adjustment history). Both call `ops::forecast` like the API; a
//! category change is `ops::update_opportunity`, as `PATCH /api/v1/opportunities/{id}`.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use shangji_core::model::{ForecastCategory, Opportunity, User};
use shangji_core::opportunity::OpportunityInput;
use shangji_core::rollup::{AdjustmentInput, Node};
use shangji_core::{Field, Money};

use super::opportunity::yuan_to_fen;
use super::{error_text, render, urlencode, Choice, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::notices::user_name;
use crate::ops::{self, forecast};
use crate::state::AppState;

fn cny(tr: Tr, minor: i64) -> String {
    tr.money(&Money {
        amount_minor: minor,
        currency: "CNY".into(),
    })
}

/// An operation's error in the viewer's language: the forecast texts first
/// (`fc.err.<code>.<field>`, `fc.err.<code>`), then the shared ones.
fn fc_error(tr: Tr, e: &AppError) -> (String, String) {
    let (field, text) = error_text(tr, e);
    let code = match e {
        AppError::BadRequest(f) | AppError::Invalid(f) => f.code.clone(),
        AppError::Forbidden(c) => c.to_string(),
        _ => return (field, text),
    };
    let own = tr
        .get(&format!("fc.err.{code}.{field}"))
        .or_else(|| tr.get(&format!("fc.err.{code}")));
    (field, own.map_or(text, str::to_string))
}

/// The non-empty parameters of a filter form.
fn given(params: Vec<(String, String)>) -> Vec<(String, String)> {
    params
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_string()))
        .collect()
}

fn value<'a>(params: &'a [(String, String)], k: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

fn query_of(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn choices(tr: Tr, chosen: &str, options: &[(&str, &str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(v, key)| Choice::new(*v, tr.t(key), *v == chosen))
        .collect()
}

fn weighting_choices(tr: Tr, chosen: &str) -> Vec<Choice> {
    let chosen = if chosen.is_empty() {
        "configured"
    } else {
        chosen
    };
    choices(
        tr,
        chosen,
        &[
            ("configured", "fc.weighting.configured"),
            ("empirical", "fc.weighting.empirical"),
            ("blended", "fc.weighting.blended"),
        ],
    )
}

fn pipeline_choices(v: &Viewer, chosen: &str, any: Option<&str>) -> Vec<Choice> {
    let mut out: Vec<Choice> = any
        .map(|key| Choice::new("", v.tr.t(key), chosen.is_empty()))
        .into_iter()
        .collect();
    out.extend(
        v.ctx
            .dir
            .pipelines
            .iter()
            .filter(|p| !p.archived)
            .map(|p| Choice::new(p.id.to_string(), p.name.clone(), p.id.to_string() == chosen)),
    );
    out
}

fn team_choices(v: &Viewer, chosen: &str) -> Vec<Choice> {
    let mut out = vec![Choice::new("", v.tr.t("fc.all_teams"), chosen.is_empty())];
    out.extend(
        v.ctx
            .dir
            .org
            .teams
            .iter()
            .filter(|t| !t.archived && visible_team(v, t.id))
            .map(|t| Choice::new(t.id.to_string(), t.name.clone(), t.id.to_string() == chosen)),
    );
    out
}

fn visible_team(v: &Viewer, team: i64) -> bool {
    match &v.ctx.scope {
        shangji_core::Scope::All => true,
        shangji_core::Scope::Teams { teams, .. } => teams.contains(&team),
        shangji_core::Scope::Own { .. } => false,
    }
}

// ---- /analytics/forecast ----

struct PeriodRow {
    label: String,
    cells: Vec<String>,
}

struct DealRow {
    id: i64,
    version: i64,
    title: String,
    owner: String,
    close: String,
    amount: String,
    categories: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "forecast_page.html")]
struct ForecastPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    error: Option<String>,
    notice: Option<String>,
    grains: Vec<Choice>,
    periods: String,
    weightings: Vec<Choice>,
    pipelines: Vec<Choice>,
    teams: Vec<Choice>,
    head: Vec<&'static str>,
    rows: Vec<PeriodRow>,
    chart: String,
    csv: String,
    deals: Vec<DealRow>,
    back: String,
}

fn period_label(grain: &str, from: time::Date) -> String {
    match grain {
        "quarter" => format!("{}-Q{}", from.year(), (from.month() as u8 - 1) / 3 + 1),
        "year" => from.year().to_string(),
        _ => format!("{}-{:02}", from.year(), from.month() as u8),
    }
}

async fn forecast_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let params = given(params);
    let tr = v.tr;
    let grain = match value(&params, "grain") {
        "" => "month",
        g => g,
    }
    .to_string();
    let mut page = ForecastPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/analytics/forecast?{}", query_of(&params)),
        nav: v.nav("analytics"),
        error: None,
        notice: (value(&params, "saved") == "1").then(|| tr.t("fc.category.saved").to_string()),
        grains: choices(
            tr,
            &grain,
            &[
                ("month", "fc.grain.month"),
                ("quarter", "fc.grain.quarter"),
                ("year", "fc.grain.year"),
            ],
        ),
        periods: match value(&params, "periods") {
            "" => "3".into(),
            p => p.into(),
        },
        weightings: weighting_choices(tr, value(&params, "weighting")),
        pipelines: pipeline_choices(&v, value(&params, "pipeline_id"), None),
        teams: team_choices(&v, value(&params, "team_id")),
        head: vec![
            "fc.col.period",
            "fc.col.won",
            "fc.col.commit",
            "fc.col.best_case",
            "fc.col.pipeline",
            "fc.col.weighted",
            "fc.col.forecast",
            "fc.col.call",
            "fc.col.p10",
            "fc.col.p50",
            "fc.col.p90",
        ],
        rows: vec![],
        chart: String::new(),
        csv: String::new(),
        deals: vec![],
        back: query_of(&params),
    };
    let op_params: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "saved")
        .cloned()
        .collect();
    let report = match forecast::overview(&s.db, &v.ctx, &op_params).await {
        Ok(r) => r,
        Err(e @ (AppError::BadRequest(_) | AppError::Invalid(_))) => {
            page.error = Some(fc_error(tr, &e).1);
            return render(page);
        }
        Err(e) => return v.error("/analytics/forecast", e),
    };
    page.csv = format!(
        "/api/v1/analytics/forecast/overview?{}&format=csv",
        query_of(&op_params)
    );
    let labels: Vec<String> = report
        .rows
        .iter()
        .map(|r| period_label(&grain, r.from))
        .collect();
    let yuan = |m: i64| (m as f64) / 100.0;
    page.chart = super::money_chart(tr, json!({
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 0, "data": [tr.t("fc.col.won"), tr.t("fc.col.weighted"), tr.t("fc.col.p50"), tr.t("fc.band")]},
        "grid": {"left": 8, "right": 16, "top": 64, "bottom": 8, "containLabel": true},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value"},
        "series": [
            {"name": tr.t("fc.col.won"), "type": "bar", "stack": "fc", "data": report.rows.iter().map(|r| yuan(r.won)).collect::<Vec<_>>()},
            {"name": tr.t("fc.col.weighted"), "type": "bar", "stack": "fc", "data": report.rows.iter().map(|r| yuan(r.weighted)).collect::<Vec<_>>()},
            {"name": "P10", "type": "line", "stack": "band", "symbol": "none", "lineStyle": {"opacity": 0}, "data": report.rows.iter().map(|r| yuan(r.p10)).collect::<Vec<_>>()},
            {"name": tr.t("fc.band"), "type": "line", "stack": "band", "symbol": "none", "lineStyle": {"opacity": 0}, "areaStyle": {"opacity": 0.25}, "data": report.rows.iter().map(|r| yuan(r.p90 - r.p10)).collect::<Vec<_>>()},
            {"name": tr.t("fc.col.p50"), "type": "line", "data": report.rows.iter().map(|r| yuan(r.p50)).collect::<Vec<_>>()},
        ]
    }))
    .to_string();
    page.rows = report
        .rows
        .iter()
        .zip(&labels)
        .map(|(r, label)| PeriodRow {
            label: label.clone(),
            cells: [
                r.won,
                r.commit,
                r.best_case,
                r.pipeline,
                r.weighted,
                r.forecast,
                r.call,
                r.p10,
                r.p50,
                r.p90,
            ]
            .iter()
            .map(|m| cny(tr, *m))
            .collect(),
        })
        .collect();
    // The open deals expected to close in the periods shown, biggest first.
    if let (Some(first), Some(last)) = (report.rows.first(), report.rows.last()) {
        let mut q: Vec<(String, String)> = vec![
            ("status".into(), "open".into()),
            ("close_from".into(), first.from.to_string()),
            ("close_to".into(), last.to.to_string()),
            ("pipeline_id".into(), report.pipeline_id.to_string()),
            ("sort".into(), "-amount_minor".into()),
            ("per_page".into(), "50".into()),
        ];
        for k in ["team_id", "owner_id"] {
            if !value(&op_params, k).is_empty() {
                q.push((k.into(), value(&op_params, k).into()));
            }
        }
        let (deals, users) = match (
            ops::list::<Opportunity>(&s.db, &v.ctx, &q).await,
            s.db.users().await,
        ) {
            (Ok(d), Ok(u)) => (d, u),
            (Err(e), _) => return v.error("/analytics/forecast", e),
            (_, Err(e)) => return v.error("/analytics/forecast", e.into()),
        };
        page.deals = deals
            .items
            .iter()
            .map(|o| DealRow {
                id: o.id,
                version: o.version,
                title: o.title.clone(),
                owner: user_name(&users, o.owner_id),
                close: o.close_date.map(|d| d.to_string()).unwrap_or_default(),
                amount: tr.money(&o.amount),
                categories: [
                    ForecastCategory::Commit,
                    ForecastCategory::BestCase,
                    ForecastCategory::Pipeline,
                    ForecastCategory::Omitted,
                ]
                .iter()
                .map(|c| {
                    Choice::new(
                        c.as_str(),
                        tr.t(&format!("fc.cat.{}", c.as_str())),
                        *c == o.forecast_category,
                    )
                })
                .collect(),
            })
            .collect();
    }
    render(page)
}

/// `POST /analytics/forecast/category`: the deal's forecast category, through the same
/// update as the API (the version sent is the one shown).
async fn category_submit(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(form, "/analytics/forecast") {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = form.text("back");
    let (Ok(id), Ok(version)) = (form.text("id").parse(), form.text("version").parse()) else {
        return v.error("/analytics/forecast", AppError::NotFound);
    };
    let category: ForecastCategory = match form.text("forecast_category").parse() {
        Ok(c) => c,
        Err(_) => {
            return v.error(
                "/analytics/forecast",
                AppError::bad_request("forecast_category", "invalid_value", "unknown category"),
            )
        }
    };
    let input = OpportunityInput {
        forecast_category: Field::Value(category),
        version: Some(version),
        ..Default::default()
    };
    match ops::update_opportunity(&s.db, &v.ctx, id, input).await {
        Ok(_) => {
            let sep = if back.is_empty() { "" } else { "&" };
            Redirect::to(&format!("/analytics/forecast?{back}{sep}saved=1#deal-{id}"))
                .into_response()
        }
        Err(e) => v.error("/analytics/forecast", e),
    }
}

// ---- /analytics/forecast/rollup ----

struct RollupRow {
    depth: usize,
    is_team: bool,
    name: String,
    /// `team-3` / `user-5`: the row's id and its form's target.
    key: String,
    cells: Vec<String>,
    adjustment: Option<String>,
    total: String,
    adjustable: bool,
    error: Option<String>,
    amount: String,
    reason: String,
}

struct HistoryRow {
    at: String,
    who: String,
    target: String,
    amount: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "forecast_rollup.html")]
struct RollupPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    error: Option<String>,
    notice: Option<String>,
    period: String,
    periods: Vec<Choice>,
    weightings: Vec<Choice>,
    pipelines: Vec<Choice>,
    head: Vec<&'static str>,
    rows: Vec<RollupRow>,
    history: Vec<HistoryRow>,
    back: String,
}

/// This month and the next five, then this quarter and the next three.
fn period_choices(v: &Viewer, chosen: &str) -> Vec<Choice> {
    let first = forecast::this_month(&v.ctx).from;
    let mut keys = vec![];
    let mut d = first;
    for _ in 0..6 {
        keys.push(format!("{}-{:02}", d.year(), d.month() as u8));
        d = (d + time::Duration::days(32))
            .replace_day(1)
            .expect("day 1");
    }
    let (mut y, mut q) = (first.year(), (first.month() as u8 - 1) / 3 + 1);
    for _ in 0..4 {
        keys.push(format!("{y}-Q{q}"));
        (y, q) = if q == 4 { (y + 1, 1) } else { (y, q + 1) };
    }
    if !chosen.is_empty() && !keys.iter().any(|k| k == chosen) {
        keys.insert(0, chosen.to_string());
    }
    keys.into_iter()
        .map(|k| {
            let on = k == chosen;
            Choice::new(k.clone(), k, on)
        })
        .collect()
}

fn flatten(
    tr: Tr,
    nodes: &[Node],
    depth: usize,
    v: &Viewer,
    users: &[User],
    out: &mut Vec<RollupRow>,
) {
    for n in nodes {
        let (is_team, name, key) = match (n.team_id, n.user_id) {
            (Some(t), _) => (
                true,
                v.ctx
                    .dir
                    .org
                    .teams
                    .iter()
                    .find(|x| x.id == t)
                    .map_or_else(|| format!("#{t}"), |x| x.name.clone()),
                format!("team-{t}"),
            ),
            (_, Some(u)) => (false, user_name(users, u), format!("user-{u}")),
            _ => continue,
        };
        out.push(RollupRow {
            depth,
            is_team,
            name,
            key,
            cells: [
                n.call,
                n.system_forecast,
                n.numbers.won,
                n.numbers.commit,
                n.numbers.best_case,
                n.numbers.pipeline,
                n.numbers.weighted,
            ]
            .iter()
            .map(|m| cny(tr, *m))
            .collect(),
            adjustment: n.adjustment.as_ref().map(|a| {
                tr.fmt(
                    "fc.adjusted_by",
                    &[
                        ("amount", &cny(tr, a.amount_minor)),
                        ("who", &user_name(users, a.actor_id)),
                        ("at", &tr.datetime(a.at)),
                    ],
                )
            }),
            total: cny(tr, n.total),
            adjustable: n.adjustable,
            error: None,
            amount: String::new(),
            reason: String::new(),
        });
        flatten(tr, &n.children, depth + 1, v, users, out);
    }
}

async fn rollup_view(
    s: &AppState,
    v: &Viewer,
    params: Vec<(String, String)>,
    notice: Option<String>,
    failed: Option<(String, String, String, String)>,
) -> Response {
    let tr = v.tr;
    let params: Vec<(String, String)> = given(params)
        .into_iter()
        .filter(|(k, _)| k != "saved")
        .collect();
    let r = forecast::rollup(&s.db, &v.ctx, &params).await;
    let period = match &r {
        Ok(r) => r.period.clone(),
        Err(_) => value(&params, "period").to_string(),
    };
    let mut page = RollupPage {
        tr,
        csrf: v.csrf.clone(),
        here: format!("/analytics/forecast/rollup?{}", query_of(&params)),
        nav: v.nav("analytics"),
        error: None,
        notice,
        periods: period_choices(v, &period),
        period,
        weightings: weighting_choices(tr, value(&params, "weighting")),
        pipelines: pipeline_choices(v, value(&params, "pipeline_id"), Some("fc.all_pipelines")),
        head: vec![
            "fc.col.call",
            "fc.col.system",
            "fc.col.won",
            "fc.col.commit",
            "fc.col.best_case",
            "fc.col.pipeline",
            "fc.col.weighted",
        ],
        rows: vec![],
        history: vec![],
        back: query_of(&params),
    };
    let r = match r {
        Ok(r) => r,
        Err(e @ (AppError::BadRequest(_) | AppError::Invalid(_))) => {
            page.error = Some(fc_error(tr, &e).1);
            return render(page);
        }
        Err(e) => return v.error("/analytics/forecast/rollup", e),
    };
    let users = match s.db.users().await {
        Ok(u) => u,
        Err(e) => return v.error("/analytics/forecast/rollup", e.into()),
    };
    flatten(tr, &r.rows, 0, v, &users, &mut page.rows);
    if let Some((key, text, amount, reason)) = failed {
        if let Some(row) = page.rows.iter_mut().find(|x| x.key == key) {
            row.error = Some(text);
            row.amount = amount;
            row.reason = reason;
        }
    }
    let history =
        match forecast::adjustments(&s.db, &v.ctx, &[("period".into(), r.period.clone())]).await {
            Ok(h) => h,
            Err(e) => return v.error("/analytics/forecast/rollup", e),
        };
    page.history = history
        .iter()
        .map(|a| HistoryRow {
            at: tr.datetime(a.at),
            who: user_name(&users, a.actor_id),
            target: match (a.team_id, a.user_id) {
                (Some(t), _) => v
                    .ctx
                    .dir
                    .org
                    .teams
                    .iter()
                    .find(|x| x.id == t)
                    .map_or_else(|| format!("#{t}"), |x| x.name.clone()),
                (_, Some(u)) => user_name(&users, u),
                _ => String::new(),
            },
            amount: cny(tr, a.amount_minor),
            reason: a.reason.clone(),
        })
        .collect();
    render(page)
}

async fn rollup_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let notice = params
        .iter()
        .any(|(k, x)| k == "saved" && x == "1")
        .then(|| v.tr.t("fc.adjust.saved").to_string());
    rollup_view(&s, &v, params, notice, None).await
}

/// `POST /analytics/forecast/rollup/adjust`: one row's adjustment, through the same
/// operation as `POST /api/v1/analytics/forecast/adjustments`. A refusal comes back beside
/// the row's form.
async fn adjust_submit(
    State(s): State<AppState>,
    v: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let form = match v.posted(form, "/analytics/forecast/rollup") {
        Ok(f) => f,
        Err(r) => return r,
    };
    let back = form.text("back");
    let back_params: Vec<(String, String)> = back
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, x)| (k.to_string(), percent_decode(x)))
        .collect();
    let key = form.text("target");
    let (team_id, user_id) = match key.split_once('-') {
        Some(("team", id)) => (id.parse().ok(), None),
        Some(("user", id)) => (None, id.parse().ok()),
        _ => (None, None),
    };
    let amount_text = form.text("amount");
    let reason = form.text("reason");
    let fail = |text: String| Some((key.clone(), text, amount_text.clone(), reason.clone()));
    let Some(amount_minor) = yuan_to_fen(&amount_text) else {
        let text = v.tr.t("fc.err.amount").to_string();
        return rollup_view(&s, &v, back_params, None, fail(text)).await;
    };
    let input = AdjustmentInput {
        team_id,
        user_id,
        period: Some(form.text("period")),
        amount_minor: Some(amount_minor),
        currency: None,
        reason: Some(reason.clone()),
    };
    match forecast::adjust(&s.db, &v.ctx, input).await {
        Ok(_) => {
            let sep = if back.is_empty() { "" } else { "&" };
            Redirect::to(&format!(
                "/analytics/forecast/rollup?{back}{sep}saved=1#row-{key}"
            ))
            .into_response()
        }
        Err(e @ (AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            let text = fc_error(v.tr, &e).1;
            rollup_view(&s, &v, back_params, None, fail(text)).await
        }
        Err(e) => v.error("/analytics/forecast/rollup", e),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/forecast", get(forecast_page))
        .route("/analytics/forecast/category", post(category_submit))
        .route("/analytics/forecast/rollup", get(rollup_page))
        .route("/analytics/forecast/rollup/adjust", post(adjust_submit))
}
