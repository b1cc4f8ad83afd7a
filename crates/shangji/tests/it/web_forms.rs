//! Web-to-lead forms over HTTP, on SQLite or PostgreSQL: an admin defines a form; an
//! anonymous visitor's submission through the public page becomes a lead with its source, UTM
//! parameters and receiver; robots, floods and bad values are refused and logged; the inbound
//! endpoint takes leads with the form's secret only.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::browser::{browser, encode, extract};
use common::TestApp;
use serde_json::{json, Value};
use time::Duration;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    body: String,
}

/// A visitor without a session: GET or POST (url-encoded) on a public address.
async fn visit(app: &TestApp, method: Method, path: &str, form: Option<String>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(form.map_or(Body::empty(), Body::from)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    if status == StatusCode::OK {
        // Any site may frame a public form.
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.ends_with("frame-ancestors *"), "{path}: {csp}");
    }
    Reply {
        status,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn make_form(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({
        "name": "官网预约演示",
        "slug": "demo-request",
        "heading": "预约产品演示",
        "thank_you": "谢谢，我们 24 小时内联系您",
        "source": "exhibition",
        "fields": [
            {"label_zh": "姓名", "target": "contact_name", "required": true},
            {"label_zh": "公司", "target": "company_name", "name": "company"},
            {"label_zh": "手机", "target": "mobile", "required": true, "input": "tel"},
            {"label_zh": "行业", "target": "industry", "input": "select", "options": ["制造业", "零售"]}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, v) = app
        .post("/api/v1/web-forms", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Opens the public page, waits as a person would, and sends `values`.
async fn fill_in(app: &TestApp, slug: &str, query: &str, values: &[(&str, &str)]) -> Reply {
    let page = visit(app, Method::GET, &format!("/f/{slug}{query}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = extract(&page.body, "name=\"_t\" value=\"", "\"").to_string();
    let mut pairs: Vec<(String, String)> = vec![("_t".into(), token)];
    // The hidden inputs the page carries (UTM parameters, the referrer).
    for k in ["utm_source", "utm_campaign", "referrer"] {
        let marker = format!("name=\"{k}\" value=\"");
        if page.body.contains(&marker) {
            pairs.push((k.into(), extract(&page.body, &marker, "\"").to_string()));
        }
    }
    pairs.push(("homepage".into(), String::new()));
    for (k, v) in values {
        pairs.push((k.to_string(), v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    app.state
        .clock
        .set(Some(common::now() + Duration::seconds(30)));
    let r = visit(
        app,
        Method::POST,
        &format!("/f/{slug}"),
        Some(form_body(&pairs)),
    )
    .await;
    app.state.clock.set(None);
    r
}

async fn leads(app: &TestApp) -> Vec<Value> {
    let (_, v) = app.get("/api/v1/leads?per_page=200", "admin").await;
    v["items"].as_array().unwrap().clone()
}

async fn log(app: &TestApp, id: &Value) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/api/v1/web-forms/{id}/submissions"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_visitors_submission_becomes_a_routed_lead_with_its_source_and_campaign() {
    let app = TestApp::new().await;
    let form = make_form(&app, json!({"owner_id": app.user_id("rep_sh")})).await;
    assert!(form["secret"].as_str().unwrap().starts_with("wf_"));

    let r = fill_in(
        &app,
        "demo-request",
        "?utm_source=baidu&utm_campaign=%E5%8F%8C%E5%8D%81%E4%B8%80",
        &[
            ("contact_name", "王芳"),
            ("company", "苏州精工机械有限公司"),
            ("mobile", "+86 138-0013-8000"),
            ("industry", "制造业"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("谢谢，我们 24 小时内联系您"), "{}", r.body);

    let all = leads(&app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let lead = &all[0];
    assert_eq!(lead["contact_name"], "王芳");
    assert_eq!(lead["company_name"], "苏州精工机械有限公司");
    assert_eq!(lead["mobile"], "13800138000");
    assert_eq!(lead["industry"], "制造业");
    assert_eq!(lead["source"], "exhibition");
    assert_eq!(lead["owner_id"], app.user_id("rep_sh"));
    assert_eq!(lead["status"], "new");

    let entries = log(&app, &form["id"]).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["outcome"], "accepted");
    assert_eq!(entries[0]["lead_id"], lead["id"]);
    assert_eq!(entries[0]["utm"]["utm_source"], "baidu");
    assert_eq!(entries[0]["utm"]["utm_campaign"], "双十一");

    // The rep sees where the lead came from on its page.
    let rep = browser(&app, "rep_sh").await;
    let page = rep.get(&format!("/leads/{}", lead["id"])).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("官网预约演示"), "{}", page.body);
    assert!(page.body.contains("baidu"), "{}", page.body);
}

#[tokio::test]
async fn bad_values_are_shown_beside_their_field_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let form = make_form(&app, json!({})).await;
    let r = fill_in(
        &app,
        "demo-request",
        "",
        &[
            ("contact_name", ""),
            ("company", "某公司"),
            ("mobile", "12345"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let name_error = extract(&r.body, "id=\"w-contact_name-error\" role=\"alert\">", "<");
    assert_eq!(name_error, "此项必填。");
    let mobile_error = extract(&r.body, "id=\"w-mobile-error\" role=\"alert\">", "<");
    assert!(mobile_error.contains("手机"), "{mobile_error}");
    // What was typed stays.
    assert!(r.body.contains("value=\"某公司\""), "{}", r.body);
    assert!(leads(&app).await.is_empty());
    let entries = log(&app, &form["id"]).await;
    assert_eq!(entries[0]["outcome"], "refused");
    assert_eq!(entries[0]["refusal"], "invalid");
}

#[tokio::test]
async fn robots_and_floods_are_refused_and_logged_without_telling_robots() {
    let app = TestApp::new().await;
    let form = make_form(
        &app,
        json!({"anti_spam": {"min_fill_seconds": 3, "per_address_per_hour": 2, "per_form_per_minute": 100}}),
    )
    .await;
    let person = [("contact_name", "李雷"), ("mobile", "13900139000")];

    // A robot fills the trap field: it sees the thank-you text, no lead is made.
    let page = visit(&app, Method::GET, "/f/demo-request", None).await;
    let token = extract(&page.body, "name=\"_t\" value=\"", "\"");
    app.state
        .clock
        .set(Some(common::now() + Duration::seconds(30)));
    let robot = form_body(&[
        ("_t", token),
        ("homepage", "http://spam.example"),
        ("contact_name", "robot"),
        ("mobile", "13900139001"),
    ]);
    let r = visit(&app, Method::POST, "/f/demo-request", Some(robot)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("谢谢，我们 24 小时内联系您"));
    // One without the page's token (posted straight at the address).
    let r = visit(
        &app,
        Method::POST,
        "/f/demo-request",
        Some(form_body(&person)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.state.clock.set(None);
    assert!(leads(&app).await.is_empty());

    // The third submission from one address within the hour is refused (limit 2, robots
    // counted).
    let r = fill_in(&app, "demo-request", "", &person).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("提交太频繁"));
    assert!(leads(&app).await.is_empty());

    let refusals: Vec<Value> = log(&app, &form["id"])
        .await
        .iter()
        .map(|e| e["refusal"].clone())
        .collect();
    assert_eq!(
        refusals,
        [
            json!("rate_limited_address"),
            json!("bad_token"),
            json!("honeypot")
        ]
    );
}

#[tokio::test]
async fn refused_submissions_leave_the_log_after_90_days_and_accepted_ones_stay() {
    let app = TestApp::new().await;
    let form = make_form(&app, json!({})).await;
    let r = fill_in(
        &app,
        "demo-request",
        "",
        &[("contact_name", "韩梅梅"), ("mobile", "13900139002")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let robot = form_body(&[("contact_name", "robot"), ("mobile", "13900139003")]);
    let r = visit(&app, Method::POST, "/f/demo-request", Some(robot)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(log(&app, &form["id"]).await.len(), 2);

    let db = &app.state.db;
    let pruned = shangji::ops::web_forms::prune_log(db, common::now() + Duration::days(89))
        .await
        .unwrap();
    assert_eq!(pruned, 0, "kept 90 days");
    let pruned = shangji::ops::web_forms::prune_log(db, common::now() + Duration::days(91))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left = log(&app, &form["id"]).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["outcome"], "accepted");
    assert_eq!(leads(&app).await.len(), 1);
}

#[tokio::test]
async fn sent_too_fast_is_a_robot() {
    let app = TestApp::new().await;
    let form = make_form(&app, json!({})).await;
    let page = visit(&app, Method::GET, "/f/demo-request", None).await;
    let token = extract(&page.body, "name=\"_t\" value=\"", "\"");
    app.state
        .clock
        .set(Some(common::now() + Duration::seconds(1)));
    let r = visit(
        &app,
        Method::POST,
        "/f/demo-request",
        Some(form_body(&[
            ("_t", token),
            ("contact_name", "快手"),
            ("mobile", "13700137000"),
        ])),
    )
    .await;
    app.state.clock.set(None);
    assert_eq!(r.status, StatusCode::OK);
    assert!(leads(&app).await.is_empty());
    assert_eq!(log(&app, &form["id"]).await[0]["refusal"], "too_fast");
}

#[tokio::test]
async fn the_inbound_endpoint_takes_leads_with_the_forms_secret_only() {
    let app = TestApp::new().await;
    let form = make_form(&app, json!({"team_id": app.teams["华东"]})).await;
    let secret = form["secret"].as_str().unwrap().to_string();
    let body = json!({"contact_name": "张伟", "mobile": "13600136000", "company": "杭州数联", "utm_source": "400"}).to_string();

    let (s, _) = app
        .call_with(
            Method::POST,
            "/api/v1/inbound/forms/demo-request",
            None,
            Some(&body),
            &[("x-form-secret", "wf_wrong")],
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(leads(&app).await.is_empty());

    let (s, v) = app
        .call_with(
            Method::POST,
            "/api/v1/inbound/forms/demo-request",
            None,
            Some(&body),
            &[("x-form-secret", &secret)],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, lead) = app
        .get(&format!("/api/v1/leads/{}", v["lead_id"]), "admin")
        .await;
    assert_eq!(lead["company_name"], "杭州数联");
    // The team's rep with the fewest open leads gets it: a rep of 华东 or 上海组.
    let east = [app.user_id("rep_sh"), app.user_id("rep_east")];
    assert!(east.contains(&lead["owner_id"].as_i64().unwrap()), "{lead}");

    // A bad value names the form's field.
    let (s, v) = app
        .call_with(
            Method::POST,
            "/api/v1/inbound/forms/demo-request",
            None,
            Some(r#"{"contact_name":"张伟","mobile":"abc"}"#),
            &[("x-form-secret", &secret)],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "mobile");

    // A new secret: the old one stops working.
    let (s, rotated) = app
        .post(
            &format!("/api/v1/web-forms/{}/secret", form["id"]),
            "admin",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let (s, _) = app
        .call_with(
            Method::POST,
            "/api/v1/inbound/forms/demo-request",
            None,
            Some(&body),
            &[("x-form-secret", &secret)],
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let entries = log(&app, &form["id"]).await;
    assert_eq!(entries[0]["refusal"], "bad_secret");
    assert_eq!(entries[0]["via"], "inbound");
    // The admin's view never carries a secret, only its digest.
    let (_, listed) = app.get("/api/v1/web-forms", "admin").await;
    assert!(!listed.to_string().contains(&secret));
}

#[tokio::test]
async fn forms_are_for_admins_and_an_archived_form_takes_nothing() {
    let app = TestApp::new().await;
    let (s, _) = app
        .post(
            "/api/v1/web-forms",
            "mgr_east",
            r#"{"name":"x","fields":[]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .post(
            "/api/v1/web-forms",
            "admin",
            r#"{"name":"x","fields":[{"label_zh":"姓名","target":"contact_name"}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["code"], "no_contact_field", "{v}");

    let form = make_form(&app, json!({})).await;
    let (s, _) = app
        .post("/api/v1/web-forms", "admin", &json!({"name": "二号", "slug": "demo-request", "fields": [{"label_zh": "手机", "target": "mobile"}]}).to_string())
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.post(
        &format!("/api/v1/web-forms/{}/archive", form["id"]),
        "admin",
        "",
    )
    .await;
    let r = visit(&app, Method::GET, "/f/demo-request", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = visit(&app, Method::GET, "/f/no-such-form", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_admin_defines_a_form_in_the_settings_and_sees_its_snippet() {
    let app = TestApp::new().await;
    let admin = browser(&app, "admin").await;
    let page = admin.get("/admin/web-forms/new").await;
    assert_eq!(page.status, StatusCode::OK);
    // The default fields are offered.
    assert!(page.body.contains("value=\"姓名\""));
    let r = admin
        .post(
            "/admin/web-forms/new",
            &[
                ("name", "展会登记"),
                ("slug", "expo"),
                ("language", "zh-CN"),
                ("source", "exhibition"),
                ("enabled", "true"),
                ("f0_label_zh", "姓名"),
                ("f0_target", "contact_name"),
                ("f0_input", "text"),
                ("f0_required", "true"),
                ("f1_label_zh", "手机"),
                ("f1_target", "mobile"),
                ("f1_input", "tel"),
                ("min_fill_seconds", "3"),
                ("per_address_per_hour", "10"),
                ("per_form_per_minute", "120"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = extract(&r.body, "<code id=\"form-secret\">", "<");
    assert!(secret.starts_with("wf_"), "{secret}");
    assert!(r.body.contains("/f/expo/embed.js"));
    let public = visit(&app, Method::GET, "/f/expo", None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.body.contains("展会登记"));

    // A row that names its target twice is refused beside the row.
    let id = app.db.web_form_by_slug("expo").await.unwrap().unwrap().id;
    let r = admin
        .post(
            &format!("/admin/web-forms/{id}"),
            &[
                ("name", "展会登记"),
                ("slug", "expo"),
                ("version", "1"),
                ("f0_label_zh", "手机"),
                ("f0_target", "mobile"),
                ("f1_label_zh", "电话"),
                ("f1_target", "mobile"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let e = extract(&r.body, "id=\"wf-row-1-error\">", "<");
    assert_eq!(e, "两个字段对应同一个线索字段。");
}
