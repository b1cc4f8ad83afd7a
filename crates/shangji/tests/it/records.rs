//! The record pages through the router: the today page (mine and my team's), logging a
//! follow-up with its next step in one go, inline edits with their version, the account 360
//! page, visibility by URL and the user, team and token settings. Runs on SQLite, and on
//! PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use axum::http::StatusCode;
use common::browser::{after, browser};
use common::TestApp;
use shangji_core::model::{Opportunity, Task};
use shangji_store::{Access, Save};

use common::today;

fn day(offset: i64) -> String {
    (today() + time::Duration::days(offset)).to_string()
}

async fn task(app: &TestApp, login: &str, title: &str, due: &str, opp: Option<i64>) -> i64 {
    let link = opp.map_or(String::new(), |o| {
        format!(r#","record_kind":"opportunity","record_id":{o}"#)
    });
    app.create(
        "/api/v1/tasks",
        login,
        &format!(r#"{{"title":"{title}","due_date":"{due}"{link}}}"#),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// Puts an opportunity back in time (created and in its stage `days` ago), as if it had
/// been open that long; straight in the store, like an import of old deals.
async fn age(app: &TestApp, id: i64, days: i64) {
    let mut o: Opportunity = app
        .db
        .get(id, &shangji_core::Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    let then = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    let v = o.version;
    o.created_at = then;
    o.stage_entered_at = then;
    app.db
        .save(
            &o,
            Save::Update {
                expected_version: v,
            },
            &[],
        )
        .await
        .unwrap();
}

async fn set(app: &TestApp, login: &str, id: i64, body: &str) {
    let (s, v) = app
        .patch(&format!("/api/v1/opportunities/{id}"), login, body)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Posts a form as htmx does (the `HX-Request` header); status and body.
async fn htmx(
    app: &TestApp,
    rep: &common::browser::Browser<'_>,
    path: String,
    body: String,
) -> (StatusCode, String) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(path)
        .header("cookie", &rep.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("hx-request", "true")
        .header("accept-language", "zh-CN");
    let resp = tower::ServiceExt::oneshot(
        app.router.clone(),
        req.body(axum::body::Body::from(body)).unwrap(),
    )
    .await
    .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let from = after(body, &format!("id=\"{id}\""));
    &from[..from.find("</section>").unwrap_or(from.len())]
}

#[tokio::test]
async fn the_today_page_lists_exactly_what_is_due_and_what_needs_attention() {
    let app = TestApp::new().await;
    let (_, fresh) = app.account_and_opportunity("rep_sh", "新签项目").await;
    let (_, stale) = app.account_and_opportunity("rep_sh", "沉睡项目").await;
    let (_, late) = app.account_and_opportunity("rep_sh", "逾期项目").await;
    let (_, other) = app.account_and_opportunity("rep_east", "同事项目").await;
    let (fresh, stale, late, other) = (
        fresh["id"].as_i64().unwrap(),
        stale["id"].as_i64().unwrap(),
        late["id"].as_i64().unwrap(),
        other["id"].as_i64().unwrap(),
    );
    // The stale one: 10 days in its first stage (rotting after 7 by default?) and never
    // followed up. The late one: its close date was yesterday, followed up today.
    age(&app, stale, 10).await;
    set(
        &app,
        "rep_sh",
        late,
        &format!(r#"{{"close_date":"{}"}}"#, day(-1)),
    )
    .await;
    app.create(
        "/api/v1/activities",
        "rep_sh",
        &format!(r#"{{"kind":"call","summary":"电话沟通","opportunity_id":{late}}}"#),
    )
    .await;
    // A next step due today on the fresh one.
    set(
        &app,
        "rep_sh",
        fresh,
        &format!(
            r#"{{"next_step":"发送方案","next_step_date":"{}"}}"#,
            day(0)
        ),
    )
    .await;
    // Tasks: overdue, due today, due tomorrow (not listed), done (not listed); a colleague's.
    let overdue = task(&app, "rep_sh", "回访采购部", &day(-2), Some(stale)).await;
    let due_today = task(&app, "rep_sh", "准备报价单", &day(0), None).await;
    task(&app, "rep_sh", "明天的事", &day(1), None).await;
    let done = task(&app, "rep_sh", "已完成的事", &day(0), None).await;
    let (s, _) = app
        .patch(
            &format!("/api/v1/tasks/{done}"),
            "rep_sh",
            r#"{"done":true}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    task(&app, "rep_east", "同事的待办", &day(0), Some(other)).await;
    age(&app, other, 10).await;

    let rep = browser(&app, "rep_sh").await;
    let r = rep.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    let tasks = section(&r.body, "today-tasks");
    assert!(tasks.contains(&format!("id=\"task-{overdue}\"")), "{tasks}");
    assert!(
        tasks.contains(&format!("id=\"task-{due_today}\"")),
        "{tasks}"
    );
    assert_eq!(tasks.matches("<li class=\"task").count(), 2, "{tasks}");
    assert!(tasks.contains("已逾期"), "overdue marked: {tasks}");
    assert!(
        !tasks.contains("明天的事")
            && !tasks.contains("已完成的事")
            && !tasks.contains("同事的待办")
    );

    let alerts = section(&r.body, "today-alerts");
    // Created 10 days ago and never followed up: the working days since (the shipped
    // calendar's; holidays and weekends do not count).
    let sleeping: Opportunity = app
        .db
        .get(stale, &shangji_core::Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    let working = shangji_core::calendar::WorkCalendar::china_default()
        .working_days_between(sleeping.created_at, common::now());
    assert!(working >= 3, "{working}");
    assert!(
        alerts.contains("沉睡项目") && alerts.contains(&format!("{working} 个工作日未跟进")),
        "{alerts}"
    );
    assert!(
        alerts.contains("逾期项目") && alerts.contains("预计成交日已过 1 天"),
        "{alerts}"
    );
    assert!(
        !alerts.contains("新签项目"),
        "a fresh deal needs nothing: {alerts}"
    );
    assert!(!alerts.contains("同事项目"), "{alerts}");
    let unfollowed = section(&r.body, "today-unfollowed");
    assert!(unfollowed.contains("沉睡项目") && unfollowed.contains("新签项目"));
    assert!(
        !unfollowed.contains("逾期项目"),
        "followed up today: {unfollowed}"
    );
    let steps = section(&r.body, "today-next-steps");
    assert!(
        steps.contains("新签项目") && steps.contains("发送方案"),
        "{steps}"
    );
    assert_eq!(steps.matches("class=\"deal\"").count(), 1, "{steps}");
    // Every row offers the follow-up form directly.
    assert!(alerts.contains(&format!("href=\"/opportunities/{stale}/follow-up\"")));
    // Recent changes: the close date moved.
    let changes = section(&r.body, "today-changes");
    assert!(changes.contains("逾期项目"), "{changes}");
    // A rep has no team view.
    assert!(!r.body.contains("id=\"view-team\""));
    let r = rep.get("/?team=1").await;
    assert!(!section(&r.body, "today-alerts").contains("同事项目"));

    // The manager of 华东: their own view is empty; the team's has both reps, and is where
    // they land.
    let mgr = browser(&app, "mgr_east").await;
    let r = mgr.get("/?team=0").await;
    assert!(r.body.contains("id=\"view-team\""));
    assert!(section(&r.body, "today-tasks").contains("今天没有到期或逾期的待办"));
    let landed = mgr.get("/").await;
    assert!(
        landed
            .body
            .contains("aria-current=\"page\" id=\"view-team\""),
        "lands on the team view"
    );
    let r = mgr.get("/?team=1").await;
    assert_eq!(
        section(&landed.body, "today-tasks"),
        section(&r.body, "today-tasks")
    );
    let tasks = section(&r.body, "today-tasks");
    assert_eq!(tasks.matches("<li class=\"task").count(), 3, "{tasks}");
    assert!(tasks.contains("同事的待办") && tasks.contains("回访采购部"));
    let alerts = section(&r.body, "today-alerts");
    assert!(
        alerts.contains("同事项目") && alerts.contains("沉睡项目"),
        "{alerts}"
    );
    // 华南's manager sees none of it.
    let south = browser(&app, "mgr_south").await;
    let r = south.get("/?team=1").await;
    assert!(!r.body.contains("沉睡项目") && !r.body.contains("同事的待办"));

    // Marking a task done inline (htmx) answers its row, done.
    let version = "1";
    let r = rep
        .send(
            "POST",
            &format!("/tasks/{overdue}/done"),
            Some(format!(
                "csrf={}&version={version}&done=1&next=%2F",
                common::browser::encode(&rep.csrf)
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "a plain form goes back");
    let t: Task = app
        .db
        .get(overdue, &shangji_core::Scope::All, Access::Read)
        .await
        .unwrap()
        .unwrap();
    assert!(t.done);
    let r = rep.get("/").await;
    assert!(!section(&r.body, "today-tasks").contains("回访采购部"));
}

#[tokio::test]
async fn a_follow_up_saves_activity_task_and_next_step_together_or_nothing() {
    let app = TestApp::new().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "云迁移").await;
    let id = opp["id"].as_i64().unwrap();
    let rep = browser(&app, "rep_sh").await;
    let counts = || async {
        (
            app.db.count("activities").await.unwrap(),
            app.db.count("tasks").await.unwrap(),
        )
    };
    let before = counts().await;

    // Missing summary and a past date: both beside their fields, everything typed kept.
    let r = rep
        .post(
            &format!("/opportunities/{id}/follow-up"),
            &[
                ("kind", "visit"),
                ("summary", "  "),
                ("next_step", "发送报价单"),
                ("next_step_date", &day(-1)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"fu-summary-error\""), "{}", r.body);
    assert!(r.body.contains("请填写跟进内容"), "{}", r.body);
    assert!(r.body.contains("value=\"发送报价单\""));
    assert!(r.body.contains(&format!("value=\"{}\"", day(-1))));
    assert!(r.body.contains("<option value=\"visit\" selected>"));
    assert_eq!(counts().await, before, "nothing saved");
    let r = rep
        .post(
            &format!("/opportunities/{id}/follow-up"),
            &[
                ("kind", "visit"),
                ("summary", "拜访信息中心"),
                ("next_step", "发送报价单"),
                ("next_step_date", &day(-1)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(after(&r.body, "id=\"fu-next-date\"").contains("日期不能早于今天"));
    assert!(r.body.contains("拜访信息中心"));
    assert_eq!(counts().await, before, "nothing saved");

    // A good one: the activity, the task for the owner, the next step — and all shown.
    let r = rep
        .post(
            &format!("/opportunities/{id}/follow-up"),
            &[
                ("kind", "visit"),
                ("summary", "拜访信息中心"),
                ("next_step", "发送报价单"),
                ("next_step_date", &day(2)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(counts().await, (before.0 + 1, before.1 + 1));
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(o["next_step"], "发送报价单");
    assert_eq!(o["next_step_date"], day(2));
    let page = rep.get(&format!("/opportunities/{id}")).await;
    // A deal's page belongs to the header's 销售 menu: the menu is marked current.
    assert!(page
        .body
        .contains("<summary aria-current=\"true\">销售</summary>"));
    let timeline = after(&page.body, "id=\"timeline\"");
    assert!(timeline.contains("拜访：拜访信息中心"), "{timeline}");
    assert!(section(&page.body, "tasks").contains("发送报价单"));

    // The API does the same in one call, and refuses the same way.
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{id}/follow-ups"),
            "rep_sh",
            &format!(
                r#"{{"kind":"wechat","summary":"微信确认","next_step":"签约","next_step_date":"{}"}}"#,
                day(3)
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["activity"]["kind"], "wechat");
    assert_eq!(v["task"]["title"], "签约");
    assert_eq!(v["task"]["assignee_id"], app.user_id("rep_sh"));
    assert_eq!(v["opportunity"]["next_step"], "签约");
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{id}/follow-ups"),
            "rep_sh",
            r#"{"summary":"只有下一步","next_step":"签约"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "next_step_date");
    // Someone else's deal is not there at all.
    let (s, _) = app
        .post(
            &format!("/api/v1/opportunities/{id}/follow-ups"),
            "rep_south",
            r#"{"summary":"x"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(counts().await, (before.0 + 2, before.1 + 2));
}

#[tokio::test]
async fn an_inline_edit_saves_one_field_and_a_stale_one_is_refused_beside_it() {
    let app = TestApp::new().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "园区网络").await;
    let id = opp["id"].as_i64().unwrap();
    let rep = browser(&app, "rep_sh").await;
    let csrf = common::browser::encode(&rep.csrf);
    // The edit form carries the version read.
    let r = rep.get(&format!("/opportunities/{id}/fields/amount")).await;
    assert!(
        r.body.contains("name=\"version\" value=\"1\""),
        "{}",
        r.body
    );
    let (s, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/amount"),
        format!("csrf={csrf}&version=1&value=250%2C000.50"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("id=\"opp-amount\">¥250,000.50<"), "{body}");
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(o["amount"]["amount_minor"], 25_000_050);
    assert_eq!(o["version"], 2);
    // The history says so.
    let (_, events) = app
        .get(&format!("/api/v1/opportunities/{id}/events"), "rep_sh")
        .await;
    assert!(events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "amount_changed"));

    // Someone else changed it meanwhile: the edit made on version 1 is refused beside the
    // field, the typed value stays, nothing changes.
    let (s, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/amount"),
        format!("csrf={csrf}&version=1&value=999"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "htmx swaps the form with its error");
    assert!(body.contains("id=\"edit-amount-error\""), "{body}");
    assert!(body.contains("value=\"999\""), "{body}");
    let (_, o) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(o["amount"]["amount_minor"], 25_000_050);
    // Without htmx: the same, as a page with status 409.
    let r = rep
        .post(
            &format!("/opportunities/{id}/fields/close_date"),
            &[
                ("version", "1"),
                ("value", &common::close_date().to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"edit-close-date-error\""));
    // A bad amount is refused beside the field.
    let (_, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/amount"),
        format!("csrf={csrf}&version=2&value=abc"),
    )
    .await;
    assert!(
        after(&body, "edit-amount-error").contains("120000"),
        "{body}"
    );
    // Next step and its date together; tags.
    let (_, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/next_step"),
        format!(
            "csrf={csrf}&version=2&value=%E6%8A%A5%E4%BB%B7&value2={}",
            day(5)
        ),
    )
    .await;
    assert!(body.contains(&format!("报价 ({})", day(5))), "{body}");
    let (_, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/tags"),
        format!("csrf={csrf}&version=3&value=VIP%2C%E5%8D%8E%E4%B8%9C"),
    )
    .await;
    assert!(body.contains("VIP、华东"), "{body}");
    // A manager of another team cannot even see it.
    let south = browser(&app, "mgr_south").await;
    let r = south
        .get(&format!("/opportunities/{id}/fields/amount"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn contacts_take_part_with_a_buying_role_and_only_from_the_account() {
    let app = TestApp::new().await;
    let (account, opp) = app.account_and_opportunity("rep_sh", "数据中心").await;
    let id = opp["id"].as_i64().unwrap();
    let c = app
        .create(
            "/api/v1/contacts",
            "rep_sh",
            &format!(r#"{{"name":"张总","account_id":{account},"title":"CIO"}}"#),
        )
        .await;
    let (other_account, _) = app.account_and_opportunity("rep_sh", "别家").await;
    let stranger = app
        .create(
            "/api/v1/contacts",
            "rep_sh",
            &format!(r#"{{"name":"李四","account_id":{other_account}}}"#),
        )
        .await;
    let rep = browser(&app, "rep_sh").await;
    let r = rep
        .post(
            &format!("/opportunities/{id}/contacts"),
            &[
                ("contact_id", &c["id"].to_string()),
                ("buying_role", "decision_maker"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = rep.get(&format!("/opportunities/{id}")).await;
    let contacts = section(&page.body, "contacts");
    assert!(
        contacts.contains("张总") && contacts.contains("决策者"),
        "{contacts}"
    );
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{id}/contacts"),
            "rep_sh",
            &format!(r#"{{"contact_id":{}}}"#, stranger["id"]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "other_account");
    let (s, v) = app
        .get(&format!("/api/v1/opportunities/{id}/contacts"), "rep_sh")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["buying_role"], "decision_maker");
    let (s, _) = app
        .call(
            axum::http::Method::DELETE,
            &format!("/api/v1/opportunities/{id}/contacts/{}", c["id"]),
            Some("rep_sh"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_account_page_totals_open_won_and_lost_and_hides_other_reps_records() {
    let app = TestApp::new().await;
    let (_, p) = app.get("/api/v1/pipelines", "admin").await;
    let kind = |k: &str| {
        p[0]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == k)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let account = app
        .create("/api/v1/accounts", "rep_sh", r#"{"name":"招商银行"}"#)
        .await["id"]
        .as_i64()
        .unwrap();
    // A deal created straight in won (with what its gates ask), one open, one lost.
    let deal = |title: &str, amount: i64, stage: Option<i64>| {
        let stage = stage.map_or(String::new(), |s| {
            format!(
                r#","stage_id":{s},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known","proposal_accepted"]"#
            )
        });
        format!(
            r#"{{"title":"{title}","account_id":{account},"amount_minor":{amount},"close_date":"2026-01-31"{stage}}}"#
        )
    };
    let won = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &deal("一期", 12_300_000, Some(kind("won"))),
        )
        .await;
    let open = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &deal("二期", 5_000_000, None),
        )
        .await;
    let lost = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &deal("三期", 700_000, None),
        )
        .await;
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{}/move", lost["id"]),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"loss_reason":"competitor"}}"#,
                kind("lost")
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.create(
        "/api/v1/activities",
        "rep_sh",
        &format!(
            r#"{{"kind":"visit","summary":"上门拜访","opportunity_id":{}}}"#,
            open["id"]
        ),
    )
    .await;
    // A deal of another rep (华南) on the same account, made by the admin: the account is
    // shared, the deal is not.
    let theirs = app
        .create(
            "/api/v1/opportunities",
            "admin",
            &format!(
                r#"{{"title":"四期","account_id":{account},"amount_minor":900000000,"close_date":"2026-01-31","owner_id":{}}}"#,
                app.user_id("rep_south")
            ),
        )
        .await;
    assert_eq!(theirs["owner_id"], app.user_id("rep_south"));

    let rep = browser(&app, "rep_sh").await;
    let r = rep.get(&format!("/accounts/{account}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let exact = |kind: &str| {
        common::browser::extract(&r.body, &format!("id=\"total-{kind}-exact\">"), "<").to_string()
    };
    assert_eq!(exact("open"), "¥50,000.00");
    assert_eq!(exact("won"), "¥123,000.00");
    assert_eq!(exact("lost"), "¥7,000.00");
    assert!(after(&r.body, "id=\"won-total\"").contains("¥123,000.00"));
    assert!(after(&r.body, "id=\"last-follow-up\"").contains("上门拜访"));
    assert!(section(&r.body, "account-open").contains("二期"));
    assert!(section(&r.body, "account-won").contains("一期"));
    assert!(section(&r.body, "account-lost").contains("三期"));
    let timeline = after(&r.body, "id=\"timeline\"");
    assert!(timeline.contains("上门拜访") && timeline.contains("一期"));
    assert!(!r.body.contains("四期"), "another rep's deal stays out");

    // A rep with nothing on the account: not found, for the account and the opportunity
    // alike.
    let other = browser(&app, "rep_east").await;
    for path in [
        format!("/accounts/{account}"),
        format!("/opportunities/{}", won["id"]),
        format!("/opportunities/{}/follow-up", won["id"]),
    ] {
        let r = other.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.body.contains("一期"), "{path}");
    }
    // Their manager sees it, without the 华南 rep's deal; the admin sees all four.
    let mgr = browser(&app, "mgr_east").await;
    let r = mgr.get(&format!("/accounts/{account}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let open_total =
        |body: &str| common::browser::extract(body, "id=\"total-open-exact\">", "<").to_string();
    assert_eq!(open_total(&r.body), "¥50,000.00");
    assert!(!r.body.contains("四期"));
    // The 华南 rep sees the account through their deal, and only their deal in its totals.
    let south = browser(&app, "rep_south").await;
    let r = south.get(&format!("/accounts/{account}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(open_total(&r.body), "¥9,000,000.00");
    assert_eq!(
        common::browser::extract(&r.body, "id=\"total-won-exact\">", "<"),
        "¥0.00"
    );
    assert!(!r.body.contains("一期") && !r.body.contains("二期") && !r.body.contains("三期"));
    let admin = browser(&app, "admin").await;
    let r = admin.get(&format!("/accounts/{account}")).await;
    assert_eq!(open_total(&r.body), "¥9,050,000.00");
    assert!(section(&r.body, "account-open").contains("四期"));
}

#[tokio::test]
async fn settings_for_users_teams_and_tokens_are_for_admins_only() {
    let app = TestApp::new().await;
    for login in ["rep_sh", "mgr_east", "director"] {
        let b = browser(&app, login).await;
        for path in ["/admin/users", "/admin/teams", "/admin/tokens"] {
            let r = b.get(path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{login} {path}");
        }
        let r = b
            .post("/admin/users", &[("login", "x.y"), ("role", "admin")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{login}");
    }
    let admin = browser(&app, "admin").await;
    // A user: a bad password is refused beside it, the rest kept.
    let team = app.teams["华东"].to_string();
    let form = |password: &'static str| {
        vec![
            ("login", "zhao.min"),
            ("display_name", "赵敏"),
            ("role", "rep"),
            ("team_id", team.as_str()),
            ("language", "zh-CN"),
            ("password", password),
        ]
    };
    let r = admin.post("/admin/users", &form("short")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"u-password-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"赵敏\""));
    let r = admin.post("/admin/users", &form("long-enough-1")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (user, _) = app.db.user_by_login("zhao.min").await.unwrap().unwrap();
    assert_eq!(user.team_id, Some(app.teams["华东"]));
    // Edit: role, leave, deactivate.
    let r = admin
        .post(
            &format!("/admin/users/{}", user.id),
            &[
                ("op", "save"),
                ("display_name", "赵敏"),
                ("role", "manager"),
                ("team_id", &team),
                ("leaves", "2026-05-01 2026-05-05"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (user, _) = app.db.user_by_login("zhao.min").await.unwrap().unwrap();
    assert_eq!(user.role, shangji_core::model::Role::Manager);
    assert!(!user.active);
    assert_eq!(user.leaves.len(), 1);
    let r = admin
        .post(
            &format!("/admin/users/{}", user.id),
            &[("op", "password"), ("password", "new-password-9")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Teams: a new one under 华南, then a cycle refused beside the parent.
    let south = app.teams["华南"].to_string();
    let r = admin
        .post("/admin/teams", &[("name", "深圳组"), ("parent_id", &south)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let shenzhen = app
        .db
        .teams()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "深圳组")
        .unwrap();
    let r = admin
        .post(
            &format!("/admin/teams/{}", app.teams["华南"]),
            &[("name", "华南"), ("parent_id", &shenzhen.id.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"t-parent-error\""), "{}", r.body);
    let r = admin
        .post(
            &format!("/admin/teams/{}", shenzhen.id),
            &[("op", "archive")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Tokens: the secret shown once, then revoked.
    let rep_id = app.user_id("rep_sh").to_string();
    let r = admin
        .post(
            "/admin/tokens",
            &[("user_id", &rep_id), ("name", "ERP 同步")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let secret = common::browser::extract(&r.body, "id=\"token-secret\">", "<").to_string();
    assert!(secret.starts_with("sj_"));
    let (s, _) = app
        .call_with(
            axum::http::Method::GET,
            "/api/v1/users/me",
            None,
            None,
            &[("authorization", &format!("Bearer {secret}"))],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = admin.get("/admin/tokens").await;
    assert!(!r.body.contains(&secret), "shown once");
    let tokens = app.db.tokens(app.user_id("rep_sh")).await.unwrap();
    let made = tokens.iter().find(|t| t.name == "ERP 同步").unwrap();
    let r = admin
        .post(
            &format!("/admin/tokens/{}/{}/revoke", made.user_id, made.id),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (s, _) = app
        .call_with(
            axum::http::Method::GET,
            "/api/v1/users/me",
            None,
            None,
            &[("authorization", &format!("Bearer {secret}"))],
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_close_date_far_from_today_is_asked_about_before_the_field_is_saved() {
    let app = TestApp::new().await;
    let (_, o) = app.account_and_opportunity("rep_sh", "日期核对").await;
    let id = o["id"].as_i64().unwrap();
    let rep = browser(&app, "rep_sh").await;
    let csrf = common::browser::encode(&rep.csrf);
    let ahead = (today() + time::Duration::days(6 * 366)).to_string();
    let (s, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/close_date"),
        format!("csrf={csrf}&version=1&value={ahead}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        after(&body, "edit-close-date-error").contains(&format!("预计成交日期 {ahead} 在五年以后")),
        "{body}"
    );
    assert!(body.contains("name=\"date_ok\""), "{body}");
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(
        now["close_date"],
        common::close_date().to_string(),
        "not saved yet"
    );
    // Confirmed: saved.
    let (s, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/close_date"),
        format!("csrf={csrf}&version=1&value={ahead}&date_ok=1"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!body.contains("field-error"), "{body}");
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(now["close_date"], ahead.as_str());
    // A plausible date is saved at once.
    let soon = (today() + time::Duration::days(40)).to_string();
    let (_, body) = htmx(
        &app,
        &rep,
        format!("/opportunities/{id}/fields/close_date"),
        format!("csrf={csrf}&version=2&value={soon}"),
    )
    .await;
    assert!(!body.contains("date_ok"), "{body}");
    let (_, now) = app
        .get(&format!("/api/v1/opportunities/{id}"), "rep_sh")
        .await;
    assert_eq!(now["close_date"], soon.as_str());
}
