//! The funnel review meeting over HTTP: the sections since the last review within the
//! caller's visibility, decisions and action items on a deal (all or nothing), marking a
//! review held. Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::Value;

fn ids(v: &Value, section: &str) -> Vec<i64> {
    v["sections"][section]
        .as_array()
        .unwrap_or_else(|| panic!("no section {section}: {v}"))
        .iter()
        .map(|i| i["opportunity_id"].as_i64().unwrap())
        .collect()
}

async fn deal(app: &TestApp, login: &str, title: &str, extra: &str) -> i64 {
    let account = app
        .create(
            "/api/v1/accounts",
            login,
            &format!(r#"{{"name":"{title} 客户"}}"#),
        )
        .await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            login,
            &format!(
                r#"{{"title":"{title}","account_id":{},{extra}}}"#,
                account["id"]
            ),
        )
        .await;
    opp["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_team_review_since_the_last_one() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let large = deal(
        &app,
        "rep_sh",
        "大单",
        r#""amount_minor":60000000,"close_date":"2030-06-30""#,
    )
    .await;
    let small = deal(
        &app,
        "rep_east",
        "小单",
        r#""amount_minor":12300000,"close_date":"2030-06-30""#,
    )
    .await;
    let late = deal(
        &app,
        "rep_east",
        "逾期",
        r#""amount_minor":100000,"close_date":"2020-01-31""#,
    )
    .await;
    let south = deal(
        &app,
        "rep_south",
        "华南大单",
        r#""amount_minor":90000000,"close_date":"2030-06-30""#,
    )
    .await;
    // The small deal moves forward, grows by ¥27,000 and slips 30 days.
    let (s, v) = app
        .post(&format!("/api/v1/opportunities/{small}/move"), "rep_east", &format!(r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"]}}"#, stages[1]))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .patch(
            &format!("/api/v1/opportunities/{small}"),
            "rep_east",
            r#"{"amount_minor":15000000,"close_date":"2030-07-30"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, r) = app.get("/api/v1/review", "mgr_east").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["team_id"], app.teams["华东"]);
    assert_eq!(
        ids(&r, "new_large"),
        vec![large],
        "¥600,000 ≥ ¥500,000; the 华南 deal is not 华东's"
    );
    assert_eq!(ids(&r, "advanced"), vec![small]);
    assert_eq!(ids(&r, "slipped"), vec![small]);
    assert_eq!(r["sections"]["slipped"][0]["days"], 30);
    assert_eq!(ids(&r, "amount_changed"), vec![small]);
    assert_eq!(r["sections"]["amount_changed"][0]["delta_minor"], 2_700_000);
    assert_eq!(ids(&r, "at_risk"), vec![late]);
    assert_eq!(r["sections"]["at_risk"][0]["risk"], "close_passed");
    assert_eq!(ids(&r, "stuck"), Vec::<i64>::new());
    assert_eq!(r["past"], serde_json::json!([]));
    // A lower threshold: the ¥123,000 → ¥150,000 deal is large too.
    let (_, r2) = app.get("/api/v1/review?large=100000", "mgr_east").await;
    assert_eq!(ids(&r2, "new_large"), vec![large, small]);
    // The admin reviews 华南; a manager of 华东 may not; a rep sees their own deals.
    let (_, r3) = app
        .get(
            &format!("/api/v1/review?team_id={}", app.teams["华南"]),
            "admin",
        )
        .await;
    assert_eq!(ids(&r3, "new_large"), vec![south]);
    let (s, _) = app
        .get(
            &format!("/api/v1/review?team_id={}", app.teams["华南"]),
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, mine) = app.get("/api/v1/review", "rep_east").await;
    assert_eq!(mine["own_only"], true);
    assert_eq!(ids(&mine, "new_large"), Vec::<i64>::new());
    assert_eq!(ids(&mine, "advanced"), vec![small]);
    assert_eq!(mine["can_hold"], false);
    // Bad parameters.
    for (q, code) in [
        ("bogus=1", "unknown_parameter"),
        ("large=abc", "invalid_amount"),
        ("team_id=x", "invalid_parameter"),
    ] {
        let (s, e) = app.get(&format!("/api/v1/review?{q}"), "mgr_east").await;
        assert_eq!(
            (s, e["code"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, code),
            "{q}"
        );
    }
}

#[tokio::test]
async fn decisions_and_action_items_then_the_review_is_held() {
    let app = TestApp::new().await;
    let large = deal(
        &app,
        "rep_east",
        "大单",
        r#""amount_minor":60000000,"close_date":"2030-06-30""#,
    )
    .await;
    let rep = app.user_id("rep_east");
    let body = format!(
        r#"{{"opportunity_id":{large},"decision":"  申请特价，周五前报价  ","action_items":[{{"title":"发修订报价","assignee_id":{rep},"due_date":"2030-01-10"}}]}}"#
    );
    let (s, d) = app
        .post("/api/v1/review/decisions", "mgr_east", &body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["decision"], "申请特价，周五前报价");
    let task_id = d["task_ids"][0].as_i64().unwrap();
    // The task is on the deal, for the rep; the decision is on the deal's history.
    let (s, t) = app
        .get(&format!("/api/v1/tasks/{task_id}"), "rep_east")
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (
            t["title"].as_str(),
            t["record_id"].as_i64(),
            t["due_date"].as_str()
        ),
        (Some("发修订报价"), Some(large), Some("2030-01-10"))
    );
    let (_, evs) = app
        .get(&format!("/api/v1/opportunities/{large}/events"), "rep_east")
        .await;
    let decision = evs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "review_decision")
        .expect("a review_decision event");
    assert_eq!(decision["new_value"]["decision"], "申请特价，周五前报价");
    assert_eq!(decision["actor_id"], app.user_id("mgr_east"));
    // The review shows it beside the deal.
    let (_, r) = app.get("/api/v1/review", "mgr_east").await;
    let d0 = r["deals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == large)
        .unwrap();
    assert_eq!(d0["decisions"][0]["text"], "申请特价，周五前报价");

    // Refused, with nothing written: an assignee outside the manager's teams.
    let events_before = evs.as_array().unwrap().len();
    let outsider = app.user_id("rep_south");
    let (s, e) = app
        .post("/api/v1/review/decisions", "mgr_east", &format!(r#"{{"opportunity_id":{large},"decision":"再议","action_items":[{{"title":"x","assignee_id":{outsider}}}]}}"#))
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("action_items[0].assignee_id")
        ),
        "{e}"
    );
    let (_, evs) = app
        .get(&format!("/api/v1/opportunities/{large}/events"), "rep_east")
        .await;
    assert_eq!(
        evs.as_array().unwrap().len(),
        events_before,
        "no decision written"
    );
    for (body, status, code) in [
        (
            format!(r#"{{"opportunity_id":{large},"decision":"  "}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
        ),
        (
            format!(r#"{{"opportunity_id":{large},"decision":"x","color":"red"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
        ),
        (
            format!(r#"{{"opportunity_id":{large},"action_items":[{{"title":""}}]}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
        ),
    ] {
        let (s, e) = app
            .post("/api/v1/review/decisions", "mgr_east", &body)
            .await;
        assert_eq!(
            (s, e["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}: {e}"
        );
    }
    let (s, _) = app
        .post(
            "/api/v1/review/decisions",
            "mgr_south",
            &format!(r#"{{"opportunity_id":{large},"decision":"x"}}"#),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another team's deal");

    // Marking the review held: not by a rep; then the next review starts there.
    let (s, e) = app.post("/api/v1/reviews", "rep_east", "{}").await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("managers_only"))
    );
    let (s, h) = app
        .post(
            "/api/v1/reviews",
            "mgr_east",
            r#"{"notes":"本周重点：大单"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    assert_eq!(h["team_id"], app.teams["华东"]);
    let (_, r) = app.get("/api/v1/review", "mgr_east").await;
    assert_eq!(r["since"], h["held_at"]);
    assert_eq!(ids(&r, "new_large"), Vec::<i64>::new(), "nothing new since");
    assert!(r["deals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["decisions"] == serde_json::json!([])));
    assert_eq!(r["past"][0]["notes"], "本周重点：大单");
    let (_, list) = app.get("/api/v1/reviews", "director").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "the director's default team is 总公司, not 华东"
    );
    let (_, list) = app
        .get(
            &format!("/api/v1/reviews?team_id={}", app.teams["华东"]),
            "director",
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_review_page_records_a_decision_and_is_marked_held() {
    let app = TestApp::new().await;
    let large = deal(
        &app,
        "rep_east",
        "华东大单",
        r#""amount_minor":70000000,"close_date":"2030-06-30""#,
    )
    .await;
    let b = common::browser::browser(&app, "mgr_east").await;
    let page = b.get("/review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("漏斗回顾会议") && page.body.contains("首次回顾"),
        "{}",
        page.body
    );
    let new_large = common::browser::between(&page.body, "id=\"sec-new_large\"", "</details>");
    assert!(
        new_large.contains("华东大单") && new_large.contains("¥700,000"),
        "{new_large}"
    );
    let team = app.teams["华东"].to_string();
    let id = large.to_string();
    let rep = app.user_id("rep_east").to_string();
    // A refused form keeps what was typed and says why, beside the deal.
    let r = b
        .post(
            "/review/decisions",
            &[
                ("team_id", &team),
                ("opportunity_id", &id),
                ("decision", ""),
                ("action", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        common::browser::between(&r.body, &format!("id=\"deal-{id}\""), "</article>")
            .contains("请填写决定或行动项")
    );
    let r = b
        .post(
            "/review/decisions",
            &[
                ("team_id", &team),
                ("opportunity_id", &id),
                ("decision", "争取本月签约"),
                ("action", "约见采购总监"),
                ("assignee_id", &rep),
                ("due_date", "2030-01-15"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(r.location.as_deref().unwrap()).await;
    assert!(
        common::browser::between(&page.body, &format!("id=\"deal-{id}\""), "</article>")
            .contains("争取本月签约")
    );
    let (_, tasks) = app.get("/api/v1/tasks", "rep_east").await;
    assert!(tasks.to_string().contains("约见采购总监"), "{tasks}");
    let opp_page = b.get(&format!("/opportunities/{id}")).await;
    assert!(
        opp_page.body.contains("回顾会议决定：争取本月签约"),
        "on the deal's timeline"
    );
    let r = b
        .post("/review/held", &[("team_id", &team), ("notes", "周会")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get(r.location.as_deref().unwrap()).await;
    assert!(page.body.contains("已记录本次回顾") && page.body.contains("周会"));
    assert!(
        !common::browser::between(&page.body, "id=\"sec-new_large\"", "</details>")
            .contains("华东大单")
    );
    // A rep's page has no "mark held" form.
    let rep_page = common::browser::browser(&app, "rep_east")
        .await
        .get("/review")
        .await;
    assert!(rep_page.body.contains("漏斗回顾会议") && !rep_page.body.contains("rv-hold"));
}

#[tokio::test]
async fn the_review_page_opens_decision_forms_on_demand_and_caps_its_tables() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let close = common::close_date();
        ids.push(
            deal(
                &app,
                "rep_east",
                &format!("大单{i:02}"),
                &format!(
                    r#""amount_minor":{},"close_date":"{close}""#,
                    70_000_000 + i
                ),
            )
            .await,
        );
    }
    let b = common::browser::browser(&app, "mgr_east").await;
    let page = b.get("/review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("class=\"review-decide"),
        "no form until asked for"
    );
    let new_large = common::browser::between(&page.body, "id=\"sec-new_large\"", "</details>");
    assert!(new_large.contains("(12)"), "{new_large}");
    assert_eq!(
        new_large.matches("<tr>").count() - 1,
        10,
        "ten rows, then a link"
    );
    assert!(new_large.contains("all=new_large"), "{new_large}");
    let all = b.get("/review?all=new_large").await;
    let new_large = common::browser::between(&all.body, "id=\"sec-new_large\"", "</details>");
    assert_eq!(new_large.matches("<tr>").count() - 1, 12);

    // A deal's form, as its row's link loads it.
    let team = app.teams["华东"];
    let id = ids[0];
    let r = b
        .get(&format!(
            "/review/deal?team_id={team}&large=&opportunity_id={id}&section=new_large&columns=6"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r
        .body
        .starts_with("<tr class=\"review-form-row\"><td colspan=\"6\">"));
    assert!(r.body.contains(&format!("id=\"decide-new_large-{id}\"")));
    assert!(r.body.contains("name=\"decision\"") && r.body.contains("大单00"));
    // Without a script: the page with that deal's form open.
    let page = b.get(&format!("/review?decide={id}")).await;
    assert_eq!(page.body.matches("class=\"review-decide").count(), 1);
    assert!(page.body.contains(&format!("id=\"deal-{id}\"")));
    // A deal outside the review (or the viewer's sight) is not found.
    let r = b
        .get(&format!(
            "/review/deal?team_id={team}&opportunity_id=999999"
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
