//! Automation over HTTP with a controlled clock: the shipped templates fire once per
//! episode at the right working-day boundary (across the 2026 Spring Festival and its
//! make-up Saturdays), the dry run equals real firing, a restart or a concurrent tick does
//! not fire again, bad rules and calendars are refused with their places.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};
use shangji::ops::automation;
use time::macros::datetime;
use time::OffsetDateTime;

fn at(app: &TestApp, t: OffsetDateTime) {
    app.state.clock.set(Some(t));
}

async fn tick(app: &TestApp, t: OffsetDateTime) -> automation::TickReport {
    at(app, t);
    automation::tick(&app.db, t).await.unwrap()
}

async fn rule_id(app: &TestApp, template: &str) -> i64 {
    let (s, rules) = app.get("/api/v1/rules", "admin").await;
    assert_eq!(s, StatusCode::OK, "{rules}");
    rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["template_key"] == template)
        .unwrap_or_else(|| panic!("template {template} seeded: {rules}"))["id"]
        .as_i64()
        .unwrap()
}

async fn firings(app: &TestApp, rule: i64) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/api/v1/rules/{rule}/firings"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

/// The rule notifications of `login` about template `template` (individual ones).
async fn rule_notes(app: &TestApp, login: &str, template: &str) -> Vec<Value> {
    let (_, notes) = app.get("/api/v1/notifications", login).await;
    notes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "rule" && n["payload"]["template_key"] == template)
        .cloned()
        .collect()
}

async fn activity(app: &TestApp, login: &str, opp: i64, kind: &str, when: &str) {
    app.create(
        "/api/v1/activities",
        login,
        &json!({"kind": kind, "occurred_at": when, "summary": "跟进", "opportunity_id": opp})
            .to_string(),
    )
    .await;
}

