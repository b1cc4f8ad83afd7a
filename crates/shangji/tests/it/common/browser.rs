//! A signed-in browser for page tests: a session made directly in the database, requests
//! through the router with its cookie, forms posted with its CSRF token; and helpers to find
//! what a page shows.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use super::TestApp;

pub struct Resp {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    pub headers: axum::http::HeaderMap,
}

/// A signed-in browser: a session cookie and its CSRF token, optionally a language.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
    pub lang: Option<&'static str>,
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn browser<'a>(app: &'a TestApp, login: &str) -> Browser<'a> {
    let token = shangji::ops::directory::random_token("");
    let csrf = shangji::ops::directory::random_token("");
    let now = super::now();
    app.db
        .insert_session(
            &shangji::ops::directory::digest(&token),
            app.user_id(login),
            &csrf,
            now,
            now + time::Duration::days(1),
        )
        .await
        .unwrap();
    Browser {
        app,
        cookie: format!("sj_session={token}"),
        csrf,
        lang: None,
    }
}

impl Browser<'_> {
    pub async fn send(&self, method: &str, path: &str, form: Option<String>) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie);
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if let Some(l) = self.lang {
            req = req.header(header::ACCEPT_LANGUAGE, l);
        }
        let resp = self
            .app
            .router
            .clone()
            .oneshot(req.body(form.map_or(Body::empty(), Body::from)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
            .await
            .unwrap();
        Resp {
            status,
            location,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
            headers,
        }
    }

    /// Follows a link (a fragment stays in the browser).
    pub async fn get(&self, path: &str) -> Resp {
        let path = path.split('#').next().unwrap();
        self.send("GET", path, None).await
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut body = format!("csrf={}", encode(&self.csrf));
        for (k, v) in fields {
            body.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        self.send("POST", path, Some(body)).await
    }
}

/// The part of the page from `start` to `end`.
pub fn between<'b>(body: &'b str, start: &str, end: &str) -> &'b str {
    let from = after(body, start);
    &from[..from
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}` after `{start}` in:\n{from}"))]
}

/// What stands between `start` and the next `end` (an id in an address…).
pub fn extract<'b>(body: &'b str, start: &str, end: &str) -> &'b str {
    let from = &body[body
        .find(start)
        .unwrap_or_else(|| panic!("no `{start}` in:\n{body}"))
        + start.len()..];
    &from[..from.find(end).unwrap()]
}

/// The page from `marker` on (a few thousand bytes), for asserting what is shown beside a
/// field.
pub fn after<'b>(body: &'b str, marker: &str) -> &'b str {
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in the page:\n{body}"));
    let mut end = (start + 6000).min(body.len());
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[start..end]
}
