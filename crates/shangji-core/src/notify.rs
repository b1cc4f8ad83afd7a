//! Outgoing notifications, the pure part: what a message says ([`Notification`], [`Digest`]),
//! how it is put to each channel — our generic signed JSON webhook and the group robots of
//! WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) — ([`render`]), what an answer means
//! ([`platform_outcome`], [`transport_outcome`]), when to try again ([`next_attempt`]), and
//! which addresses may be called at all ([`check_webhook_url`], [`ip_allowed`]).
//!
//! The application does the HTTP. It renders a message afresh at every attempt (the
//! platforms' signatures expire after an hour, ours should be checked within minutes) with the
//! same delivery id, sends it outside any request or scheduler turn with a short timeout
//! ([`DELIVERY_TIMEOUT`]), never follows redirects, connects only to resolved addresses that
//! [`ip_allowed`] accepts, and logs every attempt with its [`DeliveryOutcome`]. The formats,
//! the signature scheme, the retry schedule and the allow-list rules are documented for users
//! in `docs/automation.md`.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};
use url::{Host, Url};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::{text_enum, Id, Language, RecordKind};

type HmacSha256 = Hmac<Sha256>;

text_enum!(
    /// Where a notification goes: our generic JSON webhook or a group robot.
    ChannelKind {
        Webhook => "webhook",
        WeCom => "wecom",
        DingTalk => "dingtalk",
        Feishu => "feishu",
    }
);

impl ChannelKind {
    /// The hosts the platform's robot webhooks live on (what an admin adds to the allow-list
    /// to use it); none for the generic webhook.
    pub fn platform_hosts(self) -> &'static [&'static str] {
        match self {
            ChannelKind::Webhook => &[],
            ChannelKind::WeCom => &["qyapi.weixin.qq.com"],
            ChannelKind::DingTalk => &["oapi.dingtalk.com"],
            ChannelKind::Feishu => &["open.feishu.cn", "open.larksuite.com"],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What is said
// ---------------------------------------------------------------------------------------------

/// An absolute link, with its text in the recipient's language ("查看商机" / "Open the deal").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
    pub text: String,
}

/// The record a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub kind: RecordKind,
    pub id: Id,
}

/// A short fact shown under a notification's text (amount, stage, owner…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationField {
    pub label: String,
    pub value: String,
}

/// One thing to tell, already worded in the recipient's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable id of what happened, the same on every attempt and every channel: receivers
    /// drop duplicates by it.
    pub id: String,
    /// What happened, snake_case: `rule_fired`, `approval_requested`, `test`…
    pub event: String,
    /// The language the texts are in (Feishu keys its rich text by language).
    pub language: Language,
    pub title: String,
    /// The body; lines are separated by `\n`.
    pub text: String,
    pub link: Option<Link>,
    pub record: Option<RecordRef>,
    #[serde(default)]
    pub fields: Vec<NotificationField>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

/// Many notifications sent as one message: the daily digest, or what piled up while a
/// channel was down (group robots take about 20 messages a minute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub id: String,
    pub language: Language,
    pub title: String,
    /// An introduction ("12 条提醒"); may be empty.
    pub text: String,
    /// Where to see them all, e.g. the notifications page.
    pub link: Option<Link>,
    /// The period the digest covers.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub items: Vec<Notification>,
}

/// What one delivery carries. Stored as JSON with the delivery, so each retry renders the
/// same message with fresh signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Notification(Notification),
    Digest(Digest),
}

/// The generic webhook's event name of a digest.
pub const DIGEST_EVENT: &str = "digest";

impl Message {
    pub fn id(&self) -> &str {
        match self {
            Message::Notification(n) => &n.id,
            Message::Digest(d) => &d.id,
        }
    }

    /// `X-Shangji-Event`: the notification's event, or `digest`.
    pub fn event(&self) -> &str {
        match self {
            Message::Notification(n) => &n.event,
            Message::Digest(_) => DIGEST_EVENT,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// How it is sent
// ---------------------------------------------------------------------------------------------

/// One HTTP request to make; the method is always `POST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The target's URL, with the signature's query parameters where the platform wants them
    /// (DingTalk). It may carry the robot's key: log [`ParsedTarget::redacted`] instead.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// UTF-8 JSON, exactly the bytes to send (our signature covers them).
    pub body: String,
}

impl OutgoingRequest {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How long one attempt may take, connection included, before it counts as a timeout.
pub const DELIVERY_TIMEOUT: Duration = Duration::seconds(10);

/// WeCom: a markdown message's content is at most 4096 bytes (the platform's limit).
pub const WECOM_MARKDOWN_MAX: usize = 4096;
/// DingTalk: our cap on a markdown message's text, in bytes (kept as short as WeCom's).
pub const DINGTALK_MARKDOWN_MAX: usize = 4096;
/// Feishu: a custom bot's request body is at most 20 KB.
pub const FEISHU_BODY_MAX: usize = 20_000;
/// Robot messages: a title (and a digest item's title) is cut to this many bytes.
const TITLE_MAX: usize = 256;

/// The request that delivers `message` over `channel` to `target` at `now`.
///
/// `secret` signs where the channel signs: our webhook (`X-Shangji-Signature`), DingTalk
/// (`timestamp` and `sign` in the URL), Feishu (`timestamp` and `sign` in the body); WeCom
/// does not sign. Without a secret (or with an empty one) the request goes unsigned.
/// `delivery_id` names this delivery (`X-Shangji-Delivery`), the same on every attempt.
pub fn render(
    channel: ChannelKind,
    target: &ParsedTarget,
    secret: Option<&str>,
    message: &Message,
    delivery_id: &str,
    now: OffsetDateTime,
) -> OutgoingRequest {
    let secret = secret.filter(|s| !s.is_empty());
    match channel {
        ChannelKind::Webhook => render_webhook(target, secret, message, delivery_id, now),
        ChannelKind::WeCom => render_wecom(target, message),
        ChannelKind::DingTalk => render_dingtalk(target, secret, message, now),
        ChannelKind::Feishu => render_feishu(target, secret, message, now),
    }
}

const JSON: &str = "application/json";
const JSON_UTF8: &str = "application/json; charset=utf-8";

fn header(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.checked_to_offset(UtcOffset::UTC)
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("strings, numbers and maps serialize")
}

// --- Generic webhook -----------------------------------------------------------------------

#[derive(Serialize)]
struct WebhookBody<'a> {
    event: &'a str,
    id: &'a str,
    occurred_at: String,
    title: &'a str,
    text: &'a str,
    link: Option<&'a str>,
    record: Option<WebhookRecord>,
    fields: &'a [NotificationField],
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Vec<WebhookBody<'a>>>,
}

#[derive(Serialize)]
struct WebhookRecord {
    #[serde(rename = "type")]
    kind: RecordKind,
    id: Id,
}

fn webhook_notification(n: &Notification) -> WebhookBody<'_> {
    WebhookBody {
        event: &n.event,
        id: &n.id,
        occurred_at: rfc3339(n.occurred_at),
        title: &n.title,
        text: &n.text,
        link: n.link.as_ref().map(|l| l.url.as_str()),
        record: n.record.map(|r| WebhookRecord {
            kind: r.kind,
            id: r.id,
        }),
        fields: &n.fields,
        since: None,
        until: None,
        items: None,
    }
}

fn webhook_body(message: &Message) -> WebhookBody<'_> {
    match message {
        Message::Notification(n) => webhook_notification(n),
        Message::Digest(d) => WebhookBody {
            event: DIGEST_EVENT,
            id: &d.id,
            occurred_at: rfc3339(d.until),
            title: &d.title,
            text: &d.text,
            link: d.link.as_ref().map(|l| l.url.as_str()),
            record: None,
            fields: &[],
            since: Some(rfc3339(d.since)),
            until: Some(rfc3339(d.until)),
            items: Some(d.items.iter().map(webhook_notification).collect()),
        },
    }
}

fn render_webhook(
    target: &ParsedTarget,
    secret: Option<&str>,
    message: &Message,
    delivery_id: &str,
    now: OffsetDateTime,
) -> OutgoingRequest {
    let body = to_json(&webhook_body(message));
    let timestamp = now.unix_timestamp();
    let mut headers = vec![
        header("Content-Type", JSON),
        header(
            "User-Agent",
            concat!("shangji-webhook/", env!("CARGO_PKG_VERSION")),
        ),
        header("X-Shangji-Event", message.event()),
        header("X-Shangji-Delivery", delivery_id),
        header("X-Shangji-Timestamp", timestamp.to_string()),
    ];
    if let Some(secret) = secret {
        headers.push(header(
            "X-Shangji-Signature",
            webhook_signature(secret, timestamp, body.as_bytes()),
        ));
    }
    OutgoingRequest {
        url: target.as_str().to_string(),
        headers,
        body,
    }
}

fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Our webhook's `X-Shangji-Signature`: `sha256=` and the lowercase hex of
/// HMAC-SHA256(key = secret, message = "{timestamp}.{body}"), `timestamp` being the value of
/// `X-Shangji-Timestamp` (Unix seconds) and `body` the exact bytes sent.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    );
    format!("sha256={}", hex::encode(mac))
}

/// Whether `header` (the `X-Shangji-Signature` received) signs `body` with `timestamp` (the
/// `X-Shangji-Timestamp` received, as is) under `secret`. The comparison takes the same time
/// wherever the bytes differ. Receivers should also refuse timestamps more than a few minutes
/// away from their clock, against replays.
pub fn verify_webhook_signature(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(hex_mac) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// DingTalk's 加签: Base64 of HMAC-SHA256(key = secret, message = "{timestamp}\n{secret}"),
/// `timestamp` in milliseconds. URL-encoded when added to the URL as `sign`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let to_sign = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), &[to_sign.as_bytes()]))
}

