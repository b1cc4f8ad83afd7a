//! Server-rendered pages: sign-in, sign-out, language switch and the home page shell; the
//! process settings (`admin`) and the opportunity page (`opportunity`) are submodules.
//! Handlers are thin: they read a form, call the same `ops` function as the API, and show
//! what it answered in the user's language.

mod admin;
mod analytics;
pub(crate) mod approvals;
mod assignment;
mod audit;
mod automation;
mod backups;
mod board;
mod custom_fields;
mod delivery;
mod directory;
mod duplicates;
mod forecast;
mod handover;
mod import;
mod lists;
pub(crate) mod merge;
mod opportunity;
mod policies;
mod records;
mod review;
mod scoring;
mod snapshots;
mod web_forms;

use askama::Template;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use shangji_core::model::{Language, Role, User};
use shangji_store::Authenticated;
use time::Duration;

use crate::auth::{self, session_user, SESSION_COOKIE, SESSION_DAYS};
use crate::error::AppError;
use crate::i18n::{self, Tr, LANG_COOKIE};
use crate::ops::{self, Ctx};
use crate::state::AppState;

/// Double-submit token for forms shown before sign-in.
const FORM_CSRF_COOKIE: &str = "sj_csrf";

fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(format!("template: {e}")).into_response(),
    }
}

/// Where to go after signing in or switching the language: only a path of this site. `next`
/// must parse as a same-origin relative reference — one `/` then a path, never `//` or `/\`
/// (which browsers read as another host), and no control character, space or backslash,
/// neither as sent nor once percent-decoded (`/%09/evil.example` would reach the browser as
/// `/<TAB>/evil.example`, read as `//evil.example`). Anything else goes home (`/`).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    next.and_then(same_origin_path)
        .unwrap_or_else(|| "/".to_string())
}

