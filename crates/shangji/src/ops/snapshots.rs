//! Horizons, forecast snapshots, accuracy and the backtest. A horizon forecasts a rep's next
//! three months, a team's year or the company's three years with the pipeline not yet created
//! (`shangji_core::horizon`). A snapshot records the forecast as it stood — per period, for
//! the company, each team and each owner — weekly (a task of `serve`) and on demand; it is
//! never changed. Accuracy compares, per period, the last snapshot taken before the period
//! began with what was won. The backtest replays the history to past dates.

use std::collections::BTreeMap;

use serde::Serialize;
use shangji_core::analytics::{self, Life, Weighting};
use shangji_core::horizon::{self, CreationModel, HorizonBucket, HorizonOptions};
use shangji_core::model::*;
use shangji_core::opportunity::OpportunityEvent;
use shangji_core::visibility::{self, Scope};
use shangji_store::{Db, Snapshot, SnapshotRow, StoreError};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use super::{day_start, param_date, pipeline_for, Ctx};
use crate::error::AppError;

/// Runs of every simulation unless asked otherwise.
pub const RUNS: usize = 10_000;

use shangji_core::calendar::china_date as china_today;

fn bad(field: &str, what: &str) -> AppError {
    AppError::bad_request(field, "invalid_parameter", what.to_string())
}

fn unknown(k: &str) -> AppError {
    AppError::bad_request(
        k,
        "unknown_parameter",
        format!("unknown report parameter `{k}`"),
    )
}

fn parse_id(k: &str, v: &str) -> Result<i64, AppError> {
    v.parse::<i64>()
        .map_err(|_| AppError::bad_request(k, "invalid_parameter", format!("`{v}` is not an id")))
}

/// Whether the caller may see a team's numbers: the team is within their scope.
pub fn sees_team(ctx: &Ctx, team: TeamId) -> bool {
    match &ctx.scope {
        Scope::All => true,
        Scope::Teams { teams, .. } => teams.contains(&team),
        Scope::Own { .. } => false,
    }
}

// ---- Horizons ----

/// Whose horizon: a rep's (3 months), a team's (1 year) or the company's (3 years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Rep,
    Team,
    Company,
}

/// A horizon forecast: whose, the periods, and what the history says about new pipeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct HorizonReport {
    pub pipeline_id: PipelineId,
    pub level: Level,
    pub team_id: Option<TeamId>,
    pub owner_id: Option<UserId>,
    /// `month` or `quarter`.
    pub grain: String,
    pub runs: usize,
    pub seed: u64,
    pub model: CreationModel,
    pub buckets: Vec<HorizonBucket>,
}

