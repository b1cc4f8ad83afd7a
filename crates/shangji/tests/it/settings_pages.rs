//! The settings of the sales-process engine and the approval pages through the router, as a
//! browser uses them: custom fields and approval policies for admins, custom fields in gates
//! and on the opportunity page, the approvals inbox and the notifications. Runs on SQLite,
//! and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::browser::{after, between, browser, extract};
use common::TestApp;
use serde_json::Value;

async fn opportunity(app: &TestApp, id: i64) -> Value {
    let (s, o) = app
        .get(&format!("/api/v1/opportunities/{id}"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    o
}

/// The number shown in the header's link `id`, if any.
fn header_count(body: &str, id: &str) -> Option<i64> {
    let link = between(body, &format!("id=\"{id}\""), "</a>");
    let at = link.find("class=\"count\"")?;
    let rest = &link[at..];
    let text = &rest[rest.find('>')? + 1..];
    text[..text.find('<')?].trim().parse().ok()
}

#[tokio::test]
async fn a_held_move_waits_in_the_inbox_and_the_approver_moves_it_from_there() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (s, _) = app
        .post(
            "/api/v1/approval-policies",
            "admin",
            &format!(
                r#"{{"name":"大单审批","stage_id":{},"conditions":[{{"field":"amount_minor","op":"gte","value":100000}}],"chain":[{{"kind":"owner_manager"}}]}}"#,
                stages[1]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, opp) = app.account_and_opportunity("rep_sh", "螺杆机组").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/opportunities/{id}");
    let rep = browser(&app, "rep_sh").await;
    let mgr = browser(&app, "mgr_east").await;

    // Nothing waits yet: no counts in the header.
    let r = mgr.get("/").await;
    assert_eq!(header_count(&r.body, "nav-approvals"), None);
    assert_eq!(header_count(&r.body, "nav-bell"), None);

    let to = stages[1].to_string();
    let r = rep
        .post(
            &format!("{url}/move"),
            &[("stage_id", &to), ("checklist", "need_confirmed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let at = r.location.unwrap();
    assert!(at.contains("approval=1"), "{at}");
    let r = rep.get(&at).await;
    let panel = between(&r.body, "id=\"approval\"", "</section>");
    assert!(panel.contains("线索确认 → 需求分析"), "{panel}");
    assert!(panel.contains("大单审批"), "the policy");
    let waiting = between(panel, "id=\"approval-waiting\"", "</p>");
    assert!(
        waiting.contains(&app.users["mgr_east"].display_name),
        "{waiting}"
    );
    assert!(panel.contains("撤回申请"), "the requester may withdraw");
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);

    // The manager sees the counts, the request in the inbox with its facts, and nothing in
    // "sent"; the rep sees it only under "sent".
    let r = mgr.get("/").await;
    assert_eq!(header_count(&r.body, "nav-approvals"), Some(1));
    assert_eq!(header_count(&r.body, "nav-bell"), Some(1));
    let r = mgr.get("/approvals").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = between(&r.body, "id=\"approval-list\"", "</article>");
    for text in [
        "螺杆机组",
        &app.users["rep_sh"].display_name,
        "线索确认 → 需求分析",
        "¥123,000.00",
        "大单审批",
        "name=\"decision\" value=\"approve\"",
        "name=\"comment\"",
    ] {
        assert!(list.contains(text), "{text} in {list}");
    }
    assert!(list.contains(&format!("href=\"{url}\"")));
    assert!(mgr
        .get("/approvals?box=sent")
        .await
        .body
        .contains("id=\"approvals-empty\""));
    assert!(rep
        .get("/approvals")
        .await
        .body
        .contains("id=\"approvals-empty\""));
    let sent = rep.get("/approvals?box=sent").await;
    assert!(sent.body.contains("螺杆机组") && sent.body.contains("待审批"));
    assert!(
        !sent.body.contains("name=\"decision\""),
        "the requester does not decide"
    );

    // A decision by someone else's turn is refused beside the request, nothing changes.
    let req_id: i64 = extract(list, "action=\"/approvals/", "/decide")
        .parse()
        .unwrap();
    let r = rep
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve"), ("comment", "自己批")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("现在不是由你审批这条申请。"), "{}", r.body);
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);

    // The manager approves with a comment: the deal moves, the rep is told.
    let r = mgr
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve"), ("comment", "同意推进")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = mgr.get(&r.location.unwrap()).await;
    assert!(
        r.body.contains("已批准，商机已移动到“需求分析”。"),
        "{}",
        r.body
    );
    assert_eq!(header_count(&r.body, "nav-approvals"), None);
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[1]);

    let r = rep.get("/notifications").await;
    assert_eq!(header_count(&r.body, "nav-bell"), Some(1));
    let note = between(&r.body, "id=\"notification-list\"", "</li>");
    assert!(
        note.contains(&format!(
            "{} 批准了“螺杆机组”移动到“需求分析”，商机已移动",
            app.users["mgr_east"].display_name
        )),
        "{note}"
    );
    assert!(note.contains("同意推进"), "the comment");
    let note_id = extract(note, "action=\"/notifications/", "/open");
    let r = rep
        .post(&format!("/notifications/{note_id}/open"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.unwrap().starts_with(&url));
    let r = rep.get("/notifications").await;
    assert_eq!(header_count(&r.body, "nav-bell"), None, "read now");
    let sent = rep.get("/approvals?box=sent").await;
    let row = between(&sent.body, "id=\"approval-list\"", "</article>");
    assert!(row.contains("已批准") && row.contains("同意推进"), "{row}");

    // In English: the notification and the inbox are worded in English.
    let mut en = browser(&app, "rep_sh").await;
    en.lang = Some("en");
    let r = en.get("/notifications").await;
    assert!(
        r.body
            .contains("approved moving “螺杆机组” to “Needs analysis”"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_requester_withdraws_from_the_opportunity_page_and_a_refused_last_approval_says_why() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let pipeline_id = app.get("/api/v1/pipelines", "admin").await.1[0]["id"].clone();
    // Entering Needs analysis needs an approval by its gate: manager, then director.
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"requires_approval":true}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, opp) = app.account_and_opportunity("rep_sh", "冷却塔").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/opportunities/{id}");
    let rep = browser(&app, "rep_sh").await;
    let to = stages[1].to_string();
    let r = rep.post(&format!("{url}/move"), &[("stage_id", &to)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Someone else cannot withdraw it; the requester can, from the opportunity page.
    let mgr = browser(&app, "mgr_east").await;
    let r = mgr.get(&url).await;
    let panel = between(&r.body, "id=\"approval\"", "</section>");
    assert!(!panel.contains("撤回申请"), "{panel}");
    assert!(
        panel.contains("去审批"),
        "the approver is sent to the inbox"
    );
    assert!(panel.contains("阶段要求审批"));
    let req_id = extract(panel, "href=\"/approvals#approval-", "\"").to_string();
    let r = mgr
        .post(&format!("{url}/withdraw"), &[("approval_id", &req_id)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        after(&r.body, "id=\"approval-error\"").contains("只有申请人可以撤回申请。"),
        "{}",
        r.body
    );
    let r = rep
        .post(&format!("{url}/withdraw"), &[("approval_id", &req_id)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = rep.get(&r.location.unwrap()).await;
    assert!(r.body.contains("审批申请已撤回，商机留在原阶段。"));
    assert!(!r.body.contains("id=\"approval\""));
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);

    // Asked again; the manager approves (the director is next), then the stage's gate
    // changes: the director's approval cannot move the deal and says why; nothing is saved.
    let r = rep.post(&format!("{url}/move"), &[("stage_id", &to)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = mgr.get("/approvals").await;
    let req_id = extract(&r.body, "action=\"/approvals/", "/decide").to_string();
    let r = mgr
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = mgr.get(&r.location.unwrap()).await;
    assert!(
        r.body.contains(&format!(
            "已批准，下一步由 {} 审批。",
            app.users["director"].display_name
        )),
        "{}",
        r.body
    );
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"requires_approval":true,"required_fields":["next_step"]}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let director = browser(&app, "director").await;
    let r = director
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve"), ("comment", "可以")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = between(&r.body, &format!("id=\"approval-{req_id}\""), "</article>");
    assert!(row.contains("未满足进入该阶段的条件。"), "{row}");
    assert!(row.contains("请填写：下一步"), "{row}");
    assert!(row.contains(">可以</textarea>"), "the comment stays");
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);
    let (_, req) = app
        .get(&format!("/api/v1/approvals/{req_id}"), "director")
        .await;
    assert_eq!(req["status"], "pending", "nothing saved");
    // The director rejects instead.
    let r = director
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "reject"), ("comment", "先补充下一步")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = rep.get("/notifications").await;
    assert!(
        r.body.contains("驳回了“冷却塔”移动到“需求分析”"),
        "{}",
        r.body
    );
    assert!(r.body.contains("先补充下一步"));
    // The history tells the story in words.
    let r = rep.get(&url).await;
    let history = after(&r.body, "id=\"timeline\"");
    for line in [
        "驳回移动到“需求分析”",
        "审批意见：先补充下一步",
        "批准移动到“需求分析”",
        "撤回了移动到“需求分析”的审批申请",
        &format!(
            "申请审批：移动到“需求分析”，审批人 {} → {}",
            app.users["mgr_east"].display_name, app.users["director"].display_name
        ),
    ] {
        assert!(history.contains(line), "{line} in {history}");
    }
}

async fn custom_field(app: &TestApp, key: &str) -> Value {
    let (_, all) = app
        .get(
            "/api/v1/custom-fields?record_kind=opportunity&include_archived=true",
            "admin",
        )
        .await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == key)
        .unwrap_or_else(|| panic!("no field {key} in {all}"))
        .clone()
}

/// The error shown right after the input `id`.
fn error_beside<'b>(body: &'b str, id: &str) -> &'b str {
    let rest = after(body, &format!("id=\"{id}\""));
    let at = rest
        .find("class=\"field-error\"")
        .unwrap_or_else(|| panic!("no error after {id}:\n{rest}"));
    let text = &rest[at..];
    let text = &text[text.find('>').unwrap() + 1..];
    &text[..text.find('<').unwrap()]
}

#[tokio::test]
async fn an_admin_defines_custom_fields_through_the_forms_and_refusals_show_beside_the_field() {
    let app = TestApp::new().await;
    // A deal from before the fields exist.
    let (_, opp) = app.account_and_opportunity("rep_sh", "变频器").await;
    let admin = browser(&app, "admin").await;
    let r = admin.get("/admin/pipelines").await;
    assert!(
        r.body.contains("href=\"/admin/custom-fields\""),
        "a settings tab"
    );
    let r = admin.get("/admin/custom-fields").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"fields-empty\""));
    for t in [
        "单行文本",
        "多行文本",
        "整数",
        "小数",
        "金额",
        "日期时间",
        "单选",
        "多选",
        "是/否",
        "用户",
        "网址",
        "电话",
        "邮箱",
    ] {
        assert!(r.body.contains(&format!(">{t}</option>")), "type {t}");
    }

    // A bad key: refused beside the key, in Chinese, what was typed stays.
    let new = |key: &'static str, t: &'static str| {
        vec![
            ("record_kind", "opportunity"),
            ("key", key),
            ("label_zh", "资金来源"),
            ("label_en", "Budget source"),
            ("field_type", t),
        ]
    };
    let r = admin
        .post(
            "/admin/custom-fields",
            &new("Budget Source", "single_select"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_beside(&r.body, "cf-key"),
        "键只能用小写英文字母、数字和下划线，并以字母开头。"
    );
    assert!(r.body.contains("value=\"Budget Source\"") && r.body.contains("value=\"资金来源\""));
    // A select without options.
    let r = admin
        .post(
            "/admin/custom-fields",
            &new("budget_source", "single_select"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_beside(&r.body, "cf-new-options"),
        "单选、多选字段至少需要一个选项。"
    );
    // A pattern that is not one; a decimal limit with too many places.
    let mut bad = new("po_number", "text");
    bad.push(("pattern", "[A-Z"));
    let r = admin.post("/admin/custom-fields", &bad).await;
    assert_eq!(
        error_beside(&r.body, "cf-pattern"),
        "这不是有效的正则表达式。"
    );
    let mut bad = new("margin", "decimal");
    bad.push(("min", "1.234"));
    let r = admin.post("/admin/custom-fields", &bad).await;
    assert_eq!(
        error_beside(&r.body, "cf-min"),
        "小数位数超过了该字段允许的位数。"
    );
    let mut bad = new("margin", "text");
    bad.push(("min", "5"));
    let r = admin.post("/admin/custom-fields", &bad).await;
    assert_eq!(
        error_beside(&r.body, "cf-min"),
        "此类型的字段不使用这一项，请清空。"
    );
    let (_, none) = app.get("/api/v1/custom-fields", "admin").await;
    assert_eq!(none, serde_json::json!([]), "nothing half-saved");

    // In English, the same refusal in English.
    let mut en = browser(&app, "admin").await;
    en.lang = Some("en");
    let r = en
        .post("/admin/custom-fields", &new("Budget Source", "text"))
        .await;
    assert_eq!(
        error_beside(&r.body, "cf-key"),
        "A key is lowercase letters, digits and _, starting with a letter."
    );

    // Good ones: a select with options (one with an English label), a money field with a
    // limit in yuan, a text field.
    let mut select = new("budget_source", "single_select");
    select.push(("new_options", "自有资金\r\n银行贷款 | Bank loan\r\n"));
    select.push(("required", "1"));
    select.push(("help_zh", "客户的资金从哪里来"));
    let r = admin.post("/admin/custom-fields", &select).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let at = r.location.unwrap();
    assert!(
        at.starts_with("/admin/custom-fields?kind=opportunity&saved="),
        "{at}"
    );
    let r = admin.get(&at).await;
    let row = between(&r.body, "id=\"field-list\"", "</li>");
    assert!(row.contains("资金来源") && row.contains("budget_source") && row.contains("单选"));
    assert!(row.contains("必填") && row.contains("已保存。"), "{row}");
    let def = custom_field(&app, "budget_source").await;
    assert_eq!(
        def["options"],
        serde_json::json!([{"value":"自有资金","label_en":null,"archived":false},{"value":"银行贷款","label_en":"Bank loan","archived":false}])
    );
    assert_eq!(def["required"], true);
    let duplicate = admin.post("/admin/custom-fields", &select).await;
    assert_eq!(error_beside(&duplicate.body, "cf-key"), "这个键已被使用。");
    let mut money = vec![
        ("record_kind", "opportunity"),
        ("key", "deposit"),
        ("label_zh", "定金"),
        ("label_en", "Deposit"),
        ("field_type", "money"),
        ("min", "1,000"),
    ];
    let r = admin.post("/admin/custom-fields", &money).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        custom_field(&app, "deposit").await["validation"]["min"],
        100000
    );
    money[1] = ("key", "project_code");
    money[2] = ("label_zh", "项目编号");
    money[3] = ("label_en", "Project code");
    money[4] = ("field_type", "text");
    money[5] = ("max_length", "20");
    let r = admin.post("/admin/custom-fields", &money).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Edit: rename an option (stored values follow), archive one, add one.
    let id = def["id"].as_i64().unwrap();
    let (s, _) = app
        .patch(
            &format!("/api/v1/opportunities/{}", opp["id"]),
            "rep_sh",
            r#"{"custom":{"budget_source":"银行贷款","project_code":"ABC-1"}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let page = format!("/admin/custom-fields/{id}");
    let r = admin.get(&page).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("name=\"opt_value\" value=\"银行贷款\""));
    let edit = [
        ("label_zh", "资金来源"),
        ("label_en", "Budget source"),
        ("field_type", "single_select"),
        ("required", "1"),
        ("opt_from", "自有资金"),
        ("opt_value", "自有资金"),
        ("opt_en", ""),
        ("opt_archived", "0"),
        ("opt_from", "银行贷款"),
        ("opt_value", "银行借款"),
        ("opt_en", "Bank loan"),
        ("new_options", "政府补贴 | Subsidy"),
    ];
    let r = admin.post(&page, &edit).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let def = custom_field(&app, "budget_source").await;
    assert_eq!(
        def["options"],
        serde_json::json!([{"value":"自有资金","label_en":null,"archived":true},{"value":"银行借款","label_en":"Bank loan","archived":false},{"value":"政府补贴","label_en":"Subsidy","archived":false}])
    );
    assert_eq!(
        opportunity(&app, opp["id"].as_i64().unwrap()).await["custom"]["budget_source"],
        "银行借款"
    );
    // Removing an option is refused: it is archived instead.
    let mut removed = edit.to_vec();
    removed.retain(|(k, v)| {
        !(*k == "new_options" || *v == "银行贷款" || *v == "银行借款" || *v == "Bank loan")
    });
    let r = admin.post(&page, &removed).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_beside(&r.body, "cf-new-options"),
        "选项不能删除（可能已有记录使用它），请改为归档。"
    );

    // An option emptied instead of renamed.
    let emptied = [
        ("label_zh", "资金来源"),
        ("label_en", "Budget source"),
        ("field_type", "single_select"),
        ("opt_from", "自有资金"),
        ("opt_value", "自有资金"),
        ("opt_en", ""),
        ("opt_from", "银行借款"),
        ("opt_value", ""),
        ("opt_en", "Bank loan"),
        ("opt_from", "政府补贴"),
        ("opt_value", "政府补贴"),
        ("opt_en", "Subsidy"),
    ];
    let r = admin.post(&page, &emptied).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_beside(&r.body, "cf-new-options"), "选项值不能为空。");

    // A type change that would lose a stored value is refused beside the type.
    let code = custom_field(&app, "project_code").await;
    let code_page = format!("/admin/custom-fields/{}", code["id"]);
    let r = admin
        .post(
            &code_page,
            &[
                ("label_zh", "项目编号"),
                ("label_en", "Project code"),
                ("field_type", "integer"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_beside(&r.body, "cf-type"),
        "已有记录的值无法转换为新类型，改类型会丢失数据，因此未保存。"
    );
    assert!(
        after(&r.body, "id=\"cf-type\"").contains("value=\"integer\" selected"),
        "kept"
    );
    assert_eq!(
        custom_field(&app, "project_code").await["field_type"],
        "text"
    );
    // Text to long text keeps the values.
    let r = admin
        .post(
            &code_page,
            &[
                ("label_zh", "项目编号"),
                ("label_en", "Project code"),
                ("field_type", "long_text"),
                ("max_length", "20"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Archive and restore.
    let r = admin
        .post(&format!("{code_page}/archive"), &[("archived", "1")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = admin.get(&r.location.unwrap()).await;
    let row = between(&r.body, &format!("id=\"field-{}\"", code["id"]), "</li>");
    assert!(row.contains("已归档"), "{row}");
    assert_eq!(custom_field(&app, "project_code").await["archived"], true);
    let r = admin
        .post(&format!("{code_page}/archive"), &[("archived", "0")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(custom_field(&app, "project_code").await["archived"], false);

    // Other record kinds have their own list.
    let r = admin.get("/admin/custom-fields?kind=account").await;
    assert!(r.body.contains("id=\"fields-empty\""));
    assert!(r.body.contains("name=\"record_kind\" value=\"account\""));

    // Reps cannot open or post to these pages.
    let rep = browser(&app, "rep_sh").await;
    for path in ["/admin/custom-fields", page.as_str()] {
        assert_eq!(rep.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = rep.post(&page, &edit).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = rep.post("/admin/custom-fields", &select).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_gate_naming_custom_fields_asks_for_them_with_inputs_of_their_type() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    for body in [
        r#"{"record_kind":"opportunity","key":"budget_source","label_zh":"资金来源","label_en":"Budget source","field_type":"single_select","options":[{"value":"自有资金"},{"value":"银行贷款","label_en":"Bank loan"},{"value":"众筹","archived":true}],"help_zh":"客户的资金从哪里来"}"#,
        r#"{"record_kind":"opportunity","key":"deposit","label_zh":"定金","label_en":"Deposit","field_type":"money"}"#,
        r#"{"record_kind":"opportunity","key":"nda_signed","label_zh":"已签保密协议","label_en":"NDA signed","field_type":"boolean"}"#,
        r#"{"record_kind":"opportunity","key":"units","label_zh":"台数","label_en":"Units","field_type":"integer","validation":{"min":1}}"#,
        r#"{"record_kind":"opportunity","key":"regions","label_zh":"覆盖区域","label_en":"Regions","field_type":"multi_select","options":[{"value":"华东"},{"value":"华南"}]}"#,
        r#"{"record_kind":"opportunity","key":"old_field","label_zh":"旧字段","label_en":"Old field","field_type":"text","archived":true}"#,
    ] {
        let (s, v) = app.post("/api/v1/custom-fields", "admin", body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (_, pipelines) = app.get("/api/v1/pipelines", "admin").await;
    let p = &pipelines[0];
    let pid = p["id"].as_i64().unwrap();
    let stage = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == stages[1])
        .unwrap()
        .clone();

    // The stage editor offers the custom fields (not the archived one) by label.
    let admin = browser(&app, "admin").await;
    let r = admin.get(&format!("/admin/pipelines/{pid}")).await;
    let editor = after(&r.body, &format!("id=\"stage-{}\"", stages[1]));
    let fields = between(editor, "name=\"required_field\"", "</div>");
    for (value, label) in [
        ("amount_minor", "金额"),
        ("custom.budget_source", "资金来源"),
        ("custom.deposit", "定金"),
        ("custom.nda_signed", "已签保密协议"),
    ] {
        assert!(
            fields.contains(&format!("value=\"{value}\"> {label}</label>")),
            "{value} in {fields}"
        );
    }
    assert!(
        !fields.contains("custom.old_field"),
        "archived fields are not offered"
    );

    let text = |k: &str| stage[k].as_str().unwrap().to_string();
    let (name_zh, name_en, kind, forecast) = (
        text("name_zh"),
        text("name_en"),
        text("kind"),
        text("forecast_category"),
    );
    let probability = stage["probability"].to_string();
    let form = [
        ("name_zh", name_zh.as_str()),
        ("name_en", name_en.as_str()),
        ("kind", kind.as_str()),
        ("probability", probability.as_str()),
        ("forecast_category", forecast.as_str()),
        ("required_field", "custom.budget_source"),
        ("required_field", "custom.deposit"),
        ("required_field", "custom.nda_signed"),
        ("required_field", "custom.units"),
        ("required_field", "custom.regions"),
        ("op", "save"),
    ];
    let r = admin
        .post(
            &format!("/admin/pipelines/{pid}/stages/{}", stages[1]),
            &form,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The rep's move asks for each, with an input of its type.
    let (_, opp) = app.account_and_opportunity("rep_sh", "离心机").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/opportunities/{id}");
    let rep = browser(&app, "rep_sh").await;
    let to = stages[1].to_string();
    let r = rep.post(&format!("{url}/move"), &[("stage_id", &to)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let panel = between(&r.body, "id=\"gate-panel\"", "id=\"move-stage\"");
    for text in [
        "请填写：资金来源",
        "<select id=\"gate-custom-budget_source\" name=\"set.custom.budget_source\">",
        "<option value=\"银行贷款\">银行贷款</option>",
        "客户的资金从哪里来",
        "请填写：定金",
        "name=\"set.custom.deposit\" inputmode=\"decimal\"",
        "name=\"set.custom.nda_signed\" value=\"true\"",
        "name=\"set.custom.units\" type=\"text\" inputmode=\"numeric\"",
        "name=\"set.custom.regions\" value=\"华南\"",
    ] {
        assert!(panel.contains(text), "{text} in {panel}");
    }
    assert!(!panel.contains("众筹"), "an archived option is not offered");

    // A value the field refuses: beside its input, in Chinese, typed values kept, not moved.
    let supplied = [
        ("stage_id", to.as_str()),
        ("set.custom.budget_source", "银行贷款"),
        ("set.custom.deposit", "12,000.50"),
        ("set.custom.nda_signed", "true"),
        ("set.custom.units", "0"),
        ("set.custom.regions", "华东"),
        ("set.custom.regions", "华南"),
    ];
    let r = rep.post(&format!("{url}/move"), &supplied).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        error_beside(&r.body, "gate-custom-units"),
        "超出允许的范围。"
    );
    let panel = between(&r.body, "id=\"gate-panel\"", "id=\"move-stage\"");
    assert!(panel.contains("value=\"12,000.50\""), "{panel}");
    assert!(
        panel.contains("<option value=\"银行贷款\" selected>"),
        "{panel}"
    );
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);
    let bad_money = [("stage_id", to.as_str()), ("set.custom.deposit", "12.345")];
    let r = rep.post(&format!("{url}/move"), &bad_money).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_beside(&r.body, "gate-custom-deposit").contains("120000"));

    // Right values: moved, each stored in its type, shown formatted on the page.
    let mut good = supplied.to_vec();
    good[4] = ("set.custom.units", "3");
    let r = rep.post(&format!("{url}/move"), &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let o = opportunity(&app, id).await;
    assert_eq!(o["stage_id"], stages[1]);
    assert_eq!(
        o["custom"],
        serde_json::json!({"budget_source":"银行贷款","deposit":{"amount_minor":1200050,"currency":"CNY"},"nda_signed":true,"units":3,"regions":["华东","华南"]})
    );
    let r = rep.get(&url).await;
    for (key, shown) in [
        ("budget_source", "银行贷款"),
        ("deposit", "¥12,000.50"),
        ("nda_signed", "是"),
        ("units", "3"),
        ("regions", "华东、华南"),
    ] {
        assert_eq!(
            extract(&r.body, &format!("id=\"opp-cf-{key}\">"), "<"),
            shown,
            "{key}"
        );
    }
    assert!(
        after(&r.body, "id=\"timeline\"").contains("定金：未设置 → ¥12,000.50"),
        "{}",
        after(&r.body, "id=\"timeline\"")
    );
    let mut en = browser(&app, "rep_sh").await;
    en.lang = Some("en");
    let r = en.get(&url).await;
    assert_eq!(extract(&r.body, "id=\"opp-cf-nda_signed\">", "<"), "Yes");
    assert_eq!(
        extract(&r.body, "id=\"opp-cf-budget_source\">", "<"),
        "Bank loan"
    );
}

#[tokio::test]
async fn a_policy_built_through_the_form_holds_a_move_until_the_chain_approves() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let pid = app.get("/api/v1/pipelines", "admin").await.1[0]["id"]
        .as_i64()
        .unwrap();
    let admin = browser(&app, "admin").await;
    let r = admin.get("/admin/approval-policies").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"policies-empty\""));
    assert!(r
        .body
        .contains("<option value=\"owner_manager\" selected>负责人的经理</option>"));
    assert!(r.body.contains(&format!(
        "指定：{}（销售总监）",
        app.users["director"].display_name
    )));

    let (pid_s, to) = (pid.to_string(), stages[1].to_string());
    let policy = |amount: &'static str, op: &'static str| {
        vec![
            ("name", "大单审批"),
            ("active", "1"),
            ("pipeline_id", pid_s.as_str()),
            ("stage_id", to.as_str()),
            ("cond_field", "amount_minor"),
            ("cond_op", op),
            ("cond_value", amount),
            ("cond_field", ""),
            ("cond_op", "gte"),
            ("cond_value", ""),
            ("approver", "owner_manager"),
            ("approver", "director"),
            ("approver", ""),
        ]
    };
    // An amount that is not one, an ordering on a text, no approver: each beside its place.
    let r = admin
        .post("/admin/approval-policies", &policy("一百万", "gte"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rows = after(&r.body, "class=\"rows condition-rows\"");
    assert!(
        between(rows, "row invalid", "</div>")
            .contains("请填写金额，例如 120000 或 1,234.56（单位：元）。"),
        "{rows}"
    );
    assert!(rows.contains("value=\"一百万\""), "typed values stay");
    let mut on_grade = policy("1000", "gte");
    on_grade[4] = ("cond_field", "grade");
    on_grade[6] = ("cond_value", "A");
    let r = admin.post("/admin/approval-policies", &on_grade).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        between(&r.body, "row invalid", "</div>")
            .contains("只能与数字比较（金额按元、赢率、整数字段）。"),
        "{}",
        r.body
    );
    let mut nobody = policy("1000", "gte");
    nobody.retain(|(k, _)| *k != "approver");
    let r = admin.post("/admin/approval-policies", &nobody).await;
    assert_eq!(
        extract(&r.body, "id=\"pol-chain-error\">", "<"),
        "至少需要一位审批人。"
    );
    let mut elsewhere = policy("1000", "gte");
    let (_, other) = app
        .post(
            "/api/v1/pipelines",
            "admin",
            r#"{"name":"快速成交","template":"transactional"}"#,
        )
        .await;
    let other_stage = other["stages"][1]["id"].to_string();
    elsewhere[3] = ("stage_id", other_stage.as_str());
    let r = admin.post("/admin/approval-policies", &elsewhere).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(after(&r.body, "id=\"pol-stage\"").contains("这个阶段不在所选的流程中。"));
    let (_, none) = app.get("/api/v1/approval-policies", "admin").await;
    assert_eq!(none, serde_json::json!([]), "nothing saved");

    // ≥ ¥1,000 (in yuan) entering Needs analysis: the manager, then the director.
    let r = admin
        .post("/admin/approval-policies", &policy("1,000", "gte"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, saved) = app.get("/api/v1/approval-policies", "admin").await;
    let p = &saved[0];
    assert_eq!(
        (&p["conditions"], &p["chain"], &p["stage_id"]),
        (
            &serde_json::json!([{"field":"amount_minor","op":"gte","value":100000}]),
            &serde_json::json!([{"kind":"owner_manager"},{"kind":"director"}]),
            &serde_json::json!(stages[1])
        )
    );
    let r = admin.get(&r.location.unwrap()).await;
    let row = between(&r.body, "id=\"policy-list\"", "</li>");
    assert!(row.contains("金额（元） ≥ ¥1,000.00"), "{row}");
    assert!(row.contains("负责人的经理 → 销售总监"), "{row}");
    let edit = format!("/admin/approval-policies/{}", p["id"]);
    let r = admin.get(&edit).await;
    assert!(
        r.body.contains("name=\"cond_value\" value=\"1000.00\""),
        "yuan again"
    );

    // A rep's move is held; the manager, then the director approve from the inbox.
    let (_, opp) = app.account_and_opportunity("rep_sh", "注塑机").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/opportunities/{id}");
    let rep = browser(&app, "rep_sh").await;
    let r = rep
        .post(
            &format!("{url}/move"),
            &[("stage_id", &to), ("checklist", "need_confirmed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.unwrap().contains("approval=1"));
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);
    for who in ["mgr_east", "director"] {
        let b = browser(&app, who).await;
        let r = b.get("/approvals").await;
        assert_eq!(header_count(&r.body, "nav-approvals"), Some(1), "{who}");
        let req = extract(&r.body, "action=\"/approvals/", "/decide").to_string();
        let r = b
            .post(
                &format!("/approvals/{req}/decide"),
                &[("decision", "approve")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{who}: {}", r.body);
    }
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[1]);

    // Switched off through its form: the next move goes straight through.
    let mut off = policy("1,000", "gte");
    off.retain(|(k, _)| *k != "active");
    let r = admin.post(&edit, &off).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, saved) = app.get("/api/v1/approval-policies", "admin").await;
    assert_eq!(saved[0]["active"], false);
    let (_, opp) = app.account_and_opportunity("rep_sh", "吹塑机").await;
    let r = rep
        .post(
            &format!("/opportunities/{}/move", opp["id"]),
            &[("stage_id", &to), ("checklist", "need_confirmed")],
        )
        .await;
    assert!(r.location.unwrap().contains("moved=1"));

    // Reps cannot open or post to the policy pages.
    assert_eq!(
        rep.get("/admin/approval-policies").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(rep.get(&edit).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        rep.post("/admin/approval-policies", &policy("1", "gte"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
