//! Outgoing notifications on pages: the admins' channels with the webhook allow-list, the
//! delivery log, and each user's email preferences. Each post is one `ops::delivery` call;
//! what it refuses is shown beside the field it names, in the user's language.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use shangji_core::model::Language;
use shangji_store::Channel;

use super::{error_text, render, shown_in_form, Choice, Errors, FormData, Nav, Viewer};
use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::delivery::{self, AllowList, ChannelInput, PrefsInput};
use crate::state::AppState;

const CHANNELS: &str = "/admin/notification-channels";
const DELIVERIES: &str = "/admin/deliveries";
const PREFS: &str = "/settings/notifications";

/// An error's field and text: the delivery area's words for its codes (URL refusals, the
/// allow-list), else the shared ones.
fn err_text(tr: Tr, e: &AppError) -> (String, String) {
    if let AppError::Invalid(f) | AppError::BadRequest(f) = e {
        if let Some(t) = tr.get(&format!("delivery.err.{}", f.code)) {
            return (f.field.clone(), t.to_string());
        }
    }
    error_text(tr, e)
}

fn kind_label(tr: Tr, kind: &str) -> String {
    tr.get(&format!("delivery.kind.{kind}"))
        .unwrap_or(kind)
        .to_string()
}

fn events_label(tr: Tr, events: &str) -> String {
    tr.get(&format!("delivery.events.{events}"))
        .unwrap_or(events)
        .to_string()
}

// ---- Channels and the allow-list. ----

struct ChannelRow {
    id: i64,
    name: String,
    kind: String,
    url: String,
    secret: String,
    events: String,
    enabled: bool,
}

/// The add / edit form's values.
struct ChannelForm {
    /// `None` when adding.
    id: Option<i64>,
    name: String,
    url: String,
    kinds: Vec<Choice>,
    languages: Vec<Choice>,
    events: Vec<Choice>,
    teams: Vec<Choice>,
    enabled: bool,
    has_secret: bool,
}

#[derive(Template)]
#[template(path = "delivery_channels.html")]
struct ChannelsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    channels: Vec<ChannelRow>,
    form: ChannelForm,
    allow_text: String,
    errors: Errors,
    notice: Option<String>,
}

fn channel_form(v: &Viewer, editing: Option<&Channel>, f: Option<&FormData>) -> ChannelForm {
    let tr = v.tr;
    let pick = |name: &str, stored: String| f.map_or(stored, |f| f.text(name));
    let kind = pick(
        "kind",
        editing.map_or("webhook".into(), |c| c.kind.as_str().to_string()),
    );
    let lang = pick(
        "language",
        editing
            .map_or(v.ctx.lang, |c| c.language)
            .as_str()
            .to_string(),
    );
    let events = pick("events", editing.map_or("all".into(), |c| c.events.clone()));
    let team = pick(
        "team_id",
        editing
            .and_then(|c| c.team_id)
            .map_or(String::new(), |t| t.to_string()),
    );
    let mut teams = vec![Choice::new("", tr.t("delivery.all_teams"), team.is_empty())];
    for t in v.ctx.dir.org.teams.iter().filter(|t| !t.archived) {
        let id = t.id.to_string();
        let checked = id == team;
        teams.push(Choice::new(id, t.name.clone(), checked));
    }
    ChannelForm {
        id: editing.map(|c| c.id),
        name: pick("name", editing.map_or(String::new(), |c| c.name.clone())),
        url: pick("url", editing.map_or(String::new(), |c| c.url.clone())),
        kinds: ["webhook", "wecom", "dingtalk", "feishu"]
            .iter()
            .map(|k| Choice::new(*k, kind_label(tr, k), *k == kind))
            .collect(),
        languages: [Language::ZhCn, Language::En]
            .iter()
            .map(|l| {
                Choice::new(
                    l.as_str(),
                    tr.t(match l {
                        Language::ZhCn => "delivery.lang.zh",
                        Language::En => "delivery.lang.en",
                    }),
                    l.as_str() == lang,
                )
            })
            .collect(),
        events: delivery::CHANNEL_EVENTS
            .iter()
            .map(|e| Choice::new(*e, events_label(tr, e), *e == events))
            .collect(),
        teams,
        enabled: f.map_or(editing.is_none_or(|c| c.enabled), |f| {
            f.has("enabled", "on")
        }),
        has_secret: editing.is_some_and(|c| c.secret.is_some()),
    }
}

