//! Importing accounts, contacts and leads over HTTP: the upload and its preview (columns
//! recognised, problems by row and column, duplicates of stored records and of earlier rows),
//! the run in the background, the rollback (refused while a record changed since); files that
//! are not what they claim. Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL`
//! is set.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::TestApp;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Uploads `bytes` as `file_name` for `kind`, as `login`.
pub(crate) async fn upload(
    app: &TestApp,
    login: &str,
    kind: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "/api/v1/imports?kind={kind}&file_name={}",
            common::browser::encode(file_name)
        ))
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.tokens[login]),
        )
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Runs an import and waits for it to end; the import as it ended.
pub(crate) async fn run(app: &TestApp, id: i64) -> Value {
    let (status, started) = app
        .post(&format!("/api/v1/imports/{id}/run"), "admin", "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    for _ in 0..200 {
        let (_, batch) = app.get(&format!("/api/v1/imports/{id}"), "admin").await;
        if batch["status"] != "running" {
            return batch;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import {id} did not end");
}

pub(crate) fn problems(preview: &Value) -> Vec<(i64, String, String)> {
    preview["summary"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["row"].as_i64().unwrap(),
                p["column"].as_str().unwrap().to_string(),
                p["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_accounts_file_is_previewed_imported_with_its_contacts_and_rolled_back() {
    let app = TestApp::new().await;
    let stored = app
        .create(
            "/api/v1/accounts",
            "admin",
            r#"{"name": "明川机械股份有限公司", "industry": "机械"}"#,
        )
        .await;
    // Excel's CSV: a byte-order mark, Chinese headers, a required mark on the name.
    let csv = "\u{feff}客户名称*,所属行业,负责人,联系人,手机号,来源\n\
               新远科技有限公司,电子,rep_east,王强,13900000001,展会\n\
               明川机械有限公司,装备制造,,李娜,13900000002,\n\
               恒达贸易有限公司,贸易,nobody,赵六,13900000003,官网\n\
               新远科技有限公司,电子,,钱七,13900000004,\n";
    let (status, preview) = upload(
        &app,
        "admin",
        "accounts",
        "客户.csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    let id = preview["batch"]["id"].as_i64().unwrap();
    assert_eq!(
        preview["batch"]["mapping"]["columns"],
        json!([
            "name",
            "industry",
            "owner_id",
            "contact.name",
            "contact.mobile",
            "source"
        ])
    );
    // The unknown owner, where it is; the stored account and the repeated row as duplicates.
    assert_eq!(
        problems(&preview),
        [(4, "负责人".to_string(), "unknown_owner".to_string())]
    );
    assert_eq!(preview["duplicates"], 2);
    let row = |n: i64| {
        preview["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["row"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(2)["action"], "create");
    assert_eq!(row(2)["record"]["name"], "新远科技有限公司");
    assert_eq!(row(2)["contact"]["mobile"], "13900000001");
    assert_eq!(row(3)["action"], "skip");
    assert_eq!(row(3)["duplicate"]["id"], stored["id"]);
    assert_eq!(row(4)["action"], "invalid");
    assert_eq!(row(5)["duplicate"]["row"], 2);

    // A problem refuses the file as a whole…
    let (status, refused) = app
        .post(&format!("/api/v1/imports/{id}/run"), "admin", "")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "file_has_problems");
    // …unless the valid rows only are wanted; row 3 updates the stored account.
    let (status, preview) = app
        .post(
            &format!("/api/v1/imports/{id}/preview"),
            "admin",
            r#"{"options": {"valid_only": true, "on_duplicate": "skip", "rows": {"3": "update"}}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["summary"]["created"], 1);
    assert_eq!(preview["summary"]["updated"], 1);
    assert_eq!(preview["summary"]["skipped"], 1);
    // A rep may not import.
    let (status, _) = app.get(&format!("/api/v1/imports/{id}"), "rep_east").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let done = run(&app, id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        (
            &done["summary"]["created"],
            &done["summary"]["updated"],
            &done["summary"]["skipped"],
            &done["summary"]["failed"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "rows as the preview counted them: one created (an account and its contact), one \
         updating the stored account (and adding its contact), the repeat skipped"
    );
    let (_, accounts) = app.get("/api/v1/accounts?q=新远科技", "admin").await;
    let new = &accounts["items"][0];
    assert_eq!(new["owner_id"], app.user_id("rep_east"));
    assert_eq!(new["source"], "exhibition");
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?account_id={}", new["id"]),
            "admin",
        )
        .await;
    assert_eq!(contacts["items"][0]["name"], "王强");
    let (_, updated) = app
        .get(&format!("/api/v1/accounts/{}", stored["id"]), "admin")
        .await;
    assert_eq!(updated["industry"], "装备制造");
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?account_id={}", stored["id"]),
            "admin",
        )
        .await;
    assert_eq!(contacts["items"][0]["name"], "李娜");

    // Rolled back: what it made is gone, what it changed has its earlier values.
    let (status, out) = app
        .post(&format!("/api/v1/imports/{id}/rollback"), "admin", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        (&out["removed"], &out["restored"]),
        (&json!(3), &json!(1)),
        "{out}"
    );
    let (status, _) = app
        .get(&format!("/api/v1/accounts/{}", new["id"]), "admin")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, restored) = app
        .get(&format!("/api/v1/accounts/{}", stored["id"]), "admin")
        .await;
    assert_eq!(restored["industry"], "机械");
    let (_, batch) = app.get(&format!("/api/v1/imports/{id}"), "admin").await;
    assert_eq!(batch["status"], "rolled_back");
}

#[tokio::test]
async fn a_record_changed_since_the_import_blocks_its_rollback() {
    let app = TestApp::new().await;
    // GBK, as Excel in China saves CSV.
    let csv =
        "公司名称,联系人,手机,状态\n甲公司,张三,13800000011,新线索\n乙公司,李四,13800000012,\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    let (status, preview) = upload(&app, "mgr_east", "leads", "线索.csv", gbk.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    assert_eq!(problems(&preview), []);
    assert_eq!(preview["rows"][0]["record"]["company_name"], "甲公司");
    assert_eq!(preview["rows"][0]["record"]["status"], "new");
    let id = preview["batch"]["id"].as_i64().unwrap();
    let (status, _) = app
        .post(&format!("/api/v1/imports/{id}/run"), "mgr_east", "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut done = Value::Null;
    for _ in 0..200 {
        done = app
            .get(&format!("/api/v1/imports/{id}"), "mgr_east")
            .await
            .1;
        if done["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["summary"]["created"], 2);
    // The manager's import is theirs: another manager does not see it.
    let (status, _) = app.get(&format!("/api/v1/imports/{id}"), "mgr_south").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, leads) = app.get("/api/v1/leads?q=甲公司", "admin").await;
    let lead = &leads["items"][0];
    let (status, _) = app
        .patch(
            &format!("/api/v1/leads/{}", lead["id"]),
            "admin",
            r#"{"notes": "已电话联系"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, out) = app
        .post(&format!("/api/v1/imports/{id}/rollback"), "mgr_east", "")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{out}");
    assert_eq!(out["kept"][0]["record_id"], lead["id"]);
    assert_eq!(out["kept"][0]["reason"], "changed_since_import");
    // Nothing was rolled back.
    let (_, leads) = app.get("/api/v1/leads?q=乙公司", "admin").await;
    assert_eq!(leads["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_workbook_is_read_and_files_that_are_not_what_they_claim_are_refused() {
    let app = TestApp::new().await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Company", "Contact", "Mobile", "Lead Source"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "丙公司").unwrap();
    sheet.write_string(1, 1, "王五").unwrap();
    // A mobile typed as a number.
    sheet.write_number(1, 2, 13900000021.0).unwrap();
    sheet.write_string(1, 3, "Referral").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (status, preview) = upload(&app, "admin", "leads", "leads.xlsx", bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    let record = &preview["rows"][0]["record"];
    assert_eq!(
        (&record["mobile"], &record["source"]),
        (&json!("13900000021"), &json!("referral"))
    );

    for (name, bytes, code) in [
        ("leads.csv", bytes.clone(), "not_csv"),
        ("leads.xlsx", b"name,mobile\n".to_vec(), "not_a_workbook"),
        ("leads.xlsx", b"PK\x03\x04garbage".to_vec(), "corrupt_file"),
        ("leads.pdf", b"%PDF".to_vec(), "unknown_format"),
        ("leads.csv", Vec::new(), "empty_file"),
    ] {
        let (status, body) = upload(&app, "admin", "leads", name, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["code"], code, "{name}: {body}");
        assert_eq!(body["field"], "file");
    }
}

#[tokio::test]
async fn an_import_whose_server_stopped_is_undone_and_says_so() {
    let app = TestApp::new().await;
    let csv = "客户名称,联系人,手机\n北辰仪表有限公司,周敏,13900000011\n南岭材料有限公司,吴杰,13900000012\n";
    let (status, preview) = upload(&app, "admin", "accounts", "a.csv", csv.into()).await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    let id = preview["batch"]["id"].as_i64().unwrap();
    // Started, one row written, then the process dies: the import stays running.
    let admin = app.db.user(app.user_id("admin")).await.unwrap().unwrap();
    let ctx = shangji::ops::Ctx::for_cli(&app.db, &admin, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    shangji::ops::import::start(&app.db, &ctx, id)
        .await
        .unwrap();
    let (_, account) = app
        .post(
            "/api/v1/accounts",
            "admin",
            r#"{"name": "北辰仪表有限公司"}"#,
        )
        .await;
    let account_id = account["id"].as_i64().unwrap();
    app.db
        .insert_imported(&[shangji_core::import::ImportedRecord {
            import_id: id,
            row: 2,
            record_kind: shangji_core::import::ImportedKind::Account,
            record_id: account_id,
            before: None,
            version_after: 1,
        }])
        .await
        .unwrap();
    let wall = time::OffsetDateTime::now_utc();
    // Still beating: left alone.
    assert_eq!(
        shangji::ops::import::recover_stalled(&app.db, wall)
            .await
            .unwrap(),
        0
    );
    let (_, batch) = app.get(&format!("/api/v1/imports/{id}"), "admin").await;
    assert_eq!(batch["status"], "running");
    // Silent for longer than a run ever pauses: undone, failed, and the page says why.
    let later = wall + shangji::ops::import::STALL + time::Duration::minutes(1);
    assert_eq!(
        shangji::ops::import::recover_stalled(&app.db, later)
            .await
            .unwrap(),
        1
    );
    let (_, batch) = app.get(&format!("/api/v1/imports/{id}"), "admin").await;
    assert_eq!(batch["status"], "failed");
    assert!(
        batch["error"].as_str().unwrap().contains("interrupted"),
        "{batch}"
    );
    let (status, _) = app
        .get(&format!("/api/v1/accounts/{account_id}"), "admin")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the written row is gone");
    assert_eq!(
        shangji::ops::import::recover_stalled(&app.db, later)
            .await
            .unwrap(),
        0
    );
}

/// A file with the headers of an import that ran starts from that import's mapping — the
/// columns as they were set and the values mapped — and says so; other headers are recognised
/// afresh.
#[tokio::test]
async fn the_mapping_of_the_last_import_with_the_same_headers_is_reused() {
    let app = TestApp::new().await;
    let csv = |rows: &str| format!("公司,联系人,手机,渠道,内部编号\n{rows}").into_bytes();
    let (s, first) = upload(
        &app,
        "admin",
        "leads",
        "线索1.csv",
        csv("甲公司,张三,13900000001,展会2026,X1\n"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["batch"]["mapping_from"], Value::Null);
    let id = first["batch"]["id"].as_i64().unwrap();
    // The importer leaves the mobile out and says what 展会2026 is.
    let mapping = json!({
        "columns": ["company_name", "contact_name", null, "source", null],
        "values": {"source": {"展会2026": "exhibition"}}
    });
    let (s, p) = app
        .post(
            &format!("/api/v1/imports/{id}/preview"),
            "admin",
            &json!({ "mapping": mapping }).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(problems(&p), vec![]);
    assert_eq!(run(&app, id).await["status"], "done");

    let (_, again) = upload(
        &app,
        "admin",
        "leads",
        "线索2.csv",
        csv("乙公司,李四,13900000002,展会2026,X2\n"),
    )
    .await;
    assert_eq!(again["batch"]["mapping_from"], id);
    assert_eq!(again["batch"]["mapping"], mapping);
    assert_eq!(problems(&again), vec![], "the mapped value holds: {again}");
    assert_eq!(again["unknown_values"], json!([]));

    // Other headers: recognised from the headers, not from the saved mapping.
    let other = "公司,联系人,手机\n丙公司,王五,13900000003\n"
        .as_bytes()
        .to_vec();
    let (_, fresh) = upload(&app, "admin", "leads", "线索3.csv", other).await;
    assert_eq!(fresh["batch"]["mapping_from"], Value::Null);
    assert_eq!(
        fresh["batch"]["mapping"]["columns"],
        json!(["company_name", "contact_name", "mobile"])
    );
}
