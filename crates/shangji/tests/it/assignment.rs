//! Assignment over HTTP with a controlled clock: the public pool (created into it, claimed
//! within the daily limit, returned to it), assignment rules in order (capacity-weighted,
//! round-robin, absent reps skipped), the `unassigned_48h` template notifying the manager
//! and assigning, the `return_to_pool` action, the SLA, and bad input refused with places.

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

async fn put(app: &TestApp, path: &str, login: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(login), Some(&body.to_string()))
        .await
}

/// An opportunity `login` creates in the public pool (`"owner_id": null`), as the API
/// answered the create — whatever rules did right after.
async fn create_in_pool(app: &TestApp, login: &str, title: &str, extra: Value) -> (i64, Value) {
    let account = app
        .create(
            "/api/v1/accounts",
            login,
            &json!({"name": format!("{title} 客户")}).to_string(),
        )
        .await;
    let mut body = json!({"title": title, "account_id": account["id"], "owner_id": null, "amount_minor": 5_000_000});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let opp = app
        .create("/api/v1/opportunities", login, &body.to_string())
        .await;
    (opp["id"].as_i64().unwrap(), opp)
}

/// An opportunity `login` creates in the public pool, checked to be there.
async fn pooled(app: &TestApp, login: &str, title: &str, extra: Value) -> i64 {
    let (id, opp) = create_in_pool(app, login, title, extra).await;
    assert!(opp["pool_since"].is_string(), "{opp}");
    id
}

