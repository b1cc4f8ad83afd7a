//! The report pages' operations beyond the basic reports of `ops.rs`: the source / industry
//! filters, win/loss by source and industry, the sources report, the time in stage by month
//! and the sales-cycle length; and every report as a flat table, exported as CSV or XLSX
//! with its headers in the caller's language.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use shangji_core::analytics::{self, WinLossRow};
use shangji_core::audit::AuditAction;
use shangji_core::model::*;
use shangji_core::report_extras::{self as x, CycleLength, FunnelStage, MonthTimes, SourceRow};
use shangji_core::Money;
use shangji_store::{Db, HistoryFilter};

use super::export::csv_text;
use super::{report_scope, Ctx, FourSReport, Report};
use crate::error::AppError;
use crate::i18n::Tr;

/// Reads the report parameters `source` (a source key), `industry` (an account industry,
/// as text) and `baseline` (trailing periods of the funnel's baseline, 1 to 12).
pub(super) fn read_filter(
    k: &str,
    v: &str,
    filter: &mut HistoryFilter,
    baseline: &mut u32,
) -> Result<(), AppError> {
    let v = v.trim();
    match k {
        "source" if v.is_empty() => filter.source = None,
        "source" => {
            let s: Source = v.parse().map_err(|_| {
                AppError::bad_request(
                    k,
                    "unknown_source",
                    format!(
                        "`{v}` is not a source; one of {}",
                        Source::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            filter.source = Some(s.as_str().to_string());
        }
        "industry" => {
            if v.chars().count() > 100 {
                return Err(AppError::bad_request(
                    k,
                    "invalid_parameter",
                    "an industry has at most 100 characters",
                ));
            }
            filter.industry = Some(v.to_string()).filter(|v| !v.is_empty());
        }
        _ => {
            *baseline = v
                .parse()
                .ok()
                .filter(|n| (1..=12).contains(n))
                .ok_or_else(|| {
                    AppError::bad_request(k, "invalid_parameter", "baseline is 1 to 12 periods")
                })?;
        }
    }
    Ok(())
}

/// Win/loss of the deals closed in the period, grouped six ways.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WinLossReport {
    pub by_reason: Vec<WinLossRow>,
    pub by_competitor: Vec<WinLossRow>,
    pub by_stage_lost: Vec<WinLossRow>,
    pub by_owner: Vec<WinLossRow>,
    /// By the deal's source key (`""` when none).
    pub by_source: Vec<WinLossRow>,
    /// By the industry of the deal's account (`""` when none).
    pub by_industry: Vec<WinLossRow>,
}

/// Leads → opportunities → won by source channel (docs/metrics.md, "Sources").
pub async fn sources_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<SourceRow>>, AppError> {
    use shangji_store::projection::Facet;
    let r = report_scope(ctx, params)?;
    let leads: Vec<x::LeadSeen> = db
        .lead_facts(
            &ctx.scope,
            r.period.from,
            r.period.to,
            r.owners.as_deref(),
            &r.filter,
        )
        .await?
        .into_iter()
        .map(|l| x::LeadSeen {
            source: l.source,
            created_at: l.created_at,
            converted_at: l.converted_at,
        })
        .collect();
    let of = super::fresh_slice(db, ctx, &r).await?;
    let (created, closed) = tokio::try_join!(
        db.created_by(of, r.period, Facet::Source),
        db.closed_by(of, r.period, Facet::Source),
    )?;
    Ok(r.report(x::sources(&leads, &r.pipeline, &created, &closed, r.period)))
}

/// Time in stage per month over the 12 months ending with the period's last day.
pub async fn time_in_stage_trend_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<MonthTimes>>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = super::fresh_slice(db, ctx, &r).await?;
    let last_day =
        shangji_core::calendar::china_date(r.period.to - time::Duration::milliseconds(1));
    let mut months = vec![];
    for (a, b) in x::months_ending(last_day, 12) {
        let month = analytics::Period {
            from: super::day_start(a),
            to: super::day_start(b + time::Duration::days(1)),
        };
        months.push(MonthTimes {
            month: format!("{:04}-{:02}", a.year(), a.month() as u8),
            stages: analytics::time_in_stage_from(&r.pipeline, &db.stage_times(of, month).await?),
        });
    }
    Ok(r.report(months))
}

/// Days from creation to winning of the deals won in the period.
pub async fn sales_cycle_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<CycleLength>, AppError> {
    let r = report_scope(ctx, params)?;
    let won = analytics::stages_of_kind(&r.pipeline, StageKind::Won);
    let days = db
        .won_cycles(super::fresh_slice(db, ctx, &r).await?, &won, r.period)
        .await?;
    Ok(r.report(x::cycle_length_from(days)))
}

// ---- Exports ----

/// How a report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

/// `format=json|csv|xlsx` (default json); the other parameters go to the report.
pub fn format_of(
    params: Vec<(String, String)>,
) -> Result<(Format, Vec<(String, String)>), AppError> {
    let mut format = Format::Json;
    let mut rest = Vec::with_capacity(params.len());
    for (k, v) in params {
        if k == "format" {
            format = match v.as_str() {
                "json" => Format::Json,
                "csv" => Format::Csv,
                "xlsx" => Format::Xlsx,
                _ => {
                    return Err(AppError::bad_request(
                        "format",
                        "invalid_parameter",
                        "format is json, csv or xlsx",
                    ))
                }
            };
        } else {
            rest.push((k, v));
        }
    }
    Ok((format, rest))
}

/// A cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A share 0–1, shown as a percentage.
    Ratio(f64),
    /// CNY minor units, exported in yuan.
    Money(i64),
    /// A time in stage given in hours, shown and exported in days with one decimal (the one
    /// unit of time in stage, on the charts too).
    Days(i64),
    Empty,
}

impl Cell {
    fn opt(v: Option<i64>) -> Cell {
        v.map_or(Cell::Empty, Cell::Int)
    }

    /// Hours as days (see [`Cell::Days`]).
    fn days(hours: Option<i64>) -> Cell {
        hours.map_or(Cell::Empty, Cell::Days)
    }

    /// The cell as CSV text: numbers plain (money in yuan with two decimals, shares as
    /// decimals with four places), so a spreadsheet reads them as numbers.
    fn csv(&self) -> String {
        match self {
            Cell::Text(t) => csv_text(t),
            Cell::Int(v) => v.to_string(),
            Cell::Ratio(r) => format!("{r:.4}"),
            Cell::Money(m) => Money::cny(*m).format_major().replace(',', ""),
            Cell::Days(h) => {
                // Tenths of a day, rounded half up, without floats.
                let tenths = (h.unsigned_abs() * 10 + 12) / 24;
                let sign = if *h < 0 { "-" } else { "" };
                format!("{sign}{}.{}", tenths / 10, tenths % 10)
            }
            Cell::Empty => String::new(),
        }
    }

    /// The cell as the pages show it.
    pub fn show(&self, tr: Tr) -> String {
        match self {
            Cell::Ratio(r) => format!("{:.1}%", r * 100.0),
            Cell::Money(m) => tr.money_short(&Money::cny(*m)),
            Cell::Text(t) => t.clone(),
            other => other.csv(),
        }
    }
}

/// One flat table of a report: a title (a sheet's name), translated headers, rows.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub title: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// What names a report's ids: the pipeline's stages, the users, the loss reasons.
pub struct Names<'a> {
    pub tr: Tr,
    pub pipeline: &'a Pipeline,
    pub users: &'a [User],
    pub reasons: &'a [shangji_core::process::LossReason],
}