async fn channels_view(
    s: &AppState,
    v: &Viewer,
    editing: Option<i64>,
    f: Option<&FormData>,
    allow_typed: Option<String>,
    errors: Errors,
    notice: Option<String>,
) -> Result<ChannelsPage, AppError> {
    v.ctx.require_admin()?;
    let tr = v.tr;
    let stored = s.db.channels().await?;
    let editing = match editing {
        Some(id) => Some(
            stored
                .iter()
                .find(|c| c.id == id)
                .ok_or(AppError::NotFound)?,
        ),
        None => None,
    };
    let form = channel_form(v, editing, f);
    let channels = stored
        .iter()
        .map(|c| ChannelRow {
            id: c.id,
            name: c.name.clone(),
            kind: kind_label(tr, c.kind.as_str()),
            url: c.url.clone(),
            secret: c.secret.as_deref().map(delivery::mask).unwrap_or_default(),
            events: events_label(tr, &c.events),
            enabled: c.enabled,
        })
        .collect();
    let allow_text = match allow_typed {
        Some(t) => t,
        None => delivery::allow_list(&s.db).await?.join("\n"),
    };
    Ok(ChannelsPage {
        tr,
        csrf: v.csrf.clone(),
        here: CHANNELS.into(),
        nav: v.nav("settings"),
        tab: "channels",
        channels,
        form,
        allow_text,
        errors,
        notice,
    })
}

#[derive(Deserialize)]
struct ChannelsQuery {
    edit: Option<i64>,
    done: Option<String>,
}

fn notice_of(tr: Tr, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "saved" => "delivery.notice.saved",
        "deleted" => "delivery.notice.deleted",
        "tested" => "delivery.notice.tested",
        "allow" => "delivery.notice.allow_saved",
        "retried" => "delivery.notice.retried",
        _ => return None,
    };
    Some(tr.t(key).to_string())
}

async fn channels_page(
    State(s): State<AppState>,
    v: Viewer,
    Query(q): Query<ChannelsQuery>,
) -> Response {
    let notice = notice_of(v.tr, q.done.as_deref());
    match channels_view(&s, &v, q.edit, None, None, Errors::default(), notice).await {
        Ok(p) => render(p),
        Err(e) => v.error(CHANNELS, e),
    }
}

fn input_of(f: &FormData) -> ChannelInput {
    let secret = f.get("secret");
    ChannelInput {
        name: f.text("name"),
        kind: f.text("kind"),
        url: f.text("url"),
        // An empty secret field keeps the stored one; the box "remove" clears it.
        secret: if f.has("remove_secret", "on") {
            Some(String::new())
        } else if secret.trim().is_empty() {
            None
        } else {
            Some(secret.to_string())
        },
        language: f.text("language").parse().ok(),
        enabled: Some(f.has("enabled", "on")),
        events: Some(f.text("events")),
        team_id: f.text("team_id").parse().ok(),
        version: None,
    }
}

async fn save_channel(
    s: &AppState,
    v: &Viewer,
    id: Option<i64>,
    raw: Vec<(String, String)>,
) -> Response {
    let f = match v.posted(raw, CHANNELS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    match delivery::save_channel(&s.db, &v.ctx, id, input_of(&f)).await {
        Ok(_) => Redirect::to(&format!("{CHANNELS}?done=saved")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            let (field, text) = err_text(v.tr, &e);
            errors.add(
                if field.is_empty() {
                    "form".into()
                } else {
                    field
                },
                text,
            );
            match channels_view(s, v, id, Some(&f), None, errors, None).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
                Err(e) => v.error(CHANNELS, e),
            }
        }
        Err(e) => v.error(CHANNELS, e),
    }
}