/// Feishu's 签名校验: Base64 of HMAC-SHA256(key = "{timestamp}\n{secret}", message = empty),
/// `timestamp` in seconds — key and message the other way round from DingTalk's.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key.as_bytes(), &[]))
}

// --- Group robots --------------------------------------------------------------------------

/// What a robot message shows, before it is fitted to the platform's size limit.
struct Parts<'a> {
    language: Language,
    title: Cow<'a, str>,
    text: &'a str,
    items: Vec<Item<'a>>,
    link: Option<&'a Link>,
}

/// A line under the text: a notification's field (quoted) or a digest's notification.
struct Item<'a> {
    text: Cow<'a, str>,
    url: Option<&'a str>,
    quoted: bool,
}

/// How much of the parts is shown: the first `keep` items, and the text whole or cut to
/// `text_cut` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    keep: usize,
    text_cut: Option<usize>,
}

fn parts(message: &Message) -> Parts<'_> {
    match message {
        Message::Notification(n) => {
            let colon = match n.language {
                Language::ZhCn => "：",
                Language::En => ": ",
            };
            Parts {
                language: n.language,
                title: cap(&n.title, TITLE_MAX),
                text: &n.text,
                items: n
                    .fields
                    .iter()
                    .map(|f| Item {
                        text: Cow::Owned(one_line(&format!("{}{colon}{}", f.label, f.value))),
                        url: None,
                        quoted: true,
                    })
                    .collect(),
                link: n.link.as_ref(),
            }
        }
        Message::Digest(d) => Parts {
            language: d.language,
            title: cap(&d.title, TITLE_MAX),
            text: &d.text,
            items: d
                .items
                .iter()
                .map(|n| Item {
                    text: Cow::Owned(one_line(&cap(&n.title, TITLE_MAX))),
                    url: n.link.as_ref().map(|l| l.url.as_str()),
                    quoted: false,
                })
                .collect(),
            link: d.link.as_ref(),
        },
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn floor_boundary(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

const ELLIPSIS: &str = "…";

/// `s` in at most `max` bytes: whole, or cut on a character boundary and ended with "…".
fn cap(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        Cow::Borrowed(s)
    } else {
        let cut = floor_boundary(s, max.saturating_sub(ELLIPSIS.len()));
        Cow::Owned(format!("{cut}{ELLIPSIS}"))
    }
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn shown_text<'a>(text: &'a str, cut: Option<usize>) -> Cow<'a, str> {
    match cut {
        None => Cow::Borrowed(text),
        Some(cut) => Cow::Owned(format!("{}{ELLIPSIS}", floor_boundary(text, cut))),
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_end).filter(|l| !l.is_empty())
}

/// A link target fit for a chat message: http(s) only, with the characters that would end a
/// markdown link percent-encoded.
fn safe_url(url: &str) -> Option<String> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// A markdown link's text: square brackets would end it, so they become full-width ones.
fn link_text(text: &str) -> String {
    one_line(text).replace('[', "［").replace(']', "］")
}

fn overflow(p: &Parts, shape: Shape) -> Option<String> {
    let left = p.items.len() - shape.keep;
    (left > 0).then(|| format!("{ELLIPSIS} +{left}"))
}

/// WeCom's and DingTalk's markdown; blocks joined by `sep` (WeCom breaks lines on `\n`,
/// DingTalk needs a blank line).
fn markdown(p: &Parts, shape: Shape, sep: &str) -> String {
    let mut blocks = vec![format!("### {}", one_line(&p.title))];
    let text = shown_text(p.text, shape.text_cut);
    blocks.extend(lines(&text).map(str::to_string));
    for item in &p.items[..shape.keep] {
        blocks.push(if item.quoted {
            format!("> {}", item.text)
        } else {
            match item.url.and_then(safe_url) {
                Some(url) => format!("- [{}]({url})", link_text(&item.text)),
                None => format!("- {}", item.text),
            }
        });
    }
    let mut tail: Vec<String> = overflow(p, shape).into_iter().collect();
    if let Some(link) = p.link {
        if let Some(url) = safe_url(&link.url) {
            tail.push(format!("[{}]({url})", link_text(&link.text)));
        }
    }
    // A line right after a quote or a list item would continue it: a blank line ends them.
    if shape.keep > 0 && !tail.is_empty() && !sep.ends_with("\n\n") {
        blocks.push(String::new());
    }
    blocks.extend(tail);
    blocks.join(sep)
}

/// The most of `p` whose rendering is at most `budget` bytes: every item if they fit, else as
/// many as fit (then a "… +N" line); if not even the title, text and link fit, no item and the
/// text cut. `size` is the rendering's size for a shape.
fn fit(p: &Parts, budget: usize, size: impl Fn(Shape) -> usize) -> Shape {
    let n = p.items.len();
    let whole = Shape {
        keep: n,
        text_cut: None,
    };
    if size(whole) <= budget {
        return whole;
    }
    let keeping = |keep| Shape {
        keep,
        text_cut: None,
    };
    if size(keeping(0)) <= budget {
        // `lo` fits, `hi` does not.
        let (mut lo, mut hi) = (0, n);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if size(keeping(mid)) <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return keeping(lo);
    }
    let cutting = |cut| Shape {
        keep: 0,
        text_cut: Some(cut),
    };
    // `hi` does not fit; `lo` is the best cut known (0 when nothing fits: the caller's
    // last resort then applies).
    let (mut lo, mut hi) = (0, p.text.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if size(cutting(mid)) <= budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    cutting(lo)
}

fn fitted_markdown(p: &Parts, sep: &str, budget: usize) -> String {
    let shape = fit(p, budget, |s| markdown(p, s, sep).len());
    let text = markdown(p, shape, sep);
    if text.len() <= budget {
        text
    } else {
        // Only an absurdly long link gets here.
        floor_boundary(&text, budget).to_string()
    }
}

fn render_wecom(target: &ParsedTarget, message: &Message) -> OutgoingRequest {
    let p = parts(message);
    let body = json!({
        "msgtype": "markdown",
        "markdown": { "content": fitted_markdown(&p, "\n", WECOM_MARKDOWN_MAX) },
    });
    OutgoingRequest {
        url: target.as_str().to_string(),
        headers: vec![header("Content-Type", JSON_UTF8)],
        body: to_json(&body),
    }
}

fn render_dingtalk(
    target: &ParsedTarget,
    secret: Option<&str>,
    message: &Message,
    now: OffsetDateTime,
) -> OutgoingRequest {
    let p = parts(message);
    let body = json!({
        "msgtype": "markdown",
        "markdown": {
            "title": one_line(&p.title),
            "text": fitted_markdown(&p, "\n\n", DINGTALK_MARKDOWN_MAX),
        },
    });
    let url = match secret {
        Some(secret) => {
            let timestamp = crate::unix_ms(now);
            let sign = dingtalk_sign(secret, timestamp);
            with_query(
                &target.url,
                &[("timestamp", &timestamp.to_string()), ("sign", &sign)],
            )
        }
        None => target.as_str().to_string(),
    };
    OutgoingRequest {
        url,
        headers: vec![header("Content-Type", JSON_UTF8)],
        body: to_json(&body),
    }
}

/// `url` with `pairs` set in its query (form-encoded: `+` `/` `=` become `%2B` `%2F` `%3D`),
/// replacing parameters of the same names.
fn with_query(url: &Url, pairs: &[(&str, &str)]) -> String {
    let mut url = url.clone();
    let clashes = url
        .query_pairs()
        .any(|(k, _)| pairs.iter().any(|(p, _)| *p == k));
    if clashes {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !pairs.iter().any(|(p, _)| *p == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        url.query_pairs_mut().extend_pairs(kept);
    }
    url.query_pairs_mut().extend_pairs(pairs);
    url.into()
}

fn feishu_paragraphs(p: &Parts, shape: Shape) -> Vec<Value> {
    let mut out = Vec::new();
    let text = shown_text(p.text, shape.text_cut);
    out.extend(lines(&text).map(|l| json!([{ "tag": "text", "text": l }])));
    for item in &p.items[..shape.keep] {
        out.push(match (item.quoted, item.url.and_then(safe_url)) {
            (false, Some(url)) => json!([
                { "tag": "text", "text": "• " },
                { "tag": "a", "text": item.text, "href": url },
            ]),
            (false, None) => json!([{ "tag": "text", "text": format!("• {}", item.text) }]),
            (true, _) => json!([{ "tag": "text", "text": item.text }]),
        });
    }
    if let Some(line) = overflow(p, shape) {
        out.push(json!([{ "tag": "text", "text": line }]));
    }
    if let Some(link) = p.link {
        if let Some(url) = safe_url(&link.url) {
            out.push(json!([{ "tag": "a", "text": one_line(&link.text), "href": url }]));
        }
    }
    out
}

fn feishu_body(p: &Parts, shape: Shape, signature: Option<&(String, String)>) -> Value {
    let language = match p.language {
        Language::ZhCn => "zh_cn",
        Language::En => "en_us",
    };
    let mut body = json!({
        "msg_type": "post",
        "content": {
            "post": {
                language: {
                    "title": one_line(&p.title),
                    "content": feishu_paragraphs(p, shape),
                },
            },
        },
    });
    if let Some((timestamp, sign)) = signature {
        body["timestamp"] = json!(timestamp);
        body["sign"] = json!(sign);
    }
    body
}

fn render_feishu(
    target: &ParsedTarget,
    secret: Option<&str>,
    message: &Message,
    now: OffsetDateTime,
) -> OutgoingRequest {
    let p = parts(message);
    let signature = secret.map(|secret| {
        let timestamp = now.unix_timestamp();
        (timestamp.to_string(), feishu_sign(secret, timestamp))
    });
    let shape = fit(&p, FEISHU_BODY_MAX, |s| {
        to_json(&feishu_body(&p, s, signature.as_ref())).len()
    });
    OutgoingRequest {
        url: target.as_str().to_string(),
        headers: vec![header("Content-Type", JSON_UTF8)],
        body: to_json(&feishu_body(&p, shape, signature.as_ref())),
    }
}

// ---------------------------------------------------------------------------------------------
// What came back
// ---------------------------------------------------------------------------------------------

/// Why an attempt did not deliver, for the delivery log: `code` is stable (`http_503`,
/// `platform_45009`, `timeout`…), `detail` says more (the platform's message, the error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub detail: String,
}

impl Failure {
    fn new(code: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure {
            code: code.into(),
            detail: detail.into(),
        }
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Delivered,
    /// Worth trying again later (see [`next_attempt`]).
    Retry(Failure),
    /// Trying again would fail the same way: the delivery stops here.
    Failed(Failure),
}

impl DeliveryOutcome {
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            DeliveryOutcome::Delivered => None,
            DeliveryOutcome::Retry(f) | DeliveryOutcome::Failed(f) => Some(f),
        }
    }
}