impl Names<'_> {
    pub fn stage(&self, id: StageId) -> String {
        self.pipeline
            .stage(id)
            .map_or_else(|| id.to_string(), |s| s.name(self.tr.lang).to_string())
    }

    pub fn user(&self, id: UserId) -> String {
        self.users
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_string(), |u| u.display_name.clone())
    }

    pub fn source(&self, key: &str) -> String {
        if key.is_empty() {
            return self.tr.t("analytics.none").to_string();
        }
        self.tr
            .get(&format!("source.{key}"))
            .map_or_else(|| key.to_string(), str::to_string)
    }

    pub fn reason(&self, key: &str) -> String {
        if key.is_empty() {
            return self.tr.t("analytics.none").to_string();
        }
        self.reasons.iter().find(|r| r.key == key).map_or_else(
            || key.to_string(),
            |r| match self.tr.lang {
                Language::ZhCn => r.name_zh.clone(),
                Language::En => r.name_en.clone(),
            },
        )
    }

    /// A text value, or "none" for an empty one.
    pub fn text(&self, v: &str) -> String {
        if v.is_empty() {
            self.tr.t("analytics.none").to_string()
        } else {
            v.to_string()
        }
    }

    fn head(&self, keys: &[&str]) -> Vec<String> {
        keys.iter()
            .map(|k| self.tr.t(&format!("analytics.col.{k}")).to_string())
            .collect()
    }

    pub fn sheet(&self, title: &str, keys: &[&str], rows: Vec<Vec<Cell>>) -> Sheet {
        Sheet {
            title: self.tr.t(&format!("analytics.sheet.{title}")).to_string(),
            head: self.head(keys),
            rows,
        }
    }
}

