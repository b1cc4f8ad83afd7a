//! The account 360 page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use shangji_core::model::*;
use shangji_core::Money;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::records;
use crate::pages::admin::kind_label;
use crate::pages::opportunity::{describe, source_label, stage_name, user_name, Entry};
use crate::pages::{render, Nav, Viewer};
use crate::state::AppState;

use super::{activity_label, buying_role_label, merge_follow_ups, size_label};

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
    id: i64,
    name: String,
    archived: bool,
    logged: bool,
    facts: Vec<(String, String)>,
    contacts: Vec<(i64, String, String, String, String)>,
    open: Vec<OppRow>,
    won: Vec<OppRow>,
    lost: Vec<OppRow>,
    totals: Vec<TotalView>,
    won_total: String,
    last_follow_up: Option<String>,
    timeline: Vec<Entry>,
    /// The merges it took part in (`pages::merge::notes`).
    merges: Vec<(String, String)>,
    /// Its place in the public pool.
    pool: crate::pages::assignment::PoolBox,
}

pub(super) async fn account_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/accounts/{id}");
    let logged = q.iter().any(|(k, v)| k == "logged" && v == "1");
    match account_inner(&s, &v, id, logged).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

async fn account_inner(
    s: &AppState,
    v: &Viewer,
    id: i64,
    logged: bool,
) -> Result<AccountPage, AppError> {
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
        pool: crate::pages::assignment::pool_box(s, v, acc).await?,
        merges: crate::pages::merge::notes::<Account>(s, v, id, "accounts").await?,
        tr,
        csrf: v.csrf.clone(),
        here: format!("/accounts/{id}"),
        nav: v.nav("accounts"),
        id,
        name: acc.name.clone(),
        archived: acc.archived,
        logged,
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