text_enum!(
    /// How an attempt failed before an HTTP answer came: no answer within
    /// [`DELIVERY_TIMEOUT`] (`timeout`); the name did not resolve, or the connection was
    /// refused or reset (`connect`); the TLS handshake failed (`tls`); the host resolved only
    /// to addresses [`ip_allowed`] refuses (`address_refused`); anything else (`io`).
    TransportError {
        Timeout => "timeout",
        Connect => "connect",
        Tls => "tls",
        AddressRefused => "address_refused",
        Io => "io",
    }
);

/// The outcome of an attempt that got no answer. Only a refused address is final: the rest
/// may pass (a server back up, a certificate renewed).
pub fn transport_outcome(error: TransportError, detail: &str) -> DeliveryOutcome {
    let failure = Failure::new(error.as_str(), cap(detail, 200));
    match error {
        TransportError::AddressRefused => DeliveryOutcome::Failed(failure),
        _ => DeliveryOutcome::Retry(failure),
    }
}

/// The outcome of an HTTP status alone: 2xx delivered; 408, 425, 429 and 5xx retried;
/// redirects (never followed: they could lead past the allow-list) and other 4xx failed.
pub fn http_outcome(status: u16) -> DeliveryOutcome {
    let failure = || Failure::new(format!("http_{status}"), format!("HTTP {status}"));
    match status {
        200..=299 => DeliveryOutcome::Delivered,
        300..=399 => DeliveryOutcome::Failed(Failure::new(
            "redirect",
            format!("HTTP {status}: redirects are not followed"),
        )),
        408 | 425 | 429 | 500..=599 => DeliveryOutcome::Retry(failure()),
        _ => DeliveryOutcome::Failed(failure()),
    }
}

/// The outcome of an answer over `channel`. The robots answer HTTP 200 with an error code in
/// the body (`errcode` for WeCom and DingTalk, `code` — formerly `StatusCode` — for Feishu):
/// 0 is delivered; rate limits and "system busy" are retried; other codes fail. A 2xx
/// answer a robot would not give (no code) fails as `unexpected_answer`.
pub fn platform_outcome(channel: ChannelKind, status: u16, body: &str) -> DeliveryOutcome {
    let by_status = http_outcome(status);
    if channel == ChannelKind::Webhook {
        return by_status;
    }
    match platform_answer(channel, body) {
        Some((0, _)) => by_status,
        Some((code, message)) => {
            let failure = Failure::new(format!("platform_{code}"), cap(&message, 200));
            if transient_code(channel, code) || matches!(by_status, DeliveryOutcome::Retry(_)) {
                DeliveryOutcome::Retry(failure)
            } else {
                DeliveryOutcome::Failed(failure)
            }
        }
        None if matches!(by_status, DeliveryOutcome::Delivered) => {
            DeliveryOutcome::Failed(Failure::new("unexpected_answer", cap(body.trim(), 200)))
        }
        None => by_status,
    }
}

fn platform_answer(channel: ChannelKind, body: &str) -> Option<(i64, String)> {
    let v: Value = serde_json::from_str(body).ok()?;
    let (code, message) = match channel {
        ChannelKind::Webhook => return None,
        ChannelKind::WeCom | ChannelKind::DingTalk => (&v["errcode"], &v["errmsg"]),
        ChannelKind::Feishu if v.get("code").is_some() => (&v["code"], &v["msg"]),
        ChannelKind::Feishu => (&v["StatusCode"], &v["StatusMessage"]),
    };
    Some((
        code.as_i64()?,
        message.as_str().unwrap_or_default().to_string(),
    ))
}

/// Error codes that say "later": system busy (-1), WeCom's rate limits (45009, 45033),
/// DingTalk's (130101: over 20 messages a minute), Feishu's (11232).
fn transient_code(channel: ChannelKind, code: i64) -> bool {
    match channel {
        ChannelKind::Webhook => false,
        ChannelKind::WeCom => matches!(code, -1 | 45009 | 45033),
        ChannelKind::DingTalk => matches!(code, -1 | 130101),
        ChannelKind::Feishu => matches!(code, 11232),
    }
}

// ---------------------------------------------------------------------------------------------
// When to try again
// ---------------------------------------------------------------------------------------------

/// The wait after each failed attempt: 1 min, 5 min, 30 min, 2 h, 6 h.
pub const RETRY_DELAYS: [Duration; 5] = [
    Duration::minutes(1),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(6),
];

/// Attempts made before a delivery is given up (the first one and one per delay).
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS.len() as u32 + 1;

/// When to make the next attempt, `attempt` attempts having been made (the last at
/// `last_at`, and it asked for a retry); `None` once [`MAX_ATTEMPTS`] were made: the delivery
/// is given up. With no attempt made yet, at once.
pub fn next_attempt(attempt: u32, last_at: OffsetDateTime) -> Option<OffsetDateTime> {
    if attempt == 0 {
        return Some(last_at);
    }
    let delay = RETRY_DELAYS.get(attempt as usize - 1)?;
    last_at.checked_add(*delay)
}

// ---------------------------------------------------------------------------------------------
// Where it may go
// ---------------------------------------------------------------------------------------------

text_enum!(
    /// What kind of address an IP is; only `public` ones are called without being named in
    /// the allow-list.
    AddressClass {
        Public => "public",
        Unspecified => "unspecified",
        Loopback => "loopback",
        Private => "private",
        LinkLocal => "link_local",
        UniqueLocal => "unique_local",
        Shared => "shared",
        Documentation => "documentation",
        Multicast => "multicast",
        Broadcast => "broadcast",
        Reserved => "reserved",
    }
);

impl AddressClass {
    /// Addresses no webhook can be at, whatever the allow-list says.
    fn never(self) -> bool {
        matches!(
            self,
            AddressClass::Unspecified | AddressClass::Multicast | AddressClass::Broadcast
        )
    }
}