async fn channel_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_channel(&s, &v, None, f).await
}

async fn channel_update(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_channel(&s, &v, Some(id), f).await
}

async fn channel_delete(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, CHANNELS) {
        return page;
    }
    match delivery::delete_channel(&s.db, &v.ctx, id).await {
        Ok(()) => Redirect::to(&format!("{CHANNELS}?done=deleted")).into_response(),
        Err(e) => v.error(CHANNELS, e),
    }
}

async fn channel_test(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, CHANNELS) {
        return page;
    }
    match delivery::test_channel(&s.db, &v.ctx, id).await {
        Ok(_) => Redirect::to(&format!("{CHANNELS}?done=tested")).into_response(),
        Err(e) => v.error(CHANNELS, e),
    }
}

async fn allow_list_save(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = match v.posted(f, CHANNELS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let typed = f.get("entries").to_string();
    let entries = typed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    match delivery::set_allow_list(&s.db, &v.ctx, AllowList { entries }).await {
        Ok(_) => Redirect::to(&format!("{CHANNELS}?done=allow")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            let (field, text) = err_text(v.tr, &e);
            // Which line: `entries[i]` counts the lines that are not empty.
            let line = field
                .strip_prefix("entries[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| {
                    typed
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .nth(i)
                });
            let text = match line {
                Some(l) => format!("{text} ({l})"),
                None => text,
            };
            errors.add("entries", text);
            match channels_view(&s, &v, None, None, Some(typed), errors, None).await {
                Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
                Err(e) => v.error(CHANNELS, e),
            }
        }
        Err(e) => v.error(CHANNELS, e),
    }
}

// ---- The delivery log. ----

struct DeliveryRow {
    id: i64,
    created: String,
    target: String,
    event: String,
    status: String,
    status_key: String,
    attempts: i64,
    error: String,
    next: String,
    retryable: bool,
}

#[derive(Template)]
#[template(path = "delivery_log.html")]
struct LogPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    tab: &'static str,
    statuses: Vec<Choice>,
    rows: Vec<DeliveryRow>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct LogQuery {
    status: Option<String>,
    done: Option<String>,
}

const STATUSES: [&str; 6] = [
    "pending",
    "retrying",
    "delivered",
    "failed",
    "held",
    "digested",
];

async fn log_view(s: &AppState, v: &Viewer, q: &LogQuery) -> Result<LogPage, AppError> {
    let tr = v.tr;
    let status = q.status.as_deref().filter(|st| STATUSES.contains(st));
    let list = delivery::deliveries(&s.db, &v.ctx, status, None).await?;
    let channels = s.db.channels().await?;
    let rows = list
        .into_iter()
        .map(|d| {
            let target = match (d.channel_id, &d.email) {
                (Some(id), _) => channels
                    .iter()
                    .find(|c| c.id == id)
                    .map_or_else(|| format!("#{id}"), |c| c.name.clone()),
                (None, Some(e)) => e.clone(),
                _ => String::new(),
            };
            let error = match (&d.last_error_code, &d.last_error_detail) {
                (Some(c), Some(detail)) => format!("{c}: {detail}"),
                (Some(c), None) => c.clone(),
                _ => String::new(),
            };
            DeliveryRow {
                id: d.id,
                created: tr.datetime(d.created_at),
                target,
                event: d.event.clone(),
                status: tr
                    .get(&format!("delivery.status.{}", d.status))
                    .unwrap_or(&d.status)
                    .to_string(),
                status_key: d.status.clone(),
                attempts: d.attempts,
                error,
                next: d
                    .next_attempt_at
                    .map(|t| tr.datetime(t))
                    .unwrap_or_default(),
                retryable: matches!(d.status.as_str(), "failed" | "retrying"),
            }
        })
        .collect();
    let mut statuses = vec![Choice::new(
        "",
        tr.t("delivery.status.all"),
        status.is_none(),
    )];
    for st in STATUSES {
        statuses.push(Choice::new(
            st,
            tr.get(&format!("delivery.status.{st}")).unwrap_or(st),
            status == Some(st),
        ));
    }
    Ok(LogPage {
        tr,
        csrf: v.csrf.clone(),
        here: DELIVERIES.into(),
        nav: v.nav("settings"),
        tab: "deliveries",
        statuses,
        rows,
        notice: notice_of(tr, q.done.as_deref()),
    })
}

