//! The audit log over HTTP: what the operations that matter write (exports, tokens, users
//! and permissions, settings, imports and rollbacks), that only admins read it, that it
//! filters and pages, and that the database refuses to change it. Runs on SQLite, and on
//! PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::Value;

fn actions(log: &Value) -> Vec<(String, String, String)> {
    log.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn what_matters_is_written_down_and_only_admins_read_it() {
    let app = TestApp::new().await;
    let admin = app.user_id("admin");
    // An export of accounts, as a manager.
    let (status, _) = app
        .get("/api/v1/accounts/export.csv?q=明川", "mgr_east")
        .await;
    assert!(status.is_success(), "{status}");
    // A token made and revoked.
    let (status, token) = app
        .post("/api/v1/tokens", "rep_east", r#"{"name": "手机"}"#)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let token_id = token["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{token_id}"),
            Some("rep_east"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A permission change: a rep made a manager.
    let rep = app.user_id("rep_south");
    let (status, body) = app
        .patch(
            &format!("/api/v1/users/{rep}"),
            "admin",
            r#"{"role": "manager"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A setting: the duplicate settings saved as they are.
    let (_, settings) = app.get("/api/v1/settings/duplicates", "admin").await;
    let body = settings.to_string();
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/settings/duplicates",
            Some("admin"),
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, log) = app.get("/api/v1/audit", "admin").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let got = actions(&log);
    let has = |action: &str, target: &str, detail: &str| {
        got.iter()
            .any(|(a, t, d)| a == action && t == target && d.contains(detail))
    };
    assert!(has("export", "accounts", "filters: q=明川"), "{got:?}");
    let rep_east = app.user_id("rep_east");
    let user = format!("user {rep_east}");
    assert!(has("token_created", &user, "“手机”"), "{got:?}");
    assert!(
        has("token_revoked", &user, &format!("token {token_id}")),
        "{got:?}"
    );
    assert!(
        has("user_changed", &format!("user {rep}"), "role rep → manager"),
        "{got:?}"
    );
    assert!(
        has("settings_changed", "duplicates", "save_settings"),
        "{got:?}"
    );
    let entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "user_changed")
        .unwrap();
    assert_eq!(entry["actor_id"], admin);
    assert_eq!(entry["actor_login"], "admin");

    // Filters: by action, by actor; paging back from an entry.
    let (_, only) = app.get("/api/v1/audit?action=export", "admin").await;
    assert!(actions(&only).iter().all(|(a, _, _)| a == "export"));
    assert_eq!(only.as_array().unwrap().len(), 1);
    let mgr = app.user_id("mgr_east");
    let (_, theirs) = app
        .get(&format!("/api/v1/audit?actor_id={mgr}"), "admin")
        .await;
    assert_eq!(actions(&theirs).len(), 1);
    let newest = log[0]["id"].as_i64().unwrap();
    let (_, older) = app
        .get(
            &format!("/api/v1/audit?before_id={newest}&limit=2"),
            "admin",
        )
        .await;
    assert_eq!(older.as_array().unwrap().len(), 2);
    assert!(older[0]["id"].as_i64().unwrap() < newest);

    // Only admins read it.
    for who in ["director", "mgr_east", "rep_east"] {
        let (status, _) = app.get("/api/v1/audit", who).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    // The settings page lists it for an admin.
    let admin_page = common::browser::browser(&app, "admin").await;
    let page = admin_page.get("/admin/audit?action=user_changed").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("role rep → manager"), "{}", page.body);
    let rep_page = common::browser::browser(&app, "rep_east").await;
    assert_eq!(
        rep_page.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_an_entry() {
    let app = TestApp::new().await;
    let (status, _) = app
        .post("/api/v1/tokens", "rep_east", r#"{"name": "x"}"#)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, log) = app.get("/api/v1/audit", "admin").await;
    let id = log[0]["id"].as_i64().unwrap();
    for sql in [
        format!("UPDATE audit_log SET detail = 'nothing' WHERE id = {id}"),
        format!("DELETE FROM audit_log WHERE id = {id}"),
    ] {
        let refused = match app.db.pool() {
            shangji_store::db::Pool::Sqlite(p) => sqlx::query(&sql).execute(p).await.is_err(),
            shangji_store::db::Pool::Postgres(p) => sqlx::query(&sql).execute(p).await.is_err(),
        };
        assert!(refused, "{sql} was allowed");
    }
    let (_, again) = app.get("/api/v1/audit", "admin").await;
    assert_eq!(again[0], log[0]);
}