/// The class of `ip`; an IPv4 address written as IPv6 (`::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
/// 6to4 `2002::/16`) is classed by its IPv4 address.
pub fn classify_ip(ip: IpAddr) -> AddressClass {
    match ip.to_canonical() {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> AddressClass {
    let [o0, o1, o2, _] = a.octets();
    if a.is_unspecified() {
        AddressClass::Unspecified
    } else if a.is_broadcast() {
        AddressClass::Broadcast
    } else if a.is_loopback() {
        AddressClass::Loopback
    } else if a.is_private() {
        AddressClass::Private
    } else if a.is_link_local() {
        AddressClass::LinkLocal
    } else if a.is_multicast() {
        AddressClass::Multicast
    } else if a.is_documentation() {
        AddressClass::Documentation
    } else if o0 == 100 && (o1 & 0xc0) == 64 {
        AddressClass::Shared
    } else if o0 == 0
        || o0 >= 240
        || (o0 == 192 && o1 == 0 && o2 == 0)
        || (o0 == 198 && (o1 & 0xfe) == 18)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(a: Ipv6Addr) -> AddressClass {
    let s = a.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        classify_v4(Ipv4Addr::new(a, b, c, d))
    };
    if a.is_unspecified() {
        AddressClass::Unspecified
    } else if a.is_loopback() {
        AddressClass::Loopback
    } else if s[0] & 0xff00 == 0xff00 {
        AddressClass::Multicast
    } else if s[0] & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 {
        AddressClass::UniqueLocal
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        AddressClass::Documentation
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        embedded(s[6], s[7])
    } else if s[0] == 0x2002 {
        embedded(s[1], s[2])
    } else if s[0] & 0xe000 == 0x2000 {
        AddressClass::Public
    } else {
        // Outside global unicast: site-local, IPv4-compatible, discard-only…
        AddressClass::Reserved
    }
}

/// What an allow-list entry admits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: any host name, and any public address.
    Any,
    /// `hooks.example.com`.
    Host(String),
    /// `*.example.com`, kept as `.example.com`: its subdomains, not itself.
    Suffix(String),
    /// `10.0.0.5`, `[fd00::5]`.
    Ip(IpAddr),
    /// `10.0.0.0/8`, `fd00::/8`.
    Net(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowEntry {
    /// Written `http://…`: plain http is allowed too.
    http: bool,
    pattern: Pattern,
    /// Without a port, only the scheme's own (443, 80).
    port: Option<u16>,
}

fn entry_error(entry: &str, why: &str) -> FieldError {
    FieldError::new(
        "allow_list",
        "allow_entry_invalid",
        format!("`{entry}`: {why}"),
    )
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_allow_entry(entry: &str) -> Result<AllowEntry, FieldError> {
    let raw = entry.trim();
    let (http, rest) = if let Some(rest) = strip_prefix_ignore_case(raw, "http://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(raw, "https://") {
        (false, rest)
    } else {
        (false, raw)
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(entry_error(raw, "empty"));
    }
    if let Some((addr, len)) = rest.split_once('/') {
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(entry_error(
                raw,
                "an entry is a host, not a URL with a path",
            ));
        }
        let bad = || entry_error(raw, "a network is an address, `/` and a prefix length");
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max || addr.to_canonical() != addr {
            return Err(bad());
        }
        return Ok(AllowEntry {
            http,
            pattern: Pattern::Net(addr, len),
            port: None,
        });
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| entry_error(raw, "unclosed `[`"))?;
        (format!("[{v6}]"), after.strip_prefix(':'))
    } else if rest.parse::<Ipv6Addr>().is_ok() {
        (format!("[{rest}]"), None)
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(entry_error(raw, "the port is not a number from 1 to 65535")),
        },
    };
    let domain = |name: &str| match Host::parse(name) {
        Ok(Host::Domain(d)) if !d.contains('*') && !d.trim_end_matches('.').is_empty() => {
            Ok(d.trim_end_matches('.').to_string())
        }
        _ => Err(entry_error(
            raw,
            "not a host name, `*.` and a host name, `*` or an IP address",
        )),
    };
    let pattern = if host == "*" {
        Pattern::Any
    } else if let Some(suffix) = host.strip_prefix("*.") {
        Pattern::Suffix(format!(".{}", domain(suffix)?))
    } else {
        match Host::parse(&host) {
            Ok(Host::Ipv4(a)) => Pattern::Ip(IpAddr::V4(a)),
            Ok(Host::Ipv6(a)) => Pattern::Ip(IpAddr::V6(a).to_canonical()),
            _ => Pattern::Host(domain(&host)?),
        }
    };
    Ok(AllowEntry {
        http,
        pattern,
        port,
    })
}

/// Whether `entry` is a valid allow-list entry: `[http://|https://]host[:port]`, where host is
/// a name (`hooks.example.com`), a subdomain pattern (`*.example.com`), `*`, an IP address
/// (`10.0.0.5`, `[fd00::5]`); or `[http://]address/prefix` (`10.0.0.0/8`).
pub fn check_allow_entry(entry: &str) -> Result<(), FieldError> {
    parse_allow_entry(entry).map(|_| ())
}

fn allow_entries(allow: &[String]) -> impl Iterator<Item = AllowEntry> + '_ {
    allow.iter().filter_map(|e| parse_allow_entry(e).ok())
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - len as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - len as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl AllowEntry {
    /// Whether the entry names `ip` itself (an address or a network; `*` does not count).
    fn names_address(&self, ip: IpAddr) -> bool {
        match self.pattern {
            Pattern::Ip(a) => a == ip,
            Pattern::Net(n, len) => in_net(ip, n, len),
            _ => false,
        }
    }

    fn matches_host(&self, domain: Option<&str>, ip: Option<IpAddr>) -> bool {
        match (&self.pattern, domain, ip) {
            (Pattern::Any, _, _) => true,
            (Pattern::Host(h), Some(d), _) => h == d,
            (Pattern::Suffix(s), Some(d), _) => d.len() > s.len() && d.ends_with(s.as_str()),
            (_, _, Some(ip)) => self.names_address(ip),
            _ => false,
        }
    }

    fn allows_port(&self, port: u16, http: bool) -> bool {
        port == self.port.unwrap_or(if http { 80 } else { 443 })
    }
}

/// Whether the application may connect to `ip`, an address the target's host resolved to
/// (checked after resolving and before connecting, so a name cannot be pointed at an
/// internal address after its URL was accepted). Public addresses may; unspecified, multicast
/// and broadcast ones never; the others (loopback, private, link-local, unique-local,
/// shared, documentation, reserved) only when an allow-list entry names the address or its
/// network.
pub fn ip_allowed(ip: IpAddr, allow: &[String]) -> bool {
    let ip = ip.to_canonical();
    match classify_ip(ip) {
        AddressClass::Public => true,
        class if class.never() => false,
        _ => allow_entries(allow).any(|e| e.names_address(ip)),
    }
}

/// Why a webhook URL is refused; `code` is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not an absolute URL")]
    Invalid,
    #[error("only https URLs (or http where the allow-list says so) can be called")]
    Scheme,
    #[error("the URL carries a user name or password")]
    Credentials,
    #[error("the host is not in the webhook allow-list")]
    HostNotAllowed,
    #[error("the allow-list does not allow this port for this host")]
    PortNotAllowed,
    #[error("the allow-list does not allow plain http for this host")]
    HttpNotAllowed,
    #[error("the address is {0}, not public, and the allow-list does not name it")]
    AddressNotPublic(AddressClass),
}

impl UrlRefusal {
    pub fn code(self) -> &'static str {
        match self {
            UrlRefusal::Invalid => "url_invalid",
            UrlRefusal::Scheme => "url_scheme",
            UrlRefusal::Credentials => "url_credentials",
            UrlRefusal::HostNotAllowed => "url_host_not_allowed",
            UrlRefusal::PortNotAllowed => "url_port_not_allowed",
            UrlRefusal::HttpNotAllowed => "url_http_not_allowed",
            UrlRefusal::AddressNotPublic(_) => "url_address_not_public",
        }
    }
}

/// A webhook URL the allow-list admits; only [`check_webhook_url`] makes one, so whatever is
/// rendered was checked against the allow-list of the moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTarget {
    url: Url,
    host: String,
    port: u16,
    ip: Option<IpAddr>,
}

