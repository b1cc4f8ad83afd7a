//! The report pages and what they add to the reports: source and industry filters, the
//! funnel's baseline, the sources report, win/loss by source and industry, CSV / XLSX
//! exports with translated headers, clear errors for bad filters, and the pages in both
//! languages. Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::browser::browser;
use common::TestApp;
use serde_json::Value;
use tower::ServiceExt;

use common::ALL_CHECKS;

/// A deal of `login` on a new account of `industry`, from `source`, moved along `path`
/// (stage indexes; 4 won, 5 lost).
async fn deal(
    app: &TestApp,
    login: &str,
    title: &str,
    source: &str,
    industry: &str,
    path: &[usize],
) {
    let stages = app.stage_ids().await;
    let account = app
        .create(
            "/api/v1/accounts",
            login,
            &format!(r#"{{"name":"{title} 客户","industry":"{industry}"}}"#),
        )
        .await;
    let opp = app
        .create(
            "/api/v1/opportunities",
            login,
            &format!(
                r#"{{"title":"{title}","account_id":{},"amount_minor":10000000,"close_date":"{}","source":"{source}"}}"#,
                account["id"],
                common::close_date()
            ),
        )
        .await;
    for &to in path {
        let extra = if to == 5 {
            r#","loss_reason":"price""#.to_string()
        } else {
            format!(",{ALL_CHECKS}")
        };
        let (s, v) = app
            .post(
                &format!("/api/v1/opportunities/{}/move", opp["id"]),
                login,
                &format!(r#"{{"stage_id":{}{extra}}}"#, stages[to]),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

async fn bytes(app: &TestApp, path: &str, login: &str) -> (StatusCode, String, Vec<u8>) {
    let req = Request::builder()
        .uri(path)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.tokens[login]),
        )
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let kind = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    (status, kind, body.to_vec())
}

/// Every sheet of an XLSX file: (name, rows of cells as text).
fn read_xlsx(bytes: Vec<u8>) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
    let names = book.sheet_names().to_vec();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let rows = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::String(s) => s.clone(),
                            Data::Float(f) => format!("{f}"),
                            Data::Int(i) => format!("{i}"),
                            Data::Empty => String::new(),
                            other => format!("{other:?}"),
                        })
                        .collect()
                })
                .collect();
            (name, rows)
        })
        .collect()
}