/// Reads a horizon's parameters: `level` (rep, team or company; default by role), `owner_id`
/// (rep; default the caller), `team_id` (team; default the caller's), `pipeline_id`, `grain`
/// (month or quarter), `periods` (1–36), `runs` (1–100,000), `seed`. Defaults: rep 3 months,
/// team 12 months, company 12 quarters.
pub async fn horizon_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<HorizonReport, AppError> {
    let mut level = match ctx.actor.role {
        Role::Rep => Level::Rep,
        Role::Manager => Level::Team,
        _ => Level::Company,
    };
    let (mut owner, mut team, mut pipeline_id) = (None, None, None);
    let (mut grain, mut count) = (None, None);
    let (mut runs, mut seed) = (RUNS, 1u64);
    for (k, v) in params {
        match k.as_str() {
            "level" => {
                level = serde_json::from_value(serde_json::Value::String(v.clone()))
                    .map_err(|_| bad(k, "level is rep, team or company"))?
            }
            "owner_id" => owner = Some(parse_id(k, v)?),
            "team_id" => team = Some(parse_id(k, v)?),
            "pipeline_id" => pipeline_id = Some(parse_id(k, v)?),
            "grain" => {
                grain = Some(match v.as_str() {
                    "month" => "month",
                    "quarter" => "quarter",
                    _ => return Err(bad(k, "grain is month or quarter")),
                })
            }
            "periods" => {
                count = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=36).contains(n))
                        .ok_or_else(|| bad(k, "periods is 1 to 36"))?,
                )
            }
            "runs" => {
                runs = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| bad(k, "runs is 1 to 100000"))?
            }
            "seed" => seed = v.parse().map_err(|_| bad(k, "seed is a whole number"))?,
            _ => return Err(unknown(k)),
        }
    }
    let pipeline = pipeline_for(ctx, pipeline_id)?.clone();
    let pipeline_id = pipeline.id;
    let (owners, team_id, owner_id) = match level {
        Level::Rep => {
            let o = owner.unwrap_or(ctx.actor.user_id);
            if !ctx.scope.covers(Some(o)) || !ctx.dir.org.users.iter().any(|(u, _)| *u == o) {
                return Err(AppError::NotFound);
            }
            (Some(vec![o]), None, Some(o))
        }
        Level::Team => {
            let t = team.or(ctx.actor.team_id).ok_or_else(|| {
                AppError::bad_request("team_id", "required", "choose a team for its horizon")
            })?;
            if !ctx.dir.org.teams.iter().any(|x| x.id == t) || !sees_team(ctx, t) {
                return Err(AppError::NotFound);
            }
            (Some(ctx.dir.org.members(t)), Some(t), None)
        }
        Level::Company => (None, None, None),
    };
    let (default_grain, default_count) = match level {
        Level::Rep => ("month", 3),
        Level::Team => ("month", 12),
        Level::Company => ("quarter", 12),
    };
    let grain = grain.unwrap_or(default_grain);
    let periods = horizon::calendar_periods(
        china_today(ctx.now),
        if grain == "quarter" { 3 } else { 1 },
        count.unwrap_or(default_count),
    );
    let of = super::fresh_pipeline_slice(db, ctx, pipeline.id, owners.as_deref()).await?;
    let won = analytics::stages_of_kind(&pipeline, StageKind::Won);
    let lost = analytics::stages_of_kind(&pipeline, StageKind::Lost);
    let (inputs, sample) = tokio::try_join!(
        super::forecast_inputs(db, ctx, of, &pipeline, &periods),
        async { Ok(db.creation_sample(of, &won, &lost, ctx.now).await?) },
    )?;
    let opts = HorizonOptions {
        runs,
        seed,
        include_new: true,
    };
    let model = horizon::creation_model_from(&sample);
    let now = ctx.now;
    let buckets = super::off_thread("horizon", move || {
        horizon::horizon_from(&pipeline, &inputs, &sample, now, &periods, opts)
    })
    .await?;
    Ok(HorizonReport {
        pipeline_id,
        level,
        team_id,
        owner_id,
        grain: grain.to_string(),
        runs,
        seed,
        model,
        buckets,
    })
}

// ---- Snapshots ----

/// The months and quarters a snapshot covers: this month and the next three, this quarter
/// and the next two.
pub fn snapshot_periods(now: OffsetDateTime) -> Vec<(&'static str, Vec<(Date, Date)>)> {
    let today = china_today(now);
    vec![
        ("month", horizon::calendar_periods(today, 1, 4)),
        ("quarter", horizon::calendar_periods(today, 3, 3)),
    ]
}

/// Whom a row of a snapshot or of the accuracy is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    /// `company`, `team` or `rep`.
    level: &'static str,
    team_id: Option<TeamId>,
    owner_id: Option<UserId>,
}

/// The company, every team that is not archived (its subtree) and each of `owners`, each
/// with the owners whose deals are theirs (`None`: everyone's).
fn groups(org: &visibility::Org, owners: &[UserId]) -> Vec<(Group, Option<Vec<UserId>>)> {
    let mut out = vec![(
        Group {
            level: "company",
            team_id: None,
            owner_id: None,
        },
        None,
    )];
    for team in org.teams.iter().filter(|t| !t.archived) {
        out.push((
            Group {
                level: "team",
                team_id: Some(team.id),
                owner_id: None,
            },
            Some(org.members(team.id)),
        ));
    }
    for &o in owners {
        let team_id = org
            .users
            .iter()
            .find(|(u, _)| *u == o)
            .and_then(|(_, t)| *t);
        out.push((
            Group {
                level: "rep",
                team_id,
                owner_id: Some(o),
            },
            Some(vec![o]),
        ));
    }
    out
}

