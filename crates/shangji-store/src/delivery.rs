//! Outgoing notifications: channels, instance settings (the webhook allow-list), users'
//! email preferences, and the deliveries — the outbox the background sender claims from and
//! the delivery log it writes.

use serde::Serialize;
use shangji_core::model::ChannelKind;
use shangji_core::model::{Language, TeamId, UserId};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

/// Where notifications go besides the app and email: a generic webhook or a group robot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    pub url: String,
    pub secret: Option<String>,
    /// The language its messages are worded in.
    pub language: Language,
    pub enabled: bool,
    /// `all`, `approval` (approval_* notifications) or `rule` (rule_*).
    pub events: String,
    /// Only notifications to users of this team or a team below it.
    pub team_id: Option<TeamId>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

fn channel_from_row<R: RowExt>(r: &R) -> Result<Channel, StoreError> {
    Ok(Channel {
        id: r.i64("id")?,
        name: r.text("name")?,
        kind: r.parse("kind")?,
        url: r.text("url")?,
        secret: r.opt_text("secret")?,
        language: r.parse("language")?,
        enabled: r.bool("enabled")?,
        events: r.text("events")?,
        team_id: r.opt_i64("team_id")?,
        version: r.i64("version")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

/// A user's email preferences.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct NotificationPrefs {
    pub user_id: UserId,
    /// Send each notification by email as well.
    pub email_enabled: bool,
    /// Gather the day's notifications into one email (the daily digest) instead.
    pub daily_digest: bool,
    /// Where to send; the user's own email when absent.
    pub email: Option<String>,
}

/// A delivery to create: one message to one channel, or to one email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub channel_id: Option<i64>,
    pub email: Option<String>,
    pub user_id: Option<UserId>,
    /// The message's event (`approval_requested`, `digest`, `test`…), for the log.
    pub event: String,
    /// The `Message` of the app's delivery renderer as JSON.
    pub message: String,
    /// `pending`, or `held` for the daily digest.
    pub status: String,
    pub created_at: OffsetDateTime,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub channel_id: Option<i64>,
    pub email: Option<String>,
    pub user_id: Option<UserId>,
    pub event: String,
    /// The message (the delivery renderer's `Message`) as JSON text.
    pub message: String,
    /// `pending`, `retrying`, `delivered`, `failed`, `held` (waits for the daily digest) or
    /// `digested` (sent in a digest).
    pub status: String,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error_code: Option<String>,
    pub last_error_detail: Option<String>,
    /// The HTTP status of the last answer.
    pub last_status: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

fn delivery_from_row<R: RowExt>(r: &R) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: r.i64("id")?,
        channel_id: r.opt_i64("channel_id")?,
        email: r.opt_text("email")?,
        user_id: r.opt_i64("user_id")?,
        event: r.text("event")?,
        message: r.text("message")?,
        status: r.text("status")?,
        attempts: r.i64("attempts")?,
        next_attempt_at: r.opt_ts("next_attempt_at")?,
        last_error_code: r.opt_text("last_error_code")?,
        last_error_detail: r.opt_text("last_error_detail")?,
        last_status: r.opt_i64("last_status")?,
        last_attempt_at: r.opt_ts("last_attempt_at")?,
        created_at: r.ts("created_at")?,
        delivered_at: r.opt_ts("delivered_at")?,
    })
}

/// What one attempt came to, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `delivered`, `retrying` or `failed`.
    pub status: &'static str,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub error: Option<(String, String)>,
    pub http_status: Option<i64>,
    pub at: OffsetDateTime,
}

pub(crate) fn insert_delivery_sql(d: &NewDelivery) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO deliveries (channel_id, email, user_id, event, message, status, attempts, next_attempt_at, created_at) VALUES (",
    );
    sql.bind(d.channel_id).push(", ").bind(d.email.clone());
    sql.push(", ")
        .bind(d.user_id)
        .push(", ")
        .bind(d.event.clone());
    sql.push(", ").bind(d.message.clone()).push(", ");
    sql.bind(d.status.clone()).push(", 0, ");
    let next = (d.status == "pending").then_some(d.created_at);
    sql.bind(next).push(", ").bind(d.created_at);
    sql.push(") RETURNING id");
    sql
}

impl Db {
    // ---- Channels. ----

