//! What a message says ([`Notification`], [`Digest`]) and how it is put to each channel — our
//! generic signed JSON webhook and the group robots of WeCom (企业微信), DingTalk (钉钉) and
//! Feishu (飞书) — ([`render`]). Pure: no I/O and no clock (the time is an argument). The
//! application renders a message afresh at every attempt (the platforms' signatures expire after
//! an hour, ours should be checked within minutes) with the same delivery id. The formats and
//! the signature scheme are documented for users in `docs/automation.md`.

use std::borrow::Cow;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};
use url::Url;

use shangji_core::model::{ChannelKind, Id, Language, RecordKind};

use super::address::ParsedTarget;

type HmacSha256 = Hmac<Sha256>;

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

pub(super) const ELLIPSIS: &str = "…";

/// `s` in at most `max` bytes: whole, or cut on a character boundary and ended with "…".
pub(super) fn cap(s: &str, max: usize) -> Cow<'_, str> {
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
            let timestamp = shangji_core::unix_ms(now);
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

#[cfg(test)]
pub(super) mod tests;
