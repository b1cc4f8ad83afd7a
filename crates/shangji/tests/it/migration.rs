//! Migration from another CRM: a generated company whose deals' paths are known is entered
//! twice — once through the API as it happened (the clock set to each step's time), once as a
//! deals file and a stage-history file through the opportunities import — and the reports
//! (funnel, win/loss by reason, calibration, time in stage, sales cycle, win rate) agree, and
//! agree with counts made directly from the generated paths. Runs on SQLite, and on
//! PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;
use crate::import::{self, run};

use axum::http::{Method, StatusCode};
use common::{TestApp, ALL_CHECKS};
use serde_json::{json, Value};
use shangji_core::calendar::{china_date, CHINA};
use time::{Duration, OffsetDateTime, Time};

/// A generated deal: where it went, when.
struct Deal {
    title: String,
    account: String,
    amount_minor: i64,
    /// (stage index of the default pipeline, time entered); the first is its creation.
    steps: Vec<(usize, OffsetDateTime)>,
    /// Loss reason and competitor, when lost.
    lost: Option<(&'static str, &'static str)>,
}

const WON: usize = 4;
const LOST: usize = 5;
const STAGE_ZH: [&str; 6] = [
    "线索确认",
    "需求分析",
    "方案报价",
    "商务谈判",
    "赢单",
    "输单",
];

/// A company with a known process: each deal advances a stage with probability 0.7 (else it
/// is lost, or for one in ten stays open), wins from negotiation with probability 0.6, and
/// spends 2–16 days in each stage; reasons cycle through price, competitor, timing.
fn company(now: OffsetDateTime) -> Vec<Deal> {
    let mut x: u64 = 0x5eed;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % 100
    };
    let base = (now - Duration::days(330)).replace_time(Time::from_hms(1, 0, 0).unwrap());
    let reasons = [("price", ""), ("competitor", "某德企"), ("timing", "")];
    let mut deals = Vec::new();
    for i in 0..36 {
        let created = base + Duration::days(i * 7) + Duration::minutes(37 * i);
        let mut steps = vec![(0, created)];
        let mut lost = None;
        let mut at = created;
        loop {
            let (stage, _) = *steps.last().unwrap();
            at += Duration::days(2 + next() as i64 % 15) + Duration::minutes(11);
            if at > now - Duration::days(1) {
                break;
            }
            let roll = next();
            let to = match stage {
                3 if roll < 60 => WON,
                3 => LOST,
                _ if roll < 70 => stage + 1,
                _ if roll < 90 => LOST,
                _ => break,
            };
            steps.push((to, at));
            if to == LOST {
                lost = Some(reasons[deals.len() % 3]);
            }
            if to >= WON {
                break;
            }
        }
        deals.push(Deal {
            title: format!("迁移商机 {i}"),
            account: format!("迁移客户 {i} 有限公司"),
            amount_minor: 10_000_000 + 500_000 * i,
            steps,
            lost,
        });
    }
    deals
}