fn same_origin_path(next: &str) -> Option<String> {
    fn plain(p: &str) -> bool {
        let b = p.as_bytes();
        b.first() == Some(&b'/')
            && !matches!(b.get(1), Some(b'/' | b'\\'))
            && !p
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    }
    if next.len() > 2048 || !plain(next) {
        return None;
    }
    // Percent-decoded (twice over, for double encoding), it must still be a plain path.
    let mut decoded = next.to_string();
    for _ in 0..2 {
        decoded = percent_decode(&decoded);
        if !plain(&decoded) {
            return None;
        }
    }
    let base = url::Url::parse("http://shangji.invalid/").expect("a base URL");
    let joined = base.join(next).ok()?;
    (joined.origin() == base.origin() && joined.username().is_empty())
        .then(|| joined[url::Position::BeforePath..].to_string())
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
            let v = crate::ops::directory::random_token("");
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
    /// What went wrong, in the user's language.
    error: Option<String>,
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
    let again = |jar: CookieJar, error: String, status: StatusCode| {
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
        return again(jar, tr.t("login.csrf").into(), StatusCode::FORBIDDEN);
    }
    if form.login.trim().is_empty() || form.password.is_empty() {
        return again(
            jar,
            tr.t("login.required").into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let attempt = ops::sign_in::Attempt {
        login: form.login.clone(),
        password: form.password.clone(),
        address: addr,
    };
    let now = s.now();
    let user = match ops::sign_in::sign_in(&s.db, &attempt, now).await? {
        ops::sign_in::Outcome::SignedIn(user) => user,
        ops::sign_in::Outcome::Failed => {
            return again(jar, tr.t("login.failed").into(), StatusCode::UNAUTHORIZED);
        }
        ops::sign_in::Outcome::Wait(until) => {
            let seconds = (((until - now).whole_milliseconds() + 999) / 1000).max(1) as i64;
            let text = tr.fmt("login.rate_limited", &[("seconds", &seconds.to_string())]);
            let mut page = again(jar, text, StatusCode::TOO_MANY_REQUESTS)?;
            page.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
            return Ok(page);
        }
    };
    let token = crate::ops::directory::random_token("");
    let session_csrf = crate::ops::directory::random_token("");
    let t = s.now();
    s.db.insert_session(
        &crate::ops::directory::digest(&token),
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
            s.db.delete_session(&crate::ops::directory::digest(c.value()))
                .await?;
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

fn role_key(role: Role) -> &'static str {
    match role {
        Role::Admin => "role.admin",
        Role::Director => "role.director",
        Role::Manager => "role.manager",
        Role::Rep => "role.rep",
    }
}

/// Marks an ECharts option whose value axis holds amounts in yuan: `static/charts.js` then
/// shows its axis labels and tooltips short (万 / 亿, K / M), as `Tr::money_short` does.
fn money_chart(tr: Tr, mut option: serde_json::Value) -> serde_json::Value {
    option["money"] =
        serde_json::json!({"lang": if tr.is_zh() { "zh" } else { "en" }, "axis": "y"});
    option
}

/// A warning about a value typed (`shown` as the user typed it), in the user's language.
fn warning_text(tr: Tr, w: &shangji_core::opportunity::Warning, shown: &str) -> String {
    tr.fmt(&format!("ux.warn.{}", w.code), &[("date", shown.trim())])
}

/// A value as JSON that can stand inside an HTML `<script>` element (or a script's string
/// literal): `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`, so that no `</script>` or
/// `<!--` in a user's text can end or change the element, and U+2028 / U+2029 escaped for
/// older script parsers. Every JSON a page embeds in a script goes through here.
pub(crate) fn script_json(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `%XX` sequences as the bytes they stand for (others kept), read as UTF-8 (lossy).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

// ---- What every signed-in page shares. ----

/// The header navigation of a signed-in page.
pub(crate) struct Nav {
    user_name: String,
    role_key: &'static str,
    is_admin: bool,
    /// May import files (the link to imports).
    can_import: bool,
    /// Which link is the current page: `home`, `board`, `opportunities`, `settings`,
    /// `approvals`, `notifications`… (`opportunity`, a deal's own page, has no link of its own;
    /// its menu is marked).
    section: &'static str,
    /// Approval requests waiting for the user.
    waiting: i64,
    /// The user's unread notifications.
    unread: i64,
}

impl Nav {
    fn new(user: &User, section: &'static str, (waiting, unread): (i64, i64)) -> Nav {
        Nav {
            user_name: user.display_name.clone(),
            role_key: role_key(user.role),
            is_admin: user.role == Role::Admin,
            can_import: crate::ops::import::may_import(user.role),
            section,
            waiting,
            unread,
        }
    }

    /// The header menu that holds the current page (`sales`, `customers`, `follow_up`,
    /// `analytics`), marked as current; empty when the page's link is not in a menu.
    pub(crate) fn group(&self) -> &'static str {
        match self.section {
            "opportunities" | "opportunity" | "leads" | "pool" => "sales",
            "accounts" | "contacts" | "imports" => "customers",
            "activities" | "tasks" => "follow_up",
            "analytics" | "forecast" | "review" => "analytics",
            _ => "",
        }
    }
}

/// The signed-in person of a page request, in their language, with their context. A request
/// without a live session is sent to sign in (and back to the page afterwards).
pub(crate) struct Viewer {
    user: User,
    csrf: String,
    tr: Tr,
    ctx: Ctx,
    /// What the header counts: approval requests waiting, unread notifications.
    counts: (i64, i64),
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let tr = Tr::new(i18n::choose(None, &parts.headers));
        let jar = CookieJar::from_headers(&parts.headers);
        let who = match session_user(s, &jar).await {
            Ok(Some(who)) => who,
            Ok(None) => {
                // A partial update (htmx) cannot show the sign-in page in place: the browser
                // goes there, and comes back to the page the request was made from.
                if parts.headers.contains_key("hx-request") {
                    let from = parts
                        .headers
                        .get("hx-current-url")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|url| url.split_once("://").map(|(_, rest)| rest))
                        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
                        .unwrap_or_else(|| "/".into());
                    let to = login_here(&safe_next(Some(&from)));
                    return Err(([("hx-redirect", to)], StatusCode::OK).into_response());
                }
                let next = match parts.method {
                    axum::http::Method::GET => parts
                        .uri
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_string(),
                    _ => "/".to_string(),
                };
                return Err(Redirect::to(&login_here(&next)).into_response());
            }
            Err(e) => return Err(error_page(tr, "", "/", e)),
        };
        let tr = Tr::new(i18n::choose(who.user.language, &parts.headers));
        let ctx = match Ctx::for_user(&s.db, &who, s.now(), tr.lang).await {
            Ok(ctx) => Ctx {
                address: Some(auth::client_addr(parts)),
                ..ctx
            },
            Err(e) => return Err(error_page(tr, "", "/", e)),
        };
        let counts = match ops::header_counts(&s.db, &ctx).await {
            Ok(counts) => counts,
            Err(e) => return Err(error_page(tr, "", "/", e)),
        };
        Ok(Viewer {
            user: who.user,
            csrf: who.csrf.unwrap_or_default(),
            tr,
            ctx,
            counts,
        })
    }
}

impl Viewer {
    fn nav(&self, section: &'static str) -> Nav {
        Nav::new(&self.user, section, self.counts)
    }

    /// A form post must carry the session's CSRF token.
    fn check_csrf(&self, form: &FormData) -> Result<(), AppError> {
        let sent = form.get("csrf");
        if sent.is_empty() || sent != self.csrf {
            return Err(AppError::Forbidden("csrf_token_invalid"));
        }
        Ok(())
    }

    /// A posted form, once it carries the session's CSRF token; otherwise the error page of
    /// `here`, for the handler to return (at once, so the size of a response is no cost).
    #[allow(clippy::result_large_err)]
    fn posted(&self, form: Vec<(String, String)>, here: &str) -> Result<FormData, Response> {
        let form = FormData(form);
        match self.check_csrf(&form) {
            Ok(()) => Ok(form),
            Err(e) => Err(self.error(here, e)),
        }
    }

    /// An error shown as a page of its own (not found, forbidden, ours).
    fn error(&self, here: &str, e: AppError) -> Response {
        error_page(self.tr, &self.csrf, here, e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    tr: Tr,
    csrf: String,
    here: String,
    message: &'static str,
}

/// The page for an error that ends a request: 404 outside the user's scope, 403 for what
/// their role may not do, 500 (cause in the log only) for ours.
fn error_page(tr: Tr, csrf: &str, here: &str, e: AppError) -> Response {
    let message = match &e {
        AppError::NotFound => "error.not_found",
        AppError::Forbidden("csrf_token_invalid") => "error.csrf",
        AppError::Forbidden(_) => "error.forbidden",
        AppError::Conflict { .. } => "err.version_conflict",
        AppError::Unauthorized => return Redirect::to("/login").into_response(),
        AppError::Internal(cause) => {
            tracing::error!(%cause, "page failed");
            "error.internal"
        }
        _ => "error.invalid",
    };
    let page = ErrorPage {
        tr,
        csrf: csrf.to_string(),
        here: here.to_string(),
        message,
    };
    (e.status(), render(page)).into_response()
}

/// Whether an error of an operation is shown beside the form that caused it (the user can
/// correct it) rather than as a page of its own.
fn shown_in_form(e: &AppError) -> bool {
    match e {
        AppError::Invalid(_)
        | AppError::InvalidMany(_)
        | AppError::BadRequest(_)
        | AppError::Conflict { .. }
        | AppError::Duplicate { .. }
        | AppError::Unmet { .. } => true,
        AppError::Forbidden(code) => !matches!(*code, "admin_only" | "csrf_token_invalid"),
        _ => false,
    }
}

/// A posted form, as its name/value pairs in order (checkboxes may repeat a name).
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, or "".
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed.
    fn text(&self, name: &str) -> String {
        self.get(name).trim().to_string()
    }

    /// Every value of `name`, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn has(&self, name: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v == value)
    }
}

/// The translated errors of a form, by the field they belong to (`form` for the form as a
/// whole).
#[derive(Default)]
pub(crate) struct Errors(Vec<(String, String)>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, text: impl Into<String>) {
        let field = field.into();
        if !self.0.iter().any(|(f, _)| *f == field) {
            self.0.push((field, text.into()));
        }
    }

    /// The error beside `field`, if any (used by the templates).
    fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, t)| t.as_str())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What an error code means, in the user's language.
