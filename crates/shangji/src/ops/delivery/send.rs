//! The background sender: claims due deliveries, renders each afresh (new timestamp and
//! signature at every attempt), checks its URL against the allow-list of the moment and the
//! addresses its host resolves to, sends it with a short timeout (robots and webhooks over
//! HTTP, emails over SMTP), and records the attempt with its outcome and the next attempt.
//! Also gathers the daily digests. Runs outside any request: a slow or dead receiver holds up
//! nothing but its own delivery.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::address;
use super::outcome::{self, DeliveryOutcome, Failure, TransportError};
use super::render::{self, Digest, Link, Message};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use shangji_core::model::{Language, RecordKind};
use shangji_store::{Attempt, Channel, Db, Delivery, NewDelivery};
use time::{Duration, OffsetDateTime};

use super::{allow_list, message_json};
use crate::config::{parse_digest_time, Config, SmtpConfig, SmtpTls};
use crate::error::AppError;
use crate::i18n::{Tr, DISPLAY_OFFSET};

/// How the sender works: where mail goes, the public address for links, the attempt
/// timeout, when the daily digest goes out.
#[derive(Debug, Clone)]
pub struct Sender {
    pub smtp: Option<SmtpConfig>,
    /// `https://crm.example.com`, without a trailing slash.
    pub public_url: Option<String>,
    /// How long one attempt may take ([`render::DELIVERY_TIMEOUT`]).
    pub timeout: Duration,
    /// Local time (China Standard Time) of the daily digest.
    pub digest_at: (u8, u8),
}

impl Sender {
    pub fn new(config: &Config) -> Sender {
        Sender {
            smtp: config.smtp.clone(),
            public_url: config.public_url.clone(),
            timeout: render::DELIVERY_TIMEOUT,
            digest_at: parse_digest_time(&config.digest_time).unwrap_or((8, 0)),
        }
    }
}

/// Deliveries one turn claims at most.
const BATCH: i64 = 50;

/// One turn of the sender job (`jobs`, every 5 seconds): the daily digest once a day, then
/// what is due, batch after batch; failures are logged.
pub async fn turn(db: &Db, sender: &Sender) {
    if let Err(e) = daily_digest_if_due(db, sender, OffsetDateTime::now_utc()).await {
        tracing::warn!(error = ?e, "daily digest failed");
    }
    loop {
        match tick(db, sender, OffsetDateTime::now_utc()).await {
            Ok(n) if n as i64 >= BATCH => continue,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = ?e, "sending notifications failed");
                break;
            }
        }
    }
}

