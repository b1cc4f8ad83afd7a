//! The process pages through the router, as a browser uses them: admin settings (pipelines,
//! stages, gates, actions, loss reasons) and the opportunity page (move form, gate panel,
//! history). Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::browser::{after, between, browser, Browser};
use common::TestApp;
use serde_json::Value;
use tower::ServiceExt;

async fn pipeline(app: &TestApp, id: i64) -> Value {
    let (s, p) = app.get(&format!("/api/v1/pipelines/{id}"), "admin").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    p
}

fn stage_id(p: &Value, name_zh: &str) -> i64 {
    p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name_zh"] == name_zh)
        .unwrap_or_else(|| panic!("no stage {name_zh} in {p}"))["id"]
        .as_i64()
        .unwrap()
}

fn names(p: &Value) -> Vec<String> {
    p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name_zh"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_admin_builds_a_pipeline_with_a_gate_and_an_action_through_the_forms() {
    let app = TestApp::new().await;
    let admin = browser(&app, "admin").await;

    let r = admin.get("/").await;
    assert!(
        r.body.contains("href=\"/admin/pipelines\""),
        "settings in the header"
    );
    let r = admin.get("/admin/pipelines").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("B2B 标准流程") && r.body.contains("默认"));

    // An empty pipeline: one open stage, won and lost.
    let r = admin
        .post(
            "/admin/pipelines",
            &[("name", "渠道代理"), ("template", "empty")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let at = r.location.unwrap();
    let pid: i64 = at
        .trim_start_matches("/admin/pipelines/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = admin.get(&at).await;
    assert!(r.body.contains("已保存。"), "{}", r.body);
    assert_eq!(
        names(&pipeline(&app, pid).await),
        ["初步接洽", "赢单", "输单"]
    );

    // Add a stage: it goes before won and lost.
    let r = admin
        .post(
            &format!("/admin/pipelines/{pid}/stages"),
            &[
                ("name_zh", "签约谈判"),
                ("name_en", "Contract talks"),
                ("kind", "open"),
                ("probability", "60"),
                ("forecast_category", "commit"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let p = pipeline(&app, pid).await;
    assert_eq!(names(&p), ["初步接洽", "签约谈判", "赢单", "输单"]);
    let talks = stage_id(&p, "签约谈判");
    let stage_url = format!("/admin/pipelines/{pid}/stages/{talks}");

    // Its gate (next step, a checklist item) and a standard action, in one save.
    let form = [
        ("name_zh", "签约谈判"),
        ("name_en", "Contract talks"),
        ("kind", "open"),
        ("probability", "60"),
        ("forecast_category", "commit"),
        ("rotting_days", "14"),
        ("guidance", "审核资信后发送代理合同。"),
        ("required_field", "next_step"),
        ("ck_key", "credit_checked"),
        ("ck_zh", "资信已审核"),
        ("ck_en", "Credit checked"),
        ("act_key", "send_contract"),
        ("act_zh", "发送代理合同"),
        ("act_en", "Send the contract"),
        ("act_due", "2"),
        ("act_task", "0"),
        ("act_required", "0"),
        ("op", "save"),
    ];
    let r = admin.post(&stage_url, &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let p = pipeline(&app, pid).await;
    let stage = &p["stages"][1];
    assert_eq!(stage["gate"]["required_fields"][0], "next_step");
    assert_eq!(stage["gate"]["checklist"][0]["label_zh"], "资信已审核");
    assert_eq!(stage["guidance"], "审核资信后发送代理合同。");
    assert_eq!(stage["rotting_days"], 14);
    assert_eq!(
        stage["actions"][0],
        serde_json::json!({"key":"send_contract","name_zh":"发送代理合同","name_en":"Send the contract",
            "create_task":true,"due_working_days":2,"required_to_leave":true})
    );

    // "Add BANT" puts the four items into the form, unsaved.
    let mut with_bant = form.to_vec();
    with_bant.retain(|(k, _)| *k != "op");
    with_bant.push(("op", "bant"));
    let r = admin.post(&stage_url, &with_bant).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("已加入 4 项 BANT 清单，保存后生效。"),
        "{}",
        r.body
    );
    for key in [
        "budget_confirmed",
        "decision_maker_identified",
        "need_confirmed",
        "timeline_known",
    ] {
        assert!(r.body.contains(&format!("name=\"ck_key\" value=\"{key}\"")));
    }
    let p = pipeline(&app, pid).await;
    assert_eq!(
        p["stages"][1]["gate"]["checklist"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Up: the new stage first.
    let r = admin
        .post(&format!("{stage_url}/move"), &[("direction", "up")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        names(&pipeline(&app, pid).await),
        ["签约谈判", "初步接洽", "赢单", "输单"]
    );

    // The transition policy: no skipping, managers and admins reopen.
    let r = admin
        .post(
            &format!("/admin/pipelines/{pid}"),
            &[
                ("name", "渠道代理流程"),
                ("allow_backward", "1"),
                ("reopen_role", "manager"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let p = pipeline(&app, pid).await;
    assert_eq!(p["name"], "渠道代理流程");
    assert_eq!(
        p["policy"],
        serde_json::json!({"allow_skip":false,"allow_backward":true,"reopen_roles":["manager"]})
    );

    // A stage in use cannot be deleted: the page says so beside it; archiving works.
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"代理商甲"}"#)
        .await;
    app.create(
        "/api/v1/opportunities",
        "rep_sh",
        &format!(
            r#"{{"title":"华东代理","account_id":{},"pipeline_id":{pid}}}"#,
            account["id"]
        ),
    )
    .await;
    let r = admin.post(&format!("{stage_url}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        after(&r.body, &format!("id=\"stage-{talks}\""))
            .contains("已有商机进入过这个阶段，不能删除，请改为归档。"),
        "{}",
        r.body
    );
    let r = admin
        .post(&format!("{stage_url}/archive"), &[("archived", "1")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(pipeline(&app, pid).await["stages"][0]["archived"], true);
    // An unused stage is deleted.
    let r = admin
        .post(
            &format!("/admin/pipelines/{pid}/stages"),
            &[
                ("name_zh", "样品测试"),
                ("name_en", "Sample test"),
                ("kind", "open"),
                ("probability", "40"),
                ("forecast_category", "best_case"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let sample = stage_id(&pipeline(&app, pid).await, "样品测试");
    let r = admin
        .post(
            &format!("/admin/pipelines/{pid}/stages/{sample}/delete"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(pipeline(&app, pid).await["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["id"] != sample));

    // Make it the default; the old default can then be archived.
    let r = admin
        .post(&format!("/admin/pipelines/{pid}/default"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(pipeline(&app, pid).await["is_default"], true);
    let r = admin.get("/admin/pipelines").await;
    assert!(between(&r.body, "渠道代理流程", "</li>").contains("默认"));
}

#[tokio::test]
async fn settings_are_for_admins_and_other_records_are_not_found() {
    let app = TestApp::new().await;
    let rep = browser(&app, "rep_sh").await;
    let manager = browser(&app, "mgr_east").await;
    let home = rep.get("/").await;
    assert!(!home.body.contains("/admin/pipelines"), "no settings link");
    for who in [&rep, &manager] {
        for path in [
            "/admin/pipelines",
            "/admin/pipelines/1",
            "/admin/loss-reasons",
        ] {
            let r = who.get(path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
            assert!(r.body.contains("您没有权限查看此页面。"), "{}", r.body);
        }
    }
    let r = rep
        .post(
            "/admin/pipelines",
            &[("name", "偷偷建的"), ("template", "b2b")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = rep
        .post(
            "/admin/loss-reasons",
            &[("key", "x"), ("name_zh", "x"), ("name_en", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (_, all) = app.get("/api/v1/pipelines", "admin").await;
    assert_eq!(all.as_array().unwrap().len(), 1, "nothing was created");

    // Someone else's opportunity does not exist for a rep; their manager sees it.
    let (_, opp) = app.account_and_opportunity("rep_south", "华南项目").await;
    let url = format!("/opportunities/{}", opp["id"]);
    let r = rep.get(&url).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("找不到该页面，或您无权查看。"));
    let r = rep.post(&format!("{url}/move"), &[("stage_id", "2")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = browser(&app, "mgr_south").await.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("华南项目"));

    // Without a session: sign in first, and come back.
    let r = app
        .router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/admin/pipelines")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.headers().get(header::LOCATION).unwrap(),
        "/login?next=/admin/pipelines"
    );
    // A form without the session's token is refused.
    let admin = browser(&app, "admin").await;
    let forged = Browser {
        csrf: "forged".into(),
        ..admin
    };
    let r = forged
        .post("/admin/pipelines", &[("name", "x"), ("template", "b2b")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_refused_form_shows_the_translated_error_beside_the_field_and_keeps_the_input() {
    let app = TestApp::new().await;
    let admin = browser(&app, "admin").await;
    let p = pipeline(&app, 1).await;
    let stage = p["stages"][1]["id"].as_i64().unwrap();
    let url = format!("/admin/pipelines/1/stages/{stage}");
    let form = |probability: &'static str, key: &'static str| {
        vec![
            ("name_zh", "需求调研"),
            ("name_en", "Needs analysis"),
            ("kind", "open"),
            ("probability", probability),
            ("forecast_category", "pipeline"),
            ("ck_key", key),
            ("ck_zh", "需求已确认"),
            ("ck_en", "Need confirmed"),
            ("op", "save"),
        ]
    };
    let r = admin.post(&url, &form("150", "need_confirmed")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let field = between(&r.body, &format!("id=\"s{stage}-probability\""), "</div>");
    assert!(field.contains("value=\"150\""), "the input is kept");
    assert!(
        field.contains("赢率须在 0 到 100 之间。"),
        "beside the field: {field}"
    );
    assert!(
        r.body.contains("value=\"需求调研\""),
        "the new name is kept"
    );
    assert!(
        after(&r.body, &format!("id=\"stage-{stage}\"")).contains("<details open>"),
        "the stage's form is open"
    );
    assert_eq!(
        pipeline(&app, 1).await["stages"][1]["name_zh"],
        "需求分析",
        "nothing saved"
    );

    // A bad key is shown on its checklist row.
    let r = admin.post(&url, &form("25", "Need Confirmed")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = between(&r.body, "value=\"Need Confirmed\"", "</div>");
    assert!(
        row.contains("键只能用小写英文字母、数字和下划线，并以字母开头。"),
        "{row}"
    );
    // A number that is not one.
    let r = admin.post(&url, &form("很多", "need_confirmed")).await;
    assert!(
        between(&r.body, &format!("id=\"s{stage}-probability\""), "</div>")
            .contains("请填写整数。")
    );

    // In English for an English browser.
    let en = Browser {
        lang: Some("en-US,en;q=0.9"),
        ..browser(&app, "admin").await
    };
    let r = en.post(&url, &form("150", "need_confirmed")).await;
    assert!(
        between(&r.body, &format!("id=\"s{stage}-probability\""), "</div>")
            .contains("Probability is 0 to 100.")
    );

    // Creating a pipeline without a name.
    let r = admin
        .post("/admin/pipelines", &[("name", " "), ("template", "tender")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(between(&r.body, "id=\"new-name\"", "<fieldset").contains("请填写名称。"));
    assert!(
        between(&r.body, "value=\"tender\"", "</label>").contains("checked"),
        "the template choice is kept"
    );

    // Loss reasons: a taken key, a bad key, then added, renamed, reordered, archived.
    let r = admin
        .post(
            "/admin/loss-reasons",
            &[("key", "price"), ("name_zh", "价钱"), ("name_en", "Price")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(between(&r.body, "id=\"lr-key\"", "</div>").contains("这个键已被使用。"));
    assert!(between(&r.body, "id=\"lr-zh\"", "</div>").contains("value=\"价钱\""));
    let r = admin
        .post(
            "/admin/loss-reasons",
            &[
                ("key", "Delivery"),
                ("name_zh", "交期"),
                ("name_en", "Delivery"),
            ],
        )
        .await;
    assert!(between(&r.body, "id=\"lr-key\"", "</div>").contains("键只能用小写英文字母"));
    let r = admin
        .post(
            "/admin/loss-reasons",
            &[
                ("key", "delivery"),
                ("name_zh", "交期"),
                ("name_en", "Delivery"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, reasons) = app.get("/api/v1/loss-reasons", "admin").await;
    let id = reasons
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "delivery")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = admin
        .post(
            &format!("/admin/loss-reasons/{id}"),
            &[
                ("name_zh", ""),
                ("name_en", "Delivery time"),
                ("position", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = between(&r.body, &format!("id=\"reason-{id}\""), "</form>");
    assert!(row.contains("名称须为 1 到 200 个字。") && row.contains("value=\"Delivery time\""));
    let r = admin
        .post(
            &format!("/admin/loss-reasons/{id}"),
            &[
                ("name_zh", "交货期"),
                ("name_en", "Delivery time"),
                ("position", "-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = admin.get("/admin/loss-reasons").await;
    let first = r.body.find("id=\"reason-").unwrap();
    assert!(
        r.body[first..].starts_with(&format!("id=\"reason-{id}\"")),
        "now first"
    );
    let r = admin
        .post(
            &format!("/admin/loss-reasons/{id}/archive"),
            &[("archived", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, reasons) = app.get("/api/v1/loss-reasons", "admin").await;
    let r = reasons
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(
        (&r["name_zh"], &r["archived"]),
        (&Value::from("交货期"), &Value::from(true))
    );
}

#[tokio::test]
async fn the_move_form_lists_what_is_missing_and_moves_when_it_is_supplied() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "空压机").await;
    let id = opp["id"].as_i64().unwrap();
    let (s, _) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "rep_sh",
            r#"{"close_date":null}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let rep = browser(&app, "rep_sh").await;
    let url = format!("/opportunities/{id}");

    // The home page links to the opportunity page.
    assert!(rep.get("/").await.body.contains(&format!("href=\"{url}\"")));
    let r = rep.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("空压机") && r.body.contains("¥123,000.00"));
    assert!(r.body.contains("空压机 客户"), "the account");
    assert!(
        after(&r.body, "id=\"stage-path\"")
            .contains("<li class=\"current kind-open\" aria-current=\"step\">线索确认</li>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("确认客户需求与预算"),
        "the stage's guidance"
    );
    assert!(after(&r.body, "id=\"stage-actions\"").contains("需求沟通"));

    // Skipping to Proposal: the gates of Needs analysis and Proposal, exactly.
    let to_proposal = stages[2].to_string();
    let r = rep
        .post(
            &format!("{url}/move"),
            &[("stage_id", &to_proposal), ("competitor", "某德国品牌")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let panel = between(&r.body, "id=\"gate-panel\"", "id=\"move-stage\"");
    for text in [
        "请确认：需求已确认",
        "请填写：预计成交日期",
        "请确认：预算已确认",
        "请确认：已找到决策人",
        "请确认：采购时间已明确",
    ] {
        assert!(panel.contains(text), "{text} in {panel}");
    }
    assert_eq!(
        panel.matches("<li class=\"missing\">").count(),
        5,
        "{panel}"
    );
    assert!(panel.contains("name=\"checklist\" value=\"need_confirmed\""));
    assert!(panel.contains("name=\"close_date\" type=\"date\""));
    assert!(r.body.contains("value=\"某德国品牌\""), "typed values stay");
    assert!(
        after(&r.body, &format!("value=\"{to_proposal}\"")).starts_with(&format!(
            "value=\"{to_proposal}\" data-kind=\"open\" selected"
        )),
        "the chosen stage stays"
    );
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(now["stage_id"], stages[0], "not moved");

    // Ticked, an amount in yuan, but no date yet: only the date is missing; what was
    // supplied is kept for the next submit.
    let ticked = [
        ("stage_id", to_proposal.as_str()),
        ("checklist", "need_confirmed"),
        ("checklist", "budget_confirmed"),
        ("checklist", "decision_maker_identified"),
        ("checklist", "timeline_known"),
        ("amount", "456,000.5"),
    ];
    let r = rep.post(&format!("{url}/move"), &ticked).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let panel = between(&r.body, "id=\"gate-panel\"", "id=\"move-stage\"");
    assert_eq!(
        panel.matches("<li class=\"missing\">").count(),
        1,
        "{panel}"
    );
    assert!(panel.contains("请填写：预计成交日期"));
    assert!(panel.contains("value=\"need_confirmed\" checked"));
    assert!(panel.contains("value=\"456,000.5\""));

    // A bad amount is shown beside its input.
    let mut bad = ticked.to_vec();
    bad.retain(|(k, _)| *k != "amount");
    bad.push(("amount", "四十万"));
    let r = rep.post(&format!("{url}/move"), &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(between(&r.body, "id=\"gate-amount_minor\"", "</li>")
        .contains("请填写金额，例如 120000 或 1,234.56（单位：元）。"));

    let mut all = ticked.to_vec();
    all.push(("close_date", "2027-03-31"));
    let r = rep.post(&format!("{url}/move"), &all).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = rep.get(r.location.as_deref().unwrap()).await;
    assert!(r.body.contains("已移动到“方案报价”。"), "{}", r.body);
    assert!(r.body.contains("¥456,000.50"));
    let history = after(&r.body, "id=\"timeline\"");
    for line in [
        "金额：¥123,000.00 → ¥456,000.50",
        "预计成交日期：未设置 → 2027-03-31",
        "确认了：预算已确认、已找到决策人、需求已确认、采购时间已明确",
        "阶段：线索确认 → 方案报价",
        "赢率：10% → 50%",
        "预测类别：管道 → 最佳情况",
        "rep_sh",
    ] {
        assert!(history.contains(line), "{line} in {history}");
    }
    // The current stage's checklist is shown with what is confirmed.
    assert!(after(&r.body, "id=\"stage-checklist\"").contains("✓</span> 预算已确认"));

    // Leaving Proposal needs its standard action done: a box to tick, like a checklist item.
    let to_negotiation = stages[3].to_string();
    let r = rep
        .post(&format!("{url}/move"), &[("stage_id", &to_negotiation)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let panel = between(&r.body, "id=\"gate-panel\"", "id=\"move-stage\"");
    assert!(panel.contains("请先完成标准动作：发送方案"), "{panel}");
    assert!(panel.contains("name=\"actions_done\" value=\"send_proposal\""));
    assert!(panel.contains("请确认：客户认可方案"));
    let r = rep
        .post(
            &format!("{url}/move"),
            &[
                ("stage_id", &to_negotiation),
                ("actions_done", "send_proposal"),
                ("checklist", "proposal_accepted"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = rep.get(&url).await;
    assert!(after(&r.body, "id=\"timeline\"").contains("完成了标准动作：发送方案"));

    // Lost needs a reason: the panel says so; with one, the history names it.
    let lost = stages[5].to_string();
    let r = rep
        .post(&format!("{url}/move"), &[("stage_id", &lost)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(after(&r.body, "id=\"gate-panel\"").contains("请选择输单原因"));
    let r = rep
        .post(
            &format!("{url}/move"),
            &[
                ("stage_id", &lost),
                ("loss_reason", "competitor"),
                ("loss_note", "技术参数落后"),
                ("competitor", "某德国品牌"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = rep.get(&url).await;
    let history = after(&r.body, "id=\"timeline\"");
    for line in [
        "阶段：商务谈判 → 输单",
        "输单，原因：竞争对手",
        "竞争对手：某德国品牌",
        "复盘：技术参数落后",
    ] {
        assert!(history.contains(line), "{line} in {history}");
    }
    // Reopening is for managers (the default policy): a translated refusal.
    let r = rep
        .post(
            &format!("{url}/move"),
            &[("stage_id", &stages[1].to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(between(&r.body, "id=\"move-stage\"", "<fieldset")
        .contains("您的角色不能重新打开已赢单或输单的商机。"));
}

#[tokio::test]
async fn policy_refusals_and_english_texts_on_the_opportunity_page() {
    let app = TestApp::new().await;
    let (s, p) = app
        .post(
            "/api/v1/pipelines",
            "admin",
            r#"{"name":"政府项目","template":"tender"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"市政工程局"}"#)
        .await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &format!(
                r#"{{"title":"智慧水务","account_id":{},"pipeline_id":{},"amount_minor":800000000}}"#,
                account["id"], p["id"]
            ),
        )
        .await;
    let url = format!("/opportunities/{}", opp["id"]);
    let rep = browser(&app, "rep_sh").await;
    let r = rep
        .post(
            &format!("{url}/move"),
            &[("stage_id", &stage_id(&p, "方案").to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(between(&r.body, "id=\"move-stage\"", "<fieldset")
        .contains("此流程不允许跳过阶段，请逐个阶段推进。"));
    assert!(!r.body.contains("id=\"gate-panel\""));

    // The owner changes (a manager reassigns): the history names both people.
    let (s, _) = app
        .patch(
            &format!("/api/v1/opportunities/{}", opp["id"]),
            "mgr_east",
            &format!(r#"{{"owner_id":{}}}"#, app.user_id("rep_east")),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let en = Browser {
        lang: Some("en"),
        ..browser(&app, "mgr_east").await
    };
    let r = en
        .post(
            &format!("{url}/move"),
            &[("stage_id", &stage_id(&p, "关键人拜访").to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let panel = after(&r.body, "id=\"gate-panel\"");
    assert!(
        panel.contains("Confirm: Identified pain") && panel.contains("Confirm: Economic buyer")
    );
    let history = after(&r.body, "id=\"timeline\"");
    assert!(history.contains("Owner: rep_sh → rep_east"), "{history}");
    assert!(history.contains("Created in stage Project initiation, amount ¥8,000,000.00"));
    assert!(r.body.contains("<html lang=\"en\">"));
}