fn entered(v: &Value) -> Vec<i64> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entered"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn source_and_industry_filters_narrow_every_report() {
    let app = TestApp::new().await;
    deal(
        &app,
        "rep_sh",
        "官网制造",
        "website",
        "制造业",
        &[1, 2, 3, 4],
    )
    .await;
    deal(&app, "rep_sh", "官网零售", "website", "零售", &[5]).await;
    deal(&app, "rep_sh", "转介绍制造", "referral", "制造业", &[1, 5]).await;

    let (s, all) = app.get("/api/v1/analytics/funnel", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(entered(&all), [3, 2, 1, 1]);
    let (_, web) = app
        .get("/api/v1/analytics/funnel?source=website", "rep_sh")
        .await;
    assert_eq!(entered(&web), [2, 1, 1, 1]);
    let (_, made) = app
        .get(
            &format!(
                "/api/v1/analytics/funnel?industry={}",
                common::browser::encode("制造业")
            ),
            "rep_sh",
        )
        .await;
    assert_eq!(entered(&made), [2, 2, 1, 1]);
    let (_, both) = app
        .get(
            &format!(
                "/api/v1/analytics/win-rate?source=referral&industry={}",
                common::browser::encode("制造业")
            ),
            "rep_sh",
        )
        .await;
    assert_eq!(
        (both["rows"]["won"].as_i64(), both["rows"]["lost"].as_i64()),
        (Some(0), Some(1))
    );
    // Nothing before the period: no baseline, no bottleneck.
    assert_eq!(all["rows"][0]["baseline"], Value::Null);
    assert!(all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["bottleneck"] == false));

    // Win/loss by source and by industry.
    let (s, w) = app.get("/api/v1/analytics/win-loss", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{w}");
    let group = |k: &str| -> Vec<(String, i64, i64)> {
        w["rows"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["value"].as_str().unwrap().to_string(),
                    r["won"].as_i64().unwrap(),
                    r["lost"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        group("by_source"),
        [("website".into(), 1, 1), ("referral".into(), 0, 1)]
    );
    assert_eq!(
        group("by_industry"),
        [("制造业".into(), 1, 1), ("零售".into(), 0, 1)]
    );
    // Another rep sees none of it.
    let (_, other) = app
        .get("/api/v1/analytics/funnel?source=website", "rep_south")
        .await;
    assert_eq!(entered(&other), [0, 0, 0, 0]);
}

#[tokio::test]
async fn bad_filters_are_clear_errors() {
    let app = TestApp::new().await;
    for (path, status, code) in [
        (
            "funnel?source=tv",
            StatusCode::BAD_REQUEST,
            Some("unknown_source"),
        ),
        (
            "sources?source=%20x",
            StatusCode::BAD_REQUEST,
            Some("unknown_source"),
        ),
        ("win-loss?team_id=99999", StatusCode::NOT_FOUND, None),
        ("funnel?pipeline_id=99999", StatusCode::NOT_FOUND, None),
        (
            "funnel?baseline=0",
            StatusCode::BAD_REQUEST,
            Some("invalid_parameter"),
        ),
        (
            "funnel?format=pdf",
            StatusCode::BAD_REQUEST,
            Some("invalid_parameter"),
        ),
        (
            "sources?colour=red",
            StatusCode::BAD_REQUEST,
            Some("unknown_parameter"),
        ),
        (
            "sales-cycle?from=2026-13-01",
            StatusCode::BAD_REQUEST,
            Some("invalid_date"),
        ),
    ] {
        let (s, e) = app
            .get(&format!("/api/v1/analytics/{path}"), "rep_sh")
            .await;
        assert_eq!(s, status, "{path}: {e}");
        if let Some(code) = code {
            assert_eq!(e["code"], code, "{path}: {e}");
        }
    }
}

#[tokio::test]
async fn the_sources_report_follows_leads_to_won_deals() {
    let app = TestApp::new().await;
    for (company, source) in [("甲", "website"), ("乙", "website"), ("丙", "exhibition")] {
        app.create(
            "/api/v1/leads",
            "rep_sh",
            &format!(
                r#"{{"company_name":"{company}公司","contact_name":"王","source":"{source}"}}"#
            ),
        )
        .await;
    }
    let (_, leads) = app.get("/api/v1/leads?source=website", "rep_sh").await;
    let first = leads["items"][0]["id"].as_i64().unwrap();
    let (s, v) = app
        .post(
            &format!("/api/v1/leads/{first}/convert"),
            "rep_sh",
            r#"{"opportunity":{"title":"甲公司采购"}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    deal(
        &app,
        "rep_sh",
        "官网赢单",
        "website",
        "制造业",
        &[1, 2, 3, 4],
    )
    .await;

    let (s, r) = app.get("/api/v1/analytics/sources", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let row = |src: &str| {
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == src)
            .cloned()
            .unwrap_or_else(|| panic!("{src} in {r}"))
    };
    let web = row("website");
    assert_eq!(
        (
            web["leads"].as_i64(),
            web["converted"].as_i64(),
            web["won"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(web["lead_conversion"], 0.5);
    assert_eq!(web["won_amount"], 10000000);
    assert_eq!(row("exhibition")["leads"], 1);
    // Filtered to exhibition: only that row.
    let (_, ex) = app
        .get("/api/v1/analytics/sources?source=exhibition", "rep_sh")
        .await;
    let sources: Vec<&str> = ex["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["exhibition"]);
}

#[tokio::test]
async fn every_report_exports_csv_and_xlsx_with_translated_headers() {
    let app = TestApp::new().await;
    deal(&app, "rep_sh", "赢单", "website", "制造业", &[1, 2, 3, 4]).await;
    deal(&app, "rep_sh", "输单", "referral", "零售", &[1, 5]).await;
    for report in [
        "funnel",
        "time-in-stage",
        "time-in-stage-trend",
        "sales-cycle",
        "win-rate",
        "waterfall",
        "win-loss",
        "leaderboard",
        "4s",
        "forecast",
        "monte-carlo",
        "calibration",
        "sources",
    ] {
        let (s, kind, csv) = bytes(
            &app,
            &format!("/api/v1/analytics/{report}?format=csv&runs=100"),
            "rep_sh",
        )
        .await;
        // monte-carlo and forecast take `runs`; the others refuse it: ask them without.
        let (s, kind, csv) = if s == StatusCode::BAD_REQUEST {
            bytes(
                &app,
                &format!("/api/v1/analytics/{report}?format=csv"),
                "rep_sh",
            )
            .await
        } else {
            (s, kind, csv)
        };
        assert_eq!(s, StatusCode::OK, "{report}");
        assert!(kind.starts_with("text/csv"), "{report}: {kind}");
        assert!(
            csv.starts_with(b"\xEF\xBB\xBF"),
            "{report}: a BOM for Excel"
        );
        let (s, kind, xlsx) = bytes(
            &app,
            &format!("/api/v1/analytics/{report}?format=xlsx"),
            "rep_sh",
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{report}");
        assert!(kind.contains("spreadsheetml"), "{report}: {kind}");
        assert!(xlsx.starts_with(b"PK"), "{report}: a zip");
        let sheets = read_xlsx(xlsx);
        assert!(!sheets.is_empty(), "{report}");
        // The CSV holds the same tables as the workbook.
        let text = String::from_utf8(csv).unwrap();
        for (_, rows) in &sheets {
            assert!(
                text.contains(&rows[0].join(",")),
                "{report}: header {:?} in {text}",
                rows[0]
            );
        }
    }
    // The funnel's workbook: stage names, counts, shares.
    let (_, _, xlsx) = bytes(&app, "/api/v1/analytics/funnel?format=xlsx", "rep_sh").await;
    let sheets = read_xlsx(xlsx);
    let (name, rows) = &sheets[0];
    assert_eq!(name, "漏斗转化");
    assert_eq!(rows[0][..3], ["阶段", "进入", "推进"]);
    assert_eq!(rows[1][..3], ["线索确认", "2", "2"]);
    assert_eq!(rows[2][..4], ["需求分析", "2", "1", "1"]);
    assert_eq!(
        rows[2][6], "0.5",
        "conversion as a share, shown as a percentage"
    );
    // Win/loss: one sheet per grouping, names not ids.
    let (_, _, xlsx) = bytes(&app, "/api/v1/analytics/win-loss?format=xlsx", "rep_sh").await;
    let sheets = read_xlsx(xlsx);
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "按输单原因",
            "按竞争对手",
            "按输单阶段",
            "按负责人",
            "按来源",
            "按行业"
        ]
    );
    assert_eq!(sheets[2].1[1][0], "需求分析", "lost from needs analysis");
    assert_eq!(
        (sheets[4].1[1][0].as_str(), sheets[4].1[2][0].as_str()),
        ("转介绍", "官网")
    );

    // In English for a user who chose English.
    let me = app.user_id("rep_sh");
    let (s, v) = app
        .patch(
            &format!("/api/v1/users/{me}"),
            "rep_sh",
            r#"{"language":"en"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, _, csv) = bytes(&app, "/api/v1/analytics/funnel?format=csv", "rep_sh").await;
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "Stage,Entered,Advanced,Lost,Still open,Won,Conversion,To won,Baseline,Bottleneck"
    );
    assert_eq!(lines[2], "Needs analysis,2,1,1,0,1,0.5000,0.5000,,");
}

#[tokio::test]
async fn report_pages_show_names_charts_and_tables_in_both_languages() {
    let app = TestApp::new().await;
    deal(&app, "rep_sh", "赢单", "website", "制造业", &[1, 2, 3, 4]).await;
    deal(&app, "rep_sh", "输单", "referral", "零售", &[1, 5]).await;
    // Still open: the waterfall has something at the end.
    deal(&app, "rep_sh", "在途", "website", "零售", &[1]).await;
    let mut b = browser(&app, "rep_sh").await;
    let hub = b.get("/analytics").await;
    assert_eq!(hub.status, StatusCode::OK);
    for link in [
        "/analytics/funnel",
        "/analytics/time-in-stage",
        "/analytics/4s",
        "/analytics/waterfall",
        "/analytics/win-loss",
        "/analytics/leaderboard",
        "/analytics/sources",
        "/analytics/calibration",
        "/analytics/forecast",
        "/analytics/horizon",
        "/analytics/accuracy",
        "/analytics/snapshots",
        "/review",
    ] {
        assert!(
            hub.body.contains(&format!("href=\"{link}\"")),
            "hub links {link}"
        );
    }
    assert!(hub.body.contains("销售分析"));
    for (page, text) in [
        ("funnel", "漏斗转化"),
        ("time-in-stage", "销售周期"),
        ("4s", "4S 驾驶舱"),
        ("waterfall", "期初"),
        ("win-loss", "按行业"),
        ("leaderboard", "排行榜"),
        ("sources", "官网"),
        ("calibration", "区间下限"),
    ] {
        let r = b.get(&format!("/analytics/{page}")).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.body.contains(text), "{page} shows {text}");
        assert!(
            r.body.contains("class=\"chart\" data-chart="),
            "{page} has a chart"
        );
        assert!(r.body.contains("format=xlsx"), "{page} links its XLSX");
        assert!(
            r.body.contains("需求分析")
                || page == "leaderboard"
                || page == "sources"
                || page == "waterfall",
            "{page}: stage names"
        );
    }
    // The funnel shows stage names and the export links keep the filters.
    let f = b.get("/analytics/funnel?source=website&range=year").await;
    assert!(f.body.contains("/api/v1/analytics/funnel?"), "{}", f.body);
    let csv = common::browser::extract(&f.body, "id=\"export-csv\" href=\"", "\"");
    assert!(
        csv.contains("source=website") && csv.contains("format=csv"),
        "{csv}"
    );
    // A filter with nothing in it: the empty state, not an empty chart.
    let e = b.get("/analytics/funnel?source=tender").await;
    assert!(e.body.contains("id=\"report-empty\""));
    assert!(!e.body.contains("data-chart="));
    // A bad filter: said in the user's language beside the form.
    let bad = b.get("/analytics/funnel?from=2026-02-30").await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.body.contains("role=\"alert\""), "{}", bad.body);
    // A team nobody knows: not found.
    assert_eq!(
        b.get("/analytics/funnel?team=99999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/analytics/nothing").await.status,
        StatusCode::NOT_FOUND
    );
    // An htmx filter change gets the report body alone.
    let req = Request::builder()
        .uri("/analytics/funnel?source=website")
        .header(header::COOKIE, &b.cookie)
        .header("hx-request", "true")
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let part = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    let part = String::from_utf8(part.to_vec()).unwrap();
    assert!(part.starts_with("<div id=\"report-body\""), "{part}");
    assert!(!part.contains("<form"), "only the body");

    b.lang = Some("en");
    let en = b.get("/analytics/funnel").await;
    assert!(en.body.contains("Funnel conversion"));
    assert!(en.body.contains("Needs analysis"));
    assert!(en.body.contains("Download Excel"));
    let hub = b.get("/analytics").await;
    assert!(hub.body.contains("Sales analytics"));
}
