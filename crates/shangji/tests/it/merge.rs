//! Merging duplicates over HTTP and through the pages, on SQLite or PostgreSQL: the survivor
//! takes the picked fields and everything that pointed at the merged record; the merged record
//! is archived and kept in the log; nothing moves when the merge is refused.

use crate::common;

use axum::http::StatusCode;
use common::browser::browser;
use common::TestApp;
use serde_json::{json, Value};

async fn account(app: &TestApp, who: &str, body: Value) -> i64 {
    let mut body = body;
    body["allow_duplicate"] = json!(true);
    app.create("/api/v1/accounts", who, &body.to_string()).await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn two_accounts_become_one_with_everything_of_both() {
    let app = TestApp::new().await;
    let keep = account(
        &app,
        "rep_sh",
        json!({"name": "字节跳动", "notes": "老客户"}),
    )
    .await;
    let gone = account(
        &app,
        "rep_sh",
        json!({"name": "北京字节跳动科技有限公司", "industry": "互联网", "notes": "展会认识"}),
    )
    .await;
    let contact = app
        .create(
            "/api/v1/contacts",
            "rep_sh",
            &json!({"name": "张一鸣", "account_id": gone, "mobile": "13800000009"}).to_string(),
        )
        .await;
    let (_, opp) = app
        .post(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "年度框架", "account_id": gone, "amount_minor": 50_000_000})
                .to_string(),
        )
        .await;
    let (s, _) = app
        .post(
            "/api/v1/activities",
            "rep_sh",
            &json!({"kind": "call", "summary": "电话沟通", "account_id": gone}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // A field that cannot be picked: refused, nothing moved.
    let (s, v) = app
        .post(
            &format!("/api/v1/accounts/{keep}/merge"),
            "rep_sh",
            &json!({"merged_id": gone, "take": ["id"]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, c) = app
        .get(&format!("/api/v1/contacts/{}", contact["id"]), "rep_sh")
        .await;
    assert_eq!(c["account_id"], gone);
    // Someone who may not change the other record cannot merge it.
    let south = account(&app, "rep_south", json!({"name": "字节跳动华南"})).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/accounts/{keep}/merge"),
            "rep_sh",
            &json!({"merged_id": south}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, v) = app
        .post(
            &format!("/api/v1/accounts/{keep}/merge"),
            "rep_sh",
            &json!({"merged_id": gone, "take": ["name", "industry"]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["record"]["name"], "北京字节跳动科技有限公司");
    assert_eq!(v["record"]["industry"], "互联网");
    assert_eq!(v["record"]["notes"], "老客户");
    assert!(v["moved"].as_u64().unwrap() >= 3, "{v}");

    // Everything of the merged account is the survivor's now.
    let (_, c) = app
        .get(&format!("/api/v1/contacts/{}", contact["id"]), "rep_sh")
        .await;
    assert_eq!(c["account_id"], keep);
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{}", opp["id"]), "rep_sh")
        .await;
    assert_eq!(o["account_id"], keep);
    let (_, merged) = app.get(&format!("/api/v1/accounts/{gone}"), "rep_sh").await;
    assert_eq!(merged["archived"], true);

    // The admin's log keeps who merged what, and the merged record as it was.
    let (s, _) = app.get("/api/v1/merges", "rep_sh").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, log) = app.get("/api/v1/merges", "admin").await;
    assert_eq!(log[0]["survivor_id"], keep);
    assert_eq!(log[0]["merged_id"], gone);
    assert_eq!(log[0]["actor_id"], app.user_id("rep_sh"));
    assert_eq!(log[0]["merged"]["notes"], "展会认识");
    assert_eq!(log[0]["taken"], json!(["name", "industry"]));

    // The account page shows the survivor's timeline with the merged one's follow-up.
    let rep = browser(&app, "rep_sh").await;
    let page = rep.get(&format!("/accounts/{keep}")).await;
    assert!(page.body.contains("电话沟通"), "{}", page.body);
    assert!(page.body.contains("张一鸣"));
    assert!(page.body.contains("年度框架"));
    // The merge is told on both pages.
    assert!(
        page.body.contains(&format!("并入了 #{gone}")),
        "{}",
        page.body
    );
    let archived = rep.get(&format!("/accounts/{gone}")).await;
    assert!(
        archived.body.contains(&format!("已合并到 #{keep}")),
        "{}",
        archived.body
    );
    let admin = browser(&app, "admin").await;
    let page = admin.get("/admin/merges").await;
    assert!(
        page.body.contains("北京字节跳动科技有限公司"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_rep_merges_two_leads_on_the_page_picking_each_value() {
    let app = TestApp::new().await;
    let a = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name":"苏州恒远精密","contact_name":"陈","mobile":"13900000001"}"#,
        )
        .await;
    let b = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name":"苏州恒远精密制造有限公司","contact_name":"陈思远","mobile":"13900000001","email":"chen@hengyuan.cn","allow_duplicate":true}"#,
        )
        .await;
    let rep = browser(&app, "rep_sh").await;
    let (ia, ib) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    // The likely duplicate is offered.
    let picker = rep.get(&format!("/leads/{ia}/merge")).await;
    assert_eq!(picker.status, StatusCode::OK);
    assert!(
        picker
            .body
            .contains(&format!("/leads/{ia}/merge?with={ib}")),
        "{}",
        picker.body
    );
    let compare = rep.get(&format!("/leads/{ia}/merge?with={ib}")).await;
    assert_eq!(compare.status, StatusCode::OK);
    // The empty email is taken from the other by default.
    assert!(
        compare.body.contains("id=\"take-email\" checked"),
        "{}",
        compare.body
    );
    let r = rep
        .post(
            &format!("/leads/{ia}/merge"),
            &[
                ("merged_id", &ib.to_string()),
                ("version", "1"),
                ("pick_company_name", "theirs"),
                ("pick_contact_name", "theirs"),
                ("pick_email", "theirs"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, lead) = app.get(&format!("/api/v1/leads/{ia}"), "rep_sh").await;
    assert_eq!(lead["company_name"], "苏州恒远精密制造有限公司");
    assert_eq!(lead["contact_name"], "陈思远");
    assert_eq!(lead["email"], "chen@hengyuan.cn");
    let (_, other) = app.get(&format!("/api/v1/leads/{ib}"), "rep_sh").await;
    assert_eq!(other["archived"], true);
    // Merging into itself is refused with a reason.
    let r = rep.get(&format!("/leads/{ia}/merge?with={ia}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("不能把记录并入它自己"), "{}", r.body);
}
