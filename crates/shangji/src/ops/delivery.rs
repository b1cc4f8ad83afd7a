//! The outbox: what an in-app notification sends out — an email to its user (at once, or in
//! the daily digest, as they chose) and a message to every enabled channel whose filter
//! matches — and the settings behind it: channels, the webhook allow-list, users' email
//! preferences, the delivery log. Only rows are written here, in the request's transaction;
//! the background sender (`ops::delivery::send`) makes the network calls.

use serde::{Deserialize, Serialize};
use shangji_core::input;
use shangji_core::model::{ChannelKind, Language, Notification, TeamId, User};
use shangji_core::visibility::subtree;
use shangji_core::FieldError;
use shangji_store::{Channel, Db, Delivery, Directory, NewDelivery, NotificationPrefs, Write};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::Ctx;
use crate::error::AppError;
use crate::i18n::Tr;

pub mod address;
pub mod outcome;
pub mod render;
/// The background sender: webhooks and robots over HTTP, email over SMTP, the daily digest.
pub mod send;

use render::{Message, RecordRef};

/// The settings key of the webhook allow-list (a JSON array of entries).
pub const ALLOW_LIST_KEY: &str = "webhook_allow_list";

/// Which notifications a channel receives.
pub const CHANNEL_EVENTS: [&str; 3] = ["all", "approval", "rule"];

// ---------------------------------------------------------------------------------------------
// Enqueueing
// ---------------------------------------------------------------------------------------------

/// Writes in-app notifications and everything they send out, in one transaction: the single
/// way to notify users. Approvals add the same writes to their own transaction
/// ([`deliveries_for`]); the rule engine and anything else calls this.
pub async fn notify_users(
    db: &Db,
    dir: &Directory,
    notes: &[Notification],
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if notes.is_empty() {
        return Ok(());
    }
    let deliveries = deliveries_for(db, dir, notes, now).await?;
    db.write_all(&[Write::Notify(notes), Write::Deliveries(&deliveries)])
        .await?;
    Ok(())
}

/// The deliveries the in-app notifications `notes` (about to be written) cause: an email
/// to the user when their preferences ask for it (`held` for the daily digest when they chose
/// it), and one message per enabled channel whose events and team filter match. Reads the
/// channels, preferences and users; writes nothing.
pub async fn deliveries_for(
    db: &Db,
    dir: &Directory,
    notes: &[Notification],
    now: OffsetDateTime,
) -> Result<Vec<NewDelivery>, AppError> {
    if notes.is_empty() {
        return Ok(vec![]);
    }
    let channels: Vec<Channel> = db
        .channels()
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .collect();
    let mut user_ids: Vec<i64> = notes.iter().map(|n| n.user_id).collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let prefs = db.notification_prefs(&user_ids).await?;
    if channels.is_empty() && prefs.iter().all(|p| !p.email_enabled && !p.daily_digest) {
        return Ok(vec![]);
    }
    let users = db.users().await?;
    let mut out = Vec::new();
    for note in notes {
        let id = format!("n-{:016x}", rand::random::<u64>());
        let user = users.iter().find(|u| u.id == note.user_id);
        if let (Some(user), Some(p)) = (user, prefs.iter().find(|p| p.user_id == note.user_id)) {
            let address = p.email.clone().or_else(|| user.email.clone());
            if let (Some(address), true) = (address, p.email_enabled || p.daily_digest) {
                let lang = user.language.unwrap_or(Language::ZhCn);
                out.push(NewDelivery {
                    channel_id: None,
                    email: Some(address),
                    user_id: Some(user.id),
                    event: note.kind.clone(),
                    message: message_json(&message_of(dir, &users, note, &id, lang)),
                    status: if p.daily_digest { "held" } else { "pending" }.into(),
                    created_at: now,
                });
            }
        }
        let team = user.and_then(|u| u.team_id);
        for c in channels
            .iter()
            .filter(|c| receives(dir, c, &note.kind, team))
        {
            out.push(NewDelivery {
                channel_id: Some(c.id),
                email: None,
                user_id: Some(note.user_id),
                event: note.kind.clone(),
                message: message_json(&message_of(dir, &users, note, &id, c.language)),
                status: "pending".into(),
                created_at: now,
            });
        }
    }
    Ok(out)
}