/// The rows of one group's snapshot for one grain, from its forecast inputs as of `now`.
#[allow(clippy::too_many_arguments)]
fn group_rows(
    g: &Group,
    pipeline: &Pipeline,
    grain: &str,
    periods: &[(Date, Date)],
    inputs: &analytics::ForecastInputs,
    now: OffsetDateTime,
    runs: usize,
    seed: u64,
) -> Vec<SnapshotRow> {
    let weighted = |w| analytics::forecast_from(pipeline, inputs, periods, w);
    let (c, e, b) = (
        weighted(Weighting::Configured),
        weighted(Weighting::Empirical),
        weighted(Weighting::Blended),
    );
    let sim = analytics::monte_carlo_from(pipeline, inputs, now, periods, runs, seed);
    (0..periods.len())
        .map(|i| SnapshotRow {
            pipeline_id: pipeline.id,
            level: g.level.to_string(),
            team_id: g.team_id,
            owner_id: g.owner_id,
            grain: grain.to_string(),
            period_from: periods[i].0,
            period_to: periods[i].1,
            won: c[i].won,
            configured: c[i].forecast,
            empirical: e[i].forecast,
            blended: b[i].forecast,
            p10: sim[i].p10,
            p50: sim[i].p50,
            p90: sim[i].p90,
        })
        .collect()
}

/// The rows of a snapshot as of `now` replayed from the lives of the events before it (a
/// backfill: the history as it stood then).
fn replayed_rows(
    lives: &[Life],
    pipeline: &Pipeline,
    org: &visibility::Org,
    now: OffsetDateTime,
    runs: usize,
    seed: u64,
) -> Vec<SnapshotRow> {
    let owner_of: Vec<Option<UserId>> = lives
        .iter()
        .map(|l| l.state_at(now).map(|s| s.owner_id))
        .collect();
    let mut owners: Vec<UserId> = owner_of.iter().flatten().copied().collect();
    owners.sort_unstable();
    owners.dedup();
    let mut rows = Vec::new();
    for (g, members) in groups(org, &owners) {
        let group_lives: Vec<Life> = lives
            .iter()
            .zip(&owner_of)
            .filter(|(_, o)| {
                members
                    .as_ref()
                    .is_none_or(|m| o.is_some_and(|o| m.contains(&o)))
            })
            .map(|(l, _)| l.clone())
            .collect();
        for (grain, periods) in snapshot_periods(now) {
            let inputs = analytics::ForecastInputs::of(&group_lives, pipeline, now, periods[0].0);
            rows.extend(group_rows(
                &g, pipeline, grain, &periods, &inputs, now, runs, seed,
            ));
        }
    }
    rows
}

/// The rows of a snapshot as of now, read from the projection: each group's deals valid
/// now, and its own reach counts and times to win.
async fn projected_rows(
    db: &Db,
    ctx: &Ctx,
    pipeline: &Pipeline,
    runs: usize,
    seed: u64,
) -> Result<Vec<SnapshotRow>, AppError> {
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    let owners = db.pipeline_owners(pipeline.id).await?;
    let mut rows = Vec::new();
    if owners.is_empty() {
        // No deals: nothing to record, as for a backfill.
        return Ok(rows);
    }
    for (g, members) in groups(&ctx.dir.org, &owners) {
        let of = super::fresh_pipeline_slice(db, ctx, pipeline.id, members.as_deref()).await?;
        for (grain, periods) in snapshot_periods(ctx.now) {
            let inputs = super::forecast_inputs(db, ctx, of, pipeline, &periods).await?;
            let (g, pipeline, now) = (g.clone(), pipeline.clone(), ctx.now);
            rows.extend(
                super::off_thread("snapshot", move || {
                    group_rows(&g, &pipeline, grain, &periods, &inputs, now, runs, seed)
                })
                .await?,
            );
        }
    }
    Ok(rows)
}