fn china(t: OffsetDateTime) -> String {
    let t = t.to_offset(CHINA);
    format!(
        "{} {:02}:{:02}:{:02}",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn close_date(d: &Deal) -> String {
    (china_date(d.steps[0].1) + Duration::days(90)).to_string()
}

/// The company entered through the API, each step at its time.
async fn through_the_api(app: &TestApp, deals: &[Deal]) {
    let stages = app.stage_ids().await;
    for d in deals {
        app.state.clock.set(Some(d.steps[0].1));
        let account = app
            .create(
                "/api/v1/accounts",
                "admin",
                &format!(r#"{{"name":"{}"}}"#, d.account),
            )
            .await;
        let opp = app
            .create(
                "/api/v1/opportunities",
                "admin",
                &format!(
                    r#"{{"title":"{}","account_id":{},"amount_minor":{},"close_date":"{}"}}"#,
                    d.title,
                    account["id"],
                    d.amount_minor,
                    close_date(d)
                ),
            )
            .await;
        for &(to, at) in &d.steps[1..] {
            app.state.clock.set(Some(at));
            let extra = match d.lost.filter(|_| to == LOST) {
                Some((reason, competitor)) => {
                    format!(r#","loss_reason":"{reason}","competitor":"{competitor}""#)
                }
                None => format!(",{ALL_CHECKS}"),
            };
            let (s, v) = app
                .post(
                    &format!("/api/v1/opportunities/{}/move", opp["id"]),
                    "admin",
                    &format!(r#"{{"stage_id":{}{extra}}}"#, stages[to]),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
    }
}

/// The company as another CRM exports it: a deals file and a stage-history file.
fn files(deals: &[Deal]) -> (String, String) {
    let mut deal_rows = vec![
        "外部编号,商机名称,客户名称,负责人,阶段,金额,预计成交日期,创建时间,输单原因,竞争对手"
            .to_string(),
    ];
    let mut history = vec!["外部编号,阶段,进入时间".to_string()];
    for (i, d) in deals.iter().enumerate() {
        let (last, _) = *d.steps.last().unwrap();
        let (reason, competitor) = d.lost.unwrap_or(("", ""));
        deal_rows.push(format!(
            "OLD-{i},{},{},admin,{},{},{},{},{reason},{competitor}",
            d.title,
            d.account,
            STAGE_ZH[last],
            d.amount_minor as f64 / 100.0,
            close_date(d),
            china(d.steps[0].1),
        ));
        for &(stage, at) in &d.steps {
            history.push(format!("OLD-{i},{},{}", STAGE_ZH[stage], china(at)));
        }
    }
    (deal_rows.join("\n"), history.join("\n"))
}

/// Uploads a deals file and its history file; the import's id and its preview.
async fn upload(app: &TestApp, deal_file: &str, history_file: &str) -> (i64, Value) {
    let (s, up) = import::upload(
        app,
        "admin",
        "opportunities",
        "deals.csv",
        deal_file.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let id = up["batch"]["id"].as_i64().unwrap();
    let (s, p) = app
        .call(
            Method::POST,
            &format!("/api/v1/imports/{id}/history?file_name=history.csv"),
            Some("admin"),
            Some(history_file),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    (id, p)
}

/// The company imported: accounts first (through the API), then the two files.
async fn through_the_import(app: &TestApp, deals: &[Deal], now: OffsetDateTime) {
    for d in deals {
        app.create(
            "/api/v1/accounts",
            "admin",
            &format!(r#"{{"name":"{}"}}"#, d.account),
        )
        .await;
    }
    app.state.clock.set(Some(now));
    let (deal_file, history_file) = files(deals);
    let (id, p) = upload(app, &deal_file, &history_file).await;
    assert_eq!(p["summary"]["problems"], serde_json::json!([]), "{p}");
    assert_eq!(p["summary"]["created"], deals.len());
    let batch = run(app, id).await;
    assert_eq!(batch["status"], "done", "{batch}");
    assert_eq!(batch["summary"]["created"], deals.len());
}

const REPORTS: [&str; 6] = [
    "funnel",
    "win-loss",
    "calibration",
    "time-in-stage",
    "sales-cycle",
    "win-rate",
];

async fn reports(app: &TestApp, now: OffsetDateTime) -> Vec<Value> {
    let to = china_date(now);
    let from = to - Duration::days(400);
    let mut out = Vec::new();
    for r in REPORTS {
        let (s, v) = app
            .get(
                &format!("/api/v1/analytics/{r}?from={from}&to={to}"),
                "admin",
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}: {v}");
        out.push(v);
    }
    out
}

#[tokio::test]
async fn a_migrated_history_gives_the_same_reports_as_the_same_history_entered_live() {
    let now = common::now().replace_time(Time::from_hms(6, 0, 0).unwrap());
    let deals = company(now);
    let live = TestApp::new().await;
    through_the_api(&live, &deals).await;
    live.state.clock.set(Some(now));
    let migrated = TestApp::new().await;
    through_the_import(&migrated, &deals, now).await;

    let (a, b) = (reports(&live, now).await, reports(&migrated, now).await);
    for ((name, a), b) in REPORTS.iter().zip(&a).zip(&b) {
        assert_eq!(a, b, "{name} differs");
    }

    // And both are the generated truth: entries per stage, losses per reason.
    let stages = live.stage_ids().await;
    let funnel = &a[0]["rows"];
    for (k, stage) in stages.iter().enumerate().take(4) {
        let entered = deals
            .iter()
            .filter(|d| d.steps.iter().any(|(s, _)| *s == k))
            .count();
        let row = funnel
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage_id"] == *stage)
            .unwrap_or_else(|| panic!("stage {k} in {funnel}"));
        assert_eq!(row["entered"], entered, "stage {k}: {row}");
    }
    let won = deals
        .iter()
        .filter(|d| d.steps.last().unwrap().0 == WON)
        .count();
    assert!(won >= 3, "the generated company wins some deals ({won})");
    for reason in ["price", "competitor", "timing"] {
        let lost = deals
            .iter()
            .filter(|d| d.lost.is_some_and(|(r, _)| r == reason))
            .count();
        let row = a[1]["rows"]["by_reason"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == reason)
            .cloned()
            .unwrap_or_default();
        assert_eq!(row["lost"].as_u64().unwrap_or(0) as usize, lost, "{reason}");
        assert!(lost > 0, "{reason} is among the generated reasons");
    }
    assert_eq!(
        a[5]["rows"]["won"].as_u64().unwrap() as usize,
        won,
        "{}",
        a[5]
    );
}

/// Every problem of either file by row and column; a deal already imported (its external id)
/// is skipped; a rollback archives the deals (their history stays, out of every report) and
/// frees their external ids, so that the corrected file imports again.
#[tokio::test]
async fn problems_are_placed_duplicates_skipped_and_a_rollback_frees_the_external_ids() {
    let app = TestApp::new().await;
    let now = common::now();
    app.create("/api/v1/accounts", "admin", r#"{"name":"甲方有限公司"}"#)
        .await;
    let before = reports(&app, now).await;
    let day = |d: i64| china(now - Duration::days(d));
    let deals = format!(
        "外部编号,商机名称,客户名称,阶段,金额,创建时间,成交日期,输单原因\n\
         A-1,一号,甲方有限公司,赢单,1万,{c},,\n\
         A-2,二号,甲方有限公司,输单,2万,{c},{closed},价格\n\
         A-3,三号,甲方有限公司,赢单,3万,{c},,\n\
         A-4,四号,乙方,线索确认,4万,{c},,\n\
         A-5,五号,甲方有限公司,谈判中,5万,{c},,\n\
         A-6,六号,甲方有限公司,输单,6万,{c},,",
        c = day(60),
        closed = day(10),
    );
    let history = format!(
        "opportunity,stage,entered_at\n\
         A-1,线索确认,{a}\n\
         A-1,赢单,{b}\n\
         A-3,线索确认,{a}\n\
         A-3,需求分析,{early}\n\
         A-9,需求分析,{b}",
        a = day(60),
        b = day(20),
        early = day(90),
    );
    let (id, p) = upload(&app, &deals, &history).await;
    let expected: Vec<(i64, String, String)> = [
        (4, "阶段", "history_mismatch"),
        (5, "客户名称", "unknown_account"),
        (6, "阶段", "unknown_stage"),
        (7, "成交日期", "required"),
        (5, "history:entered_at", "before_created"),
        (6, "history:opportunity", "unknown_opportunity"),
    ]
    .into_iter()
    .map(|(r, c, k)| (r, c.to_string(), k.to_string()))
    .collect();
    assert_eq!(import::problems(&p), expected, "{p}");
    // The preview shows a deal by the file's fields: its external id, account, time.
    let first = &p["rows"][0]["record"];
    assert_eq!(
        (&first["external_id"], &first["account"]),
        (&json!("A-1"), &json!("甲方有限公司")),
        "{first}"
    );
    assert_eq!(first["created_at"], json!(day(60)[..16]));
    // Refused whole while anything is wrong…
    let (s, v) = app
        .post(&format!("/api/v1/imports/{id}/run"), "admin", "")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // …or the valid deals only: A-1 through its history, A-2 closed without one.
    let (s, v) = app
        .post(
            &format!("/api/v1/imports/{id}/preview"),
            "admin",
            r#"{"options":{"valid_only":true}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let batch = run(&app, id).await;
    assert_eq!(batch["status"], "done", "{batch}");
    assert_eq!(batch["summary"]["created"], 2, "{batch}");
    assert_ne!(
        reports(&app, now).await,
        before,
        "a won and a lost deal count"
    );
    let (_, list) = app.get("/api/v1/opportunities?q=号", "admin").await;
    let titles: Vec<&str> = list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|o| o["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2, "{list}");
    let lost = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["title"] == "二号")
        .unwrap();
    assert_eq!(lost["status"], "lost");
    assert_eq!(lost["loss_reason"], "price");
    let (_, events) = app
        .get(
            &format!("/api/v1/opportunities/{}/events", lost["id"]),
            "admin",
        )
        .await;
    assert_eq!(
        common::kinds(&events),
        [
            "created",
            "stage_changed",
            "lost",
            "probability_changed",
            "forecast_category_changed"
        ]
    );

    // The same deals again: skipped, their history is not written twice.
    let (again, p) = upload(&app, &deals, "opportunity,stage,entered_at\n").await;
    assert_eq!(p["summary"]["skipped"], 2, "{p}");
    assert_eq!(p["duplicates"], 2, "{p}");

    // Rolled back: archived, external ids free — the file imports them anew.
    let (s, r) = app
        .post(&format!("/api/v1/imports/{id}/rollback"), "admin", "")
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["removed"], 2, "{r}");
    let (_, gone) = app
        .get(&format!("/api/v1/opportunities/{}", lost["id"]), "admin")
        .await;
    assert_eq!(gone["archived"], true, "{gone}");
    // The reports are again what they were before the import: the deals it made count in
    // none of them.
    assert_eq!(reports(&app, now).await, before);
    let (s, p) = app
        .post(&format!("/api/v1/imports/{again}/preview"), "admin", "{}")
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["summary"]["skipped"], 0, "{p}");
    assert_eq!(p["duplicates"], 0, "{p}");
}

/// A manager imports deals only on accounts they may see, as when creating one on the page.
#[tokio::test]
async fn a_manager_imports_deals_only_on_accounts_in_their_scope() {
    let app = TestApp::new().await;
    app.create(
        "/api/v1/accounts",
        "rep_south",
        r#"{"name":"华南客户有限公司"}"#,
    )
    .await;
    app.create(
        "/api/v1/accounts",
        "rep_east",
        r#"{"name":"华东客户有限公司"}"#,
    )
    .await;
    let file = "商机名称,客户名称,阶段\n南方商机,华南客户有限公司,线索确认\n东方商机,华东客户有限公司,线索确认\n";
    let (s, p) = import::upload(&app, "mgr_east", "opportunities", "d.csv", file.into()).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let found: Vec<(i64, String)> = import::problems(&p)
        .into_iter()
        .map(|(row, _, code)| (row, code))
        .collect();
    assert_eq!(found.len(), 1, "{p}");
    assert_eq!(found[0].0, 2, "{p}");
    assert_eq!(p["summary"]["created"], 1, "{p}");
}

/// A deal closed before the migration may be of a rep who has left since; an open deal of
/// theirs is refused at its row (it needs someone to follow it up: hand it over first).
#[tokio::test]
async fn a_closed_deal_of_a_rep_who_left_comes_over_an_open_one_does_not() {
    let app = TestApp::new().await;
    let now = common::now();
    app.create("/api/v1/accounts", "admin", r#"{"name":"甲方有限公司"}"#)
        .await;
    let (s, v) = app
        .patch(
            &format!("/api/v1/users/{}", app.user_id("rep_south")),
            "admin",
            r#"{"active":false}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let day = |d: i64| china(now - Duration::days(d));
    let deals = format!(
        "外部编号,商机名称,客户名称,阶段,金额,创建时间,成交日期,负责人\n\
         B-1,离职前赢单,甲方有限公司,赢单,1万,{c},{closed},rep_south\n\
         B-2,离职前在谈,甲方有限公司,线索确认,2万,{c},,rep_south",
        c = day(60),
        closed = day(30),
    );
    let (id, p) = upload(&app, &deals, "opportunity,stage,entered_at\n").await;
    let found: Vec<(i64, String)> = import::problems(&p)
        .into_iter()
        .map(|(row, _, code)| (row, code))
        .collect();
    assert_eq!(found, [(3, "unknown_user".to_string())], "{p}");
    let (s, _) = app
        .post(
            &format!("/api/v1/imports/{id}/preview"),
            "admin",
            r#"{"options":{"valid_only":true}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let batch = run(&app, id).await;
    assert_eq!(batch["summary"]["created"], 1, "{batch}");
    let (_, list) = app.get("/api/v1/opportunities?q=离职前", "admin").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(
        (&items[0]["status"], &items[0]["owner_id"]),
        (&json!("won"), &json!(app.user_id("rep_south")))
    );
}
