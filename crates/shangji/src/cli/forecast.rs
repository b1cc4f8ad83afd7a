//! `shangji forecast snapshot` and `shangji forecast backtest`.

use anyhow::bail;
use clap::Subcommand;
use shangji_core::calendar::china_date;
use shangji_core::horizon::{self, accuracy, mean_accuracy, Accuracy};
use time::{Date, OffsetDateTime};

use crate::config::Config;
use crate::ops::snapshots;

#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Take a forecast snapshot now (per period, team and owner; kept unchanged for ever).
    Snapshot {
        /// Instead, record the forecast replayed from the history as it stood at the start of
        /// this day (China time), as a `backfill` snapshot.
        #[arg(long, value_parser = parse_date)]
        at: Option<Date>,
    },
    /// Replay the history: at each date, the forecast the model would have made with only the
    /// events before it, for the month starting on or after it, against what was won.
    Backtest {
        /// First date (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        from: Date,
        /// Last date (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        to: Date,
        /// How often: month (the first of each month from --from on) or week.
        #[arg(long, default_value = "month", value_parser = ["month", "week"])]
        every: String,
        /// Show one weighting only (configured, empirical or blended) beside the P50.
        #[arg(long, value_parser = ["configured", "empirical", "blended"])]
        weighting: Option<String>,
        /// Pipeline id [default: the default pipeline].
        #[arg(long)]
        pipeline: Option<i64>,
        /// Monte Carlo runs per date.
        #[arg(long, default_value_t = snapshots::RUNS)]
        runs: usize,
    },
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

/// `¥1,234,567` (whole yuan).
fn yuan(minor: i64) -> String {
    let full = shangji_core::Money::cny(minor).format_major();
    format!("¥{}", full.split('.').next().unwrap_or(&full))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

pub async fn run(config: &Config, cmd: ForecastCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    let db = super::open(config).await?;
    match cmd {
        ForecastCommand::Snapshot { at } => {
            let id = match at {
                Some(d) => {
                    let at = shangji_core::calendar::china_day_start(d);
                    if at > now {
                        bail!("--at is in the future");
                    }
                    Some(
                        snapshots::backfill_snapshot(&db, at, snapshots::RUNS)
                            .await
                            .map_err(super::cli_error)?,
                    )
                }
                None => snapshots::take_snapshot(&db, now, false, None, snapshots::RUNS)
                    .await
                    .map_err(super::cli_error)?,
            };
            let (s, rows) = db
                .snapshot(id.unwrap_or_default())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the snapshot was not stored"))?;
            println!(
                "snapshot {} taken at {} ({} rows)",
                s.id,
                s.taken_at,
                rows.len()
            );
        }
        ForecastCommand::Backtest {
            from,
            to,
            every,
            weighting,
            pipeline,
            runs,
        } => {
            if to < from {
                bail!("--to is before --from");
            }
            if !(1..=100_000).contains(&runs) {
                bail!("--runs is 1 to 100000");
            }
            let mut dates = vec![];
            let mut d = from;
            while d <= to {
                dates.push(d);
                d = if every == "week" {
                    d + time::Duration::days(7)
                } else if d.day() == 1 {
                    horizon::add_months(d, 1)
                } else {
                    horizon::add_months(d, 1)
                        .replace_day(d.day().min(28))
                        .unwrap_or(d)
                };
                if dates.len() > 1000 {
                    bail!("more than 1000 dates: choose a shorter span");
                }
            }
            let ctx = crate::ops::Ctx::system(&db, now)
                .await
                .map_err(super::cli_error)?;
            let (pipeline, events) = snapshots::backtest_history(&db, &ctx, pipeline)
                .await
                .map_err(super::cli_error)?;
            let rows = snapshots::backtest(&events, &pipeline, &dates, now, runs, 1);
            if rows.is_empty() {
                bail!("no date from --from to --to has a month that has begun");
            }
            let methods: Vec<&str> = match weighting.as_deref() {
                Some(w) => vec![w, "p50"],
                None => vec!["configured", "empirical", "blended", "p50"],
            };
            let value = |r: &snapshots::BacktestRow, m: &str| match m {
                "configured" => r.configured,
                "empirical" => r.empirical,
                "blended" => r.blended,
                _ => r.p50,
            };
            println!("pipeline {} `{}`", pipeline.id, pipeline.name);
            let mut head = format!("{:<10}  {:<21}", "date", "period");
            for m in &methods {
                head.push_str(&format!("  {:>14}  {:>8}  {:>8}", m, "accuracy", "bias"));
            }
            head.push_str(&format!("  {:>14}", "actual won"));
            println!("{head}");
            let mut by_method: Vec<Vec<Accuracy>> = vec![vec![]; methods.len()];
            for r in &rows {
                let mut line = format!("{:<10}  {} – {}", r.at, r.period_from, r.period_to);
                for (i, m) in methods.iter().enumerate() {
                    let f = value(r, m);
                    let a = accuracy(f, r.actual);
                    if day_after(r.period_to) <= china_date(now) {
                        by_method[i].push(a);
                    }
                    line.push_str(&format!(
                        "  {:>14}  {:>8}  {:>8}",
                        yuan(f),
                        pct(Some(a.accuracy)),
                        pct(a.bias)
                    ));
                }
                line.push_str(&format!("  {:>14}", yuan(r.actual)));
                println!("{line}");
            }
            println!();
            println!("mean accuracy over the months that have ended:");
            for (m, acc) in methods.iter().zip(&by_method) {
                println!(
                    "  {m:<11} {} ({} months)",
                    pct(mean_accuracy(acc)),
                    acc.len()
                );
            }
        }
    }
    Ok(())
}

fn day_after(d: Date) -> Date {
    d.next_day().unwrap_or(d)
}