/// The ISO week of `now` in China time, e.g. `2026-W48`.
pub fn iso_week(now: OffsetDateTime) -> String {
    let (year, week, _) = china_today(now).to_iso_week_date();
    format!("{year}-W{week:02}")
}

/// Takes a snapshot of every pipeline's forecast over the whole company (whoever asks, it
/// records everything; reading it is limited to what the reader may see). A weekly snapshot
/// of a week that already has one is not taken again: `None`.
pub async fn take_snapshot(
    db: &Db,
    now: OffsetDateTime,
    weekly: bool,
    taken_by: Option<UserId>,
    runs: usize,
) -> Result<Option<i64>, AppError> {
    let kind = if weekly { "weekly" } else { "manual" };
    record_snapshot(db, now, kind, taken_by, runs).await
}

/// A backfilled snapshot: the forecast replayed from the events up to `at` (a past
/// instant), recorded as of `at` with kind `backfill`, so that accuracy can be measured
/// from the first day on data that has history.
pub async fn backfill_snapshot(db: &Db, at: OffsetDateTime, runs: usize) -> Result<i64, AppError> {
    record_snapshot(db, at, "backfill", None, runs)
        .await?
        .ok_or_else(|| AppError::Internal("backfill snapshot not stored".into()))
}

async fn record_snapshot(
    db: &Db,
    now: OffsetDateTime,
    kind: &str,
    taken_by: Option<UserId>,
    runs: usize,
) -> Result<Option<i64>, AppError> {
    let weekly = kind == "weekly";
    let week = weekly.then(|| iso_week(now));
    if let Some(w) = &week {
        if db.snapshot_of_week("weekly", w).await? {
            return Ok(None);
        }
    }
    let ctx = Ctx::system(db, now).await?;
    let seed = 1;
    let mut rows = Vec::new();
    for pipeline in ctx.dir.pipelines.iter().filter(|p| !p.archived) {
        if kind != "backfill" {
            rows.extend(projected_rows(db, &ctx, pipeline, runs, seed).await?);
            continue;
        }
        let mut events = db
            .pipeline_history(&Scope::All, pipeline.id, None, false, &Default::default())
            .await?;
        // Only what had happened by then.
        events.retain(|e| e.at <= now);
        if events.is_empty() {
            continue;
        }
        let lives = analytics::lives(&events);
        rows.extend(replayed_rows(
            &lives,
            pipeline,
            &ctx.dir.org,
            now,
            runs,
            seed,
        ));
    }
    let head = Snapshot {
        id: 0,
        kind: kind.into(),
        week,
        taken_at: now,
        taken_by,
        runs: runs as i32,
        seed: seed as i64,
    };
    match db.insert_snapshot(&head, &rows).await {
        Ok(id) => Ok(Some(id)),
        // Another instance took this week's snapshot meanwhile.
        Err(StoreError::Duplicate(_)) if weekly => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A snapshot taken on demand by an admin, a director or a manager.
pub async fn snapshot_now(db: &Db, ctx: &Ctx) -> Result<SnapshotView, AppError> {
    if ctx.actor.role == Role::Rep {
        return Err(AppError::Forbidden("snapshot_role"));
    }
    let id = take_snapshot(db, ctx.now, false, Some(ctx.actor.user_id), RUNS)
        .await?
        .ok_or_else(|| AppError::Internal("manual snapshot not stored".into()))?;
    snapshot(db, ctx, id).await
}

/// Takes this week's snapshot unless it exists; `Some(id)` when taken now.
pub async fn ensure_weekly(db: &Db, now: OffsetDateTime) -> Result<Option<i64>, AppError> {
    take_snapshot(db, now, true, None, RUNS).await
}

/// One turn of the weekly snapshot job (`jobs`, every hour): this ISO week's snapshot is
/// taken if it is missing; the outcome is logged.
pub async fn weekly_turn(db: &Db, now: OffsetDateTime) {
    match ensure_weekly(db, now).await {
        Ok(Some(id)) => tracing::info!(id, "weekly forecast snapshot taken"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = ?e, "weekly forecast snapshot failed"),
    }
}

/// Whether the caller may see a snapshot or accuracy row about `level`/team/owner.
fn sees_row(ctx: &Ctx, level: &str, team_id: Option<TeamId>, owner_id: Option<UserId>) -> bool {
    match level {
        "company" => ctx.scope == Scope::All,
        "team" => team_id.is_some_and(|t| sees_team(ctx, t)),
        _ => ctx.scope.covers(owner_id),
    }
}

/// A snapshot with the rows the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotView {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    pub rows: Vec<SnapshotRow>,
}

/// The latest snapshots (headers), newest first.
pub async fn snapshots(db: &Db, _ctx: &Ctx) -> Result<Vec<Snapshot>, AppError> {
    Ok(db.snapshots(200).await?)
}

pub async fn snapshot(db: &Db, ctx: &Ctx, id: i64) -> Result<SnapshotView, AppError> {
    let (snapshot, rows) = db.snapshot(id).await?.ok_or(AppError::NotFound)?;
    let rows = rows
        .into_iter()
        .filter(|r| sees_row(ctx, &r.level, r.team_id, r.owner_id))
        .collect();
    Ok(SnapshotView { snapshot, rows })
}

// ---- Accuracy ----

/// Which number of a snapshot is the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Configured,
    Empirical,
    Blended,
    P50,
}

