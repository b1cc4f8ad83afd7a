use super::*;
use crate::ops::delivery::address::check_webhook_url;
use time::macros::datetime;

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

pub(in crate::ops::delivery) const WECOM: &str =
    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx";
pub(in crate::ops::delivery) const DINGTALK: &str =
    "https://oapi.dingtalk.com/robot/send?access_token=abc123";
pub(in crate::ops::delivery) const FEISHU: &str =
    "https://open.feishu.cn/open-apis/bot/v2/hook/0f5e8a0c-4b1e";

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