    /// The channels not deleted, by id.
    pub async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM notification_channels WHERE archived = ");
        sql.bind(false).push(" ORDER BY id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(channel_from_row).collect()
        })
    }

    /// One channel, deleted ones included (the log names them).
    pub async fn channel(&self, id: i64) -> Result<Option<Channel>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM notification_channels WHERE id = ");
        sql.bind(id);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(channel_from_row).transpose()
        })
    }

    /// Inserts a channel (its id and version are ignored) and returns its id.
    pub async fn insert_channel(&self, c: &Channel) -> Result<i64, StoreError> {
        let mut sql = Sql::new("INSERT INTO notification_channels (name, kind, url, secret, language, enabled, events, team_id, created_at, updated_at) VALUES (");
        sql.bind(c.name.clone()).push(", ").bind(c.kind.as_str());
        sql.push(", ")
            .bind(c.url.clone())
            .push(", ")
            .bind(c.secret.clone());
        sql.push(", ")
            .bind(c.language.as_str())
            .push(", ")
            .bind(c.enabled);
        sql.push(", ")
            .bind(c.events.clone())
            .push(", ")
            .bind(c.team_id);
        sql.push(", ")
            .bind(c.created_at)
            .push(", ")
            .bind(c.updated_at);
        sql.push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Saves a channel if its stored version is still `c.version`; returns the new version.
    pub async fn update_channel(&self, c: &Channel) -> Result<i64, StoreError> {
        let mut sql = Sql::new("UPDATE notification_channels SET name = ");
        sql.bind(c.name.clone())
            .push(", kind = ")
            .bind(c.kind.as_str());
        sql.push(", url = ").bind(c.url.clone());
        sql.push(", secret = ").bind(c.secret.clone());
        sql.push(", language = ").bind(c.language.as_str());
        sql.push(", enabled = ").bind(c.enabled);
        sql.push(", events = ").bind(c.events.clone());
        sql.push(", team_id = ").bind(c.team_id);
        sql.push(", updated_at = ").bind(c.updated_at);
        sql.push(", version = version + 1 WHERE id = ").bind(c.id);
        sql.push(" AND archived = ").bind(false);
        sql.push(" AND version = ").bind(c.version);
        if self.execute(&sql).await? == 1 {
            return Ok(c.version + 1);
        }
        match self.channel(c.id).await? {
            Some(found) if found.version != c.version => Err(StoreError::Conflict {
                current_version: found.version,
            }),
            _ => Err(StoreError::NotFound),
        }
    }

    /// Deletes a channel: it receives nothing more and its pending deliveries are dropped
    /// (failed with `channel_deleted`); the log keeps what was sent.
    pub async fn archive_channel(&self, id: i64, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE notification_channels SET archived = ");
        sql.bind(true).push(", updated_at = ").bind(now);
        sql.push(", version = version + 1 WHERE archived = ")
            .bind(false)
            .push(" AND id = ")
            .bind(id);
        let done = self.execute(&sql).await? > 0;
        if done {
            let mut sql = Sql::new("UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error_code = 'channel_deleted', last_error_detail = 'the channel was deleted' WHERE status IN ('pending', 'retrying') AND channel_id = ");
            sql.bind(id);
            self.execute(&sql).await?;
        }
        Ok(done)
    }

    // ---- Settings. ----

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut sql = Sql::new("SELECT value FROM app_settings WHERE key = ");
        sql.bind(key);
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_optional(p).await?))
    }

    /// Several settings in one read, in the order of `keys` (`None` where one is absent).
    pub async fn settings_of<const N: usize>(
        &self,
        keys: [&str; N],
    ) -> Result<[Option<String>; N], StoreError> {
        let mut sql = Sql::new("SELECT key, value FROM app_settings WHERE key IN ");
        sql.bind_text_list(&keys);
        let rows: Vec<(String, String)> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| Ok((r.text("key")?, r.text("value")?)))
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(keys.map(|k| {
            rows.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        }))
    }

    pub async fn set_setting(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new("INSERT INTO app_settings (key, value, updated_at) VALUES (");
        sql.bind(key).push(", ").bind(value).push(", ").bind(now);
        sql.push(") ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
        self.execute(&sql).await.map(|_| ())
    }

    /// Removes a setting (absent from then on).
    pub async fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new("DELETE FROM app_settings WHERE key = ");
        sql.bind(key);
        self.execute(&sql).await.map(|_| ())
    }

    /// Sets `key` to `value` unless it already is `value`; whether it changed. Lets one
    /// instance among several do a once-a-day job.
    pub async fn claim_setting(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("INSERT INTO app_settings (key, value, updated_at) VALUES (");
        sql.bind(key).push(", ").bind(value).push(", ").bind(now);
        sql.push(") ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at WHERE app_settings.value <> excluded.value");
        Ok(self.execute(&sql).await? > 0)
    }

    // ---- Preferences. ----

    /// The preferences of these users that have any (the others: no email).
    pub async fn notification_prefs(
        &self,
        user_ids: &[UserId],
    ) -> Result<Vec<NotificationPrefs>, StoreError> {
        if user_ids.is_empty() {
            return Ok(vec![]);
        }
        let mut sql = Sql::new("SELECT * FROM user_notification_prefs WHERE user_id IN ");
        sql.bind_list(user_ids);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok(NotificationPrefs {
                user_id: r.i64("user_id")?,
                email_enabled: r.bool("email_enabled")?,
                daily_digest: r.bool("daily_digest")?,
                email: r.opt_text("email")?,
            })).collect()
        })
    }

    pub async fn set_notification_prefs(
        &self,
        prefs: &NotificationPrefs,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO user_notification_prefs (user_id, email_enabled, daily_digest, email, updated_at) VALUES (",
        );
        sql.bind(prefs.user_id).push(", ").bind(prefs.email_enabled);
        sql.push(", ")
            .bind(prefs.daily_digest)
            .push(", ")
            .bind(prefs.email.clone());
        sql.push(", ").bind(now);
        sql.push(") ON CONFLICT (user_id) DO UPDATE SET email_enabled = excluded.email_enabled, daily_digest = excluded.daily_digest, email = excluded.email, updated_at = excluded.updated_at");
        self.execute(&sql).await.map(|_| ())
    }

    // ---- Deliveries. ----

    /// Queues deliveries; returns their ids.
    pub async fn insert_deliveries(&self, list: &[NewDelivery]) -> Result<Vec<i64>, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let mut ids = Vec::with_capacity(list.len());
            for d in list {
                let sql = insert_delivery_sql(d);
                ids.push(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?);
            }
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// Claims up to `limit` deliveries due at `now` that no sender holds, for this sender
    /// until `lease_until`. On PostgreSQL concurrent claimers skip each other's rows
    /// (`FOR UPDATE SKIP LOCKED`), so no delivery is claimed twice; on SQLite writers take
    /// turns.
    pub async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut sql = Sql::new("UPDATE deliveries SET claimed_until = ");
        sql.bind(lease_until);
        sql.push(" WHERE id IN (SELECT id FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ")
            .bind(now);
        sql.push(" AND (claimed_until IS NULL OR claimed_until < ")
            .bind(now)
            .push(") ORDER BY next_attempt_at, id LIMIT ")
            .bind(limit);
        if self.dialect() == "postgres" {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        sql.push(") RETURNING *");
        let _writer = self.writer().await;
        let mut found: Vec<Delivery> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(delivery_from_row).collect::<Result<_, _>>()?
        });
        found.sort_by_key(|d| d.id);
        Ok(found)
    }

    /// Records an attempt of a claimed delivery and releases it.
    pub async fn record_attempt(&self, id: i64, a: &Attempt) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE deliveries SET status = ");
        sql.bind(a.status).push(", attempts = attempts + 1");
        sql.push(", next_attempt_at = ").bind(a.next_attempt_at);
        sql.push(", claimed_until = NULL, last_attempt_at = ")
            .bind(a.at);
        sql.push(", last_status = ").bind(a.http_status);
        sql.push(", last_error_code = ")
            .bind(a.error.as_ref().map(|e| e.0.clone()));
        sql.push(", last_error_detail = ")
            .bind(a.error.as_ref().map(|e| e.1.clone()));
        if a.status == "delivered" {
            sql.push(", delivered_at = ").bind(a.at);
        }
        sql.push(" WHERE id = ").bind(id);
        self.execute(&sql).await.map(|_| ())
    }

    /// The delivery log, newest first, optionally of one status and one channel.
    pub async fn deliveries(
        &self,
        status: Option<&str>,
        channel_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM deliveries WHERE 1 = 1");
        if let Some(s) = status {
            sql.push(" AND status = ").bind(s);
        }
        if let Some(c) = channel_id {
            sql.push(" AND channel_id = ").bind(c);
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(limit);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(delivery_from_row).collect()
        })
    }

    pub async fn delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM deliveries WHERE id = ");
        sql.bind(id);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(delivery_from_row).transpose()
        })
    }

    /// Queues a failed or retrying delivery again, due at `now`, with a fresh series of
    /// attempts. `false` if it is neither.
    pub async fn retry_delivery(&self, id: i64, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE deliveries SET status = 'pending', attempts = 0, claimed_until = NULL, next_attempt_at = ");
        sql.bind(now).push(" WHERE id = ").bind(id);
        sql.push(" AND status IN ('failed', 'retrying')");
        Ok(self.execute(&sql).await? > 0)
    }

    /// The emails held for daily digests, oldest first.
    pub async fn held_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        let sql = Sql::new("SELECT * FROM deliveries WHERE status = 'held' ORDER BY id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(delivery_from_row).collect()
        })
    }

    /// Queues a digest and marks the held deliveries it gathers `digested`, in one
    /// transaction; returns the digest's id. Deliveries no longer held (another instance
    /// gathered them) roll it back: `None`.
    pub async fn save_digest(
        &self,
        digest: &NewDelivery,
        held: &[i64],
    ) -> Result<Option<i64>, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let mut upd = Sql::new("UPDATE deliveries SET status = 'digested' WHERE status = 'held' AND id IN ");
            upd.bind_list(held);
            let n = bind_all!(sqlx::query(&upd.text), &upd.args).execute(&mut *tx).await?.rows_affected();
            if n as usize != held.len() {
                tx.rollback().await?;
                return Ok(None);
            }
            let sql = insert_delivery_sql(digest);
            let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(id))
        })
    }
}
