//! The contact page: who they are, their account, the deals they take part in with their
//! buying role in each, and the follow-ups logged with them.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::records;
use crate::pages::opportunity::{stage_name, user_name, Entry};
use crate::pages::{render, Nav, Viewer};
use crate::state::AppState;

use super::{buying_role_label, merge_follow_ups};

struct DealRow {
    id: i64,
    title: String,
    stage: String,
    amount: String,
    close_date: String,
    owner: String,
    /// The contact's part in the deal: buying role, primary contact.
    role: String,
}

#[derive(Template)]
#[template(path = "records_contact.html")]
struct ContactPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    id: i64,
    name: String,
    archived: bool,
    /// The account's id and name, when there is one the user can read.
    account: Option<(i64, String)>,
    facts: Vec<(String, String, &'static str)>,
    deals: Vec<DealRow>,
    timeline: Vec<Entry>,
    logged: bool,
    /// The merges it took part in (`pages::merge::notes`).
    merges: Vec<(String, String)>,
}

pub(super) async fn contact_page(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/contacts/{id}");
    let logged = q.iter().any(|(k, v)| k == "logged" && v == "1");
    match contact_inner(&s, &v, id, logged).await {
        Ok(p) => render(p),
        Err(e) => v.error(&here, e),
    }
}

async fn contact_inner(
    s: &AppState,
    v: &Viewer,
    id: i64,
    logged: bool,
) -> Result<ContactPage, AppError> {
    let tr = v.tr;
    let c = records::contact_360(&s.db, &v.ctx, id).await?;
    let users = s.db.users().await?;
    let none = || tr.t("value.none").to_string();
    let ct = &c.contact;
    let text = |x: &Option<String>| x.clone().unwrap_or_else(none);
    // A link only where there is a value to call or write to.
    let link = |x: &Option<String>, kind: &'static str| if x.is_some() { kind } else { "" };
    let facts = vec![
        (tr.t("lists.col.job_title").to_string(), text(&ct.title), ""),
        (
            tr.t("lists.col.mobile").to_string(),
            text(&ct.mobile),
            link(&ct.mobile, "tel"),
        ),
        (
            tr.t("form.phone").to_string(),
            text(&ct.phone),
            link(&ct.phone, "tel"),
        ),
        (
            tr.t("lists.col.email").to_string(),
            text(&ct.email),
            link(&ct.email, "mailto"),
        ),
        (tr.t("lists.col.wechat").to_string(), text(&ct.wechat), ""),
        (
            tr.t("lists.col.buying_role").to_string(),
            ct.buying_role
                .map_or_else(none, |r| buying_role_label(tr, r).to_string()),
            "",
        ),
        (
            tr.t("lists.col.owner").to_string(),
            ct.owner_id.map_or_else(none, |o| user_name(&users, o)),
            "",
        ),
    ];
    let deals = c
        .deals
        .iter()
        .map(|d| {
            let o = &d.opportunity;
            let mut role: Vec<String> = Vec::new();
            if d.primary {
                role.push(tr.t("contact.primary").to_string());
            }
            if let Some(r) = d.buying_role {
                role.push(buying_role_label(tr, r).to_string());
            }
            DealRow {
                id: o.id,
                title: o.title.clone(),
                stage: stage_name(tr, &v.ctx.dir, Some(o.stage_id)),
                amount: tr.money(&o.amount),
                close_date: o.close_date.map(|d| d.to_string()).unwrap_or_default(),
                owner: user_name(&users, o.owner_id),
                role: role.join(" · "),
            }
        })
        .collect();
    Ok(ContactPage {
        merges: crate::pages::merge::notes::<shangji_core::model::Contact>(s, v, id, "contacts")
            .await?,
        tr,
        csrf: v.csrf.clone(),
        here: format!("/contacts/{id}"),
        nav: v.nav("contacts"),
        id,
        name: ct.name.clone(),
        archived: ct.archived,
        account: c.account.as_ref().map(|a| (a.id, a.name.clone())),
        facts,
        deals,
        timeline: merge_follow_ups(tr, &users, vec![], c.activities.clone()),
        logged,
    })
}
