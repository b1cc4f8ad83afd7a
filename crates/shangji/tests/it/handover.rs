//! Handover over HTTP, on SQLite or PostgreSQL: a leaving rep's accounts with their contacts,
//! open deals, leads and tasks go to the receivers (won and lost deals stay), every moved
//! deal's history says so, the report tells which inherited deals were followed up, an
//! interrupted handover resumes, approvals and rules follow the leaver's place, and only
//! those who may hand someone over can.

use crate::common;

use axum::http::StatusCode;
use common::{close_date, TestApp};
use serde_json::{json, Value};
use shangji_core::handover::{HandoverKind, HandoverMethod, HandoverSettings};

fn count(v: &Value, to: i64, kind: &str) -> i64 {
    v["counts"]
        .as_array()
        .unwrap_or_else(|| panic!("counts: {v}"))
        .iter()
        .filter(|c| c["to_user_id"] == to && c["kind"] == kind)
        .map(|c| c["count"].as_i64().unwrap())
        .sum()
}

async fn events(app: &TestApp, opp: i64, kind: &str) -> Vec<Value> {
    let (_, ev) = app
        .get(&format!("/api/v1/opportunities/{opp}/events"), "admin")
        .await;
    ev.as_array()
        .or_else(|| ev["items"].as_array())
        .unwrap_or_else(|| panic!("events: {ev}"))
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

async fn owner(app: &TestApp, path: &str) -> i64 {
    let (s, v) = app.get(path, "admin").await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v["owner_id"]
        .as_i64()
        .or_else(|| v["assignee_id"].as_i64())
        .unwrap()
}

async fn lose(app: &TestApp, login: &str, opp: i64) {
    let stages = app.stage_ids().await;
    let (s, v) = app
        .post(
            &format!("/api/v1/opportunities/{opp}/move"),
            login,
            &format!(r#"{{"stage_id":{},"loss_reason":"price"}}"#, stages[5]),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn a_leavers_book_moves_to_the_receiver_and_closed_deals_stay() {
    let app = TestApp::new().await;
    let (sh, east) = (app.user_id("rep_sh"), app.user_id("rep_east"));
    let (account, open) = app.account_and_opportunity("rep_sh", "年度采购").await;
    let open = open["id"].as_i64().unwrap();
    let (_, lost) = app.account_and_opportunity("rep_sh", "丢掉的单").await;
    let lost = lost["id"].as_i64().unwrap();
    lose(&app, "rep_sh", lost).await;
    let contact = app
        .create(
            "/api/v1/contacts",
            "rep_sh",
            &json!({"name": "王经理", "account_id": account}).to_string(),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let lead = app
        .create(
            "/api/v1/leads",
            "rep_sh",
            &json!({"company_name": "新线索公司", "contact_name": "李四"}).to_string(),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let task = app
        .create(
            "/api/v1/tasks",
            "rep_sh",
            &json!({"title": "回访", "due_date": close_date(), "record_kind": "account", "record_id": account})
                .to_string(),
        )
        .await["id"]
        .as_i64()
        .unwrap();

    // The preview counts, nothing moves.
    let body = json!({"from_user_id": sh, "receivers": [east], "dry_run": true});
    let (s, preview) = app
        .post("/api/v1/handovers", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["handover"], Value::Null);
    for (kind, n) in [
        ("account", 2),
        ("contact", 1),
        ("opportunity", 1),
        ("lead", 1),
        ("task", 1),
    ] {
        assert_eq!(count(&preview, east, kind), n, "{kind}: {preview}");
    }
    assert_eq!(
        owner(&app, &format!("/api/v1/opportunities/{open}")).await,
        sh
    );

    // The run, with the leaver deactivated afterwards.
    let body = json!({"from_user_id": sh, "receivers": [east], "deactivate": true});
    let (s, done) = app
        .post("/api/v1/handovers", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["handover"]["status"], "done");
    assert_eq!(done["counts"], preview["counts"]);
    let id = done["handover"]["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/accounts/{account}"),
        format!("/api/v1/contacts/{contact}"),
        format!("/api/v1/opportunities/{open}"),
        format!("/api/v1/leads/{lead}"),
        format!("/api/v1/tasks/{task}"),
    ] {
        assert_eq!(owner(&app, &path).await, east, "{path}");
    }
    // The lost deal stays the leaver's, for attribution.
    assert_eq!(
        owner(&app, &format!("/api/v1/opportunities/{lost}")).await,
        sh
    );
    assert!(events(&app, lost, "handed_over").await.is_empty());
    // The moved deal's history: the owner change analytics read, and the handover.
    let changed = events(&app, open, "owner_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(
        (&changed[0]["old_value"], &changed[0]["new_value"]),
        (&json!(sh), &json!(east))
    );
    let handed = events(&app, open, "handed_over").await;
    assert_eq!(
        handed[0]["new_value"],
        json!({"handover_id": id, "from": sh, "to": east})
    );
    // The account's owner history names the handover.
    let (_, history) = app
        .get(
            &format!("/api/v1/accounts/{account}/owner-history"),
            "admin",
        )
        .await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["how"], &last["handover_id"], &last["owner_id"]),
        (&json!("handover"), &json!(id), &json!(east))
    );
    // The receiver sees the book; the leaver is inactive, their history kept.
    let (s, _) = app
        .get(&format!("/api/v1/opportunities/{open}"), "rep_east")
        .await;
    assert_eq!(s, StatusCode::OK);
    let leaver = app.db.user(sh).await.unwrap().unwrap();
    assert!(!leaver.active);
    assert_eq!(
        owner(&app, &format!("/api/v1/opportunities/{lost}")).await,
        sh
    );

    // The report: one inherited deal, not followed up; then followed up.
    let (s, report) = app.get(&format!("/api/v1/handovers/{id}"), "admin").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(
        report["receivers"],
        json!([{"user_id": east, "deals": 1, "followed": 0}])
    );
    assert_eq!(report["deals"][0]["followed_at"], Value::Null);
    let (s, v) = app
        .post(
            "/api/v1/activities",
            "rep_east",
            &json!({"kind": "call", "summary": "接手后首次电话", "opportunity_id": open, "account_id": account})
                .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, report) = app.get(&format!("/api/v1/handovers/{id}"), "admin").await;
    assert_eq!(report["receivers"][0]["followed"], 1);
    assert!(report["deals"][0]["followed_at"].is_string());
    let (_, list) = app
        .get(&format!("/api/v1/handovers?from_user_id={sh}"), "admin")
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // The audit log says who handed over whose book.
    let (_, log) = app.get("/api/v1/audit?action=handover", "admin").await;
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log[0]["target"], format!("handover {id}"));
    assert_eq!(log[0]["actor_login"], "admin");
    assert!(log[0]["detail"]
        .as_str()
        .unwrap()
        .starts_with(&format!("user {sh} → [{east}]")));

    // A second run finds nothing left.
    let body = json!({"from_user_id": sh, "receivers": [east], "dry_run": true});
    let (_, again) = app
        .post("/api/v1/handovers", "admin", &body.to_string())
        .await;
    assert_eq!(again["counts"], json!([]));
}

#[tokio::test]
async fn only_admins_and_the_leavers_managers_hand_over() {
    let app = TestApp::new().await;
    let (sh, east, south) = (
        app.user_id("rep_sh"),
        app.user_id("rep_east"),
        app.user_id("rep_south"),
    );
    app.account_and_opportunity("rep_sh", "权限").await;
    let ask = |login: &'static str, body: Value| {
        let app = &app;
        async move {
            app.post("/api/v1/handovers", login, &body.to_string())
                .await
        }
    };
    let one = json!({"from_user_id": sh, "receivers": [east], "dry_run": true});
    let (s, v) = ask("rep_east", one.clone()).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("handover_not_allowed"))
    );
    let (s, _) = app.get("/api/v1/handovers", "rep_east").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Another team's manager does not see the rep at all.
    let (s, _) = ask("mgr_south", one.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The rep's manager hands over within the team, without deactivating.
    let (s, v) = ask(
        "mgr_east",
        json!({"from_user_id": sh, "receivers": [south], "dry_run": true}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("out_of_scope"))
    );
    let (s, v) = ask(
        "mgr_east",
        json!({"from_user_id": sh, "receivers": [east], "deactivate": true}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_only"))
    );
    let (s, v) = ask(
        "admin",
        json!({"from_user_id": sh, "receivers": [east, south], "dry_run": true}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("one_receiver"))
    );
    let (s, v) = ask("mgr_east", json!({"from_user_id": sh, "receivers": [east]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(count(&v, east, "opportunity"), 1);
    let id = v["handover"]["id"].as_i64().unwrap();
    let (s, _) = app
        .get(&format!("/api/v1/handovers/{id}"), "mgr_south")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A manager is not handed over by another manager.
    let (s, _) = ask(
        "mgr_east",
        json!({"from_user_id": app.user_id("mgr_south"), "receivers": [east], "dry_run": true}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_split_keeps_each_account_with_its_deals() {
    let app = TestApp::new().await;
    let (sh, east, south) = (
        app.user_id("rep_sh"),
        app.user_id("rep_east"),
        app.user_id("rep_south"),
    );
    let mut pairs = Vec::new();
    for i in 0..4 {
        let (account, opp) = app
            .account_and_opportunity("rep_sh", &format!("分配 {i}"))
            .await;
        pairs.push((account, opp["id"].as_i64().unwrap()));
    }
    for method in ["round_robin", "least_load"] {
        let body = json!({"from_user_id": sh, "receivers": [east, south], "method": method, "dry_run": true});
        let (s, v) = app
            .post("/api/v1/handovers", "admin", &body.to_string())
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(count(&v, east, "account"), 2, "{method}: {v}");
        assert_eq!(count(&v, south, "account"), 2, "{method}: {v}");
    }
    let body = json!({"from_user_id": sh, "receivers": [east, south], "method": "round_robin"});
    let (s, v) = app
        .post("/api/v1/handovers", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (account, opp) in pairs {
        let a = owner(&app, &format!("/api/v1/accounts/{account}")).await;
        assert!(a == east || a == south);
        assert_eq!(
            owner(&app, &format!("/api/v1/opportunities/{opp}")).await,
            a
        );
    }
}

#[tokio::test]
async fn an_interrupted_handover_resumes_with_what_is_left() {
    let app = TestApp::new().await;
    let (sh, east, admin) = (
        app.user_id("rep_sh"),
        app.user_id("rep_east"),
        app.user_id("admin"),
    );
    let mut pairs = Vec::new();
    for i in 0..3 {
        let (account, opp) = app
            .account_and_opportunity("rep_sh", &format!("中断 {i}"))
            .await;
        pairs.push((account, opp["id"].as_i64().unwrap()));
    }
    // A run that stopped after its first batch of accounts.
    let now = app.state.now();
    let settings = HandoverSettings {
        receivers: vec![east],
        method: HandoverMethod::One,
        deactivate: false,
    };
    let id = app
        .db
        .insert_handover(sh, admin, &settings, now)
        .await
        .unwrap();
    let moved = app
        .db
        .move_for_handover(
            id,
            HandoverKind::Account,
            sh,
            east,
            &[pairs[0].0],
            admin,
            now,
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let (_, report) = app.get(&format!("/api/v1/handovers/{id}"), "admin").await;
    assert_eq!(report["handover"]["status"], "running");

    let (s, h) = app
        .post(&format!("/api/v1/handovers/{id}/resume"), "admin", "")
        .await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "done");
    assert_eq!(count(&h, east, "account"), 3, "{h}");
    assert_eq!(count(&h, east, "opportunity"), 3, "{h}");
    for (account, opp) in &pairs {
        assert_eq!(
            owner(&app, &format!("/api/v1/accounts/{account}")).await,
            east
        );
        assert_eq!(
            owner(&app, &format!("/api/v1/opportunities/{opp}")).await,
            east
        );
        assert_eq!(events(&app, *opp, "handed_over").await.len(), 1);
    }
    // Resuming a finished handover changes nothing.
    let (s, again) = app
        .post(&format!("/api/v1/handovers/{id}/resume"), "admin", "")
        .await;
    assert_eq!((s, &again["counts"]), (StatusCode::OK, &h["counts"]));
    let (s, _) = app
        .post(&format!("/api/v1/handovers/{id}/resume"), "rep_east", "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn approvals_policies_and_rules_follow_the_leavers_place() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (south_mgr, east_mgr, rep_south) = (
        app.user_id("mgr_south"),
        app.user_id("mgr_east"),
        app.user_id("rep_south"),
    );
    let (s, policy) = app
        .post(
            "/api/v1/approval-policies",
            "admin",
            &json!({"name": "大单", "stage_id": stages[3],
                    "conditions": [{"field": "amount_minor", "op": "gte", "value": 100_000_000}],
                    "chain": [{"kind": "user", "user_id": south_mgr}]})
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{policy}");
    let (s, rule) = app
        .post(
            "/api/v1/assignment-rules",
            "admin",
            &json!({"name": "华南轮流", "team_id": app.teams["华南"], "method": "round_robin",
                    "members": [south_mgr, rep_south]})
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    let (_, opp) = app.account_and_opportunity("rep_sh", "审批中的大单").await;
    let url = format!("/api/v1/opportunities/{}", opp["id"]);
    let (s, v) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["need_confirmed","budget_confirmed","decision_maker_identified","timeline_known"],"actions_done":["send_proposal"]}}"#,
                stages[2]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, waiting) = app
        .post(
            &format!("{url}/move"),
            "rep_sh",
            &format!(
                r#"{{"stage_id":{},"checklist":["proposal_accepted"],"set":{{"amount_minor":150000000}}}}"#,
                stages[3]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{waiting}");

    let body = json!({"from_user_id": south_mgr, "receivers": [east_mgr]});
    let (s, v) = app
        .post("/api/v1/handovers", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for kind in ["approval", "policy", "rule"] {
        assert_eq!(count(&v, east_mgr, kind), 1, "{kind}: {v}");
    }
    let (_, inbox) = app.get("/api/v1/approvals", "mgr_east").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "{inbox}");
    assert_eq!(inbox[0]["approver_ids"], json!([east_mgr]));
    let (_, inbox) = app.get("/api/v1/approvals", "mgr_south").await;
    assert_eq!(inbox.as_array().unwrap().len(), 0);
    let (_, policies) = app.get("/api/v1/approval-policies", "admin").await;
    assert_eq!(
        policies[0]["chain"],
        json!([{"kind": "user", "user_id": east_mgr}])
    );
    let (_, r) = app
        .get(&format!("/api/v1/assignment-rules/{}", rule["id"]), "admin")
        .await;
    assert_eq!(r["members"], json!([east_mgr, rep_south]), "{r}");
}

#[tokio::test]
async fn a_manager_hands_a_rep_over_on_the_pages() {
    let app = TestApp::new().await;
    let (sh, east) = (app.user_id("rep_sh"), app.user_id("rep_east"));
    let (_, opp) = app.account_and_opportunity("rep_sh", "页面交接").await;
    let mgr = common::browser::browser(&app, "mgr_east").await;
    // The list offers the team's reps, not the manager of another team.
    let list = mgr.get("/handovers").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("handover-from"), "{}", list.body);
    assert!(!list.body.contains("mgr_south"));
    let form = mgr.get(&format!("/handovers/new?from={sh}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains("handover-deactivate"), "admins only");
    let (sh_s, east_s) = (sh.to_string(), east.to_string());
    let fields = [
        ("from_user_id", sh_s.as_str()),
        ("receiver", east_s.as_str()),
        ("method", "one"),
    ];
    let preview = mgr
        .post(
            "/handovers/new",
            &[&fields[..], &[("op", "preview")]].concat(),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        preview.body.contains("handover-preview"),
        "{}",
        preview.body
    );
    assert_eq!(
        owner(&app, &format!("/api/v1/opportunities/{}", opp["id"])).await,
        sh
    );
    let done = mgr
        .post("/handovers/new", &[&fields[..], &[("op", "run")]].concat())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        owner(&app, &format!("/api/v1/opportunities/{}", opp["id"])).await,
        east
    );
    let (_, list) = app.get("/api/v1/handovers", "mgr_east").await;
    let id = list[0]["id"].as_i64().unwrap();
    let report = mgr.get(&format!("/handovers/{id}")).await;
    assert!(report.body.contains("页面交接"), "{}", report.body);
    // The deal's history says it was handed over.
    let page = mgr.get(&format!("/opportunities/{}", opp["id"])).await;
    assert!(page.body.contains(&format!("交接 #{id}")), "{}", page.body);
    // A rep has no handover pages.
    let rep = common::browser::browser(&app, "rep_east").await;
    assert_eq!(rep.get("/handovers").await.status, StatusCode::FORBIDDEN);
}

/// The rule firings of the shipped template `key`, as `(record id, episode)`.
async fn template_firings(app: &TestApp, key: &str) -> Vec<(i64, String)> {
    let (s, rules) = app.get("/api/v1/rules", "admin").await;
    assert_eq!(s, StatusCode::OK, "{rules}");
    let rule = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["template_key"] == key)
        .unwrap_or_else(|| panic!("template {key} seeded: {rules}"))["id"]
        .as_i64()
        .unwrap();
    let (_, fired) = app
        .get(&format!("/api/v1/rules/{rule}/firings"), "admin")
        .await;
    fired
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["record_id"].as_i64().unwrap(),
                f["episode"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The rule notifications of `login` about template `key`: the deals they name.
async fn template_notes(app: &TestApp, login: &str, key: &str) -> Vec<i64> {
    let (_, notes) = app.get("/api/v1/notifications", login).await;
    notes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "rule" && n["payload"]["template_key"] == key)
        .map(|n| n["record_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_inherited_deal_left_untouched_alerts_the_receiver_and_their_manager() {
    use shangji::ops::automation;
    use time::Duration;

    const KEY: &str = "inherited_untouched_7d";
    let app = TestApp::new().await;
    // The test's clock, from which every instant below is counted.
    let t0 = common::now();
    let at = |t: time::OffsetDateTime| app.state.clock.set(Some(t));
    at(t0);
    let (sh, east) = (app.user_id("rep_sh"), app.user_id("rep_east"));
    let mut deals = Vec::new();
    for title in ["无人接手跟进", "接手即电话", "接手即改金额"] {
        let (account, opp) = app.account_and_opportunity("rep_sh", title).await;
        deals.push((account, opp["id"].as_i64().unwrap()));
    }
    let [(_, quiet), (called_account, called), (_, changed)] = deals[..] else {
        unreachable!()
    };
    // The leaver's last call, before the handover, is no follow-up of the receiver's.
    app.create(
        "/api/v1/activities",
        "rep_sh",
        &json!({"kind": "call", "summary": "离职前电话", "opportunity_id": quiet}).to_string(),
    )
    .await;

    let handed = t0 + Duration::hours(1);
    at(handed);
    let body = json!({"from_user_id": sh, "receivers": [east]});
    let (s, done) = app
        .post("/api/v1/handovers", "admin", &body.to_string())
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let id = done["handover"]["id"].as_i64().unwrap();

    // The receiver calls one customer on day 2 and changes another deal's amount on day 3.
    at(handed + Duration::days(2));
    app.create(
        "/api/v1/activities",
        "rep_east",
        &json!({"kind": "call", "summary": "接手后首次电话", "opportunity_id": called, "account_id": called_account})
            .to_string(),
    )
    .await;
    at(handed + Duration::days(3));
    let url = format!("/api/v1/opportunities/{changed}");
    let (_, current) = app.get(&url, "rep_east").await;
    let (s, v) = app
        .patch(
            &url,
            "rep_east",
            &json!({"amount_minor": 15_000_000, "version": current["version"]}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The scheduler's ticks: a minute before 7 days nothing fires; at 7 days the untouched
    // deal fires, once, and only it.
    let tick = |t: time::OffsetDateTime| {
        at(t);
        automation::tick(&app.db, t)
    };
    tick(handed + Duration::days(7) - Duration::minutes(1))
        .await
        .unwrap();
    assert!(template_firings(&app, KEY).await.is_empty());
    tick(handed + Duration::days(7)).await.unwrap();
    tick(handed + Duration::days(9)).await.unwrap();
    let fired = template_firings(&app, KEY).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].0, quiet);
    assert!(fired[0].1.starts_with("handed_over_at="), "{fired:?}");
    // The receiver and their manager are told; the leaver is not.
    assert_eq!(template_notes(&app, "rep_east", KEY).await, vec![quiet]);
    assert_eq!(template_notes(&app, "mgr_east", KEY).await, vec![quiet]);
    assert!(template_notes(&app, "rep_sh", KEY).await.is_empty());

    // The report says the same: of three inherited deals, two followed up, the quiet one first.
    let (s, report) = app.get(&format!("/api/v1/handovers/{id}"), "admin").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(
        report["receivers"],
        json!([{"user_id": east, "deals": 3, "followed": 2}])
    );
    assert_eq!(report["deals"][0]["opportunity_id"], quiet);
    assert_eq!(report["deals"][0]["followed_at"], Value::Null);
    assert!(report["deals"][1]["followed_at"].is_string());
    assert!(report["deals"][2]["followed_at"].is_string());
}
