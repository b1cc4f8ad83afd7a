//! Correctness under bad input: what a hostile but honest client sends — deals created past
//! the process, dates a spreadsheet cannot hold, control characters, requests the framework
//! itself refuses, values out of any sane range, someone else's notification, a retried
//! follow-up — is refused with a JSON error naming what is wrong, never a 500.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::*;

fn code(v: &Value) -> Option<&str> {
    v["code"].as_str()
}

/// Sends a raw request (any body, any content type) and returns status, content type and body.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    login: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(l) = login {
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", app.tokens[l]));
    }
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), 20 << 20)
        .await
        .unwrap();
    (status, ct, bytes.to_vec())
}

/// Asserts an API error: the status, JSON with `code` and `message`, and the code when given.
fn assert_json_error(what: &str, got: (StatusCode, String, Vec<u8>), status: StatusCode) -> Value {
    let (s, ct, body) = got;
    let text = String::from_utf8_lossy(&body).to_string();
    assert_eq!(s, status, "{what}: {text}");
    assert!(ct.starts_with("application/json"), "{what}: {ct} {text}");
    let v: Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{what}: {text}"));
    assert!(
        v["code"].is_string() && v["message"].is_string(),
        "{what}: {v}"
    );
    v
}

// ---- 1. Creating an opportunity passes the process. ----

/// Every checklist item of the default pipeline's gates.
const ALL_CHECKLIST: &str = r#""need_confirmed","budget_confirmed","decision_maker_identified","timeline_known","proposal_accepted""#;

#[tokio::test]
async fn creating_a_deal_in_a_stage_passes_what_a_move_there_would() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"创建 客户"}"#)
        .await;
    let acc = account["id"].as_i64().unwrap();
    let close = close_date();
    let body = |stage: i64, extra: &str| {
        format!(r#"{{"title":"直接建","account_id":{acc},"stage_id":{stage}{extra}}}"#)
    };
    // (stage, extra fields, expected code, a field the refusal names)
    let refused: Vec<(i64, String, &str, &str)> = vec![
        (stages[4], String::new(), "gate_unmet", "amount_minor"),
        (
            stages[4],
            r#","amount_minor":100"#.to_string(),
            "gate_unmet",
            "close_date",
        ),
        (stages[5], String::new(), "gate_unmet", "loss_reason"),
        (
            stages[2],
            format!(r#","amount_minor":100,"close_date":"{close}""#),
            "gate_unmet",
            "checklist.need_confirmed",
        ),
    ];
    for (stage, extra, want, field) in refused {
        let (s, v) = app
            .post("/api/v1/opportunities", "rep_sh", &body(stage, &extra))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{stage} {extra}: {v}");
        assert_eq!(code(&v), Some(want), "{v}");
        let missing: Vec<&str> = v["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["field"].as_str().unwrap())
            .collect();
        assert!(missing.contains(&field), "{stage} {extra}: {v}");
    }
    let (_, list) = app.get("/api/v1/opportunities", "rep_sh").await;
    assert_eq!(list["total"], 0, "nothing was created: {list}");

    // With what the gates ask, the deal is created there; the first stage needs nothing.
    let won = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &body(
                stages[4],
                &format!(
                    r#","amount_minor":100,"close_date":"{close}","checklist":[{ALL_CHECKLIST}]"#
                ),
            ),
        )
        .await;
    assert_eq!(won["status"], "won");
    let gated = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &body(
                stages[2],
                &format!(
                    r#","amount_minor":100,"close_date":"{close}","checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"]"#
                ),
            ),
        )
        .await;
    assert_eq!(gated["stage_id"], stages[2]);
    app.create("/api/v1/opportunities", "rep_sh", &body(stages[0], ""))
        .await;
}

