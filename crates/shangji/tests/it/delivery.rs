//! Outgoing notifications end to end: channels and the allow-list over the API, the outbox
//! filled by approvals, the sender's attempts against local receivers (a webhook / robot
//! endpoint and an SMTP sink), retries on schedule, the delivery log, the daily digest.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::TestApp;
use serde_json::{json, Value};
use shangji::config::{SmtpConfig, SmtpTls};
use shangji::ops::delivery::send::{self as deliver, Sender};
use shangji::ops::delivery::{outcome, render};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

// ---------------------------------------------------------------------------------------------
// A local HTTP receiver
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    /// Path and query.
    uri: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn query(&self) -> Vec<(String, String)> {
        let q = self.uri.split_once('?').map_or("", |(_, q)| q);
        serde_urlencoded::from_str(q).unwrap()
    }
}

/// What the receiver answers: the scripted answers in turn, then the last one again.
#[derive(Clone)]
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<Vec<(u16, String)>>>,
    delay: Arc<Mutex<std::time::Duration>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Receiver {
            port,
            got: Arc::default(),
            answers: Arc::new(Mutex::new(vec![(200, "ok".into())])),
            delay: Arc::default(),
        };
        let state = r.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let state = state.clone();
            async move {
                let uri = req.uri().to_string();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                    .await
                    .unwrap();
                state.got.lock().unwrap().push(Received {
                    uri: uri.clone(),
                    headers,
                    body: String::from_utf8(body.to_vec()).unwrap(),
                });
                let delay = *state.delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                // Robots answer with their own success body.
                let (status, body) = {
                    let mut a = state.answers.lock().unwrap();
                    if a.len() > 1 {
                        a.remove(0)
                    } else {
                        a[0].clone()
                    }
                };
                let body = if status == 200 && uri.starts_with("/robot/feishu") {
                    r#"{"code":0,"msg":"success","data":{}}"#.to_string()
                } else if status == 200 && uri.starts_with("/robot/") {
                    r#"{"errcode":0,"errmsg":"ok"}"#.to_string()
                } else {
                    body
                };
                (StatusCode::from_u16(status).unwrap(), body)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn answer(&self, list: &[(u16, &str)]) {
        *self.answers.lock().unwrap() = list.iter().map(|(s, b)| (*s, b.to_string())).collect();
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// A local SMTP sink
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Mail {
    to: Vec<String>,
    data: String,
}

impl Mail {
    /// The decoded text of every part (base64 and quoted-printable undone).
    fn text(&self) -> String {
        let mut out = String::new();
        for part in self.data.split("\r\n\r\n").collect::<Vec<_>>().windows(2) {
            let (head, body) = (part[0], part[1]);
            let body = body.split("\r\n--").next().unwrap_or("");
            if head.contains("Content-Transfer-Encoding: base64") {
                let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(clean) {
                    out.push_str(&String::from_utf8_lossy(&b));
                }
            } else if head.contains("Content-Transfer-Encoding: quoted-printable") {
                out.push_str(&decode_qp(body));
            } else {
                out.push_str(body);
            }
            out.push('\n');
        }
        out
    }
}

fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn smtp_sink() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let store = mails.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut to = Vec::new();
                loop {
                    let mut line = String::new();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        to.clear();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        to.push(
                            line.trim()
                                .trim_start_matches(|c| c != '<')
                                .trim_matches(|c| c == '<' || c == '>')
                                .to_string(),
                        );
                        b"250 OK\r\n"
                    } else if upper.starts_with("DATA") {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        store.lock().unwrap().push(Mail {
                            to: to.clone(),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 OK\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

// ---------------------------------------------------------------------------------------------
// Setting up
// ---------------------------------------------------------------------------------------------

fn sender(smtp_port: Option<u16>) -> Sender {
    Sender {
        smtp: smtp_port.map(|port| SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            username: None,
            password: None,
            from: "商机 <crm@example.com>".into(),
            tls: SmtpTls::None,
        }),
        public_url: Some("https://crm.example.com".into()),
        timeout: Duration::seconds(2),
        digest_at: (8, 0),
    }
}

async fn put(app: &TestApp, path: &str, login: &str, body: &str) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(login), Some(body)).await
}

/// Admits the receiver's loopback address and port (refused by default).
async fn allow(app: &TestApp, port: u16) {
    let (s, v) = put(
        app,
        "/api/v1/settings/webhook-allow-list",
        "admin",
        &format!(r#"{{"entries":["http://127.0.0.1:{port}"]}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn channel(app: &TestApp, kind: &str, url: &str, secret: Option<&str>) -> i64 {
    let secret = secret.map_or("null".to_string(), |s| format!("\"{s}\""));
    let v = app
        .create(
            "/api/v1/notification-channels",
            "admin",
            &format!(r#"{{"name":"{kind} 通道","kind":"{kind}","url":"{url}","secret":{secret}}}"#),
        )
        .await;
    v["id"].as_i64().unwrap()
}

/// rep_sh moves a deal into a stage needing the manager's approval: mgr_east is notified.
/// Returns the opportunity's id.
async fn approval_for_manager(app: &TestApp, title: &str) -> i64 {
    let stages = app.stage_ids().await;
    let (_, policies) = app.get("/api/v1/approval-policies", "admin").await;
    if policies.as_array().unwrap().is_empty() {
        let (s, p) = app
            .post(
                "/api/v1/approval-policies",
                "admin",
                &format!(
                    r#"{{"name":"谈判审批","stage_id":{},"conditions":[],"chain":[{{"kind":"owner_manager"}}]}}"#,
                    stages[3]
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
    }
    let (_, opp) = app.account_and_opportunity("rep_sh", title).await;
    let url = format!("/api/v1/opportunities/{}/move", opp["id"]);
    let (s, v) = app
        .post(
            &url,
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"],"actions_done":["send_proposal"]}}"#,
                stages[2]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            &url,
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["proposal_accepted"],"set":{{"next_step":"签合同"}}}}"#,
                stages[3]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    opp["id"].as_i64().unwrap()
}

fn whole_ms(t: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.unix_timestamp_nanos() / 1_000_000 * 1_000_000)
        .unwrap()
}

async fn log(app: &TestApp, query: &str) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/api/v1/deliveries{query}"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_approval_reaches_a_generic_webhook_signed_in_the_documented_shape() {
    let app = TestApp::new().await;
    let rx = Receiver::start().await;
    allow(&app, rx.port).await;
    let id = channel(&app, "webhook", &rx.url("/hooks/crm"), Some("whsec_test")).await;
    let (_, shown) = app
        .get(&format!("/api/v1/notification-channels/{id}"), "admin")
        .await;
    assert_eq!(
        shown["secret"], "…",
        "a short secret shows nothing of itself"
    );

    let opp_id = approval_for_manager(&app, "华东医院二期").await;
    // The request only queued the delivery.
    assert!(rx.got().is_empty());
    let queued = log(&app, "?status=pending").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["channel_id"], id);

    let now = OffsetDateTime::now_utc();
    assert_eq!(deliver::tick(&app.db, &sender(None), now).await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.uri, "/hooks/crm");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r
        .header("user-agent")
        .unwrap()
        .starts_with("shangji-webhook/"));
    assert_eq!(r.header("x-shangji-event"), Some("approval_requested"));
    assert_eq!(
        r.header("x-shangji-delivery"),
        Some(queued[0]["id"].to_string().as_str())
    );
    let ts = r.header("x-shangji-timestamp").unwrap();
    assert_eq!(ts, now.unix_timestamp().to_string());
    assert!(render::verify_webhook_signature(
        "whsec_test",
        ts,
        r.body.as_bytes(),
        r.header("x-shangji-signature").unwrap()
    ));
    assert!(!render::verify_webhook_signature(
        "other",
        ts,
        r.body.as_bytes(),
        r.header("x-shangji-signature").unwrap()
    ));
    // The documented keys, in order.
    let keys = [
        "event",
        "id",
        "occurred_at",
        "title",
        "text",
        "link",
        "record",
        "fields",
    ];
    let at: Vec<usize> = keys
        .iter()
        .map(|k| r.body.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", r.body);
    let body = r.json();
    assert_eq!(body["event"], "approval_requested");
    assert!(body["id"].as_str().unwrap().starts_with("n-"));
    assert!(body["title"].as_str().unwrap().contains("华东医院二期"));
    assert_eq!(
        body["record"],
        serde_json::json!({"type": "opportunity", "id": opp_id})
    );
    assert_eq!(
        body["link"],
        Value::String(format!("https://crm.example.com/opportunities/{opp_id}"))
    );
    assert_eq!(body["fields"], serde_json::json!([]));

    let done = log(&app, "?status=delivered").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["attempts"], 1);
    assert_eq!(done[0]["last_status"], 200);
    assert!(done[0]["delivered_at"].is_string());
    assert_eq!(deliver::tick(&app.db, &sender(None), now).await.unwrap(), 0);
}

#[tokio::test]
async fn robots_get_their_platform_formats_with_valid_signatures() {
    let app = TestApp::new().await;
    let rx = Receiver::start().await;
    allow(&app, rx.port).await;
    let ding_secret = "SEC0123456789abcdef0123456789abcdef";
    let feishu_secret = "feishu-secret-0123456789";
    let ding = channel(
        &app,
        "dingtalk",
        &rx.url("/robot/dingtalk/send?access_token=0123456789abcdef0123"),
        Some(ding_secret),
    )
    .await;
    let feishu = channel(
        &app,
        "feishu",
        &rx.url("/robot/feishu/hook/0123456789abcdef0123"),
        Some(feishu_secret),
    )
    .await;
    let wecom = channel(
        &app,
        "wecom",
        &rx.url("/robot/wecom/send?key=0123456789abcdef0123"),
        None,
    )
    .await;
    // The robot URLs carry their credential: shown masked, and a replace that sends the
    // masked URL back keeps the real one (the deliveries below still reach it).
    let path = format!("/api/v1/notification-channels/{wecom}");
    let (_, shown) = app.get(&path, "admin").await;
    assert_eq!(
        shown["url"],
        rx.url("/robot/wecom/send?key=0123…"),
        "{shown}"
    );
    let (s, v) = app
        .call(
            Method::PUT,
            &path,
            Some("admin"),
            Some(&json!({"name": "企业微信群", "kind": "wecom", "url": shown["url"], "version": shown["version"]}).to_string()),
        )
        .await;
    assert_eq!(
        (s, v["name"].clone()),
        (StatusCode::OK, json!("企业微信群")),
        "{v}"
    );
    for id in [ding, feishu, wecom] {
        let (s, v) = app
            .post(
                &format!("/api/v1/notification-channels/{id}/test"),
                "admin",
                "{}",
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let now = OffsetDateTime::now_utc();
    assert_eq!(deliver::tick(&app.db, &sender(None), now).await.unwrap(), 3);
    let got = rx.got();
    assert_eq!(got.len(), 3);

    let d = got
        .iter()
        .find(|r| r.uri.starts_with("/robot/dingtalk"))
        .unwrap();
    let q = d.query();
    let param = |k: &str| q.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(param("access_token"), "0123456789abcdef0123");
    let ts: i64 = param("timestamp").parse().unwrap();
    assert_eq!(
        ts,
        now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    );
    assert_eq!(param("sign"), render::dingtalk_sign(ding_secret, ts));
    let body = d.json();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(body["markdown"]["title"], "商机系统测试消息");
    assert!(body["markdown"]["text"]
        .as_str()
        .unwrap()
        .starts_with("### 商机系统测试消息\n\n"));

    let f = got
        .iter()
        .find(|r| r.uri.starts_with("/robot/feishu"))
        .unwrap();
    let body = f.json();
    let ts: i64 = body["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(ts, now.unix_timestamp());
    assert_eq!(body["sign"], render::feishu_sign(feishu_secret, ts));
    assert_eq!(body["msg_type"], "post");
    assert_eq!(
        body["content"]["post"]["zh_cn"]["title"],
        "商机系统测试消息"
    );
    assert_eq!(
        body["content"]["post"]["zh_cn"]["content"][0][0]["tag"],
        "text"
    );

    let w = got
        .iter()
        .find(|r| r.uri.starts_with("/robot/wecom"))
        .unwrap();
    let body = w.json();
    assert_eq!(body["msgtype"], "markdown");
    assert!(body["markdown"]["content"]
        .as_str()
        .unwrap()
        .starts_with("### 商机系统测试消息\n"));
    assert!(w.header("x-shangji-signature").is_none());

    let done = log(&app, "?status=delivered").await;
    assert_eq!(done.len(), 3);
}

#[tokio::test]
async fn failed_attempts_are_retried_on_schedule_and_shown_in_the_log() {
    let app = TestApp::new().await;
    let rx = Receiver::start().await;
    allow(&app, rx.port).await;
    let id = channel(&app, "webhook", &rx.url("/flaky"), Some("whsec_test")).await;
    rx.answer(&[(500, "down"), (200, "ok")]);
    approval_for_manager(&app, "重试商机").await;
    let s = sender(None);
    let t0 = whole_ms(OffsetDateTime::now_utc());
    assert_eq!(deliver::tick(&app.db, &s, t0).await.unwrap(), 1);
    let entry = &log(&app, &format!("?channel_id={id}")).await[0];
    assert_eq!(entry["status"], "retrying");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["last_error_code"], "http_500");
    assert_eq!(entry["last_status"], 500);
    let next = OffsetDateTime::parse(
        entry["next_attempt_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(next, t0 + outcome::RETRY_DELAYS[0]);
    // Not before its time.
    assert_eq!(
        deliver::tick(&app.db, &s, t0 + Duration::seconds(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        deliver::tick(&app.db, &s, t0 + Duration::seconds(61))
            .await
            .unwrap(),
        1
    );
    let entry = &log(&app, &format!("?channel_id={id}")).await[0];
    assert_eq!(entry["status"], "delivered");
    assert_eq!(entry["attempts"], 2);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    // The same delivery id, a fresh signature.
    assert_eq!(
        got[0].header("x-shangji-delivery"),
        got[1].header("x-shangji-delivery")
    );
    assert_ne!(
        got[0].header("x-shangji-timestamp"),
        got[1].header("x-shangji-timestamp")
    );
    for r in &got {
        assert!(render::verify_webhook_signature(
            "whsec_test",
            r.header("x-shangji-timestamp").unwrap(),
            r.body.as_bytes(),
            r.header("x-shangji-signature").unwrap()
        ));
    }

    // A 4xx answer ends the delivery; an admin can send it again.
    rx.answer(&[(404, "no such hook"), (200, "ok")]);
    approval_for_manager(&app, "失败商机").await;
    let t1 = OffsetDateTime::now_utc();
    assert_eq!(deliver::tick(&app.db, &s, t1).await.unwrap(), 1);
    let failed = log(&app, "?status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["last_error_code"], "http_404");
    assert!(failed[0]["next_attempt_at"].is_null());
    let (st, _) = app
        .post(
            &format!("/api/v1/deliveries/{}/retry", failed[0]["id"]),
            "rep_sh",
            "{}",
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app
        .post(
            &format!("/api/v1/deliveries/{}/retry", failed[0]["id"]),
            "admin",
            "{}",
        )
        .await;
    assert_eq!(
        (st, v["status"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
    assert_eq!(
        deliver::tick(&app.db, &s, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        1
    );
    assert!(log(&app, "?status=failed").await.is_empty());
    let (st, v) = app
        .post(
            &format!("/api/v1/deliveries/{}/retry", failed[0]["id"]),
            "admin",
            "{}",
        )
        .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_retryable"))
    );
}

#[tokio::test]
async fn a_slow_receiver_times_out_in_the_sender_and_never_holds_the_request() {
    let app = TestApp::new().await;
    let rx = Receiver::start().await;
    allow(&app, rx.port).await;
    channel(&app, "webhook", &rx.url("/slow"), None).await;
    *rx.delay.lock().unwrap() = std::time::Duration::from_secs(5);
    // The request that notifies answers at once: it only queued the delivery, nothing was
    // sent during it.
    approval_for_manager(&app, "慢速商机").await;
    assert!(rx.got().is_empty());
    assert_eq!(log(&app, "?status=pending").await.len(), 1);
    // The sender gives up the attempt after its timeout and tries again later.
    let s = sender(None);
    assert_eq!(
        deliver::tick(&app.db, &s, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        1
    );
    let entry = &log(&app, "").await[0];
    assert_eq!(entry["status"], "retrying");
    assert_eq!(entry["last_error_code"], "timeout");
}

#[tokio::test]
async fn urls_outside_the_allow_list_are_refused_when_saved() {
    let app = TestApp::new().await;
    let post = |body: String| {
        let app = &app;
        async move {
            app.post("/api/v1/notification-channels", "admin", &body)
                .await
        }
    };
    let body = |url: &str| format!(r#"{{"name":"x","kind":"webhook","url":"{url}"}}"#);
    // Nothing is allowed until the admin says so.
    let (s, v) = post(body("https://hooks.example.com/crm")).await;
    assert_eq!(
        (s, v["code"].as_str(), v["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("url_host_not_allowed"),
            Some("url")
        )
    );
    let (s, v) = put(
        &app,
        "/api/v1/settings/webhook-allow-list",
        "admin",
        r#"{"entries":["*", "oapi.dingtalk.com"]}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        post(body("https://hooks.example.com/crm")).await.0,
        StatusCode::CREATED
    );
    // `*` never admits internal addresses.
    let (_, v) = post(body("https://127.0.0.1/hook")).await;
    assert_eq!(v["code"], "url_address_not_public");
    let (_, v) = post(body("http://hooks.example.com/crm")).await;
    assert_eq!(v["code"], "url_http_not_allowed");
    let (_, v) = post(body("ftp://hooks.example.com/crm")).await;
    assert_eq!(v["code"], "url_scheme");
    // A bad entry is refused with its position.
    let (s, v) = put(
        &app,
        "/api/v1/settings/webhook-allow-list",
        "admin",
        r#"{"entries":["ok.example.com", "http://"]}"#,
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str(), v["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("allow_entry_invalid"),
            Some("entries[1]")
        )
    );
    let (_, list) = app
        .get("/api/v1/settings/webhook-allow-list", "admin")
        .await;
    assert_eq!(
        list["entries"],
        serde_json::json!(["*", "oapi.dingtalk.com"])
    );
    // Admins only.
    for (method, path) in [
        (Method::GET, "/api/v1/notification-channels"),
        (Method::GET, "/api/v1/settings/webhook-allow-list"),
        (Method::GET, "/api/v1/deliveries"),
    ] {
        let (s, _) = app.call(method, path, Some("mgr_east"), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    // Secrets are masked; replacing without a secret keeps it.
    let v = app
        .create(
            "/api/v1/notification-channels",
            "admin",
            r#"{"name":"钉钉","kind":"dingtalk","url":"https://oapi.dingtalk.com/robot/send?access_token=abc","secret":"SEC1234567890abcdef"}"#,
        )
        .await;
    assert_eq!(v["secret"], "SEC1…");
    let id = v["id"].as_i64().unwrap();
    let (s, v) = put(
        &app,
        &format!("/api/v1/notification-channels/{id}"),
        "admin",
        r#"{"name":"钉钉群","kind":"dingtalk","url":"https://oapi.dingtalk.com/robot/send?access_token=abc","events":"approval"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["secret"].as_str(), v["version"].as_i64()),
        (Some("SEC1…"), Some(2))
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/notification-channels/{id}"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = app.get("/api/v1/notification-channels", "admin").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn email_reaches_the_user_in_their_language_and_the_digest_gathers_the_day() {
    let app = TestApp::new().await;
    let (port, mails) = smtp_sink().await;
    let s = sender(Some(port));
    // The manager reads English and wants email at once.
    let (st, v) = app
        .patch(
            &format!("/api/v1/users/{}", app.user_id("mgr_east")),
            "admin",
            r#"{"language":"en"}"#,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = put(
        &app,
        "/api/v1/me/notification-preferences",
        "mgr_east",
        r#"{"email_enabled":true}"#,
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email_required"))
    );
    let (st, v) = put(
        &app,
        "/api/v1/me/notification-preferences",
        "mgr_east",
        r#"{"email_enabled":true,"email":"mgr.east@example.com"}"#,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["send_to"], "mgr.east@example.com");

    approval_for_manager(&app, "Hospital phase two").await;
    assert_eq!(
        deliver::tick(&app.db, &s, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        1
    );
    let got = mails.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["mgr.east@example.com"]);
    assert!(got[0].data.contains("multipart/alternative"));
    let text = got[0].text();
    assert!(
        text.contains("asks you to approve moving") && text.contains("Hospital phase two"),
        "{text}"
    );
    assert!(text.contains("<h2>"), "an HTML part too: {text}");
    assert!(text.contains("https://crm.example.com/opportunities/"));
    let done = log(&app, "?status=delivered").await;
    assert_eq!(done[0]["email"], "mgr.east@example.com");

    // The daily digest instead: held until the digest time, then one email.
    put(
        &app,
        "/api/v1/me/notification-preferences",
        "mgr_east",
        r#"{"email_enabled":true,"daily_digest":true,"email":"mgr.east@example.com"}"#,
    )
    .await;
    approval_for_manager(&app, "Digest deal one").await;
    approval_for_manager(&app, "Digest deal two").await;
    assert_eq!(log(&app, "?status=held").await.len(), 2);
    assert_eq!(
        deliver::tick(&app.db, &s, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    // 07:59 in Shanghai: not yet; 08:00: once.
    let day = time::macros::datetime!(2030-03-04 23:59 UTC);
    assert_eq!(
        deliver::daily_digest_if_due(&app.db, &s, day)
            .await
            .unwrap(),
        0
    );
    let at = day + Duration::hours(8) + Duration::minutes(1);
    assert_eq!(
        deliver::daily_digest_if_due(&app.db, &s, at).await.unwrap(),
        1
    );
    assert_eq!(
        deliver::daily_digest_if_due(&app.db, &s, at + Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(log(&app, "?status=digested").await.len(), 2);
    assert_eq!(deliver::tick(&app.db, &s, at).await.unwrap(), 1);
    let got = mails.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let text = got[1].text();
    assert!(
        text.contains("Your notifications of the day (2)")
            && text.contains("Digest deal one")
            && text.contains("Digest deal two"),
        "{text}"
    );
}

#[tokio::test]
async fn two_senders_at_once_deliver_each_message_once() {
    let app = TestApp::shared().await;
    let rx = Receiver::start().await;
    allow(&app, rx.port).await;
    let id = channel(&app, "webhook", &rx.url("/once"), None).await;
    // More than one turn's batch, so both senders get some.
    for _ in 0..70 {
        let (s, _) = app
            .post(
                &format!("/api/v1/notification-channels/{id}/test"),
                "admin",
                "{}",
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
    let s = sender(None);
    let now = OffsetDateTime::now_utc();
    // Two senders sharing the database, as two instances would, until nothing is due.
    let other = app.second_instance().await;
    let mut total = 0;
    loop {
        let (a, b) = tokio::join!(
            deliver::tick(&app.db, &s, now),
            deliver::tick(&other, &s, now)
        );
        let n = a.unwrap() + b.unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, 70);
    let mut ids: Vec<String> = rx
        .got()
        .iter()
        .map(|r| r.header("x-shangji-delivery").unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((rx.got().len(), ids.len()), (70, 70));
    assert_eq!(log(&app, "?status=delivered").await.len(), 70);
}

#[tokio::test]
async fn the_pages_manage_channels_the_allow_list_the_log_and_email_settings_in_both_languages() {
    use common::browser::{between, browser};
    let app = TestApp::new().await;
    let mut admin = browser(&app, "admin").await;
    let page = "/admin/notification-channels";
    let r = admin.get(page).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("通知通道") && r.body.contains("Webhook 地址白名单"));

    // Refusals beside the field, in the admin's language.
    let r = admin
        .post(
            &format!("{page}/allow-list"),
            &[("entries", "hooks.example.com\nhttp://")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = between(&r.body, "id=\"allow-error\"", "</p>");
    assert!(
        error.contains("此项不是主机名") && error.contains("http://"),
        "{error}"
    );
    let channel = [
        ("name", "销售群"),
        ("kind", "webhook"),
        ("url", "https://hooks.example.com/crm"),
        ("language", "zh-CN"),
        ("events", "all"),
        ("team_id", ""),
        ("enabled", "on"),
        ("secret", "whsec_0123456789abcdef"),
    ];
    let r = admin.post(page, &channel).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(between(&r.body, "id=\"url-error\"", "</p>").contains("该主机不在 Webhook 白名单中"));
    assert!(r.body.contains("value=\"销售群\""), "what was typed stays");
    admin.lang = Some("en");
    let r = admin.post(page, &channel).await;
    assert!(
        between(&r.body, "id=\"url-error\"", "</p>")
            .contains("This host is not in the webhook allow-list."),
        "{}",
        r.body
    );

    // Allowed, saved, listed with the secret masked; a test goes to the log.
    let rx = Receiver::start().await;
    rx.answer(&[(404, "no such hook")]);
    let entries = format!("hooks.example.com\nhttp://127.0.0.1:{}", rx.port);
    let r = admin
        .post(&format!("{page}/allow-list"), &[("entries", &entries)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let url = rx.url("/hook");
    let mut local = channel;
    local[2] = ("url", &url);
    let r = admin.post(page, &local).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = admin.get(page).await;
    let table = between(&r.body, "id=\"channels\"", "</table>");
    assert!(
        table.contains("销售群") && table.contains("whse…"),
        "{table}"
    );
    assert!(!table.contains("whsec_0123456789abcdef"));
    let (_, list) = app.get("/api/v1/notification-channels", "admin").await;
    let id = list[0]["id"].as_i64().unwrap();
    let r = admin.post(&format!("{page}/{id}/test"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    deliver::tick(&app.db, &sender(None), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let r = admin.get("/admin/deliveries?status=failed").await;
    let row = between(&r.body, "data-status=\"failed\"", "</tr>");
    assert!(row.contains("http_404") && row.contains("Failed"), "{row}");
    let delivery = log(&app, "?status=failed").await[0]["id"].as_i64().unwrap();
    let r = admin
        .post(&format!("/admin/deliveries/{delivery}/retry"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(log(&app, "?status=pending").await.len(), 1);
    admin.lang = None;
    let r = admin.get("/admin/deliveries").await;
    assert!(r.body.contains("等待发送"));

    // Not for others.
    let rep = browser(&app, "rep_sh").await;
    assert_eq!(rep.get(page).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        rep.get("/admin/deliveries").await.status,
        StatusCode::FORBIDDEN
    );

    // A user's email settings.
    let r = rep.get("/settings/notifications").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = rep
        .post("/settings/notifications", &[("email_enabled", "on")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请填写邮箱"), "{}", r.body);
    let r = rep
        .post(
            "/settings/notifications",
            &[("email_enabled", "on"), ("email", "rep@example.com")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, prefs) = app
        .get("/api/v1/me/notification-preferences", "rep_sh")
        .await;
    assert_eq!(
        (prefs["email_enabled"].as_bool(), prefs["send_to"].as_str()),
        (Some(true), Some("rep@example.com"))
    );
}

#[tokio::test]
async fn a_host_name_is_resolved_and_only_checked_addresses_are_called() {
    let app = TestApp::new().await;
    let rx = Receiver::start().await;
    // The name is allowed, the internal address it resolves to is not (yet).
    let (s, v) = put(
        &app,
        "/api/v1/settings/webhook-allow-list",
        "admin",
        &format!(r#"{{"entries":["http://localhost:{}"]}}"#, rx.port),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let url = format!("http://localhost:{}/named", rx.port);
    let id = channel(&app, "webhook", &url, None).await;
    app.post(
        &format!("/api/v1/notification-channels/{id}/test"),
        "admin",
        "{}",
    )
    .await;
    let s = sender(None);
    deliver::tick(&app.db, &s, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let failed = log(&app, "?status=failed").await;
    assert_eq!(failed[0]["last_error_code"], "address_refused");
    assert!(rx.got().is_empty(), "nothing was sent");

    // Naming the loopback networks lets it through, to the checked address.
    put(
        &app,
        "/api/v1/settings/webhook-allow-list",
        "admin",
        &format!(
            r#"{{"entries":["http://localhost:{}","127.0.0.0/8","::1"]}}"#,
            rx.port
        ),
    )
    .await;
    app.post(
        &format!("/api/v1/deliveries/{}/retry", failed[0]["id"]),
        "admin",
        "{}",
    )
    .await;
    deliver::tick(&app.db, &s, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(log(&app, "?status=delivered").await.len(), 1);
    assert_eq!(rx.got()[0].uri, "/named");
    assert_eq!(
        rx.got()[0].header("host"),
        Some(format!("localhost:{}", rx.port).as_str())
    );
}

#[tokio::test]
async fn notify_users_sends_to_the_channels_whose_events_and_team_match() {
    let app = TestApp::new().await;
    let rx = Receiver::start().await;
    allow(&app, rx.port).await;
    let all = channel(&app, "webhook", &rx.url("/all"), None).await;
    let approvals = app
        .create(
            "/api/v1/notification-channels",
            "admin",
            &format!(
                r#"{{"name":"审批","kind":"webhook","url":"{}","events":"approval"}}"#,
                rx.url("/approvals")
            ),
        )
        .await;
    let south = app
        .create(
            "/api/v1/notification-channels",
            "admin",
            &format!(
                r#"{{"name":"华南","kind":"webhook","url":"{}","events":"rule","team_id":{}}}"#,
                rx.url("/south"),
                app.teams["华南"]
            ),
        )
        .await;
    let east_rule = app
        .create(
            "/api/v1/notification-channels",
            "admin",
            &format!(
                r#"{{"name":"华东","kind":"webhook","url":"{}","events":"rule","team_id":{}}}"#,
                rx.url("/east"),
                app.teams["华东"]
            ),
        )
        .await;
    // What the rule engine does: a notification for the rep in 上海组 (under 华东).
    let now = whole_ms(OffsetDateTime::now_utc());
    let note = shangji_core::model::Notification {
        id: 0,
        user_id: app.user_id("rep_sh"),
        kind: "rule_fired".into(),
        record_kind: None,
        record_id: None,
        payload: serde_json::json!({"title": "商机停滞 12 天", "text": "阶段：方案报价"}),
        read_at: None,
        archived: false,
        version: 1,
        created_at: now,
    };
    let dir = app.db.directory().await.unwrap();
    shangji::ops::delivery::notify_users(&app.db, &dir, &[note], now)
        .await
        .unwrap();
    let (_, notes) = app.get("/api/v1/notifications", "rep_sh").await;
    assert_eq!(
        notes[0]["kind"], "rule_fired",
        "the in-app notification too"
    );
    let queued: Vec<i64> = log(&app, "?status=pending")
        .await
        .iter()
        .map(|d| d["channel_id"].as_i64().unwrap())
        .collect();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.contains(&all) && queued.contains(&east_rule["id"].as_i64().unwrap()));
    assert!(!queued.contains(&approvals["id"].as_i64().unwrap()));
    assert!(!queued.contains(&south["id"].as_i64().unwrap()));
    deliver::tick(&app.db, &sender(None), now).await.unwrap();
    let got = rx.got();
    assert_eq!(got.len(), 2);
    let body = got[0].json();
    assert_eq!(
        (
            body["event"].as_str(),
            body["title"].as_str(),
            body["text"].as_str()
        ),
        (
            Some("rule_fired"),
            Some("商机停滞 12 天"),
            Some("阶段：方案报价")
        )
    );
    assert_eq!(
        got[0].json()["id"],
        got[1].json()["id"],
        "one id on every channel"
    );
}
