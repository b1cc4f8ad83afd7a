//! The analytics projection gives exactly the numbers of the replay: on generated data with
//! two years of history, every report computed by SQL aggregation over the projection equals
//! the same report replayed from the events, for periods of every length; and the projection
//! follows new events, stage changes of its pipeline, and refreshes run side by side.
//! Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

use crate::common;

use shangji::ops;
use shangji_core::analytics::{self, Period};
use shangji_core::horizon;
use shangji_core::model::{Opportunity, StageKind};
use shangji_core::opportunity::{EventKind, OpportunityEvent};
use shangji_core::rollup;
use shangji_core::Scope;
use shangji_store::projection::{Facet, Slice};
use shangji_store::{Access, Db};
use time::{Date, Duration, OffsetDateTime};

/// Periods of every length, ending at an arbitrary instant (read from the stays) and at a
/// China midnight as report periods do (read from the per-day totals where they can).
fn periods(now: OffsetDateTime) -> Vec<Period> {
    let tomorrow = now.to_offset(time::macros::offset!(+8)).date() + Duration::days(1);
    let mut out = vec![];
    for end in [
        now + Duration::days(1),
        analytics::china_day_start(tomorrow),
    ] {
        for (length, step) in [(7, 97), (30, 61), (90, 120), (365, 365), (800, 800)] {
            let mut to = end;
            while to - Duration::days(length) > now - Duration::days(800) {
                out.push(Period {
                    from: to - Duration::days(length),
                    to,
                });
                to -= Duration::days(step);
            }
        }
    }
    out
}

#[tokio::test]
async fn projection_reports_equal_the_replay() {
    let (db, url) = common::shared_test_db().await;
    let now = common::now();
    shangji::demo::load(&db, 1_200, now).await.unwrap();
    let dir = db.directory().await.unwrap();
    let done = db.refresh_analytics(&dir.pipelines).await.unwrap();
    assert!(done >= 1_200, "every opportunity projected, got {done}");
    assert_eq!(db.analytics_backlog().await.unwrap(), 0);
    // Twice at once (two instances): both finish, nothing doubled.
    let second = shangji_store::Db::connect(&url).await.unwrap();
    let (a, b) = tokio::join!(
        db.refresh_analytics(&dir.pipelines),
        second.refresh_analytics(&dir.pipelines)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (0, 0));

    let (checked, lost_reasons) = compare(&db, now, &Scope::All).await;
    assert!(checked > 20, "{checked} periods checked");
    assert!(lost_reasons > 20, "loss reasons seen: {lost_reasons}");
    let (stored, recomputed) = db.analytics_totals().await.unwrap();
    assert!(!stored.stages.is_empty() && !stored.days.is_empty());
    assert_eq!(stored, recomputed, "the maintained totals add up the stays");

    // The history grows: open deals move on or are lost, closed ones reopen, and some deals
    // change hands. The totals follow, and every report still equals the replay, for the
    // whole company and for a manager's team.
    let pipeline = dir.pipelines.iter().find(|p| p.is_default).unwrap();
    let events = db
        .pipeline_history(&Scope::All, pipeline.id, None, false, &Default::default())
        .await
        .unwrap();
    let stage_at = |i: usize| pipeline.stages[i % pipeline.stages.len()].id;
    let mut more = vec![];
    let lives = analytics::lives(&events);
    for (i, life) in lives.iter().step_by(5).take(150).enumerate() {
        let last = life.spans.last().unwrap();
        let at =
            life.events.last().unwrap().at.max(now - Duration::hours(3)) + Duration::seconds(1);
        let to = match pipeline.stage(last.stage_id).unwrap().kind {
            StageKind::Open => stage_at(i + 2),
            _ => pipeline.stages[i % 3].id,
        };
        if to != last.stage_id {
            more.push(OpportunityEvent {
                id: 100_000_000 + i as i64,
                opportunity_id: life.opportunity_id,
                kind: EventKind::StageChanged,
                actor_id: 1,
                at,
                from_stage_id: Some(last.stage_id),
                to_stage_id: Some(to),
                old_value: None,
                new_value: None,
            });
        }
    }
    assert!(more.len() > 100);
    // Reps override the forecast category of some open deals.
    let categories = ["commit", "best_case", "omitted", "pipeline"];
    for (i, life) in lives.iter().skip(1).step_by(7).take(60).enumerate() {
        more.push(OpportunityEvent {
            id: 100_100_000 + i as i64,
            opportunity_id: life.opportunity_id,
            kind: EventKind::ForecastCategoryChanged,
            actor_id: 1,
            at: life.events.last().unwrap().at.max(now - Duration::hours(2)) + Duration::seconds(1),
            from_stage_id: None,
            to_stage_id: None,
            old_value: None,
            new_value: Some(serde_json::json!(categories[i % 4])),
        });
    }
    db.bulk_insert_events(&more).await.unwrap();
    let (admin, _) = db.user_by_login("admin").await.unwrap().unwrap();
    let (manager, _) = db.user_by_login("mgr.east").await.unwrap().unwrap();
    let admin = ops::Ctx::for_cli(&db, &admin, now).await.unwrap();
    let team = ops::Ctx::for_cli(&db, &manager, now).await.unwrap().scope;
    let Scope::Teams { members, .. } = &team else {
        panic!("a manager sees a team: {team:?}");
    };
    let (mut into, mut out_of) = (0, 0);
    for life in lives.iter().skip(2).step_by(9).take(40) {
        let opp = db
            .get::<Opportunity>(life.opportunity_id, &Scope::All, Access::Read)
            .await
            .unwrap()
            .unwrap();
        // Into the team from outside it, and out of it to someone outside.
        let to = if members.contains(&opp.owner_id) {
            out_of += 1;
            admin.actor.user_id
        } else {
            into += 1;
            *members.last().unwrap()
        };
        let input = serde_json::from_value(serde_json::json!({ "user_id": to })).unwrap();
        ops::assignment::assign(&db, &admin, opp.id, input)
            .await
            .unwrap();
    }
    assert!(
        into > 0 && out_of > 0,
        "{into} into the team, {out_of} out of it"
    );
    assert!(db.analytics_backlog().await.unwrap() > 100);
    db.refresh_analytics(&dir.pipelines).await.unwrap();
    let (stored, recomputed) = db.analytics_totals().await.unwrap();
    assert_eq!(stored, recomputed, "the totals followed the new events");
    compare(&db, now, &Scope::All).await;
    let (checked, _) = compare(&db, now, &team).await;
    assert!(checked > 20);

    // A snapshot read from the projection holds what one replayed from the events holds:
    // for the company, every team and every rep.
    let taken = ops::snapshots::take_snapshot(&db, now, false, None, 300)
        .await
        .unwrap()
        .unwrap();
    let replayed = ops::snapshots::backfill_snapshot(&db, now, 300)
        .await
        .unwrap();
    let rows = |id| {
        let db = &db;
        async move { db.snapshot(id).await.unwrap().unwrap().1 }
    };
    let (taken, replayed) = (rows(taken).await, rows(replayed).await);
    assert!(taken.iter().filter(|r| r.level == "rep").count() > 20);
    assert_eq!(taken, replayed);
}

