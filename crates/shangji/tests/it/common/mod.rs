//! A fresh application per test: in-memory SQLite, or — when `SHANGJI_TEST_DATABASE_URL`
//! is set — a new schema of that PostgreSQL database. Requests go through the router
//! without a socket.

#![allow(dead_code)]

pub mod browser;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use shangji::ops;
use shangji::state::AppState;
use shangji_core::model::*;
use shangji_core::records::UserInput;
use shangji_core::Field;
use shangji_store::Db;
use time::{Date, OffsetDateTime};
use tower::ServiceExt;

pub struct TestApp {
    pub db: Db,
    pub router: Router,
    /// The application state (its clock can be set).
    pub state: AppState,
    /// Tokens by login.
    pub tokens: std::collections::HashMap<&'static str, String>,
    pub users: std::collections::HashMap<&'static str, User>,
    pub teams: std::collections::HashMap<&'static str, TeamId>,
    /// The database's URL when a second pool can open it (see [`shared_test_db`]).
    pub url: Option<String>,
}

pub async fn test_db() -> Db {
    match std::env::var("SHANGJI_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => shared_test_db().await.0,
        _ => Db::connect_and_migrate("sqlite::memory:").await.unwrap(),
    }
}

/// Where the SQLite files of [`shared_test_db`] live: under the build's temporary folder, left
/// by an earlier run removed at this run's first use.
fn shared_sqlite_dir() -> std::path::PathBuf {
    static CLEARED: std::sync::Once = std::sync::Once::new();
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("shangji-shared-dbs");
    CLEARED.call_once(|| {
        let _ = std::fs::remove_dir_all(&root);
    });
    root
}

/// A fresh database that a second pool can open, as a second instance of the app would, and
/// its URL: a new schema of `SHANGJI_TEST_DATABASE_URL`, else a SQLite file in a new temporary
/// folder (in-memory SQLite lives in one connection, where concurrent work cannot race).
pub async fn shared_test_db() -> (Db, String) {
    match std::env::var("SHANGJI_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let admin = Db::connect(&url).await.expect("test PostgreSQL reachable");
            let schema = format!(
                "t_{}_{}",
                std::process::id(),
                rand::random::<u64>() % 1_000_000_000
            );
            if let shangji_store::db::Pool::Postgres(p) = admin.pool() {
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(p)
                    .await
                    .unwrap();
            }
            admin.close().await;
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
            let db = Db::connect(&url).await.unwrap();
            db.migrate().await.unwrap();
            (db, url)
        }
        _ => {
            let dir = shared_sqlite_dir().join(format!(
                "{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ));
            let url = format!("sqlite://{}", dir.join("shangji.db").display());
            (Db::connect_and_migrate(&url).await.unwrap(), url)
        }
    }
}

/// The gate answers that let a deal of the default B2B pipeline through every stage.
pub const ALL_CHECKS: &str = r#""checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known","proposal_accepted"],"actions_done":["send_proposal"]"#;

/// The kinds of a JSON list of opportunity events, in order.
pub fn kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Today in China (UTC+8), by the clock the tests run on.
pub fn today() -> Date {
    shangji_core::calendar::china_date(now())
}

/// The close date of the fixture deals: the last day of this month in China. A fixture deal
/// is therefore open and due in the current month, quarter and year on any date the tests run.
pub fn close_date() -> Date {
    let t = today();
    t.replace_day(t.month().length(t.year())).unwrap()
}

impl TestApp {
    /// Teams 总公司 → 华东 → 上海组, 总公司 → 华南; an admin, a director at the root, a manager
    /// of 华东, reps in 上海组, 华东 and 华南, a manager of 华南. Each has an API token.
    pub async fn new() -> TestApp {
        TestApp::with_db(test_db().await, None).await
    }

    /// [`TestApp::new`] on a database a second instance can share ([`TestApp::second_instance`]).
    pub async fn shared() -> TestApp {
        let (db, url) = shared_test_db().await;
        TestApp::with_db(db, Some(url)).await
    }

    /// A second connection pool to this app's database, as a second instance would have
    /// (only for [`TestApp::shared`]).
    pub async fn second_instance(&self) -> Db {
        Db::connect(self.url.as_deref().expect("TestApp::shared"))
            .await
            .unwrap()
    }

    async fn with_db(db: Db, url: Option<String>) -> TestApp {
        shangji::demo::install_defaults(&db, now()).await.unwrap();
        let mut teams = std::collections::HashMap::new();
        for (name, parent) in [
            ("总公司", None),
            ("华东", Some("总公司")),
            ("华南", Some("总公司")),
            ("上海组", Some("华东")),
        ] {
            let team = Team {
                id: 0,
                name: name.into(),
                parent_id: parent.map(|p| teams[p]),
                archived: false,
                regions: vec![],
            };
            let id = db.insert_team(&team, now()).await.unwrap();
            teams.insert(name, id);
        }
        let mut users = std::collections::HashMap::new();
        let mut tokens = std::collections::HashMap::new();
        for (login, role, team) in [
            ("admin", Role::Admin, None),
            ("director", Role::Director, Some("总公司")),
            ("mgr_east", Role::Manager, Some("华东")),
            ("rep_sh", Role::Rep, Some("上海组")),
            ("rep_east", Role::Rep, Some("华东")),
            ("rep_south", Role::Rep, Some("华南")),
            ("mgr_south", Role::Manager, Some("华南")),
        ] {
            let input = UserInput {
                login: Field::Value(login.into()),
                role: Field::Value(role),
                team_id: team.map_or(Field::Absent, |t| Field::Value(teams[t])),
                ..Default::default()
            };
            let user = ops::create_user(&db, None, input, now()).await.unwrap();
            let (token, _) = ops::create_token(&db, None, user.id, "test", now())
                .await
                .unwrap();
            tokens.insert(login, token);
            users.insert(login, user);
        }
        let state = AppState::new(db.clone(), false);
        let router = shangji::app(state.clone());
        TestApp {
            db,
            router,
            state,
            tokens,
            users,
            teams,
            url,
        }
    }

    pub fn user_id(&self, login: &str) -> i64 {
        self.users[login].id
    }

    /// Sends a request as `login` (or anonymously with `None`) and returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        login: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, login, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        login: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(l) = login {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.tokens[l]));
        }
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, login: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(login), None).await
    }

    pub async fn post(&self, path: &str, login: &str, body: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(login), Some(body)).await
    }

    pub async fn patch(&self, path: &str, login: &str, body: &str) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(login), Some(body))
            .await
    }

    /// Creates and returns a record, asserting 201.
    pub async fn create(&self, path: &str, login: &str, body: &str) -> Value {
        let (status, v) = self.post(path, login, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path} {body}: {v}");
        v
    }

    /// An account owned by `login` and an opportunity on it.
    pub async fn account_and_opportunity(&self, login: &str, title: &str) -> (i64, Value) {
        let account = self
            .create(
                "/api/v1/accounts",
                login,
                &format!(r#"{{"name":"{title} 客户"}}"#),
            )
            .await;
        let opp = self
            .create(
                "/api/v1/opportunities",
                login,
                &format!(r#"{{"title":"{title}","account_id":{},"amount_minor":12300000,"close_date":"{}"}}"#, account["id"], close_date()),
            )
            .await;
        (account["id"].as_i64().unwrap(), opp)
    }

    pub async fn stage_ids(&self) -> Vec<i64> {
        let (_, p) = self.get("/api/v1/pipelines", "admin").await;
        p[0]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect()
    }
}