impl ParsedTarget {
    /// The URL to call (without any fragment).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host name, or the address as written in the URL.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address, when the URL's host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The URL for logs and pages, without its secrets: query values and path segments of
    /// 16 characters or more (robot keys and tokens) are shortened to "…" — after their first
    /// 4 characters when they have 12 or more.
    pub fn redacted(&self) -> String {
        // Long values keep their first 4 characters (enough to tell two apart), short ones
        // nothing.
        let short = |s: &str| {
            if s.chars().count() >= 12 {
                format!("{}{ELLIPSIS}", s.chars().take(4).collect::<String>())
            } else if s.is_empty() {
                String::new()
            } else {
                ELLIPSIS.to_string()
            }
        };
        let mut out = format!(
            "{}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or("")
        );
        if let Some(port) = self.url.port() {
            out.push_str(&format!(":{port}"));
        }
        let path = self.url.path();
        out.push_str(
            &path
                .split('/')
                .map(|seg| {
                    if seg.len() >= 16 {
                        short(seg)
                    } else {
                        seg.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/"),
        );
        let query: Vec<String> = self
            .url
            .query_pairs()
            .map(|(k, v)| format!("{k}={}", short(&v)))
            .collect();
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    }
}

/// A webhook URL as shown back to people and over the API: robot URLs carry their credential
/// in the URL (WeCom `?key=`, DingTalk `?access_token=`, Feishu `/hook/<token>`), so every
/// query value and the token after `/hook/` keep only their first 4 characters. Saving a
/// channel with its masked URL keeps the stored one.
pub fn mask_url(url: &str) -> String {
    fn part(s: &str) -> String {
        if s.chars().count() > 4 {
            format!("{}…", s.chars().take(4).collect::<String>())
        } else {
            s.to_string()
        }
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.find("/hook/") {
        Some(at) => {
            let (head, token) = base.split_at(at + "/hook/".len());
            format!("{head}{}", part(token))
        }
        None => base.to_string(),
    };
    match query {
        None => base,
        Some(q) => {
            let masked: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => format!("{k}={}", part(v)),
                    None => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", masked.join("&"))
        }
    }
}

/// Whether `url` may be called under the allow-list `allow` (entries as in
/// [`check_allow_entry`]; invalid ones are ignored). It must be https — http only if a
/// matching entry is written `http://…` — without a user name or password; its host must
/// match an entry (exactly, `*.suffix` for subdomains, or `*`) on the entry's port (else the
/// scheme's own); and a host written as an address must be public unless an entry names that
/// address or its network (unspecified, multicast and broadcast addresses never). Names are
/// compared after IDNA (punycode) and lowercasing, without a trailing dot.
pub fn check_webhook_url(url: &str, allow: &[String]) -> Result<ParsedTarget, UrlRefusal> {
    let mut parsed = Url::parse(url.trim()).map_err(|_| UrlRefusal::Invalid)?;
    let http = match parsed.scheme() {
        "https" => false,
        "http" => true,
        _ => return Err(UrlRefusal::Scheme),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    parsed.set_fragment(None);
    let (domain, ip) = match parsed.host() {
        Some(Host::Domain(d)) => (Some(d.trim_end_matches('.').to_string()), None),
        Some(Host::Ipv4(a)) => (None, Some(IpAddr::V4(a))),
        Some(Host::Ipv6(a)) => (None, Some(IpAddr::V6(a).to_canonical())),
        None => return Err(UrlRefusal::Invalid),
    };
    if domain.as_deref() == Some("") {
        return Err(UrlRefusal::Invalid);
    }
    let port = parsed.port_or_known_default().ok_or(UrlRefusal::Invalid)?;
    let entries: Vec<AllowEntry> = allow_entries(allow)
        .filter(|e| e.matches_host(domain.as_deref(), ip))
        .collect();
    if entries.is_empty() {
        return Err(UrlRefusal::HostNotAllowed);
    }
    let on_port: Vec<&AllowEntry> = entries
        .iter()
        .filter(|e| e.allows_port(port, http))
        .collect();
    if on_port.is_empty() {
        return Err(UrlRefusal::PortNotAllowed);
    }
    if http && !on_port.iter().any(|e| e.http) {
        return Err(UrlRefusal::HttpNotAllowed);
    }
    if let Some(ip) = ip {
        if !ip_allowed(ip, allow) {
            return Err(UrlRefusal::AddressNotPublic(classify_ip(ip)));
        }
    }
    let host = domain
        .or_else(|| ip.map(|ip| ip.to_string()))
        .unwrap_or_default();
    Ok(ParsedTarget {
        url: parsed,
        host,
        port,
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_credentials_are_masked_in_urls() {
        let cases = [
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a…",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef",
                "https://oapi.dingtalk.com/robot/send?access_token=0123…",
            ),
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef",
                "https://open.feishu.cn/open-apis/bot/v2/hook/0123…",
            ),
            (
                "https://hooks.example.com/crm?v=1&sig=abcdefgh",
                "https://hooks.example.com/crm?v=1&sig=abcd…",
            ),
            (
                "https://hooks.example.com/crm",
                "https://hooks.example.com/crm",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(mask_url(url), shown, "{url}");
        }
    }
    use time::macros::datetime;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A target under an allow-list of just its own host.
    fn target(url: &str) -> ParsedTarget {
        let host = Url::parse(url).unwrap().host_str().unwrap().to_string();
        check_webhook_url(url, &[host]).unwrap()
    }

    fn notification() -> Notification {
        Notification {
            id: "n-1001".into(),
            event: "rule_fired".into(),
            language: Language::ZhCn,
            title: "商机「华东医院二期」停滞 12 天".into(),
            text: "阶段：方案报价\n负责人：王芳".into(),
            link: Some(Link {
                url: "https://crm.example.com/opportunities/42".into(),
                text: "查看商机".into(),
            }),
            record: Some(RecordRef {
                kind: RecordKind::Opportunity,
                id: 42,
            }),
            fields: vec![NotificationField {
                label: "金额".into(),
                value: "¥1,200,000.00".into(),
            }],
            occurred_at: datetime!(2026-05-01 08:00 +08:00),
        }
    }

    fn digest(items: usize) -> Digest {
        Digest {
            id: "digest-2026-05-01".into(),
            language: Language::En,
            title: "Daily digest".into(),
            text: format!("{items} alerts"),
            link: Some(Link {
                url: "https://crm.example.com/notifications".into(),
                text: "All notifications".into(),
            }),
            since: datetime!(2026-04-30 00:00 UTC),
            until: datetime!(2026-05-01 00:00 UTC),
            items: (0..items)
                .map(|i| Notification {
                    id: format!("n-{i}"),
                    title: format!("Deal {i} is rotting"),
                    language: Language::En,
                    // Every third item has no link.
                    link: (i % 3 != 2).then(|| Link {
                        url: format!("https://crm.example.com/opportunities/{i}"),
                        text: "Open".into(),
                    }),
                    ..notification()
                })
                .collect(),
        }
    }

    fn body(request: &OutgoingRequest) -> Value {
        serde_json::from_str(&request.body).unwrap()
    }

    // --- Signatures ---------------------------------------------------------------------

    #[test]
    fn signatures_match_the_platforms_algorithms() {
        // Expected values computed with Python's hmac module, following each platform's own
        // sample code:
        // python3 -c 'import hmac,hashlib,base64; s="this is secret"; t=1577836800000;
        //   print(base64.b64encode(hmac.new(s.encode(), f"{t}\n{s}".encode(),
        //   hashlib.sha256).digest()))'
        assert_eq!(
            dingtalk_sign("this is secret", 1_577_836_800_000),
            "fFV9t5lBS7KH4+5B0JjR99ab+AJkXFauQXycgTkS/tc="
        );
        // python3 -c 'import hmac,hashlib,base64; s="this is secret"; t=1599360473;
        //   print(base64.b64encode(hmac.new(f"{t}\n{s}".encode(), b"", hashlib.sha256).digest()))'
        assert_eq!(
            feishu_sign("this is secret", 1_599_360_473),
            "/eYKrXQBzTjUZJ3s6NX16VxGbTwmK7AEs8/FnvC1CSw="
        );
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test",
        //   b"1714550400.{\"hello\":\"world\"}", hashlib.sha256).hexdigest())'
        assert_eq!(
            webhook_signature("whsec_test", 1_714_550_400, br#"{"hello":"world"}"#),
            "sha256=655bea187f6b88d76f68b70706d7c6a6725c1c216eb50eb670ccd3a18e027661"
        );
    }

    #[test]
    fn webhook_signatures_verify() {
        let body = br#"{"hello":"world"}"#;
        let good = "sha256=655bea187f6b88d76f68b70706d7c6a6725c1c216eb50eb670ccd3a18e027661";
        let upper = "sha256=655BEA187F6B88D76F68B70706D7C6A6725C1C216EB50EB670CCD3A18E027661";
        let check = |secret: &str, ts: &str, body: &[u8], header: &str, expected: bool| {
            assert_eq!(
                verify_webhook_signature(secret, ts, body, header),
                expected,
                "{secret} {ts} {header}"
            );
        };
        check("whsec_test", "1714550400", body, good, true);
        check("whsec_test", "1714550400", body, upper, true);
        check("whsec_test", "1714550400", body, &format!(" {good} "), true);
        check("whsec_other", "1714550400", body, good, false);
        check("whsec_test", "1714550401", body, good, false);
        check(
            "whsec_test",
            "1714550400",
            br#"{"hello":"World"}"#,
            good,
            false,
        );
        check(
            "whsec_test",
            "1714550400",
            body,
            &good.replace("sha256=", ""),
            false,
        );
        check(
            "whsec_test",
            "1714550400",
            body,
            &good.replace("sha256=", "sha1="),
            false,
        );
        check(
            "whsec_test",
            "1714550400",
            body,
            &good[..good.len() - 2],
            false,
        );
        check("whsec_test", "1714550400", body, "sha256=zz", false);
        check("whsec_test", "1714550400", body, "", false);
        // No secret verifies nothing, not even a signature made with the empty key.
        let empty = webhook_signature("", 1_714_550_400, body);
        check("", "1714550400", body, &empty, false);
    }

    // --- Generic webhook ----------------------------------------------------------------

    #[test]
    fn webhook_request_is_documented_json_signed() {
        let now = datetime!(2026-05-01 00:00:30 UTC);
        let req = render(
            ChannelKind::Webhook,
            &target("https://hooks.example.com/shangji"),
            Some("whsec_test"),
            &Message::Notification(notification()),
            "d-77",
            now,
        );
        assert_eq!(req.url, "https://hooks.example.com/shangji");
        assert_eq!(
            req.body,
            concat!(
                r#"{"event":"rule_fired","id":"n-1001","occurred_at":"2026-05-01T00:00:00Z","#,
                r#""title":"商机「华东医院二期」停滞 12 天","text":"阶段：方案报价\n负责人：王芳","#,
                r#""link":"https://crm.example.com/opportunities/42","#,
                r#""record":{"type":"opportunity","id":42},"#,
                r#""fields":[{"label":"金额","value":"¥1,200,000.00"}]}"#
            )
        );
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("X-Shangji-Event"), Some("rule_fired"));
        assert_eq!(req.header("X-Shangji-Delivery"), Some("d-77"));
        assert_eq!(req.header("X-Shangji-Timestamp"), Some("1777593630"));
        // python3 -c 'import hmac,hashlib,sys; body=open("body.json","rb").read();
        //   print(hmac.new(b"whsec_test", b"1777593630." + body, hashlib.sha256).hexdigest())'
        // with body.json holding the body above, UTF-8, no trailing newline.
        assert_eq!(
            req.header("X-Shangji-Signature"),
            Some("sha256=d8c888e29362b4c35bdbf872349ab37e59f19c645063b73030046435861c35db")
        );
        assert!(verify_webhook_signature(
            "whsec_test",
            "1777593630",
            req.body.as_bytes(),
            req.header("X-Shangji-Signature").unwrap()
        ));
    }

    #[test]
    fn webhook_without_a_secret_is_unsigned() {
        for secret in [None, Some("")] {
            let req = render(
                ChannelKind::Webhook,
                &target("https://hooks.example.com/shangji"),
                secret,
                &Message::Notification(notification()),
                "d-1",
                datetime!(2026-05-01 00:00 UTC),
            );
            assert_eq!(req.header("X-Shangji-Signature"), None);
            assert!(req.header("X-Shangji-Timestamp").is_some());
        }
    }

    #[test]
    fn webhook_digest_lists_its_notifications() {
        let req = render(
            ChannelKind::Webhook,
            &target("https://hooks.example.com/shangji"),
            Some("s"),
            &Message::Digest(digest(3)),
            "d-2",
            datetime!(2026-05-01 00:00 UTC),
        );
        assert_eq!(req.header("X-Shangji-Event"), Some("digest"));
        let item = |i: usize, link: Value| {
            json!({
                "event": "rule_fired", "id": format!("n-{i}"),
                "occurred_at": "2026-05-01T00:00:00Z",
                "title": format!("Deal {i} is rotting"), "text": "阶段：方案报价\n负责人：王芳",
                "link": link, "record": {"type": "opportunity", "id": 42},
                "fields": [{"label": "金额", "value": "¥1,200,000.00"}],
            })
        };
        assert_eq!(
            body(&req),
            json!({
                "event": "digest", "id": "digest-2026-05-01",
                "occurred_at": "2026-05-01T00:00:00Z",
                "title": "Daily digest", "text": "3 alerts",
                "link": "https://crm.example.com/notifications",
                "record": null, "fields": [],
                "since": "2026-04-30T00:00:00Z", "until": "2026-05-01T00:00:00Z",
                "items": [
                    item(0, json!("https://crm.example.com/opportunities/0")),
                    item(1, json!("https://crm.example.com/opportunities/1")),
                    item(2, Value::Null),
                ],
            })
        );
    }

    // --- Group robots -------------------------------------------------------------------

    const WECOM: &str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx";
    const DINGTALK: &str = "https://oapi.dingtalk.com/robot/send?access_token=abc123";
    const FEISHU: &str = "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e8a0c-4b1e";

    #[test]
    fn wecom_sends_markdown_unsigned() {
        let req = render(
            ChannelKind::WeCom,
            &target(WECOM),
            Some("ignored"),
            &Message::Notification(notification()),
            "d-1",
            datetime!(2026-05-01 00:00 UTC),
        );
        assert_eq!(req.url, WECOM);
        assert_eq!(
            req.header("Content-Type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(
            body(&req),
            json!({
                "msgtype": "markdown",
                "markdown": {
                    "content": "### 商机「华东医院二期」停滞 12 天\n阶段：方案报价\n负责人：王芳\n\
                                > 金额：¥1,200,000.00\n\n\
                                [查看商机](https://crm.example.com/opportunities/42)",
                },
            })
        );
    }

    #[test]
    fn wecom_digest_links_each_notification() {
        let req = render(
            ChannelKind::WeCom,
            &target(WECOM),
            None,
            &Message::Digest(digest(3)),
            "d-1",
            datetime!(2026-05-01 00:00 UTC),
        );
        assert_eq!(
            body(&req)["markdown"]["content"],
            "### Daily digest\n3 alerts\n\
             - [Deal 0 is rotting](https://crm.example.com/opportunities/0)\n\
             - [Deal 1 is rotting](https://crm.example.com/opportunities/1)\n\
             - Deal 2 is rotting\n\n\
             [All notifications](https://crm.example.com/notifications)"
        );
    }

    #[test]
    fn dingtalk_signs_in_the_url() {
        // The instant of the Python vector above: 1577836800000 ms.
        let now = datetime!(2020-01-01 00:00 UTC);
        let req = render(
            ChannelKind::DingTalk,
            &target(DINGTALK),
            Some("this is secret"),
            &Message::Notification(notification()),
            "d-1",
            now,
        );
        // sign = urllib.parse.quote_plus(base64 signature): + / = are percent-encoded.
        assert_eq!(
            req.url,
            "https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1577836800000\
             &sign=fFV9t5lBS7KH4%2B5B0JjR99ab%2BAJkXFauQXycgTkS%2Ftc%3D"
        );
        assert_eq!(
            body(&req),
            json!({
                "msgtype": "markdown",
                "markdown": {
                    "title": "商机「华东医院二期」停滞 12 天",
                    "text": "### 商机「华东医院二期」停滞 12 天\n\n阶段：方案报价\n\n负责人：王芳\n\n\
                             > 金额：¥1,200,000.00\n\n\
                             [查看商机](https://crm.example.com/opportunities/42)",
                },
            })
        );
        // Unsigned: the URL as configured.
        let req = render(
            ChannelKind::DingTalk,
            &target(DINGTALK),
            None,
            &Message::Notification(notification()),
            "d-1",
            now,
        );
        assert_eq!(req.url, DINGTALK);
        // A URL pasted with an old signature gets the new one instead.
        let pasted = format!("{DINGTALK}&timestamp=1&sign=old");
        let req = render(
            ChannelKind::DingTalk,
            &target(&pasted),
            Some("this is secret"),
            &Message::Notification(notification()),
            "d-1",
            now,
        );
        assert_eq!(
            req.url,
            "https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1577836800000\
             &sign=fFV9t5lBS7KH4%2B5B0JjR99ab%2BAJkXFauQXycgTkS%2Ftc%3D"
        );
    }

    #[test]
    fn feishu_signs_in_the_body() {
        // The instant of the Python vector above: 1599360473 s.
        let now = OffsetDateTime::from_unix_timestamp(1_599_360_473).unwrap();
        let req = render(
            ChannelKind::Feishu,
            &target(FEISHU),
            Some("this is secret"),
            &Message::Notification(notification()),
            "d-1",
            now,
        );
        assert_eq!(req.url, FEISHU);
        assert_eq!(
            body(&req),
            json!({
                "timestamp": "1599360473",
                "sign": "/eYKrXQBzTjUZJ3s6NX16VxGbTwmK7AEs8/FnvC1CSw=",
                "msg_type": "post",
                "content": {
                    "post": {
                        "zh_cn": {
                            "title": "商机「华东医院二期」停滞 12 天",
                            "content": [
                                [{"tag": "text", "text": "阶段：方案报价"}],
                                [{"tag": "text", "text": "负责人：王芳"}],
                                [{"tag": "text", "text": "金额：¥1,200,000.00"}],
                                [{"tag": "a", "text": "查看商机",
                                  "href": "https://crm.example.com/opportunities/42"}],
                            ],
                        },
                    },
                },
            })
        );
        let unsigned = render(
            ChannelKind::Feishu,
            &target(FEISHU),
            None,
            &Message::Digest(digest(3)),
            "d-1",
            now,
        );
        assert_eq!(
            body(&unsigned),
            json!({
                "msg_type": "post",
                "content": {
                    "post": {
                        "en_us": {
                            "title": "Daily digest",
                            "content": [
                                [{"tag": "text", "text": "3 alerts"}],
                                [{"tag": "text", "text": "• "}, {"tag": "a",
                                  "text": "Deal 0 is rotting",
                                  "href": "https://crm.example.com/opportunities/0"}],
                                [{"tag": "text", "text": "• "}, {"tag": "a",
                                  "text": "Deal 1 is rotting",
                                  "href": "https://crm.example.com/opportunities/1"}],
                                [{"tag": "text", "text": "• Deal 2 is rotting"}],
                                [{"tag": "a", "text": "All notifications",
                                  "href": "https://crm.example.com/notifications"}],
                            ],
                        },
                    },
                },
            })
        );
    }

    #[test]
    fn robot_links_are_http_and_cannot_break_out_of_markdown() {
        let mut n = notification();
        n.fields.clear();
        n.text = String::new();
        n.link = Some(Link {
            url: "https://crm.example.com/a b/(x)".into(),
            text: "[open]\nnow".into(),
        });
        let content = |n: &Notification| {
            let req = render(
                ChannelKind::WeCom,
                &target(WECOM),
                None,
                &Message::Notification(n.clone()),
                "d",
                datetime!(2026-05-01 00:00 UTC),
            );
            body(&req)["markdown"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            content(&n),
            "### 商机「华东医院二期」停滞 12 天\n\
             [［open］ now](https://crm.example.com/a%20b/%28x%29)"
        );
        n.link = Some(Link {
            url: "javascript:alert(1)".into(),
            text: "open".into(),
        });
        assert_eq!(content(&n), "### 商机「华东医院二期」停滞 12 天");
    }

    #[test]
    fn long_messages_are_cut_to_the_platform_limits() {
        let now = datetime!(2026-05-01 00:00 UTC);
        let long_text = "很长的说明。".repeat(2000); // 36 000 bytes
        let mut long = notification();
        long.text = long_text;
        long.fields = (0..5)
            .map(|i| NotificationField {
                label: format!("字段{i}"),
                value: "值".into(),
            })
            .collect();
        let mut quoted = notification();
        quoted.text = "\"\\".repeat(30_000); // doubles when escaped in JSON
        let messages = [
            Message::Notification(long),
            Message::Notification(quoted),
            Message::Digest(digest(2000)),
        ];
        for message in &messages {
            let wecom = render(ChannelKind::WeCom, &target(WECOM), None, message, "d", now);
            let content = body(&wecom)["markdown"]["content"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(content.len() <= WECOM_MARKDOWN_MAX, "{}", content.len());
            assert!(
                content.len() > WECOM_MARKDOWN_MAX - 200,
                "{}",
                content.len()
            );
            assert!(content.starts_with("### "));
            assert!(content.ends_with(')'), "the link stays: {content}");

            let ding = render(
                ChannelKind::DingTalk,
                &target(DINGTALK),
                None,
                message,
                "d",
                now,
            );
            let text = body(&ding)["markdown"]["text"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(text.len() <= DINGTALK_MARKDOWN_MAX);
            assert!(text.ends_with(')'));

            let feishu = render(
                ChannelKind::Feishu,
                &target(FEISHU),
                Some("s"),
                message,
                "d",
                now,
            );
            assert!(
                feishu.body.len() <= FEISHU_BODY_MAX,
                "{}",
                feishu.body.len()
            );
            assert!(feishu.body.len() > FEISHU_BODY_MAX - 500);
            let paragraphs = body(&feishu)["content"]["post"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()["content"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(paragraphs.last().unwrap()[0]["tag"], "a", "the link stays");
        }
        // The long text: cut with "…", the fields left out and counted.
        let wecom = render(
            ChannelKind::WeCom,
            &target(WECOM),
            None,
            &messages[0],
            "d",
            now,
        );
        let content = body(&wecom)["markdown"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(content.contains("…\n… +5\n[查看商机]"), "{content}");
        // The digest: as many notifications as fit, the rest counted.
        let shown = content_items(&messages[2]);
        assert!(shown > 50 && shown < 2000, "{shown}");
        let wecom = render(
            ChannelKind::WeCom,
            &target(WECOM),
            None,
            &messages[2],
            "d",
            now,
        );
        let content = body(&wecom)["markdown"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(content.contains(&format!("\n… +{}\n", 2000 - shown)));
        assert!(content.starts_with("### Daily digest\n2000 alerts\n- [Deal 0 is rotting]"));
    }

    fn content_items(message: &Message) -> usize {
        let p = parts(message);
        fit(&p, WECOM_MARKDOWN_MAX, |s| markdown(&p, s, "\n").len()).keep
    }

    #[test]
    fn fit_keeps_the_most_that_fits() {
        let message = Message::Digest(digest(300));
        let p = parts(&message);
        for budget in [200, 1000, 4096, 9000] {
            let size = |s| markdown(&p, s, "\n").len();
            let shape = fit(&p, budget, size);
            assert!(size(shape) <= budget);
            assert_eq!(shape.text_cut, None);
            let more = Shape {
                keep: shape.keep + 1,
                text_cut: None,
            };
            assert!(shape.keep == 300 || size(more) > budget, "{budget}");
        }
    }

    #[test]
    fn cap_cuts_on_character_boundaries() {
        let check = |s: &str, max: usize, expected: &str| {
            assert_eq!(cap(s, max), expected, "{s} {max}");
        };
        check("abc", 3, "abc");
        check("abcd", 3, "…");
        check("汉字汉字", 12, "汉字汉字");
        check("汉字汉字", 11, "汉字…");
        check("汉字汉字", 7, "汉…");
        check("汉字汉字", 5, "…");
        check("", 0, "");
        assert_eq!(floor_boundary("a汉", 3), "a");
        assert_eq!(floor_boundary("a汉", 4), "a汉");
        assert_eq!(floor_boundary("a汉", 99), "a汉");
    }

    #[test]
    fn messages_round_trip_as_json() {
        for message in [
            Message::Notification(notification()),
            Message::Digest(digest(2)),
        ] {
            let text = serde_json::to_string(&message).unwrap();
            assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), message);
        }
        let text = serde_json::to_string(&Message::Digest(digest(0))).unwrap();
        assert!(text.starts_with(r#"{"type":"digest","#), "{text}");
    }

    // --- Outcomes -----------------------------------------------------------------------

    fn kind(outcome: &DeliveryOutcome) -> String {
        match outcome {
            DeliveryOutcome::Delivered => "delivered".into(),
            DeliveryOutcome::Retry(f) => format!("retry {}", f.code),
            DeliveryOutcome::Failed(f) => format!("failed {}", f.code),
        }
    }

    #[test]
    fn http_statuses() {
        let cases = [
            (200, "delivered"),
            (202, "delivered"),
            (204, "delivered"),
            (301, "failed redirect"),
            (302, "failed redirect"),
            (400, "failed http_400"),
            (401, "failed http_401"),
            (403, "failed http_403"),
            (404, "failed http_404"),
            (410, "failed http_410"),
            (408, "retry http_408"),
            (425, "retry http_425"),
            (429, "retry http_429"),
            (500, "retry http_500"),
            (502, "retry http_502"),
            (503, "retry http_503"),
            (504, "retry http_504"),
            (101, "failed http_101"),
        ];
        for (status, expected) in cases {
            assert_eq!(kind(&http_outcome(status)), expected, "{status}");
            let webhook = platform_outcome(ChannelKind::Webhook, status, r#"{"code":1}"#);
            assert_eq!(kind(&webhook), expected);
        }
    }

    #[test]
    fn platform_answers() {
        use ChannelKind::*;
        let errcode = |code: i64, msg: &str| format!(r#"{{"errcode":{code},"errmsg":"{msg}"}}"#);
        let code = |code: i64, msg: &str| format!(r#"{{"code":{code},"data":{{}},"msg":"{msg}"}}"#);
        let legacy = r#"{"Extra":null,"StatusCode":0,"StatusMessage":"success"}"#.to_string();
        let both = r#"{"StatusCode":0,"StatusMessage":"success","code":0,"msg":"success"}"#;
        let cases = [
            (WeCom, 200, errcode(0, "ok"), "delivered"),
            (
                WeCom,
                200,
                errcode(45009, "api freq out of limit"),
                "retry platform_45009",
            ),
            (WeCom, 200, errcode(-1, "system busy"), "retry platform_-1"),
            (
                WeCom,
                200,
                errcode(93000, "invalid webhook url"),
                "failed platform_93000",
            ),
            (
                WeCom,
                200,
                "<html>proxy</html>".into(),
                "failed unexpected_answer",
            ),
            (WeCom, 200, String::new(), "failed unexpected_answer"),
            (
                WeCom,
                502,
                "<html>bad gateway</html>".into(),
                "retry http_502",
            ),
            (WeCom, 404, String::new(), "failed http_404"),
            (DingTalk, 200, errcode(0, "ok"), "delivered"),
            (
                DingTalk,
                200,
                errcode(310000, "sign not match"),
                "failed platform_310000",
            ),
            (
                DingTalk,
                200,
                errcode(300001, "token is not exist"),
                "failed platform_300001",
            ),
            (
                DingTalk,
                200,
                errcode(130101, "send too fast"),
                "retry platform_130101",
            ),
            (DingTalk, 503, errcode(400, "busy"), "retry platform_400"),
            (Feishu, 200, code(0, "success"), "delivered"),
            (Feishu, 200, legacy, "delivered"),
            (Feishu, 200, both.into(), "delivered"),
            (
                Feishu,
                200,
                code(19021, "sign match fail"),
                "failed platform_19021",
            ),
            (
                Feishu,
                200,
                code(19024, "Key Words Not Found"),
                "failed platform_19024",
            ),
            (
                Feishu,
                400,
                code(9499, "Bad Request"),
                "failed platform_9499",
            ),
            (
                Feishu,
                400,
                code(11232, "frequency limited"),
                "retry platform_11232",
            ),
            (
                Feishu,
                429,
                code(99991400, "frequency limit"),
                "retry platform_99991400",
            ),
        ];
        for (channel, status, body, expected) in cases {
            let got = platform_outcome(channel, status, &body);
            assert_eq!(kind(&got), expected, "{channel} {status} {body}");
        }
        let outcome = platform_outcome(DingTalk, 200, &errcode(310000, "sign not match"));
        assert_eq!(outcome.failure().unwrap().detail, "sign not match");
    }

    #[test]
    fn transport_errors() {
        use TransportError::*;
        let cases = [
            (Timeout, "retry timeout"),
            (Connect, "retry connect"),
            (Tls, "retry tls"),
            (Io, "retry io"),
            (AddressRefused, "failed address_refused"),
        ];
        for (error, expected) in cases {
            let outcome = transport_outcome(error, "details");
            assert_eq!(kind(&outcome), expected, "{error}");
            assert_eq!(outcome.failure().unwrap().detail, "details");
        }
    }

    #[test]
    fn retry_schedule() {
        let t = datetime!(2026-05-01 12:00 UTC);
        let cases = [
            (0, Some(t)),
            (1, Some(t + Duration::minutes(1))),
            (2, Some(t + Duration::minutes(5))),
            (3, Some(t + Duration::minutes(30))),
            (4, Some(t + Duration::hours(2))),
            (5, Some(t + Duration::hours(6))),
            (6, None),
            (7, None),
            (u32::MAX, None),
        ];
        for (attempt, expected) in cases {
            assert_eq!(next_attempt(attempt, t), expected, "{attempt}");
        }
        assert_eq!(MAX_ATTEMPTS, 6);
        assert!(next_attempt(MAX_ATTEMPTS - 1, t).is_some());
        assert_eq!(next_attempt(MAX_ATTEMPTS, t), None);
    }

    // --- Allow-list ---------------------------------------------------------------------

    #[test]
    fn webhook_urls_against_the_allow_list() {
        // The host of the accepted URL, or the refusal's code (and the address class).
        let check = |allow: &[String], cases: &[(&str, &str)]| {
            for (url, expected) in cases {
                let got = match check_webhook_url(url, allow) {
                    Ok(target) => target.host().to_string(),
                    Err(UrlRefusal::AddressNotPublic(class)) => {
                        format!("url_address_not_public {class}")
                    }
                    Err(refusal) => refusal.code().to_string(),
                };
                assert_eq!(got, *expected, "{url} under {allow:?}");
            }
        };
        let list = strings(&[
            "qyapi.weixin.qq.com",
            "*.example.com",
            "http://intranet.corp",
            "hooks.example.org:8443",
            "10.1.2.3",
            "http://192.168.0.0/16",
            "[fd00::1]",
            "例子.cn",
            "not a valid entry",
        ]);
        check(
            &list,
            &[
                (
                    "https://qyapi.weixin.qq.com/send?key=k",
                    "qyapi.weixin.qq.com",
                ),
                (
                    "https://QYAPI.Weixin.QQ.com./send?key=k",
                    "qyapi.weixin.qq.com",
                ),
                ("https://qyapi.weixin.qq.com:443/x", "qyapi.weixin.qq.com"),
                ("  https://qyapi.weixin.qq.com/x#f  ", "qyapi.weixin.qq.com"),
                ("http://qyapi.weixin.qq.com/x", "url_http_not_allowed"),
                ("https://qyapi.weixin.qq.com:8443/x", "url_port_not_allowed"),
                ("ftp://qyapi.weixin.qq.com/x", "url_scheme"),
                ("file:///etc/passwd", "url_scheme"),
                ("javascript:alert(1)", "url_scheme"),
                ("not a url", "url_invalid"),
                ("/relative/path", "url_invalid"),
                ("", "url_invalid"),
                ("https://user:pw@qyapi.weixin.qq.com/x", "url_credentials"),
                ("https://qyapi.weixin.qq.com@evil.test/x", "url_credentials"),
                (
                    "https://evil.test/?u=qyapi.weixin.qq.com",
                    "url_host_not_allowed",
                ),
                (
                    "https://qyapi.weixin.qq.com.evil.test/x",
                    "url_host_not_allowed",
                ),
                ("https://a.example.com/hook", "a.example.com"),
                ("https://a.b.example.com/hook", "a.b.example.com"),
                ("https://example.com/hook", "url_host_not_allowed"),
                ("https://badexample.com/hook", "url_host_not_allowed"),
                ("https://hooks.example.org:8443/x", "hooks.example.org"),
                ("https://hooks.example.org/x", "url_port_not_allowed"),
                ("http://intranet.corp/hook", "intranet.corp"),
                ("https://intranet.corp/hook", "intranet.corp"),
                ("http://intranet.corp:8080/hook", "url_port_not_allowed"),
                ("https://10.1.2.3/hook", "10.1.2.3"),
                ("http://10.1.2.3/hook", "url_http_not_allowed"),
                ("https://10.1.2.4/hook", "url_host_not_allowed"),
                ("http://192.168.5.6/hook", "192.168.5.6"),
                ("https://[fd00::1]/hook", "fd00::1"),
                ("https://[fd00::2]/hook", "url_host_not_allowed"),
                ("https://例子.cn/hook", "xn--fsqu00a.cn"),
                ("https://XN--FSQU00A.cn/hook", "xn--fsqu00a.cn"),
            ],
        );
        check(
            &strings(&["*"]),
            &[
                ("https://anything.test/hook", "anything.test"),
                ("http://anything.test/hook", "url_http_not_allowed"),
                ("https://anything.test:8443/hook", "url_port_not_allowed"),
                ("https://8.8.8.8/hook", "8.8.8.8"),
                ("https://127.0.0.1/hook", "url_address_not_public loopback"),
                ("https://0x7f.1/hook", "url_address_not_public loopback"),
                ("https://2130706433/hook", "url_address_not_public loopback"),
                ("https://[::1]/hook", "url_address_not_public loopback"),
                (
                    "https://[::ffff:127.0.0.1]/hook",
                    "url_address_not_public loopback",
                ),
                (
                    "https://169.254.169.254/latest",
                    "url_address_not_public link_local",
                ),
                ("https://10.0.0.1/hook", "url_address_not_public private"),
                (
                    "https://[fd12::1]/hook",
                    "url_address_not_public unique_local",
                ),
                ("https://0.0.0.0/hook", "url_address_not_public unspecified"),
            ],
        );
        check(
            &strings(&["0.0.0.0"]),
            &[("https://0.0.0.0/hook", "url_address_not_public unspecified")],
        );
        check(
            &strings(&["127.0.0.1"]),
            &[("https://127.0.0.1/hook", "127.0.0.1")],
        );
        check(
            &strings(&["*", "10.0.0.0/8"]),
            &[("https://10.9.9.9/hook", "10.9.9.9")],
        );
        check(
            &[],
            &[("https://qyapi.weixin.qq.com/x", "url_host_not_allowed")],
        );

        let t = check_webhook_url("https://qyapi.weixin.qq.com/x#frag", &list).unwrap();
        assert_eq!(t.as_str(), "https://qyapi.weixin.qq.com/x");
        assert_eq!((t.port(), t.ip()), (443, None));
        let t = check_webhook_url("https://hooks.example.org:8443/x", &list).unwrap();
        assert_eq!(t.port(), 8443);
        let t = check_webhook_url("https://10.1.2.3/x", &list).unwrap();
        assert_eq!(t.ip(), Some("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn refusal_codes_are_stable() {
        use UrlRefusal::*;
        let cases = [
            (Invalid, "url_invalid"),
            (Scheme, "url_scheme"),
            (Credentials, "url_credentials"),
            (HostNotAllowed, "url_host_not_allowed"),
            (PortNotAllowed, "url_port_not_allowed"),
            (HttpNotAllowed, "url_http_not_allowed"),
            (
                AddressNotPublic(AddressClass::Loopback),
                "url_address_not_public",
            ),
        ];
        for (refusal, code) in cases {
            assert_eq!(refusal.code(), code);
        }
        assert_eq!(
            AddressNotPublic(AddressClass::LinkLocal).to_string(),
            "the address is link_local, not public, and the allow-list does not name it"
        );
    }

    #[test]
    fn resolved_addresses() {
        let none: &[&str] = &[];
        let cases: &[(&str, &[&str], bool)] = &[
            ("8.8.8.8", none, true),
            ("2400:cb00::1", none, true),
            ("64:ff9b::808:808", none, true),
            ("10.0.0.1", none, false),
            ("10.0.0.1", &["*"], false),
            ("10.0.0.1", &["*.example.com"], false),
            ("10.0.0.1", &["10.0.0.1"], true),
            ("10.0.0.1", &["10.0.0.0/8"], true),
            ("10.0.0.1", &["http://10.0.0.0/8"], true),
            ("10.0.0.1", &["10.0.0.0/31"], true),
            ("10.0.0.2", &["10.0.0.0/31"], false),
            ("11.0.0.1", &["10.0.0.0/8"], true),
            ("172.16.0.1", none, false),
            ("172.32.0.1", none, true),
            ("192.168.1.1", none, false),
            ("127.0.0.1", none, false),
            ("127.0.0.1", &["127.0.0.0/8"], true),
            ("::1", none, false),
            ("::1", &["[::1]"], true),
            ("::1", &["::1"], true),
            ("::ffff:10.0.0.1", none, false),
            ("::ffff:10.0.0.1", &["10.0.0.0/8"], true),
            ("169.254.169.254", none, false),
            ("100.64.0.1", none, false),
            ("192.0.2.1", none, false),
            ("198.18.0.1", none, false),
            ("240.0.0.1", none, false),
            ("fe80::1", none, false),
            ("fd12::1", none, false),
            ("fd12::1", &["fd00::/8"], true),
            ("fd12::1", &["[fd00::]/8"], true),
            ("fd12::1", &["fd00::/16"], false),
            ("fec0::1", none, false),
            ("2001:db8::1", none, false),
            ("64:ff9b::a00:1", none, false),
            ("2002:a00:1::", none, false),
            ("2002:808:808::", none, true),
            ("0.0.0.0", &["0.0.0.0"], false),
            ("::", &["::/0"], false),
            ("224.0.0.1", &["224.0.0.0/4"], false),
            ("ff02::1", &["ff00::/8"], false),
            ("255.255.255.255", &["255.255.255.255"], false),
            ("10.0.0.1", &["0.0.0.0/0"], true),
        ];
        for (ip, allow, expected) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_allowed(ip, &strings(allow)), *expected, "{ip} {allow:?}");
        }
    }

    #[test]
    fn address_classes() {
        use AddressClass::*;
        let cases = [
            ("1.1.1.1", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("127.8.8.8", Loopback),
            ("10.1.1.1", Private),
            ("172.20.1.1", Private),
            ("192.168.0.1", Private),
            ("169.254.1.1", LinkLocal),
            ("100.127.255.255", Shared),
            ("100.128.0.0", Public),
            ("203.0.113.9", Documentation),
            ("198.51.100.9", Documentation),
            ("239.1.1.1", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.0.9", Reserved),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("fc00::1", UniqueLocal),
            ("ff05::2", Multicast),
            ("2001:db8::", Documentation),
            ("::ffff:192.168.1.1", Private),
            ("::ffff:1.1.1.1", Public),
            ("::1.2.3.4", Reserved),
            ("100::1", Reserved),
            ("2408:8000::1", Public),
        ];
        for (ip, class) in cases {
            assert_eq!(classify_ip(ip.parse().unwrap()), class, "{ip}");
        }
    }

    #[test]
    fn allow_list_entries() {
        let valid = [
            "qyapi.weixin.qq.com",
            " Open.Feishu.CN ",
            "*.example.com",
            "*",
            "*:8443",
            "http://intranet.corp",
            "HTTP://intranet.corp",
            "https://hooks.example.org:8443",
            "https://hooks.example.com/",
            "10.0.0.0/",
            "10.1.2.3",
            "10.1.2.3:8080",
            "[fd00::1]",
            "[fd00::1]:8443",
            "fd00::1",
            "10.0.0.0/8",
            "http://192.168.0.0/16",
            "fd00::/8",
            "[fd00::]/8",
            "例子.cn",
            "*.例子.cn",
        ];
        for entry in valid {
            assert_eq!(check_allow_entry(entry), Ok(()), "{entry}");
        }
        let invalid = [
            "",
            "   ",
            "https://",
            "exa mple.com",
            "*example.com",
            "a.*.com",
            "*.",
            "https://hooks.example.com/path",
            "10.0.0.0/33",
            "fd00::/129",
            "host/8",
            "x.com:0",
            "x.com:65536",
            "x.com:abc",
            "[fd00::1",
            "[fd00::1]:",
        ];
        for entry in invalid {
            let error = check_allow_entry(entry).expect_err(entry);
            assert_eq!(error.code, "allow_entry_invalid", "{entry}");
        }
    }

    #[test]
    fn redacted_urls_hide_keys_and_tokens() {
        let cases = [
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a…",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=abc&x=",
                "https://oapi.dingtalk.com/robot/send?access_token=…&x=",
            ),
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e8a0c-4b1e-4d43-8c83",
                "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e…",
            ),
            (
                "https://hooks.example.org:8443/shangji",
                "https://hooks.example.org:8443/shangji",
            ),
        ];
        let any = strings(&["*", "*:8443"]);
        for (url, expected) in cases {
            assert_eq!(check_webhook_url(url, &any).unwrap().redacted(), expected);
        }
    }

    #[test]
    fn platform_hosts_pass_their_own_allow_list() {
        let urls = [
            (ChannelKind::WeCom, WECOM),
            (ChannelKind::DingTalk, DINGTALK),
            (ChannelKind::Feishu, FEISHU),
        ];
        for (channel, url) in urls {
            let allow = strings(channel.platform_hosts());
            assert!(check_webhook_url(url, &allow).is_ok(), "{channel}");
        }
        assert!(ChannelKind::Webhook.platform_hosts().is_empty());
    }
}
