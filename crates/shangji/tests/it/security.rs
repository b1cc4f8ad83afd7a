//! What a hostile test of the product found, each kept fixed: open redirects, the sign-in
//! limiter and the client address behind proxies, passwords and tokens, response headers,
//! JSON embedded in pages, CSV formula injection, what users see of each other.

use crate::common;
use crate::pages::{app_with_password, hidden, login_form, pair, send, send_request, Resp};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use common::TestApp;
use std::net::SocketAddr;
use time::Duration;

/// Signs `login` in with `password` from the sign-in form; the session cookies on success.
async fn sign_in(app: &TestApp, login: &str, password: &str, next: &str) -> Resp {
    let (cookies, csrf, _) = login_form(app, None).await;
    let form = format!("login={login}&password={password}&csrf={csrf}&next={next}");
    let mut r = send(app, "POST", "/login", &cookies, Some(&form), None).await;
    let mut jar = cookies;
    jar.extend(r.cookies.iter().map(|c| pair(c)));
    r.cookies = jar;
    r
}

#[tokio::test]
async fn sign_in_and_language_switch_follow_only_same_origin_paths() {
    let app = app_with_password().await;
    for (next, want) in [
        ("%2F%09%2Fevil.example", "/"),
        ("/%09/evil.example", "/"),
        ("%2F%2509%2Fevil.example", "/"),
        ("%2Fx%0D%0ASet-Cookie%3A%20a%3Db", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        (
            "%2Fopportunities%3Fstatus%3Dopen",
            "/opportunities?status=open",
        ),
    ] {
        let r = sign_in(&app, "wang.lei", "sales1234", next).await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (StatusCode::SEE_OTHER, Some(want)),
            "sign-in next={next}"
        );
        let home = send(&app, "GET", "/", &r.cookies, None, None).await;
        let csrf = hidden(&home.body, "csrf");
        let form = format!("lang=en&csrf={csrf}&next={next}");
        let r = send(&app, "POST", "/lang", &r.cookies, Some(&form), None).await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (StatusCode::SEE_OTHER, Some(want)),
            "language switch next={next}"
        );
    }
    // The sign-in page keeps only a safe `next` in its form.
    let r = send(
        &app,
        "GET",
        "/login?next=/%09/evil.example",
        &[],
        None,
        None,
    )
    .await;
    assert!(
        !r.body.contains("evil.example") && r.body.contains("name=\"next\" value=\"/\""),
        "{}",
        r.body
    );
}

/// A double-submit token the sign-in form accepts (cookie and field alike).
const FORM_TOKEN: &str = "a-form-token-of-enough-length";

