//! Server-rendered pages: sign-in, sign-out, language switch and the home page shell.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use shangji_core::model::{Language, Opportunity, Role, StageKind, Task, User};
use shangji_store::{Authenticated, ListQuery};
use time::Duration;

use crate::auth::{self, session_user, SESSION_COOKIE, SESSION_DAYS};
use crate::error::AppError;
use crate::i18n::{self, Tr, LANG_COOKIE};
use crate::ops::Ctx;
use crate::state::AppState;

/// Double-submit token for forms shown before sign-in.
const FORM_CSRF_COOKIE: &str = "sj_csrf";

fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(format!("template: {e}")).into_response(),
    }
}

/// Only same-site relative paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// The sign-in page's own address, keeping where to go afterwards (so that switching the
/// language there does not lose it).
fn login_here(next: &str) -> String {
    if next == "/" {
        "/login".into()
    } else {
        format!("/login?next={}", urlencode(next))
    }
}

fn cookie(
    name: &'static str,
    value: String,
    state: &AppState,
    max_age: Duration,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .max_age(max_age)
        .build()
}

/// The pre-sign-in CSRF token of this browser, set when missing.
fn form_csrf(jar: CookieJar, state: &AppState) -> (CookieJar, String) {
    match jar.get(FORM_CSRF_COOKIE).map(|c| c.value().to_string()) {
        Some(v) if v.len() >= 20 => (jar, v),
        _ => {
            let v = auth::random_token("");
            (
                jar.add(cookie(
                    FORM_CSRF_COOKIE,
                    v.clone(),
                    state,
                    Duration::days(1),
                )),
                v,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    csrf: String,
    here: String,
    next: String,
    login: String,
    error: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let (jar, csrf) = form_csrf(jar, &s);
    let next = safe_next(q.next.as_deref());
    let page = LoginPage {
        tr: Tr::new(i18n::choose(None, &headers)),
        csrf,
        here: login_here(&next),
        next,
        login: String::new(),
        error: None,
    };
    (jar, render(page)).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login_submit(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let (parts, body) = request.into_parts();
    let addr = auth::client_addr(&parts);
    let Form(form): Form<LoginForm> =
        Form::from_request(axum::extract::Request::from_parts(parts, body), &s)
            .await
            .map_err(|_| {
                AppError::bad_request("", "malformed_form", "the form could not be read")
            })?;
    let (jar, csrf) = form_csrf(jar, &s);
    let tr = Tr::new(i18n::choose(None, &headers));
    let again = |jar: CookieJar, error: &'static str, status: StatusCode| {
        let next = safe_next(form.next.as_deref());
        let page = LoginPage {
            tr,
            csrf: csrf.clone(),
            here: login_here(&next),
            next,
            login: form.login.clone(),
            error: Some(error),
        };
        Ok((status, jar, render(page)).into_response())
    };
    if form.csrf.is_empty() || form.csrf != csrf {
        return again(jar, "login.csrf", StatusCode::FORBIDDEN);
    }
    if form.login.trim().is_empty() || form.password.is_empty() {
        return again(jar, "login.required", StatusCode::UNPROCESSABLE_ENTITY);
    }
    let now = std::time::Instant::now();
    if !s.limiter.allowed(&form.login, &addr, now) {
        return again(jar, "login.rate_limited", StatusCode::TOO_MANY_REQUESTS);
    }
    let found = s.db.user_by_login(&form.login).await?;
    let user = match found {
        Some((user, Some(hash)))
            if user.active && crate::ops::verify_password(&form.password, &hash) =>
        {
            user
        }
        _ => {
            s.limiter.failed(&form.login, &addr, now);
            return again(jar, "login.failed", StatusCode::UNAUTHORIZED);
        }
    };
    s.limiter.succeeded(&form.login);
    let token = auth::random_token("");
    let session_csrf = auth::random_token("");
    let t = s.now();
    s.db.insert_session(
        &auth::digest(&token),
        user.id,
        &session_csrf,
        t,
        t + Duration::days(SESSION_DAYS),
    )
    .await?;
    let jar = jar.add(cookie(
        SESSION_COOKIE,
        token,
        &s,
        Duration::days(SESSION_DAYS),
    ));
    Ok((jar, Redirect::to(&safe_next(form.next.as_deref()))).into_response())
}

use axum::extract::FromRequest;

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    if let Some(who) = session_user(&s, &jar).await? {
        if who.csrf.as_deref() != Some(form.csrf.as_str()) {
            return Err(AppError::Forbidden("csrf_token_invalid"));
        }
        if let Some(c) = jar.get(SESSION_COOKIE) {
            s.db.delete_session(&auth::digest(c.value())).await?;
        }
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

#[derive(Debug, Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// Switches the language: a cookie for everyone, and the user's preference when signed in.
async fn switch_language(
    State(s): State<AppState>,
    jar: CookieJar,
    Form(form): Form<LangForm>,
) -> Result<Response, AppError> {
    let lang: Language = form
        .lang
        .parse()
        .map_err(|_| AppError::bad_request("lang", "unknown_language", "use zh-CN or en"))?;
    let session = session_user(&s, &jar).await?;
    let form_token = jar.get(FORM_CSRF_COOKIE).map(|c| c.value().to_string());
    let valid = match &session {
        Some(who) => who.csrf.as_deref() == Some(form.csrf.as_str()),
        None => form_token.as_deref() == Some(form.csrf.as_str()) && !form.csrf.is_empty(),
    };
    if !valid {
        return Err(AppError::Forbidden("csrf_token_invalid"));
    }
    if let Some(Authenticated { mut user, .. }) = session {
        user.language = Some(lang);
        s.db.update_user(&user).await?;
    }
    let jar = jar.add(cookie(
        LANG_COOKIE,
        lang.as_str().to_string(),
        &s,
        Duration::days(365),
    ));
    Ok((jar, Redirect::to(&safe_next(form.next.as_deref()))).into_response())
}

struct RecentRow {
    title: String,
    stage: String,
    amount: String,
    close_date: String,
    owner: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    tr: Tr,
    csrf: String,
    here: String,
    user: User,
    role_key: &'static str,
    open_count: i64,
    open_amount: String,
    weighted_amount: String,
    tasks_due: i64,
    recent: Vec<RecentRow>,
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::Admin => "role.admin",
        Role::Director => "role.director",
        Role::Manager => "role.manager",
        Role::Rep => "role.rep",
    }
}

/// A page that needs a signed-in user: sends others to sign in and back here afterwards.
async fn signed_in(
    s: &AppState,
    jar: &CookieJar,
    path: &str,
) -> Result<Result<Authenticated, Response>, AppError> {
    match session_user(s, jar).await? {
        Some(found) => Ok(Ok(found)),
        None => Ok(Err(Redirect::to(&format!(
            "/login?next={}",
            urlencode(path)
        ))
        .into_response())),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn home(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let who = match signed_in(&s, &jar, "/").await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let tr = Tr::new(i18n::choose(who.user.language, &headers));
    let ctx = Ctx::for_user(&s.db, &who, s.now(), tr.lang).await?;
    let (user, csrf) = (who.user, who.csrf.unwrap_or_default());
    let mine = |limit| ListQuery {
        owner_id: Some(user.id),
        eq: vec![("status", StageKind::Open.as_str().into())],
        limit,
        ..Default::default()
    };
    // Sums over all open CNY opportunities of the user, a page at a time.
    let (mut amount, mut weighted, mut offset) = (0i64, 0i64, 0i64);
    let open_count = loop {
        let page =
            s.db.list::<Opportunity>(
                &ctx.scope,
                &ListQuery {
                    offset,
                    ..mine(200)
                },
            )
            .await?;
        for o in page.items.iter().filter(|o| o.amount.currency == "CNY") {
            amount += o.amount.amount_minor;
            weighted += o.amount.amount_minor * i64::from(o.probability) / 100;
        }
        offset += 200;
        if offset >= page.total || page.items.is_empty() {
            break page.total;
        }
    };
    let today = s.now().date();
    let tasks = ListQuery {
        eq: vec![("done", false.into())],
        ranges: vec![("due_date", "<=", today.into())],
        owner_id: Some(user.id),
        limit: 1,
        ..Default::default()
    };
    let tasks_due = s.db.list::<Task>(&ctx.scope, &tasks).await?.total;
    let recent_page = s.db.list::<Opportunity>(&ctx.scope, &mine(10)).await?;
    let pipelines = &ctx.dir.pipelines;
    let users = s.db.users().await?;
    let recent = recent_page
        .items
        .iter()
        .map(|o| RecentRow {
            title: o.title.clone(),
            stage: pipelines
                .iter()
                .flat_map(|p| &p.stages)
                .find(|st| st.id == o.stage_id)
                .map(|st| st.name(tr.lang).to_string())
                .unwrap_or_default(),
            amount: tr.money(&o.amount),
            close_date: o.close_date.map(|d| d.to_string()).unwrap_or_default(),
            owner: users
                .iter()
                .find(|u| u.id == o.owner_id)
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
        })
        .collect();
    let money = |v| tr.money(&shangji_core::Money::cny(v));
    let page = HomePage {
        tr,
        csrf,
        here: "/".into(),
        role_key: role_key(user.role),
        open_count,
        open_amount: money(amount),
        weighted_amount: money(weighted),
        tasks_due,
        recent,
        user,
    };
    Ok(render(page))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang", post(switch_language))
        .route("/static/app.css", get(stylesheet))
}
