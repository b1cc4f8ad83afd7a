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
use shangji_core::model::Source;
use shangji_core::visibility::Scope;
use time::{Date, Duration, Month};

use super::{error_text, render, urlencode, Choice, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::state::AppState;

mod reports;
use reports::show;

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
        Scope::Own { user_id, .. } => *user_id == id,
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