/// A sign-in attempt through `router` from `peer`, with extra headers.
async fn attempt(
    router: &axum::Router,
    login: &str,
    password: &str,
    peer: &str,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = Request::builder()
        .method("POST")
        .uri("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("sj_csrf={FORM_TOKEN}"))
        .header(header::ACCEPT_LANGUAGE, "en");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    let form = format!("login={login}&password={password}&csrf={FORM_TOKEN}");
    let req = req
        .extension(ConnectInfo(peer))
        .body(Body::from(form))
        .unwrap();
    send_request(router, req).await
}

fn retry_after(r: &Resp) -> i64 {
    r.headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {} {}", r.status, r.body))
}

#[tokio::test]
async fn wrong_passwords_back_off_without_locking_the_right_one_out() {
    let app = app_with_password().await;
    let t0 = common::now();
    app.state.clock.set(Some(t0));
    let r = &app.router;
    // One address guessing: five free failures, then a wait that doubles with each failure,
    // refused without looking at the password — even the right one, from there.
    for _ in 0..5 {
        let x = attempt(r, "wang.lei", "guess", "203.0.113.1", &[]).await;
        assert_eq!(x.status, StatusCode::UNAUTHORIZED);
    }
    let x = attempt(r, "wang.lei", "sales1234", "203.0.113.1", &[]).await;
    assert_eq!(x.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&x), 1);
    assert!(x.body.contains("Try again in 1 s"), "{}", x.body);
    app.state.clock.set(Some(t0 + Duration::seconds(2)));
    let x = attempt(r, "wang.lei", "guess", "203.0.113.1", &[]).await;
    assert_eq!(x.status, StatusCode::UNAUTHORIZED);
    let x = attempt(r, "wang.lei", "guess", "203.0.113.1", &[]).await;
    assert_eq!(retry_after(&x), 2, "the wait doubles");

    // The user, elsewhere, types the right password and gets in.
    let x = attempt(r, "wang.lei", "sales1234", "198.51.100.7", &[]).await;
    assert_eq!(x.status, StatusCode::SEE_OTHER, "{}", x.body);

    // Guesses from many addresses: past ten, a new address waits — at most a minute…
    for i in 0..40 {
        let addr = format!("192.0.2.{}", 10 + i);
        attempt(r, "wang.lei", "guess", &addr, &[]).await;
    }
    let x = attempt(r, "wang.lei", "sales1234", "198.51.100.99", &[]).await;
    assert_eq!(x.status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&x)), "{}", retry_after(&x));
    // …while the address the user signed in from before is let in at once.
    let x = attempt(r, "wang.lei", "sales1234", "198.51.100.7", &[]).await;
    assert_eq!(x.status, StatusCode::SEE_OTHER, "{}", x.body);
    // A minute later the new address is heard again.
    app.state.clock.set(Some(t0 + Duration::seconds(70)));
    let x = attempt(r, "wang.lei", "sales1234", "198.51.100.99", &[]).await;
    assert_eq!(x.status, StatusCode::SEE_OTHER, "{}", x.body);

    // Failed and refused attempts are in the audit log with their address.
    let (_, log) = app
        .get("/api/v1/audit?action=sign_in_failed&limit=500", "admin")
        .await;
    let log = log.as_array().unwrap();
    assert!(log.iter().any(|e| e["address"] == "203.0.113.1"));
    assert!(log.iter().any(|e| e["detail"] == "rate limited"));
}

#[tokio::test]
async fn one_address_failing_does_not_refuse_everyone_behind_it() {
    let app = app_with_password().await;
    app.state.clock.set(Some(common::now()));
    let r = &app.router;
    let office = "203.0.113.50";
    let x = attempt(r, "wang.lei", "sales1234", office, &[]).await;
    assert_eq!(x.status, StatusCode::SEE_OTHER);
    // Someone in the office sprays passwords over many logins.
    for i in 0..40 {
        attempt(r, &format!("user{i}"), "guess", office, &[]).await;
    }
    let x = attempt(r, "nobody", "guess", office, &[]).await;
    assert_eq!(x.status, StatusCode::TOO_MANY_REQUESTS, "the sprayer waits");
    let x = attempt(r, "wang.lei", "sales1234", office, &[]).await;
    assert_eq!(
        x.status,
        StatusCode::SEE_OTHER,
        "a user who signed in there before does not"
    );
}

#[tokio::test]
async fn the_limiter_counts_across_instances_sharing_the_database() {
    let app = TestApp::shared().await;
    let input = shangji_core::records::UserInput {
        login: shangji_core::Field::Value("wang.lei".into()),
        role: shangji_core::Field::Value(shangji_core::model::Role::Rep),
        password: shangji_core::Field::Value("sales1234".into()),
        ..Default::default()
    };
    shangji::ops::create_user(&app.db, None, input, common::now())
        .await
        .unwrap();
    let other = shangji::app(shangji::AppState::new(app.second_instance().await, false));
    for _ in 0..5 {
        let x = attempt(&app.router, "wang.lei", "guess", "203.0.113.1", &[]).await;
        assert_eq!(x.status, StatusCode::UNAUTHORIZED);
    }
    let x = attempt(&other, "wang.lei", "guess", "203.0.113.1", &[]).await;
    assert_eq!(
        x.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the other instance knows"
    );
}

