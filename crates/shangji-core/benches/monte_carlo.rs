//! The Monte Carlo forecast's target: 10,000 runs over 100,000 open deals within 2 s (the
//! reading of its inputs is measured with the report, by `shangji bench --reports`).
//! `cargo bench -p shangji-core --bench monte_carlo`.

use criterion::{criterion_group, criterion_main, Criterion};
use shangji_core::analytics::{monte_carlo_from, ForecastInputs};
use shangji_core::process::{b2b_template, build_pipeline};
use shangji_core::projection::{ReachCount, VersionRow};
use time::macros::datetime;
use time::{Date, Duration};

fn inputs(open_deals: i64) -> (shangji_core::model::Pipeline, ForecastInputs) {
    let pipeline = build_pipeline(&b2b_template(), 1, 10);
    let now = datetime!(2026-11-25 10:00 UTC);
    let open: Vec<_> = pipeline
        .stages
        .iter()
        .filter(|s| s.kind == shangji_core::model::StageKind::Open)
        .map(|s| s.id)
        .collect();
    let won = pipeline
        .stages
        .iter()
        .find(|s| s.kind == shangji_core::model::StageKind::Won);
    let lost = pipeline
        .stages
        .iter()
        .find(|s| s.kind == shangji_core::model::StageKind::Lost);
    let (won, lost) = (won.unwrap().id, lost.unwrap().id);
    let deals = (0..open_deals)
        .map(|i| {
            let entered = now - Duration::days(i % 120) - Duration::hours(i % 24);
            VersionRow {
                opportunity_id: i,
                seq: 0,
                valid_from: entered,
                valid_to: None,
                stage_id: open[i as usize % open.len()],
                amount_minor: 1_000_000 + (i * 7_919) % 50_000_000,
                currency: "CNY".into(),
                close_date: None,
                probability: 30,
                archived: false,
                stage_entered_at: entered,
                owner_id: 1 + i % 40,
                forecast_category: None,
            }
        })
        .collect();
    // Reach: later stages win more often.
    let reach = open
        .iter()
        .enumerate()
        .flat_map(|(k, &stage_id)| {
            [
                ReachCount {
                    stage_id,
                    final_stage_id: won,
                    count: 1_000 * (k as u64 + 1),
                },
                ReachCount {
                    stage_id,
                    final_stage_id: lost,
                    count: 4_000,
                },
            ]
        })
        .collect();
    // Days to win: 1 to 180 from each stage.
    let to_win = open
        .iter()
        .flat_map(|&s| (0..180).map(move |d| (s, d, 1 + (d as u64 * 13) % 17)))
        .collect();
    (
        pipeline,
        ForecastInputs {
            deals,
            reach,
            to_win,
        },
    )
}

fn months(n: i64) -> Vec<(Date, Date)> {
    (0..n)
        .map(|m| {
            let from = Date::from_calendar_date(
                2026 + ((10 + m) / 12) as i32,
                time::Month::try_from(((10 + m) % 12 + 1) as u8).unwrap(),
                1,
            )
            .unwrap();
            let next = (from + Duration::days(32)).replace_day(1).unwrap();
            (from, next - Duration::days(1))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = datetime!(2026-11-25 10:00 UTC);
    let mut g = c.benchmark_group("monte_carlo");
    g.sample_size(10);
    for (deals, periods) in [(10_000, 3), (100_000, 3), (100_000, 12)] {
        let (pipeline, inputs) = inputs(deals);
        let periods = months(periods);
        g.bench_function(
            format!("{deals} open deals, {} months, 10000 runs", periods.len()),
            |b| b.iter(|| monte_carlo_from(&pipeline, &inputs, now, &periods, 10_000, 1)),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