/// Compares every report read from the projection with the replay of the events in
/// `scope`: (periods checked, loss reasons seen).
async fn compare(db: &Db, now: OffsetDateTime, scope: &Scope) -> (usize, usize) {
    let dir = db.directory().await.unwrap();
    let mut checked = 0;
    let mut lost_reasons = 0;
    let (mut categorised, mut won_sample) = (0, 0);
    for pipeline in &dir.pipelines {
        let events = db
            .pipeline_history(scope, pipeline.id, None, false, &Default::default())
            .await
            .unwrap();
        let lives = analytics::lives(&events);
        if lives.is_empty() {
            continue;
        }
        let of = Slice {
            scope,
            pipeline_id: pipeline.id,
            owners: None,
            filter: &Default::default(),
        };
        let closed: Vec<_> = pipeline
            .stages
            .iter()
            .filter(|s| s.kind != StageKind::Open)
            .map(|s| s.id)
            .collect();
        let reach = db.reach_counts(of, &closed).await.unwrap();
        assert_eq!(
            analytics::calibration_from(pipeline, &reach),
            analytics::calibration(&lives, pipeline),
        );
        // The forecast and the simulation read the same deals from either path.
        let won: Vec<_> = pipeline
            .stages
            .iter()
            .filter(|s| s.kind == StageKind::Won)
            .map(|s| s.id)
            .collect();
        let open: Vec<_> = pipeline
            .stages
            .iter()
            .filter(|s| s.kind == StageKind::Open)
            .map(|s| s.id)
            .collect();
        let today = now.to_offset(time::macros::offset!(+8)).date();
        let months: Vec<(Date, Date)> = (0..6)
            .map(|m| {
                let from = (today - Duration::days(60) + Duration::days(31 * m))
                    .replace_day(1)
                    .unwrap();
                let next = (from + Duration::days(32)).replace_day(1).unwrap();
                (from, next - Duration::days(1))
            })
            .collect();
        let stages: Vec<_> = open.iter().chain(&won).copied().collect();
        let inputs = analytics::ForecastInputs {
            deals: db
                .deals_at(
                    of,
                    &stages,
                    &open,
                    analytics::china_day_start(months[0].0),
                    now,
                    "CNY",
                )
                .await
                .unwrap(),
            reach: reach.clone(),
            to_win: db.to_win_days(of, &won).await.unwrap(),
        };
        for weighting in [
            analytics::Weighting::Configured,
            analytics::Weighting::Empirical,
            analytics::Weighting::Blended,
        ] {
            assert_eq!(
                analytics::forecast_from(pipeline, &inputs, &months, weighting),
                analytics::forecast(&lives, pipeline, now, &months, weighting),
            );
        }
        assert_eq!(
            analytics::monte_carlo_from(pipeline, &inputs, now, &months, 1_000, 7),
            analytics::monte_carlo(&lives, pipeline, now, &months, 1_000, 7),
        );
        // The forecast page's categories and the roll-up: each owner's numbers.
        // Generated history varies with the instant it ends at: right after a year end few
        // deals may sit in commit, but some always carry a category.
        categorised += inputs
            .deals
            .iter()
            .filter(|d| d.forecast_category.is_some())
            .count();
        for weighting in [
            analytics::Weighting::Configured,
            analytics::Weighting::Empirical,
        ] {
            assert_eq!(
                rollup::owner_numbers_from(pipeline, &inputs, &months, weighting),
                rollup::owner_numbers(&lives, pipeline, now, &months, weighting),
            );
        }
        // The horizon: the same sample of deals created, and the same simulation.
        let lost = analytics::stages_of_kind(pipeline, StageKind::Lost);
        let sample = db.creation_sample(of, &won, &lost, now).await.unwrap();
        assert_eq!(sample, horizon::CreationSample::of(&lives, pipeline, now));
        won_sample += sample.days.len();
        let opts = horizon::HorizonOptions {
            runs: 500,
            seed: 3,
            include_new: true,
        };
        assert_eq!(
            horizon::horizon_from(pipeline, &inputs, &sample, now, &months, opts),
            horizon::horizon(&lives, pipeline, now, &months, opts),
        );
        for period in periods(now) {
            let funnel = analytics::funnel(&lives, pipeline, period);
            assert_eq!(
                analytics::funnel_from(pipeline, &db.funnel_counts(of, period).await.unwrap()),
                funnel,
                "funnel {period:?}"
            );
            assert_eq!(
                analytics::time_in_stage_from(pipeline, &db.stage_times(of, period).await.unwrap()),
                analytics::time_in_stage(&lives, pipeline, period),
                "time in stage {period:?}"
            );
            assert_eq!(
                analytics::win_rate_from(
                    pipeline,
                    &db.closed_by(of, period, Facet::All).await.unwrap()
                ),
                analytics::win_rate(&lives, pipeline, period),
                "win rate {period:?}"
            );
            assert_eq!(
                ops::four_s_of(db, of, pipeline, period, Some(50_000_000), &reach)
                    .await
                    .unwrap(),
                analytics::four_s(&lives, pipeline, period, Some(50_000_000)),
                "4S {period:?}"
            );
            let by = |facet| db.closed_by(of, period, facet);
            let win_loss = analytics::win_loss_from(
                pipeline,
                analytics::WinLossInputs {
                    by_reason: by(Facet::LossReason).await.unwrap(),
                    by_competitor: by(Facet::Competitor).await.unwrap(),
                    by_stage_lost: by(Facet::FromStage).await.unwrap(),
                    by_owner: by(Facet::Owner).await.unwrap(),
                },
            );
            assert_eq!(
                win_loss,
                analytics::win_loss(&lives, pipeline, period),
                "win/loss {period:?}"
            );
            assert_eq!(
                analytics::leaderboard_from(
                    pipeline,
                    &by(Facet::Owner).await.unwrap(),
                    &db.created_by(of, period, Facet::Owner).await.unwrap()
                ),
                analytics::leaderboard(&lives, pipeline, period),
                "leaderboard {period:?}"
            );
            lost_reasons += win_loss
                .by_reason
                .iter()
                .filter(|r| !r.value.is_empty())
                .count();
            let quarter = |d: Date| (d, d + Duration::days(91));
            for window in [None, Some(quarter(period.to.date()))] {
                let w = ops::waterfall_of(db, of, pipeline, period, window, "CNY")
                    .await
                    .unwrap();
                assert_eq!(
                    w,
                    analytics::waterfall(&lives, pipeline, period, window, "CNY"),
                    "waterfall {period:?} {window:?}"
                );
                assert_eq!(
                    w.start + w.created + w.increased - w.decreased - w.won - w.lost - w.archived
                        + w.moved_in
                        - w.moved_out
                        + w.reopened,
                    w.end
                );
            }
            checked += 1;
        }
        // Non-trivial: the history has entries, wins and changes to add up.
        let two_years = Period {
            from: now - Duration::days(730),
            to: now + Duration::days(1),
        };
        let quarter = Period {
            from: now - Duration::days(90),
            to: now,
        };
        let w = analytics::waterfall(&lives, pipeline, quarter, None, "CNY");
        if pipeline.is_default {
            assert!(analytics::funnel(&lives, pipeline, two_years)[0].entered > 500);
            assert!(
                w.start > 0 && w.won > 0 && w.lost > 0 && w.created > 0 && w.end > 0,
                "{w:?}"
            );
        }
    }
    assert!(categorised > 0, "deals with a forecast category");
    assert!(
        won_sample > 10,
        "{won_sample} deals won in the horizon's sample"
    );
    (checked, lost_reasons)
}