#[tokio::test]
async fn an_unknown_login_takes_as_long_as_a_wrong_password() {
    let app = app_with_password().await;
    app.state.clock.set(Some(common::now()));
    // Medians of interleaved attempts (each from its own address, so none waits): a
    // login that does not exist is checked against a hash as well, so it cannot be told
    // from a wrong password by the time it takes (before: 0.6 ms against 23 ms).
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..7 {
        let t = std::time::Instant::now();
        let x = attempt(
            &app.router,
            "wang.lei",
            "guess",
            &format!("192.0.2.{i}"),
            &[],
        )
        .await;
        known.push(t.elapsed());
        assert_eq!(x.status, StatusCode::UNAUTHORIZED);
        let t = std::time::Instant::now();
        let y = attempt(
            &app.router,
            "no.such",
            "guess",
            &format!("192.0.2.{}", 100 + i),
            &[],
        )
        .await;
        unknown.push(t.elapsed());
        assert_eq!(
            (y.status, &y.body),
            (x.status, &x.body.replace("wang.lei", "no.such"))
        );
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[3], unknown[3]);
    assert!(u * 3 > k, "unknown login {u:?}, wrong password {k:?}");
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let db = common::test_db().await;
    let proxies = shangji::client::TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
    let state = shangji::AppState::new(db.clone(), false).with_proxies(proxies);
    let router = shangji::app(state);
    let forwarded = [
        ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
        ("x-forwarded-proto", "https"),
    ];
    let x = attempt(&router, "ghost", "guess", "10.1.2.3", &forwarded).await;
    assert_eq!(x.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        x.headers
            .get(header::STRICT_TRANSPORT_SECURITY)
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000"),
        "HTTPS at the proxy"
    );
    let x = attempt(&router, "ghost", "guess", "192.0.2.77", &forwarded).await;
    assert!(
        x.headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
        "a client's own claim of HTTPS is not believed"
    );
    let entries = db
        .audit_entries(&shangji_core::audit::AuditFilter::default())
        .await
        .unwrap();
    let mut addresses: Vec<_> = entries.iter().filter_map(|e| e.address.clone()).collect();
    addresses.sort();
    assert_eq!(addresses, ["192.0.2.77", "203.0.113.9"]);
}

