//! The forecast over HTTP: the open amounts by forecast category, the manager roll-up (the
//! sum of the deals the caller sees, team by team) and adjustments (who may record them,
//! their checks, their history). Runs on SQLite, and on PostgreSQL when
//! `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::Value;

use common::ALL_CHECKS;

/// Today in China and this month as `YYYY-MM`.
fn today() -> (String, String) {
    let d = common::today();
    (
        d.to_string(),
        format!("{}-{:02}", d.year(), d.month() as u8),
    )
}

/// A deal of `login` for `amount` fen expected to close today, in `category` (or the stage's
/// default); returns its id.
async fn deal(app: &TestApp, login: &str, amount: i64, category: Option<&str>) -> i64 {
    let account = app
        .create(
            "/api/v1/accounts",
            login,
            &format!(r#"{{"name":"{login} {amount} 客户"}}"#),
        )
        .await;
    let cat = category.map_or(String::new(), |c| format!(r#","forecast_category":"{c}""#));
    let opp = app
        .create(
            "/api/v1/opportunities",
            login,
            &format!(
                r#"{{"title":"{login} {amount}","account_id":{},"amount_minor":{amount},"close_date":"{}"{cat}}}"#,
                account["id"],
                today().0
            ),
        )
        .await;
    opp["id"].as_i64().unwrap()
}

async fn win(app: &TestApp, login: &str, id: i64) {
    let stages = app.stage_ids().await;
    for stage in &stages[1..=4] {
        let (s, v) = app
            .post(
                &format!("/api/v1/opportunities/{id}/move"),
                login,
                &format!(r#"{{"stage_id":{stage},{ALL_CHECKS}}}"#),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

/// The row of a team or a person in a roll-up tree.
fn row<'a>(rows: &'a Value, key: &str, id: i64) -> Option<&'a Value> {
    for r in rows.as_array()? {
        if r[key].as_i64() == Some(id) {
            return Some(r);
        }
        if let Some(x) = row(&r["children"], key, id) {
            return Some(x);
        }
    }
    None
}

fn nums(r: &Value) -> (i64, i64, i64, i64) {
    let n = &r["numbers"];
    (
        n["won"].as_i64().unwrap(),
        n["commit"].as_i64().unwrap(),
        n["best_case"].as_i64().unwrap(),
        n["pipeline"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn rollup_numbers_are_the_sums_of_the_visible_deals() {
    let app = TestApp::new().await;
    let (_, month) = today();
    // rep_sh: 1,000 commit, 2,000 overridden from commit to best case, 300 won.
    deal(&app, "rep_sh", 100_000, Some("commit")).await;
    let moved = deal(&app, "rep_sh", 200_000, Some("commit")).await;
    let (s, v) = app
        .patch(
            &format!("/api/v1/opportunities/{moved}"),
            "rep_sh",
            r#"{"forecast_category":"best_case"}"#,
        )
        .await;
    assert_eq!(
        (s, v["forecast_category"].as_str()),
        (StatusCode::OK, Some("best_case"))
    );
    let (_, events) = app
        .get(&format!("/api/v1/opportunities/{moved}/events"), "rep_sh")
        .await;
    assert!(
        events.to_string().contains("forecast_category_changed"),
        "{events}"
    );
    let won = deal(&app, "rep_sh", 30_000, None).await;
    win(&app, "rep_sh", won).await;
    // rep_east: 500 in the stage's default category (pipeline); rep_south: 7,000 commit.
    deal(&app, "rep_east", 50_000, None).await;
    deal(&app, "rep_south", 700_000, Some("commit")).await;

    let sh = app.teams["上海组"];
    let east = app.teams["华东"];
    let south = app.teams["华南"];
    let (s, r) = app
        .get(
            &format!("/api/v1/analytics/forecast/rollup?period={month}"),
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["period"], month.as_str());
    // The manager sees 华东 and below only.
    assert_eq!(r["rows"].as_array().unwrap().len(), 1);
    assert!(row(&r["rows"], "team_id", south).is_none());
    let rep_sh = row(&r["rows"], "user_id", app.user_id("rep_sh")).unwrap();
    assert_eq!(nums(rep_sh), (30_000, 100_000, 200_000, 0));
    assert_eq!(rep_sh["call"], 130_000);
    assert_eq!(rep_sh["total"], 130_000);
    assert_eq!(
        nums(row(&r["rows"], "team_id", sh).unwrap()),
        (30_000, 100_000, 200_000, 0)
    );
    let e = row(&r["rows"], "team_id", east).unwrap();
    assert_eq!(nums(e), (30_000, 100_000, 200_000, 50_000));
    assert_eq!(
        (e["call"].as_i64(), e["total"].as_i64()),
        (Some(130_000), Some(130_000))
    );
    // Weighted by the stages' configured probabilities: the three open deals of 华东 (¥3,500)
    // sit in the first stage. The system forecast adds the won.
    let dir = app.db.directory().await.unwrap();
    let p = dir.pipelines[0].stages[0].probability as i64;
    assert!(p > 0 && p < 100, "{p}");
    let weighted = e["numbers"]["weighted"].as_i64().unwrap();
    assert_eq!(weighted, 350_000 * p / 100, "{e}");
    assert_eq!(e["system_forecast"].as_i64(), Some(30_000 + weighted));
    assert_eq!(e["adjustable"], true);

    // The admin sees the company: 华东 plus 华南.
    let (_, r) = app
        .get(
            &format!("/api/v1/analytics/forecast/rollup?period={month}"),
            "admin",
        )
        .await;
    let top = row(&r["rows"], "team_id", app.teams["总公司"]).unwrap();
    assert_eq!(nums(top), (30_000, 800_000, 200_000, 50_000));
    assert_eq!(top["total"], 830_000);
    // The forecast page's category split is the same numbers.
    let (s, o) = app
        .get("/api/v1/analytics/forecast/overview?periods=2", "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let first = &o["rows"][0];
    assert_eq!(
        (
            first["won"].as_i64(),
            first["commit"].as_i64(),
            first["best_case"].as_i64(),
            first["pipeline"].as_i64(),
            first["call"].as_i64(),
            first["open"].as_i64()
        ),
        (
            Some(30_000),
            Some(800_000),
            Some(200_000),
            Some(50_000),
            Some(830_000),
            Some(1_050_000)
        )
    );
    assert!(first["p10"].as_i64() <= first["p50"].as_i64());
    assert!(first["p50"].as_i64() <= first["p90"].as_i64());
    // A rep's roll-up is their own row, not adjustable.
    let (_, mine) = app
        .get("/api/v1/analytics/forecast/rollup", "rep_east")
        .await;
    assert_eq!(
        mine["rows"][0]["user_id"].as_i64(),
        Some(app.user_id("rep_east"))
    );
    assert_eq!(nums(&mine["rows"][0]), (0, 0, 0, 50_000));
    assert_eq!(mine["rows"][0]["adjustable"], false);
    // Bad parameters are named.
    for (q, field) in [("period=2026-13", "period"), ("colour=red", "colour")] {
        let (s, v) = app
            .get(&format!("/api/v1/analytics/forecast/rollup?{q}"), "admin")
            .await;
        assert_eq!(
            (s, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{v}"
        );
    }
    // CSV of the overview.
    let (s, csv) = app
        .get("/api/v1/analytics/forecast/overview?format=csv", "admin")
        .await;
    assert_eq!(s, StatusCode::OK);
    // Headers in the caller's language; amounts in yuan.
    let csv = csv.as_str().unwrap();
    assert!(csv.contains("最佳情况") && csv.contains("P50"), "{csv}");
}

#[tokio::test]
async fn adjustments_follow_the_team_tree_and_keep_their_history() {
    let app = TestApp::new().await;
    let (_, month) = today();
    deal(&app, "rep_sh", 100_000, Some("commit")).await;
    deal(&app, "rep_east", 40_000, Some("commit")).await;
    let sh = app.teams["上海组"];
    let east = app.teams["华东"];
    let south = app.teams["华南"];
    let body = |target: &str, amount: i64, reason: &str| {
        format!(
            r#"{{{target},"period":"{month}","amount_minor":{amount},"currency":"CNY","reason":"{reason}"}}"#
        )
    };
    let path = "/api/v1/analytics/forecast/adjustments";
    // A rep cannot adjust, not even themselves; a manager cannot adjust another team.
    let me = format!(r#""user_id":{}"#, app.user_id("rep_sh"));
    let (s, v) = app.post(path, "rep_sh", &body(&me, 1, "我有信心")).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("adjust_forbidden"))
    );
    let (s, v) = app
        .post(
            path,
            "mgr_south",
            &body(&format!(r#""team_id":{east}"#), 1, "x"),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("adjust_forbidden"))
    );
    // The reason is required, named as the field.
    let sh_target = format!(r#""team_id":{sh}"#);
    let (s, v) = app.post(path, "mgr_east", &body(&sh_target, 5, "  ")).await;
    assert_eq!(
        (s, v["field"].as_str(), v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reason"), Some("required")),
        "{v}"
    );
    let (s, v) = app
        .post(
            path,
            "mgr_east",
            &format!(r#"{{"team_id":{sh},"period":"{month}","amount_minor":5}}"#),
        )
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reason"))
    );
    // Nothing was written by the refused ones.
    let (_, h) = app.get(path, "admin").await;
    assert_eq!(h, serde_json::json!([]));

    // The manager adjusts 上海组 twice; the later one counts, both are kept.
    let (s, first) = app
        .post(
            path,
            "mgr_east",
            &body(&sh_target, 50_000, "大单推迟到下月"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(
        (first["actor_id"].as_i64(), first["reason"].as_str()),
        (Some(app.user_id("mgr_east")), Some("大单推迟到下月"))
    );
    let (s, second) = app
        .post(path, "mgr_east", &body(&sh_target, 80_000, "客户确认预算"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let (s, h) = app.get(&format!("{path}?period={month}"), "mgr_east").await;
    assert_eq!(s, StatusCode::OK);
    let amounts: Vec<i64> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![80_000, 50_000], "newest first");
    let (_, r) = app
        .get(
            &format!("/api/v1/analytics/forecast/rollup?period={month}"),
            "mgr_east",
        )
        .await;
    let s_row = row(&r["rows"], "team_id", sh).unwrap();
    assert_eq!(
        (
            s_row["call"].as_i64(),
            s_row["total"].as_i64(),
            s_row["adjustment"]["id"].as_i64()
        ),
        (Some(100_000), Some(80_000), second["id"].as_i64())
    );
    // 华东 = 上海组 as adjusted + rep_east's call (+ the manager's own 0).
    assert_eq!(row(&r["rows"], "team_id", east).unwrap()["total"], 120_000);

    // A director at the top adjusts 华南; the south manager sees only that one.
    let (s, _) = app
        .post(
            path,
            "director",
            &body(&format!(r#""team_id":{south}"#), 9, "新客户"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, h) = app.get(path, "mgr_south").await;
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(h[0]["team_id"].as_i64(), Some(south));
    let (_, h) = app.get(path, "admin").await;
    assert_eq!(h.as_array().unwrap().len(), 3);
    // A quarter is its own period; an unknown team is 404.
    let (s, q) = app
        .post(
            path,
            "mgr_east",
            &format!(r#"{{"team_id":{sh},"period":"2026-Q3","amount_minor":1,"reason":"季度"}}"#),
        )
        .await;
    assert_eq!(
        (s, q["period"].as_str()),
        (StatusCode::CREATED, Some("2026-Q3"))
    );
    let (s, _) = app
        .post(path, "admin", &body(r#""team_id":999999"#, 1, "x"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