async fn owner(app: &TestApp, id: i64) -> (i64, Value) {
    let (s, o) = app
        .get(&format!("/api/v1/opportunities/{id}"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    (o["owner_id"].as_i64().unwrap(), o["pool_since"].clone())
}

async fn events_of(app: &TestApp, id: i64, kind: &str) -> Vec<Value> {
    let (_, ev) = app
        .get(&format!("/api/v1/opportunities/{id}/events"), "admin")
        .await;
    ev.as_array()
        .or_else(|| ev["items"].as_array())
        .unwrap_or_else(|| panic!("events: {ev}"))
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

async fn assignment_rule(app: &TestApp, body: Value) -> i64 {
    let r = app
        .create("/api/v1/assignment-rules", "admin", &body.to_string())
        .await;
    r["id"].as_i64().unwrap()
}

#[tokio::test]
async fn the_pool_claims_within_the_daily_limit_and_takes_deals_back() {
    let app = TestApp::new().await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let (s, v) = put(
        &app,
        "/api/v1/settings/pool",
        "admin",
        json!({"claim_limit_per_day": 2, "sla_hours": 48}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = pooled(&app, "mgr_east", "公海商机 A", json!({})).await;
    let b = pooled(&app, "mgr_east", "公海商机 B", json!({})).await;

    // Everyone sees what waits, oldest first, even a rep of another team.
    at(&app, datetime!(2026-03-02 11:00 +08:00));
    let (s, pool) = app.get("/api/v1/pool", "rep_south").await;
    assert_eq!(s, StatusCode::OK, "{pool}");
    let ids: Vec<i64> = pool["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![a, b]);
    assert_eq!(pool["items"][0]["waited_minutes"], 120);
    assert_eq!(
        (pool["may_claim"].clone(), pool["claims_left"].clone()),
        (json!(true), json!(2))
    );

    // rep_sh claims A: theirs, out of the pool, with an `assigned` event saying how.
    let (s, o) = app
        .post(&format!("/api/v1/opportunities/{a}/claim"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(owner(&app, a).await, (app.user_id("rep_sh"), Value::Null));
    let assigned = events_of(&app, a, "assigned").await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["new_value"]["how"], "claim");
    assert_eq!(
        assigned[0]["new_value"]["waited_since"],
        "2026-03-02T01:00:00Z"
    );
    // Claiming it again: it is no longer in the pool.
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{a}/claim"), "rep_east", "")
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("not_in_pool"))
    );

    // rep_sh puts it back with a reason, then claims B and A again: the third claim of the
    // day is over the limit.
    let (s, o) = app
        .post(
            &format!("/api/v1/opportunities/{a}/release"),
            "rep_sh",
            &json!({"reason": "客户预算冻结"}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert!(o["pool_since"].is_string());
    assert_eq!(
        events_of(&app, a, "pooled").await.last().unwrap()["new_value"]["reason"],
        "客户预算冻结"
    );
    let (s, _) = app
        .post(&format!("/api/v1/opportunities/{b}/claim"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{a}/claim"), "rep_sh", "")
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("claim_limit")),
        "{e}"
    );
    assert_eq!(
        owner(&app, a).await.0,
        app.user_id("rep_sh"),
        "the last owner is kept"
    );
    assert!(owner(&app, a).await.1.is_string(), "still in the pool");
    let (_, pool) = app.get("/api/v1/pool", "rep_sh").await;
    assert_eq!(pool["claims_left"], 0);
    // The next local day the limit starts again.
    at(&app, datetime!(2026-03-03 08:00 +08:00));
    let (s, _) = app
        .post(&format!("/api/v1/opportunities/{a}/claim"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::OK);

    // An admin does not claim; a rep cannot put someone else's deal in the pool.
    let c = pooled(&app, "mgr_east", "公海商机 C", json!({})).await;
    let (s, _) = app
        .post(&format!("/api/v1/opportunities/{c}/claim"), "admin", "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(
            &format!("/api/v1/opportunities/{a}/release"),
            "rep_south",
            "",
        )
        .await;
    assert!(
        matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{s}"
    );
    // A closed deal cannot go to the pool.
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{a}/release"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{a}/release"), "rep_sh", "")
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("already_in_pool"))
    );
}

#[tokio::test]
async fn rules_assign_by_capacity_and_skip_reps_on_leave() {
    let app = TestApp::new().await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let (sh, east) = (app.user_id("rep_sh"), app.user_id("rep_east"));
    let rule = assignment_rule(
        &app,
        json!({"name": "华东按产能", "team_id": app.teams["华东"], "method": "capacity",
               "capacities": [{"user_id": sh, "per_day": 2}, {"user_id": east, "per_day": 1}]}),
    )
    .await;
    let mut got = Vec::new();
    for n in 0..3 {
        let id = pooled(&app, "mgr_east", &format!("产能 {n}"), json!({})).await;
        let (s, out) = app
            .post(
                &format!("/api/v1/opportunities/{id}/assign"),
                "mgr_east",
                "",
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{out}");
        assert_eq!(out["decision"]["rule_id"], rule);
        got.push(out["opportunity"]["owner_id"].as_i64().unwrap());
        let assigned = events_of(&app, id, "assigned").await;
        assert_eq!(
            (
                assigned[0]["new_value"]["how"].clone(),
                assigned[0]["new_value"]["rule_id"].clone()
            ),
            (json!("rule"), json!(rule))
        );
    }
    // Shares used: 0/2 = 0/1 (rep_sh first by id) → 1/2 > 0/1 → rep_east → 1/2 < 1/1.
    assert_eq!(got, vec![sh, east, sh]);
    // Both are full for today: nobody, and the message says why; the deal stays in the pool.
    let full = pooled(&app, "mgr_east", "产能 满", json!({})).await;
    let (s, e) = app
        .post(
            &format!("/api/v1/opportunities/{full}/assign"),
            "mgr_east",
            "",
        )
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("nobody_available")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("at_capacity"),
        "{e}"
    );
    assert!(owner(&app, full).await.1.is_string());

    // Round-robin instead, with rep_sh on leave today: rep_east takes every turn and the
    // preview shows the skip.
    let (s, r) = app
        .get(&format!("/api/v1/assignment-rules/{rule}"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = put(
        &app,
        &format!("/api/v1/assignment-rules/{rule}"),
        "admin",
        json!({"name": "华东轮流", "team_id": app.teams["华东"], "method": "round_robin", "version": r["version"]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .patch(
            &format!("/api/v1/users/{sh}"),
            "admin",
            &json!({"leaves": [{"from": "2026-03-01", "to": "2026-03-03"}]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, p) = app
        .get(
            &format!("/api/v1/opportunities/{full}/assignment-preview"),
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["user_id"], east);
    assert_eq!(p["skipped"], json!([{"user_id": sh, "why": "on_leave"}]));
    for n in 0..2 {
        let id = pooled(&app, "mgr_east", &format!("轮流 {n}"), json!({})).await;
        let (_, out) = app
            .post(
                &format!("/api/v1/opportunities/{id}/assign"),
                "mgr_east",
                "",
            )
            .await;
        assert_eq!(out["opportunity"]["owner_id"], east, "{out}");
    }
    // Back from leave on Wednesday: the turn goes to rep_sh, whom this rule never chose.
    at(&app, datetime!(2026-03-04 09:00 +08:00));
    let id = pooled(&app, "mgr_east", "轮流 回来", json!({})).await;
    let (_, out) = app
        .post(
            &format!("/api/v1/opportunities/{id}/assign"),
            "mgr_east",
            "",
        )
        .await;
    assert_eq!(out["opportunity"]["owner_id"], sh, "{out}");

    // By hand: to a user in the manager's scope, not outside it; a rep may not hand over.
    let id = pooled(&app, "mgr_east", "手动", json!({})).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/opportunities/{id}/assign"),
            "mgr_east",
            &json!({"user_id": app.user_id("rep_south")}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(&format!("/api/v1/opportunities/{id}/assign"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, out) = app
        .post(
            &format!("/api/v1/opportunities/{id}/assign"),
            "mgr_east",
            &json!({"user_id": east}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(
        events_of(&app, id, "assigned").await[0]["new_value"]["how"],
        "manual"
    );
}

#[tokio::test]
async fn rules_are_tried_in_order() {
    let app = TestApp::new().await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let website = assignment_rule(
        &app,
        json!({"name": "官网注册→华东", "team_id": app.teams["华东"],
               "conditions": {"field": "source", "op": "eq", "value": "website"}}),
    )
    .await;
    let rest = assignment_rule(
        &app,
        json!({"name": "其余→华南", "team_id": app.teams["华南"]}),
    )
    .await;
    let web = pooled(&app, "mgr_east", "官网", json!({"source": "website"})).await;
    let other = pooled(&app, "mgr_east", "转介绍", json!({"source": "referral"})).await;
    let preview = |id: i64| {
        let app = &app;
        async move {
            let (s, p) = app
                .get(
                    &format!("/api/v1/opportunities/{id}/assignment-preview"),
                    "admin",
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{p}");
            p
        }
    };
    let p = preview(web).await;
    assert_eq!(
        (p["rule_id"].clone(), p["reasons"][0]["field"].clone()),
        (json!(website), json!("source"))
    );
    assert_eq!(preview(other).await["rule_id"], rest);
    assert_eq!(preview(other).await["user_id"], app.user_id("rep_south"));
    // The catch-all moved first: it takes everything.
    let (s, list) = app
        .post(
            &format!("/api/v1/assignment-rules/{rest}/move"),
            "admin",
            &json!({"direction": "up"}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list[0]["id"], rest);
    assert_eq!(preview(web).await["rule_id"], rest);
    // Without rules nothing matches.
    for id in [website, rest] {
        let (s, _) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/assignment-rules/{id}"),
                Some("admin"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{web}/assign"), "admin", "")
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("no_rule_matches"))
    );
}

#[tokio::test]
async fn unassigned_for_48_hours_notifies_the_manager_and_assigns() {
    let app = TestApp::new().await;
    assignment_rule(
        &app,
        json!({"name": "华东轮流", "team_id": app.teams["华东"]}),
    )
    .await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let id = pooled(&app, "mgr_east", "无人认领", json!({})).await;
    let (s, rules) = app.get("/api/v1/rules", "admin").await;
    assert_eq!(s, StatusCode::OK);
    let template = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["template_key"] == "unassigned_48h")
        .unwrap()
        .clone();
    assert_eq!(template["actions"][1]["kind"], "assign", "{template}");

    let t = datetime!(2026-03-04 08:59 +08:00);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert!(
        owner(&app, id).await.1.is_string(),
        "47 h 59 min: still waiting"
    );
    let t = datetime!(2026-03-04 09:30 +08:00);
    at(&app, t);
    let report = automation::tick(&app.db, t).await.unwrap();
    assert!(report.fired >= 1);
    let (who, since) = owner(&app, id).await;
    assert_eq!(since, Value::Null);
    assert!([app.user_id("rep_sh"), app.user_id("rep_east")].contains(&who));
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["payload"]["template_key"] == "unassigned_48h" && n["record_id"] == id),
        "{notes}"
    );
    let (_, log) = app
        .get(
            &format!("/api/v1/rules/{}/firings", template["id"]),
            "admin",
        )
        .await;
    assert_eq!(log[0]["outcome"][1]["kind"], "assign");
    assert_eq!(log[0]["outcome"][1]["status"], "done", "{log}");
    // Once assigned, a later tick does nothing more.
    let t = datetime!(2026-03-05 09:30 +08:00);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(events_of(&app, id, "assigned").await.len(), 1);

    // The SLA: one stay of 48.5 h (breached), none waiting.
    let (s, sla) = app.get("/api/v1/pool/sla", "mgr_east").await;
    assert_eq!(s, StatusCode::OK, "{sla}");
    assert_eq!(
        (
            sla["assigned"].clone(),
            sla["breached"].clone(),
            sla["median_wait_minutes"].clone(),
            sla["waiting"].clone()
        ),
        (json!(1), json!(1), json!(48 * 60 + 30), json!(0))
    );
    let (s, _) = app.get("/api/v1/pool/sla", "rep_sh").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = app
        .get(
            "/api/v1/pool/sla?from=2026-03-05T00:00:00Z&to=2026-03-01T00:00:00Z",
            "mgr_east",
        )
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("reversed_period"))
    );
}

#[tokio::test]
async fn a_rule_returns_stale_deals_to_the_pool() {
    let app = TestApp::new().await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let (_, opp) = app.account_and_opportunity("rep_sh", "长期无跟进").await;
    let id = opp["id"].as_i64().unwrap();
    let rule = app
        .create(
            "/api/v1/rules",
            "admin",
            &json!({"name": "10 天未跟进收回公海", "trigger": {"kind": "schedule"},
                    "conditions": {"all": [{"field": "stage_kind", "op": "eq", "value": "open"},
                                           {"field": "days_since_follow_up", "op": "ge", "value": 10}]},
                    "actions": [{"kind": "return_to_pool"}, {"kind": "notify", "to": {"kind": "manager"}}]})
            .to_string(),
        )
        .await;
    let t = datetime!(2026-03-12 10:00 +08:00);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    let (who, since) = owner(&app, id).await;
    assert_eq!(
        (who, since.as_str().map(|s| s.starts_with("2026-03-12"))),
        (app.user_id("rep_sh"), Some(true))
    );
    let pooled = events_of(&app, id, "pooled").await;
    assert!(
        pooled[0]["new_value"]["reason"]
            .as_str()
            .unwrap()
            .contains("10 天未跟进"),
        "{pooled:?}"
    );
    let (_, log) = app
        .get(&format!("/api/v1/rules/{}/firings", rule["id"]), "admin")
        .await;
    assert_eq!(log[0]["outcome"][0]["status"], "done", "{log}");
    // Its manager hears of it.
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    assert!(notes
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["record_id"] == id));
}

#[tokio::test]
async fn bad_assignment_input_is_refused_with_places() {
    let app = TestApp::new().await;
    let (s, e) = app
        .post(
            "/api/v1/assignment-rules",
            "admin",
            &json!({"name": "坏规则", "team_id": app.teams["华南"], "members": [app.user_id("rep_sh")],
                    "conditions": {"field": "no_such", "op": "eq", "value": 1}})
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"members[0]") && fields.iter().any(|f| f.starts_with("conditions")),
        "{e}"
    );
    let (s, e) = app
        .post(
            "/api/v1/assignment-rules",
            "admin",
            &json!({"name": "x", "team_id": 99999}).to_string(),
        )
        .await;
    assert_eq!(
        (s, e["errors"][0]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("unknown_team")),
        "{e}"
    );
    let (s, e) = app
        .post(
            "/api/v1/assignment-rules",
            "admin",
            &json!({"name": "x", "team_id": 1, "method": "random"}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = app
        .post(
            "/api/v1/assignment-rules",
            "mgr_east",
            &json!({"name": "x", "team_id": app.teams["华东"]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An automation rule naming an assignment rule that does not exist.
    let (s, e) = app
        .post(
            "/api/v1/rules",
            "admin",
            &json!({"name": "分配", "trigger": {"kind": "created"},
                    "actions": [{"kind": "assign", "assignment_rule_id": 424242}]})
            .to_string(),
        )
        .await;
    assert_eq!(
        (s, e["field"].clone(), e["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("actions[0].assignment_rule_id"),
            json!("unknown_assignment_rule")
        ),
        "{e}"
    );
    // Settings out of range, and a stale version.
    let (s, e) = put(
        &app,
        "/api/v1/settings/pool",
        "admin",
        json!({"claim_limit_per_day": 5, "sla_hours": 0}),
    )
    .await;
    assert_eq!(
        (s, e["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("sla_hours")),
        "{e}"
    );
    let id = assignment_rule(&app, json!({"name": "华东", "team_id": app.teams["华东"]})).await;
    let (s, _) = put(
        &app,
        &format!("/api/v1/assignment-rules/{id}"),
        "admin",
        json!({"name": "华东 2", "team_id": app.teams["华东"], "version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = put(
        &app,
        &format!("/api/v1/assignment-rules/{id}"),
        "admin",
        json!({"name": "华东 3", "team_id": app.teams["华东"], "version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    // Both a user and a rule.
    let opp = pooled(&app, "mgr_east", "两者", json!({})).await;
    let (s, e) = app
        .post(
            &format!("/api/v1/opportunities/{opp}/assign"),
            "admin",
            &json!({"user_id": app.user_id("rep_sh"), "assignment_rule_id": id}).to_string(),
        )
        .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("one_of")),
        "{e}"
    );
}

/// The pool and the assignment settings as pages: a rep claims from the pool page and puts
/// the deal back from its own page; the manager sees the SLA and hands one over by the
/// rules; an admin adds a rule through the form, sees a refusal in the page's language, and
/// reorders. Both languages.
#[tokio::test]
async fn the_pool_and_assignment_pages() {
    use common::browser::{between, browser};
    let app = TestApp::new().await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let a = pooled(&app, "mgr_east", "页面公海 A", json!({})).await;
    let b = pooled(&app, "mgr_east", "页面公海 B", json!({})).await;
    at(&app, datetime!(2026-03-04 10:00 +08:00));

    let rep = browser(&app, "rep_sh").await;
    let r = rep.get("/pool").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = between(&r.body, "id=\"pool-list\"", "</table>");
    assert!(
        list.contains("页面公海 A") && list.contains("页面公海 B"),
        "{list}"
    );
    assert!(
        list.contains("2 天 1 小时") && list.contains("超时"),
        "{list}"
    );
    assert!(r.body.contains("今天还可领取 5 个"), "claims left");
    assert!(
        !r.body.contains("id=\"pool-sla\""),
        "reps do not see the SLA"
    );
    assert!(!r.body.contains("按规则分配"), "reps do not hand over");
    let r = rep.post(&format!("/pool/{a}/claim"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/opportunities/{a}").as_str())
    );
    let r = rep.get(&format!("/opportunities/{a}")).await;
    assert!(
        r.body.contains("id=\"pool-release\""),
        "the owner may put it back"
    );
    let timeline = between(&r.body, "id=\"timeline\"", "</ol>");
    assert!(
        timeline.contains("分配给") && timeline.contains("从公海领取"),
        "{timeline}"
    );
    let version = owner(&app, a).await;
    assert_eq!(version.0, app.user_id("rep_sh"));
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{a}"), "admin")
        .await;
    let r = rep
        .post(
            &format!("/opportunities/{a}/release"),
            &[
                ("reason", "客户换人对接"),
                ("version", &o["version"].to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = rep.get(&format!("/opportunities/{a}")).await;
    assert!(
        r.body.contains("id=\"opp-in-pool\""),
        "shown as in the pool"
    );
    assert!(between(&r.body, "id=\"timeline\"", "</ol>").contains("放入公海：客户换人对接"));

    // English, and the claim refused past the limit, said in the page.
    let (s, _) = put(
        &app,
        "/api/v1/settings/pool",
        "admin",
        json!({"claim_limit_per_day": 1, "sla_hours": 48}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut en = browser(&app, "rep_sh").await;
    en.lang = Some("en");
    let r = en.post(&format!("/pool/{b}/claim"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let error = between(&r.body, "id=\"pool-error\"", "</p>");
    assert!(error.contains("claim limit"), "{error}");
    assert!(r.body.contains("Public pool"));

    // The manager: the SLA card, and handing over by the rules (none yet, then one).
    let mgr = browser(&app, "mgr_east").await;
    let r = mgr.get("/pool").await;
    assert!(r.body.contains("id=\"pool-sla\""));
    let r = mgr.post(&format!("/pool/{b}/assign"), &[]).await;
    assert!(
        between(&r.body, "id=\"pool-error\"", "</p>").contains("没有匹配的分配规则"),
        "{}",
        r.body
    );

    // The admin page: a refused rule, then a saved one, listed with its members.
    let admin = browser(&app, "admin").await;
    let r = admin.get("/admin/assignment").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"assignment-empty\""));
    let east = app.teams["华东"].to_string();
    let south_rep = app.user_id("rep_south").to_string();
    let r = admin
        .post(
            "/admin/assignment/rules",
            &[
                ("name", "华东轮流"),
                ("team_id", &east),
                ("method", "capacity"),
                ("member", &south_rep),
                ("default_capacity", "3"),
                ("conditions", ""),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let errors = between(&r.body, "id=\"assignment-errors\"", "</div>");
    assert!(
        errors.contains("members[0]") && errors.contains("不在所选团队"),
        "{errors}"
    );
    assert!(
        r.body.contains("value=\"华东轮流\""),
        "what was typed stays"
    );
    let sh = app.user_id("rep_sh").to_string();
    let r = admin
        .post(
            "/admin/assignment/rules",
            &[
                ("name", "华东轮流"),
                ("team_id", &east),
                ("method", "capacity"),
                (&format!("capacity_{sh}"), "4"),
                ("default_capacity", "2"),
                ("conditions", ""),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = admin.get(r.location.as_deref().unwrap()).await;
    let list = between(&r.body, "id=\"assignment-list\"", "</table>");
    assert!(list.contains("按产能"), "{list}");
    assert!(
        list.contains(&format!("{} (4)", app.users["rep_sh"].display_name)),
        "{list}"
    );
    assert!(
        list.contains(&format!("{} (2)", app.users["rep_east"].display_name)),
        "{list}"
    );
    let r = mgr.post(&format!("/pool/{b}/assign"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(owner(&app, b).await.1.is_null());
}

/// "Website sign-ups go to 华东" at once: an event rule on creation assigns a deal created in
/// the pool by the assignment rules, and the history says which rule.
#[tokio::test]
async fn a_created_rule_assigns_new_pool_deals_at_once() {
    let app = TestApp::new().await;
    at(&app, datetime!(2026-03-02 09:00 +08:00));
    let east = assignment_rule(
        &app,
        json!({"name": "官网注册→华东", "team_id": app.teams["华东"],
               "conditions": {"field": "source", "op": "eq", "value": "website"}}),
    )
    .await;
    app.create(
        "/api/v1/rules",
        "admin",
        &json!({"name": "新商机立即分配", "trigger": {"kind": "created"},
                "conditions": {"field": "owner", "op": "is_unset"},
                "actions": [{"kind": "assign"}]})
        .to_string(),
    )
    .await;
    let (web, _) = create_in_pool(&app, "mgr_east", "官网注册", json!({"source": "website"})).await;
    let (who, since) = owner(&app, web).await;
    assert_eq!(since, Value::Null, "assigned at once");
    assert!([app.user_id("rep_sh"), app.user_id("rep_east")].contains(&who));
    let assigned = events_of(&app, web, "assigned").await;
    assert_eq!(assigned[0]["new_value"]["rule_id"], east);
    // A referral matches no assignment rule: it stays in the pool.
    let (other, _) =
        create_in_pool(&app, "mgr_east", "转介绍", json!({"source": "referral"})).await;
    assert!(owner(&app, other).await.1.is_string());
}

/// The demo company has two assignment rules and deals waiting in the pool (each with a
/// `pooled` event), and a scheduler tick two days later assigns what waited 48 hours.
#[tokio::test]
async fn the_demo_data_has_a_pool_to_show() {
    let db = common::test_db().await;
    let now = common::now();
    shangji::demo::load(&db, 400, now).await.unwrap();
    let rules = db.assignment_rules().await.unwrap();
    assert_eq!(rules.len(), 2);
    let waiting = db.pool_opportunities().await.unwrap();
    assert_eq!(waiting.len(), 6);
    assert!(waiting
        .iter()
        .all(|o| o.pool_since.unwrap() > now - time::Duration::hours(48)));
    let later = now + time::Duration::hours(2);
    automation::tick(&db, later).await.unwrap();
    // The one that had waited 47 hours is past 48 now: assigned by the rules (the deals
    // have various sources, so whichever rule matches, someone of its team gets it).
    assert_eq!(db.pool_opportunities().await.unwrap().len(), 5);
}
