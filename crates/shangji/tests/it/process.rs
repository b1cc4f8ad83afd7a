//! The sales process over HTTP: stage gates, transition policy, standard actions, win/loss,
//! pipeline configuration and loss reasons. Runs on SQLite, and on PostgreSQL when
//! `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::Value;

fn missing_fields(err: &Value) -> Vec<String> {
    err["missing"]
        .as_array()
        .unwrap_or_else(|| panic!("no missing list in {err}"))
        .iter()
        .map(|m| m["field"].as_str().unwrap().to_string())
        .collect()
}

use common::kinds;

#[tokio::test]
async fn a_gate_lists_exactly_what_is_missing_then_takes_it_with_the_move() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "空压机").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let events_before = app.get(&format!("{url}/events"), "rep_sh").await.1;

    // Skipping to Proposal: the gates of Needs analysis and Proposal, and nothing else.
    let to_proposal = format!(
        r#"{{"stage_id":{},"set":{{"close_date":null}}}}"#,
        stages[2]
    );
    let (s, err) = app
        .post(&format!("{url}/move"), "rep_sh", &to_proposal)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["code"], "gate_unmet");
    assert_eq!(
        missing_fields(&err),
        [
            "checklist.need_confirmed",
            "close_date",
            "checklist.budget_confirmed",
            "checklist.decision_maker_identified",
            "checklist.timeline_known",
        ]
    );
    // Messages in the caller's language: Chinese by default, English when asked.
    assert_eq!(err["missing"][1]["message"], "请填写：预计成交日期");
    let (_, err_en) = app
        .call_with(
            Method::POST,
            &format!("{url}/move"),
            Some("rep_sh"),
            Some(&to_proposal),
            &[("accept-language", "en-US,en;q=0.9")],
        )
        .await;
    assert_eq!(
        err_en["missing"][0]["message"], "Confirm: Need confirmed",
        "{err_en}"
    );
    // Nothing changed, nothing recorded.
    assert_eq!(app.get(&url, "rep_sh").await.1, opp);
    assert_eq!(
        app.get(&format!("{url}/events"), "rep_sh").await.1,
        events_before
    );

    // The same move with the values: moved, values and events stored together. The new close
    // date is the day after the fixture's.
    let close = (common::close_date() + time::Duration::days(1)).to_string();
    let (s, moved) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"],"set":{{"close_date":"{close}","amount_minor":45000000}}}}"#,
                stages[2]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(moved["stage_id"], stages[2]);
    assert_eq!(moved["close_date"], close.as_str());
    assert_eq!(moved["amount"]["amount_minor"], 45000000);
    assert_eq!(moved["checklist"].as_array().unwrap().len(), 4);
    let (_, events) = app.get(&format!("{url}/events"), "rep_sh").await;
    assert_eq!(
        kinds(&events)[1..],
        [
            "amount_changed",
            "close_date_changed",
            "checklist_changed",
            "stage_changed",
            "probability_changed",
            "forecast_category_changed"
        ]
    );

    // Entering Proposal created the owner's task "发送方案", tied to its standard action.
    let (_, tasks) = app
        .get(&format!("/api/v1/tasks?record_id={}", opp["id"]), "rep_sh")
        .await;
    let task = tasks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["action_key"] == "send_proposal")
        .unwrap_or_else(|| panic!("no proposal task in {tasks}"))
        .clone();
    assert_eq!(task["title"], "发送方案");
    assert_eq!(task["assignee_id"], app.user_id("rep_sh"));

    // Leaving Proposal needs the proposal sent: doing the task is enough.
    let to_negotiation = format!(
        r#"{{"stage_id":{},"checklist":["proposal_accepted"]}}"#,
        stages[3]
    );
    let (s, err) = app
        .post(&format!("{url}/move"), "rep_sh", &to_negotiation)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing_fields(&err), ["actions.send_proposal"]);
    let (s, done) = app
        .patch(
            &format!("/api/v1/tasks/{}", task["id"]),
            "rep_sh",
            r#"{"done":true}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let (s, moved) = app
        .post(&format!("{url}/move"), "rep_sh", &to_negotiation)
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");

    // Won needs an amount.
    let (s, err) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(r#"{{"stage_id":{},"set":{{"amount_minor":0}}}}"#, stages[4]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing_fields(&err), ["amount_minor"]);
}

#[tokio::test]
async fn lost_needs_a_reason_from_the_taxonomy() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "注塑机").await;
    let url = format!("/api/v1/opportunities/{}/move", opp["id"]);
    for (body, want) in [
        (
            format!(r#"{{"stage_id":{}}}"#, stages[5]),
            "loss_reason_required",
        ),
        (
            format!(r#"{{"stage_id":{},"loss_reason":"天气"}}"#, stages[5]),
            "unknown_loss_reason",
        ),
    ] {
        let (s, err) = app.post(&url, "rep_sh", &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["missing"][0]["code"], want);
    }
    let (s, lost) = app
        .post(
            &url,
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"loss_reason":"competitor","competitor":"某德国品牌","loss_note":"技术参数落后"}}"#,
                stages[5]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{lost}");
    assert_eq!(
        (
            &lost["loss_reason"],
            &lost["competitor"],
            &lost["loss_note"]
        ),
        (
            &Value::from("competitor"),
            &Value::from("某德国品牌"),
            &Value::from("技术参数落后")
        )
    );
    let (_, reasons) = app.get("/api/v1/loss-reasons", "rep_sh").await;
    assert_eq!(reasons.as_array().unwrap().len(), 8);
    assert_eq!(reasons[0]["name_zh"], "价格");
}

