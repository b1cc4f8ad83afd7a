//! The pipeline board and the forecast board through the router, as a browser uses them:
//! column totals against the rows, visibility, filters, paging, moves with their gate dialog,
//! refusals, and re-dating on the forecast board. Runs on SQLite, and on PostgreSQL when
//! `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::browser::{after, between, browser, extract, Browser};
use common::TestApp;
use serde_json::Value;

/// An opportunity of `login` on a new account, from a JSON body's extra fields.
async fn opp(app: &TestApp, login: &str, title: &str, extra: &str) -> Value {
    let account = app
        .create(
            "/api/v1/accounts",
            login,
            &format!(r#"{{"name":"{title} 客户"}}"#),
        )
        .await;
    let sep = if extra.is_empty() { "" } else { "," };
    app.create(
        "/api/v1/opportunities",
        login,
        &format!(
            r#"{{"title":"{title}","account_id":{}{sep}{extra}}}"#,
            account["id"]
        ),
    )
    .await
}

/// The header of the board column whose heading is `name`: (count, total, weighted).
fn column(body: &str, name: &str) -> (i64, String, String) {
    let col = between(body, &format!("\">{name}</h2>"), "</header>");
    let count = extract(col, "<span class=\"board-count\">", "<")
        .parse()
        .unwrap();
    let amount = extract(col, "<span class=\"board-amount\"", "</span>");
    let amount = amount[amount.find('>').unwrap() + 1..].to_string();
    let weighted = extract(col, "<span class=\"board-weighted\">", "<").to_string();
    (count, amount, weighted)
}

/// The cards of the board column whose heading is `name`, by opportunity id.
fn card_ids(body: &str, name: &str) -> Vec<i64> {
    let start = body.find(&format!("\">{name}</h2>")).unwrap();
    let rest = &body[start..];
    let end = rest.find("</section>").unwrap();
    rest[..end]
        .split("data-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

#[tokio::test]
async fn column_totals_equal_the_rows_within_each_viewers_scope() {
    let app = TestApp::new().await;
    // Qualification is 10 %.
    let a = opp(&app, "rep_sh", "上海 A", r#""amount_minor":10000000"#).await;
    let b = opp(&app, "rep_sh", "上海 B", r#""amount_minor":20000000"#).await;
    let c = opp(&app, "rep_east", "华东 C", r#""amount_minor":30000000"#).await;
    let d = opp(&app, "rep_south", "华南 D", r#""amount_minor":40000000"#).await;
    // An archived one counts nowhere.
    let gone = opp(&app, "rep_sh", "上海 已归档", r#""amount_minor":50000000"#).await;
    let (s, _) = app
        .call(
            axum::http::Method::DELETE,
            &format!("/api/v1/opportunities/{}", id(&gone)),
            Some("rep_sh"),
            None,
        )
        .await;
    assert!(s.is_success(), "{s}");

    let rep = browser(&app, "rep_sh").await;
    let r = rep.get("/board").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("aria-current=\"page\">看板")
            || r.body.contains("href=\"/board\" aria-current=\"page\"")
    );
    assert_eq!(
        column(&r.body, "线索确认"),
        (2, "¥30万".into(), "¥3万".into())
    );
    assert_eq!(column(&r.body, "需求分析").0, 0);
    let mut ids = card_ids(&r.body, "线索确认");
    ids.sort();
    assert_eq!(ids, vec![id(&a), id(&b)]);
    // Biggest first.
    assert_eq!(card_ids(&r.body, "线索确认")[0], id(&b));
    assert!(
        r.body.contains("上海 A 客户"),
        "the account's name is on the card"
    );

    let mgr = browser(&app, "mgr_east").await;
    let r = mgr.get("/board").await;
    assert_eq!(
        column(&r.body, "线索确认"),
        (3, "¥60万".into(), "¥6万".into())
    );
    assert!(!card_ids(&r.body, "线索确认").contains(&id(&d)));
    assert!(card_ids(&r.body, "线索确认").contains(&id(&c)));

    let director = browser(&app, "director").await;
    let r = director.get("/board").await;
    assert_eq!(
        column(&r.body, "线索确认"),
        (4, "¥100万".into(), "¥10万".into())
    );

    // The forecast board holds the same deals by close month: none has a date.
    let r = director.get("/forecast").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(column(&r.body, "更早 / 无日期").0, 4);
}

#[tokio::test]
async fn filters_narrow_the_columns_and_stay_in_the_links() {
    let app = TestApp::new().await;
    let a = opp(
        &app,
        "rep_sh",
        "甲",
        r#""amount_minor":10000000,"grade":"a","tags":["重点","续约"],"close_date":"2026-03-10""#,
    )
    .await;
    let b = opp(
        &app,
        "rep_east",
        "乙",
        r#""amount_minor":20000000,"grade":"b","tags":["新客"],"close_date":"2026-05-10""#,
    )
    .await;
    let mgr = browser(&app, "mgr_east").await;
    let only = |body: &str| card_ids(body, "线索确认");

    let r = mgr
        .get(&format!("/board?owner={}", app.user_id("rep_east")))
        .await;
    assert_eq!(only(&r.body), vec![id(&b)]);
    assert_eq!(column(&r.body, "线索确认").0, 1);
    let r = mgr.get("/board?grade=a").await;
    assert_eq!(only(&r.body), vec![id(&a)]);
    let r = mgr.get("/board?tag=%E9%87%8D%E7%82%B9").await;
    assert_eq!(only(&r.body), vec![id(&a)]);
    assert!(
        r.body.contains("value=\"重点\""),
        "the typed tag stays in the form"
    );
    let r = mgr
        .get("/board?close_from=2026-04-01&close_to=2026-06-30")
        .await;
    assert_eq!(only(&r.body), vec![id(&b)]);
    assert_eq!(
        column(&r.body, "线索确认"),
        (1, "¥20万".into(), "¥2万".into())
    );
    let r = mgr
        .get(&format!("/board?team={}", app.teams["上海组"]))
        .await;
    assert_eq!(only(&r.body), vec![id(&a)]);
    // The filters are kept for the moves (the view) and the pages of cards.
    assert!(r
        .body
        .contains(&format!("data-view=\"team={}\"", app.teams["上海组"])));
}

#[tokio::test]
async fn a_column_loads_the_next_cards_when_scrolled() {
    let app = TestApp::new().await;
    let mut all = Vec::new();
    for i in 0..25 {
        let o = opp(
            &app,
            "rep_sh",
            &format!("商机 {i:02}"),
            &format!(r#""amount_minor":{}"#, 1_000_000 + i * 1000),
        )
        .await;
        all.push(id(&o));
    }
    let rep = browser(&app, "rep_sh").await;
    let r = rep.get("/board?grade=").await;
    let first = card_ids(&r.body, "线索确认");
    assert_eq!(first.len(), 20);
    assert_eq!(column(&r.body, "线索确认").0, 25);
    let url = extract(&r.body, "hx-get=\"", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(url.starts_with("/board/column?"), "{url}");
    assert!(r.body.contains("hx-trigger=\"revealed\""));
    let more = rep.get(&url).await;
    assert_eq!(more.status, StatusCode::OK);
    let next: Vec<i64> = more
        .body
        .split("data-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(next.len(), 5);
    assert!(!more.body.contains("hx-get"), "nothing more after the last");
    let mut seen: Vec<i64> = first.iter().chain(&next).copied().collect();
    seen.sort();
    all.sort();
    assert_eq!(seen, all);
}

/// Posts a drop as board.js does.
async fn drop_on(
    b: &Browser<'_>,
    opp: &Value,
    stage: i64,
    extra: &[(&str, &str)],
) -> common::browser::Resp {
    let (id, version) = (id(opp).to_string(), opp["version"].to_string());
    let stage = stage.to_string();
    let mut fields = vec![
        ("id", id.as_str()),
        ("version", version.as_str()),
        ("stage_id", stage.as_str()),
        ("view", ""),
    ];
    fields.extend_from_slice(extra);
    b.post("/board/move", &fields).await
}

#[tokio::test]
async fn a_gated_move_asks_for_exactly_what_is_missing_and_then_moves() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let proposal = stages[2];
    let o = opp(&app, "rep_sh", "缺资料的商机", r#""amount_minor":5000000"#).await;
    let rep = browser(&app, "rep_sh").await;

    // What the API says is missing for the same move.
    let (s, api) = app
        .post(
            &format!("/api/v1/opportunities/{}/move", id(&o)),
            "rep_sh",
            &format!(r#"{{"stage_id":{proposal}}}"#),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{api}");
    let missing: Vec<String> = api["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap().to_string())
        .collect();
    assert!(missing.contains(&"close_date".to_string()), "{missing:?}");

    let r = drop_on(&rep, &o, proposal, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("<dialog id=\"board-dialog\""), "{}", r.body);
    assert!(r.body.contains("移到「方案报价」还需要："));
    assert_eq!(
        r.body.matches("<li class=\"missing\">").count(),
        missing.len(),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<li class=\"met\">"));
    for field in &missing {
        match field.strip_prefix("checklist.") {
            Some(key) => assert!(
                r.body
                    .contains(&format!("name=\"checklist\" value=\"{key}\"")),
                "{key}"
            ),
            None => assert!(r.body.contains(&format!("id=\"gate-{field}\"")), "{field}"),
        }
    }
    // Nothing moved.
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(now["stage_id"], stages[0]);

    // The dialog's answers and the move, at once.
    let mut answers: Vec<(&str, &str)> = vec![("dialog", "1"), ("close_date", "2027-01-31")];
    let keys: Vec<&str> = missing
        .iter()
        .filter_map(|f| f.strip_prefix("checklist."))
        .collect();
    for k in &keys {
        answers.push(("checklist", k));
    }
    let r = drop_on(&rep, &o, proposal, &answers).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("id=\"board-columns\""),
        "the new columns come back"
    );
    assert_eq!(column(&r.body, "方案报价").0, 1);
    assert_eq!(column(&r.body, "线索确认").0, 0);
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(now["stage_id"], proposal);
    assert_eq!(now["close_date"], "2027-01-31");
    let (_, events) = app
        .get(
            &format!("/api/v1/opportunities/{}/events", id(&o)),
            "rep_sh",
        )
        .await;
    let events = events
        .as_array()
        .cloned()
        .unwrap_or_else(|| events["items"].as_array().unwrap().clone());
    assert!(events
        .iter()
        .any(|e| e["kind"] == "stage_changed" && e["to_stage_id"] == proposal));
}

#[tokio::test]
async fn lost_needs_a_reason_and_records_it() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let lost = stages[5];
    let o = opp(&app, "rep_sh", "要丢的商机", r#""amount_minor":5000000"#).await;
    let rep = browser(&app, "rep_sh").await;
    let r = drop_on(&rep, &o, lost, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"move-loss-reason\""));
    assert!(r.body.contains("id=\"move-competitor\"") && r.body.contains("id=\"move-loss-note\""));
    // Sent without a reason: asked again, beside the select.
    let r = drop_on(&rep, &o, lost, &[("dialog", "1"), ("loss_reason", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请选择输单原因"), "{}", r.body);
    let (_, reasons) = app.get("/api/v1/loss-reasons", "rep_sh").await;
    let reasons = reasons
        .as_array()
        .cloned()
        .unwrap_or_else(|| reasons["items"].as_array().unwrap().clone());
    let reason = reasons[0]["key"].as_str().unwrap().to_string();
    let r = drop_on(
        &rep,
        &o,
        lost,
        &[
            ("dialog", "1"),
            ("loss_reason", &reason),
            ("competitor", "某友商"),
            ("loss_note", "价格没谈拢"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!card_ids(&r.body, "线索确认").contains(&id(&o)));
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(now["status"], "lost");
    assert_eq!(now["loss_reason"], reason.as_str());
    assert_eq!(now["competitor"], "某友商");
}

#[tokio::test]
async fn stale_versions_and_other_reps_deals_are_refused() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let o = opp(&app, "rep_sh", "被改过的商机", r#""amount_minor":5000000"#).await;
    // Someone changes it after the board was shown.
    let (s, _) = app
        .patch(
            &format!("/api/v1/opportunities/{}", id(&o)),
            "rep_sh",
            r#"{"next_step":"再约一次"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let rep = browser(&app, "rep_sh").await;
    let r = drop_on(&rep, &o, stages[1], &[("checklist", "need_confirmed")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        !r.body.contains("<dialog"),
        "a conflict is a message, not a dialog"
    );
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(now["stage_id"], stages[0]);

    // Another rep's deal does not exist for this rep.
    let other = opp(&app, "rep_south", "别人的商机", r#""amount_minor":5000000"#).await;
    let r = drop_on(&rep, &other, stages[1], &[("checklist", "need_confirmed")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let (_, now) = app
        .get(
            &format!("/api/v1/opportunities/{}", id(&other)),
            "rep_south",
        )
        .await;
    assert_eq!(now["stage_id"], stages[0]);

    // Without the session's token nothing happens.
    let r = rep
        .send(
            "POST",
            "/board/move",
            Some(format!(
                "csrf=wrong&id={}&version=1&stage_id={}",
                id(&o),
                stages[1]
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_forecast_board_re_dates_a_deal_dropped_on_another_month() {
    let app = TestApp::new().await;
    let o = opp(
        &app,
        "rep_sh",
        "改期商机",
        r#""amount_minor":10000000,"close_date":"2026-01-31""#,
    )
    .await;
    let rep = browser(&app, "rep_sh").await;
    let r = rep.get("/forecast?start=2026-01").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        column(&r.body, "2026年1月"),
        (1, "¥10万".into(), "¥1万".into())
    );
    assert_eq!(column(&r.body, "2026年2月").0, 0);
    let version = o["version"].to_string();
    let oid = id(&o).to_string();
    let r = rep
        .post(
            "/forecast/move",
            &[
                ("id", &oid),
                ("version", &version),
                ("month", "2026-02"),
                ("view", "start=2026-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(column(&r.body, "2026年2月").0, 1);
    assert_eq!(column(&r.body, "2026年1月").0, 0);
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{oid}"), "rep_sh")
        .await;
    assert_eq!(
        now["close_date"], "2026-02-28",
        "the 31st becomes February's last day"
    );
    let (_, events) = app
        .get(&format!("/api/v1/opportunities/{oid}/events"), "rep_sh")
        .await;
    let events = events
        .as_array()
        .cloned()
        .unwrap_or_else(|| events["items"].as_array().unwrap().clone());
    assert!(events.iter().any(|e| e["kind"] == "close_date_changed"));
    // The version the board showed is now stale.
    let r = rep
        .post(
            "/forecast/move",
            &[
                ("id", &oid),
                ("version", &version),
                ("month", "2026-03"),
                ("view", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn quick_create_puts_a_deal_in_the_first_stage() {
    let app = TestApp::new().await;
    app.create("/api/v1/accounts", "rep_sh", r#"{"name":"快速客户"}"#)
        .await;
    let rep = browser(&app, "rep_sh").await;
    // The form offers the accounts the user can see (loaded when it is opened).
    let r = rep.get("/board/accounts").await;
    assert!(r.body.contains("<option value=\"快速客户\">"), "{}", r.body);
    let close = common::close_date().to_string();
    let r = rep
        .post(
            "/board/quick",
            &[
                ("title", "新机会"),
                ("account", "不存在的客户"),
                ("amount", "12,000"),
                ("close_date", close.as_str()),
                ("view", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("找不到这个客户"));
    assert!(r.body.contains("value=\"新机会\""), "what was typed stays");
    let r = rep
        .post(
            "/board/quick",
            &[
                ("title", "新机会"),
                ("account", "快速客户"),
                ("amount", "12,000"),
                ("close_date", close.as_str()),
                ("view", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = rep.get("/board").await;
    assert_eq!(
        column(&r.body, "线索确认"),
        (1, "¥1.2万".into(), "¥1200".into())
    );
    assert!(r.body.contains("新机会"));

    // A close date decades ago is asked about, and saved once confirmed.
    let long_ago = (common::today() - time::Duration::days(30 * 365)).to_string();
    let typed = [
        ("title", "老单补录"),
        ("account", "快速客户"),
        ("close_date", long_ago.as_str()),
        ("view", ""),
    ];
    let r = rep.post("/board/quick", &typed).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains(&format!("预计成交日期 {long_ago} 在一年多以前")),
        "{}",
        r.body
    );
    assert!(r.body.contains("name=\"date_ok\""));
    let (_, found) = app
        .get("/api/v1/opportunities?q=%E8%80%81%E5%8D%95", "rep_sh")
        .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "not saved");
    let mut confirmed = typed.to_vec();
    confirmed.push(("date_ok", "1"));
    let r = rep.post("/board/quick", &confirmed).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, found) = app
        .get("/api/v1/opportunities?q=%E8%80%81%E5%8D%95", "rep_sh")
        .await;
    assert_eq!(found["items"][0]["close_date"], long_ago.as_str());
}

#[tokio::test]
async fn a_drop_on_won_asks_to_confirm_with_the_amount_and_the_day() {
    let app = TestApp::new().await;
    let o = opp(&app, "rep_sh", "百万大单", r#""amount_minor":100000000"#).await;
    let (_, p) = app.get("/api/v1/pipelines", "admin").await;
    let won = p[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "won")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let rep = browser(&app, "rep_sh").await;

    // The drop only asks.
    let r = drop_on(&rep, &o, won, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let asked = after(&r.body, "id=\"board-dialog-won\"");
    assert!(asked.contains("¥1,000,000.00"), "{asked}");
    assert!(asked.contains(&common::today().to_string()), "{asked}");
    assert!(r.body.contains("name=\"confirmed\" value=\"1\""));
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(
        now["status"], "open",
        "nothing moved before the confirmation"
    );

    // Confirmed: the move is made, or what the won stage still needs is asked for — with the
    // confirmation kept, so that supplying it closes the deal.
    let r = drop_on(&rep, &o, won, &[("dialog", "1"), ("confirmed", "1")]).await;
    let (_, after_drop) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    if r.status == StatusCode::OK {
        assert!(r.body.contains("id=\"board-columns\""), "{}", r.body);
        assert_eq!(after_drop["status"], "won");
    } else {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("<li class=\"missing\">"), "{}", r.body);
        assert!(r.body.contains("name=\"confirmed\" value=\"1\""));
        assert_eq!(after_drop["status"], "open");
    }
}

/// A deal of `login` moved (through the API) into 商务谈判, the last open stage.
async fn in_negotiation(app: &TestApp, login: &str, title: &str) -> Value {
    let stages = app.stage_ids().await;
    let (_, o) = app.account_and_opportunity(login, title).await;
    let (s, moved) = app
        .post(
            &format!("/api/v1/opportunities/{}/move", id(&o)),
            login,
            &format!(r#"{{"stage_id":{},{}}}"#, stages[3], common::ALL_CHECKS),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    moved
}

#[tokio::test]
async fn a_won_drop_offers_an_undo_to_whoever_may_reopen() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (negotiation, won) = (stages[3], stages[4]);
    let confirmed = [("dialog", "1"), ("confirmed", "1")];

    // A rep may not reopen: told the deal is won, offered no undo.
    let o = in_negotiation(&app, "rep_sh", "代表的大单").await;
    let rep = browser(&app, "rep_sh").await;
    let r = drop_on(&rep, &o, won, &confirmed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["x-board-outcome"], "moved");
    assert_eq!(r.headers["x-board-won"], "1");
    assert!(r.headers.get("x-board-undo").is_none());

    // Their manager may: the undo is the move back, with the version the win left.
    let o = in_negotiation(&app, "rep_sh", "经理撤销的大单").await;
    let mgr = browser(&app, "mgr_east").await;
    let r = drop_on(&mgr, &o, won, &confirmed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let undo = r.headers["x-board-undo"].to_str().unwrap().to_string();
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(now["status"], "won");
    assert_eq!(
        undo,
        format!("stage_id={negotiation}&version={}", now["version"])
    );
    let version = now["version"].to_string();
    let back = negotiation.to_string();
    let oid = id(&o).to_string();
    let r = mgr
        .post(
            "/board/move",
            &[
                ("id", oid.as_str()),
                ("version", version.as_str()),
                ("stage_id", back.as_str()),
                ("view", ""),
            ],
        )
        .await;
    assert_eq!(r.headers["x-board-outcome"], "moved", "{}", r.body);
    assert!(r.headers.get("x-board-won").is_none());
    assert!(card_ids(&r.body, "商务谈判").contains(&id(&o)));
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{}", id(&o)), "rep_sh")
        .await;
    assert_eq!(now["status"], "open");
    assert_eq!(now["stage_id"], negotiation);
    // Both moves are in the history.
    let (_, events) = app
        .get(
            &format!("/api/v1/opportunities/{}/events", id(&o)),
            "rep_sh",
        )
        .await;
    let kinds = common::kinds(&events);
    let won_at = kinds.iter().position(|k| k == "won").expect("won");
    let reopened_at = kinds
        .iter()
        .position(|k| k == "reopened")
        .expect("reopened");
    assert!(won_at < reopened_at, "{kinds:?}");
}

#[tokio::test]
async fn a_deal_won_on_its_page_offers_the_same_undo() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (negotiation, won) = (stages[3].to_string(), stages[4].to_string());
    let o = in_negotiation(&app, "rep_sh", "页面赢单").await;
    let oid = id(&o);
    let mgr = browser(&app, "mgr_east").await;
    let version = o["version"].to_string();
    let r = mgr
        .post(
            &format!("/opportunities/{oid}/move"),
            &[("version", version.as_str()), ("stage_id", won.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location.unwrap();
    assert!(to.contains(&format!("undo={negotiation}")), "{to}");
    let page = mgr.get(&to).await;
    let bar = between(&page.body, "id=\"undo-bar\"", "</form>");
    assert!(
        bar.contains(&format!("name=\"stage_id\" value=\"{negotiation}\"")),
        "{bar}"
    );
    // The rep, who may not reopen, is offered none.
    let rep = browser(&app, "rep_sh").await;
    assert!(!rep.get(&to).await.body.contains("id=\"undo-bar\""));
    // Undone: an ordinary move back.
    let version = extract(bar, "name=\"version\" value=\"", "\"").to_string();
    let r = mgr
        .post(
            &format!("/opportunities/{oid}/move"),
            &[
                ("version", version.as_str()),
                ("stage_id", negotiation.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(!r.location.unwrap().contains("undo="));
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{oid}"), "rep_sh")
        .await;
    assert_eq!(
        (now["status"].as_str(), now["stage_id"].to_string()),
        (Some("open"), negotiation)
    );
}

#[tokio::test]
async fn quick_create_makes_the_customer_in_the_same_step_or_nothing() {
    let app = TestApp::new().await;
    let rep = browser(&app, "rep_sh").await;
    let close = common::close_date().to_string();
    let quick = |title: &'static str, extra: &'static str| {
        let mut f = vec![
            ("title", title),
            ("account", "温州瓯海阀门"),
            ("amount", "88,000"),
            ("view", ""),
        ];
        if !extra.is_empty() {
            f.push((extra, "1"));
        }
        f
    };
    // An unknown customer: said, and the form offers to create it.
    let mut fields = quick("阀门产线改造", "");
    fields.push(("close_date", &close));
    let r = rep.post("/board/quick", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"q-new-account\""), "{}", r.body);
    assert!(r.body.contains("同时新建客户「温州瓯海阀门」"));

    // A deal the rules refuse (no title) leaves no customer behind.
    let mut fields = quick("", "new_account");
    fields.push(("close_date", &close));
    let r = rep.post("/board/quick", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let (_, accounts) = app.get("/api/v1/accounts", "rep_sh").await;
    assert_eq!(accounts["total"], 0, "{accounts}");

    // Asked for: the customer and the deal on it, both the rep's.
    let mut fields = quick("阀门产线改造", "new_account");
    fields.push(("close_date", &close));
    let r = rep.post("/board/quick", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, accounts) = app.get("/api/v1/accounts", "rep_sh").await;
    assert_eq!(accounts["total"], 1, "{accounts}");
    let account = &accounts["items"][0];
    assert_eq!(account["name"], "温州瓯海阀门");
    assert_eq!(account["owner_id"], app.user_id("rep_sh"));
    let (_, deals) = app
        .get(
            &format!("/api/v1/opportunities?account_id={}", account["id"]),
            "rep_sh",
        )
        .await;
    assert_eq!(deals["total"], 1, "{deals}");
    assert_eq!(deals["items"][0]["title"], "阀门产线改造");
    assert_eq!(deals["items"][0]["amount"]["amount_minor"], 8_800_000);
}
