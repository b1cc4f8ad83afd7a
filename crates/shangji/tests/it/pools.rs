//! The public pool of leads and accounts over HTTP, with a controlled clock: each team sees
//! the pool records of its regions only, claims stop at the daily limit of each kind, records
//! go back with a reason and keep their owner history, managers hand them over within their
//! scope, lead assignment rules route new leads, the lead SLA alerts through the rule engine
//! and is measured, and the return rules give forgotten leads and accounts back.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};
use shangji::ops::automation;
use time::{Duration, OffsetDateTime};

fn at(app: &TestApp, t: OffsetDateTime) {
    app.state.clock.set(Some(t));
}

/// Whole milliseconds, as stored.
fn start() -> OffsetDateTime {
    let t = common::now();
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap()
}

async fn put(app: &TestApp, path: &str, login: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(login), Some(&body.to_string()))
        .await
}

/// 华东 covers the 华东 region (and 上海组 below it inherits it), 华南 the 华南 region.
async fn regions(app: &TestApp) {
    for (team, region) in [("华东", "华东"), ("华南", "华南")] {
        let (s, t) = app
            .patch(
                &format!("/api/v1/teams/{}", app.teams[team]),
                "admin",
                &json!({ "regions": [region] }).to_string(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        assert_eq!(t["regions"], json!([region]));
    }
}

/// A lead the admin puts in the pool.
async fn pool_lead(app: &TestApp, company: &str, region: Option<&str>) -> i64 {
    let lead = app
        .create(
            "/api/v1/leads",
            "admin",
            &json!({"company_name": company, "region": region, "owner_id": null}).to_string(),
        )
        .await;
    assert_eq!(lead["owner_id"], Value::Null, "{lead}");
    assert!(lead["pool_since"].is_string(), "{lead}");
    lead["id"].as_i64().unwrap()
}

fn ids(pool: &Value) -> Vec<i64> {
    pool["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{pool}"))
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn each_team_sees_and_claims_the_pool_of_its_regions() {
    let app = TestApp::new().await;
    let t0 = start();
    at(&app, t0);
    regions(&app).await;
    let (s, _) = put(
        &app,
        "/api/v1/settings/pool",
        "admin",
        json!({"lead_claim_limit_per_day": 1, "account_claim_limit_per_day": 2}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let east = pool_lead(&app, "苏州精工机械有限公司", Some("华东")).await;
    let south = pool_lead(&app, "东莞华达电子有限公司", Some("华南")).await;
    let nowhere = pool_lead(&app, "无区域贸易公司", None).await;
    let far = pool_lead(&app, "乌鲁木齐新丝路公司", Some("西北")).await;

    // 上海组 is under 华东: its rep sees 华东's pool, and what no team covers; not 华南's.
    let (s, pool) = app.get("/api/v1/pool/leads", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{pool}");
    let seen = ids(&pool);
    assert!(seen.contains(&east) && seen.contains(&nowhere) && seen.contains(&far));
    assert!(!seen.contains(&south), "{pool}");
    assert_eq!(
        (pool["total"].as_i64(), pool["claims_left"].as_i64()),
        (Some(3), Some(1))
    );
    let (s, _) = app.get(&format!("/api/v1/leads/{south}"), "rep_sh").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another region's pool lead is out of sight"
    );
    let (_, pool) = app.get("/api/v1/pool/leads", "rep_south").await;
    assert!(ids(&pool).contains(&south) && !ids(&pool).contains(&east));
    // The admin sees the whole pool.
    let (_, pool) = app.get("/api/v1/pool/leads", "admin").await;
    assert_eq!(pool["total"], 4);

    // A rep cannot change a pool lead before claiming it; then it is theirs.
    let (s, _) = app
        .patch(
            &format!("/api/v1/leads/{east}"),
            "rep_sh",
            r#"{"notes": "x"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let later = t0 + Duration::hours(5);
    at(&app, later);
    let (s, lead) = app
        .post(&format!("/api/v1/leads/{east}/claim"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::OK, "{lead}");
    assert_eq!(lead["owner_id"], app.user_id("rep_sh"));
    assert_eq!(lead["pool_since"], Value::Null);
    // Out of sight: not found; over the limit: refused with the reason.
    let (s, _) = app
        .post(&format!("/api/v1/leads/{south}/claim"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .post(&format!("/api/v1/leads/{nowhere}/claim"), "rep_sh", "")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["code"], "claim_limit", "{e}");
    // Taken: out of another rep's sight; a manager who sees it is told it is not in the pool.
    let (s, _) = app
        .post(&format!("/api/v1/leads/{east}/claim"), "rep_east", "")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .post(&format!("/api/v1/leads/{east}/claim"), "mgr_east", "")
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_in_pool"))
    );

    // Given back with a reason; the history keeps both, with the wait.
    let back = later + Duration::hours(1);
    at(&app, back);
    let (s, lead) = app
        .post(
            &format!("/api/v1/leads/{east}/release"),
            "rep_sh",
            r#"{"reason": "客户暂无预算"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{lead}");
    assert_eq!(lead["owner_id"], Value::Null);
    let (s, history) = app
        .get(&format!("/api/v1/leads/{east}/owner-history"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK);
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2, "{history}");
    assert_eq!(
        (h[0]["kind"].as_str(), h[0]["how"].as_str()),
        (Some("assigned"), Some("claim"))
    );
    let waited = OffsetDateTime::parse(
        h[0]["waited_since"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(waited, t0);
    assert_eq!(
        (h[1]["kind"].as_str(), h[1]["reason"].as_str()),
        (Some("released"), Some("客户暂无预算"))
    );
    assert_eq!(h[1]["owner_id"], app.user_id("rep_sh"));

    // Accounts alike: a 华南 pool account is 华南's to claim.
    let account = app
        .create(
            "/api/v1/accounts",
            "admin",
            &json!({"name": "佛山顺德美达电器有限公司", "region": "华南", "owner_id": null})
                .to_string(),
        )
        .await;
    let account_id = account["id"].as_i64().unwrap();
    assert!(account["pool_since"].is_string(), "{account}");
    let (_, pool) = app.get("/api/v1/pool/accounts", "rep_sh").await;
    assert!(!ids(&pool).contains(&account_id));
    let (_, pool) = app.get("/api/v1/pool/accounts", "rep_south").await;
    assert_eq!(ids(&pool), vec![account_id]);
    let (s, a) = app
        .post(
            &format!("/api/v1/accounts/{account_id}/claim"),
            "rep_south",
            "",
        )
        .await;
    assert_eq!(
        (s, &a["owner_id"]),
        (StatusCode::OK, &json!(app.user_id("rep_south")))
    );
    assert_eq!(a["pool_since"], Value::Null);

    // Managers hand pool records to someone in their scope only.
    let (s, out) = app
        .post(
            &format!("/api/v1/leads/{nowhere}/assign"),
            "mgr_east",
            &json!({"user_id": app.user_id("rep_east")}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["record"]["owner_id"], app.user_id("rep_east"));
    let (s, _) = app
        .post(
            &format!("/api/v1/leads/{far}/assign"),
            "mgr_east",
            &json!({"user_id": app.user_id("rep_south")}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(
            &format!("/api/v1/leads/{far}/assign"),
            "rep_sh",
            &json!({"user_id": app.user_id("rep_sh")}).to_string(),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "reps claim, they do not hand over"
    );

    // An owner cleared on the edit form puts the lead in the pool, in its history too.
    let (s, lead) = app
        .patch(
            &format!("/api/v1/leads/{nowhere}"),
            "mgr_east",
            r#"{"owner_id": null}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{lead}");
    assert!(lead["pool_since"].is_string(), "{lead}");
    let (_, history) = app
        .get(&format!("/api/v1/leads/{nowhere}/owner-history"), "admin")
        .await;
    assert_eq!(history[1]["kind"], "released", "{history}");
}

#[tokio::test]
async fn lead_assignment_rules_route_new_leads() {
    let app = TestApp::new().await;
    at(&app, start());
    let rule = app
        .create(
            "/api/v1/assignment-rules",
            "admin",
            &json!({
                "name": "华东线索轮流分配",
                "record_type": "lead",
                "team_id": app.teams["华东"],
                "method": "round_robin",
                "conditions": {"field": "region", "op": "eq", "value": "华东"},
            })
            .to_string(),
        )
        .await;
    assert_eq!(rule["record_type"], "lead");
    let east_reps = [app.user_id("rep_sh"), app.user_id("rep_east")];
    let mut owners = vec![];
    for n in 0..2 {
        let lead = app
            .create(
                "/api/v1/leads",
                "admin",
                &json!({"company_name": format!("华东新线索 {n}"), "region": "华东", "owner_id": null})
                    .to_string(),
            )
            .await;
        let owner = lead["owner_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{lead}"));
        assert!(east_reps.contains(&owner));
        owners.push(owner);
        let (_, history) = app
            .get(
                &format!("/api/v1/leads/{}/owner-history", lead["id"]),
                "admin",
            )
            .await;
        assert_eq!(history[0]["how"], "rule");
        assert_eq!(history[0]["rule_id"], rule["id"]);
        app.state
            .clock
            .set(Some(start() + Duration::minutes(n + 1)));
    }
    owners.sort();
    assert_eq!(owners, east_reps.to_vec(), "round robin: one each");
    // No rule for 华南: the lead waits in the pool. Opportunity rules never take leads.
    let lead = app
        .create(
            "/api/v1/leads",
            "admin",
            &json!({"company_name": "华南新线索", "region": "华南", "owner_id": null}).to_string(),
        )
        .await;
    assert_eq!(lead["owner_id"], Value::Null);
    // A lead rule is checked on the lead's fields.
    let (s, e) = app
        .post(
            "/api/v1/assignment-rules",
            "admin",
            &json!({
                "name": "x", "record_type": "lead", "team_id": app.teams["华东"],
                "conditions": {"field": "amount", "op": "gt", "value": 1},
            })
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e.to_string().contains("conditions"), "{e}");
    let (s, e) = app
        .post(
            "/api/v1/assignment-rules",
            "admin",
            &json!({"name": "x", "record_type": "account", "team_id": app.teams["华东"]})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
}

async fn notes_of(app: &TestApp, login: &str, template: &str, id: i64) -> usize {
    let (_, notes) = app.get("/api/v1/notifications", login).await;
    notes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["payload"]["template_key"] == template && n["record_id"] == id)
        .count()
}

#[tokio::test]
async fn the_lead_sla_alerts_once_and_is_measured() {
    let app = TestApp::new().await;
    let t0 = start();
    at(&app, t0);
    let late = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name": "迟迟未跟进公司"}"#,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let quick = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name": "及时跟进公司"}"#,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    at(&app, t0 + Duration::hours(2));
    let (s, a) = app
        .post(
            "/api/v1/activities",
            "rep_sh",
            &json!({"kind": "call", "summary": "首次电话", "lead_id": quick}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");

    let template = "lead_sla_first_follow_up";
    let t = t0 + Duration::hours(47);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(
        notes_of(&app, "rep_sh", template, late).await,
        0,
        "47 h: in time"
    );
    let t = t0 + Duration::hours(49);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(notes_of(&app, "rep_sh", template, late).await, 1);
    assert_eq!(
        notes_of(&app, "mgr_east", template, late).await,
        1,
        "the manager hears too"
    );
    assert_eq!(notes_of(&app, "rep_sh", template, quick).await, 0);
    let (_, notes) = app.get("/api/v1/notifications", "rep_sh").await;
    let note = notes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["record_id"] == late)
        .unwrap();
    assert_eq!(note["record_kind"], "lead");
    assert_eq!(note["payload"]["link"], format!("/leads/{late}"));
    // Once per lead.
    let t = t0 + Duration::hours(60);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(notes_of(&app, "rep_sh", template, late).await, 1);

    // Measured: one followed up in time, one still waiting past the SLA.
    let (s, sla) = app.get("/api/v1/pool/lead-sla", "mgr_east").await;
    assert_eq!(s, StatusCode::OK, "{sla}");
    assert_eq!(
        (
            &sla["sla_hours"],
            &sla["assigned"],
            &sla["within_sla"],
            &sla["waiting_past_sla"]
        ),
        (&json!(48), &json!(1), &json!(1), &json!(1)),
        "{sla}"
    );
    assert_eq!(sla["median_wait_minutes"], 120);
    let (s, _) = app.get("/api/v1/pool/lead-sla", "rep_sh").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forgotten_leads_and_accounts_go_back_to_the_pool_by_rule() {
    let app = TestApp::new().await;
    let t0 = start();
    at(&app, t0);
    let (_, rules) = app.get("/api/v1/rules", "admin").await;
    for key in [
        "lead_return_no_follow_up_7d",
        "account_return_no_follow_up_30d",
    ] {
        let rule = rules
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["template_key"] == key)
            .unwrap_or_else(|| panic!("{key} is shipped: {rules}"));
        assert_eq!(rule["enabled"], false, "shipped switched off");
        let mut body = rule.clone();
        for k in [
            "id",
            "version",
            "created_at",
            "updated_at",
            "last_fired_at",
            "episode_anchors",
        ] {
            body.as_object_mut().unwrap().remove(k);
        }
        body["enabled"] = json!(true);
        let (s, r) = put(
            &app,
            &format!("/api/v1/rules/{}", rule["id"]),
            "admin",
            body,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let lead = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name": "被遗忘的线索"}"#,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name": "被遗忘的客户"}"#)
        .await["id"]
        .as_i64()
        .unwrap();
    let owner_of = |path: String| {
        let app = &app;
        async move { app.get(&path, "admin").await.1["owner_id"].clone() }
    };
    let t = t0 + Duration::days(6);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(
        owner_of(format!("/api/v1/leads/{lead}")).await,
        app.user_id("rep_sh")
    );
    let t = t0 + Duration::days(7) + Duration::minutes(1);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(owner_of(format!("/api/v1/leads/{lead}")).await, Value::Null);
    assert_eq!(
        notes_of(&app, "rep_sh", "lead_return_no_follow_up_7d", lead).await,
        1
    );
    let (_, history) = app
        .get(&format!("/api/v1/leads/{lead}/owner-history"), "admin")
        .await;
    assert_eq!(history[0]["kind"], "released", "{history}");
    assert!(
        history[0]["reason"].as_str().unwrap().contains("rule"),
        "{history}"
    );
    // The account is followed up on day 20: its 30 days start again.
    at(&app, t0 + Duration::days(20));
    let (s, _) = app
        .post(
            "/api/v1/activities",
            "rep_sh",
            &json!({"kind": "visit", "summary": "拜访", "account_id": account}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let t = t0 + Duration::days(31);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(
        owner_of(format!("/api/v1/accounts/{account}")).await,
        app.user_id("rep_sh")
    );
    let t = t0 + Duration::days(51);
    at(&app, t);
    automation::tick(&app.db, t).await.unwrap();
    assert_eq!(
        owner_of(format!("/api/v1/accounts/{account}")).await,
        Value::Null
    );
}