#[tokio::test]
async fn policy_refuses_skips_backward_moves_and_roles() {
    let app = TestApp::new().await;
    // A tender pipeline (no skipping), without backward moves, and Negotiation for managers.
    let (s, p) = app
        .post(
            "/api/v1/pipelines",
            "admin",
            r#"{"name":"政府项目","template":"tender","policy":{"allow_skip":false,"allow_backward":false}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_i64().unwrap();
    let st: Vec<i64> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let names: Vec<&str> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name_zh"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "立项",
            "关键人拜访",
            "方案",
            "投标",
            "商务谈判",
            "赢单",
            "输单"
        ]
    );
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pid}/stages/{}", st[1]),
            "admin",
            // The gate is replaced whole: the roles, and no checklist any more.
            r#"{"gate":{"allowed_roles":["manager","director"]}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"市政工程局"}"#)
        .await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &format!(
                r#"{{"title":"智慧水务","account_id":{},"pipeline_id":{pid},"amount_minor":800000000}}"#,
                account["id"]
            ),
        )
        .await;
    let url = format!("/api/v1/opportunities/{}/move", opp["id"]);
    let (s, err) = app
        .post(&url, "rep_sh", &format!(r#"{{"stage_id":{}}}"#, st[2]))
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("skip_not_allowed"))
    );
    let (s, err) = app
        .post(&url, "rep_sh", &format!(r#"{{"stage_id":{}}}"#, st[1]))
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("stage_role_forbidden"))
    );
    let (s, moved) = app
        .post(&url, "mgr_east", &format!(r#"{{"stage_id":{}}}"#, st[1]))
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    let (s, err) = app
        .post(&url, "rep_sh", &format!(r#"{{"stage_id":{}}}"#, st[0]))
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("backward_not_allowed")
        )
    );
}

#[tokio::test]
async fn admins_configure_pipelines_without_code() {
    let app = TestApp::new().await;
    // Reps and managers may not configure.
    for who in ["rep_sh", "mgr_east"] {
        let (s, err) = app
            .post("/api/v1/pipelines", who, r#"{"name":"x","template":"b2b"}"#)
            .await;
        assert_eq!(
            (s, err["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("admin_only"))
        );
    }
    let (_, templates) = app.get("/api/v1/pipeline-templates", "rep_sh").await;
    let keys: Vec<&str> = templates
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["b2b", "transactional", "tender"]);

    // A pipeline from stages, with a gate on a custom checklist and a standard action.
    let body = r#"{"name":"渠道代理","stages":[
        {"name_zh":"意向","name_en":"Interest","kind":"open","probability":20,"forecast_category":"pipeline"},
        {"name_zh":"签约谈判","name_en":"Contract talks","kind":"open","probability":60,"forecast_category":"commit",
         "gate":{"required_fields":["next_step"],"checklist":[{"key":"credit_checked","label_zh":"资信已审核","label_en":"Credit checked"}]},
         "actions":[{"key":"send_contract","name_zh":"发送代理合同","name_en":"Send the contract","create_task":true,"due_working_days":2,"required_to_leave":true}]},
        {"name_zh":"签约","name_en":"Signed","kind":"won","probability":100,"forecast_category":"closed"},
        {"name_zh":"放弃","name_en":"Dropped","kind":"lost","probability":0,"forecast_category":"omitted"}]}"#;
    let (s, p) = app.post("/api/v1/pipelines", "admin", body).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_i64().unwrap();
    let ids: Vec<i64> = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();

    // Bad configurations are refused, naming the place.
    for (path, method, body, field, code) in [
        (
            "/api/v1/pipelines".to_string(),
            Method::POST,
            r#"{"name":"坏","stages":[{"name_zh":"甲","name_en":"A","kind":"open","probability":10,"forecast_category":"pipeline"}]}"#.to_string(),
            "stages",
            "invalid_stages",
        ),
        (
            "/api/v1/pipelines".to_string(),
            Method::POST,
            r#"{"name":"坏","template":"saas"}"#.to_string(),
            "template",
            "unknown_template",
        ),
        (
            format!("/api/v1/pipelines/{pid}/stages/{}", ids[1]),
            Method::PATCH,
            r#"{"probability":150}"#.to_string(),
            "probability",
            "out_of_range",
        ),
        (
            format!("/api/v1/pipelines/{pid}/stages/{}", ids[1]),
            Method::PATCH,
            r#"{"gate":{"required_fields":["budget"]}}"#.to_string(),
            "gate.required_fields[0]",
            "unknown_field",
        ),
        (
            format!("/api/v1/pipelines/{pid}/stage-order"),
            Method::PUT,
            format!(r#"{{"stage_ids":[{}]}}"#, ids[0]),
            "stage_ids",
            "stage_list_mismatch",
        ),
    ] {
        let (s, err) = app.call(method, &path, Some("admin"), Some(&body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(
            (err["field"].as_str(), err["code"].as_str()),
            (Some(field), Some(code)),
            "{body}"
        );
    }

    // Add a stage before the won stage, reorder, rename.
    let (s, p) = app
        .post(
            &format!("/api/v1/pipelines/{pid}/stages"),
            "admin",
            r#"{"name_zh":"样品测试","name_en":"Sample test","kind":"open","probability":40,"forecast_category":"best_case"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let names = |p: &Value| -> Vec<String> {
        p["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name_zh"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&p), ["意向", "签约谈判", "样品测试", "签约", "放弃"]);
    let sample = p["stages"][2]["id"].as_i64().unwrap();
    let (s, p) = app
        .call(
            Method::PUT,
            &format!("/api/v1/pipelines/{pid}/stage-order"),
            Some("admin"),
            Some(&format!(
                r#"{{"stage_ids":[{},{sample},{},{},{}]}}"#,
                ids[0], ids[1], ids[2], ids[3]
            )),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(names(&p), ["意向", "样品测试", "签约谈判", "签约", "放弃"]);

    // A stage in use: renamed and archived, never deleted, its kind fixed.
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"代理商甲"}"#)
        .await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &format!(
                r#"{{"title":"华东代理","account_id":{},"pipeline_id":{pid}}}"#,
                account["id"]
            ),
        )
        .await;
    assert_eq!(opp["stage_id"], ids[0]);
    let stage_url = format!("/api/v1/pipelines/{pid}/stages/{}", ids[0]);
    let (s, err) = app
        .call(Method::DELETE, &stage_url, Some("admin"), None)
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stage_in_use"))
    );
    let (s, err) = app.patch(&stage_url, "admin", r#"{"kind":"won"}"#).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stage_in_use"))
    );
    let (s, p) = app
        .patch(
            &stage_url,
            "admin",
            r#"{"name_zh":"初步意向","guidance":"三天内回访"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["stages"][0]["name_zh"], "初步意向");
    let (s, p) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/pipelines/{pid}/stages/{sample}"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "an unused stage is deleted: {p}");
    assert_eq!(p["stages"].as_array().unwrap().len(), 4);
    let (_, got) = app
        .get(&format!("/api/v1/opportunities/{}", opp["id"]), "rep_sh")
        .await;
    assert_eq!(got["stage_id"], ids[0], "the opportunity keeps its stage");

    // The new gate works at once: next step and the checklist item.
    let (s, err) = app
        .post(
            &format!("/api/v1/opportunities/{}/move", opp["id"]),
            "rep_sh",
            &format!(r#"{{"stage_id":{}}}"#, ids[1]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing_fields(&err),
        ["next_step", "checklist.credit_checked"]
    );

    // Moved into another pipeline with a stage mapping, by a manager, recorded.
    let stages = app.stage_ids().await;
    let default_pid = app.get("/api/v1/pipelines", "admin").await.1[0]["id"].clone();
    let change = format!(
        r#"{{"pipeline_id":{default_pid},"stage_id":{}}}"#,
        stages[1]
    );
    let url = format!("/api/v1/opportunities/{}/change-pipeline", opp["id"]);
    let (s, _) = app.post(&url, "rep_sh", &change).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, changed) = app.post(&url, "mgr_east", &change).await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(
        (
            changed["pipeline_id"].as_i64(),
            changed["stage_id"].as_i64()
        ),
        (default_pid.as_i64(), Some(stages[1]))
    );
    let (_, events) = app
        .get(
            &format!("/api/v1/opportunities/{}/events", opp["id"]),
            "rep_sh",
        )
        .await;
    assert!(kinds(&events).contains(&"pipeline_changed".to_string()));

    // Loss reasons: added, renamed, archived; an archived one is refused on a move.
    let (s, r) = app
        .post(
            "/api/v1/loss-reasons",
            "admin",
            r#"{"key":"delivery","name_zh":"交期","name_en":"Delivery time"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = app
        .patch(
            &format!("/api/v1/loss-reasons/{}", r["id"]),
            "admin",
            r#"{"name_zh":"交货期","archived":true}"#,
        )
        .await;
    assert_eq!((s, &r["name_zh"]), (StatusCode::OK, &Value::from("交货期")));
    let (s, err) = app
        .post(
            &format!("/api/v1/opportunities/{}/move", opp["id"]),
            "rep_sh",
            &format!(r#"{{"stage_id":{},"loss_reason":"delivery"}}"#, stages[5]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["missing"][0]["code"], "unknown_loss_reason");
    let (s, _) = app
        .post(
            "/api/v1/loss-reasons",
            "rep_sh",
            r#"{"key":"x","name_zh":"x","name_en":"x"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn approvals_hold_a_move_until_the_chain_approves() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    // Big deals entering Negotiation need the owner's manager, then the director.
    let (s, policy) = app
        .post(
            "/api/v1/approval-policies",
            "admin",
            &format!(
                r#"{{"name":"百万大单","stage_id":{},"conditions":[{{"field":"amount_minor","op":"gte","value":100000000}}],"chain":[{{"kind":"owner_manager"}},{{"kind":"director"}}]}}"#,
                stages[3]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{policy}");
    let (s, _) = app
        .post(
            "/api/v1/approval-policies",
            "rep_sh",
            r#"{"name":"x","chain":[{"kind":"director"}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (_, opp) = app.account_and_opportunity("rep_sh", "生产线改造").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let (s, _) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"],"actions_done":["send_proposal"]}}"#,
                stages[2]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // ¥1,500,000 into Negotiation: held for approval.
    let big_move = format!(
        r#"{{"stage_id":{},"checklist":["proposal_accepted"],"set":{{"amount_minor":150000000,"next_step":"签合同"}}}}"#,
        stages[3]
    );
    let (s, waiting) = app.post(&format!("{url}/move"), "rep_sh", &big_move).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{waiting}");
    assert_eq!(waiting["code"], "approval_requested");
    let req = &waiting["approval"];
    assert_eq!(
        req["approver_ids"],
        serde_json::json!([app.user_id("mgr_east"), app.user_id("director")])
    );
    let req_url = format!("/api/v1/approvals/{}", req["id"]);
    // The opportunity stays where it is, values unapplied; the request is in its history.
    let (_, now) = app.get(&url, "rep_sh").await;
    assert_eq!(
        (now["stage_id"].as_i64(), &now["amount"]["amount_minor"]),
        (Some(stages[2]), &opp["amount"]["amount_minor"])
    );
    let (_, events) = app.get(&format!("{url}/events"), "rep_sh").await;
    assert_eq!(kinds(&events).last().unwrap(), "approval_requested");
    // One pending request per opportunity, and no other move while it waits.
    let (s, err) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(r#"{{"stage_id":{},"loss_reason":"price"}}"#, stages[5]),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("approval_pending"))
    );
    let (s, err) = app.post(&format!("{url}/move"), "rep_sh", &big_move).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("approval_pending"))
    );

    // The inbox of the manager has it, the other manager's does not; the manager is told.
    let (_, inbox) = app.get("/api/v1/approvals", "mgr_east").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert!(app
        .get("/api/v1/approvals", "mgr_south")
        .await
        .1
        .as_array()
        .unwrap()
        .is_empty());
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    assert_eq!(notes[0]["kind"], "approval_requested");
    let (s, _) = app
        .post(&format!("{req_url}/approve"), "director", "{}")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not the director's turn yet");
    let (s, _) = app.get(&req_url, "rep_south").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "outside the request and the deal");

    // Manager approves, director rejects: nothing moves, the requester learns why.
    let (s, r) = app
        .post(
            &format!("{req_url}/approve"),
            "mgr_east",
            r#"{"comment":"同意"}"#,
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str(), r["step"].as_i64()),
        (StatusCode::OK, Some("pending"), Some(1))
    );
    let (s, r) = app
        .post(
            &format!("{req_url}/reject"),
            "director",
            r#"{"comment":"折扣太大"}"#,
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    assert_eq!(app.get(&url, "rep_sh").await.1["stage_id"], stages[2]);
    let (_, notes) = app.get("/api/v1/notifications", "rep_sh").await;
    assert_eq!(notes[0]["kind"], "approval_rejected");
    assert_eq!(notes[0]["payload"]["comment"], "折扣太大");
    let (s, _) = app
        .post(&format!("{req_url}/approve"), "director", "{}")
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a closed request takes no decision"
    );

    // Asked again and approved by both: moved with the values sent at request time.
    let (_, waiting) = app.post(&format!("{url}/move"), "rep_sh", &big_move).await;
    let req_url = format!("/api/v1/approvals/{}", waiting["approval"]["id"]);
    app.post(&format!("{req_url}/approve"), "mgr_east", "{}")
        .await;
    let (s, r) = app
        .post(&format!("{req_url}/approve"), "director", "")
        .await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{r}"
    );
    let (_, moved) = app.get(&url, "rep_sh").await;
    assert_eq!(
        (
            moved["stage_id"].as_i64(),
            moved["amount"]["amount_minor"].as_i64(),
            moved["next_step"].as_str()
        ),
        (Some(stages[3]), Some(150000000), Some("签合同"))
    );
    let (_, events) = app.get(&format!("{url}/events"), "rep_sh").await;
    let tail: Vec<String> = kinds(&events).into_iter().rev().take(8).collect();
    assert!(
        tail.contains(&"stage_changed".to_string())
            && tail.contains(&"approval_decided".to_string()),
        "{tail:?}"
    );
    let stage_change = events
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["kind"] == "stage_changed")
        .unwrap();
    assert_eq!(
        stage_change["actor_id"],
        app.user_id("rep_sh"),
        "the requester's move"
    );
    let (_, notes) = app.get("/api/v1/notifications", "rep_sh").await;
    assert_eq!(notes[0]["kind"], "approval_approved");
    let (s, _) = app
        .post(
            &format!("/api/v1/notifications/{}/read", notes[0]["id"]),
            "rep_sh",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(app.get("/api/v1/notifications", "rep_sh").await.1[0]["read_at"].is_string());

    // A stage whose gate asks for approval; the requester withdraws: nothing changes.
    let pipeline_id = app.get("/api/v1/pipelines", "admin").await.1[0]["id"].clone();
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[4]),
            "admin",
            r#"{"gate":{"requires_approval":true}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, waiting) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(r#"{{"stage_id":{}}}"#, stages[4]),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{waiting}");
    let req_url = format!("/api/v1/approvals/{}", waiting["approval"]["id"]);
    let (s, _) = app
        .post(&format!("{req_url}/withdraw"), "mgr_east", "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the requester withdraws");
    let (s, r) = app.post(&format!("{req_url}/withdraw"), "rep_sh", "").await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
    assert_eq!(app.get(&url, "rep_sh").await.1["stage_id"], stages[3]);
    let (_, sent) = app.get("/api/v1/approvals?box=sent", "rep_sh").await;
    assert_eq!(sent.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_pipeline_migrates_into_another_by_stage_mapping() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, quick) = app
        .post(
            "/api/v1/pipelines",
            "admin",
            r#"{"name":"快速成交","template":"transactional"}"#,
        )
        .await;
    let pid = quick["id"].as_i64().unwrap();
    let q: Vec<i64> = quick["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"配件经销商"}"#)
        .await;
    let mut ids = vec![];
    for title in ["滤芯", "皮带"] {
        let o = app
            .create(
                "/api/v1/opportunities",
                "rep_sh",
                &format!(
                    r#"{{"title":"{title}","account_id":{},"pipeline_id":{pid},"amount_minor":500000}}"#,
                    account["id"]
                ),
            )
            .await;
        ids.push(o["id"].as_i64().unwrap());
    }
    let url = format!("/api/v1/pipelines/{pid}/migrate");
    let default_pid = app.get("/api/v1/pipelines", "admin").await.1[0]["id"].clone();
    let partial = format!(
        r#"{{"to_pipeline_id":{default_pid},"mapping":[{{"from_stage_id":{},"to_stage_id":{}}}]}}"#,
        q[0], stages[0]
    );
    let (s, err) = app.post(&url, "admin", &partial).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("incomplete_mapping"))
    );
    let full = format!(
        r#"{{"to_pipeline_id":{default_pid},"mapping":[{}]}}"#,
        [
            (q[0], stages[0]),
            (q[1], stages[2]),
            (q[2], stages[4]),
            (q[3], stages[5])
        ]
        .iter()
        .map(|(f, t)| format!(r#"{{"from_stage_id":{f},"to_stage_id":{t}}}"#))
        .collect::<Vec<_>>()
        .join(",")
    );
    let (s, _) = app.post(&url, "mgr_east", &full).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, done) = app.post(&url, "admin", &full).await;
    assert_eq!(
        (s, done["moved"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{done}"
    );
    for id in ids {
        let (_, o) = app
            .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
            .await;
        assert_eq!(
            (&o["pipeline_id"], o["stage_id"].as_i64()),
            (&default_pid, Some(stages[0]))
        );
        let (_, events) = app
            .get(&format!("/api/v1/opportunities/{id}/events"), "rep_sh")
            .await;
        assert_eq!(
            kinds(&events)[1..],
            ["pipeline_changed", "probability_changed"],
            "20% → 10%; both stages forecast `pipeline`"
        );
    }
}

#[tokio::test]
async fn custom_fields_work_in_gates_and_approval_policies() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    for body in [
        r#"{"record_kind":"opportunity","key":"budget_source","label_zh":"资金来源","label_en":"Budget source","field_type":"single_select","options":[{"value":"自有资金"},{"value":"银行贷款"}]}"#,
        r#"{"record_kind":"opportunity","key":"discount","label_zh":"折扣率","label_en":"Discount","field_type":"integer"}"#,
    ] {
        let (s, v) = app.post("/api/v1/custom-fields", "admin", body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // Needs analysis asks for the budget source; a discount over 20% into Proposal needs the
    // manager.
    let pipeline_id = app.get("/api/v1/pipelines", "admin").await.1[0]["id"].clone();
    let (s, err) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"required_fields":["custom.nope"]}}"#,
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_field"))
    );
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"required_fields":["custom.budget_source"]}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(
            "/api/v1/approval-policies",
            "admin",
            r#"{"name":"大折扣","conditions":[{"field":"custom.discount","op":"gt","value":20}],"chain":[{"kind":"owner_manager"}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (_, opp) = app.account_and_opportunity("rep_sh", "冷水机组").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let to_needs = format!(r#"{{"stage_id":{}}}"#, stages[1]);
    let (s, err) = app.post(&format!("{url}/move"), "rep_sh", &to_needs).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["missing"][0]["field"], "custom.budget_source");
    assert_eq!(err["missing"][0]["message"], "请填写：资金来源");
    // A bad value sent with the move names its place and changes nothing.
    let (s, err) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"set":{{"custom":{{"budget_source":"众筹"}}}}}}"#,
                stages[1]
            ),
        )
        .await;
    assert_eq!(
        (s, err["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("set.custom.budget_source")
        )
    );
    assert_eq!(app.get(&url, "rep_sh").await.1, opp);
    let (s, moved) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"set":{{"custom":{{"budget_source":"银行贷款"}}}}}}"#,
                stages[1]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(moved["custom"]["budget_source"], "银行贷款");
    assert_eq!(app.get(&url, "rep_sh").await.1, moved);
    let (_, events) = app.get(&format!("{url}/events"), "rep_sh").await;
    assert_eq!(
        kinds(&events)[1..3],
        ["custom_field_changed", "stage_changed"]
    );

    // 25% off into Proposal: held for the manager; the discount waits with the move.
    let (s, waiting) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["budget_confirmed","decision_maker_identified","timeline_known"],"set":{{"custom":{{"discount":25}}}}}}"#,
                stages[2]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{waiting}");
    assert!(app.get(&url, "rep_sh").await.1["custom"]
        .get("discount")
        .is_none());
    let (s, r) = app
        .post(
            &format!("/api/v1/approvals/{}/approve", waiting["approval"]["id"]),
            "mgr_east",
            "{}",
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{r}"
    );
    let (_, now) = app.get(&url, "rep_sh").await;
    assert_eq!(
        (now["stage_id"].as_i64(), &now["custom"]["discount"]),
        (Some(stages[2]), &serde_json::json!(25))
    );
    let (_, found) = app
        .get("/api/v1/opportunities?cf.discount_from=21", "rep_sh")
        .await;
    assert_eq!(found["total"], 1);
}