/// Whether channel `c` receives a notification of `kind` to a user of `team`.
fn receives(dir: &Directory, c: &Channel, kind: &str, team: Option<TeamId>) -> bool {
    let by_event = match c.events.as_str() {
        "approval" => kind.starts_with("approval_"),
        "rule" => kind == "rule" || kind.starts_with("rule_"),
        _ => true,
    };
    let by_team = match c.team_id {
        None => true,
        Some(root) => team.is_some_and(|t| subtree(&dir.org.teams, root).contains(&t)),
    };
    by_event && by_team
}

/// An in-app notification as a message in `lang`. The link is added by the sender, which
/// knows the public address.
fn message_of(
    dir: &Directory,
    users: &[User],
    note: &Notification,
    id: &str,
    lang: Language,
) -> Message {
    let tr = Tr::new(lang);
    // Worded as the notifications page words it, in the recipient's language.
    let title = crate::notices::note_text(tr, dir, users, note);
    let mut text = String::new();
    if let Some(t) = note.payload.get("text").and_then(|v| v.as_str()) {
        text.push_str(t);
    }
    if let Some(c) = note.payload.get("comment").and_then(|v| v.as_str()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(tr.t("notifications.comment"));
        text.push_str(c);
    }
    Message::Notification(render::Notification {
        id: id.to_string(),
        event: note.kind.clone(),
        language: lang,
        title,
        text,
        link: None,
        record: match (note.record_kind, note.record_id) {
            (Some(kind), Some(id)) => Some(RecordRef { kind, id }),
            _ => None,
        },
        fields: vec![],
        occurred_at: note.created_at,
    })
}

pub(crate) fn message_json(m: &Message) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Channels and the allow-list (admins)
// ---------------------------------------------------------------------------------------------

/// A channel as the API shows it: the secret masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    #[schema(value_type = String)]
    pub kind: ChannelKind,
    pub url: String,
    /// The secret's first 4 characters and "…"; absent when there is none.
    pub secret: Option<String>,
    pub language: Language,
    pub enabled: bool,
    /// `all`, `approval` or `rule`.
    pub events: String,
    pub team_id: Option<TeamId>,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        ChannelView {
            id: c.id,
            name: c.name,
            kind: c.kind,
            url: address::mask_url(&c.url),
            secret: c.secret.as_deref().map(mask),
            language: c.language,
            enabled: c.enabled,
            events: c.events,
            team_id: c.team_id,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `SECabcdef…` → `SECa…`; short secrets show nothing of themselves.
pub fn mask(secret: &str) -> String {
    if secret.chars().count() >= 12 {
        format!("{}…", secret.chars().take(4).collect::<String>())
    } else {
        "…".into()
    }
}

/// A channel to add or replace. On replace, an absent `secret` keeps the stored one and an
/// empty one removes it; the URL as shown (masked, see `address::mask_url`) keeps the stored
/// URL.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub name: String,
    /// `webhook`, `wecom`, `dingtalk` or `feishu`.
    pub kind: String,
    pub url: String,
    pub secret: Option<String>,
    pub language: Option<Language>,
    pub enabled: Option<bool>,
    /// `all` (default), `approval` or `rule`.
    pub events: Option<String>,
    pub team_id: Option<TeamId>,
    /// The version replaced (optional; checked when given).
    pub version: Option<i64>,
}