#[tokio::test]
async fn no_follow_up_fires_at_the_working_day_boundary_across_the_spring_festival() {
    let app = TestApp::new().await;
    let rule = rule_id(&app, "no_follow_up_3_working_days").await;
    at(&app, datetime!(2026-02-13 09:00 +08:00));
    let (_, opp) = app.account_and_opportunity("rep_sh", "华东医院二期").await;
    let id = opp["id"].as_i64().unwrap();
    activity(&app, "rep_sh", id, "call", "2026-02-13T10:00:00+08:00").await;

    // Saturday 14 (worked), Tuesday 24, Wednesday 25 10:00: three working days.
    tick(&app, datetime!(2026-02-25 09:59 +08:00)).await;
    assert!(firings(&app, rule).await.is_empty());
    assert!(rule_notes(&app, "rep_sh", "no_follow_up_3_working_days")
        .await
        .is_empty());
    tick(&app, datetime!(2026-02-25 10:00 +08:00)).await;
    let fired = firings(&app, rule).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["record_id"], id);
    assert_eq!(
        fired[0]["episode"],
        "last_follow_up_at=2026-02-13T02:00:00Z"
    );
    let notes = rule_notes(&app, "rep_sh", "no_follow_up_3_working_days").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["record_id"], id);
    assert_eq!(notes[0]["payload"]["link"], format!("/opportunities/{id}"));
    assert!(notes[0]["payload"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["field"] == "working_days_since_follow_up" && r["actual"] == 3));

    // Later ticks in the same episode do not fire again.
    tick(&app, datetime!(2026-02-25 10:01 +08:00)).await;
    tick(&app, datetime!(2026-02-26 10:00 +08:00)).await;
    assert_eq!(firings(&app, rule).await.len(), 1);

    // An internal note does not reset the clock: still the same episode.
    activity(&app, "rep_sh", id, "note", "2026-02-26T11:00:00+08:00").await;
    tick(&app, datetime!(2026-02-27 12:00 +08:00)).await;
    assert_eq!(firings(&app, rule).await.len(), 1);

    // A call does: Thursday 26 10:00 → Friday 27, Saturday 28 (worked), Monday 2 March.
    activity(&app, "rep_sh", id, "call", "2026-02-26T10:00:00+08:00").await;
    tick(&app, datetime!(2026-03-02 09:59 +08:00)).await;
    assert_eq!(firings(&app, rule).await.len(), 1);
    tick(&app, datetime!(2026-03-02 10:00 +08:00)).await;
    let after = firings(&app, rule).await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[0]["episode"],
        "last_follow_up_at=2026-02-26T02:00:00Z"
    );
    assert_eq!(
        rule_notes(&app, "rep_sh", "no_follow_up_3_working_days")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn the_stuck_in_stage_ladder_fires_each_step_once_to_owner_manager_director() {
    let app = TestApp::new().await;
    let t0 = datetime!(2026-03-02 09:00 +08:00);
    at(&app, t0);
    let (_, opp) = app.account_and_opportunity("rep_sh", "上海电力").await;
    let id = opp["id"].as_i64().unwrap();
    for (days, template, login) in [
        (7, "stuck_in_stage_7", "rep_sh"),
        (10, "stuck_in_stage_10", "mgr_east"),
        (14, "stuck_in_stage_14", "director"),
    ] {
        let rule = rule_id(&app, template).await;
        let due = t0 + time::Duration::days(days);
        tick(&app, due - time::Duration::minutes(1)).await;
        assert!(firings(&app, rule).await.is_empty(), "{template} early");
        tick(&app, due).await;
        tick(&app, due + time::Duration::hours(1)).await;
        let f = firings(&app, rule).await;
        assert_eq!(f.len(), 1, "{template}: {f:?}");
        assert_eq!(f[0]["record_id"], id);
        assert_eq!(
            rule_notes(&app, login, template).await.len(),
            1,
            "{template}"
        );
    }
    // The owner was not told about the manager's step.
    assert!(rule_notes(&app, "rep_sh", "stuck_in_stage_10")
        .await
        .is_empty());
}

#[tokio::test]
async fn negotiation_past_close_fires_the_day_after_the_close_date() {
    let app = TestApp::new().await;
    let (_, pipelines) = app.get("/api/v1/pipelines", "admin").await;
    let negotiation = pipelines[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name_zh"] == "商务谈判")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    at(&app, datetime!(2026-04-01 09:00 +08:00));
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"谈判客户"}"#)
        .await;
    let (s, opp) = app
        .post(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "谈判中", "account_id": account["id"], "amount_minor": 100,
                "close_date": "2026-04-30", "stage_id": negotiation,
                "checklist": ["need_confirmed", "budget_confirmed", "decision_maker_identified",
                    "timeline_known", "proposal_accepted"]})
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{opp}");
    let rule = rule_id(&app, "negotiation_past_close").await;
    tick(&app, datetime!(2026-04-30 23:59 +08:00)).await;
    assert!(firings(&app, rule).await.is_empty());
    tick(&app, datetime!(2026-05-01 00:00 +08:00)).await;
    tick(&app, datetime!(2026-05-02 00:00 +08:00)).await;
    assert_eq!(firings(&app, rule).await.len(), 1);
    assert_eq!(
        rule_notes(&app, "rep_sh", "negotiation_past_close")
            .await
            .len(),
        1
    );
    assert_eq!(
        rule_notes(&app, "mgr_east", "negotiation_past_close")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_dry_run_lists_what_the_tick_then_fires_and_a_restart_fires_nothing_more() {
    let app = TestApp::new().await;
    let t0 = datetime!(2026-03-02 09:00 +08:00);
    at(&app, t0);
    let mut ids = Vec::new();
    for (login, title) in [("rep_sh", "甲"), ("rep_east", "乙"), ("rep_south", "丙")] {
        let (_, o) = app.account_and_opportunity(login, title).await;
        ids.push(o["id"].as_i64().unwrap());
    }
    let rule = rule_id(&app, "stuck_in_stage_7").await;
    at(&app, t0 + time::Duration::days(8));
    let (s, dry) = app
        .post(&format!("/api/v1/rules/{rule}/dry-run"), "admin", "")
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    let mut would: Vec<(i64, String)> = dry
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["already_fired"], false);
            (
                d["record_id"].as_i64().unwrap(),
                d["episode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    would.sort();
    assert_eq!(would.len(), 3);
    assert!(dry[0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["field"] == "days_in_stage" && r["actual"] == 8));

    tick(&app, t0 + time::Duration::days(8)).await;
    let mut fired: Vec<(i64, String)> = firings(&app, rule)
        .await
        .iter()
        .map(|f| {
            (
                f["record_id"].as_i64().unwrap(),
                f["episode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    fired.sort();
    assert_eq!(fired, would);
    let (_, dry) = app
        .post(&format!("/api/v1/rules/{rule}/dry-run"), "admin", "")
        .await;
    assert!(dry
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["already_fired"] == true));

    // A restart: a new application on the same database seeds nothing and fires nothing.
    let again = shangji::AppState::new(app.db.clone(), false);
    assert!(!automation::seed_templates(&app.db, again.now())
        .await
        .unwrap());
    let r = automation::tick(&app.db, t0 + time::Duration::days(9))
        .await
        .unwrap();
    assert_eq!(r.fired, 0);
    assert_eq!(firings(&app, rule).await.len(), 3);
    let (_, rules) = app.get("/api/v1/rules", "admin").await;
    assert_eq!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["template_key"] == "stuck_in_stage_7")
            .count(),
        1
    );
}

#[tokio::test]
async fn many_firings_for_one_person_in_one_tick_become_one_digest() {
    let app = TestApp::new().await;
    let t0 = datetime!(2026-03-02 09:00 +08:00);
    at(&app, t0);
    for n in 0..6 {
        app.account_and_opportunity("rep_east", &format!("积压{n}"))
            .await;
    }
    // After a week of downtime, one tick catches up.
    tick(&app, t0 + time::Duration::days(7)).await;
    let (_, notes) = app.get("/api/v1/notifications", "rep_east").await;
    let notes = notes.as_array().unwrap();
    let digests: Vec<&Value> = notes
        .iter()
        .filter(|n| n["kind"] == "rule_digest")
        .collect();
    assert_eq!(digests.len(), 1, "{notes:?}");
    // Six deals a week in their stage, and six without a follow-up for 3 working days.
    assert_eq!(digests[0]["payload"]["count"], 12);
    assert!(notes.iter().all(|n| n["kind"] != "rule"));
}

#[tokio::test]
async fn concurrent_ticks_on_one_database_fire_once() {
    let app = TestApp::shared().await;
    let t0 = datetime!(2026-03-02 09:00 +08:00);
    at(&app, t0);
    for n in 0..3 {
        app.account_and_opportunity("rep_sh", &format!("并发{n}"))
            .await;
    }
    // A second pool on the same database, as a second instance would have.
    let second = app.second_instance().await;
    let t = t0 + time::Duration::days(7);
    let (a, b) = tokio::join!(automation::tick(&app.db, t), automation::tick(&second, t));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Each firing was inserted by exactly one of the two.
    let stored = app.db.count("rule_firings").await.unwrap();
    assert_eq!((a.fired + b.fired) as i64, stored, "{a:?} {b:?}");
    assert!(stored >= 3);
    let rule = rule_id(&app, "stuck_in_stage_7").await;
    assert_eq!(firings(&app, rule).await.len(), 3);
    // Every firing reaches the owner exactly once: in a digest or on its own, depending on
    // how the two ticks shared the six firings (three rules a week old, three without
    // follow-up) — one tick with all six makes one digest, two with three each notify singly.
    let (_, notes) = app.get("/api/v1/notifications", "rep_sh").await;
    let notified: i64 = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["kind"].as_str() {
            Some("rule_digest") => n["payload"]["count"].as_i64().unwrap(),
            Some("rule") => 1,
            _ => 0,
        })
        .sum();
    assert_eq!(notified, stored, "{notes}");
}

#[tokio::test]
async fn an_event_rule_runs_its_actions_after_the_change() {
    let app = TestApp::new().await;
    at(&app, datetime!(2026-02-13 10:00 +08:00));
    let (_, opp) = app.account_and_opportunity("rep_sh", "事件").await;
    let id = opp["id"].as_i64().unwrap();
    let (s, rule) = app
        .post(
            "/api/v1/rules",
            "admin",
            &json!({
                "name": "A 级商机安排拜访",
                "trigger": {"kind": "field_changed", "field": "grade"},
                "conditions": {"all": [{"field": "grade", "op": "eq", "value": "a"}]},
                "actions": [
                    {"kind": "create_task", "title": "安排高层拜访", "due_working_days": 2},
                    {"kind": "notify", "to": {"kind": "manager"}, "message": "A 级商机"}
                ]
            })
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    let rule = rule["id"].as_i64().unwrap();
    let (s, v) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "rep_sh",
            r#"{"grade":"a"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let f = firings(&app, rule).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["episode"], "event:2");
    assert_eq!(f[0]["outcome"][0]["status"], "done", "{f:?}");
    // Friday 13 → Saturday 14 (worked), Tuesday 24 February.
    let (_, tasks) = app
        .get(&format!("/api/v1/tasks?record_id={id}"), "rep_sh")
        .await;
    let task = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "安排高层拜访")
        .cloned()
        .unwrap_or_else(|| panic!("{tasks}"));
    assert_eq!(task["due_date"], "2026-02-24");
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    assert!(notes
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "rule" && n["payload"]["messages"][0] == "A 级商机"));
}

#[tokio::test]
async fn bad_rules_are_refused_with_every_reason() {
    let app = TestApp::new().await;
    let post = |body: Value| {
        let app = &app;
        async move { app.post("/api/v1/rules", "admin", &body.to_string()).await }
    };
    let (s, v) = post(json!({
        "name": "坏规则",
        "trigger": {"kind": "schedule"},
        "conditions": {"all": [
            {"field": "no_such_field", "op": "eq", "value": 1},
            {"field": "amount", "op": "gt", "value": "abc"}
        ]},
        "actions": [{"kind": "notify", "to": {"kind": "owner"}}]
    }))
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let errors = v["errors"].as_array().unwrap();
    assert!(errors
        .iter()
        .any(|e| e["field"] == "conditions.all[0].field" && e["code"] == "unknown_field"));
    assert!(errors
        .iter()
        .any(|e| e["field"] == "conditions.all[1].value" && e["code"] == "invalid_value"));

    let (s, v) = post(json!({
        "name": "自触发",
        "trigger": {"kind": "field_changed", "field": "probability"},
        "actions": [{"kind": "set_field", "field": "probability", "value": 50}]
    }))
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "rule_loop", "{v}");

    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/rules",
            Some("mgr_east"),
            Some(r#"{"name":"x","trigger":{"kind":"schedule"},"actions":[]}"#),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The dry run of an unsaved rule checks it the same way.
    let (s, v) = app
        .post(
            "/api/v1/rules/dry-run",
            "admin",
            r#"{"name":"x","trigger":{"kind":"schedule"},"conditions":{"all":[{"field":"nope","op":"eq","value":1}]},"actions":[{"kind":"notify","to":{"kind":"owner"}}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Replacing a rule with the version read: a stale version is a conflict, and the rule
    // stays as the other writer left it.
    let body = |name: &str, version: i64| {
        json!({"name": name, "trigger": {"kind": "schedule"}, "version": version,
               "conditions": {"field": "days_in_stage", "op": "ge", "value": 30},
               "actions": [{"kind": "notify", "to": {"kind": "owner"}}]})
        .to_string()
    };
    let rule = app
        .create("/api/v1/rules", "admin", &body("三十天", 1))
        .await;
    let path = format!("/api/v1/rules/{}", rule["id"]);
    let (s, v) = app
        .call(
            Method::PUT,
            &path,
            Some("admin"),
            Some(&body("三十天 A", 1)),
        )
        .await;
    assert_eq!((s, v["version"].clone()), (StatusCode::OK, json!(2)), "{v}");
    let (s, v) = app
        .call(
            Method::PUT,
            &path,
            Some("admin"),
            Some(&body("三十天 B", 1)),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(app.get(&path, "admin").await.1["name"], "三十天 A");
}

#[tokio::test]
async fn rules_are_edited_switched_off_and_deleted() {
    let app = TestApp::new().await;
    let rule = rule_id(&app, "stuck_in_stage_7").await;
    let (_, r) = app.get(&format!("/api/v1/rules/{rule}"), "admin").await;
    let mut input = r.clone();
    for k in [
        "id",
        "version",
        "created_at",
        "updated_at",
        "last_fired_at",
        "episode_anchors",
    ] {
        input.as_object_mut().unwrap().remove(k);
    }
    input["enabled"] = json!(false);
    let (s, v) = app
        .call(
            Method::PUT,
            &format!("/api/v1/rules/{rule}"),
            Some("admin"),
            Some(&input.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], false);
    assert_eq!(v["version"], 2);
    let t0 = datetime!(2026-03-02 09:00 +08:00);
    at(&app, t0);
    app.account_and_opportunity("rep_sh", "关闭的规则").await;
    tick(&app, t0 + time::Duration::days(8)).await;
    assert!(firings(&app, rule).await.is_empty());
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/rules/{rule}"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/api/v1/rules/{rule}"), "admin").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_calendar_setting_is_checked_and_used() {
    let app = TestApp::new().await;
    let (s, cal) = app.get("/api/v1/settings/calendar", "rep_sh").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cal["time_zone"], "Asia/Shanghai");

    let put = |login: &'static str, body: String| {
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                "/api/v1/settings/calendar",
                Some(login),
                Some(&body),
            )
            .await
        }
    };
    let (s, v) = put("admin", "{not json".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "invalid_json");

    let mut bad = cal.clone();
    bad["holidays"] =
        json!([{"name_zh": "假", "name_en": "Off", "from": "2026-05-05", "to": "2026-05-01"}]);
    let (s, v) = put("admin", bad.to_string()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "holidays[0].to");
    assert_eq!(v["code"], "range_reversed");

    let (s, _) = put("rep_sh", cal.to_string()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // No holidays, no make-up days: the working week alone.
    let mut plain = cal.clone();
    plain["holidays"] = json!([]);
    plain["make_up_days"] = json!([]);
    let (s, v) = put("admin", plain.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, again) = app.get("/api/v1/settings/calendar", "admin").await;
    assert_eq!(again["holidays"], json!([]));

    // The scheduler counts with it: Friday 13 10:00 + 3 working days = Wednesday 18.
    let rule = rule_id(&app, "no_follow_up_3_working_days").await;
    at(&app, datetime!(2026-02-13 09:00 +08:00));
    let (_, opp) = app.account_and_opportunity("rep_sh", "平常的一周").await;
    activity(
        &app,
        "rep_sh",
        opp["id"].as_i64().unwrap(),
        "call",
        "2026-02-13T10:00:00+08:00",
    )
    .await;
    tick(&app, datetime!(2026-02-18 09:59 +08:00)).await;
    assert!(firings(&app, rule).await.is_empty());
    tick(&app, datetime!(2026-02-18 10:00 +08:00)).await;
    assert_eq!(firings(&app, rule).await.len(), 1);
}

