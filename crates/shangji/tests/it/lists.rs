//! List pages, saved views, bulk changes, exports, search and the leads inbox, through the
//! router: what each person sees stays within their visibility on every path. Runs on
//! SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::browser::{after, between, browser, encode};
use common::TestApp;
use serde_json::Value;
use tower::ServiceExt;

/// A request with a bearer token or a session cookie and extra headers; the raw answer.
async fn raw(
    app: &TestApp,
    path: &str,
    login: Option<&str>,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(l) = login {
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", app.tokens[l]));
    }
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    (status, h, bytes.to_vec())
}

async fn opp(app: &TestApp, login: &str, account: i64, body: &str) -> Value {
    app.create(
        "/api/v1/opportunities",
        login,
        &format!(r#"{{"account_id":{account},{body}}}"#),
    )
    .await
}

async fn account(app: &TestApp, login: &str, body: &str) -> i64 {
    app.create("/api/v1/accounts", login, body).await["id"]
        .as_i64()
        .unwrap()
}

/// Row ids of a list page's table, in order.
fn row_ids(body: &str) -> Vec<i64> {
    body.match_indices("<tr id=\"row-")
        .map(|(i, m)| {
            let rest = &body[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_list_filters_sorts_chooses_columns_and_refreshes_in_place() {
    let app = TestApp::new().await;
    let a = account(&app, "rep_sh", r#"{"name":"华为技术有限公司"}"#).await;
    let small = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"小单","amount_minor":100000,"grade":"a""#,
    )
    .await;
    let big = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"大单","amount_minor":900000,"grade":"a""#,
    )
    .await;
    let other = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"B 级单","amount_minor":500000,"grade":"b""#,
    )
    .await;
    let south_acc = account(&app, "rep_south", r#"{"name":"广州某公司"}"#).await;
    let south = opp(
        &app,
        "rep_south",
        south_acc,
        r#""title":"华南单","amount_minor":700000"#,
    )
    .await;
    let rep = browser(&app, "rep_sh").await;

    // The whole list, newest first; another rep's deal is not there.
    let r = rep.get("/opportunities").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("aria-current=\"page\">商机"), "nav section");
    assert!(
        r.body
            .contains("<summary aria-current=\"true\">销售</summary>"),
        "its menu is marked"
    );
    assert_eq!(r.body.matches("<summary aria-current").count(), 1);
    assert_eq!(row_ids(&r.body), vec![id(&other), id(&big), id(&small)]);
    assert!(!r.body.contains("华南单"));
    assert!(r.body.contains("华为技术有限公司"), "the account's name");
    assert!(r.body.contains("¥9,000.00"));

    // A filter and a sort, both in the address.
    let r = rep.get("/opportunities?grade=a&sort=amount_minor").await;
    assert_eq!(row_ids(&r.body), vec![id(&small), id(&big)]);
    assert!(r.body.contains("aria-sort=\"ascending\""));
    assert!(
        r.body
            .contains("href=\"/opportunities?grade=a&#38;sort=-amount_minor\""),
        "clicking the sorted column sorts descending, keeping the filter"
    );
    let r = rep.get("/opportunities?grade=a&sort=-amount_minor").await;
    assert_eq!(row_ids(&r.body), vec![id(&big), id(&small)]);
    // Blank filters, as a form sends them, mean no filter.
    let r = rep
        .get("/opportunities?q=&owner_id=&grade=&status=open&sort=title")
        .await;
    assert_eq!(row_ids(&r.body).len(), 3);
    // Free text.
    let r = rep.get("/opportunities?q=%E5%A4%A7").await;
    assert_eq!(row_ids(&r.body), vec![id(&big)]);

    // Columns: probability chosen, account not; labels in the user's language.
    let r = rep
        .get("/opportunities?cols=title&cols=probability&cols=amount")
        .await;
    let head = between(&r.body, "<thead>", "</thead>");
    assert!(head.contains("赢率 %") && head.contains("金额"), "{head}");
    assert!(!head.contains(">客户<"), "{head}");
    assert!(r.body.contains("value=\"probability\" checked"));

    // An htmx request for the table gets the table only.
    let (s, _, body) = raw(
        &app,
        "/opportunities?grade=b",
        None,
        Some(&rep.cookie),
        &[("hx-request", "true"), ("hx-target", "list-results")],
    )
    .await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(s, StatusCode::OK);
    assert!(body.starts_with("<div id=\"list-results\""), "{body}");
    assert!(!body.contains("<html"));
    assert_eq!(row_ids(&body), vec![id(&other)]);

    // A filter the list cannot read is named, and the rest still applies.
    let r = rep.get("/opportunities?grade=z").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"bulk-error\""));

    // The same filter means the same on the API.
    let (_, page) = app
        .get("/api/v1/opportunities?grade=a&sort=amount_minor", "rep_sh")
        .await;
    let api_ids: Vec<i64> = page["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(api_ids, vec![id(&small), id(&big)]);

    // A manager of 华东 sees the team's deals, not 华南's; the director sees both.
    let mgr = browser(&app, "mgr_east").await;
    assert!(!mgr.get("/opportunities").await.body.contains("华南单"));
    let dir = browser(&app, "director").await;
    let r = dir.get("/opportunities").await;
    assert!(row_ids(&r.body).contains(&id(&south)));

    // Every kind has its list, in its nav section.
    for (path, word) in [
        ("/accounts", "客户"),
        ("/contacts", "联系人"),
        ("/leads", "线索"),
        ("/activities", "跟进"),
        ("/tasks", "任务"),
    ] {
        let r = rep.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.body
                .contains(&format!("<a href=\"{path}\" aria-current=\"page\">")),
            "{path}"
        );
        let _ = word;
    }
    let r = rep.get("/accounts?sort=name").await;
    assert!(r.body.contains("华为技术有限公司") && !r.body.contains("广州某公司"));
}

#[tokio::test]
async fn saved_views_are_private_to_their_owner() {
    let app = TestApp::new().await;
    let (s, v) = app
        .post(
            "/api/v1/views",
            "rep_sh",
            r#"{"kind":"opportunities","name":"A 级大单","query":"grade=a&sort=-amount_minor&cols=title&cols=amount&page=3"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["query"],
        "grade=a&sort=-amount_minor&cols=title&cols=amount"
    );
    let view_id = id(&v);

    let (s, list) = app.get("/api/v1/views?kind=opportunities", "rep_sh").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, list) = app.get("/api/v1/views", "rep_east").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "someone else's views are not listed"
    );
    let (s, _) = app
        .get(&format!("/api/v1/views/{view_id}"), "rep_east")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/views/{view_id}"),
            Some("mgr_east"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not even a manager deletes it");

    // The same name twice, a query the list cannot read, an unknown list: refused.
    let (s, e) = app
        .post(
            "/api/v1/views",
            "rep_sh",
            r#"{"kind":"opportunities","name":"A 级大单","query":""}"#,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str(), e["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("duplicate"),
            Some("name")
        )
    );
    let (s, e) = app
        .post(
            "/api/v1/views",
            "rep_sh",
            r#"{"kind":"opportunities","name":"坏的","query":"sort=nope"}"#,
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("query"))
    );
    let (s, _) = app
        .post(
            "/api/v1/views",
            "rep_sh",
            r#"{"kind":"deals","name":"x","query":""}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, e) = app
        .post(
            "/api/v1/views",
            "rep_sh",
            r#"{"kind":"leads","name":"  ","query":""}"#,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("required"))
    );

    // On the page: saved from the form, listed, reopened, deleted.
    let rep = browser(&app, "rep_sh").await;
    let r = rep
        .post(
            "/leads/views",
            &[
                ("name", "我的新线索"),
                ("query", "status=new&sort=company_name"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location.unwrap();
    assert!(
        to.starts_with("/leads?status=new&sort=company_name&view="),
        "{to}"
    );
    let r = rep.get(&to).await;
    let views = between(&r.body, "id=\"saved-views\"", "</nav>");
    assert!(
        views.contains("aria-current=\"page\">我的新线索"),
        "{views}"
    );
    assert!(r.body.contains("<option value=\"new\" selected>"));
    let other = browser(&app, "rep_east").await;
    assert!(!other.get("/leads").await.body.contains("我的新线索"));
    // An empty name is shown beside the field.
    let r = rep
        .post("/leads/views", &[("name", ""), ("query", "status=new")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(after(&r.body, "id=\"view-name\"").contains("id=\"view-error\""));
    let lead_view = to.rsplit('=').next().unwrap();
    let r = other
        .post(&format!("/leads/views/{lead_view}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = rep
        .post(&format!("/leads/views/{lead_view}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, list) = app.get("/api/v1/views?kind=leads", "rep_sh").await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/views/{view_id}"),
            Some("rep_sh"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bulk_changes_go_through_the_single_record_rules_and_report_per_record() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let a = account(&app, "rep_sh", r#"{"name":"上海某客户"}"#).await;
    let ready = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"已确认需求","amount_minor":100000"#,
    )
    .await;
    let not_ready = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"未确认需求","amount_minor":200000"#,
    )
    .await;
    let third = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"第三单","amount_minor":300000"#,
    )
    .await;
    // One deal has what the next stage's gate asks for.
    let (s, v) = app
        .patch(
            &format!("/api/v1/opportunities/{}", id(&ready)),
            "rep_sh",
            r#"{"checklist":["need_confirmed"]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let rep = browser(&app, "rep_sh").await;
    let to = stages[1].to_string();
    let (r1, r2) = (id(&ready).to_string(), id(&not_ready).to_string());
    let r = rep
        .post(
            "/opportunities/bulk",
            &[
                ("query", "sort=title"),
                ("ids", &r1),
                ("ids", &r2),
                ("action", "move"),
                ("to_stage", &to),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let report = between(&r.body, "id=\"bulk-report\"", "</div>");
    assert!(
        report.contains("class=\"yes\"><strong>已确认需求</strong>: 完成"),
        "{report}"
    );
    assert!(
        report.contains("class=\"no\"><strong>未确认需求</strong>"),
        "{report}"
    );
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{r1}"), "rep_sh")
        .await;
    assert_eq!(o["stage_id"].as_i64(), Some(stages[1]));
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{r2}"), "rep_sh")
        .await;
    assert_eq!(
        o["stage_id"].as_i64(),
        Some(stages[0]),
        "the refused one stays"
    );
    assert_eq!(o["version"].as_i64(), Some(1), "nothing written for it");

    // A rep cannot hand deals to someone else: refused per record, as a single edit is.
    let east = app.user_id("rep_east").to_string();
    let r = rep
        .post(
            "/opportunities/bulk",
            &[("ids", &r1), ("action", "reassign"), ("to_owner", &east)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        after(&r.body, "id=\"bulk-report\"").contains("不能把记录分配给"),
        "{}",
        after(&r.body, "id=\"bulk-report\"")
    );

    // Their manager can, within the team, and not outside it.
    let mgr = browser(&app, "mgr_east").await;
    let r3 = id(&third).to_string();
    let r = mgr
        .post(
            "/opportunities/bulk",
            &[
                ("ids", &r2),
                ("ids", &r3),
                ("action", "reassign"),
                ("to_owner", &east),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for i in [&r2, &r3] {
        let (_, o) = app
            .get(&format!("/api/v1/opportunities/{i}"), "admin")
            .await;
        assert_eq!(o["owner_id"].as_i64(), Some(app.user_id("rep_east")));
    }
    let south = app.user_id("rep_south").to_string();
    let r = mgr
        .post(
            "/opportunities/bulk",
            &[("ids", &r1), ("action", "reassign"), ("to_owner", &south)],
        )
        .await;
    assert!(after(&r.body, "id=\"bulk-report\"").contains("class=\"no\""));

    // Tags on accounts and deals; the tag filter finds them.
    let b = account(
        &app,
        "rep_sh",
        r#"{"name":"苏州恒达精工","tags":["老客户"]}"#,
    )
    .await;
    let r = rep
        .post(
            "/accounts/bulk",
            &[
                ("ids", &a.to_string()),
                ("ids", &b.to_string()),
                ("action", "tag"),
                ("tag", "重点"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (_, acc) = app.get(&format!("/api/v1/accounts/{b}"), "rep_sh").await;
    assert_eq!(acc["tags"], serde_json::json!(["老客户", "重点"]));
    let r = rep.get(&format!("/accounts?tag={}", encode("重点"))).await;
    assert_eq!(row_ids(&r.body).len(), 2);
    let r = rep
        .get(&format!("/accounts?tag={}", encode("老客户")))
        .await;
    assert_eq!(row_ids(&r.body), vec![b]);
    let (_, page) = app
        .get(
            &format!("/api/v1/accounts?tag={}", encode("老客户")),
            "rep_sh",
        )
        .await;
    assert_eq!(page["total"], 1);

    // Nothing selected, or a record out of sight.
    let r = rep
        .post("/opportunities/bulk", &[("action", "tag"), ("tag", "x")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请至少选择一行"));
    let south_acc = account(&app, "rep_south", r#"{"name":"广州某公司"}"#).await;
    let r = rep
        .post(
            "/accounts/bulk",
            &[
                ("ids", &south_acc.to_string()),
                ("action", "tag"),
                ("tag", "偷看"),
            ],
        )
        .await;
    assert!(
        after(&r.body, "id=\"bulk-report\"").contains(&format!("#{south_acc}")),
        "not named"
    );
    let (_, acc) = app
        .get(&format!("/api/v1/accounts/{south_acc}"), "admin")
        .await;
    assert_eq!(acc["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn exports_keep_the_view_and_the_visibility() {
    let app = TestApp::new().await;
    let a = account(&app, "rep_sh", r#"{"name":"华为技术有限公司"}"#).await;
    opp(
        &app,
        "rep_sh",
        a,
        r#""title":"云迁移","amount_minor":12345678,"close_date":"2026-12-31","grade":"a""#,
    )
    .await;
    opp(
        &app,
        "rep_sh",
        a,
        r#""title":"园区网络","amount_minor":100,"grade":"b""#,
    )
    .await;
    let s_acc = account(&app, "rep_south", r#"{"name":"广州某公司"}"#).await;
    opp(
        &app,
        "rep_south",
        s_acc,
        r#""title":"华南单","amount_minor":5000,"grade":"a""#,
    )
    .await;
    let rep = browser(&app, "rep_sh").await;

    // CSV from the page: the chosen columns in the user's language, money with its currency.
    let (s, h, csv) = raw(
        &app,
        "/opportunities/export.csv?grade=a&cols=title&cols=amount&cols=close_date",
        None,
        Some(&rep.cookie),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines,
        vec![
            "商机,金额,币种,预计成交日期",
            "云迁移,123456.78,CNY,2026-12-31"
        ]
    );

    // XLSX: numbers as numbers, dates as dates, another rep's deal absent.
    let (s, h, bytes) = raw(
        &app,
        "/opportunities/export.xlsx?sort=title&cols=title&cols=amount&cols=close_date&cols=account",
        None,
        Some(&rep.cookie),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    let rows = read_xlsx(bytes);
    assert_eq!(
        rows[0],
        vec!["商机", "客户", "金额", "币种", "预计成交日期"]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let yun = rows.iter().find(|r| r[0] == "云迁移").unwrap();
    assert_eq!(yun[1], "华为技术有限公司");
    assert_eq!(yun[2], "number:123456.78");
    assert_eq!(yun[3], "CNY");
    assert_eq!(yun[4], "date:2026-12-31");
    assert!(!rows.iter().any(|r| r[0] == "华南单"));

    // The API's XLSX: every column when none is chosen, in the caller's scope.
    let (s, _, bytes) = raw(
        &app,
        "/api/v1/opportunities/export.xlsx?grade=a",
        Some("rep_south"),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let rows = read_xlsx(bytes);
    assert_eq!(rows.len(), 2);
    assert!(rows[0].len() > 10, "{:?}", rows[0]);
    assert!(rows[1].contains(&"华南单".to_string()));
    let (s, _, _) = raw(
        &app,
        "/api/v1/accounts/export.xlsx?cols=name",
        Some("rep_sh"),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

/// The cells of the first sheet, typed: text as is, `number:…`, `date:YYYY-MM-DD`.
fn read_xlsx(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    sheet
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    Data::Float(f) => format!("number:{f}"),
                    Data::Int(i) => format!("number:{i}"),
                    Data::DateTime(d) => {
                        // Days since 1899-12-30, the spreadsheet epoch.
                        let epoch = time::macros::date!(1899 - 12 - 30);
                        let day = epoch + time::Duration::days(d.as_f64().floor() as i64);
                        format!("date:{day}")
                    }
                    Data::Bool(b) => format!("bool:{b}"),
                    Data::Empty => String::new(),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn search_finds_by_mobile_email_credit_code_and_name_within_visibility() {
    let app = TestApp::new().await;
    let a = account(
        &app,
        "rep_sh",
        r#"{"name":"北京某某科技有限公司","credit_code":"91110000802100433B"}"#,
    )
    .await;
    app.create(
        "/api/v1/contacts",
        "rep_sh",
        &format!(r#"{{"name":"张伟","account_id":{a},"mobile":"13812345678","email":"zhang.wei@example.cn"}}"#),
    )
    .await;
    app.create(
        "/api/v1/leads",
        "rep_sh",
        r#"{"company_name":"杭州某某贸易","contact_name":"李娜","mobile":"13900001111"}"#,
    )
    .await;
    opp(&app, "rep_sh", a, r#""title":"某某科技 ERP 项目""#).await;
    let s_acc = account(&app, "rep_south", r#"{"name":"深圳某某电子"}"#).await;
    app.create(
        "/api/v1/contacts",
        "rep_south",
        &format!(r#"{{"name":"王芳","account_id":{s_acc},"mobile":"13812340000"}}"#),
    )
    .await;

    let names = |v: &Value, kind: &str| -> Vec<String> {
        v[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["title"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, v) = app.get("/api/v1/search?q=1381234", "rep_sh").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        names(&v, "contacts"),
        vec!["张伟"],
        "a mobile prefix; 华南's contact unseen"
    );
    let (_, v) = app.get("/api/v1/search?q=1381234", "director").await;
    assert_eq!(names(&v, "contacts").len(), 2);
    let (_, v) = app
        .get("/api/v1/search?q=zhang.wei@example.cn", "rep_sh")
        .await;
    assert_eq!(names(&v, "contacts"), vec!["张伟"]);
    let (_, v) = app
        .get("/api/v1/search?q=91110000802100433b", "rep_sh")
        .await;
    assert_eq!(names(&v, "accounts"), vec!["北京某某科技有限公司"]);
    let (_, v) = app.get("/api/v1/search?q=1390000", "rep_sh").await;
    assert_eq!(names(&v, "leads"), vec!["杭州某某贸易"]);
    let (_, v) = app
        .get(&format!("/api/v1/search?q={}", encode("某某")), "rep_sh")
        .await;
    assert_eq!(names(&v, "accounts"), vec!["北京某某科技有限公司"]);
    assert_eq!(names(&v, "opportunities"), vec!["某某科技 ERP 项目"]);
    assert_eq!(names(&v, "leads"), vec!["杭州某某贸易"]);
    let (_, v) = app
        .get(&format!("/api/v1/search?q={}", encode("深圳")), "rep_sh")
        .await;
    assert!(names(&v, "accounts").is_empty());

    // The page groups by kind with links.
    let rep = browser(&app, "rep_sh").await;
    let r = rep.get(&format!("/search?q={}", encode("某某"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(between(&r.body, "id=\"hits-accounts\"", "</section>")
        .contains(&format!("href=\"/accounts/{a}\"")));
    assert!(r.body.contains("id=\"hits-opportunities\"") && r.body.contains("id=\"hits-leads\""));
    let r = rep.get(&format!("/search?q={}", encode("深圳"))).await;
    assert!(r.body.contains("id=\"search-empty\""));
}

#[tokio::test]
async fn qualifying_a_lead_writes_everything_at_once_or_nothing() {
    let app = TestApp::new().await;
    let lead = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name":"上海某某机械","contact_name":"赵强","mobile":"13700001234","email":"zq@example.cn","source":"exhibition"}"#,
        )
        .await;
    let lead_id = id(&lead);
    let counts = || async {
        let mut n = vec![];
        for t in [
            "accounts",
            "contacts",
            "opportunities",
            "opportunity_events",
            "lead_outcomes",
        ] {
            n.push(app.db.count(t).await.unwrap());
        }
        n
    };
    let before = counts().await;

    // Refused before anything is written: a pipeline that does not exist, a stale version.
    let (s, e) = app
        .post(
            &format!("/api/v1/leads/{lead_id}/convert"),
            "rep_sh",
            r#"{"opportunity":{"title":"机械设备采购","pipeline_id":999}}"#,
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("opportunity.pipeline_id")
        ),
        "{e}"
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/leads/{lead_id}/convert"),
            "rep_sh",
            r#"{"version":7}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, e) = app
        .post(
            &format!("/api/v1/leads/{lead_id}/convert"),
            "rep_sh",
            r#"{"credit_code":"91110000802100433C","opportunity":{"title":"x"}}"#,
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("credit_code")),
        "{e}"
    );
    assert_eq!(counts().await, before, "nothing half-written");
    let (_, l) = app.get(&format!("/api/v1/leads/{lead_id}"), "rep_sh").await;
    assert_eq!(l["status"], "new");
    // Someone who cannot see the lead cannot convert it.
    let (s, _) = app
        .post(
            &format!("/api/v1/leads/{lead_id}/convert"),
            "rep_south",
            "{}",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, c) = app
        .post(
            &format!("/api/v1/leads/{lead_id}/convert"),
            "rep_sh",
            r#"{"version":1,"credit_code":"91110000802100433B","opportunity":{"title":"机械设备采购","amount_minor":50000000,"close_date":"2027-01-31"}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["lead"]["status"], "qualified");
    assert_eq!(c["account_created"], true);
    let (acc, con, op) = (id(&c["account"]), id(&c["contact"]), id(&c["opportunity"]));
    let (_, a) = app.get(&format!("/api/v1/accounts/{acc}"), "rep_sh").await;
    assert_eq!(
        (
            a["name"].as_str(),
            a["credit_code"].as_str(),
            a["source"].as_str()
        ),
        (
            Some("上海某某机械"),
            Some("91110000802100433B"),
            Some("exhibition")
        )
    );
    let (_, ct) = app.get(&format!("/api/v1/contacts/{con}"), "rep_sh").await;
    assert_eq!(
        (
            ct["name"].as_str(),
            ct["mobile"].as_str(),
            ct["account_id"].as_i64()
        ),
        (Some("赵强"), Some("13700001234"), Some(acc))
    );
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{op}"), "rep_sh")
        .await;
    assert_eq!(
        (
            o["account_id"].as_i64(),
            o["primary_contact_id"].as_i64(),
            o["amount"]["amount_minor"].as_i64()
        ),
        (Some(acc), Some(con), Some(50000000)),
        "{o}"
    );
    assert_eq!(
        o, c["opportunity"],
        "what the call answered is what is stored"
    );
    let (_, ev) = app
        .get(&format!("/api/v1/opportunities/{op}/events"), "rep_sh")
        .await;
    assert_eq!(ev[0]["kind"], "created");
    let (_, l) = app.get(&format!("/api/v1/leads/{lead_id}"), "rep_sh").await;
    assert_eq!(
        (l["status"].as_str(), l["version"].as_i64()),
        (Some("qualified"), Some(2))
    );
    let (_, outcomes) = app
        .get(&format!("/api/v1/leads/{lead_id}/outcomes"), "rep_sh")
        .await;
    assert_eq!(outcomes[0]["opportunity_id"].as_i64(), Some(op));
    // Once qualified, it cannot be qualified again.
    let (s, e) = app
        .post(&format!("/api/v1/leads/{lead_id}/convert"), "rep_sh", "{}")
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("lead_closed"))
    );

    // A second lead of the same company links the existing account, found by its code.
    let lead2 = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name":"上海某某机械（二部）","contact_name":"钱六"}"#,
        )
        .await;
    let rep = browser(&app, "rep_sh").await;
    let r = rep.get(&format!("/leads/{}", id(&lead2))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("aria-current=\"page\">线索"));
    let r = rep
        .post(
            &format!("/leads/{}/convert", id(&lead2)),
            &[
                ("account", "new"),
                ("account_name", "上海某某机械（二部）"),
                ("credit_code", "91110000802100433B"),
                ("contact_name", "钱六"),
                ("with_opp", "1"),
                ("opp_title", ""),
                ("opp_amount", "12,000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        after(&r.body, "id=\"opp_title\"").contains("id=\"opp_title-error\""),
        "error beside the field"
    );
    assert!(r.body.contains("value=\"12,000\""), "what was typed stays");
    assert!(
        r.body
            .contains(&format!("name=\"account\" value=\"{acc}\"")),
        "the account with the same credit code is offered"
    );
    let r = rep
        .post(
            &format!("/leads/{}/convert", id(&lead2)),
            &[
                ("account", &acc.to_string()),
                ("contact_name", "钱六"),
                ("with_opp", "1"),
                ("opp_title", "二期"),
                ("opp_amount", "12,000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = rep.get(&r.location.unwrap()).await;
    assert!(r.body.contains("id=\"lead-notice\""));
    assert!(r.body.contains(&format!("href=\"/accounts/{acc}\"")));
    let (_, accs) = app.get("/api/v1/accounts", "rep_sh").await;
    assert_eq!(accs["total"], 1, "linked, not created again");
    let (_, opps) = app
        .get(
            &format!("/api/v1/opportunities?account_id={acc}&sort=title"),
            "rep_sh",
        )
        .await;
    assert_eq!(opps["total"], 2);
    assert_eq!(opps["items"][0]["amount"]["amount_minor"], 1_200_000);
}

#[tokio::test]
async fn disqualifying_a_lead_needs_a_reason() {
    let app = TestApp::new().await;
    let lead = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            r#"{"company_name":"无效公司","mobile":"13600000000"}"#,
        )
        .await;
    let lead_id = id(&lead);
    let (s, e) = app
        .post(
            &format!("/api/v1/leads/{lead_id}/disqualify"),
            "rep_sh",
            r#"{"reason":"  "}"#,
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str(), e["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("reason"),
            Some("required")
        )
    );

    let rep = browser(&app, "rep_sh").await;
    let r = rep
        .post(&format!("/leads/{lead_id}/disqualify"), &[("reason", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(after(&r.body, "id=\"reason\"").contains("id=\"reason-error\""));
    let (_, l) = app.get(&format!("/api/v1/leads/{lead_id}"), "rep_sh").await;
    assert_eq!(l["status"], "new");

    let r = rep
        .post(
            &format!("/leads/{lead_id}/disqualify"),
            &[("reason", "空号，联系不上")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = rep.get(&r.location.unwrap()).await;
    assert!(r.body.contains("空号，联系不上"));
    assert!(
        !r.body.contains("id=\"convert-form\""),
        "nothing more to do"
    );
    let (_, l) = app.get(&format!("/api/v1/leads/{lead_id}"), "rep_sh").await;
    assert_eq!(l["status"], "disqualified");
    let (_, o) = app
        .get(&format!("/api/v1/leads/{lead_id}/outcomes"), "rep_sh")
        .await;
    assert_eq!(
        (o[0]["outcome"].as_str(), o[0]["reason"].as_str()),
        (Some("disqualified"), Some("空号，联系不上"))
    );
    // The inbox filters by status.
    let r = rep.get("/leads?status=disqualified").await;
    assert_eq!(row_ids(&r.body), vec![lead_id]);
    let r = rep.get("/leads?status=new").await;
    assert!(row_ids(&r.body).is_empty());
}

#[tokio::test]
async fn custom_fields_are_columns_and_filters_of_the_list_and_the_export() {
    let app = TestApp::new().await;
    let (s, f) = app
        .post(
            "/api/v1/custom-fields",
            "admin",
            r#"{"record_kind":"opportunity","key":"industry_line","label_zh":"行业线","label_en":"Industry line","field_type":"single_select","options":[{"value":"制造"},{"value":"金融","label_en":"Finance"}]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    let a = account(&app, "rep_sh", r#"{"name":"某银行"}"#).await;
    let bank = opp(
        &app,
        "rep_sh",
        a,
        r#""title":"核心系统","custom":{"industry_line":"金融"}"#,
    )
    .await;
    opp(
        &app,
        "rep_sh",
        a,
        r#""title":"产线改造","custom":{"industry_line":"制造"}"#,
    )
    .await;
    let rep = browser(&app, "rep_sh").await;

    let r = rep.get("/opportunities").await;
    assert!(
        r.body
            .contains("<label for=\"f-cf.industry_line\">行业线</label>"),
        "a filter"
    );
    assert!(
        r.body
            .contains("name=\"cols\" value=\"cf.industry_line\">行业线"),
        "a column to choose"
    );
    let r = rep
        .get(&format!(
            "/opportunities?cf.industry_line={}&cols=title&cols=cf.industry_line",
            encode("金融")
        ))
        .await;
    assert_eq!(row_ids(&r.body), vec![id(&bank)]);
    assert!(between(&r.body, "<thead>", "</thead>").contains("行业线"));
    assert!(between(&r.body, "<tbody>", "</tbody>").contains("金融"));

    let (_, _, bytes) = raw(
        &app,
        "/opportunities/export.xlsx?sort=title&cols=title&cols=cf.industry_line",
        None,
        Some(&rep.cookie),
        &[],
    )
    .await;
    let rows = read_xlsx(bytes);
    assert_eq!(rows[0], vec!["商机", "行业线"]);
    assert!(
        rows.contains(&vec!["核心系统".to_string(), "金融".to_string()]),
        "{rows:?}"
    );
}
