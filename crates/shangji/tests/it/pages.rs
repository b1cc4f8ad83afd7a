//! Sign-in, CSRF, rate limiting, language and the home page, through the router.

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::TestApp;
use shangji_core::records::UserInput;
use shangji_core::Field;
use tower::ServiceExt;

pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub body: String,
}

pub(crate) async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    cookies: &[String],
    form: Option<&str>,
    lang: Option<&str>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if !cookies.is_empty() {
        req = req.header(header::COOKIE, cookies.join("; "));
    }
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    if let Some(l) = lang {
        req = req.header(header::ACCEPT_LANGUAGE, l);
    }
    let req = req
        .body(form.map_or(Body::empty(), |f| Body::from(f.to_string())))
        .unwrap();
    send_request(&app.router, req).await
}

/// Sends a request through `router` and reads the answer.
pub(crate) async fn send_request(router: &axum::Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let cookies = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    Resp {
        status,
        headers,
        location,
        cookies,
        body,
    }
}

/// `name=value` of a Set-Cookie header.
pub(crate) fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

pub(crate) fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

pub(crate) async fn app_with_password() -> TestApp {
    let app = TestApp::new().await;
    let input = UserInput {
        login: Field::Value("wang.lei".into()),
        display_name: Field::Value("王磊".into()),
        role: Field::Value(shangji_core::model::Role::Rep),
        team_id: Field::Value(app.teams["上海组"]),
        password: Field::Value("sales1234".into()),
        ..Default::default()
    };
    shangji::ops::create_user(&app.db, None, input, common::now())
        .await
        .unwrap();
    app
}

/// Opens the sign-in page and returns its CSRF cookie and token.
pub(crate) async fn login_form(app: &TestApp, lang: Option<&str>) -> (Vec<String>, String, String) {
    let r = send(app, "GET", "/login?next=/", &[], None, lang).await;
    assert_eq!(r.status, StatusCode::OK);
    let csrf = hidden(&r.body, "csrf");
    (r.cookies.iter().map(|c| pair(c)).collect(), csrf, r.body)
}