impl Method {
    fn of(self, r: &SnapshotRow) -> i64 {
        match self {
            Method::Configured => r.configured,
            Method::Empirical => r.empirical,
            Method::Blended => r.blended,
            Method::P50 => r.p50,
        }
    }
}

/// One period for the company, a team or a rep: the forecast of the last snapshot taken
/// when or before the period began against what was won in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccuracyRow {
    #[schema(value_type = String, format = Date)]
    pub period_from: Date,
    #[schema(value_type = String, format = Date)]
    pub period_to: Date,
    /// `company`, `team` or `rep`.
    pub level: String,
    pub team_id: Option<TeamId>,
    pub owner_id: Option<UserId>,
    pub snapshot_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub snapshot_taken_at: OffsetDateTime,
    /// The chosen method's number.
    pub forecast: i64,
    pub configured: i64,
    pub empirical: i64,
    pub blended: i64,
    pub p50: i64,
    /// Won in the period (so far, while it runs).
    pub actual: i64,
    pub accuracy: f64,
    pub bias: Option<f64>,
    /// The period has ended.
    pub complete: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccuracyReport {
    pub pipeline_id: PipelineId,
    pub grain: String,
    pub method: Method,
    /// Mean accuracy of the company's (or, without it, every shown) complete periods.
    pub mean_accuracy: Option<f64>,
    pub rows: Vec<AccuracyRow>,
}

