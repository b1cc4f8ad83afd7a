//! The record pages: today (首页: due tasks, alerts, deals without follow-up, next steps
//! due, recent changes — mine or my team's), the follow-up form, the opportunity page's
//! inline edits, contacts and tasks, the account 360 page, and the user, team and API token
//! settings. Handlers are thin: they call `ops` and show the answer in the user's language.
//!
//! This module holds what the pages share (labels, the timeline's follow-ups, what the
//! opportunity page shows besides its process) and the routes; each page is a submodule.

mod account;
mod contact;
mod contacts;
mod fields;
mod follow_up;
pub(crate) mod form;
mod tasks;
mod teams;
mod today;
mod tokens;
mod users;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use shangji_core::calendar::china_date;
use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::*;

use super::opportunity::{user_name, Entry};
use super::{error_text, Choice, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::records;
use crate::state::AppState;

use account::account_page;
use contact::contact_page;
use contacts::{contact_link, contact_unlink, ContactRow};
use fields::{field_get, field_post, field_view, FieldView, BUILTIN};
use follow_up::{
    account_contacts, follow_up_form, follow_up_page, follow_up_submit, record_follow_up_page,
    record_follow_up_submit, FollowUpForm,
};
use form::{archive_submit, create_submit, edit_page, edit_submit, new_page, Editable};
use tasks::{task_create, task_done, task_row, TaskRow};
use teams::{team_page, team_update, teams_create, teams_page};
use today::today_page;
use tokens::{token_revoke, tokens_create, tokens_page};
use users::{user_page, user_save, users_create, users_page};

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

/// `?saved=1` after a save on the users and teams pages.
#[derive(serde::Deserialize)]
struct NoticeQuery {
    saved: Option<String>,
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
        follow_up: follow_up_form(
            tr,
            None,
            &all,
            today,
            format!("/opportunities/{}/follow-up", opp.id),
        ),
        account_id: opp.account_id,
        today: today.to_string(),
    })
}

/// The create, edit, archive and follow-up pages of a record kind.
fn editable_routes<T: Editable>() -> Router<AppState> {
    let base = format!("/{}", T::path());
    Router::new()
        .route(
            &format!("{base}/new"),
            get(new_page::<T>).post(create_submit::<T>),
        )
        .route(
            &format!("{base}/{{id}}/edit"),
            get(edit_page::<T>).post(edit_submit::<T>),
        )
        .route(&format!("{base}/{{id}}/archive"), post(archive_submit::<T>))
        .route(
            &format!("{base}/{{id}}/follow-up"),
            get(record_follow_up_page::<T>).post(record_follow_up_submit::<T>),
        )
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(editable_routes::<Account>())
        .merge(editable_routes::<Contact>())
        .merge(editable_routes::<Lead>())
        .route("/contacts/{id}", get(contact_page))
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