#[tokio::test]
async fn sign_in_reach_home_and_sign_out() {
    let app = app_with_password().await;
    let r = send(&app, "GET", "/", &[], None, None).await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login?next=/"))
    );

    let (cookies, csrf, body) = login_form(&app, None).await;
    assert!(
        body.contains("<html lang=\"zh-CN\">") && body.contains("登录"),
        "zh-CN by default"
    );
    let wrong = format!("login=wang.lei&password=nope&csrf={csrf}&next=%2F");
    let r = send(&app, "POST", "/login", &cookies, Some(&wrong), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("账号或密码不正确"), "{}", r.body);
    assert!(
        r.body.contains("value=\"wang.lei\""),
        "keeps what was typed"
    );

    let right = format!("login=Wang.Lei&password=sales1234&csrf={csrf}&next=%2F");
    let r = send(&app, "POST", "/login", &cookies, Some(&right), None).await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/"))
    );
    // Both are in the audit log, newest first, with the login as typed and the user.
    let (_, log) = app.get("/api/v1/audit?limit=2", "admin").await;
    let wang = app
        .db
        .user_by_login("wang.lei")
        .await
        .unwrap()
        .unwrap()
        .0
        .id;
    let seen: Vec<(&str, &str, i64)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_login"].as_str().unwrap(),
                e["actor_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("sign_in", "Wang.Lei", wang),
            ("sign_in_failed", "wang.lei", wang)
        ]
    );
    let session = r
        .cookies
        .iter()
        .find(|c| c.starts_with("sj_session="))
        .expect("session cookie")
        .clone();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let mut jar = cookies.clone();
    jar.push(pair(&session));

    let (_, opp) = app.account_and_opportunity("rep_sh", "别人的商机").await;
    assert!(opp["id"].is_i64());
    let r = send(&app, "GET", "/", &jar, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("你好，王磊"), "{}", r.body);
    // Pages with customer data are neither cached nor framed.
    for (name, want) in [
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(
            r.headers.get(name).and_then(|v| v.to_str().ok()),
            Some(want),
            "{name}"
        );
    }
    assert!(
        r.body.contains("id=\"open-count\">0<"),
        "another rep's deal is not counted"
    );

    // Sign-out needs the session's CSRF token.
    let r = send(&app, "POST", "/logout", &jar, Some("csrf=forged"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = send(&app, "GET", "/", &jar, None, None).await;
    let session_csrf = hidden(&page.body, "csrf");
    let r = send(
        &app,
        "POST",
        "/logout",
        &jar,
        Some(&format!("csrf={session_csrf}")),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
    let r = send(&app, "GET", "/", &jar, None, None).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the old session cookie no longer works"
    );
}

#[tokio::test]
async fn sign_in_refuses_a_missing_csrf_token_and_unsafe_next() {
    let app = app_with_password().await;
    let (cookies, csrf, _) = login_form(&app, None).await;
    let r = send(
        &app,
        "POST",
        "/login",
        &cookies,
        Some("login=wang.lei&password=sales1234&csrf=x"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.cookies.iter().all(|c| !c.starts_with("sj_session=")));
    let form =
        format!("login=wang.lei&password=sales1234&csrf={csrf}&next=https%3A%2F%2Fevil.example%2F");
    let r = send(&app, "POST", "/login", &cookies, Some(&form), None).await;
    assert_eq!(r.location.as_deref(), Some("/"), "never redirects off-site");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account() {
    let app = app_with_password().await;
    let (cookies, csrf, _) = login_form(&app, Some("en")).await;
    for _ in 0..5 {
        let r = send(
            &app,
            "POST",
            "/login",
            &cookies,
            Some(&format!("login=wang.lei&password=guess&csrf={csrf}")),
            Some("en"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = send(
        &app,
        "POST",
        "/login",
        &cookies,
        Some(&format!("login=wang.lei&password=sales1234&csrf={csrf}")),
        Some("en"),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r.body.contains("Too many attempts"), "{}", r.body);
}

#[tokio::test]
async fn language_follows_browser_then_choice() {
    let app = app_with_password().await;
    let (cookies, csrf, body) = login_form(&app, Some("en-US,en;q=0.9")).await;
    assert!(body.contains("<html lang=\"en\">") && body.contains("Sign in"));
    let r = send(
        &app,
        "POST",
        "/lang",
        &cookies,
        Some(&format!("lang=zh-CN&csrf={csrf}&next=%2Flogin")),
        Some("en"),
    )
    .await;
    assert_eq!(r.location.as_deref(), Some("/login"));
    let mut jar = cookies.clone();
    jar.extend(r.cookies.iter().map(|c| pair(c)));
    let r = send(&app, "GET", "/login", &jar, None, Some("en")).await;
    assert!(
        r.body.contains("<html lang=\"zh-CN\">"),
        "the chosen language wins over the browser"
    );
    let r = send(
        &app,
        "POST",
        "/lang",
        &cookies,
        Some("lang=en&csrf=wrong"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Switching the language on the sign-in page keeps where the user was going.
    let r = send(&app, "GET", "/login?next=/opportunities", &[], None, None).await;
    assert!(
        r.body
            .contains("name=\"next\" value=\"/login?next=/opportunities\""),
        "{}",
        r.body
    );

    // Signed in, the choice is saved on the user.
    let form = format!("login=wang.lei&password=sales1234&csrf={csrf}");
    let r = send(&app, "POST", "/login", &cookies, Some(&form), None).await;
    let mut jar = cookies.clone();
    jar.push(pair(
        r.cookies
            .iter()
            .find(|c| c.starts_with("sj_session="))
            .unwrap(),
    ));
    let home = send(&app, "GET", "/", &jar, None, None).await;
    let session_csrf = hidden(&home.body, "csrf");
    send(
        &app,
        "POST",
        "/lang",
        &jar,
        Some(&format!("lang=en&csrf={session_csrf}&next=%2F")),
        None,
    )
    .await;
    let (user, _) = app.db.user_by_login("wang.lei").await.unwrap().unwrap();
    assert_eq!(user.language, Some(shangji_core::model::Language::En));
    let home = send(&app, "GET", "/", &jar, None, Some("zh-CN")).await;
    assert!(home.body.contains("Hello, 王磊"), "{}", home.body);
}

#[tokio::test]
async fn the_api_accepts_a_session_only_with_its_csrf_header() {
    let app = app_with_password().await;
    let (cookies, csrf, _) = login_form(&app, None).await;
    let r = send(
        &app,
        "POST",
        "/login",
        &cookies,
        Some(&format!("login=wang.lei&password=sales1234&csrf={csrf}")),
        None,
    )
    .await;
    let session = pair(
        r.cookies
            .iter()
            .find(|c| c.starts_with("sj_session="))
            .unwrap(),
    );
    let home = send(&app, "GET", "/", std::slice::from_ref(&session), None, None).await;
    let session_csrf = hidden(&home.body, "csrf");
    let call = |csrf: Option<String>| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/api/v1/accounts")
            .header(header::COOKIE, session.clone())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        app.router
            .clone()
            .oneshot(req.body(Body::from(r#"{"name":"页面建的客户"}"#)).unwrap())
    };
    assert_eq!(call(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        call(Some(session_csrf)).await.unwrap().status(),
        StatusCode::CREATED
    );
}

/// A partial update made after the session ended sends the browser to sign in, and back to
/// the page it was on (its address with the query) afterwards; a plain page request is
/// redirected the same way.
#[tokio::test]
async fn an_expired_session_returns_to_the_page_after_signing_in() {
    let app = app_with_password().await;
    let stale = format!("{}=no-such-session", shangji::auth::SESSION_COOKIE);
    let req = Request::builder()
        .method("GET")
        .uri("/board/column?key=3&offset=20")
        .header(header::COOKIE, &stale)
        .header("hx-request", "true")
        .header(
            "hx-current-url",
            "http://crm.example.com/board?owner=2&grade=A",
        )
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "htmx only follows HX-Redirect on success"
    );
    assert_eq!(
        resp.headers()
            .get("hx-redirect")
            .map(|v| v.to_str().unwrap()),
        Some("/login?next=/board%3Fowner%3D2%26grade%3DA")
    );

    let r = send(
        &app,
        "GET",
        "/opportunities?status=open",
        &[stale],
        None,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (
            StatusCode::SEE_OTHER,
            Some("/login?next=/opportunities%3Fstatus%3Dopen")
        )
    );
}
