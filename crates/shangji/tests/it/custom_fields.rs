//! Custom fields over HTTP (through the router), on SQLite or PostgreSQL: definitions, values
//! on every record kind, filters, export, renames, archiving, type changes and history.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

/// Defines a field as the admin and returns it.
async fn define(app: &TestApp, body: Value) -> Value {
    let (s, v) = app
        .post("/api/v1/custom-fields", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}: {v}");
    v
}

fn field(kind: &str, key: &str, label_en: &str, rest: Value) -> Value {
    let mut v = json!({"record_kind": kind, "key": key, "label_zh": key, "label_en": label_en});
    v.as_object_mut()
        .unwrap()
        .extend(rest.as_object().unwrap().clone());
    v
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut v = vec![];
    for t in [
        "accounts",
        "opportunities",
        "opportunity_events",
        "custom_values",
        "custom_fields",
    ] {
        v.push(app.db.count(t).await.unwrap());
    }
    v
}

fn kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn titles(list: &Value) -> Vec<String> {
    let mut t: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn every_type_takes_valid_values_and_refuses_invalid_ones() {
    let app = TestApp::new().await;
    let rep = app.user_id("rep_sh");
    // (key, definition, valid value, as stored, invalid value, error code)
    let table: Vec<(&str, Value, Value, Value, Value, &str)> = vec![
        (
            "code",
            json!({"field_type": "text", "validation": {"max_length": 10, "pattern": "[A-Z]{2}-[0-9]+"}}),
            json!(" SH-2026 "),
            json!("SH-2026"),
            json!("sh-2026"),
            "pattern_mismatch",
        ),
        (
            "background",
            json!({"field_type": "long_text"}),
            json!("客户三年前采购过一批\n需要对接设备部"),
            json!("客户三年前采购过一批\n需要对接设备部"),
            json!("长".repeat(10_001)),
            "too_long",
        ),
        (
            "units",
            json!({"field_type": "integer", "validation": {"min": 1, "max": 1000}}),
            json!(12),
            json!(12),
            json!(1001),
            "out_of_range",
        ),
        (
            "discount",
            json!({"field_type": "decimal", "decimal_places": 2}),
            json!("12.5"),
            json!("12.50"),
            json!("12.345"),
            "too_many_decimals",
        ),
        (
            "budget",
            json!({"field_type": "money"}),
            json!({"amount_minor": 5000000, "currency": "cny"}),
            json!({"amount_minor": 5000000, "currency": "CNY"}),
            json!({"amount_minor": -1, "currency": "CNY"}),
            "negative_amount",
        ),
        (
            "tender_date",
            json!({"field_type": "date"}),
            json!("2026-09-30"),
            json!("2026-09-30"),
            json!("2026-02-30"),
            "invalid_custom_value",
        ),
        (
            "visit_at",
            json!({"field_type": "date_time"}),
            json!("2026-05-06T10:00:00+08:00"),
            json!("2026-05-06T02:00:00Z"),
            json!("yesterday"),
            "invalid_custom_value",
        ),
        (
            "region",
            json!({"field_type": "single_select", "options": [{"value": "华东", "label_en": "East"}, {"value": "华南"}]}),
            json!("华东"),
            json!("华东"),
            json!("火星"),
            "unknown_option",
        ),
        (
            "lines",
            json!({"field_type": "multi_select", "options": [{"value": "泵"}, {"value": "阀"}, {"value": "管"}]}),
            json!(["管", "泵", "管"]),
            json!(["泵", "管"]),
            json!(["泵", "电机"]),
            "unknown_option",
        ),
        (
            "strategic",
            json!({"field_type": "boolean"}),
            json!(true),
            json!(true),
            json!("yes"),
            "invalid_custom_value",
        ),
        (
            "presales",
            json!({"field_type": "user"}),
            json!(rep),
            json!(rep),
            json!(987_654),
            "unknown_user",
        ),
        (
            "tender_url",
            json!({"field_type": "url"}),
            json!("https://ggzy.example.gov.cn/tender/42"),
            json!("https://ggzy.example.gov.cn/tender/42"),
            json!("ggzy.example.gov.cn"),
            "invalid_url",
        ),
        (
            "hotline",
            json!({"field_type": "phone"}),
            json!("021-6888 1234"),
            json!("02168881234"),
            json!("call me"),
            "invalid_phone",
        ),
        (
            "buyer_email",
            json!({"field_type": "email"}),
            json!("Buyer@Example.COM"),
            json!("buyer@example.com"),
            json!("buyer@"),
            "invalid_email",
        ),
    ];
    for (key, def, ..) in &table {
        define(
            &app,
            field("opportunity", key, &key.replace('_', " "), def.clone()),
        )
        .await;
    }
    let (_, list) = app
        .get("/api/v1/custom-fields?record_kind=opportunity", "rep_sh")
        .await;
    assert_eq!(list.as_array().unwrap().len(), table.len());

    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"定制客户"}"#)
        .await;
    let valid: serde_json::Map<String, Value> = table
        .iter()
        .map(|(k, _, v, ..)| (k.to_string(), v.clone()))
        .collect();
    let stored: serde_json::Map<String, Value> = table
        .iter()
        .map(|(k, _, _, s, ..)| (k.to_string(), s.clone()))
        .collect();
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "全类型商机", "account_id": account["id"], "custom": valid})
                .to_string(),
        )
        .await;
    assert_eq!(opp["custom"], Value::Object(stored.clone()));
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    assert_eq!(
        app.get(&url, "rep_sh").await.1,
        opp,
        "what a create answers is stored"
    );
    let (_, list) = app.get("/api/v1/opportunities", "rep_sh").await;
    assert_eq!(list["items"][0]["custom"], Value::Object(stored));

    // Each invalid value: 422 naming custom.<key>, on create and on update, nothing written.
    let before = counts(&app).await;
    for (key, _, _, _, bad, code) in &table {
        let custom = json!({ *key: bad });
        let (s, err) = app
            .patch(
                &url,
                "rep_sh",
                &json!({"title": "改", "custom": custom}).to_string(),
            )
            .await;
        assert_eq!(
            (s, err["field"].as_str(), err["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(format!("custom.{key}").as_str()),
                Some(*code)
            ),
            "PATCH {key}: {err}"
        );
        let (s, err) = app
            .post(
                "/api/v1/opportunities",
                "rep_sh",
                &json!({"title": "新", "account_id": account["id"], "custom": custom}).to_string(),
            )
            .await;
        assert_eq!(
            (s, err["field"].as_str(), err["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(format!("custom.{key}").as_str()),
                Some(*code)
            ),
            "POST {key}: {err}"
        );
    }
    for (body, field, code) in [
        (
            json!({"custom": {"colour": "red"}}),
            "custom.colour",
            "unknown_field",
        ),
        (
            json!({"custom": {"units": 1.5}}),
            "custom.units",
            "invalid_custom_value",
        ),
        (
            json!({"custom": {"lines": "泵"}}),
            "custom.lines",
            "invalid_custom_value",
        ),
        (
            json!({"custom": {"budget": 100}}),
            "custom.budget",
            "invalid_custom_value",
        ),
        (
            json!({"custom": {"discount": 0.1, "code": "x"}}),
            "custom.code",
            "pattern_mismatch",
        ),
    ] {
        let (s, err) = app.patch(&url, "rep_sh", &body.to_string()).await;
        assert_eq!(
            (s, err["field"].as_str(), err["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field), Some(code)),
            "{body}: {err}"
        );
    }
    assert_eq!(counts(&app).await, before, "nothing was written");
    assert_eq!(
        app.get(&url, "rep_sh").await.1,
        opp,
        "the opportunity is unchanged"
    );

    // null and an empty value clear; a list of fewer options replaces the list.
    let (s, v) = app
        .patch(
            &url,
            "rep_sh",
            r#"{"custom": {"code": null, "background": "", "lines": ["阀"], "discount": 0.1}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["custom"].get("code").is_none() && v["custom"].get("background").is_none());
    assert_eq!(
        (
            v["custom"]["lines"].clone(),
            v["custom"]["discount"].clone()
        ),
        (json!(["阀"]), json!("0.10"))
    );
    assert_eq!(app.get(&url, "rep_sh").await.1, v);

    // Accounts, contacts and leads take custom values too; activities do not.
    for (kind, path, body) in [
        ("account", "accounts", json!({"name": "带字段客户"})),
        ("contact", "contacts", json!({"name": "王工"})),
        ("lead", "leads", json!({"company_name": "苏州某厂"})),
    ] {
        define(
            &app,
            field(
                kind,
                "wechat_group",
                "WeChat group",
                json!({"field_type": "text"}),
            ),
        )
        .await;
        let mut body = body;
        body["custom"] = json!({"wechat_group": "华东客户群"});
        let created = app
            .create(&format!("/api/v1/{path}"), "rep_sh", &body.to_string())
            .await;
        assert_eq!(created["custom"]["wechat_group"], "华东客户群", "{path}");
        let item = format!("/api/v1/{path}/{}", created["id"]);
        assert_eq!(app.get(&item, "rep_sh").await.1, created, "{path}");
        let (s, err) = app
            .patch(&item, "rep_sh", r#"{"custom": {"region": "华东"}}"#)
            .await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("unknown_field"),
                Some("custom.region")
            ),
            "{path}: opportunity fields are not theirs"
        );
    }
    let (s, err) = app
        .post(
            "/api/v1/activities",
            "rep_sh",
            &json!({"kind": "call", "summary": "x", "opportunity_id": opp["id"], "custom": {}})
                .to_string(),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_field"))
    );
}

#[tokio::test]
async fn required_fields_on_create() {
    let app = TestApp::new().await;
    define(&app, field("account", "tier", "Tier", json!({"field_type": "single_select", "required": true, "options": [{"value": "A"}, {"value": "B"}]}))).await;
    define(
        &app,
        field("account", "note", "Note", json!({"field_type": "text"})),
    )
    .await;
    let before = counts(&app).await;
    for body in [
        json!({"name": "无等级"}),
        json!({"name": "空等级", "custom": {"tier": null}}),
        json!({"name": "空等级", "custom": {"tier": "", "note": "x"}}),
    ] {
        let (s, err) = app
            .post("/api/v1/accounts", "rep_sh", &body.to_string())
            .await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("required"),
                Some("custom.tier")
            ),
            "{body}"
        );
    }
    assert_eq!(counts(&app).await, before, "nothing was written");
    let account = app
        .create(
            "/api/v1/accounts",
            "rep_sh",
            r#"{"name":"甲级客户","custom":{"tier":"A"}}"#,
        )
        .await;
    let url = format!("/api/v1/accounts/{}", account["id"]);
    let (s, err) = app
        .patch(&url, "rep_sh", r#"{"custom":{"tier":null}}"#)
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("required"))
    );
    let (s, v) = app.patch(&url, "rep_sh", r#"{"notes":"只改备注"}"#).await;
    assert_eq!(
        (s, v["custom"]["tier"].as_str()),
        (StatusCode::OK, Some("A"))
    );
    // A field made required later binds new records only.
    define(
        &app,
        field(
            "account",
            "scale",
            "Scale",
            json!({"field_type": "integer", "required": true}),
        ),
    )
    .await;
    let (s, v) = app
        .patch(&url, "rep_sh", r#"{"notes":"旧客户照常修改"}"#)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn lists_filter_by_equality_and_range() {
    let app = TestApp::new().await;
    for (key, def) in [
        (
            "region",
            json!({"field_type": "single_select", "options": [{"value": "华东"}, {"value": "华南"}]}),
        ),
        (
            "lines",
            json!({"field_type": "multi_select", "options": [{"value": "泵"}, {"value": "阀"}]}),
        ),
        ("units", json!({"field_type": "integer"})),
        (
            "discount",
            json!({"field_type": "decimal", "decimal_places": 1}),
        ),
        ("budget", json!({"field_type": "money"})),
        ("tender_date", json!({"field_type": "date"})),
        ("visit_at", json!({"field_type": "date_time"})),
        ("strategic", json!({"field_type": "boolean"})),
        ("code", json!({"field_type": "text"})),
        ("memo", json!({"field_type": "long_text"})),
        ("valid_from", json!({"field_type": "date"})),
    ] {
        define(&app, field("opportunity", key, key, def)).await;
    }
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"筛选客户"}"#)
        .await;
    for i in 0..6i64 {
        let custom = json!({
            "region": if i % 2 == 0 { "华东" } else { "华南" },
            "lines": if i % 3 == 0 { json!(["泵", "阀"]) } else { json!(["泵"]) },
            "units": i * 10,
            "discount": format!("{i}.5"),
            "budget": {"amount_minor": i * 100_000, "currency": "CNY"},
            "tender_date": format!("2026-0{}-15", i + 1),
            "visit_at": format!("2026-05-0{}T09:00:00+08:00", i + 1),
            "strategic": i == 4,
            "code": format!("C{i}"),
            "valid_from": "2026-01-01",
        });
        app.create(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": format!("商机{i}"), "account_id": account["id"], "custom": custom})
                .to_string(),
        )
        .await;
    }
    app.create(
        "/api/v1/opportunities",
        "rep_sh",
        &json!({"title": "无字段", "account_id": account["id"]}).to_string(),
    )
    .await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("cf.region=华东", vec!["商机0", "商机2", "商机4"]),
        ("cf.lines=阀", vec!["商机0", "商机3"]),
        (
            "cf.lines=泵&cf.region=华南",
            vec!["商机1", "商机3", "商机5"],
        ),
        (
            "cf.units_from=20&cf.units_to=40",
            vec!["商机2", "商机3", "商机4"],
        ),
        ("cf.units=50", vec!["商机5"]),
        (
            "cf.discount_from=2.5",
            vec!["商机2", "商机3", "商机4", "商机5"],
        ),
        ("cf.discount=1.50", vec!["商机1"]),
        ("cf.budget_to=100000", vec!["商机0", "商机1"]),
        (
            "cf.tender_date_from=2026-02-01&cf.tender_date_to=2026-03-31",
            vec!["商机1", "商机2"],
        ),
        (
            "cf.visit_at_from=2026-05-05T00:00:00Z",
            vec!["商机4", "商机5"],
        ),
        ("cf.strategic=true", vec!["商机4"]),
        ("cf.code=C3", vec!["商机3"]),
        (
            "cf.valid_from=2026-01-01&cf.region=华南&q=商机5",
            vec!["商机5"],
        ),
        (
            "cf.region=华东&status=open&sort=-updated_at",
            vec!["商机0", "商机2", "商机4"],
        ),
    ];
    for (query, want) in cases {
        let (s, v) = app
            .get(&format!("/api/v1/opportunities?{query}"), "rep_sh")
            .await;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
        assert_eq!(titles(&v), want, "{query}");
        assert_eq!(v["total"], want.len(), "{query}");
    }
    for (query, code, field) in [
        ("cf.colour=red", "unknown_filter", "cf.colour"),
        ("cf.region_from=华东", "invalid_parameter", "cf.region_from"),
        ("cf.region=火星", "invalid_parameter", "cf.region"),
        ("cf.units=many", "invalid_parameter", "cf.units"),
        ("cf.code_from=A", "invalid_parameter", "cf.code_from"),
        (
            "cf.strategic_to=true",
            "invalid_parameter",
            "cf.strategic_to",
        ),
        ("cf.colour_from=1", "unknown_filter", "cf.colour_from"),
        ("cf.memo=x", "invalid_parameter", "cf.memo"),
        (
            "cf.tender_date_from=31/12/2026",
            "invalid_parameter",
            "cf.tender_date_from",
        ),
    ] {
        let (s, err) = app
            .get(&format!("/api/v1/opportunities?{query}"), "rep_sh")
            .await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code), Some(field)),
            "{query}: {err}"
        );
    }
    // Another record kind has its own fields: an opportunity field is unknown on accounts.
    let (s, err) = app.get("/api/v1/accounts?cf.region=华东", "rep_sh").await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_filter"))
    );
    // Visibility still applies.
    let (_, v) = app
        .get("/api/v1/opportunities?cf.region=华东", "rep_south")
        .await;
    assert_eq!(v["total"], 0);
}