/// A report's rows as flat tables.
pub trait Tabular {
    fn sheets(&self, n: &Names) -> Vec<Sheet>;
}

impl Tabular for Vec<FunnelStage> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(n.stage(r.stage_id)),
                    Cell::Int(r.entered as i64),
                    Cell::Int(r.advanced as i64),
                    Cell::Int(r.lost as i64),
                    Cell::Int(r.open as i64),
                    Cell::Int(r.won as i64),
                    Cell::Ratio(r.conversion),
                    Cell::Ratio(r.to_won),
                    r.baseline.map_or(Cell::Empty, Cell::Ratio),
                    Cell::Text(if r.bottleneck {
                        n.tr.t("analytics.yes").to_string()
                    } else {
                        String::new()
                    }),
                ]
            })
            .collect();
        vec![n.sheet(
            "funnel",
            &[
                "stage",
                "entered",
                "advanced",
                "lost",
                "open",
                "won",
                "conversion",
                "to_won",
                "baseline",
                "bottleneck",
            ],
            rows,
        )]
    }
}

fn stage_times(n: &Names, rows: &[analytics::StageTime]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|r| {
            vec![
                Cell::Text(n.stage(r.stage_id)),
                Cell::Int(r.count as i64),
                Cell::days(r.median_hours),
                Cell::days(r.p75_hours),
                Cell::days(r.p90_hours),
            ]
        })
        .collect()
}

const STAGE_TIME_COLS: &[&str] = &["stage", "count", "median_days", "p75_days", "p90_days"];

impl Tabular for Vec<analytics::StageTime> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        vec![n.sheet("time_in_stage", STAGE_TIME_COLS, stage_times(n, self))]
    }
}

impl Tabular for Vec<MonthTimes> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .flat_map(|m| {
                stage_times(n, &m.stages).into_iter().map(|mut row| {
                    row.insert(0, Cell::Text(m.month.clone()));
                    row
                })
            })
            .collect();
        let mut cols = vec!["month"];
        cols.extend_from_slice(STAGE_TIME_COLS);
        vec![n.sheet("trend", &cols, rows)]
    }
}

impl Tabular for CycleLength {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        vec![n.sheet(
            "cycle",
            &["count", "median_days", "p75_days", "p90_days"],
            vec![vec![
                Cell::Int(self.count as i64),
                Cell::opt(self.median_days),
                Cell::opt(self.p75_days),
                Cell::opt(self.p90_days),
            ]],
        )]
    }
}

impl Tabular for analytics::WinRate {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .amounts
            .iter()
            .map(|(currency, (won, lost))| {
                vec![
                    Cell::Text(currency.clone()),
                    Cell::Int(self.won as i64),
                    Cell::Int(self.lost as i64),
                    Cell::Text(
                        Money {
                            amount_minor: *won,
                            currency: currency.clone(),
                        }
                        .format_major()
                        .replace(',', ""),
                    ),
                    Cell::Text(
                        Money {
                            amount_minor: *lost,
                            currency: currency.clone(),
                        }
                        .format_major()
                        .replace(',', ""),
                    ),
                    Cell::Ratio(self.by_count),
                    Cell::Ratio(self.by_amount),
                ]
            })
            .collect();
        vec![n.sheet(
            "win_rate",
            &[
                "currency",
                "won",
                "lost",
                "won_amount",
                "lost_amount",
                "win_rate",
                "win_rate_amount",
            ],
            rows,
        )]
    }
}