#[tokio::test]
async fn preferences_mute_a_rule_and_all_can_be_marked_read() {
    let app = TestApp::new().await;
    let rule = rule_id(&app, "stuck_in_stage_7").await;
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/v1/notification-preferences",
            Some("rep_sh"),
            Some(&json!({"muted_rules": [rule]}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, p) = app.get("/api/v1/notification-preferences", "rep_sh").await;
    assert_eq!(p["muted_rules"], json!([rule]));
    let t0 = datetime!(2026-03-02 09:00 +08:00);
    at(&app, t0);
    app.account_and_opportunity("rep_sh", "静音").await;
    app.account_and_opportunity("rep_east", "不静音").await;
    tick(&app, t0 + time::Duration::days(7)).await;
    assert!(rule_notes(&app, "rep_sh", "stuck_in_stage_7")
        .await
        .is_empty());
    assert_eq!(
        rule_notes(&app, "rep_east", "stuck_in_stage_7").await.len(),
        1
    );
    let (s, _) = app
        .post("/api/v1/notifications/read-all", "rep_east", "")
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, notes) = app.get("/api/v1/notifications", "rep_east").await;
    assert!(notes
        .as_array()
        .unwrap()
        .iter()
        .all(|n| !n["read_at"].is_null()));
}

#[tokio::test]
async fn the_pages_show_rules_dry_runs_calendars_and_rule_notifications_in_both_languages() {
    use common::browser::browser;
    let app = TestApp::new().await;
    at(&app, datetime!(2026-02-13 09:00 +08:00));
    let (_, opp) = app.account_and_opportunity("rep_sh", "华东医院二期").await;
    let id = opp["id"].as_i64().unwrap();
    activity(&app, "rep_sh", id, "call", "2026-02-13T10:00:00+08:00").await;
    tick(&app, datetime!(2026-02-25 10:00 +08:00)).await;
    app.state.clock.set(None);

    // The rep reads the reminder with its reasons, in Chinese and in English.
    let mut rep = browser(&app, "rep_sh").await;
    let r = rep.get("/notifications").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("规则「3 个工作日未有效跟进」：华东医院二期"),
        "{}",
        r.body
    );
    assert!(r.body.contains("距最近有效跟进工作日数 ≥ 3（实际 3）"));
    rep.lang = Some("en");
    let r = rep.get("/notifications").await;
    assert!(r
        .body
        .contains("Rule “No meaningful follow-up for 3 working days”: 华东医院二期"));
    assert!(r
        .body
        .contains("Working days since the last meaningful follow-up ≥ 3 (actual 3)"));
    let r = rep.post("/notifications/read-all", &[]).await;
    assert!(r.status.is_redirection());
    let (_, notes) = app.get("/api/v1/notifications", "rep_sh").await;
    assert!(notes
        .as_array()
        .unwrap()
        .iter()
        .all(|n| !n["read_at"].is_null()));

    // The admin's list, a dry run from the form, and the switch.
    let admin = browser(&app, "admin").await;
    let r = admin.get("/admin/rules").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("同一阶段停留 14 天"));
    let rule = rule_id(&app, "stuck_in_stage_7").await;
    let (_, view) = app.get(&format!("/api/v1/rules/{rule}"), "admin").await;
    let r = admin
        .post(
            &format!("/admin/rules/{rule}"),
            &[
                ("do", "dry_run"),
                ("name", "同一阶段停留 7 天"),
                ("enabled", "on"),
                ("trigger_kind", "schedule"),
                ("conditions_mode", "json"),
                ("conditions", &view["conditions"].to_string()),
                ("actions_mode", "json"),
                ("actions", &view["actions"].to_string()),
                ("template_key", "stuck_in_stage_7"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("dry-run-result"),
        "{:?} {}",
        r.location,
        r.body
    );
    assert!(r.body.contains("华东医院二期"));
    assert!(r.body.contains("在当前阶段天数 ≥ 7（实际 "), "{}", r.body);
    let r = admin
        .post(
            &format!("/admin/rules/{rule}"),
            &[
                ("do", "save"),
                ("name", "坏"),
                ("trigger_kind", "schedule"),
                ("c0_field", "nope"),
                ("c0_op", "eq"),
                ("c0_value", "1"),
                ("a0_kind", "notify"),
                ("a0_who", "owner"),
            ],
        )
        .await;
    assert!(r.body.contains("rule-errors"), "{}", r.body);
    assert!(r.body.contains("条件 1：没有字段“nope”"), "{}", r.body);
    // The template's conditions show as rows of the form.
    let r = admin.get(&format!("/admin/rules/{rule}")).await;
    assert!(r.body.contains("id=\"condition-2\""), "{}", r.body);
    assert!(r
        .body
        .contains("<option value=\"days_in_stage\" selected>在当前阶段天数</option>"));
    assert!(
        !r.body.contains("name=\"conditions\""),
        "no JSON for what rows show"
    );
    // Nested conditions cannot be rows: they show as JSON, and save unchanged from there.
    let nested = json!({"all": [
        {"field": "stage_kind", "op": "eq", "value": "open"},
        {"not": {"field": "grade", "op": "eq", "value": "a"}}
    ]});
    let (status, made) = app
        .post(
            "/api/v1/rules",
            "admin",
            &json!({
                "name": "嵌套条件",
                "trigger": {"kind": "created"},
                "conditions": nested,
                "actions": [{"kind": "notify", "to": {"kind": "owner"}}],
            })
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let nested_id = made["id"].as_i64().unwrap();
    let r = admin.get(&format!("/admin/rules/{nested_id}")).await;
    assert!(
        r.body.contains("name=\"conditions_mode\" value=\"json\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("name=\"a0_kind\""), "the actions stay rows");
    let r = admin
        .post(
            &format!("/admin/rules/{nested_id}"),
            &[
                ("do", "save"),
                ("name", "嵌套条件"),
                ("enabled", "on"),
                ("version", &made["version"].to_string()),
                ("trigger_kind", "created"),
                ("conditions_mode", "json"),
                ("conditions", &nested.to_string()),
                ("a0_kind", "notify"),
                ("a0_who", "owner"),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let (_, again) = app
        .get(&format!("/api/v1/rules/{nested_id}"), "admin")
        .await;
    assert_eq!(again["conditions"], nested);
    // Asking for rows of them says why not, naming the conditions.
    let r = admin
        .post(
            &format!("/admin/rules/{nested_id}"),
            &[
                ("do", "conditions_rows"),
                ("name", "嵌套条件"),
                ("trigger_kind", "created"),
                ("conditions_mode", "json"),
                ("conditions", &nested.to_string()),
            ],
        )
        .await;
    assert!(
        r.body
            .contains("条件：这些条件含有嵌套分组，只能以 JSON 编辑"),
        "{}",
        r.body
    );
    let r = admin
        .post(
            &format!("/admin/rules/{rule}/toggle"),
            &[("enabled", "false")],
        )
        .await;
    assert!(r.status.is_redirection());
    let (_, view) = app.get(&format!("/api/v1/rules/{rule}"), "admin").await;
    assert_eq!(view["enabled"], false);
    let r = admin.get(&format!("/admin/rules/{rule}")).await;
    assert!(r.body.contains("firing-log"));

    // The calendar: the year's days, and a refused edit in the admin's language.
    let r = admin.get("/admin/calendar?year=2026").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("春节"));
    assert!(r.body.contains("2026-02-14"));
    let (_, mut cal) = app.get("/api/v1/settings/calendar", "admin").await;
    cal["holidays"][0]["to"] = json!("2024-12-31");
    let r = admin
        .post("/admin/calendar", &[("calendar", &cal.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.location);
    assert!(r.body.contains("holidays[0].to"), "{}", r.body);
    assert!(r.body.contains("结束日期早于开始日期"));
}

#[tokio::test]
async fn proposal_not_sent_fires_after_three_working_days_in_the_proposal_stage() {
    let app = TestApp::new().await;
    let (_, pipelines) = app.get("/api/v1/pipelines", "admin").await;
    let proposal = pipelines[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name_zh"] == "方案报价")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // Entered on Friday 13 February 09:00: Saturday 14 (worked), Tuesday 24, Wednesday 25.
    at(&app, datetime!(2026-02-13 09:00 +08:00));
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"方案客户"}"#)
        .await;
    let (s, opp) = app
        .post(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "方案未发", "account_id": account["id"], "amount_minor": 100,
                "close_date": "2026-12-31", "stage_id": proposal,
                "checklist": ["need_confirmed", "budget_confirmed", "decision_maker_identified",
                    "timeline_known"]})
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{opp}");
    let rule = rule_id(&app, "proposal_not_sent_3_working_days").await;
    tick(&app, datetime!(2026-02-25 08:59 +08:00)).await;
    assert!(firings(&app, rule).await.is_empty());
    tick(&app, datetime!(2026-02-25 09:00 +08:00)).await;
    tick(&app, datetime!(2026-02-26 09:00 +08:00)).await;
    let f = firings(&app, rule).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["record_id"], opp["id"]);
}

/// Which activity types count is a setting: with only visits counting, a call no longer
/// resets the follow-up clock (the rule's dry run lists the deal) and a visit does; the
/// board's "days since contact" reads the same setting. Bad settings are refused.
#[tokio::test]
async fn the_meaningful_follow_up_types_are_configurable() {
    let app = TestApp::new().await;
    let rule = rule_id(&app, "no_follow_up_3_working_days").await;
    at(&app, datetime!(2026-02-27 09:00 +08:00));
    let (_, opp) = app.account_and_opportunity("rep_sh", "只算拜访").await;
    let id = opp["id"].as_i64().unwrap();
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/v1/settings/follow-up",
            Some("admin"),
            Some(r#"{"meaningful": ["visit"], "proposal_actions": ["send_proposal"]}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        app.get("/api/v1/settings/follow-up", "rep_sh").await.1["meaningful"],
        json!(["visit"])
    );
    at(&app, datetime!(2026-03-03 10:30 +08:00));
    activity(&app, "rep_sh", id, "call", "2026-03-03T10:00:00+08:00").await;
    let path = format!("/api/v1/rules/{rule}/dry-run");
    let listed = || async {
        let (s, v) = app.post(&path, "admin", "").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array().unwrap().iter().any(|f| f["record_id"] == id)
    };
    // Friday 09:00 → Wednesday 11:00: three working days, and the call does not count.
    at(&app, datetime!(2026-03-04 11:00 +08:00));
    assert!(
        listed().await,
        "a call does not reset the clock when only visits count"
    );
    activity(&app, "rep_sh", id, "visit", "2026-03-04T10:30:00+08:00").await;
    assert!(!listed().await, "a visit does");

    for (body, field) in [
        (r#"{"meaningful": []}"#, "meaningful"),
        (r#"{"meaningful": ["call", "call"]}"#, "meaningful[1]"),
    ] {
        let (s, v) = app
            .call(
                Method::PUT,
                "/api/v1/settings/follow-up",
                Some("admin"),
                Some(body),
            )
            .await;
        assert_eq!(
            (s, v["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!(field)),
            "{v}"
        );
    }
    let (s, _) = app
        .call(
            Method::PUT,
            "/api/v1/settings/follow-up",
            Some("admin"),
            Some(r#"{"meaningful": ["fax"]}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .call(
            Method::PUT,
            "/api/v1/settings/follow-up",
            Some("rep_sh"),
            Some(r#"{"meaningful": ["call"]}"#),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The follow-up setting as a page: the defaults ticked, a change saved, nothing ticked
/// refused in the page's language.
#[tokio::test]
async fn the_follow_up_setting_page() {
    use common::browser::{between, browser};
    let app = TestApp::new().await;
    let admin = browser(&app, "admin").await;
    let r = admin.get("/admin/follow-up").await;
    assert_eq!(r.status, StatusCode::OK);
    let form = between(&r.body, "id=\"follow-up-form\"", "</form>");
    assert!(
        form.contains("value=\"call\" checked") && !form.contains("value=\"note\" checked"),
        "{form}"
    );
    let r = admin
        .post(
            "/admin/follow-up",
            &[
                ("meaningful", "visit"),
                ("meaningful", "meeting"),
                ("proposal_actions", "send_proposal，send_quote"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, v) = app.get("/api/v1/settings/follow-up", "admin").await;
    assert_eq!(
        v,
        json!({"meaningful": ["visit", "meeting"], "proposal_actions": ["send_proposal", "send_quote"]})
    );
    let r = admin
        .post("/admin/follow-up", &[("proposal_actions", "")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        between(&r.body, "id=\"follow-up-errors\"", "</div>").contains("meaningful"),
        "{}",
        r.body
    );
    let rep = browser(&app, "rep_sh").await;
    assert_ne!(rep.get("/admin/follow-up").await.status, StatusCode::OK);
}
