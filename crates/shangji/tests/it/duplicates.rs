//! Duplicates and 撞单 over HTTP and through the forms, on SQLite or PostgreSQL: a name
//! variant, a reformatted mobile and a credit code in use are caught across the whole company;
//! a match the caller cannot see names only its owner.

use crate::common;

use axum::http::StatusCode;
use common::browser::{after, browser, extract};
use common::TestApp;
use serde_json::{json, Value};

/// A valid 统一社会信用代码 on `base` (17 characters).
fn credit_code(base: &str) -> String {
    let check = shangji_core::credit_code::check_char(base.as_bytes()).unwrap();
    format!("{base}{check}")
}

#[tokio::test]
async fn a_colleagues_customer_is_named_by_its_owner_and_never_shown() {
    let app = TestApp::new().await;
    let code = credit_code("91110108551385082");
    let stored = app
        .create(
            "/api/v1/accounts",
            "rep_sh",
            &json!({"name": "北京字节跳动科技有限公司", "credit_code": code,
                "address": "北京市海淀区知春路", "notes": "老客户，年框"})
            .to_string(),
        )
        .await;

    // Another team's rep enters the same company under another spelling.
    let (s, v) = app
        .post(
            "/api/v1/accounts",
            "rep_south",
            r#"{"name":"字节跳动（北京）科技有限公司"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "possible_duplicate");
    let m = &v["matches"][0];
    assert_eq!(m["record_kind"], "account");
    assert_eq!(m["matched_on"], "name");
    assert_eq!(m["visible"], false);
    assert_eq!(m["owner_name"], "rep_sh");
    assert_eq!(m["owner_team"], "上海组");
    // Nothing of the record itself: no id, no name, no other field.
    assert_eq!(
        m.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "matched_on",
            "owner_name",
            "owner_team",
            "record_kind",
            "visible"
        ]
    );
    let text = v.to_string();
    for secret in ["北京字节跳动科技有限公司", code.as_str(), "知春路", "年框"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(!text.contains(&format!(":{}", stored["id"])), "{text}");
    let (_, listed) = app.get("/api/v1/accounts", "rep_south").await;
    assert_eq!(listed["total"], 0, "nothing written: {listed}");

    // Saying it is another company saves it.
    let (s, v) = app
        .post(
            "/api/v1/accounts",
            "rep_south",
            r#"{"name":"字节跳动（北京）科技有限公司","allow_duplicate":true}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // A credit code in use is refused all the same.
    let (s, v) = app
        .post(
            "/api/v1/accounts",
            "rep_east",
            &json!({"name": "完全不同的名字", "credit_code": code, "allow_duplicate": true})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "duplicate_record");
    assert_eq!(v["matches"][0]["matched_on"], "credit_code");

    // The manager above the owner sees the match whole.
    let (s, v) = app
        .get(
            &format!("/api/v1/duplicates?kind=account&credit_code={code}"),
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0]["visible"], true);
    assert_eq!(v[0]["id"], stored["id"]);
    assert_eq!(v[0]["name"], "北京字节跳动科技有限公司");
    // A wrong credit code is refused with its field, saying what is wrong.
    let (s, v) = app
        .get(
            "/api/v1/duplicates?kind=account&credit_code=123",
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "credit_code");
    assert_eq!(v["code"], "credit_code_length");

    // Editing the account without touching its keys is not a duplicate check again.
    let (s, v) = app
        .patch(
            &format!("/api/v1/accounts/{}", stored["id"]),
            "rep_sh",
            r#"{"industry":"互联网"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn mobiles_and_emails_match_however_they_are_written_and_settings_can_block() {
    let app = TestApp::new().await;
    app.create(
        "/api/v1/contacts",
        "rep_sh",
        r#"{"name":"王建国","mobile":"13812345678","email":"wang.jg@mingchuan.example"}"#,
    )
    .await;
    for (body, on) in [
        (r#"{"name":"王总","mobile":"+86 138-1234-5678"}"#, "mobile"),
        (
            r#"{"name":"王总","email":"Wang.JG@MingChuan.example"}"#,
            "email",
        ),
    ] {
        let (s, v) = app.post("/api/v1/contacts", "rep_south", body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}: {v}");
        assert_eq!(v["matches"][0]["matched_on"], on);
        assert_eq!(v["matches"][0]["record_kind"], "contact");
    }
    // A lead with the same mobile matches the contact too.
    let (s, v) = app
        .get(
            "/api/v1/duplicates?kind=lead&mobile=138%201234%205678",
            "rep_south",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");

    // An admin makes contacts block: saying "anyway" no longer saves.
    let (s, v) = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/settings/duplicates",
            Some("admin"),
            Some(r#"{"contact":"block"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["contact"], "block");
    assert_eq!(v["credit_code"], "block");
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            "rep_south",
            r#"{"name":"王总","mobile":"13812345678","allow_duplicate":true}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "duplicate_record");
    let (s, _) = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/settings/duplicates",
            Some("rep_sh"),
            Some(r#"{"contact":"warn"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "admins only");
}

#[tokio::test]
async fn the_form_warns_of_a_name_variant_and_saves_once_confirmed() {
    let app = TestApp::new().await;
    app.create(
        "/api/v1/accounts",
        "rep_sh",
        r#"{"name":"杭州云帆科技有限公司","notes":"内部备注"}"#,
    )
    .await;
    let rep = browser(&app, "rep_south").await;
    let r = rep
        .post("/accounts/new", &[("name", "云帆科技（杭州）有限公司")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let box_ = after(&r.body, "id=\"duplicates\"");
    assert!(box_.contains("rep_sh（上海组）"), "{box_}");
    assert!(box_.contains("名称相近"), "{box_}");
    assert!(
        !r.body.contains("杭州云帆科技有限公司"),
        "the colleague's record stays hidden"
    );
    assert!(!r.body.contains("内部备注"));
    assert!(r.body.contains("id=\"allow-duplicate\""));
    assert!(
        r.body.contains("value=\"云帆科技（杭州）有限公司\""),
        "input kept"
    );

    let r = rep
        .post(
            "/accounts/new",
            &[
                ("name", "云帆科技（杭州）有限公司"),
                ("allow_duplicate", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, listed): (StatusCode, Value) = app.get("/api/v1/accounts", "rep_south").await;
    assert_eq!(listed["total"], 1);
}

#[tokio::test]
async fn qualifying_a_lead_into_a_new_account_is_matched_like_any_other() {
    let app = TestApp::new().await;
    app.create(
        "/api/v1/accounts",
        "rep_sh",
        r#"{"name":"明川机械有限公司"}"#,
    )
    .await;
    // The lead is entered although it looks like the account (the rep said so).
    let lead = app
        .create(
            "/api/v1/leads",
            "rep_south",
            r#"{"company_name":"上海明川机械股份有限公司","contact_name":"赵六","allow_duplicate":true}"#,
        )
        .await;
    let path = format!("/api/v1/leads/{}/convert", lead["id"]);
    let (s, v) = app.post(&path, "rep_south", "{}").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "possible_duplicate");
    assert_eq!(
        v["matches"].as_array().unwrap().len(),
        1,
        "the lead itself is no match: {v}"
    );
    assert_eq!(v["matches"][0]["owner_name"], "rep_sh");
    let (_, still) = app
        .get(&format!("/api/v1/leads/{}", lead["id"]), "rep_south")
        .await;
    assert_eq!(still["status"], "new", "nothing written");

    // Through the lead page: the error, and the offer to create it anyway.
    let rep = browser(&app, "rep_south").await;
    let page = format!("/leads/{}/convert", lead["id"]);
    let r = rep
        .post(&page, &[("account", "new"), ("contact_name", "赵六")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("id=\"convert-allow-duplicate\""),
        "{}",
        r.body
    );
    // What it matched is listed: a colleague's account, by its owner only.
    let listed = extract(
        &r.body,
        "<ul class=\"duplicates\" id=\"convert-duplicates\">",
        "</ul>",
    );
    assert!(listed.contains("rep_sh"), "{listed}");
    assert!(!listed.contains("明川机械有限公司"), "{listed}");
    let r = rep
        .post(
            &page,
            &[
                ("account", "new"),
                ("contact_name", "赵六"),
                ("allow_duplicate", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, done) = app
        .get(&format!("/api/v1/leads/{}", lead["id"]), "rep_south")
        .await;
    assert_eq!(done["status"], "qualified");
}

#[tokio::test]
async fn a_duplicate_saved_anyway_goes_to_the_manager_who_decides() {
    let app = TestApp::new().await;
    let (s, v) = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/settings/duplicates",
            Some("admin"),
            Some(r#"{"lead": "review"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lead = |login: &'static str, body: Value| {
        let app = &app;
        async move { app.post("/api/v1/leads", login, &body.to_string()).await }
    };
    let (s, first) = lead(
        "rep_sh",
        json!({"company_name": "北京字节跳动科技有限公司"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // Still a warning first: nothing is saved until the rep says so.
    let variant = json!({"company_name": "字节跳动（北京）科技有限公司"});
    let (s, v) = lead("rep_east", variant.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let mut anyway = variant.clone();
    anyway["allow_duplicate"] = json!(true);
    let (s, second) = lead("rep_east", anyway.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");

    // The manager of 华东 is told and sees both records; the rep cannot decide.
    let (_, notes) = app.get("/api/v1/notifications", "mgr_east").await;
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "duplicate_review" && n["record_id"] == second["id"]),
        "{notes}"
    );
    let (s, reviews) = app.get("/api/v1/duplicate-reviews", "mgr_east").await;
    assert_eq!(s, StatusCode::OK, "{reviews}");
    let r = &reviews[0];
    assert_eq!(
        (&r["record_id"], &r["status"], &r["name"]),
        (
            &second["id"],
            &json!("pending"),
            &json!("字节跳动（北京）科技有限公司")
        )
    );
    assert_eq!(r["matches"][0]["id"], first["id"]);
    assert_eq!(r["matches"][0]["matched_on"], "name");
    let (s, _) = app.get("/api/v1/duplicate-reviews", "rep_east").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, south) = app.get("/api/v1/duplicate-reviews", "mgr_south").await;
    assert_eq!(
        south,
        json!([]),
        "another team's manager has nothing to decide"
    );
    let path = format!("/api/v1/duplicate-reviews/{}/decide", r["id"]);
    let (s, _) = app
        .post(&path, "mgr_south", r#"{"decision": "keep"}"#)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Archived: the new lead is archived, the review decided once.
    let (s, decided) = app
        .post(
            &path,
            "mgr_east",
            r#"{"decision": "archive", "note": "同一家公司"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(
        (&decided["status"], &decided["note"]),
        (&json!("archived"), &json!("同一家公司"))
    );
    let (_, l) = app
        .get(&format!("/api/v1/leads/{}", second["id"]), "admin")
        .await;
    assert_eq!(l["archived"], true);
    let (s, e) = app.post(&path, "mgr_east", r#"{"decision": "keep"}"#).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("already_decided"))
    );

    // A merge decides a review too.
    let (s, third) = lead("rep_sh", anyway).await;
    assert_eq!(s, StatusCode::CREATED, "{third}");
    let (s, v) = app
        .post(
            &format!("/api/v1/leads/{}/merge", first["id"]),
            "mgr_east",
            &json!({"merged_id": third["id"]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, pending) = app.get("/api/v1/duplicate-reviews", "mgr_east").await;
    assert_eq!(pending, json!([]));
    let (_, all) = app.get("/api/v1/duplicate-reviews?all=true", "admin").await;
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["merged", "archived"]);
}
