//! The JSON API over HTTP (through the router), on SQLite or PostgreSQL.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

use common::kinds;

#[tokio::test]
async fn crud_on_every_resource() {
    let app = TestApp::new().await;
    let (account_id, opp) = app
        .account_and_opportunity("rep_sh", "华为压缩机项目")
        .await;
    let contact = app
        .create(
            "/api/v1/contacts",
            "rep_sh",
            &format!(r#"{{"name":"张伟","account_id":{account_id},"mobile":"138 0013 8000","email":"Zhang@Example.com","buying_role":"decision_maker"}}"#),
        )
        .await;
    assert_eq!(contact["mobile"], "13800138000");
    assert_eq!(contact["email"], "zhang@example.com");
    let lead = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name":"苏州某厂","source":"exhibition","mobile":"13900001111"}"#,
        )
        .await;
    assert_eq!(lead["status"], "new");
    let activity = app
        .create(
            "/api/v1/activities",
            "rep_sh",
            &format!(
                r#"{{"kind":"call","summary":"电话沟通需求","opportunity_id":{}}}"#,
                opp["id"]
            ),
        )
        .await;
    assert_eq!(activity["customer_facing"], true);
    let task = app
        .create(
            "/api/v1/tasks",
            "rep_sh",
            &format!(r#"{{"title":"发送方案","due_date":"2026-12-01","record_kind":"opportunity","record_id":{}}}"#, opp["id"]),
        )
        .await;
    assert_eq!(task["assignee_id"], app.user_id("rep_sh"));
    // What a create answers is what the store holds.
    for (path, created) in [
        ("opportunities", &opp),
        ("contacts", &contact),
        ("leads", &lead),
        ("activities", &activity),
        ("tasks", &task),
    ] {
        let url = format!("/api/v1/{path}/{}", created["id"]);
        assert_eq!(&app.get(&url, "rep_sh").await.1, created, "{url}");
    }
    assert_eq!(opp["status"], "open");

    for (path, record, patch, field, want) in [
        (
            "accounts",
            account_id.into(),
            r#"{"industry":"机械制造"}"#,
            "industry",
            json!("机械制造"),
        ),
        (
            "contacts",
            contact["id"].clone(),
            r#"{"title":"设备部部长"}"#,
            "title",
            json!("设备部部长"),
        ),
        (
            "leads",
            lead["id"].clone(),
            r#"{"status":"working"}"#,
            "status",
            json!("working"),
        ),
        (
            "activities",
            activity["id"].clone(),
            r#"{"outcome":"客户关注交期"}"#,
            "outcome",
            json!("客户关注交期"),
        ),
        (
            "tasks",
            task["id"].clone(),
            r#"{"done":true}"#,
            "done",
            json!(true),
        ),
        (
            "opportunities",
            opp["id"].clone(),
            r#"{"next_step":"约见采购"}"#,
            "next_step",
            json!("约见采购"),
        ),
    ] {
        let url = format!("/api/v1/{path}/{record}");
        let (s, got) = app.get(&url, "rep_sh").await;
        assert_eq!(s, StatusCode::OK, "{url}");
        assert_eq!(got["version"], 1, "{url}");
        let (s, updated) = app.patch(&url, "rep_sh", patch).await;
        assert_eq!(s, StatusCode::OK, "{url}: {updated}");
        assert_eq!(app.get(&url, "rep_sh").await.1, updated, "{url}: as stored");
        assert_eq!(updated[field], want, "{url}");
        assert_eq!(updated["version"], 2, "{url}");
        let (s, list) = app.get(&format!("/api/v1/{path}"), "rep_sh").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list["total"], 1, "{path}: {list}");
        assert_eq!(list["items"][0]["id"], record);
        let (s, archived) = app.call(Method::DELETE, &url, Some("rep_sh"), None).await;
        assert_eq!(
            (s, archived["archived"].clone()),
            (StatusCode::OK, json!(true)),
            "{url}"
        );
        let (_, list) = app.get(&format!("/api/v1/{path}"), "rep_sh").await;
        assert_eq!(list["total"], 0, "archived {path} leave the default list");
        let (_, list) = app
            .get(&format!("/api/v1/{path}?include_archived=true"), "rep_sh")
            .await;
        assert_eq!(list["total"], 1);
    }
    let (_, events) = app
        .get(
            &format!("/api/v1/opportunities/{}/events", opp["id"]),
            "rep_sh",
        )
        .await;
    assert_eq!(kinds(&events), ["created", "archived"]);
}