impl Tabular for analytics::Waterfall {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let lines = [
            ("start", self.start),
            ("created", self.created),
            ("increased", self.increased),
            ("decreased", -self.decreased),
            ("won", -self.won),
            ("lost", -self.lost),
            ("archived", -self.archived),
            ("moved_in", self.moved_in),
            ("moved_out", -self.moved_out),
            ("reopened", self.reopened),
            ("end", self.end),
        ];
        let rows = lines
            .iter()
            .map(|(k, v)| {
                vec![
                    Cell::Text(n.tr.t(&format!("analytics.wf.{k}")).to_string()),
                    Cell::Money(*v),
                ]
            })
            .collect();
        let slipped = self.slipped.iter().map(|id| vec![Cell::Int(*id)]).collect();
        vec![
            n.sheet("waterfall", &["line", "amount"], rows),
            n.sheet("slipped", &["opportunity_id"], slipped),
        ]
    }
}

fn win_loss_rows(rows: &[WinLossRow], name: impl Fn(&str) -> String) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|r| {
            vec![
                Cell::Text(name(&r.value)),
                Cell::Int(r.won as i64),
                Cell::Int(r.lost as i64),
                Cell::Money(r.won_amount),
                Cell::Money(r.lost_amount),
            ]
        })
        .collect()
}

const WIN_LOSS_COLS: &[&str] = &["value", "won", "lost", "won_amount", "lost_amount"];

impl Tabular for WinLossReport {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let id_of = |v: &str| v.parse::<i64>().ok();
        vec![
            n.sheet(
                "by_reason",
                WIN_LOSS_COLS,
                win_loss_rows(&self.by_reason, |v| n.reason(v)),
            ),
            n.sheet(
                "by_competitor",
                WIN_LOSS_COLS,
                win_loss_rows(&self.by_competitor, |v| n.text(v)),
            ),
            n.sheet(
                "by_stage_lost",
                WIN_LOSS_COLS,
                win_loss_rows(&self.by_stage_lost, |v| {
                    id_of(v).map_or_else(|| n.text(v), |id| n.stage(id))
                }),
            ),
            n.sheet(
                "by_owner",
                WIN_LOSS_COLS,
                win_loss_rows(&self.by_owner, |v| {
                    id_of(v).map_or_else(|| n.text(v), |id| n.user(id))
                }),
            ),
            n.sheet(
                "by_source",
                WIN_LOSS_COLS,
                win_loss_rows(&self.by_source, |v| n.source(v)),
            ),
            n.sheet(
                "by_industry",
                WIN_LOSS_COLS,
                win_loss_rows(&self.by_industry, |v| n.text(v)),
            ),
        ]
    }
}

impl Tabular for FourSReport {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let (c, p) = (&self.current, &self.previous);
        let size = c
            .size
            .iter()
            .map(|s| {
                let before = p.size.iter().find(|b| b.stage_id == s.stage_id);
                vec![
                    Cell::Text(n.stage(s.stage_id)),
                    Cell::Int(s.count as i64),
                    Cell::Money(s.amount),
                    Cell::Money(s.weighted),
                    s.needed.map_or(Cell::Empty, Cell::Money),
                    before.map_or(Cell::Empty, |b| Cell::Int(b.count as i64)),
                    before.map_or(Cell::Empty, |b| Cell::Money(b.amount)),
                ]
            })
            .collect();
        let speed = c
            .speed
            .iter()
            .map(|s| {
                let before = p.speed.iter().find(|b| b.stage_id == s.stage_id);
                vec![
                    Cell::Text(n.stage(s.stage_id)),
                    Cell::days(s.median_hours),
                    before.map_or(Cell::Empty, |b| Cell::days(b.median_hours)),
                ]
            })
            .collect();
        let success = c
            .success
            .iter()
            .map(|s| {
                let before = p.success.iter().find(|b| b.stage_id == s.stage_id);
                vec![
                    Cell::Text(n.stage(s.stage_id)),
                    Cell::Int(s.entered as i64),
                    Cell::Ratio(s.conversion),
                    before.map_or(Cell::Empty, |b| Cell::Ratio(b.conversion)),
                ]
            })
            .collect();
        let line = |k: &str, now: Cell, before: Cell| {
            vec![
                Cell::Text(n.tr.t(&format!("analytics.fs.{k}")).to_string()),
                now,
                before,
            ]
        };
        let totals = vec![
            line(
                "open_count",
                Cell::Int(c.open_count as i64),
                Cell::Int(p.open_count as i64),
            ),
            line(
                "open_amount",
                Cell::Money(c.open_amount),
                Cell::Money(p.open_amount),
            ),
            line(
                "weighted",
                Cell::Money(c.weighted_amount),
                Cell::Money(p.weighted_amount),
            ),
            line(
                "cycle_days",
                Cell::opt(c.cycle_days),
                Cell::opt(p.cycle_days),
            ),
            line(
                "velocity",
                c.velocity_per_day.map_or(Cell::Empty, Cell::Money),
                p.velocity_per_day.map_or(Cell::Empty, Cell::Money),
            ),
            line(
                "win_rate",
                Cell::Ratio(c.win_rate.by_count),
                Cell::Ratio(p.win_rate.by_count),
            ),
        ];
        vec![
            n.sheet("four_s", &["measure", "current", "previous"], totals),
            n.sheet(
                "size_shape",
                &[
                    "stage",
                    "count",
                    "amount",
                    "weighted",
                    "needed",
                    "previous_count",
                    "previous_amount",
                ],
                size,
            ),
            n.sheet(
                "speed",
                &["stage", "median_days", "previous_median_days"],
                speed,
            ),
            n.sheet(
                "success",
                &["stage", "entered", "conversion", "previous_conversion"],
                success,
            ),
        ]
    }
}