fn code_text(tr: Tr, code: &str) -> String {
    tr.get(&format!("err.{code}"))
        .unwrap_or_else(|| tr.t("err.invalid_value"))
        .to_string()
}

/// What an error code means for a field, in the user's language: `err.<code>.<field>` where
/// the catalogue has one (a range differs by field), else `err.<code>`. The field is named
/// by its last part without indexes (`gate.checklist[2]` → `checklist`).
fn field_text(tr: Tr, field: &str, code: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    let base = last.split('[').next().unwrap_or(last);
    tr.get(&format!("err.{code}.{base}"))
        .map(str::to_string)
        .unwrap_or_else(|| code_text(tr, code))
}

/// The field an operation's error names and its text in the user's language.
fn error_text(tr: Tr, e: &AppError) -> (String, String) {
    match e {
        AppError::Invalid(f) | AppError::BadRequest(f) => {
            (f.field.clone(), field_text(tr, &f.field, &f.code))
        }
        AppError::InvalidMany(list) if !list.is_empty() => (
            list[0].field.clone(),
            list.iter()
                .map(|f| format!("{}: {}", f.field, field_text(tr, &f.field, &f.code)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        AppError::Forbidden(code) => (String::new(), code_text(tr, code)),
        AppError::Conflict { .. } => (String::new(), code_text(tr, "version_conflict")),
        AppError::Duplicate { blocked, .. } => (
            String::new(),
            code_text(
                tr,
                if *blocked {
                    "duplicate"
                } else {
                    "possible_duplicate"
                },
            ),
        ),
        AppError::Unmet { .. } => (String::new(), code_text(tr, "gate_unmet")),
        AppError::NotFound => (String::new(), tr.t("error.not_found").to_string()),
        _ => (String::new(), tr.t("error.internal").to_string()),
    }
}

/// An option of a select or a checkbox of a group, its label already translated.
pub(crate) struct Choice {
    value: String,
    label: String,
    checked: bool,
}

impl Choice {
    fn new(value: impl Into<String>, label: impl Into<String>, checked: bool) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
            checked,
        }
    }
}

/// The files the pages load, embedded in the binary: ours, and the front-end libraries taken
/// from npm (`scripts/vendor-assets.sh`) with their licenses beside them.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../static/favicon.svg"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/app.js"),
    ),
    (
        "lists.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/lists.js"),
    ),
    (
        "rules.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/rules.js"),
    ),
    (
        "board.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/board.js"),
    ),
    (
        "web-form.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/web-form.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/charts.js"),
    ),
    (
        "vendor/htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/vendor/htmx.min.js"),
    ),
    (
        "vendor/htmx.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../static/vendor/htmx.LICENSE.txt"),
    ),
    (
        "vendor/Sortable.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/vendor/Sortable.min.js"),
    ),
    (
        "vendor/Sortable.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../static/vendor/Sortable.LICENSE.txt"),
    ),
    (
        "vendor/echarts.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../static/vendor/echarts.min.js"),
    ),
    (
        "vendor/echarts.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../static/vendor/echarts.LICENSE.txt"),
    ),
    (
        "vendor/echarts.NOTICE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../static/vendor/echarts.NOTICE.txt"),
    ),
];