#[tokio::test]
async fn export_has_a_column_per_field() {
    let app = TestApp::new().await;
    define(
        &app,
        field(
            "opportunity",
            "region",
            "Sales region",
            json!({"field_type": "single_select", "options": [{"value": "华东"}]}),
        ),
    )
    .await;
    define(
        &app,
        field(
            "opportunity",
            "lines",
            "Product lines",
            json!({"field_type": "multi_select", "options": [{"value": "泵"}, {"value": "阀"}]}),
        ),
    )
    .await;
    define(
        &app,
        field(
            "opportunity",
            "budget",
            "title",
            json!({"field_type": "money"}),
        ),
    )
    .await;
    let old = define(
        &app,
        field(
            "opportunity",
            "old_code",
            "Old code",
            json!({"field_type": "text"}),
        ),
    )
    .await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "导出商机").await;
    app.patch(
        &format!("/api/v1/opportunities/{}", opp["id"]),
        "rep_sh",
        r#"{"custom": {"region": "华东", "lines": ["阀", "泵"], "budget": {"amount_minor": 1234567}, "old_code": "X"}}"#,
    )
    .await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/custom-fields/{}", old["id"]),
        Some("admin"),
        None,
    )
    .await;
    let (s, csv) = app
        .get("/api/v1/opportunities/export.csv?cf.region=华东", "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK);
    let csv = csv
        .as_str()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| {
        let at = header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"));
        rows[0][at].clone()
    };
    assert_eq!(cell("Sales region"), "华东");
    assert_eq!(cell("Product lines"), "泵;阀");
    assert_eq!(
        cell("budget"),
        "12345.67 CNY",
        "a label taken by a built-in column gives way to the key"
    );
    assert_eq!(cell("title"), "导出商机");
    assert!(
        !header
            .iter()
            .any(|h| h == "Old code" || h == "old_code" || h.starts_with("custom")),
        "{header:?}"
    );
    assert_eq!(
        &header[header.len() - 3..],
        ["Sales region", "Product lines", "budget"]
    );
}