/// Accuracy per period, team and rep. Parameters: `pipeline_id`, `grain` (month, default, or
/// quarter), `method` (configured, default; empirical, blended or p50), `from` / `to` (the
/// periods starting in them; default the last twelve months), `level`, `team_id`,
/// `owner_id` (only those rows).
pub async fn accuracy_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<AccuracyReport, AppError> {
    let today = china_today(ctx.now);
    let (mut grain, mut method, mut pipeline_id) = ("month", Method::Configured, None);
    let (mut from, mut to) = (horizon::add_months(today, -12), today);
    let (mut level, mut team, mut owner) = (None::<String>, None, None);
    for (k, v) in params {
        match k.as_str() {
            "grain" => {
                grain = match v.as_str() {
                    "month" => "month",
                    "quarter" => "quarter",
                    _ => return Err(bad(k, "grain is month or quarter")),
                }
            }
            "method" => {
                method = serde_json::from_value(serde_json::Value::String(v.clone()))
                    .map_err(|_| bad(k, "method is configured, empirical, blended or p50"))?
            }
            "pipeline_id" => pipeline_id = Some(parse_id(k, v)?),
            "from" => from = param_date(k, v)?,
            "to" => to = param_date(k, v)?,
            "level" => {
                if !["company", "team", "rep"].contains(&v.as_str()) {
                    return Err(bad(k, "level is company, team or rep"));
                }
                level = Some(v.clone())
            }
            "team_id" => team = Some(parse_id(k, v)?),
            "owner_id" => owner = Some(parse_id(k, v)?),
            _ => return Err(unknown(k)),
        }
    }
    if to < from || (to - from).whole_days() > 3660 {
        return Err(AppError::bad_request(
            "to",
            "invalid_period",
            "the period runs from `from` to `to` (inclusive), at most ten years",
        ));
    }
    let pipeline = pipeline_for(ctx, pipeline_id)?.clone();
    let months_per = if grain == "quarter" { 3 } else { 1 };
    // The periods that start within [from, to] and have begun.
    let mut periods = Vec::new();
    let mut start = horizon::calendar_periods(from, months_per, 1)[0].0;
    if start < from {
        start = horizon::add_months(start, months_per as i32);
    }
    while start <= to.min(today) {
        let next = horizon::add_months(start, months_per as i32);
        periods.push((start, next.previous_day().expect("a day before")));
        start = next;
    }
    let mut rows = Vec::new();
    if let (Some(first), Some(last)) = (periods.first(), periods.last()) {
        let taken = db
            .snapshot_rows_for(pipeline.id, grain, first.0, last.0)
            .await?;
        // The last snapshot before each period began, per whom.
        let mut chosen: BTreeMap<(Date, Group), shangji_store::TakenRow> = BTreeMap::new();
        for t in taken {
            if t.taken_at > day_start(t.row.period_from) {
                continue;
            }
            let level = match t.row.level.as_str() {
                "company" => "company",
                "team" => "team",
                _ => "rep",
            };
            let key = Group {
                level,
                team_id: if level == "rep" { None } else { t.row.team_id },
                owner_id: t.row.owner_id,
            };
            chosen.insert((t.row.period_from, key), t);
        }
        // What each group won, from the deals won now (everything: rows are filtered below).
        let all = Ctx {
            scope: Scope::All,
            ..ctx.clone()
        };
        let of = super::fresh_pipeline_slice(db, &all, pipeline.id, None).await?;
        let inputs = super::forecast_inputs(db, &all, of, &pipeline, &periods).await?;
        let owners = db.pipeline_owners(pipeline.id).await?;
        let mut actual: BTreeMap<Group, Vec<i64>> = BTreeMap::new();
        for (g, members) in groups(&ctx.dir.org, &owners) {
            let theirs = analytics::ForecastInputs {
                deals: inputs
                    .deals
                    .iter()
                    .filter(|d| members.as_ref().is_none_or(|m| m.contains(&d.owner_id)))
                    .cloned()
                    .collect(),
                ..Default::default()
            };
            let won = analytics::forecast_from(&pipeline, &theirs, &periods, Weighting::Configured)
                .into_iter()
                .map(|b| b.won)
                .collect();
            actual.insert(
                Group {
                    team_id: if g.level == "rep" { None } else { g.team_id },
                    ..g
                },
                won,
            );
        }
        for ((period_from, g), t) in chosen {
            let Some(i) = periods.iter().position(|p| p.0 == period_from) else {
                continue;
            };
            let r = &t.row;
            if !sees_row(ctx, g.level, r.team_id, r.owner_id)
                || level.as_deref().is_some_and(|l| l != g.level)
                || team.is_some_and(|x| r.team_id != Some(x))
                || owner.is_some_and(|x| r.owner_id != Some(x))
            {
                continue;
            }
            let won = actual.get(&g).map_or(0, |w| w[i]);
            let forecast = method.of(r);
            let a = horizon::accuracy(forecast, won);
            rows.push(AccuracyRow {
                period_from,
                period_to: periods[i].1,
                level: g.level.to_string(),
                team_id: r.team_id,
                owner_id: r.owner_id,
                snapshot_id: t.snapshot_id,
                snapshot_taken_at: t.taken_at,
                forecast,
                configured: r.configured,
                empirical: r.empirical,
                blended: r.blended,
                p50: r.p50,
                actual: won,
                accuracy: a.accuracy,
                bias: a.bias,
                complete: periods[i].1 < today,
            });
        }
    }
    let order = |l: &str| match l {
        "company" => 0,
        "team" => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        (order(&a.level), a.team_id, a.owner_id, a.period_from).cmp(&(
            order(&b.level),
            b.team_id,
            b.owner_id,
            b.period_from,
        ))
    });
    let top = rows
        .first()
        .map(|r| (r.level.clone(), r.team_id, r.owner_id));
    let measured: Vec<horizon::Accuracy> = rows
        .iter()
        .filter(|r| r.complete && top == Some((r.level.clone(), r.team_id, r.owner_id)))
        .map(|r| horizon::Accuracy {
            accuracy: r.accuracy,
            bias: r.bias,
        })
        .collect();
    Ok(AccuracyReport {
        pipeline_id: pipeline.id,
        grain: grain.to_string(),
        method,
        mean_accuracy: horizon::mean_accuracy(&measured),
        rows,
    })
}

