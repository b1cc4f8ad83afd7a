//! Horizons, forecast snapshots and accuracy over HTTP, and the snapshots' immutability in
//! the database. Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use shangji::ops::snapshots;
use shangji::ops::Ctx;
use shangji_core::model::{Language, Role};
use shangji_core::opportunity::OpportunityInput;
use shangji_core::{Actor, Scope};
use time::{Duration, OffsetDateTime};

use common::ALL_CHECKS;

use common::today as china_today;

/// The first instant of this month in China time.
fn month_start() -> OffsetDateTime {
    china_today()
        .replace_day(1)
        .unwrap()
        .midnight()
        .assume_offset(time::macros::offset!(+8))
        .to_offset(time::UtcOffset::UTC)
}

/// Moves an opportunity along the stages (indexes into the pipeline) as `login`.
async fn walk(app: &TestApp, login: &str, id: i64, path: &[usize]) {
    let stages = app.stage_ids().await;
    for &to in path {
        let (s, v) = app
            .post(
                &format!("/api/v1/opportunities/{id}/move"),
                login,
                &format!(r#"{{"stage_id":{},{ALL_CHECKS}}}"#, stages[to]),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

#[tokio::test]
async fn horizons_at_the_three_levels() {
    let app = TestApp::new().await;
    for (login, n) in [("rep_sh", 3), ("rep_south", 2)] {
        for i in 0..n {
            let (_, opp) = app
                .account_and_opportunity(login, &format!("{login} {i}"))
                .await;
            if i == 0 {
                walk(&app, login, opp["id"].as_i64().unwrap(), &[1, 2, 3, 4]).await;
            }
        }
    }
    let check = |v: &serde_json::Value, n: usize, grain: &str| {
        let b = v["buckets"].as_array().unwrap();
        assert_eq!(b.len(), n, "{v}");
        assert_eq!(v["grain"], grain);
        for x in b {
            for part in ["total", "existing", "new"] {
                let p = |k: &str| x[part][k].as_i64().unwrap();
                assert!(p("p10") <= p("p50") && p("p50") <= p("p90"), "{x}");
            }
        }
    };
    // Defaults by role: a rep 3 months, a manager a year of months, an admin 3 years.
    let (s, v) = app
        .get("/api/v1/analytics/horizon?runs=500", "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["level"], "rep");
    assert_eq!(v["owner_id"], app.user_id("rep_sh"));
    check(&v, 3, "month");
    // rep_sh won 12,300,000 this month: it is in the period, in every run; the two open
    // deals are in Qualification, from which every closed deal so far was won at once.
    assert_eq!(v["buckets"][0]["won"], 12_300_000);
    assert_eq!(v["buckets"][0]["total"]["p10"], 3 * 12_300_000);
    assert_eq!(v["model"]["monthly_created"], serde_json::json!([]));

    let (s, v) = app
        .get("/api/v1/analytics/horizon?runs=500", "mgr_east")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["level"], "team");
    assert_eq!(v["team_id"], app.teams["华东"]);
    check(&v, 12, "month");
    assert_eq!(v["buckets"][0]["won"], 12_300_000, "rep_sh is in 华东");

    let (s, v) = app.get("/api/v1/analytics/horizon?runs=500", "admin").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["level"], "company");
    check(&v, 12, "quarter");
    assert_eq!(v["buckets"][0]["won"], 24_600_000, "both reps' wins");

    // Someone else's horizon is not there; bad parameters say what is wrong.
    let south = app.user_id("rep_south");
    let (s, _) = app
        .get(
            &format!("/api/v1/analytics/horizon?level=rep&owner_id={south}"),
            "rep_sh",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(
            &format!(
                "/api/v1/analytics/horizon?level=team&team_id={}",
                app.teams["华南"]
            ),
            "mgr_east",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for (q, code, field) in [
        ("colour=red", "unknown_parameter", "colour"),
        ("level=galaxy", "invalid_parameter", "level"),
        ("periods=99", "invalid_parameter", "periods"),
        ("runs=0", "invalid_parameter", "runs"),
    ] {
        let (s, v) = app
            .get(&format!("/api/v1/analytics/horizon?{q}"), "admin")
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_eq!(v["code"], code, "{q}");
        assert_eq!(v["field"], field, "{q}");
    }
}

#[tokio::test]
async fn snapshots_on_demand_are_read_within_visibility() {
    let app = TestApp::new().await;
    app.account_and_opportunity("rep_sh", "上海 A").await;
    app.account_and_opportunity("rep_south", "华南 B").await;

    let (s, v) = app.post("/api/v1/analytics/snapshots", "rep_sh", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "snapshot_role");

    // A manager takes one: the whole company is recorded, the manager sees their part.
    let (s, v) = app
        .post("/api/v1/analytics/snapshots", "mgr_east", "")
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["kind"], "manual");
    assert_eq!(v["taken_by"], app.user_id("mgr_east"));
    let id = v["id"].as_i64().unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["level"] != "company"), "{v}");
    let south = app.user_id("rep_south");
    assert!(rows.iter().all(|r| r["owner_id"] != south));
    let sh: Vec<_> = rows
        .iter()
        .filter(|r| r["owner_id"] == app.user_id("rep_sh") && r["grain"] == "month")
        .collect();
    assert_eq!(sh.len(), 4, "this month and the next three");

    let (s, v) = app
        .get(&format!("/api/v1/analytics/snapshots/{id}"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = v["rows"].as_array().unwrap();
    // Company, four teams, two reps; 4 months and 3 quarters each.
    assert_eq!(rows.len(), (1 + 4 + 2) * 7, "{v}");
    // Both deals close at the end of this month for ¥123,000 at the first stage's probability.
    let dir = app.db.directory().await.unwrap();
    let p = dir.pipelines[0].stages[0].probability as i64;
    let this_month = common::today().replace_day(1).unwrap().to_string();
    let company = rows
        .iter()
        .find(|r| {
            r["level"] == "company" && r["grain"] == "month" && r["period_from"] == this_month
        })
        .unwrap_or_else(|| panic!("a company row for {this_month}: {v}"));
    assert_eq!(company["configured"], 2 * 12_300_000 * p / 100, "{company}");

    let (s, v) = app.get("/api/v1/analytics/snapshots", "rep_sh").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, v) = app
        .get(&format!("/api/v1/analytics/snapshots/{id}"), "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["level"] == "rep" && r["owner_id"] == app.user_id("rep_sh")));
    let (s, _) = app.get("/api/v1/analytics/snapshots/999999", "admin").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn snapshots_cannot_be_changed_or_removed() {
    let app = TestApp::new().await;
    app.account_and_opportunity("rep_sh", "上海 A").await;
    let (s, v) = app.post("/api/v1/analytics/snapshots", "admin", "").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for sql in [
        "UPDATE forecast_snapshots SET kind = 'weekly'",
        "DELETE FROM forecast_snapshots",
        "UPDATE forecast_snapshot_rows SET p50 = 0",
        "DELETE FROM forecast_snapshot_rows",
    ] {
        let refused = match app.db.pool() {
            shangji_store::db::Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.is_err(),
            shangji_store::db::Pool::Postgres(p) => sqlx::query(sql).execute(p).await.is_err(),
        };
        assert!(refused, "{sql} must be refused");
    }
    let (_, v) = app
        .get(&format!("/api/v1/analytics/snapshots/{}", v["id"]), "admin")
        .await;
    assert_eq!(v["kind"], "manual");
    assert!(!v["rows"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn two_instances_taking_the_weekly_snapshot_store_one() {
    let app = TestApp::shared().await;
    app.account_and_opportunity("rep_sh", "上海 A").await;
    let now = OffsetDateTime::now_utc();
    let second = app.second_instance().await;
    let (a, b) = tokio::join!(
        snapshots::ensure_weekly(&app.db, now),
        snapshots::ensure_weekly(&second, now + Duration::seconds(1)),
    );
    let taken = [a.unwrap(), b.unwrap()];
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1, "{taken:?}");
    assert_eq!(snapshots::ensure_weekly(&app.db, now).await.unwrap(), None);
    let (_, list) = app.get("/api/v1/analytics/snapshots", "admin").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "weekly");
    assert_eq!(list[0]["week"], snapshots::iso_week(now));
}

#[tokio::test]
async fn accuracy_compares_the_last_snapshot_before_the_period_with_what_was_won() {
    let app = TestApp::new().await;
    let rep = app.users["rep_sh"].clone();
    let admin = app.users["admin"].clone();
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"早年的客户"}"#)
        .await;
    // Ten days before this month began, a deal of ¥100,000 expected to close today.
    let start = month_start();
    let ctx_at = |now: OffsetDateTime| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let dir = app.db.directory().await.unwrap();
            Ctx {
                actor: Actor {
                    user_id: admin.id,
                    role: Role::Admin,
                    team_id: None,
                },
                scope: Scope::All,
                dir,
                now,
                lang: Language::ZhCn,
                address: None,
            }
        }
    };
    let input: OpportunityInput = serde_json::from_value(serde_json::json!({
        "title": "上月的商机",
        "account_id": account["id"],
        "amount_minor": 10_000_000,
        "close_date": china_today().to_string(),
        "owner_id": rep.id,
    }))
    .unwrap();
    let opp = shangji::ops::create_opportunity(
        &app.db,
        &ctx_at(start - Duration::days(10)).await,
        input,
        None,
    )
    .await
    .unwrap();
    // Snapshots 6 and 5 days before the month began (the later one counts), and one after.
    for days in [6, 5] {
        snapshots::take_snapshot(&app.db, start - Duration::days(days), false, None, 500)
            .await
            .unwrap();
    }
    // Now it is won, this month.
    walk(&app, "rep_sh", opp.record.id, &[1, 2, 3, 4]).await;
    snapshots::take_snapshot(&app.db, OffsetDateTime::now_utc(), false, None, 500)
        .await
        .unwrap();

    let (s, v) = app.get("/api/v1/analytics/accuracy", "admin").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = app.db.directory().await.unwrap().pipelines[0].stages[0].probability as i64;
    let this_month = china_today().replace_day(1).unwrap().to_string();
    let rows: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["period_from"] == this_month)
        .collect();
    let company = rows.iter().find(|r| r["level"] == "company").unwrap();
    // Forecast: ¥100,000 × the first stage's probability; won: ¥100,000.
    let forecast = 10_000_000 * p / 100;
    assert_eq!(company["forecast"], forecast, "{company}");
    assert_eq!(company["actual"], 10_000_000);
    let accuracy = company["accuracy"].as_f64().unwrap();
    assert!((accuracy - p as f64 / 100.0).abs() < 1e-9, "{company}");
    let bias = company["bias"].as_f64().unwrap();
    assert!((bias - (p as f64 / 100.0 - 1.0)).abs() < 1e-9, "{company}");
    // The later of the two snapshots before the month.
    let (_, list) = app.get("/api/v1/analytics/snapshots", "admin").await;
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    // Newest first: [after, 5 days before, 6 days before].
    assert_eq!(company["snapshot_id"], ids[1]);
    // Rep and team rows too; the rep sees only their own.
    assert!(rows
        .iter()
        .any(|r| r["level"] == "rep" && r["owner_id"] == rep.id && r["actual"] == 10_000_000));
    assert!(rows
        .iter()
        .any(|r| r["level"] == "team" && r["team_id"] == app.teams["上海组"]));
    let (_, mine) = app.get("/api/v1/analytics/accuracy", "rep_sh").await;
    assert!(mine["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["level"] == "rep" && r["owner_id"] == rep.id));
    // Another method, and bad parameters.
    let (_, v) = app
        .get(
            "/api/v1/analytics/accuracy?method=p50&level=company",
            "admin",
        )
        .await;
    assert!(v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["level"] == "company"));
    let (s, v) = app
        .get("/api/v1/analytics/accuracy?method=guess", "admin")
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("method"))
    );
    let (s, v) = app
        .get(
            "/api/v1/analytics/accuracy?from=2026-05-01&to=2026-01-01",
            "admin",
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_period"))
    );
}

/// The backtest and the snapshot from the command line, on generated history.
#[test]
fn the_backtest_replays_generated_history() {
    let dir = std::env::temp_dir().join(format!(
        "shangji-backtest-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shangji"))
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .env_remove("SHANGJI_DATABASE_URL")
            .env_remove("SHANGJI_LISTEN")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, _, err) = run(&["seed", "--opportunities", "400"]);
    assert!(ok, "{err}");
    let today = china_today();
    let from = shangji_core::horizon::add_months(today, -6);
    let to = shangji_core::horizon::add_months(today, -1);
    let (ok, out, err) = run(&[
        "forecast",
        "backtest",
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--runs",
        "300",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with("date"), "{out}");
    // Six monthly dates, each with its month, then the mean accuracy per method.
    let dated: Vec<&&str> = lines.iter().filter(|l| l.starts_with("20")).collect();
    assert_eq!(dated.len(), 6, "{out}");
    assert!(dated[0].starts_with(&format!("{from}  {from} – ")), "{out}");
    for m in ["configured", "empirical", "blended", "p50"] {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(m) && l.contains("months)"))
            .unwrap_or_else(|| panic!("no mean for {m}: {out}"));
        assert!(line.contains("(6 months)"), "{line}");
    }
    let (ok, out, _) = run(&[
        "forecast",
        "backtest",
        "--from",
        "2026-05-01",
        "--to",
        "2026-01-01",
    ]);
    assert!(!ok, "{out}");
    let (ok, out, err) = run(&["forecast", "snapshot"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("snapshot 1 taken"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