#[tokio::test]
async fn teams_users_and_tokens() {
    let app = TestApp::new().await;
    let (s, team) = app
        .post(
            "/api/v1/teams",
            "admin",
            &format!(r#"{{"name":"杭州组","parent_id":{}}}"#, app.teams["华东"]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    let (s, _) = app
        .post("/api/v1/teams", "mgr_east", r#"{"name":"x"}"#)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = app
        .patch(
            &format!("/api/v1/teams/{}", app.teams["总公司"]),
            "admin",
            &format!(r#"{{"parent_id":{}}}"#, team["id"]),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cycle"))
    );

    let (s, user) = app
        .post("/api/v1/users", "admin", &format!(r#"{{"login":"Rep.HZ","display_name":"王芳","role":"rep","team_id":{},"password":"longenough"}}"#, team["id"]))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    assert_eq!(user["login"], "rep.hz");
    let (s, e) = app
        .post(
            "/api/v1/users",
            "admin",
            r#"{"login":"rep.hz","role":"rep"}"#,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("duplicate"))
    );
    let (s, _) = app
        .patch(
            &format!("/api/v1/users/{}", app.user_id("rep_sh")),
            "rep_sh",
            r#"{"role":"admin"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a rep cannot promote themselves");
    let (s, me) = app
        .patch(
            &format!("/api/v1/users/{}", app.user_id("rep_sh")),
            "rep_sh",
            r#"{"display_name":"李雷","language":"en"}"#,
        )
        .await;
    assert_eq!(
        (s, me["display_name"].as_str()),
        (StatusCode::OK, Some("李雷"))
    );
    let (_, me) = app.get("/api/v1/users/me", "rep_sh").await;
    assert_eq!(me["language"], "en");

    let (s, t) = app
        .post("/api/v1/tokens", "rep_sh", r#"{"name":"crm-sync"}"#)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = t["token"].as_str().unwrap().to_string();
    let (_, list) = app.get("/api/v1/tokens", "rep_sh").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "crm-sync"));
    assert!(
        !list.to_string().contains(&secret),
        "secrets are never listed"
    );
    let bearer = format!("Bearer {secret}");
    let (s, _) = app
        .call_with(
            Method::GET,
            "/api/v1/users/me",
            None,
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", t["id"]),
            Some("rep_sh"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = app
        .call_with(
            Method::GET,
            "/api/v1/users/me",
            None,
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (s, _) = app
        .call(Method::GET, "/api/v1/opportunities", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn moves_write_history_and_close_and_reopen() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "数控机床").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    assert_eq!(
        (opp["stage_id"].as_i64(), opp["probability"].as_i64()),
        (Some(stages[0]), Some(10))
    );

    let (s, moved) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"]}}"#,
                stages[2]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(
        (
            moved["probability"].as_i64(),
            moved["forecast_category"].as_str()
        ),
        (Some(50), Some("best_case"))
    );
    assert_eq!(
        app.get(&url, "rep_sh").await.1,
        moved,
        "a move answers the stored record"
    );
    let (_, moved) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"loss_reason":"price","loss_note":"对手低 15%"}}"#,
                stages[5]
            ),
        )
        .await;
    assert_eq!(moved["loss_reason"], "price");
    assert!(moved["closed_at"].is_string());
    // Reopening is for managers and up.
    let reopen = format!(r#"{{"stage_id":{}}}"#, stages[3]);
    let (s, err) = app.post(&format!("{url}/move"), "rep_sh", &reopen).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("reopen_forbidden"))
    );
    let (_, moved) = app.post(&format!("{url}/move"), "mgr_east", &reopen).await;
    assert!(moved["closed_at"].is_null());
    let (_, moved) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"actions_done":["send_proposal"],"checklist":["proposal_accepted"]}}"#,
                stages[4]
            ),
        )
        .await;
    assert_eq!(moved["probability"], 100);
    let (_, updated) = app
        .patch(
            &url,
            "rep_sh",
            &format!(
                r#"{{"amount_minor":15000000,"close_date":"2027-01-15","version":{}}}"#,
                moved["version"]
            ),
        )
        .await;
    assert_eq!(updated["amount"]["amount_minor"], 15000000);

    let (_, events) = app.get(&format!("{url}/events"), "rep_sh").await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "checklist_changed",
            "stage_changed",
            "probability_changed",
            "forecast_category_changed",
            "stage_changed",
            "lost",
            "probability_changed",
            "forecast_category_changed",
            "stage_changed",
            "reopened",
            "probability_changed",
            "forecast_category_changed",
            "checklist_changed",
            "stage_changed",
            "won",
            "probability_changed",
            "forecast_category_changed",
            "amount_changed",
            "close_date_changed",
        ]
    );
    let e = events.as_array().unwrap();
    assert_eq!(
        (e[2]["from_stage_id"].as_i64(), e[2]["to_stage_id"].as_i64()),
        (Some(stages[0]), Some(stages[2]))
    );
    assert_eq!(e[6]["new_value"]["loss_reason"], "price");
    assert_eq!(e[18]["old_value"]["amount_minor"], 12300000);
    assert_eq!(e[18]["new_value"]["amount_minor"], 15000000);
    let reopen_events = 9..13;
    for (i, x) in e.iter().enumerate() {
        let who = if reopen_events.contains(&i) {
            "mgr_east"
        } else {
            "rep_sh"
        };
        assert_eq!(x["actor_id"], app.user_id(who), "event {i}");
    }

    // Stage changes only by move; the same stage or an unknown one is refused.
    let (s, err) = app
        .patch(&url, "rep_sh", &format!(r#"{{"stage_id":{}}}"#, stages[1]))
        .await;
    assert_eq!(
        (s, err["code"].as_str(), err["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("use_move"),
            Some("stage_id")
        )
    );
    let (s, err) = app
        .post(&format!("{url}/move"), "rep_sh", r#"{"stage_id":99999}"#)
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_stage"))
    );
    let (_, after) = app.get(&format!("{url}/events"), "rep_sh").await;
    assert_eq!(
        after.as_array().unwrap().len(),
        e.len(),
        "refused moves write nothing"
    );
}

#[tokio::test]
async fn stale_version_is_a_conflict_and_changes_nothing() {
    let app = TestApp::new().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "机器人").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let (s, v2) = app
        .patch(&url, "rep_sh", r#"{"title":"机器人二期","version":1}"#)
        .await;
    assert_eq!((s, v2["version"].as_i64()), (StatusCode::OK, Some(2)));
    let (s, err) = app
        .patch(
            &url,
            "rep_sh",
            r#"{"title":"旧窗口的修改","amount_minor":1,"version":1}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        (err["code"].as_str(), err["current_version"].as_i64()),
        (Some("version_conflict"), Some(2))
    );
    let (_, now) = app.get(&url, "rep_sh").await;
    assert_eq!(
        (
            now["title"].as_str(),
            now["amount"]["amount_minor"].as_i64()
        ),
        (Some("机器人二期"), Some(12300000))
    );
    let (s, _) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            r#"{"stage_id":2,"version":1}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, account) = app
        .get(&format!("/api/v1/accounts/{}", opp["account_id"]), "rep_sh")
        .await;
    let (s, _) = app
        .patch(
            &format!("/api/v1/accounts/{}", account["id"]),
            "rep_sh",
            r#"{"notes":"x","version":7}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn idempotent_retry_creates_nothing_new() {
    let app = TestApp::new().await;
    let body = r#"{"name":"重试客户"}"#;
    let key = [("idempotency-key", "9f1c-retry-1")];
    let (s1, first) = app
        .call_with(
            Method::POST,
            "/api/v1/accounts",
            Some("rep_sh"),
            Some(body),
            &key,
        )
        .await;
    let (s2, second) = app
        .call_with(
            Method::POST,
            "/api/v1/accounts",
            Some("rep_sh"),
            Some(body),
            &key,
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(app.db.count("accounts").await.unwrap(), 1);

    let opp = format!(r#"{{"title":"重试商机","account_id":{}}}"#, first["id"]);
    let key = [("idempotency-key", "opp-1")];
    let (_, a) = app
        .call_with(
            Method::POST,
            "/api/v1/opportunities",
            Some("rep_sh"),
            Some(&opp),
            &key,
        )
        .await;
    let (_, b) = app
        .call_with(
            Method::POST,
            "/api/v1/opportunities",
            Some("rep_sh"),
            Some(&opp),
            &key,
        )
        .await;
    assert_eq!(a["id"], b["id"]);
    assert_eq!(app.db.count("opportunities").await.unwrap(), 1);
    assert_eq!(app.db.count("opportunity_events").await.unwrap(), 1);

    let (s, err) = app
        .call_with(
            Method::POST,
            "/api/v1/accounts",
            Some("rep_sh"),
            Some(r#"{"name":"另一个"}"#),
            &[("idempotency-key", "9f1c-retry-1")],
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    // Keys belong to their user: another user's identical key is independent (the same
    // company entered twice is a possible duplicate, said to be wanted here).
    let (s, _) = app
        .call_with(
            Method::POST,
            "/api/v1/accounts",
            Some("rep_east"),
            Some(&body.replacen('{', r#"{"allow_duplicate":true,"#, 1)),
            &[("idempotency-key", "9f1c-retry-1")],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(app.db.count("accounts").await.unwrap(), 2);
}

/// (method, path, body, status, code, field)
type BadCase<'a> = (Method, String, String, StatusCode, &'a str, Option<&'a str>);

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_writes_nothing() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (account, opp) = app.account_and_opportunity("rep_sh", "原始商机").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let long = "长".repeat(201);
    let cases: Vec<BadCase> = vec![
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"x","account_id":{account},"colour":"red"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            Some("colour"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"x","account_id":{account},"close_date":"2026-02-30"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("close_date"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"x","account_id":{account},"amount_minor":-5}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "negative_amount",
            Some("amount_minor"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(
                r#"{{"title":"x","account_id":{account},"amount_minor":99999999999999999999999}}"#
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("amount_minor"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"x","account_id":{account},"amount_minor":1000000000000000000}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_large",
            Some("amount_minor"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"x","account_id":{account},"amount_minor":12.5}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("amount_minor"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"{long}","account_id":{account}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            Some("title"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            format!(r#"{{"title":"x","account_id":{account},"stage_id":424242}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_stage",
            Some("stage_id"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            r#"{"title":"x","account_id":987654}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_reference",
            Some("account_id"),
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            r#"{"title":"x", "account_id": "#.into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            Method::POST,
            "/api/v1/opportunities".into(),
            "[1,2]".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            None,
        ),
        (
            Method::PATCH,
            url.clone(),
            r#"{"amount_minor":-1}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "negative_amount",
            Some("amount_minor"),
        ),
        (
            Method::PATCH,
            url.clone(),
            r#"{"title":null}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            Some("title"),
        ),
        (
            Method::PATCH,
            url.clone(),
            r#"{"grade":"z"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("grade"),
        ),
        (
            Method::PATCH,
            url.clone(),
            format!(r#"{{"owner_id":{}}}"#, app.user_id("rep_south")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "owner_out_of_scope",
            Some("owner_id"),
        ),
        (
            Method::POST,
            format!("{url}/move"),
            r#"{"stage_id":"two"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("stage_id"),
        ),
        (
            Method::POST,
            format!("{url}/move"),
            format!(r#"{{"stage_id":{},"loss_reason":"{long}"}}"#, stages[5]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_long",
            Some("loss_reason"),
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            r#"{"name":"某公司","credit_code":"91110000802100433C"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credit_code_check",
            Some("credit_code"),
        ),
        (
            Method::POST,
            "/api/v1/contacts".into(),
            r#"{"name":"王","mobile":"12345"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_mobile",
            Some("mobile"),
        ),
        (
            Method::POST,
            "/api/v1/contacts".into(),
            r#"{"name":"王","email":"wang@"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
            Some("email"),
        ),
        (
            Method::POST,
            "/api/v1/activities".into(),
            r#"{"kind":"call","summary":"x"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            Some("opportunity_id"),
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            r#"{"title":"x","due_date":"tomorrow"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            Some("due_date"),
        ),
        (
            Method::GET,
            "/api/v1/opportunities?close_from=31/12/2026".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("close_from"),
        ),
        (
            Method::GET,
            "/api/v1/opportunities?sort=password".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("sort"),
        ),
        (
            Method::GET,
            "/api/v1/opportunities?colour=red".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "unknown_parameter",
            Some("colour"),
        ),
        (
            Method::GET,
            "/api/v1/opportunities?status=closed".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("status"),
        ),
        (
            Method::GET,
            "/api/v1/leads?source=tv".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("source"),
        ),
        (
            Method::GET,
            "/api/v1/opportunities?per_page=100000".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("per_page"),
        ),
    ];
    let (_, before) = app.get(&url, "rep_sh").await;
    let counts = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            let mut v = vec![];
            for t in [
                "accounts",
                "contacts",
                "opportunities",
                "opportunity_events",
                "activities",
                "tasks",
            ] {
                v.push(db.count(t).await.unwrap());
            }
            v
        }
    };
    let counts_before = counts(&app).await;
    for (method, path, body, status, code, field) in cases {
        let body = (!body.is_empty()).then_some(body.as_str());
        let (s, err) = app.call(method.clone(), &path, Some("rep_sh"), body).await;
        assert_eq!(s, status, "{method} {path} {body:?}: {err}");
        assert_eq!(
            err["code"].as_str(),
            Some(code),
            "{method} {path} {body:?}: {err}"
        );
        assert_eq!(
            err["field"].as_str(),
            field,
            "{method} {path} {body:?}: {err}"
        );
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, after) = app.get(&url, "rep_sh").await;
    assert_eq!(before, after, "the opportunity is unchanged");
    assert_eq!(counts_before, counts(&app).await, "nothing was written");
    let (s, err) = app
        .call_with(
            Method::POST,
            "/api/v1/accounts",
            Some("rep_sh"),
            Some("{}"),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
}

#[tokio::test]
async fn list_filters_sort_and_paginate() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"无锡精密"}"#)
        .await;
    for (i, close) in [
        "2026-01-10",
        "2026-02-10",
        "2026-03-10",
        "2026-04-10",
        "2026-05-10",
    ]
    .iter()
    .enumerate()
    {
        let o = app
            .create(
                "/api/v1/opportunities",
                "rep_sh",
                &format!(r#"{{"title":"订单{i}","account_id":{},"amount_minor":{},"close_date":"{close}"}}"#, account["id"], (i + 1) * 1000),
            )
            .await;
        if i == 4 {
            app.post(
                &format!("/api/v1/opportunities/{}/move", o["id"]),
                "rep_sh",
                &format!(
                    r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known","proposal_accepted"],"actions_done":["send_proposal"]}}"#,
                    stages[4]
                ),
            )
            .await;
        }
    }
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = app
        .get(
            "/api/v1/opportunities?sort=-amount_minor&per_page=2&page=2",
            "rep_sh",
        )
        .await;
    assert_eq!(
        (ids(&v), v["total"].as_i64()),
        (vec!["订单2".to_string(), "订单1".to_string()], Some(5))
    );
    let (_, v) = app
        .get(
            "/api/v1/opportunities?close_from=2026-02-01&close_to=2026-04-30&sort=close_date",
            "rep_sh",
        )
        .await;
    assert_eq!(ids(&v), ["订单1", "订单2", "订单3"]);
    let (_, v) = app.get("/api/v1/opportunities?status=won", "rep_sh").await;
    assert_eq!(ids(&v), ["订单4"]);
    let (_, v) = app
        .get("/api/v1/opportunities?status=open&q=订单3", "rep_sh")
        .await;
    assert_eq!(ids(&v), ["订单3"]);
    let (_, v) = app
        .get(
            &format!(
                "/api/v1/opportunities?stage_id={}&owner_id={}",
                stages[0],
                app.user_id("rep_sh")
            ),
            "rep_sh",
        )
        .await;
    assert_eq!(v["total"], 4);
    let (_, v) = app
        .get(
            &format!("/api/v1/opportunities?team_id={}", app.teams["华南"]),
            "admin",
        )
        .await;
    assert_eq!(v["total"], 0);
    let (_, v) = app
        .get(
            &format!("/api/v1/opportunities?team_id={}", app.teams["华东"]),
            "admin",
        )
        .await;
    assert_eq!(v["total"], 5);
    let (_, v) = app
        .get(
            "/api/v1/opportunities?updated_since=2999-01-01T00:00:00Z",
            "rep_sh",
        )
        .await;
    assert_eq!(v["total"], 0);
    let (_, v) = app.get("/api/v1/accounts?q=无锡", "rep_sh").await;
    assert_eq!(v["total"], 1);
    let (_, v) = app.get("/api/v1/accounts?q=100%25", "rep_sh").await;
    assert_eq!(v["total"], 0, "LIKE wildcards in q are taken literally");
}

#[tokio::test]
async fn visibility_by_owner_and_team() {
    let app = TestApp::new().await;
    let (sh_account, sh_opp) = app.account_and_opportunity("rep_sh", "上海项目").await;
    let (_, east_opp) = app.account_and_opportunity("rep_east", "华东项目").await;
    let (_, south_opp) = app.account_and_opportunity("rep_south", "华南项目").await;
    let sh_url = format!("/api/v1/opportunities/{}", sh_opp["id"]);

    // Another rep: 404 on every path, and nothing listed or found.
    for (method, path, body) in [
        (Method::GET, sh_url.clone(), None),
        (Method::PATCH, sh_url.clone(), Some(r#"{"title":"偷改"}"#)),
        (Method::DELETE, sh_url.clone(), None),
        (
            Method::POST,
            format!("{sh_url}/move"),
            Some(r#"{"stage_id":2}"#),
        ),
        (Method::GET, format!("{sh_url}/events"), None),
        (Method::GET, format!("/api/v1/accounts/{sh_account}"), None),
    ] {
        let (s, err) = app
            .call(method.clone(), &path, Some("rep_south"), body)
            .await;
        assert_eq!(
            (s, err["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{method} {path}"
        );
    }
    let titles = |v: &Value| -> Vec<String> {
        let mut t: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    };
    let (_, v) = app.get("/api/v1/opportunities?q=项目", "rep_south").await;
    assert_eq!(titles(&v), ["华南项目"]);
    let (_, v) = app
        .get(
            &format!("/api/v1/opportunities?owner_id={}", app.user_id("rep_sh")),
            "rep_south",
        )
        .await;
    assert_eq!(v["total"], 0);
    let (s, err) = app
        .post(
            "/api/v1/opportunities",
            "rep_south",
            &format!(r#"{{"title":"蹭单","account_id":{sh_account}}}"#),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_reference"))
    );

    // Managers see exactly their subtree; the director at the root and the admin see all.
    for (login, want) in [
        ("mgr_east", vec!["上海项目", "华东项目"]),
        ("mgr_south", vec!["华南项目"]),
        ("director", vec!["上海项目", "华东项目", "华南项目"]),
        ("admin", vec!["上海项目", "华东项目", "华南项目"]),
        ("rep_sh", vec!["上海项目"]),
    ] {
        let (_, v) = app.get("/api/v1/opportunities", login).await;
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        want.sort();
        assert_eq!(titles(&v), want, "{login}");
    }
    let (s, _) = app
        .patch(
            &format!("/api/v1/opportunities/{}", east_opp["id"]),
            "mgr_east",
            r#"{"next_step":"经理跟进"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "a manager edits the team's deals");
    let (s, _) = app
        .get(
            &format!("/api/v1/opportunities/{}", south_opp["id"]),
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, moved) = app
        .patch(
            &format!("/api/v1/opportunities/{}", east_opp["id"]),
            "mgr_east",
            &format!(r#"{{"owner_id":{}}}"#, app.user_id("rep_sh")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "reassign within the team: {moved}");
    let (_, v) = app.get("/api/v1/opportunities", "rep_east").await;
    assert_eq!(v["total"], 0, "the previous owner no longer sees it");

    // A rep reads, but cannot change, an account they sell to but do not own.
    let account = app
        .create("/api/v1/accounts", "rep_east", r#"{"name":"共享客户"}"#)
        .await;
    let (s, _) = app
        .get(&format!("/api/v1/accounts/{}", account["id"]), "rep_sh")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            "/api/v1/opportunities",
            "rep_east",
            &format!(
                r#"{{"title":"转交","account_id":{},"owner_id":{}}}"#,
                account["id"],
                app.user_id("rep_sh")
            ),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rep cannot give deals away"
    );
    let (s, _) = app
        .post(
            "/api/v1/opportunities",
            "mgr_east",
            &format!(
                r#"{{"title":"转交","account_id":{},"owner_id":{}}}"#,
                account["id"],
                app.user_id("rep_sh")
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .get(&format!("/api/v1/accounts/{}", account["id"]), "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, err) = app
        .patch(
            &format!("/api/v1/accounts/{}", account["id"]),
            "rep_sh",
            r#"{"notes":"改"}"#,
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("read_only"))
    );

    // Activities on someone else's opportunity stay with it.
    let (s, _) = app
        .post(
            "/api/v1/activities",
            "rep_south",
            &format!(
                r#"{{"kind":"note","summary":"x","opportunity_id":{}}}"#,
                sh_opp["id"]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_close_date_far_from_today_is_saved_with_a_warning() {
    let app = TestApp::new().await;
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"补录客户"}"#)
        .await;
    let today = common::today();
    let long_ago = today - time::Duration::days(30 * 365);
    let (s, v) = app
        .post(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "十年前的单", "account_id": account["id"], "close_date": long_ago})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["close_date"], long_ago.to_string(), "saved");
    assert_eq!(v["warnings"][0]["code"], "close_date_long_past", "{v}");
    assert_eq!(v["warnings"][0]["field"], "close_date");
    let id = v["id"].as_i64().unwrap();
    // Far ahead on update; nothing to say about a plausible date or another field.
    let ahead = today + time::Duration::days(6 * 366);
    let (s, v) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "rep_sh",
            &json!({"version": 1, "close_date": ahead}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["warnings"][0]["code"], "close_date_far_future", "{v}");
    let soon = today + time::Duration::days(30);
    let (_, v) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "rep_sh",
            &json!({"version": 2, "close_date": soon}).to_string(),
        )
        .await;
    assert!(v.get("warnings").is_none(), "{v}");
    let (_, v) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "rep_sh",
            &json!({"version": 3, "title": "补录的单"}).to_string(),
        )
        .await;
    assert!(v.get("warnings").is_none(), "{v}");
    assert_eq!(v["version"], 4);
}