async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang", post(switch_language))
        .route("/static/{*path}", get(asset))
        .merge(admin::router())
        .merge(custom_fields::router())
        .merge(policies::router())
        .merge(delivery::router())
        .merge(directory::router())
        .merge(automation::router())
        .merge(assignment::router())
        .merge(duplicates::router())
        .merge(approvals::router())
        .merge(opportunity::router())
        .merge(records::router())
        .merge(lists::router())
        .merge(board::router())
        .merge(analytics::router())
        .merge(forecast::router())
        .merge(snapshots::router())
        .merge(review::router())
        .merge(web_forms::router())
        .merge(scoring::router())
        .merge(merge::router())
        .merge(handover::router())
        .merge(backups::router())
        .merge(audit::router())
        .merge(import::router())
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/static/favicon.svg") }),
        )
        .fallback(no_such_page)
        .layer(axum::middleware::from_fn(plain_rejections))
}

/// Any address no page answers: the normal "not found" page, in the visitor's language.
async fn no_such_page(headers: HeaderMap) -> Response {
    let tr = Tr::new(i18n::choose(None, &headers));
    error_page(tr, "", "/", AppError::NotFound)
}

/// What the framework itself answers in plain text — a path part that is not a number
/// (`/opportunities/abc`), a body it cannot read — as the normal error page, in the visitor's
/// language: not found for a bad address, "cannot be read" for the rest.
async fn plain_rejections(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let tr = Tr::new(i18n::choose(None, req.headers()));
    let resp = next.run(req).await;
    // The board's own answers to a drop are text its script shows; they stay as they are.
    let ours = resp.headers().contains_key(board::OUTCOME);
    if !crate::error::is_framework_rejection(&resp) || ours {
        return resp;
    }
    let e = match resp.status() {
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => AppError::NotFound,
        _ => AppError::invalid("", "invalid_value", "the request could not be read"),
    };
    error_page(tr, "", "/", e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_core::model::Language;

    #[test]
    fn only_same_origin_paths_are_followed() {
        for (next, want) in [
            ("/", "/"),
            ("/opportunities?status=open", "/opportunities?status=open"),
            ("/board?owner=2&grade=A#c", "/board?owner=2&grade=A#c"),
            ("/search?q=%E7%8E%8B", "/search?q=%E7%8E%8B"),
            ("/search?q=王", "/search?q=%E7%8E%8B"),
            ("/a/../b", "/b"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/%09/evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("/%0d%0aSet-Cookie:x=1", "/"),
            ("/x\nLocation: //evil", "/"),
            ("/%2F/evil.example", "/"),
            ("/%252F%252Fevil.example", "/"),
            ("/%5Cevil.example", "/"),
            ("/ /evil.example", "/"),
            ("/%20/evil.example", "/"),
            ("/%E2%80%A8", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("evil.example", "/"),
            ("", "/"),
        ] {
            assert_eq!(safe_next(Some(next)), want, "{next:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    /// Codes the process operations answer with; each has a text in both languages (the
    /// pages fall back to a generic one, which says less).
    #[test]
    fn every_error_code_of_the_process_pages_is_translated() {
        let codes = [
            "invalid_value",
            "required",
            "too_long",
            "invalid_characters",
            "invalid_label",
            "invalid_key",
            "duplicate_key",
            "duplicate",
            "out_of_range",
            "unknown_field",
            "invalid_stages",
            "stage_in_use",
            "default_required",
            "default_pipeline",
            "unknown_template",
            "template_or_stages",
            "stage_list_mismatch",
            "read_only",
            "unknown_stage",
            "archived_stage",
            "same_stage",
            "archived",
            "skip_not_allowed",
            "backward_not_allowed",
            "approval_required",
            "stage_role_forbidden",
            "reopen_forbidden",
            "negative_amount",
            "amount_too_large",
            "invalid_currency",
            "unknown_key",
            "use_move",
            "unknown_reference",
            "unknown_user",
            "owner_out_of_scope",
            "version_conflict",
            "csrf_token_invalid",
            "admin_only",
            "gate_unmet",
            "not_a_number",
            "invalid_amount",
            "invalid_date",
            "unknown_choice",
            "approval_pending",
            "no_approver",
            "approval_closed",
            "not_your_approval",
            "not_your_request",
            "not_a_decimal",
            "too_many_decimals",
            "duplicate_option",
            "not_applicable",
            "invalid_range",
            "invalid_pattern",
            "option_removed",
            "unknown_option",
            "type_change_loses_data",
            "too_many",
            "invalid_custom_value",
            "pattern_mismatch",
            "too_short",
            "invalid_url",
            "invalid_email",
            "invalid_phone",
            "invalid_mobile",
            "archived_field",
        ];
        for lang in [Language::ZhCn, Language::En] {
            let tr = Tr::new(lang);
            for code in codes {
                assert!(tr.get(&format!("err.{code}")).is_some(), "err.{code}");
            }
            assert_eq!(
                field_text(tr, "stages[1].probability", "out_of_range"),
                tr.t("err.out_of_range.probability")
            );
            assert_eq!(
                field_text(tr, "gate.checklist[0]", "invalid_label"),
                tr.t("err.invalid_label.checklist")
            );
            assert_eq!(
                field_text(tr, "name_zh", "invalid_label"),
                tr.t("err.invalid_label")
            );
        }
    }
}
