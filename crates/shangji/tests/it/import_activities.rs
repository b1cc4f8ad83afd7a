//! Importing follow-ups and tasks over HTTP: the records each row is about found by name
//! (an opportunity also by external id), problems by row and column, the follow-ups on their
//! account's and deal's timelines with their time and author, the author rule, the tasks on
//! their records, and the rollback removing them. Fixture times follow the clock the tests run
//! on. Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;
use crate::import::{problems, run, upload};

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{json, Value};
use time::Duration;

/// A day `n` days ago in China, as a file writes it.
fn days_ago(n: i64) -> String {
    (common::today() - Duration::days(n)).to_string()
}

/// The UTC instant of `day` at `clock`, China time, as the API writes it.
fn china(day: &str, clock: &str) -> String {
    let t = time::PrimitiveDateTime::parse(
        &format!("{day} {clock}"),
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"),
    )
    .unwrap()
    .assume_offset(shangji_core::calendar::CHINA)
    .to_offset(time::UtcOffset::UTC);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// 明川机械 with the contact 王强 and the deal 自动化产线改造 (external id CRM-9); another
/// account with another 王强; a lead of 新远科技. The ids: account, contact, deal, lead.
async fn customers(app: &TestApp) -> (i64, i64, i64, i64) {
    let account = app
        .create(
            "/api/v1/accounts",
            "admin",
            r#"{"name": "明川机械有限公司", "owner_id": null}"#,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let other = app
        .create(
            "/api/v1/accounts",
            "admin",
            r#"{"name": "恒达贸易有限公司"}"#,
        )
        .await["id"]
        .clone();
    let contact = app
        .create(
            "/api/v1/contacts",
            "admin",
            &format!(r#"{{"name": "王强", "account_id": {account}, "mobile": "13900000011"}}"#),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.create(
        "/api/v1/contacts",
        "admin",
        &format!(r#"{{"name": "王强", "account_id": {other}, "mobile": "13900000012"}}"#),
    )
    .await;
    let deal = app
        .create(
            "/api/v1/opportunities",
            "admin",
            &format!(
                r#"{{"title": "自动化产线改造", "account_id": {account}, "amount_minor": 12300000, "close_date": "{}"}}"#,
                common::close_date()
            ),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.db.set_external_id(deal, Some("CRM-9")).await.unwrap();
    let lead = app
        .create(
            "/api/v1/leads",
            "admin",
            r#"{"company_name": "新远科技", "contact_name": "赵六", "source": "website"}"#,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    (account, contact, deal, lead)
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn follow_ups_land_on_their_account_and_deal_timelines_and_roll_back() {
    let app = TestApp::new().await;
    let (account, contact, deal, lead) = customers(&app).await;
    let (d1, d2) = (days_ago(3), days_ago(2));
    let csv = format!(
        "跟进方式,跟进时间,跟进内容*,跟进结果,跟进人,客户名称,联系人,商机,线索\n\
         电话,{d1} 10:30,报价沟通,同意看方案,rep_east,明川机械有限公司,王强,自动化产线改造,\n\
         上门,{d2} 15:00,现场演示,,,,,CRM-9,\n\
         微信,{d2} 09:00,加了微信,,,,,,新远科技\n\
         电话,{d2} 11:00,找不到的客户,,,不存在的公司,,,\n\
         电话,{d2} 11:00,两个王强,,,,王强,,\n\
         短信,{d2} 11:00,什么也没关联,,,,,,\n\
         电话,{d2} 11:00,外部编号不对,,,,,CRM-404,\n"
    );
    let (status, preview) = upload(
        &app,
        "admin",
        "activities",
        "跟进记录.csv",
        csv.into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    let id = preview["batch"]["id"].as_i64().unwrap();
    assert_eq!(
        preview["batch"]["mapping"]["columns"],
        json!([
            "kind",
            "occurred_at",
            "summary",
            "outcome",
            "author_id",
            "account",
            "contact",
            "opportunity",
            "lead"
        ])
    );
    // Every reference that finds no record, or several, where it is; a follow-up about
    // nothing at the first column saying what it is about.
    let s = |r: i64, c: &str, code: &str| (r, c.to_string(), code.to_string());
    // 上门 is none of the types' names: asked for, then mapped to a visit.
    assert_eq!(
        preview["unknown_values"],
        json!([{"key": "kind", "column": "跟进方式", "values": ["上门"]}])
    );
    assert_eq!(problems(&preview)[0], s(3, "跟进方式", "unknown_choice"));
    let mut mapping = preview["batch"]["mapping"].clone();
    mapping["values"] = json!({"kind": {"上门": "visit"}});
    let body = json!({"mapping": mapping, "options": {"valid_only": true}}).to_string();
    let (status, preview) = app
        .post(&format!("/api/v1/imports/{id}/preview"), "admin", &body)
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        problems(&preview),
        [
            s(5, "客户名称", "unknown_account"),
            s(6, "联系人", "ambiguous_reference"),
            s(7, "商机", "required"),
            s(8, "商机", "unknown_deal"),
        ]
    );
    // No duplicates: every valid row creates.
    assert_eq!(preview["duplicates"], 0);
    assert_eq!(preview["summary"]["created"], 3);
    let row2 = &preview["rows"][0];
    assert_eq!(row2["record"]["kind"], "call");
    assert_eq!(row2["record"]["author_id"], app.user_id("rep_east"));

    let done = run(&app, id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        (&done["summary"]["created"], &done["summary"]["failed"]),
        (&json!(3), &json!(4))
    );

    // The account's timeline: the call (with its contact and deal) and the visit on its deal,
    // each at its time, by its author.
    let (_, on_account) = app
        .get(
            &format!("/api/v1/activities?account_id={account}&sort=occurred_at"),
            "admin",
        )
        .await;
    let on_account = items(&on_account);
    let seen: Vec<(&str, &str, i64, &str)> = on_account
        .iter()
        .map(|a| {
            (
                a["summary"].as_str().unwrap(),
                a["occurred_at"].as_str().unwrap(),
                a["author_id"].as_i64().unwrap(),
                a["kind"].as_str().unwrap(),
            )
        })
        .collect();
    let (call_at, visit_at) = (china(&d1, "10:30"), china(&d2, "15:00"));
    assert_eq!(
        seen,
        [
            (
                "报价沟通",
                call_at.as_str(),
                app.user_id("rep_east"),
                "call"
            ),
            ("现场演示", visit_at.as_str(), app.user_id("admin"), "visit"),
        ]
    );
    assert_eq!(on_account[0]["contact_id"], contact);
    assert_eq!(on_account[0]["outcome"], "同意看方案");
    let (_, on_deal) = app
        .get(
            &format!("/api/v1/activities?opportunity_id={deal}"),
            "admin",
        )
        .await;
    assert_eq!(items(&on_deal).len(), 2, "{on_deal}");
    let (_, on_lead) = app
        .get(&format!("/api/v1/activities?lead_id={lead}"), "admin")
        .await;
    assert_eq!(items(&on_lead)[0]["kind"], "wechat");
    assert_eq!(items(&on_lead)[0]["customer_facing"], true);

    // Rolled back: the follow-ups are gone, the records they were about stay.
    let (status, out) = app
        .post(&format!("/api/v1/imports/{id}/rollback"), "admin", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        (&out["rolled_back"], &out["removed"]),
        (&json!(true), &json!(3))
    );
    assert_eq!(app.db.count("activities").await.unwrap(), 0);
    let (status, _) = app
        .get(&format!("/api/v1/opportunities/{deal}"), "admin")
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_manager_records_follow_ups_by_their_team_only() {
    let app = TestApp::new().await;
    app.create(
        "/api/v1/accounts",
        "mgr_east",
        r#"{"name": "明川机械有限公司", "owner_id": null}"#,
    )
    .await;
    let d = days_ago(1);
    let csv = format!(
        "Type,Time,Summary,Author,Company\n\
         Call,{d} 09:00,Called about the quote,rep_east,明川机械有限公司\n\
         Visit,{d} 10:00,Visited the plant,rep_south,明川机械有限公司\n\
         Visit,{d} 11:00,Visited again,nobody,明川机械有限公司\n"
    );
    let (status, preview) = upload(&app, "mgr_east", "activities", "f.csv", csv.into_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    let s = |r: i64, code: &str| (r, "Author".to_string(), code.to_string());
    assert_eq!(
        problems(&preview),
        [s(3, "owner_out_of_scope"), s(4, "unknown_owner")]
    );
}

#[tokio::test]
async fn tasks_are_imported_on_their_records_and_rolled_back() {
    let app = TestApp::new().await;
    let (account, _, deal, _) = customers(&app).await;
    let due = (common::today() + Duration::days(7)).to_string();
    let csv = format!(
        "任务名称*,截止日期,执行人,是否完成,客户名称,商机\n\
         寄送报价单,{due},rep_east,否,明川机械有限公司,\n\
         安排技术交流,{due},,是,,CRM-9\n\
         回访,下周,,,明川机械有限公司,\n\
         复核合同,{due},,,,不存在的商机\n"
    );
    let (status, preview) = upload(&app, "admin", "tasks", "任务.xlsx.csv", csv.into_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    let s = |r: i64, c: &str, code: &str| (r, c.to_string(), code.to_string());
    assert_eq!(
        problems(&preview),
        [
            s(4, "截止日期", "invalid_value"),
            s(5, "商机", "unknown_deal")
        ]
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/imports/{}/preview", preview["batch"]["id"]),
            "admin",
            r#"{"options": {"valid_only": true}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = preview["batch"]["id"].as_i64().unwrap();
    let done = run(&app, id).await;
    assert_eq!(done["summary"]["created"], 2, "{done}");

    let (_, on_account) = app
        .get(
            &format!("/api/v1/tasks?record_kind=account&record_id={account}"),
            "admin",
        )
        .await;
    let task = &items(&on_account)[0];
    assert_eq!(
        (
            &task["title"],
            &task["due_date"],
            &task["assignee_id"],
            &task["done"]
        ),
        (
            &json!("寄送报价单"),
            &json!(due),
            &json!(app.user_id("rep_east")),
            &json!(false)
        )
    );
    let (_, on_deal) = app
        .get(
            &format!("/api/v1/tasks?record_kind=opportunity&record_id={deal}"),
            "admin",
        )
        .await;
    let task = &items(&on_deal)[0];
    assert_eq!(
        (&task["title"], &task["done"], &task["assignee_id"]),
        (
            &json!("安排技术交流"),
            &json!(true),
            &json!(app.user_id("admin"))
        )
    );

    let (status, out) = app
        .post(&format!("/api/v1/imports/{id}/rollback"), "admin", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["removed"], 2);
    assert_eq!(app.db.count("tasks").await.unwrap(), 0);
}

#[tokio::test]
async fn the_templates_of_follow_ups_and_tasks_are_recognised_column_by_column() {
    use shangji::i18n::Tr;
    use shangji_core::import::{auto_map, fields, ImportKind};
    use shangji_core::model::Language;
    let app = TestApp::new().await;
    let admin = app.users["admin"].clone();
    let ctx = shangji::ops::Ctx::for_cli(&app.db, &admin, common::now())
        .await
        .unwrap();
    for kind in [ImportKind::Activities, ImportKind::Tasks] {
        for language in [Language::ZhCn, Language::En] {
            let bytes = shangji::ops::import::template(&ctx, Tr::new(language), kind).unwrap();
            let sheet = shangji::ops::import::read_sheet("t.xlsx", &bytes).unwrap();
            let mapping = auto_map(kind, &sheet.headers, &[]);
            let keys: Vec<Option<&str>> = mapping.columns.iter().map(|c| c.as_deref()).collect();
            let want: Vec<Option<&str>> = fields(kind).iter().map(|f| Some(f.key)).collect();
            assert_eq!(keys, want, "{kind} {language}");
            assert_eq!(sheet.rows.len(), 1, "an example row");
        }
    }
}