async fn log_page(State(s): State<AppState>, v: Viewer, Query(q): Query<LogQuery>) -> Response {
    match log_view(&s, &v, &q).await {
        Ok(p) => render(p),
        Err(e) => v.error(DELIVERIES, e),
    }
}

async fn retry(
    State(s): State<AppState>,
    v: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(page) = v.posted(f, DELIVERIES) {
        return page;
    }
    match delivery::retry_delivery(&s.db, &v.ctx, id).await {
        Ok(_) => Redirect::to(&format!("{DELIVERIES}?done=retried")).into_response(),
        Err(e) => v.error(DELIVERIES, e),
    }
}

// ---- A user's email preferences. ----

#[derive(Template)]
#[template(path = "delivery_prefs.html")]
struct PrefsPage {
    tr: Tr,
    csrf: String,
    here: String,
    nav: Nav,
    email_enabled: bool,
    daily_digest: bool,
    email: String,
    own_email: String,
    errors: Errors,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct PrefsQuery {
    saved: Option<String>,
}

async fn prefs_page(State(s): State<AppState>, v: Viewer, Query(q): Query<PrefsQuery>) -> Response {
    let p = match delivery::my_prefs(&s.db, &v.user).await {
        Ok(p) => p,
        Err(e) => return v.error(PREFS, e),
    };
    render(PrefsPage {
        tr: v.tr,
        csrf: v.csrf.clone(),
        here: PREFS.into(),
        nav: v.nav("notifications"),
        email_enabled: p.email_enabled,
        daily_digest: p.daily_digest,
        email: p.email.unwrap_or_default(),
        own_email: v.user.email.clone().unwrap_or_default(),
        errors: Errors::default(),
        notice: q
            .saved
            .map(|_| v.tr.t("delivery.notice.prefs_saved").to_string()),
    })
}

async fn prefs_save(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = match v.posted(f, PREFS) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let email = f.text("email");
    let input = PrefsInput {
        email_enabled: f.has("email_enabled", "on"),
        daily_digest: f.has("daily_digest", "on"),
        email: (!email.is_empty()).then_some(email.clone()),
    };
    match delivery::set_my_prefs(&s.db, &v.user, input.clone(), v.ctx.now).await {
        Ok(_) => Redirect::to(&format!("{PREFS}?saved=1")).into_response(),
        Err(e) if shown_in_form(&e) => {
            let mut errors = Errors::default();
            let (_, text) = err_text(v.tr, &e);
            errors.add("email", text);
            let page = PrefsPage {
                tr: v.tr,
                csrf: v.csrf.clone(),
                here: PREFS.into(),
                nav: v.nav("notifications"),
                email_enabled: input.email_enabled,
                daily_digest: input.daily_digest,
                email,
                own_email: v.user.email.clone().unwrap_or_default(),
                errors,
                notice: None,
            };
            (StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response()
        }
        Err(e) => v.error(PREFS, e),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(CHANNELS, get(channels_page).post(channel_create))
        .route("/admin/notification-channels/{id}", post(channel_update))
        .route(
            "/admin/notification-channels/{id}/delete",
            post(channel_delete),
        )
        .route("/admin/notification-channels/{id}/test", post(channel_test))
        .route(
            "/admin/notification-channels/allow-list",
            post(allow_list_save),
        )
        .route(DELIVERIES, get(log_page))
        .route("/admin/deliveries/{id}/retry", post(retry))
        .route(PREFS, get(prefs_page).post(prefs_save))
}