impl Tabular for Vec<analytics::LeaderRow> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(n.user(r.owner_id)),
                    Cell::Int(r.won as i64),
                    Cell::Int(r.lost as i64),
                    Cell::Money(r.won_amount),
                    Cell::Ratio(r.win_rate),
                    Cell::Int(r.created as i64),
                    Cell::Money(r.created_amount),
                    Cell::Int(r.follow_ups as i64),
                ]
            })
            .collect();
        vec![n.sheet(
            "leaderboard",
            &[
                "owner",
                "won",
                "lost",
                "won_amount",
                "win_rate",
                "created",
                "created_amount",
                "follow_ups",
            ],
            rows,
        )]
    }
}

impl Tabular for Vec<analytics::ForecastBucket> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .map(|b| {
                vec![
                    Cell::Text(b.from.to_string()),
                    Cell::Text(b.to.to_string()),
                    Cell::Money(b.won),
                    Cell::Money(b.open),
                    Cell::Money(b.weighted),
                    Cell::Money(b.forecast),
                ]
            })
            .collect();
        vec![n.sheet(
            "forecast",
            &["from", "to", "won_amount", "open", "weighted", "forecast"],
            rows,
        )]
    }
}

impl Tabular for Vec<analytics::SimulatedBucket> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .map(|b| {
                vec![
                    Cell::Text(b.from.to_string()),
                    Cell::Text(b.to.to_string()),
                    Cell::Money(b.p10),
                    Cell::Money(b.p50),
                    Cell::Money(b.p90),
                    Cell::Money(b.mean),
                ]
            })
            .collect();
        vec![n.sheet(
            "monte_carlo",
            &["from", "to", "p10", "p50", "p90", "mean"],
            rows,
        )]
    }
}

impl Tabular for Vec<analytics::Calibration> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .map(|c| {
                vec![
                    Cell::Text(n.stage(c.stage_id)),
                    Cell::Int(c.sample as i64),
                    Cell::Int(c.won as i64),
                    Cell::Ratio(c.empirical),
                    Cell::Ratio(c.low),
                    Cell::Ratio(c.high),
                    Cell::Ratio(c.configured),
                    Cell::Text(if c.drift {
                        n.tr.t("analytics.yes").to_string()
                    } else {
                        String::new()
                    }),
                ]
            })
            .collect();
        vec![n.sheet(
            "calibration",
            &[
                "stage",
                "sample",
                "won",
                "empirical",
                "low",
                "high",
                "configured",
                "drift",
            ],
            rows,
        )]
    }
}

impl Tabular for Vec<SourceRow> {
    fn sheets(&self, n: &Names) -> Vec<Sheet> {
        let rows = self
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(n.source(&r.source)),
                    Cell::Int(r.leads as i64),
                    Cell::Int(r.converted as i64),
                    Cell::Ratio(r.lead_conversion),
                    Cell::Int(r.opportunities as i64),
                    Cell::Int(r.won as i64),
                    Cell::Int(r.lost as i64),
                    Cell::Money(r.won_amount),
                    Cell::Ratio(r.win_rate),
                ]
            })
            .collect();
        vec![n.sheet(
            "sources",
            &[
                "source",
                "leads",
                "converted",
                "lead_conversion",
                "opportunities",
                "won",
                "lost",
                "won_amount",
                "win_rate",
            ],
            rows,
        )]
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// The tables as CSV (UTF-8 with a byte-order mark, for Excel): one table after another,
/// each under its title when there are several, a blank line between them.
pub fn csv_of(sheets: &[Sheet]) -> Result<Vec<u8>, AppError> {
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    for (i, s) in sheets.iter().enumerate() {
        if sheets.len() > 1 {
            if i > 0 {
                out.write_record([""]).map_err(internal)?;
            }
            out.write_record([csv_text(&s.title)]).map_err(internal)?;
        }
        out.write_record(s.head.iter().map(|h| csv_text(h)))
            .map_err(internal)?;
        for r in &s.rows {
            out.write_record(r.iter().map(Cell::csv))
                .map_err(internal)?;
        }
    }
    out.into_inner().map_err(internal)
}

