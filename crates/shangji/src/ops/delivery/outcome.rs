//! What an attempt's answer means ([`platform_outcome`], [`transport_outcome`],
//! [`http_outcome`]) and when to try again ([`next_attempt`]). Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::render::cap;
use shangji_core::model::ChannelKind;
use shangji_core::text_enum;

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
}