/// One turn: claims the deliveries due at `now`, makes one attempt of each (concurrently)
/// and records them. Returns how many were attempted.
pub async fn tick(db: &Db, sender: &Sender, now: OffsetDateTime) -> Result<usize, AppError> {
    // The lease outlasts an attempt; a sender that dies leaves its deliveries to another
    // once it ends.
    let lease = now + sender.timeout * 3 + Duration::seconds(30);
    let due = db.claim_deliveries(now, lease, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let allow = allow_list(db).await?;
    let mut channels: HashMap<i64, Option<Channel>> = HashMap::new();
    for d in &due {
        if let Some(id) = d.channel_id {
            if let std::collections::hash_map::Entry::Vacant(e) = channels.entry(id) {
                e.insert(db.channel(id).await?);
            }
        }
    }
    let attempts = due.iter().map(|d| {
        let channel = d.channel_id.and_then(|id| channels[&id].as_ref());
        attempt(sender, d, channel, &allow, now)
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    for (d, (outcome, http_status)) in due.iter().zip(outcomes) {
        let attempts = d.attempts as u32 + 1;
        let (status, next) = match &outcome {
            DeliveryOutcome::Delivered => ("delivered", None),
            DeliveryOutcome::Retry(_) => match outcome::next_attempt(attempts, now) {
                Some(at) => ("retrying", Some(at)),
                None => ("failed", None),
            },
            DeliveryOutcome::Failed(_) => ("failed", None),
        };
        if let Some(f) = outcome.failure() {
            tracing::info!(delivery = d.id, code = %f.code, status, "notification not delivered");
        }
        db.record_attempt(
            d.id,
            &Attempt {
                status,
                next_attempt_at: next,
                error: outcome
                    .failure()
                    .map(|f| (f.code.clone(), f.detail.clone())),
                http_status: http_status.map(i64::from),
                at: now,
            },
        )
        .await?;
    }
    Ok(due.len())
}

fn failed(code: &str, detail: impl Into<String>) -> DeliveryOutcome {
    DeliveryOutcome::Failed(Failure {
        code: code.into(),
        detail: detail.into(),
    })
}

/// One attempt of one delivery: its outcome and the HTTP status of the answer, if any.
async fn attempt(
    sender: &Sender,
    d: &Delivery,
    channel: Option<&Channel>,
    allow: &[String],
    now: OffsetDateTime,
) -> (DeliveryOutcome, Option<u16>) {
    let mut message: Message = match serde_json::from_str(&d.message) {
        Ok(m) => m,
        Err(e) => return (failed("corrupt", e.to_string()), None),
    };
    add_links(&mut message, sender.public_url.as_deref());
    if let Some(address) = &d.email {
        return (send_email(sender, address, &message).await, None);
    }
    match channel {
        None => (failed("channel_deleted", "the channel was deleted"), None),
        Some(c) if !c.enabled => (failed("channel_disabled", "the channel is disabled"), None),
        Some(c) => send_http(sender, c, d.id, &message, allow, now).await,
    }
}

/// Links to the record (and, for a digest, to the notifications page) when the public
/// address is known.
fn add_links(message: &mut Message, base: Option<&str>) {
    let Some(base) = base else { return };
    let link_of = |n: &render::Notification| {
        n.record.map(|r| Link {
            url: format!("{base}/{}/{}", record_path(r.kind), r.id),
            text: Tr::new(n.language).t("notify.open_record").to_string(),
        })
    };
    match message {
        Message::Notification(n) => {
            if n.link.is_none() {
                n.link = link_of(n);
            }
        }
        Message::Digest(d) => {
            if d.link.is_none() {
                d.link = Some(Link {
                    url: format!("{base}/notifications"),
                    text: Tr::new(d.language).t("notify.open_all").to_string(),
                });
            }
            for n in &mut d.items {
                if n.link.is_none() {
                    n.link = link_of(n);
                }
            }
        }
    }
}

fn record_path(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Account => "accounts",
        RecordKind::Contact => "contacts",
        RecordKind::Lead => "leads",
        RecordKind::Opportunity => "opportunities",
    }
}

/// A webhook or robot: the URL against the allow-list, the name resolved and each address
/// checked, the request rendered now and sent to a checked address only, without
/// redirects.
async fn send_http(
    sender: &Sender,
    c: &Channel,
    delivery_id: i64,
    message: &Message,
    allow: &[String],
    now: OffsetDateTime,
) -> (DeliveryOutcome, Option<u16>) {
    let target = match address::check_webhook_url(&c.url, allow) {
        Ok(t) => t,
        Err(r) => return (failed(r.code(), r.to_string()), None),
    };
    let timeout = std::time::Duration::from_millis(sender.timeout.whole_milliseconds() as u64);
    let addrs: Vec<SocketAddr> = match target.ip() {
        Some(ip) => vec![SocketAddr::new(ip, target.port())],
        None => {
            let lookup = tokio::net::lookup_host((target.host().to_string(), target.port()));
            match tokio::time::timeout(timeout, lookup).await {
                Ok(Ok(found)) => found.collect(),
                Ok(Err(e)) => {
                    return (
                        outcome::transport_outcome(TransportError::Connect, &e.to_string()),
                        None,
                    )
                }
                Err(_) => {
                    return (
                        outcome::transport_outcome(
                            TransportError::Timeout,
                            "resolving the name took too long",
                        ),
                        None,
                    )
                }
            }
        }
    };
    let allowed: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| address::ip_allowed(a.ip(), allow))
        .collect();
    if allowed.is_empty() {
        let detail = format!(
            "{} resolves to {}",
            target.host(),
            addrs
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return (
            outcome::transport_outcome(TransportError::AddressRefused, &detail),
            None,
        );
    }
    let req = render::render(
        c.kind,
        &target,
        c.secret.as_deref(),
        message,
        &delivery_id.to_string(),
        now,
    );
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy();
    if target.ip().is_none() {
        // Connect only to the addresses just checked.
        builder = builder.resolve_to_addrs(target.host(), &allowed);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            return (
                outcome::transport_outcome(TransportError::Io, &e.to_string()),
                None,
            )
        }
    };
    let mut r = client.post(&req.url);
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    match r.body(req.body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let body: String = body.chars().take(2000).collect();
            (
                outcome::platform_outcome(c.kind, status, &body),
                Some(status),
            )
        }
        Err(e) => (
            outcome::transport_outcome(transport_error(&e), &error_chain(&e)),
            None,
        ),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn transport_error(e: &reqwest::Error) -> TransportError {
    let chain = error_chain(e).to_lowercase();
    if e.is_timeout() || chain.contains("timed out") {
        TransportError::Timeout
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake")
    {
        TransportError::Tls
    } else if e.is_connect() {
        TransportError::Connect
    } else {
        TransportError::Io
    }
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

/// The subject, plain text and HTML of a message.
pub fn email_parts(message: &Message) -> (String, String, String) {
    fn item_text(n: &render::Notification, out: &mut String) {
        if !n.text.is_empty() {
            out.push_str(&n.text);
            out.push('\n');
        }
        for f in &n.fields {
            out.push_str(&format!("{}: {}\n", f.label, f.value));
        }
        if let Some(l) = &n.link {
            out.push_str(&format!("{}: {}\n", l.text, l.url));
        }
    }
    fn item_html(n: &render::Notification, out: &mut String) {
        for line in n.text.lines() {
            out.push_str(&format!("<p>{}</p>\n", esc(line)));
        }
        if !n.fields.is_empty() {
            out.push_str("<ul>\n");
            for f in &n.fields {
                out.push_str(&format!("<li>{}: {}</li>\n", esc(&f.label), esc(&f.value)));
            }
            out.push_str("</ul>\n");
        }
        if let Some(l) = &n.link {
            out.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                esc(&l.url),
                esc(&l.text)
            ));
        }
    }
    match message {
        Message::Notification(n) => {
            let mut text = format!("{}\n\n", n.title);
            item_text(n, &mut text);
            let mut html = format!("<h2>{}</h2>\n", esc(&n.title));
            item_html(n, &mut html);
            (n.title.clone(), text, page(n.language, &html))
        }
        Message::Digest(d) => {
            let mut text = format!("{}\n\n", d.title);
            let mut html = format!("<h2>{}</h2>\n", esc(&d.title));
            if !d.text.is_empty() {
                text.push_str(&format!("{}\n\n", d.text));
                html.push_str(&format!("<p>{}</p>\n", esc(&d.text)));
            }
            for n in &d.items {
                text.push_str(&format!("- {}\n", n.title));
                item_text(n, &mut text);
                text.push('\n');
                html.push_str(&format!("<h3>{}</h3>\n", esc(&n.title)));
                item_html(n, &mut html);
            }
            if let Some(l) = &d.link {
                text.push_str(&format!("{}: {}\n", l.text, l.url));
                html.push_str(&format!(
                    "<p><a href=\"{}\">{}</a></p>\n",
                    esc(&l.url),
                    esc(&l.text)
                ));
            }
            (d.title.clone(), text, page(d.language, &html))
        }
    }
}

fn page(lang: Language, body: &str) -> String {
    let lang = match lang {
        Language::ZhCn => "zh-CN",
        Language::En => "en",
    };
    format!("<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"></head><body>\n{body}</body></html>\n")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn send_email(sender: &Sender, to: &str, message: &Message) -> DeliveryOutcome {
    let Some(smtp) = &sender.smtp else {
        return failed(
            "smtp_not_configured",
            "no [smtp] server is configured for email",
        );
    };
    let from: Mailbox = match smtp.from.parse() {
        Ok(m) => m,
        Err(e) => return failed("smtp_from_invalid", e.to_string()),
    };
    let to: Mailbox = match to.parse() {
        Ok(m) => m,
        Err(e) => return failed("email_invalid", e.to_string()),
    };
    let (subject, text, html) = email_parts(message);
    let mail = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        );
    let mail = match mail {
        Ok(m) => m,
        Err(e) => return failed("email_invalid", e.to_string()),
    };
    let timeout = std::time::Duration::from_millis(sender.timeout.whole_milliseconds() as u64);
    let builder = match smtp.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port.unwrap_or(25)),
        SmtpTls::Starttls => match AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
        {
            Ok(b) => b.port(smtp.port.unwrap_or(587)),
            Err(e) => return failed("smtp_config", e.to_string()),
        },
        SmtpTls::Tls => match AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host) {
            Ok(b) => b.port(smtp.port.unwrap_or(465)),
            Err(e) => return failed("smtp_config", e.to_string()),
        },
    };
    let mut builder = builder.timeout(Some(timeout));
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    let transport = builder.build();
    match tokio::time::timeout(timeout, transport.send(mail)).await {
        Err(_) => {
            outcome::transport_outcome(TransportError::Timeout, "the mail server took too long")
        }
        Ok(Ok(_)) => DeliveryOutcome::Delivered,
        Ok(Err(e)) => {
            let detail = error_chain(&e);
            if e.is_permanent() {
                failed("smtp_refused", detail)
            } else if e.is_transient() {
                DeliveryOutcome::Retry(Failure {
                    code: "smtp_busy".into(),
                    detail: detail.chars().take(200).collect(),
                })
            } else if e.is_timeout() {
                outcome::transport_outcome(TransportError::Timeout, &detail)
            } else if e.is_tls() {
                outcome::transport_outcome(TransportError::Tls, &detail)
            } else {
                outcome::transport_outcome(TransportError::Connect, &detail)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The daily digest
// ---------------------------------------------------------------------------------------------

/// Sends the daily digest once a day, at the configured local time or the first turn after
/// it; instances agree through a settings row which day was done.
pub async fn daily_digest_if_due(
    db: &Db,
    sender: &Sender,
    now: OffsetDateTime,
) -> Result<usize, AppError> {
    let local = now.to_offset(DISPLAY_OFFSET);
    if (local.hour(), local.minute()) < sender.digest_at {
        return Ok(0);
    }
    if !db
        .claim_setting("digest_last_day", &local.date().to_string(), now)
        .await?
    {
        return Ok(0);
    }
    daily_digest(db, now).await
}

/// Gathers every held email into one digest per address and queues it; returns how many
/// digests were queued.
pub async fn daily_digest(db: &Db, now: OffsetDateTime) -> Result<usize, AppError> {
    let held = db.held_deliveries().await?;
    let mut by_address: BTreeMap<(Option<i64>, String), Vec<&Delivery>> = BTreeMap::new();
    for d in &held {
        if let Some(email) = &d.email {
            by_address
                .entry((d.user_id, email.clone()))
                .or_default()
                .push(d);
        }
    }
    let mut queued = 0;
    for ((user_id, email), list) in by_address {
        let items: Vec<render::Notification> = list
            .iter()
            .filter_map(|d| match serde_json::from_str::<Message>(&d.message) {
                Ok(Message::Notification(n)) => Some(n),
                _ => None,
            })
            .collect();
        let Some(first) = items.first() else { continue };
        let lang = first.language;
        let tr = Tr::new(lang);
        let since = items.iter().map(|n| n.occurred_at).min().unwrap_or(now);
        let count = items.len().to_string();
        let digest = Message::Digest(Digest {
            id: format!("digest-{:016x}", rand::random::<u64>()),
            language: lang,
            title: tr.fmt("notify.digest_title", &[("count", &count)]),
            text: tr.fmt("notify.digest_text", &[("count", &count)]),
            link: None,
            since,
            until: now,
            items,
        });
        let ids: Vec<i64> = list.iter().map(|d| d.id).collect();
        let new = NewDelivery {
            channel_id: None,
            email: Some(email),
            user_id,
            event: render::DIGEST_EVENT.into(),
            message: message_json(&digest),
            status: "pending".into(),
            created_at: now,
        };
        if db.save_digest(&new, &ids).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}