/// The tables as an XLSX workbook, one worksheet each (money in yuan, shares as
/// percentages).
pub fn xlsx_of(sheets: &[Sheet]) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let mut book = Workbook::new();
    let bold = XFormat::new().set_bold();
    let money = XFormat::new().set_num_format("#,##0.00");
    let pct = XFormat::new().set_num_format("0.0%");
    for s in sheets {
        let sheet = book.add_worksheet();
        // A sheet's name: at most 31 characters, none of []:*?/\.
        let name: String = s
            .title
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        sheet.set_name(&name).map_err(internal)?;
        for (i, h) in s.head.iter().enumerate() {
            sheet
                .write_string_with_format(0, i as u16, h, &bold)
                .map_err(internal)?;
            sheet.set_column_width(i as u16, 16).map_err(internal)?;
        }
        for (y, row) in s.rows.iter().enumerate() {
            let y = y as u32 + 1;
            for (x, c) in row.iter().enumerate() {
                let x = x as u16;
                match c {
                    Cell::Text(t) => {
                        sheet.write_string(y, x, t).map_err(internal)?;
                    }
                    Cell::Int(v) => {
                        sheet.write_number(y, x, *v as f64).map_err(internal)?;
                    }
                    Cell::Ratio(r) => {
                        sheet
                            .write_number_with_format(y, x, *r, &pct)
                            .map_err(internal)?;
                    }
                    Cell::Money(m) => {
                        // Exact to the fen up to 2^53 fen.
                        sheet
                            .write_number_with_format(y, x, *m as f64 / 100.0, &money)
                            .map_err(internal)?;
                    }
                    Cell::Days(_) => {
                        let days: f64 = c.csv().parse().unwrap_or_default();
                        sheet.write_number(y, x, days).map_err(internal)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
    }
    book.save_to_buffer().map_err(internal)
}

/// The names a report's tables need, for the caller.
pub async fn sheets_of<T: Tabular>(
    db: &Db,
    ctx: &Ctx,
    report: &Report<T>,
) -> Result<Vec<Sheet>, AppError> {
    let users = db.users().await?;
    let pipeline = ctx
        .dir
        .pipeline(report.pipeline_id)
        .ok_or(AppError::NotFound)?;
    let names = Names {
        tr: Tr::new(ctx.lang),
        pipeline,
        users: &users,
        reasons: &ctx.dir.loss_reasons,
    };
    Ok(report.rows.sheets(&names))
}

/// A report answered as JSON, CSV or XLSX (file `name`.csv / .xlsx).
pub async fn answer<T: Tabular + Serialize>(
    db: &Db,
    ctx: &Ctx,
    name: &str,
    report: Report<T>,
    format: Format,
) -> Result<Response, AppError> {
    let (bytes, kind, ext) = match format {
        Format::Json => return Ok(Json(report).into_response()),
        Format::Csv => (
            csv_of(&sheets_of(db, ctx, &report).await?)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        Format::Xlsx => (
            xlsx_of(&sheets_of(db, ctx, &report).await?)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    super::audit::record(
        db,
        ctx,
        AuditAction::Export,
        name,
        format!("report as {ext}"),
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::Cell;

    #[test]
    fn time_in_stage_is_in_days_with_one_decimal() {
        let cases = [
            (0, "0.0"),
            (1, "0.0"),
            (2, "0.1"),
            (24, "1.0"),
            (30, "1.3"),
            (36, "1.5"),
            (1_000, "41.7"),
            (-36, "-1.5"),
        ];
        for (hours, want) in cases {
            assert_eq!(Cell::Days(hours).csv(), want, "{hours} h");
        }
    }
}