#[tokio::test]
async fn renaming_an_option_keeps_every_value() {
    let app = TestApp::new().await;
    let region = define(
        &app,
        field(
            "opportunity",
            "region",
            "Region",
            json!({"field_type": "single_select", "options": [{"value": "A"}, {"value": "B"}]}),
        ),
    )
    .await;
    let tags = define(
        &app,
        field(
            "opportunity",
            "tags2",
            "Tags",
            json!({"field_type": "multi_select", "options": [{"value": "A"}, {"value": "B"}]}),
        ),
    )
    .await;
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"改名客户"}"#)
        .await;
    for i in 0..5 {
        let value = if i < 3 { "A" } else { "B" };
        app.create(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": format!("改名{i}"), "account_id": account["id"], "custom": {"region": value, "tags2": ["A", "B"]}}).to_string(),
        )
        .await;
    }
    let url = format!("/api/v1/custom-fields/{}", region["id"]);
    let (s, v) = app
        .patch(
            &url,
            "admin",
            r#"{"rename_options": [{"from": "A", "to": "华东"}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["options"][0]["value"], "华东");
    let (_, list) = app.get("/api/v1/opportunities?per_page=200", "admin").await;
    let mut regions: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["custom"]["region"].as_str().unwrap().to_string())
        .collect();
    regions.sort();
    assert_eq!(regions, ["B", "B", "华东", "华东", "华东"]);
    let (_, v) = app
        .get("/api/v1/opportunities?cf.region=华东", "admin")
        .await;
    assert_eq!(v["total"], 3);
    let (s, _) = app.get("/api/v1/opportunities?cf.region=A", "admin").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "A is no longer an option");
    // A multi-select keeps each record's other options.
    let (s, _) = app
        .patch(
            &format!("/api/v1/custom-fields/{}", tags["id"]),
            "admin",
            r#"{"rename_options": [{"from": "B", "to": "乙"}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app.get("/api/v1/opportunities?cf.tags2=乙", "admin").await;
    assert_eq!(v["total"], 5);
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["custom"]["tags2"] == json!(["A", "乙"])));
    // Options are archived, not removed; a rename to a taken value is refused.
    for (body, code, field) in [
        (
            r#"{"options": [{"value": "华东"}]}"#,
            "option_removed",
            "options",
        ),
        (
            r#"{"rename_options": [{"from": "B", "to": "华东"}]}"#,
            "duplicate_option",
            "rename_options[0].to",
        ),
        (
            r#"{"rename_options": [{"from": "Z", "to": "Y"}]}"#,
            "unknown_option",
            "rename_options[0].from",
        ),
    ] {
        let (s, err) = app.patch(&url, "admin", body).await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code), Some(field)),
            "{body}"
        );
    }
    let (s, v) = app
        .patch(
            &url,
            "admin",
            r#"{"options": [{"value": "华东"}, {"value": "B", "archived": true}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app.get("/api/v1/opportunities?cf.region=B", "admin").await;
    assert_eq!(v["total"], 2, "records keep an archived option");
    let id = v["items"][0]["id"].clone();
    let (s, err) = app
        .patch(
            &format!("/api/v1/opportunities/{id}"),
            "admin",
            r#"{"title":"重选","custom":{"region":"B"}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "keeping the value is no change: {err}");
    let (_, other) = app
        .get("/api/v1/opportunities?cf.region=华东", "admin")
        .await;
    let other_id = other["items"][0]["id"].clone();
    let (s, err) = app
        .patch(
            &format!("/api/v1/opportunities/{other_id}"),
            "admin",
            r#"{"custom":{"region":"B"}}"#,
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_option")),
        "an archived option cannot be chosen anew"
    );
}

#[tokio::test]
async fn an_archived_field_keeps_its_data_and_refuses_new_values() {
    let app = TestApp::new().await;
    let (account, _) = app.account_and_opportunity("rep_sh", "占位").await;
    let def = define(
        &app,
        field(
            "opportunity",
            "legacy_no",
            "Legacy number",
            json!({"field_type": "text", "required": true}),
        ),
    )
    .await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "旧编号", "account_id": account, "custom": {"legacy_no": "L-001"}})
                .to_string(),
        )
        .await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let (s, archived) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/custom-fields/{}", def["id"]),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(
        (s, archived["archived"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (_, got) = app.get(&url, "rep_sh").await;
    assert_eq!(got["custom"]["legacy_no"], "L-001", "the data is kept");
    let (_, v) = app
        .get("/api/v1/opportunities?cf.legacy_no=L-001", "rep_sh")
        .await;
    assert_eq!(v["total"], 1, "and still found");
    let before = counts(&app).await;
    for body in [
        r#"{"custom":{"legacy_no":"L-002"}}"#,
        r#"{"custom":{"legacy_no":null}}"#,
    ] {
        let (s, err) = app.patch(&url, "rep_sh", body).await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("archived_field"),
                Some("custom.legacy_no")
            ),
            "{body}"
        );
    }
    let (s, err) = app
        .post(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "新", "account_id": account, "custom": {"legacy_no": "L-3"}})
                .to_string(),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("archived_field"))
    );
    assert_eq!(counts(&app).await, before, "nothing was written");
    // Sending back what was read changes nothing; an archived field is no longer required.
    let (s, _) = app
        .patch(
            &url,
            "rep_sh",
            &json!({"next_step": "回访", "custom": got["custom"]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.create(
        "/api/v1/opportunities",
        "rep_sh",
        &json!({"title": "无旧编号", "account_id": account}).to_string(),
    )
    .await;
    let (_, listed) = app.get("/api/v1/custom-fields", "rep_sh").await;
    assert!(
        listed.as_array().unwrap().is_empty(),
        "archived fields are left out"
    );
    let (_, listed) = app
        .get(
            "/api/v1/custom-fields?include_archived=true&record_kind=opportunity",
            "rep_sh",
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Restoring makes it writable again.
    let (s, _) = app
        .patch(
            &format!("/api/v1/custom-fields/{}", def["id"]),
            "admin",
            r#"{"archived": false}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .patch(&url, "rep_sh", r#"{"custom":{"legacy_no":"L-009"}}"#)
        .await;
    assert_eq!(
        (s, v["custom"]["legacy_no"].as_str()),
        (StatusCode::OK, Some("L-009"))
    );
}

#[tokio::test]
async fn type_changes_keep_values_or_are_refused() {
    let app = TestApp::new().await;
    let note = define(
        &app,
        field("account", "note", "Note", json!({"field_type": "text"})),
    )
    .await;
    let size = define(
        &app,
        field(
            "account",
            "size_n",
            "Size",
            json!({"field_type": "integer"}),
        ),
    )
    .await;
    let empty = define(
        &app,
        field(
            "account",
            "unused",
            "Unused",
            json!({"field_type": "integer"}),
        ),
    )
    .await;
    let rate = define(
        &app,
        field(
            "account",
            "rate",
            "Rate",
            json!({"field_type": "decimal", "decimal_places": 2}),
        ),
    )
    .await;
    let account = app
        .create(
            "/api/v1/accounts",
            "rep_sh",
            r#"{"name":"类型客户","custom":{"note":"短备注","size_n":120,"rate":"3.5"}}"#,
        )
        .await;
    let url = format!("/api/v1/accounts/{}", account["id"]);
    let def_url = |d: &Value| format!("/api/v1/custom-fields/{}", d["id"]);

    // Allowed: every value kept, in the new type.
    for (d, body, key, want) in [
        (
            &note,
            json!({"field_type": "long_text"}),
            "note",
            json!("短备注"),
        ),
        (
            &size,
            json!({"field_type": "decimal", "decimal_places": 1}),
            "size_n",
            json!("120.0"),
        ),
        (&rate, json!({"decimal_places": 4}), "rate", json!("3.5000")),
        (&rate, json!({"decimal_places": 1}), "rate", json!("3.5")),
    ] {
        let (s, v) = app.patch(&def_url(d), "admin", &body.to_string()).await;
        assert_eq!(s, StatusCode::OK, "{body}: {v}");
        let (_, got) = app.get(&url, "rep_sh").await;
        assert_eq!(got["custom"][key], want, "{body}");
    }
    // Refused: nothing changes, definition or value.
    let (_, defs_before) = app.get("/api/v1/custom-fields", "admin").await;
    for (d, body, field) in [
        (&size, json!({"field_type": "boolean"}), "field_type"),
        (&size, json!({"field_type": "money"}), "field_type"),
        (&rate, json!({"decimal_places": 0}), "decimal_places"),
        (&note, json!({"field_type": "date"}), "field_type"),
    ] {
        let (s, err) = app.patch(&def_url(d), "admin", &body.to_string()).await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("type_change_loses_data"),
                Some(field)
            ),
            "{body}: {err}"
        );
    }
    let long = "长".repeat(300);
    app.patch(
        &url,
        "rep_sh",
        &json!({"custom": {"note": long}}).to_string(),
    )
    .await;
    let (s, err) = app
        .patch(&def_url(&note), "admin", r#"{"field_type":"text"}"#)
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("type_change_loses_data")
        )
    );
    assert_eq!(
        app.get("/api/v1/custom-fields", "admin").await.1,
        defs_before
    );
    assert_eq!(
        app.get(&url, "rep_sh").await.1["custom"]["note"],
        json!(long)
    );
    // Without values any type is fine; key and record kind never change.
    let (s, v) = app
        .patch(&def_url(&empty), "admin", r#"{"field_type":"boolean"}"#)
        .await;
    assert_eq!(
        (s, v["field_type"].as_str()),
        (StatusCode::OK, Some("boolean"))
    );
    for (body, code, field) in [
        (r#"{"key":"other"}"#, "read_only", "key"),
        (r#"{"record_kind":"lead"}"#, "read_only", "record_kind"),
        (
            r#"{"options":[{"value":"x"}]}"#,
            "not_applicable",
            "options",
        ),
    ] {
        let (s, err) = app.patch(&def_url(&empty), "admin", body).await;
        assert_eq!(
            (s, err["code"].as_str(), err["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code), Some(field)),
            "{body}"
        );
    }
    let (s, err) = app
        .post(
            "/api/v1/custom-fields",
            "admin",
            &field("account", "note", "Again", json!({"field_type": "text"})).to_string(),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str(), err["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("duplicate"),
            Some("key")
        )
    );
}

#[tokio::test]
async fn only_admins_define_fields() {
    let app = TestApp::new().await;
    let def = define(
        &app,
        field("lead", "channel", "Channel", json!({"field_type": "text"})),
    )
    .await;
    let url = format!("/api/v1/custom-fields/{}", def["id"]);
    let body = field("lead", "other", "Other", json!({"field_type": "text"})).to_string();
    for login in ["rep_sh", "mgr_east", "director"] {
        for (method, path, body) in [
            (Method::POST, "/api/v1/custom-fields", Some(body.as_str())),
            (Method::PATCH, url.as_str(), Some(r#"{"label_zh":"渠道"}"#)),
            (Method::DELETE, url.as_str(), None),
        ] {
            let (s, err) = app.call(method.clone(), path, Some(login), body).await;
            assert_eq!(
                (s, err["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("admin_only")),
                "{login} {method} {path}"
            );
        }
        let (s, list) = app
            .get("/api/v1/custom-fields?record_kind=lead", login)
            .await;
        assert_eq!(
            (s, list.as_array().unwrap().len()),
            (StatusCode::OK, 1),
            "{login} reads"
        );
        let (s, one) = app.get(&url, login).await;
        assert_eq!((s, one["key"].as_str()), (StatusCode::OK, Some("channel")));
    }
    assert_eq!(app.get(&url, "admin").await.1, def, "unchanged");
    let (s, _) = app.get("/api/v1/custom-fields/424242", "admin").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, err) = app
        .get("/api/v1/custom-fields?record_kind=task", "admin")
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_parameter"))
    );
    let (s, _) = app
        .call(Method::GET, "/api/v1/custom-fields", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn custom_changes_are_opportunity_history() {
    let app = TestApp::new().await;
    define(&app, field("opportunity", "region", "Region", json!({"field_type": "single_select", "options": [{"value": "华东"}, {"value": "华南"}]}))).await;
    define(
        &app,
        field(
            "opportunity",
            "budget",
            "Budget",
            json!({"field_type": "decimal"}),
        ),
    )
    .await;
    let (account, _) = app.account_and_opportunity("rep_sh", "占位").await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "历史商机", "account_id": account, "custom": {"region": "华东"}})
                .to_string(),
        )
        .await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let (s, v) = app
        .patch(
            &url,
            "rep_sh",
            r#"{"version":1,"custom":{"region":"华南","budget":"100"}}"#,
        )
        .await;
    assert_eq!((s, v["version"].as_i64()), (StatusCode::OK, Some(2)), "{v}");
    let (s, same) = app
        .patch(
            &url,
            "rep_sh",
            r#"{"custom":{"region":"华南","budget":"100.00"}}"#,
        )
        .await;
    assert_eq!(
        (s, same["version"].as_i64()),
        (StatusCode::OK, Some(2)),
        "no change, no write"
    );
    let (s, _) = app
        .patch(&url, "rep_sh", r#"{"version":1,"custom":{"budget":"200"}}"#)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, v) = app
        .patch(&url, "rep_sh", r#"{"custom":{"budget":null}}"#)
        .await;
    assert!(v["custom"].get("budget").is_none());

    let (_, events) = app.get(&format!("{url}/events"), "rep_sh").await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "custom_field_changed",
            "custom_field_changed",
            "custom_field_changed"
        ]
    );
    let e = events.as_array().unwrap();
    assert_eq!(e[0]["new_value"]["custom"], json!({"region": "华东"}));
    let changes: Vec<(Value, Value)> = e[1..]
        .iter()
        .map(|x| (x["old_value"].clone(), x["new_value"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (
                json!({"key": "budget", "value": null}),
                json!({"key": "budget", "value": "100.00"})
            ),
            (
                json!({"key": "region", "value": "华东"}),
                json!({"key": "region", "value": "华南"})
            ),
            (
                json!({"key": "budget", "value": "100.00"}),
                json!({"key": "budget", "value": null})
            ),
        ]
    );
    assert!(e.iter().all(|x| x["actor_id"] == app.user_id("rep_sh")));
    // An idempotent retry answers the same record, values included.
    let body = json!({"title": "重试", "account_id": account, "custom": {"region": "华东", "budget": "1"}}).to_string();
    let key = [("idempotency-key", "cf-retry")];
    let (s1, a) = app
        .call_with(
            Method::POST,
            "/api/v1/opportunities",
            Some("rep_sh"),
            Some(&body),
            &key,
        )
        .await;
    let (s2, b) = app
        .call_with(
            Method::POST,
            "/api/v1/opportunities",
            Some("rep_sh"),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a, b);
    assert_eq!(a["custom"], json!({"region": "华东", "budget": "1.00"}));
}

#[tokio::test]
async fn openapi_documents_custom_fields() {
    let app = TestApp::new().await;
    let (_, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    for (path, method) in [
        ("/api/v1/custom-fields", "get"),
        ("/api/v1/custom-fields", "post"),
        ("/api/v1/custom-fields/{id}", "patch"),
        ("/api/v1/custom-fields/{id}", "delete"),
        ("/api/v1/opportunities/export.csv", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    for schema in [
        "CustomFieldDef",
        "CustomFieldInput",
        "CustomFieldType",
        "SelectOption",
        "Validation",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    let patch = &doc["components"]["schemas"]["CustomFieldInput"]["properties"];
    assert!(patch["rename_options"].is_object(), "{patch}");
    for schema in ["Opportunity", "OpportunityInput", "Account", "LeadInput"] {
        assert!(
            doc["components"]["schemas"][schema]["properties"]["custom"].is_object(),
            "{schema}.custom"
        );
    }
    let params = doc["paths"]["/api/v1/leads"]["get"]["parameters"].to_string();
    assert!(params.contains("cf.<key>_from"), "{params}");
    let kinds = doc["components"]["schemas"]["EventKind"].to_string();
    assert!(kinds.contains("custom_field_changed"));
}

#[tokio::test]
async fn a_key_left_empty_is_made_from_the_labels() {
    let app = TestApp::new().await;
    // Through the API: without a key, or an empty one.
    let a = define(
        &app,
        json!({"record_kind": "opportunity", "label_zh": "采购预算", "label_en": "Purchase budget", "field_type": "text"}),
    )
    .await;
    assert_eq!(a["key"], "purchase_budget");
    let b = define(
        &app,
        json!({"record_kind": "opportunity", "key": "", "label_zh": "采购预算（二）", "label_en": "Purchase budget", "field_type": "text"}),
    )
    .await;
    assert_eq!(b["key"], "purchase_budget_2", "unique");
    // Through the page: the key input left empty, labels in Chinese only.
    let admin = common::browser::browser(&app, "admin").await;
    let r = admin
        .post(
            "/admin/custom-fields",
            &[
                ("record_kind", "account"),
                ("key", ""),
                ("label_zh", "客户等级"),
                ("label_en", "客户等级"),
                ("field_type", "text"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, defs) = app.get("/api/v1/custom-fields", "admin").await;
    let keys: Vec<&str> = defs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"ke_hu_deng_ji"), "{keys:?}");
    // Saved, the key stays when the labels change.
    let (s, v) = app
        .patch(
            &format!("/api/v1/custom-fields/{}", a["id"]),
            "admin",
            &json!({"label_en": "Budget"}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["key"], "purchase_budget");
}
