//! Writes at once, as a busy team makes them, on two instances sharing one database (a
//! SQLite file or PostgreSQL): every move without a version takes its turn — none refused as
//! a conflict or failing —, and each deal's history is in the order it was written.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;

use crate::common::{TestApp, ALL_CHECKS};

/// `app` as a second instance serves it: its own pool on the same database.
async fn second_instance(app: &TestApp) -> TestApp {
    let db = app.second_instance().await;
    TestApp {
        router: shangji::app(shangji::AppState::new(db.clone(), false)),
        db,
        state: app.state.clone(),
        tokens: app.tokens.clone(),
        users: app.users.clone(),
        teams: app.teams.clone(),
        url: app.url.clone(),
    }
}

#[tokio::test]
async fn moves_at_once_on_two_instances_each_take_their_turn() {
    let app = TestApp::shared().await;
    let stages = app.stage_ids().await;
    let mut deals = Vec::new();
    for i in 0..4 {
        let (_, opp) = app
            .account_and_opportunity("rep_sh", &format!("并发商机 {i}"))
            .await;
        deals.push(opp["id"].as_i64().unwrap());
    }
    let second = second_instance(&app).await;
    let (app, second) = (Arc::new(app), Arc::new(second));
    let mut moves = Vec::new();
    for round in 0..6 {
        for (k, &deal) in deals.iter().enumerate() {
            for (j, instance) in [app.clone(), second.clone()].into_iter().enumerate() {
                let to = stages[1 + (round + k + j) % 3];
                moves.push(tokio::spawn(async move {
                    let body = format!(r#"{{"stage_id":{to},{ALL_CHECKS}}}"#);
                    instance
                        .post(
                            &format!("/api/v1/opportunities/{deal}/move"),
                            "rep_sh",
                            &body,
                        )
                        .await
                }));
            }
        }
    }
    let n = moves.len();
    let mut answers: Vec<(StatusCode, Value)> = Vec::new();
    for m in moves {
        answers.push(m.await.unwrap());
    }
    // Taking turns, a move may find its deal already in the stage it names (another move
    // put it there): refused as such, as it would be one after the other. Nothing else.
    let refused: Vec<&(StatusCode, Value)> = answers
        .iter()
        .filter(|(s, v)| *s != StatusCode::OK && v["code"] != "same_stage")
        .collect();
    assert!(
        refused.is_empty(),
        "{} of {n} refused: {refused:?}",
        refused.len()
    );
    let moved = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(moved > n / 4, "{moved} of {n} moved");
    for deal in deals {
        let (_, events) = app
            .get(&format!("/api/v1/opportunities/{deal}/events"), "rep_sh")
            .await;
        let at: Vec<time::OffsetDateTime> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = e["at"].as_str().unwrap();
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .unwrap()
            })
            .collect();
        let mut sorted = at.clone();
        sorted.sort();
        assert_eq!(at, sorted, "deal {deal}: events in the order written");
    }
}

/// A move decided by a request that began before another one saved its change is stamped
/// no earlier than that change: the history stays in the order it was written.
#[tokio::test]
async fn a_change_saved_after_a_later_one_is_stamped_after_it() {
    use shangji::ops::{self, Ctx};
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (_, opp) = app.account_and_opportunity("rep_sh", "先后").await;
    let id = opp["id"].as_i64().unwrap();
    let user = app.users["rep_sh"].clone();
    let start = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let begun_first = Ctx::for_cli(&app.db, &user, start).await.unwrap();
    let begun_later = Ctx::for_cli(&app.db, &user, start + time::Duration::seconds(2))
        .await
        .unwrap();
    let to = |stage: i64| {
        serde_json::from_value(serde_json::json!({
            "stage_id": stage,
            "checklist": ["need_confirmed", "budget_confirmed", "decision_maker_identified",
                          "timeline_known", "proposal_accepted"],
            "actions_done": ["send_proposal"],
        }))
        .unwrap()
    };
    ops::move_opportunity(&app.db, &begun_later, id, to(stages[1]))
        .await
        .unwrap();
    let moved = ops::move_opportunity(&app.db, &begun_first, id, to(stages[2]))
        .await
        .unwrap();
    assert_eq!(moved.stage_entered_at, begun_later.now);
    let events = ops::opportunity_events(&app.db, &begun_later, id)
        .await
        .unwrap();
    let at: Vec<time::OffsetDateTime> = events.iter().map(|e| e.at).collect();
    let mut sorted = at.clone();
    sorted.sort();
    assert_eq!(at, sorted);
    assert_eq!(at.last(), Some(&begun_later.now));
}

/// Edits of one account at once, without a version, on two instances: each is saved in its
/// turn — none refused —, so the account ends one version further per edit.
#[tokio::test]
async fn edits_without_a_version_each_take_their_turn() {
    let app = TestApp::shared().await;
    let account = app
        .create(
            "/api/v1/accounts",
            "rep_sh",
            r#"{"name":"轮流编辑有限公司"}"#,
        )
        .await;
    let id = account["id"].as_i64().unwrap();
    let second = second_instance(&app).await;
    let (app, second) = (Arc::new(app), Arc::new(second));
    let mut edits = Vec::new();
    for i in 0..16 {
        let instance = if i % 2 == 0 {
            app.clone()
        } else {
            second.clone()
        };
        edits.push(tokio::spawn(async move {
            let body = format!(r#"{{"notes":"第{i}次编辑"}}"#);
            instance
                .patch(&format!("/api/v1/accounts/{id}"), "rep_sh", &body)
                .await
        }));
    }
    for e in edits {
        let (s, v) = e.await.unwrap();
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, now) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(
        now["version"],
        account["version"].as_i64().unwrap() + 16,
        "{now}"
    );
}