// ---- Backtest ----

/// One backtested forecast: made at `at` from the history before it, for the period.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestRow {
    pub at: Date,
    pub period_from: Date,
    pub period_to: Date,
    pub configured: i64,
    pub empirical: i64,
    pub blended: i64,
    pub p50: i64,
    pub actual: i64,
}

/// What the model would have forecast at each date from `from` to `to` (every `months`
/// months, or every `weeks` weeks) for the month starting on or after that date, with only the
/// events before it, against what was won in that month (the history as of `now`).
pub fn backtest(
    events: &[OpportunityEvent],
    pipeline: &Pipeline,
    dates: &[Date],
    now: OffsetDateTime,
    runs: usize,
    seed: u64,
) -> Vec<BacktestRow> {
    let all = analytics::lives(events);
    let mut out = Vec::new();
    for &d in dates {
        let at = day_start(d);
        let start = if d.day() == 1 {
            d
        } else {
            horizon::add_months(d, 1)
        };
        let period = [(
            start,
            horizon::add_months(start, 1)
                .previous_day()
                .expect("a day before"),
        )];
        if day_start(start) > now {
            continue;
        }
        let before: Vec<OpportunityEvent> = events.iter().filter(|e| e.at < at).cloned().collect();
        let lives = analytics::lives(&before);
        let w =
            |weighting| analytics::forecast(&lives, pipeline, at, &period, weighting)[0].forecast;
        let sim = analytics::monte_carlo(&lives, pipeline, at, &period, runs, seed);
        let actual =
            analytics::forecast(&all, pipeline, now, &period, Weighting::Configured)[0].won;
        out.push(BacktestRow {
            at: d,
            period_from: period[0].0,
            period_to: period[0].1,
            configured: w(Weighting::Configured),
            empirical: w(Weighting::Empirical),
            blended: w(Weighting::Blended),
            p50: sim[0].p50,
            actual,
        });
    }
    out
}

/// Reads the whole history of a pipeline (default: the default pipeline) for the backtest.
pub async fn backtest_history(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: Option<PipelineId>,
) -> Result<(Pipeline, Vec<OpportunityEvent>), AppError> {
    let pipeline = pipeline_for(ctx, pipeline_id)?.clone();
    let events = db
        .pipeline_history(&Scope::All, pipeline.id, None, false, &Default::default())
        .await?;
    Ok((pipeline, events))
}