pub async fn allow_list(db: &Db) -> Result<Vec<String>, AppError> {
    Ok(match db.setting(ALLOW_LIST_KEY).await? {
        Some(v) => serde_json::from_str(&v).unwrap_or_default(),
        None => vec![],
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowList {
    /// `[http://|https://]host[:port]`, `*.suffix`, `*`, an address or `address/prefix`.
    pub entries: Vec<String>,
}

/// Replaces the allow-list (admins); every entry must parse (`allow_entry_invalid`).
pub async fn set_allow_list(db: &Db, ctx: &Ctx, list: AllowList) -> Result<AllowList, AppError> {
    ctx.require_admin()?;
    let mut entries = Vec::new();
    for (i, e) in list.entries.iter().enumerate() {
        let e = e.trim();
        if e.is_empty() {
            continue;
        }
        address::check_allow_entry(e).map_err(|err| {
            AppError::Invalid(FieldError::new(
                &format!("entries[{i}]"),
                &err.code,
                err.message,
            ))
        })?;
        entries.push(e.to_string());
    }
    if entries.len() > 200 {
        return Err(AppError::invalid(
            "entries",
            "too_many",
            "at most 200 entries",
        ));
    }
    let text = serde_json::to_string(&entries).unwrap_or_default();
    db.set_setting(ALLOW_LIST_KEY, &text, ctx.now).await?;
    super::audit::setting(db, ctx, "delivery::set_allow_list", "").await?;
    Ok(AllowList { entries })
}

pub async fn channels(db: &Db, ctx: &Ctx) -> Result<Vec<ChannelView>, AppError> {
    ctx.require_admin()?;
    Ok(db.channels().await?.into_iter().map(Into::into).collect())
}

pub async fn channel(db: &Db, ctx: &Ctx, id: i64) -> Result<ChannelView, AppError> {
    ctx.require_admin()?;
    live_channel(db, id).await.map(Into::into)
}

async fn live_channel(db: &Db, id: i64) -> Result<Channel, AppError> {
    db.channels()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(AppError::NotFound)
}

/// Adds (`id` none) or replaces a channel. The URL must pass the allow-list of now
/// (`url_…` codes, see `docs/automation.md`).
pub async fn save_channel(
    db: &Db,
    ctx: &Ctx,
    id: Option<i64>,
    input: ChannelInput,
) -> Result<ChannelView, AppError> {
    ctx.require_admin()?;
    let name = input::text("name", input.name, 100)?
        .ok_or_else(|| AppError::invalid("name", "required", "a name is required"))?;
    let kind: ChannelKind = input.kind.parse().map_err(|_| {
        AppError::invalid(
            "kind",
            "invalid_kind",
            "kind is webhook, wecom, dingtalk or feishu",
        )
    })?;
    let stored = match id {
        Some(id) => Some(live_channel(db, id).await?),
        None => None,
    };
    let allow = allow_list(db).await?;
    let mut url = input.url.trim().to_string();
    // The URL as shown (its credential masked) keeps the stored one.
    if let Some(c) = stored.as_ref().filter(|c| address::mask_url(&c.url) == url) {
        url = c.url.clone();
    }
    address::check_webhook_url(&url, &allow)
        .map_err(|r| AppError::invalid("url", r.code(), r.to_string()))?;
    let events = input.events.unwrap_or_else(|| "all".into());
    if !CHANNEL_EVENTS.contains(&events.as_str()) {
        return Err(AppError::invalid(
            "events",
            "invalid_events",
            "events is all, approval or rule",
        ));
    }
    if let Some(t) = input.team_id {
        if !ctx.dir.org.teams.iter().any(|team| team.id == t) {
            return Err(AppError::invalid("team_id", "unknown_team", "no such team"));
        }
    }
    let new_secret = input
        .secret
        .map(|s| s.trim().to_string())
        .map(|s| (!s.is_empty()).then_some(s));
    if let Some(Some(s)) = &new_secret {
        if s.len() > 500 {
            return Err(AppError::invalid("secret", "too_long", "at most 500 bytes"));
        }
    }
    let mut c = match stored {
        Some(c) => c,
        None => Channel {
            id: 0,
            name: String::new(),
            kind,
            url: String::new(),
            secret: None,
            language: ctx.lang,
            enabled: true,
            events: String::new(),
            team_id: None,
            version: 1,
            created_at: ctx.now,
            updated_at: ctx.now,
        },
    };
    if let (Some(expected), Some(_)) = (input.version, id) {
        if expected != c.version {
            return Err(AppError::Conflict {
                current_version: c.version,
            });
        }
    }
    c.name = name;
    c.kind = kind;
    c.url = url;
    if let Some(s) = new_secret {
        c.secret = s;
    }
    c.language = input.language.unwrap_or(c.language);
    c.enabled = input.enabled.unwrap_or(true);
    c.events = events;
    c.team_id = input.team_id;
    c.updated_at = ctx.now;
    match id {
        None => c.id = db.insert_channel(&c).await?,
        Some(_) => c.version = db.update_channel(&c).await?,
    }
    super::audit::setting(db, ctx, "delivery::save_channel", "").await?;
    Ok(c.into())
}

pub async fn delete_channel(db: &Db, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    ctx.require_admin()?;
    if !db.archive_channel(id, ctx.now).await? {
        return Err(AppError::NotFound);
    }
    super::audit::setting(db, ctx, "delivery::delete_channel", &id.to_string()).await
}

/// Queues a test message to a channel (sent by the background sender like any other);
/// returns the delivery's id.
pub async fn test_channel(db: &Db, ctx: &Ctx, id: i64) -> Result<i64, AppError> {
    ctx.require_admin()?;
    let c = live_channel(db, id).await?;
    let tr = Tr::new(c.language);
    let message = Message::Notification(render::Notification {
        id: format!("test-{:016x}", rand::random::<u64>()),
        event: "test".into(),
        language: c.language,
        title: tr.t("notify.test_title").to_string(),
        text: tr.fmt("notify.test_text", &[("channel", &c.name)]),
        link: None,
        record: None,
        fields: vec![],
        occurred_at: ctx.now,
    });
    let ids = db
        .insert_deliveries(&[NewDelivery {
            channel_id: Some(c.id),
            email: None,
            user_id: Some(ctx.actor.user_id),
            event: "test".into(),
            message: message_json(&message),
            status: "pending".into(),
            created_at: ctx.now,
        }])
        .await?;
    Ok(ids[0])
}

// ---------------------------------------------------------------------------------------------
// The delivery log (admins)
// ---------------------------------------------------------------------------------------------

pub async fn deliveries(
    db: &Db,
    ctx: &Ctx,
    status: Option<&str>,
    channel_id: Option<i64>,
) -> Result<Vec<Delivery>, AppError> {
    ctx.require_admin()?;
    Ok(db.deliveries(status, channel_id, 500).await?)
}

/// Sends a failed (or waiting) delivery again at once, with a fresh series of attempts.
pub async fn retry_delivery(db: &Db, ctx: &Ctx, id: i64) -> Result<Delivery, AppError> {
    ctx.require_admin()?;
    if !db.retry_delivery(id, ctx.now).await? {
        return match db.delivery(id).await? {
            None => Err(AppError::NotFound),
            Some(_) => Err(AppError::invalid(
                "",
                "not_retryable",
                "only failed or retrying deliveries can be retried",
            )),
        };
    }
    db.delivery(id).await?.ok_or(AppError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// A user's preferences
// ---------------------------------------------------------------------------------------------

/// A user's email preferences, with the address emails go to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrefsView {
    pub email_enabled: bool,
    pub daily_digest: bool,
    /// The address set here, if any.
    pub email: Option<String>,
    /// Where emails go: `email`, else the user's own; none means no email can be sent.
    pub send_to: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrefsInput {
    pub email_enabled: bool,
    #[serde(default)]
    pub daily_digest: bool,
    pub email: Option<String>,
}

pub async fn my_prefs(db: &Db, user: &User) -> Result<PrefsView, AppError> {
    let p = db
        .notification_prefs(&[user.id])
        .await?
        .pop()
        .unwrap_or(NotificationPrefs {
            user_id: user.id,
            ..Default::default()
        });
    Ok(PrefsView {
        email_enabled: p.email_enabled,
        daily_digest: p.daily_digest,
        send_to: p.email.clone().or_else(|| user.email.clone()),
        email: p.email,
    })
}

pub async fn set_my_prefs(
    db: &Db,
    user: &User,
    input: PrefsInput,
    now: OffsetDateTime,
) -> Result<PrefsView, AppError> {
    let email = match input.email {
        Some(e) => input::email("email", e)?,
        None => None,
    };
    let prefs = NotificationPrefs {
        user_id: user.id,
        email_enabled: input.email_enabled,
        daily_digest: input.daily_digest,
        email,
    };
    if (prefs.email_enabled || prefs.daily_digest) && prefs.email.is_none() && user.email.is_none()
    {
        return Err(AppError::invalid(
            "email",
            "email_required",
            "give an address: your profile has no email",
        ));
    }
    db.set_notification_prefs(&prefs, now).await?;
    my_prefs(db, user).await
}