#[tokio::test]
async fn creating_a_deal_where_a_move_needs_approval_is_refused() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (pid, _) = {
        let (_, p) = app.get("/api/v1/pipelines", "admin").await;
        (p[0]["id"].as_i64().unwrap(), ())
    };
    let (s, v) = app
        .patch(
            &format!("/api/v1/pipelines/{pid}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"requires_approval":true}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"审批 客户"}"#)
        .await;
    let (s, v) = app
        .post(
            "/api/v1/opportunities",
            "rep_sh",
            &format!(
                r#"{{"title":"要审批","account_id":{},"stage_id":{}}}"#,
                account["id"], stages[1]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(code(&v), Some("approval_required"), "{v}");
    assert_eq!(v["field"], "stage_id");
    assert!(v["message"].as_str().unwrap().contains("earlier stage"));
}

// ---- 2. Dates a spreadsheet cannot hold. ----

#[tokio::test]
async fn dates_are_bounded_on_input_and_exports_survive_any_stored_day() {
    let app = TestApp::new().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "日期").await;
    let id = opp["id"].as_i64().unwrap();
    let version = opp["version"].as_i64().unwrap();
    // (method, path, body, field)
    let cases: Vec<(Method, String, String, &str)> = vec![
        (
            Method::PATCH,
            format!("/api/v1/opportunities/{id}"),
            format!(r#"{{"version":{version},"close_date":"0000-01-01"}}"#),
            "close_date",
        ),
        (
            Method::PATCH,
            format!("/api/v1/opportunities/{id}"),
            format!(r#"{{"version":{version},"close_date":"2201-01-01"}}"#),
            "close_date",
        ),
        (
            Method::PATCH,
            format!("/api/v1/opportunities/{id}"),
            format!(r#"{{"version":{version},"next_step":"x","next_step_date":"1899-12-31"}}"#),
            "next_step_date",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            r#"{"title":"t","due_date":"0000-01-01"}"#.into(),
            "due_date",
        ),
        (
            Method::POST,
            format!("/api/v1/opportunities/{id}/follow-ups"),
            r#"{"summary":"s","next_step":"x","next_step_date":"9999-12-31"}"#.into(),
            "next_step_date",
        ),
        (
            Method::POST,
            "/api/v1/activities".into(),
            format!(
                r#"{{"kind":"call","summary":"s","opportunity_id":{id},"occurred_at":"0001-01-01T00:00:00Z"}}"#
            ),
            "occurred_at",
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{}", app.user_id("rep_east")),
            r#"{"leaves":[{"from":"0000-01-01","to":"2026-01-01"}]}"#.into(),
            "leaves[0].from",
        ),
    ];
    for (method, path, body, field) in cases {
        let login = if field.starts_with("leaves") {
            "admin"
        } else {
            "rep_sh"
        };
        let (s, v) = app.call(method, &path, Some(login), Some(&body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {v}");
        assert_eq!(
            (code(&v), v["field"].as_str()),
            (Some("out_of_range"), Some(field)),
            "{path} {body}: {v}"
        );
    }
    // The edges are accepted.
    let (s, v) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "rep_sh",
            &format!(r#"{{"version":{version},"close_date":"1900-01-01"}}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // A day stored before dates were bounded is exported as text, not a 500.
    let sql = format!("UPDATE opportunities SET close_date = '0001-01-01' WHERE id = {id}");
    match app.db.pool() {
        shangji_store::db::Pool::Sqlite(p) => sqlx::query(&sql).execute(p).await.map(|_| ()),
        shangji_store::db::Pool::Postgres(p) => sqlx::query(&sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
    for path in [
        "/api/v1/opportunities/export.xlsx?cols=title,close_date",
        "/api/v1/opportunities/export.csv",
    ] {
        let (s, _, body) = raw(&app, Method::GET, path, Some("rep_sh"), None, vec![]).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

// ---- 3. Control characters. ----

#[tokio::test]
async fn control_characters_are_refused_and_a_nul_search_is_not_a_500() {
    let app = TestApp::new().await;
    let (acc, opp) = app.account_and_opportunity("rep_sh", "控制").await;
    let id = opp["id"].as_i64().unwrap();
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "/api/v1/accounts",
            String::new(),
            r#"{"name":"a\u0000b"}"#.into(),
            "name",
        ),
        (
            "/api/v1/accounts",
            String::new(),
            r#"{"name":"a\u0007b"}"#.into(),
            "name",
        ),
        (
            "/api/v1/accounts",
            String::new(),
            r#"{"name":"a\nb"}"#.into(),
            "name",
        ),
        (
            "/api/v1/contacts",
            String::new(),
            format!(r#"{{"name":"a\u0000","account_id":{acc}}}"#),
            "name",
        ),
        (
            "/api/v1/leads",
            String::new(),
            r#"{"company_name":"x\u0000"}"#.into(),
            "company_name",
        ),
        (
            "/api/v1/tasks",
            String::new(),
            r#"{"title":"x\u001b[31m"}"#.into(),
            "title",
        ),
        (
            "/api/v1/opportunities",
            String::new(),
            format!(r#"{{"title":"x\u0000","account_id":{acc}}}"#),
            "title",
        ),
        (
            "/api/v1/opportunities/",
            format!("{id}/follow-ups"),
            r#"{"summary":"x\u0000y"}"#.into(),
            "summary",
        ),
        (
            "/api/v1/teams",
            String::new(),
            r#"{"name":"t\u0000"}"#.into(),
            "name",
        ),
        (
            "/api/v1/tokens",
            String::new(),
            r#"{"name":"t\u0000"}"#.into(),
            "name",
        ),
        (
            "/api/v1/views",
            String::new(),
            r#"{"name":"v\u0000","kind":"accounts","query":""}"#.into(),
            "name",
        ),
    ];
    for (base, tail, body, field) in cases {
        let path = format!("{base}{tail}");
        let login = if base.contains("teams") {
            "admin"
        } else {
            "rep_sh"
        };
        let (s, v) = app.post(&path, login, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {v}");
        assert_eq!(
            (code(&v), v["field"].as_str()),
            (Some("invalid_characters"), Some(field)),
            "{path} {body}: {v}"
        );
    }
    // Multi-line texts keep their line breaks and tabs.
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{id}/follow-ups"),
            "rep_sh",
            r#"{"summary":"第一行\n\t第二行"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Every list, search and export of the API given a NUL in `q`: a JSON 400, never a 500.
    let (_, doc) = app.get("/api/v1/openapi.json", "admin").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.contains('{') || item.get("get").is_none() {
            continue;
        }
        let url = format!("{path}?q=%00");
        let got = raw(&app, Method::GET, &url, Some("admin"), None, vec![]).await;
        assert!(
            got.0 != StatusCode::INTERNAL_SERVER_ERROR,
            "{url}: {}",
            String::from_utf8_lossy(&got.2)
        );
        if !got.0.is_success() {
            assert_json_error(&url, got, StatusCode::BAD_REQUEST);
        }
        checked += 1;
    }
    assert!(checked > 40, "{checked}");
    let got = raw(
        &app,
        Method::GET,
        "/api/v1/accounts?q=%00",
        Some("rep_sh"),
        None,
        vec![],
    )
    .await;
    let v = assert_json_error("q", got, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "q");
}

// ---- 4. Every API error is JSON. ----

/// A request (method, path, content type, body) and the status it must get.
type RawCase<'a> = (Method, String, Option<&'a str>, Vec<u8>, StatusCode);

#[tokio::test]
async fn every_api_error_is_json_and_pages_get_the_error_page() {
    let app = TestApp::new().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "错误").await;
    let id = opp["id"].as_i64().unwrap();
    let json = Some("application/json");
    let cases: Vec<RawCase> = vec![
        (
            Method::GET,
            "/api/v1/opportunities/abc".into(),
            None,
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/opportunities/99999999999999999999".into(),
            None,
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/no-such-thing".into(),
            None,
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/opportunities?page=%zz".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/opportunities?page=abc".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/opportunities?page=0".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/opportunities?per_page=-1".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/opportunities?include_archived=maybe".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/analytics/funnel?include_archived=maybe".into(),
            None,
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/api/v1/opportunities".into(),
            json,
            b"{}".to_vec(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::DELETE,
            format!("/api/v1/opportunities/{id}/move"),
            None,
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            json,
            b"{\"name\":".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            json,
            b"\xff\xfe".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some("text/plain"),
            b"{\"name\":\"x\"}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            None,
            b"{\"name\":\"x\"}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            json,
            vec![b' '; 3 << 20],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Method::POST,
            format!("/api/v1/opportunities/{id}/move"),
            json,
            b"[]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            format!("/api/v1/opportunities/{id}/move"),
            json,
            b"{\"stage_id\":\"x\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::GET,
            "/api/v1/opportunities/1/%ff".into(),
            None,
            vec![],
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, ct, body, status) in cases {
        let what = format!("{method} {path}");
        let got = raw(&app, method, &path, Some("rep_sh"), ct, body).await;
        assert_json_error(&what, got, status);
    }
    // Signed out: still JSON.
    let got = raw(
        &app,
        Method::GET,
        "/api/v1/opportunities/abc",
        None,
        None,
        vec![],
    )
    .await;
    assert_json_error("signed out", got, StatusCode::UNAUTHORIZED);

    // A page's bad address is the HTML error page.
    let b = crate::common::browser::browser(&app, "rep_sh").await;
    let r = b.get("/opportunities/abc").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(r.body.contains("<html"), "{}", r.body);
}

// ---- 5. Values out of any sane range. ----

#[tokio::test]
async fn values_out_of_range_are_refused() {
    let app = TestApp::new().await;
    let today = today();
    let month = format!("{}-{:02}", today.year(), today.month() as u8);
    let adjust = |amount: &str| {
        format!(
            r#"{{"user_id":{},"period":"{month}","amount_minor":{amount},"currency":"CNY","reason":"信心"}}"#,
            app.user_id("rep_sh")
        )
    };
    let path = "/api/v1/analytics/forecast/adjustments";
    let (s, v) = app
        .post(path, "mgr_east", &adjust(&i64::MAX.to_string()))
        .await;
    assert_eq!(
        (s, code(&v), v["field"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("out_of_range"),
            Some("amount_minor")
        ),
        "{v}"
    );
    let (s, v) = app
        .post(path, "mgr_east", &adjust("1000000000000000"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "the bound itself is accepted: {v}");

    let (_, pipelines) = app.get("/api/v1/pipelines", "admin").await;
    let pid = pipelines[0]["id"].as_i64().unwrap();
    let acc = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"范围 客户"}"#)
        .await["id"]
        .as_i64()
        .unwrap();
    // (login, path, body, field, code)
    let cases: Vec<(&str, String, String, &str, &str)> = vec![
        ("rep_sh", "/api/v1/accounts".into(), r#"{"name":"   "}"#.into(), "name", "required"),
        ("rep_sh", "/api/v1/accounts".into(), r#"{"name":"\u3000\t"}"#.into(), "name", "required"),
        ("rep_sh", "/api/v1/opportunities".into(), format!(r#"{{"title":" \n ","account_id":{acc}}}"#), "title", "required"),
        ("rep_sh", "/api/v1/tasks".into(), r#"{"title":"  "}"#.into(), "title", "required"),
        ("admin", "/api/v1/teams".into(), r#"{"name":"  "}"#.into(), "name", "required"),
        ("rep_sh", "/api/v1/opportunities".into(), format!(r#"{{"title":"大","account_id":{acc},"amount_minor":{}}}"#, i64::MAX), "amount_minor", "amount_too_large"),
        (
            "admin",
            format!("/api/v1/pipelines/{pid}/stages"),
            r#"{"name_zh":"负","name_en":"Neg","kind":"open","probability":10,"forecast_category":"pipeline","position":-1}"#.into(),
            "position",
            "out_of_range",
        ),
    ];
    for (login, path, body, field, want) in cases {
        let (s, v) = app.post(&path, login, &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {v}");
        assert_eq!(
            (code(&v), v["field"].as_str()),
            (Some(want), Some(field)),
            "{path} {body}: {v}"
        );
    }
}

// ---- 6. Someone else's notification. ----

#[tokio::test]
async fn reading_someone_elses_notification_is_not_found() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, p) = app.get("/api/v1/pipelines", "admin").await;
    let pid = p[0]["id"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/pipelines/{pid}/stages/{}", stages[1]),
        "admin",
        r#"{"gate":{"requires_approval":true}}"#,
    )
    .await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "通知").await;
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{}/move", opp["id"]),
            "rep_sh",
            &format!(r#"{{"stage_id":{}}}"#, stages[1]),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    let note = notes[0]["id"].as_i64().expect("the approver is told");
    let url = format!("/api/v1/notifications/{note}/read");
    for login in ["rep_south", "rep_sh", "admin"] {
        let (s, v) = app.call(Method::POST, &url, Some(login), None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{login}"
        );
    }
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    assert!(notes[0]["read_at"].is_null(), "{notes}");
    for _ in 0..2 {
        let (s, _) = app.call(Method::POST, &url, Some("mgr_east"), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "the owner reads it, twice");
    }
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/notifications/999999/read",
            Some("mgr_east"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

// ---- 7. A retried follow-up. ----

#[tokio::test]
async fn a_retried_follow_up_is_written_once() {
    let app = TestApp::new().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "重试").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/api/v1/opportunities/{id}/follow-ups");
    let body = format!(
        r#"{{"kind":"call","summary":"电话沟通","next_step":"报价","next_step_date":"{}"}}"#,
        close_date()
    );
    let key = [("Idempotency-Key", "fu-1")];
    let (s1, first) = app
        .call_with(Method::POST, &url, Some("rep_sh"), Some(&body), &key)
        .await;
    assert_eq!(s1, StatusCode::CREATED, "{first}");
    let (s2, again) = app
        .call_with(Method::POST, &url, Some("rep_sh"), Some(&body), &key)
        .await;
    assert_eq!(s2, StatusCode::OK, "{again}");
    assert_eq!(again["activity"]["id"], first["activity"]["id"]);
    assert_eq!(again["task"]["id"], first["task"]["id"]);
    assert!(first["task"]["id"].is_i64());
    let (_, acts) = app.get("/api/v1/activities", "rep_sh").await;
    assert_eq!(acts["total"], 1, "{acts}");
    let (_, tasks) = app.get("/api/v1/tasks", "rep_sh").await;
    assert_eq!(tasks["total"], 1, "{tasks}");
    // The key with another body, or on another deal, is refused.
    let other = r#"{"summary":"别的"}"#;
    let (s, v) = app
        .call_with(Method::POST, &url, Some("rep_sh"), Some(other), &key)
        .await;
    assert_eq!(
        (s, code(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let (_, opp2) = app.account_and_opportunity("rep_sh", "重试二").await;
    let (s, v) = app
        .call_with(
            Method::POST,
            &format!("/api/v1/opportunities/{}/follow-ups", opp2["id"]),
            Some("rep_sh"),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    // Without a key, each is its own follow-up.
    app.create(&url, "rep_sh", r#"{"summary":"再一次"}"#).await;
}