/// wang.lei (password `sales1234`) with an API token.
async fn wang_with_token(app: &mut TestApp) -> i64 {
    let (user, _) = app.db.user_by_login("wang.lei").await.unwrap().unwrap();
    let (token, _) = shangji::ops::create_token(&app.db, None, user.id, "t", common::now())
        .await
        .unwrap();
    app.tokens.insert("wang.lei", token);
    user.id
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one() {
    let mut app = app_with_password().await;
    let id = wang_with_token(&mut app).await;
    let url = format!("/api/v1/users/{id}");
    for (body, code) in [
        (r#"{"password":"taken-over-1"}"#, "required"),
        (
            r#"{"password":"taken-over-1","current_password":"wrong-one"}"#,
            "wrong_password",
        ),
    ] {
        let (s, v) = app.patch(&url, "wang.lei", body).await;
        assert!(s.is_client_error(), "{s} {v}");
        assert_eq!(
            (v["code"].as_str(), v["field"].as_str()),
            (Some(code), Some("current_password")),
            "{v}"
        );
    }
    let r = sign_in(&app, "wang.lei", "sales1234", "%2F").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the password is unchanged");
    let (s, v) = app
        .patch(
            &url,
            "wang.lei",
            r#"{"password":"changed-99","current_password":"sales1234"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v.get("password").is_none() && v.get("current_password").is_none());
    let r = sign_in(&app, "wang.lei", "changed-99", "%2F").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Other details of one's own need no password.
    let (s, _) = app
        .patch(&url, "wang.lei", r#"{"mobile":"13800138000"}"#)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_reset_ends_the_users_sessions_and_revokes_their_tokens() {
    let mut app = app_with_password().await;
    let id = wang_with_token(&mut app).await;
    let session = sign_in(&app, "wang.lei", "sales1234", "%2F").await.cookies;
    assert_eq!(
        send(&app, "GET", "/", &session, None, None).await.status,
        StatusCode::OK
    );
    let (s, _) = app.get("/api/v1/users/me", "wang.lei").await;
    assert_eq!(s, StatusCode::OK);

    let (s, v) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            "admin",
            r#"{"password":"reset-by-admin"}"#,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "an admin resets without the old one: {v}"
    );
    let (s, _) = app.get("/api/v1/users/me", "wang.lei").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the token is revoked");
    let r = send(&app, "GET", "/", &session, None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the session ended");
    let (_, log) = app.get("/api/v1/audit?action=password_set", "admin").await;
    assert!(
        log[0]["detail"]
            .as_str()
            .unwrap()
            .contains("1 API tokens revoked"),
        "{log}"
    );
    // An admin's own password is theirs to change with the current one, like anyone's.
    let admin = app.user_id("admin");
    let (s, v) = app
        .patch(
            &format!("/api/v1/users/{admin}"),
            "admin",
            r#"{"password":"new-admin-pw"}"#,
        )
        .await;
    assert_eq!(
        (s.is_client_error(), v["field"].as_str()),
        (true, Some("current_password"))
    );
}

#[tokio::test]
async fn reps_see_who_users_are_and_managers_their_peoples_details() {
    let app = TestApp::new().await;
    for login in ["rep_sh", "rep_south", "mgr_east"] {
        let (s, _) = app
            .patch(
                &format!("/api/v1/users/{}", app.user_id(login)),
                "admin",
                &format!(r#"{{"email":"{login}@example.com","mobile":"13800000000","leaves":[{{"from":"2026-01-05","to":"2026-01-06"}}]}}"#),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let details = |list: &serde_json::Value, login: &str| {
        let u = list
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == login)
            .unwrap()
            .clone();
        assert!(
            u["display_name"].is_string() && u["role"].is_string() && u.get("team_id").is_some()
        );
        ["email", "mobile", "leaves", "language"]
            .iter()
            .filter(|k| u.get(**k).is_some())
            .count()
    };
    let (_, seen) = app.get("/api/v1/users", "rep_sh").await;
    assert_eq!(details(&seen, "rep_sh"), 4, "one's own");
    assert_eq!(details(&seen, "rep_south"), 0, "another rep's");
    assert_eq!(details(&seen, "mgr_east"), 0, "one's manager's");
    let (_, one) = app
        .get(
            &format!("/api/v1/users/{}", app.user_id("rep_south")),
            "rep_sh",
        )
        .await;
    assert!(
        one.get("email").is_none() && one["display_name"].is_string(),
        "{one}"
    );
    let (_, seen) = app.get("/api/v1/users", "mgr_east").await;
    assert_eq!(details(&seen, "rep_sh"), 4, "a manager sees their people's");
    assert_eq!(details(&seen, "rep_south"), 0, "not another team's");
    let (_, seen) = app.get("/api/v1/users", "admin").await;
    assert_eq!(details(&seen, "rep_south"), 4);
    let (_, me) = app.get("/api/v1/users/me", "rep_sh").await;
    assert_eq!(me["email"], "rep_sh@example.com");
}

#[tokio::test]
async fn csv_exports_neutralise_formulas_in_text_but_not_numbers() {
    let mut app = app_with_password().await;
    wang_with_token(&mut app).await;
    let (s, v) = app
        .post(
            "/api/v1/custom-fields",
            "admin",
            r#"{"record_kind":"account","key":"balance","label_zh":"余额","label_en":"Balance","field_type":"integer"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for name in [
        "=HYPERLINK(\"http://evil.example\",\"点我\")",
        "+86 公司",
        "@SUM(A1)",
        "-1+2",
        "＝1+1",
        "普通公司",
    ] {
        let body = serde_json::json!({"name": name, "custom": {"balance": -12}});
        app.create("/api/v1/accounts", "wang.lei", &body.to_string())
            .await;
    }
    let (s, csv) = app.get("/api/v1/accounts/export.csv", "wang.lei").await;
    assert_eq!(s, StatusCode::OK);
    let csv = csv
        .as_str()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let head = rows.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let (name, balance) = (col("name"), col("Balance"));
    let mut names = Vec::new();
    for r in rows.records() {
        let r = r.unwrap();
        names.push(r[name].to_string());
        assert_eq!(&r[balance], "-12", "a number stays a number");
    }
    names.sort();
    assert_eq!(
        names,
        [
            "'+86 公司",
            "'-1+2",
            "'=HYPERLINK(\"http://evil.example\",\"点我\")",
            "'@SUM(A1)",
            "'＝1+1",
            "普通公司"
        ]
    );
    // The list page's export writes text the same way, its numbers as numbers.
    let session = sign_in(&app, "wang.lei", "sales1234", "%2F").await.cookies;
    let r = send(&app, "GET", "/accounts/export.csv", &session, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("'=HYPERLINK") && r.body.contains("'@SUM(A1)"),
        "{}",
        r.body
    );
    for bad in [",=", "\n=", ",\"=", "\n\"="] {
        assert!(!r.body.contains(bad), "{bad:?} in {}", r.body);
    }
}

fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_without_inline_scripts() {
    let app = app_with_password().await;
    let session = sign_in(&app, "wang.lei", "sales1234", "%2F").await.cookies;
    for path in [
        "/login",
        "/",
        "/opportunities",
        "/board",
        "/api/v1/openapi.json",
    ] {
        let r = send(&app, "GET", path, &session, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let csp = header(&r, "content-security-policy").unwrap_or_default();
        let script = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_default();
        assert_eq!(script, "script-src 'self'", "{path}: {csp}");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
            "{path}: {csp}"
        );
        assert!(
            header(&r, "permissions-policy").is_some_and(|p| p.contains("camera=()")),
            "{path}"
        );
        assert!(
            header(&r, "strict-transport-security").is_none(),
            "{path}: plain HTTP"
        );
        // Every script a page has is a file of this server (or data, not run).
        for tag in r.body.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(
                open.contains("src=\"/static/") || open.contains("type=\"application/json\""),
                "{path}: inline <script{open}>"
            );
        }
    }
    // No template has an inline script or event handler attribute.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for tag in text.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(
                open.contains("src=") || open.contains("application/json"),
                "{}: inline <script{open}>",
                path.display()
            );
        }
        for attr in [
            " onclick=",
            " onchange=",
            " onsubmit=",
            " onload=",
            " oninput=",
            "hx-on",
            "javascript:",
        ] {
            assert!(!text.contains(attr), "{}: {attr}", path.display());
        }
    }
}

#[tokio::test]
async fn https_answers_carry_strict_transport_security() {
    let db = common::test_db().await;
    let router = shangji::app(shangji::AppState::new(db, true));
    let r = send_request(
        &router,
        Request::builder()
            .uri("/login")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        header(&r, "strict-transport-security"),
        Some("max-age=31536000")
    );
}

#[tokio::test]
async fn the_public_form_may_be_framed_and_runs_only_its_own_script() {
    let app = TestApp::new().await;
    let body = serde_json::json!({
        "name": "官网", "slug": "demo", "heading": "预约演示", "source": "website",
        "fields": [
            {"label_zh": "姓名", "target": "contact_name", "required": true},
            {"label_zh": "手机", "target": "mobile", "required": true, "input": "tel"}
        ]
    });
    let (s, v) = app
        .post("/api/v1/web-forms", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let r = send(&app, "GET", "/f/demo", &[], None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors *") && csp.contains("script-src 'self';"),
        "{csp}"
    );
    assert!(r
        .body
        .contains("<script src=\"/static/web-form.js\"></script>"));
    let js = send(&app, "GET", "/static/web-form.js", &[], None, None).await;
    assert!(js.body.contains("shangjiFormHeight"));
    // The embed script names the form's address as a JS string, whatever the Host says.
    let req = Request::builder()
        .uri("/f/demo/embed.js")
        .header(header::HOST, "crm.example.com\";alert(1);//")
        .body(Body::empty());
    if let Ok(req) = req {
        let r = send_request(&app.router, req).await;
        assert!(
            r.body
                .contains(r#"frame.src = "http://crm.example.com\";alert(1);///f/demo" + "?""#),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_display_name_cannot_break_the_json_a_page_embeds() {
    let app = TestApp::new().await;
    let evil = "x<!--<script></script>\u{2028}&";
    let (s, _) = app
        .patch(
            &format!("/api/v1/users/{}", app.user_id("rep_sh")),
            "admin",
            &serde_json::json!({"display_name": evil}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    shangji::ops::set_password(
        &app.db,
        None,
        app.user_id("admin"),
        "admin-pass-1",
        common::now(),
    )
    .await
    .unwrap();
    let session = sign_in(&app, "admin", "admin-pass-1", "%2F").await.cookies;
    let r = send(&app, "GET", "/admin/rules/new", &session, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let start =
        r.body.find("id=\"rule-catalog\">").expect("the catalog") + "id=\"rule-catalog\">".len();
    let json = &r.body[start..start + r.body[start..].find("</script>").unwrap()];
    for bad in ["<", ">", "&", "\u{2028}"] {
        assert!(!json.contains(bad), "{bad:?} in the embedded JSON");
    }
    let catalog: serde_json::Value = serde_json::from_str(json).unwrap();
    assert!(
        catalog.to_string().contains("x<!--<script></script>"),
        "the name is intact as data"
    );
}

/// A rep changes their own password on the page the user menu links to: the current one is
/// asked for, the new one typed twice; then they sign in with the new one only.
#[tokio::test]
async fn a_user_changes_their_own_password_on_its_page() {
    use crate::common::browser::browser;
    let app = TestApp::new().await;
    let id = app.user_id("rep_sh");
    shangji::ops::set_password(&app.db, None, id, "sales1234", common::now())
        .await
        .unwrap();
    let me = browser(&app, "rep_sh").await;
    let home = me.get("/").await;
    assert!(
        home.body.contains(r#"href="/password""#),
        "the user menu links to it"
    );
    let page = me.get("/password").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("修改密码"));
    let post = |current: &'static str, new: &'static str, repeat: &'static str| {
        let me = &me;
        async move {
            me.post(
                "/password",
                &[
                    ("current_password", current),
                    ("password", new),
                    ("repeat", repeat),
                ],
            )
            .await
        }
    };
    let r = post("sales1234", "newpass5678", "newpass5679").await;
    assert!(r.body.contains("两次输入的新密码不一致"), "{}", r.body);
    let r = post("wrong-one", "newpass5678", "newpass5678").await;
    assert!(r.body.contains(r#"id="pw-current-error""#), "{}", r.body);
    let r = post("sales1234", "newpass5678", "newpass5678").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location.unwrap().starts_with("/login"));
    // This session ended with the change; the old password no longer signs in, the new one does.
    assert_eq!(me.get("/password").await.status, StatusCode::SEE_OTHER);
    let old = sign_in(&app, "rep_sh", "sales1234", "/").await;
    assert_ne!(old.location.as_deref(), Some("/"));
    let new = sign_in(&app, "rep_sh", "newpass5678", "/").await;
    assert_eq!(new.location.as_deref(), Some("/"), "{}", new.body);
}
