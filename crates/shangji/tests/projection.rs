//! The analytics projection gives exactly the numbers of the replay: on generated data with
//! two years of history, every report computed by SQL aggregation over the projection equals
//! the same report replayed from the events, for periods of every length; and the projection
//! follows new events, stage changes of its pipeline, and refreshes run side by side.
//! Runs on SQLite, and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

mod common;

use shangji::ops;
use shangji_core::analytics::{self, Period};
use shangji_core::model::StageKind;
use shangji_core::Scope;
use shangji_store::projection::{Facet, Slice};
use time::{Date, Duration, OffsetDateTime};

fn periods(now: OffsetDateTime) -> Vec<Period> {
    let mut out = vec![];
    for (length, step) in [(7, 97), (30, 61), (90, 120), (365, 365), (800, 800)] {
        let mut to = now + Duration::days(1);
        while to - Duration::days(length) > now - Duration::days(800) {
            out.push(Period {
                from: to - Duration::days(length),
                to,
            });
            to -= Duration::days(step);
        }
    }
    out
}

#[tokio::test]
async fn projection_reports_equal_the_replay() {
    let db = common::test_db().await;
    let now = common::now();
    shangji::demo::load(&db, 1_200, now).await.unwrap();
    let dir = db.directory().await.unwrap();
    let done = db.refresh_analytics(&dir.pipelines).await.unwrap();
    assert!(done >= 1_200, "every opportunity projected, got {done}");
    assert_eq!(db.analytics_backlog().await.unwrap(), 0);
    // Twice at once (two instances): both finish, nothing doubled.
    let (a, b) = tokio::join!(
        db.refresh_analytics(&dir.pipelines),
        db.refresh_analytics(&dir.pipelines)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (0, 0));

    let scope = Scope::All;
    let mut checked = 0;
    let mut lost_reasons = 0;
    for pipeline in &dir.pipelines {
        let events = db
            .pipeline_history(&scope, pipeline.id, None, false, &Default::default())
            .await
            .unwrap();
        let lives = analytics::lives(&events);
        if lives.is_empty() {
            continue;
        }
        let of = Slice {
            scope: &scope,
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
                ops::four_s_of(&db, of, pipeline, period, Some(50_000_000), &reach)
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
                let w = ops::waterfall_of(&db, of, pipeline, period, window, "CNY")
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
    assert!(checked > 20, "{checked} periods checked");
    assert!(lost_reasons > 20, "loss reasons seen: {lost_reasons}");
}
