//! Reports over HTTP: computed from the history of the opportunities the caller may see, with
//! clear errors for bad parameters. Runs on SQLite, and on PostgreSQL when
//! `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;

use common::ALL_CHECKS;

/// Opportunities of `login`: each goes from the first stage along `path` (stage indexes).
async fn deals(app: &TestApp, login: &str, paths: &[&[usize]]) {
    let stages = app.stage_ids().await;
    for (i, path) in paths.iter().enumerate() {
        let (_, opp) = app
            .account_and_opportunity(login, &format!("{login} 商机 {i}"))
            .await;
        for &to in path.iter() {
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
}

#[tokio::test]
async fn reports_come_from_the_history_within_visibility() {
    let app = TestApp::new().await;
    // rep_sh: 4 deals — lost at qualification, lost at proposal, won, still in needs analysis.
    deals(&app, "rep_sh", &[&[5], &[1, 2, 5], &[1, 2, 3, 4], &[1]]).await;
    // rep_south: 2 deals, both won.
    deals(&app, "rep_south", &[&[1, 2, 3, 4], &[1, 2, 3, 4]]).await;

    let rows = |v: &serde_json::Value| -> Vec<(i64, i64, i64, i64)> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["entered"].as_i64().unwrap(),
                    r["advanced"].as_i64().unwrap(),
                    r["lost"].as_i64().unwrap(),
                    r["won"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (s, f) = app.get("/api/v1/analytics/funnel", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert_eq!(
        rows(&f),
        vec![(4, 3, 1, 1), (3, 2, 0, 1), (2, 1, 1, 1), (1, 1, 0, 1)]
    );
    assert_eq!(f["rows"][2]["conversion"], 0.5);
    // The admin sees both reps; a team filter narrows to 华南.
    let (_, f) = app.get("/api/v1/analytics/funnel", "admin").await;
    assert_eq!(rows(&f)[0], (6, 5, 1, 3));
    let south = app.teams["华南"];
    let (_, f) = app
        .get(
            &format!("/api/v1/analytics/funnel?team_id={south}"),
            "admin",
        )
        .await;
    assert_eq!(rows(&f)[0], (2, 2, 0, 2));

    let (_, w) = app.get("/api/v1/analytics/win-rate", "rep_sh").await;
    assert_eq!(
        (w["rows"]["won"].as_i64(), w["rows"]["lost"].as_i64()),
        (Some(1), Some(2))
    );
    let (_, w) = app.get("/api/v1/analytics/win-rate", "mgr_south").await;
    assert_eq!(w["rows"]["by_count"], 1.0);

    let (s, wl) = app.get("/api/v1/analytics/win-loss", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{wl}");
    assert_eq!(
        (
            wl["rows"]["by_reason"][0]["value"].as_str(),
            wl["rows"]["by_reason"][0]["lost"].as_i64()
        ),
        (Some("price"), Some(2))
    );
    let lost_from: Vec<&str> = wl["rows"]["by_stage_lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    let stages = app.stage_ids().await;
    assert_eq!(lost_from.len(), 2);
    assert!(lost_from.contains(&stages[0].to_string().as_str()));
    assert!(lost_from.contains(&stages[2].to_string().as_str()));

    // A call logged by rep_sh counts as a follow-up; a note does not.
    let (_, opp) = app.account_and_opportunity("rep_sh", "随访").await;
    for kind in ["call", "note"] {
        app.create(
            "/api/v1/activities",
            "rep_sh",
            &format!(
                r#"{{"kind":"{kind}","summary":"沟通","opportunity_id":{},"occurred_at":"{}"}}"#,
                opp["id"],
                time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap()
            ),
        )
        .await;
    }
    let (s, lb) = app.get("/api/v1/analytics/leaderboard", "admin").await;
    assert_eq!(s, StatusCode::OK, "{lb}");
    let row = |login: &str| {
        lb["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["owner_id"] == app.user_id(login))
            .unwrap()
            .clone()
    };
    assert_eq!(
        lb["rows"][0]["owner_id"],
        app.user_id("rep_south"),
        "most won first"
    );
    let sh = row("rep_sh");
    assert_eq!(
        (
            sh["won"].as_i64(),
            sh["lost"].as_i64(),
            sh["created"].as_i64(),
            sh["follow_ups"].as_i64()
        ),
        (Some(1), Some(2), Some(5), Some(1))
    );

    let (s, four) = app
        .get("/api/v1/analytics/4s?target_minor=1000000", "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK, "{four}");
    let cur = &four["rows"]["current"];
    assert_eq!(
        (cur["open_count"].as_i64(), cur["win_rate"]["won"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        four["rows"]["previous"]["open_count"], 0,
        "nothing existed before"
    );

    // Open deals close at the end of this month (the test helper's date); this year's forecast
    // has them.
    let (s, fc) = app
        .get("/api/v1/analytics/forecast?grain=year&periods=2", "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK, "{fc}");
    let this_year = &fc["rows"][0];
    assert_eq!(this_year["from"].as_str().map(|d| &d[5..]), Some("01-01"));
    assert_eq!(this_year["to"].as_str().map(|d| &d[5..]), Some("12-31"));
    assert_eq!(this_year["open"], 24600000, "{this_year}");
    // One won deal of ¥123,000 today and two open ones at Qualification/Needs (10%, 25%).
    assert_eq!(this_year["won"], 12300000);
    assert_eq!(this_year["weighted"], 1230000 + 3075000);

    let (s, mc) = app
        .get(
            "/api/v1/analytics/monte-carlo?grain=year&periods=1&runs=2000",
            "admin",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{mc}");
    let y = &mc["rows"][0];
    // Three deals won this year are settled; the open ones add on top in some runs.
    assert!(y["p10"].as_i64() <= y["p50"].as_i64() && y["p50"].as_i64() <= y["p90"].as_i64());
    assert!(y["p10"].as_i64().unwrap() >= 3 * 12300000, "{y}");
    let (_, again) = app
        .get(
            "/api/v1/analytics/monte-carlo?grain=year&periods=1&runs=2000",
            "admin",
        )
        .await;
    assert_eq!(
        again["rows"], mc["rows"],
        "the same seed gives the same answer"
    );

    // Table reports export as CSV with a header row.
    let (s, csv) = app
        .get("/api/v1/analytics/funnel?format=csv", "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK);
    let csv = csv.as_str().unwrap().trim_start_matches('\u{feff}');
    let lines: Vec<&str> = csv.lines().collect();
    // Headers in the caller's language, stages by name.
    assert_eq!(
        lines[0],
        "阶段,进入,推进,输单,未结,赢单,转化率,至赢单,基线转化率,瓶颈"
    );
    assert_eq!(lines.len(), 5, "a header and four open stages");
    // Five entered now (the follow-up deal too): 3 advanced, 1 lost, 1 open, 1 won; no
    // history before the period, so no baseline.
    assert_eq!(
        lines[1], "线索确认,5,3,1,1,1,0.6000,0.2000,,",
        "{}",
        lines[1]
    );

    let (s, c) = app.get("/api/v1/analytics/calibration", "admin").await;
    assert_eq!(s, StatusCode::OK);
    // Reached Negotiation: 3, all won.
    assert_eq!(
        (
            c["rows"][3]["sample"].as_i64(),
            c["rows"][3]["won"].as_i64()
        ),
        (Some(3), Some(3))
    );

    let (s, t) = app.get("/api/v1/analytics/time-in-stage", "rep_sh").await;
    assert_eq!(
        (s, t["rows"][0]["count"].as_i64()),
        (StatusCode::OK, Some(4))
    );

    // Everything created today: the waterfall from yesterday to today is all "created",
    // less what was won or lost since.
    let (s, w) = app.get("/api/v1/analytics/waterfall", "rep_sh").await;
    assert_eq!(s, StatusCode::OK, "{w}");
    let r = &w["rows"];
    assert_eq!(
        (r["start"].as_i64(), r["created"].as_i64()),
        (Some(0), Some(24600000))
    );
    assert_eq!(r["end"], 24600000, "two open deals of ¥123,000 remain");
}

#[tokio::test]
async fn bad_report_parameters_are_clear_errors() {
    let app = TestApp::new().await;
    for (path, status, code) in [
        (
            "/api/v1/analytics/funnel?color=red",
            StatusCode::BAD_REQUEST,
            Some("unknown_parameter"),
        ),
        (
            "/api/v1/analytics/funnel?from=2026-05-01&to=2026-04-01",
            StatusCode::BAD_REQUEST,
            Some("invalid_period"),
        ),
        (
            "/api/v1/analytics/funnel?from=yesterday",
            StatusCode::BAD_REQUEST,
            Some("invalid_date"),
        ),
        (
            "/api/v1/analytics/funnel?pipeline_id=999",
            StatusCode::NOT_FOUND,
            Some("not_found"),
        ),
        (
            "/api/v1/analytics/waterfall?close_from=2026-05-01",
            StatusCode::BAD_REQUEST,
            Some("invalid_period"),
        ),
        (
            "/api/v1/analytics/waterfall?currency=yuan",
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid_currency"),
        ),
    ] {
        let (s, err) = app.get(path, "rep_sh").await;
        assert_eq!((s, err["code"].as_str()), (status, code), "{path}: {err}");
    }
}
