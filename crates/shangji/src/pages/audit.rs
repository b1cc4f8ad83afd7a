//! Settings → 审计日志 (admins): the audit log, newest first, filtered by action, user and
//! dates, a page at a time.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use shangji_core::audit::{AuditAction, AuditFilter};
use shangji_core::calendar::CHINA;

use super::{render, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::audit;
use crate::state::AppState;

const PAGE: &str = "/admin/audit";
const PER_PAGE: u32 = 100;

struct Row {
    at: String,
    who: String,
    action: String,
    action_code: &'static str,
    target: String,
    detail: String,
    address: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    actions: Vec<(&'static str, String)>,
    users: Vec<(i64, String)>,
    action: String,
    actor: String,
    from: String,
    to: String,
    rows: Vec<Row>,
    /// The link to the older entries, when there are more.
    older: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    /// Days (yyyy-mm-dd, China time), inclusive.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

fn day_start(text: &str, plus_days: i64) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(text.trim(), &format).ok()?;
    Some(day.midnight().assume_offset(CHINA) + time::Duration::days(plus_days))
}

async fn show(State(s): State<AppState>, v: Viewer, Query(p): Query<Params>) -> Response {
    let page = async {
        let tr = v.tr;
        let filter = AuditFilter {
            action: p.action.parse().ok(),
            actor_id: p.actor.parse().ok(),
            from: day_start(&p.from, 0),
            to: day_start(&p.to, 1),
            before_id: p.before,
            limit: Some(PER_PAGE),
        };
        let entries = audit::list(&s.db, &v.ctx, &filter).await?;
        let older = (entries.len() as u32 == PER_PAGE)
            .then(|| entries.last().map(|e| e.id))
            .flatten()
            .map(|id| {
                let q = serde_urlencoded::to_string([
                    ("action", p.action.as_str()),
                    ("actor", p.actor.as_str()),
                    ("from", p.from.as_str()),
                    ("to", p.to.as_str()),
                    ("before", id.to_string().as_str()),
                ])
                .unwrap_or_default();
                format!("{PAGE}?{q}")
            });
        let name = |id: Option<i64>, login: &Option<String>| {
            let user = id.and_then(|id| v.ctx.dir.user(id));
            match (user, login) {
                (Some(u), _) => format!("{} ({})", u.display_name, u.login),
                (None, Some(l)) => l.clone(),
                (None, None) => tr.t("audit.system").to_string(),
            }
        };
        let rows = entries
            .iter()
            .map(|e| Row {
                at: tr.datetime(e.at),
                who: name(e.actor_id, &e.actor_login),
                action: tr.t(&format!("audit.action.{}", e.action)).to_string(),
                action_code: e.action.as_str(),
                target: e.target.clone(),
                detail: e.detail.clone(),
                address: e.address.clone().unwrap_or_default(),
            })
            .collect();
        let mut users: Vec<(i64, String)> = v
            .ctx
            .dir
            .users
            .iter()
            .map(|u| (u.id, format!("{} ({})", u.display_name, u.login)))
            .collect();
        users.sort_by(|a, b| a.1.cmp(&b.1));
        Ok::<_, AppError>(AuditPage {
            tr,
            csrf: v.csrf.clone(),
            here: PAGE.into(),
            nav: v.nav("settings"),
            tab: "audit",
            actions: AuditAction::ALL
                .iter()
                .map(|a| (a.as_str(), tr.t(&format!("audit.action.{a}")).to_string()))
                .collect(),
            users,
            action: p.action.clone(),
            actor: p.actor.clone(),
            from: p.from.clone(),
            to: p.to.clone(),
            rows,
            older,
        })
    };
    match page.await {
        Ok(p) => render(p),
        Err(e) => v.error(PAGE, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route(PAGE, get(show))
}