#[tokio::test]
async fn checklist_and_action_keys_left_empty_are_made_from_the_labels_and_kept() {
    let app = TestApp::new().await;
    let body = r#"{"name":"代理渠道","stages":[
        {"name_zh":"意向","name_en":"Interest","kind":"open","probability":20,"forecast_category":"pipeline",
         "gate":{"checklist":[{"label_zh":"资信已审核","label_en":"Credit checked"}]}},
        {"name_zh":"谈判","name_en":"Talks","kind":"open","probability":60,"forecast_category":"commit",
         "gate":{"checklist":[{"key":"","label_zh":"资信已复核","label_en":"Credit checked"},{"label_zh":"合同已审批","label_en":"合同已审批"}]},
         "actions":[{"name_zh":"发送代理合同","name_en":"Send the contract"}]},
        {"name_zh":"签约","name_en":"Signed","kind":"won","probability":100,"forecast_category":"closed"},
        {"name_zh":"放弃","name_en":"Dropped","kind":"lost","probability":0,"forecast_category":"omitted"}]}"#;
    let (s, p) = app.post("/api/v1/pipelines", "admin", body).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let checklist = |p: &Value, i: usize| -> Vec<String> {
        p["stages"][i]["gate"]["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(checklist(&p, 0), ["credit_checked"]);
    assert_eq!(checklist(&p, 1), ["credit_checked_2", "he_tong_yi_shen_pi"]);
    assert_eq!(p["stages"][1]["actions"][0]["key"], "send_the_contract");

    // Edited without keys (as a form that shows none would send it): the keys stay, a new
    // item gets its own.
    let (pid, sid) = (
        p["id"].as_i64().unwrap(),
        p["stages"][1]["id"].as_i64().unwrap(),
    );
    let patch = r#"{"gate":{"checklist":[
        {"label_zh":"资信已复核（财务）","label_en":"Credit checked"},
        {"label_zh":"合同已审批","label_en":"Contract approved"},
        {"label_zh":"付款条件已确认","label_en":"Payment terms agreed"}]}}"#;
    let (s, p) = app
        .patch(
            &format!("/api/v1/pipelines/{pid}/stages/{sid}"),
            "admin",
            patch,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let stage = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["id"] == sid)
        .unwrap();
    assert_eq!(
        checklist(&p, stage),
        [
            "credit_checked_2",
            "he_tong_yi_shen_pi",
            "payment_terms_agreed"
        ]
    );
}
