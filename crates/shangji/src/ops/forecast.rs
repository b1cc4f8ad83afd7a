//! The forecast page's numbers (weighted forecast, Monte Carlo band and the open amounts by
//! forecast category, per period), the manager roll-up along the team tree, and managers'
//! adjustments. The API and the pages call these; the rules are in `shangji_core::rollup`.

use std::collections::BTreeMap;

use serde::Serialize;
use shangji_core::analytics::{self, Weighting};
use shangji_core::model::*;
use shangji_core::rollup::{self, Adjustment, AdjustmentInput, Node, Numbers, RollupPeriod};
use shangji_core::visibility::Scope;
use shangji_store::Db;

use super::{forecast_inputs, forecast_request, fresh_pipeline_slice, simulate, Ctx, Report};
use crate::error::AppError;

/// One forecast period: won, open and weighted (as `/analytics/forecast`), the open amount
/// by forecast category as of now, and the simulated P10 / P50 / P90 (CNY minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ForecastRow {
    #[schema(value_type = String, format = Date)]
    pub from: time::Date,
    #[schema(value_type = String, format = Date)]
    pub to: time::Date,
    pub won: i64,
    pub open: i64,
    pub weighted: i64,
    /// `won + weighted`.
    pub forecast: i64,
    pub commit: i64,
    pub best_case: i64,
    pub pipeline: i64,
    pub omitted: i64,
    /// `won + commit`.
    pub call: i64,
    pub p10: i64,
    pub p50: i64,
    pub p90: i64,
}

/// The forecast page: the usual report and forecast parameters (`grain`, `periods`,
/// `weighting`, `runs`, `seed`, `pipeline_id`, `owner_id`, `team_id`), read from the
/// projection.
pub async fn overview(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<ForecastRow>>, AppError> {
    let (f, r, inputs) = forecast_request(db, ctx, params).await?;
    let buckets = analytics::forecast_from(&r.pipeline, &inputs, &f.periods, f.weighting);
    let split = rollup::owner_numbers_from(&r.pipeline, &inputs, &f.periods, f.weighting);
    let sim = simulate(&r.pipeline, inputs, ctx.now, &f.periods, f.runs, f.seed).await?;
    let rows = buckets
        .into_iter()
        .zip(sim)
        .zip(split)
        .map(|((b, s), by_owner)| {
            let mut n = Numbers::default();
            by_owner.values().for_each(|x| n.add(x));
            ForecastRow {
                from: b.from,
                to: b.to,
                won: b.won,
                open: b.open,
                weighted: b.weighted,
                forecast: b.forecast,
                commit: n.commit,
                best_case: n.best_case,
                pipeline: n.pipeline,
                omitted: n.omitted,
                call: b.won + n.commit,
                p10: s.p10,
                p50: s.p50,
                p90: s.p90,
            }
        })
        .collect();
    Ok(r.report(rows))
}

/// The roll-up for one period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rollup {
    /// `YYYY-MM` or `YYYY-Qn`.
    pub period: String,
    #[schema(value_type = String, format = Date)]
    pub from: time::Date,
    #[schema(value_type = String, format = Date)]
    pub to: time::Date,
    pub weighting: Weighting,
    /// The pipeline, or every pipeline when none was given.
    pub pipeline_id: Option<PipelineId>,
    pub currency: String,
    pub rows: Vec<Node>,
}

/// The current month as a roll-up period.
pub fn this_month(ctx: &Ctx) -> RollupPeriod {
    let today = shangji_core::calendar::china_date(ctx.now);
    RollupPeriod::parse(
        "period",
        &format!("{}-{:02}", today.year(), today.month() as u8),
    )
    .expect("a month")
}

/// The roll-up of `period` (default this month; `YYYY-MM` or `YYYY-Qn`) along the team tree
/// the caller may see, over one pipeline (`pipeline_id`) or all, weighted by `weighting`
/// (default configured): each person's numbers from the deals the caller sees, summed per
/// team, with the latest adjustment of each row.
pub async fn rollup(db: &Db, ctx: &Ctx, params: &[(String, String)]) -> Result<Rollup, AppError> {
    let mut period = this_month(ctx);
    let mut weighting = Weighting::Configured;
    let mut pipeline_id = None;
    for (k, v) in params {
        match k.as_str() {
            "period" => period = RollupPeriod::parse(k, v).map_err(AppError::BadRequest)?,
            "weighting" => {
                weighting =
                    serde_json::from_value(serde_json::Value::String(v.clone())).map_err(|_| {
                        AppError::bad_request(
                            k,
                            "invalid_parameter",
                            "weighting is configured, empirical or blended",
                        )
                    })?
            }
            "pipeline_id" => {
                let id = v.parse::<i64>().map_err(|_| {
                    AppError::bad_request(k, "invalid_parameter", format!("`{v}` is not an id"))
                })?;
                ctx.dir.pipeline(id).ok_or(AppError::NotFound)?;
                pipeline_id = Some(id);
            }
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown roll-up parameter `{k}`"),
                ))
            }
        }
    }
    let mut numbers: BTreeMap<UserId, Numbers> = BTreeMap::new();
    for p in ctx
        .dir
        .pipelines
        .iter()
        .filter(|p| pipeline_id.is_none_or(|id| id == p.id))
    {
        let periods = [(period.from, period.to)];
        let of = fresh_pipeline_slice(db, ctx, p.id, None).await?;
        let inputs = forecast_inputs(db, ctx, of, p, &periods).await?;
        let per = rollup::owner_numbers_from(p, &inputs, &periods, weighting);
        for (owner, n) in per.into_iter().flatten() {
            numbers.entry(owner).or_default().add(&n);
        }
    }
    let adjustments = db.adjustments(Some(&period.key()), None, None).await?;
    Ok(Rollup {
        period: period.key(),
        from: period.from,
        to: period.to,
        weighting,
        pipeline_id,
        currency: rollup::FORECAST_CURRENCY.into(),
        rows: rollup::rollup(&ctx.actor, &ctx.dir.org, &numbers, &adjustments),
    })
}

/// Records an adjustment: the fields are checked (400 naming the field), then whether the
/// caller may adjust that team or person (403), then it is appended.
pub async fn adjust(db: &Db, ctx: &Ctx, input: AdjustmentInput) -> Result<Adjustment, AppError> {
    let (target, period, amount_minor, reason) =
        rollup::check_adjustment(&input).map_err(AppError::BadRequest)?;
    let exists = match target {
        rollup::Target::Team(t) => ctx.dir.org.teams.iter().any(|x| x.id == t),
        rollup::Target::User(u) => ctx.dir.org.users.iter().any(|(id, _)| *id == u),
    };
    if !exists {
        return Err(AppError::NotFound);
    }
    if !rollup::may_adjust(&ctx.actor, &ctx.dir.org, target) {
        return Err(AppError::Forbidden("adjust_forbidden"));
    }
    let mut a = Adjustment {
        id: 0,
        team_id: input.team_id,
        user_id: input.user_id,
        period: period.key(),
        amount_minor,
        currency: rollup::FORECAST_CURRENCY.into(),
        reason,
        actor_id: ctx.actor.user_id,
        at: ctx.now,
    };
    a.id = db.insert_adjustment(&a).await?;
    Ok(a)
}

/// The adjustments the caller may see (on teams and people in their visibility), newest
/// first: `period`, `team_id`, `user_id` narrow them.
pub async fn adjustments(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Vec<Adjustment>, AppError> {
    let (mut period, mut team, mut user) = (None, None, None);
    for (k, v) in params {
        let id = || {
            v.parse::<i64>().map_err(|_| {
                AppError::bad_request(k, "invalid_parameter", format!("`{v}` is not an id"))
            })
        };
        match k.as_str() {
            "period" => {
                period = Some(
                    RollupPeriod::parse(k, v)
                        .map_err(AppError::BadRequest)?
                        .key(),
                )
            }
            "team_id" => team = Some(id()?),
            "user_id" => user = Some(id()?),
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown parameter `{k}`"),
                ))
            }
        }
    }
    let all = db.adjustments(period.as_deref(), team, user).await?;
    Ok(all.into_iter().filter(|a| visible(ctx, a)).collect())
}

fn visible(ctx: &Ctx, a: &Adjustment) -> bool {
    match (&ctx.scope, a.team_id, a.user_id) {
        (Scope::All, _, _) => true,
        (Scope::Teams { teams, .. }, Some(t), _) => teams.contains(&t),
        (scope, None, Some(u)) => scope.covers(Some(u)),
        _ => false,
    }
}

impl super::reports::Tabular for Vec<ForecastRow> {
    fn sheets(&self, n: &super::reports::Names) -> Vec<super::reports::Sheet> {
        use super::reports::Cell;
        let rows = self
            .iter()
            .map(|b| {
                let mut row = vec![Cell::Text(b.from.to_string()), Cell::Text(b.to.to_string())];
                row.extend(
                    [
                        b.won,
                        b.commit,
                        b.best_case,
                        b.pipeline,
                        b.omitted,
                        b.weighted,
                        b.forecast,
                        b.call,
                        b.p10,
                        b.p50,
                        b.p90,
                    ]
                    .map(Cell::Money),
                );
                row
            })
            .collect();
        vec![n.sheet(
            "forecast",
            &[
                "from",
                "to",
                "won_amount",
                "commit",
                "best_case",
                "pipeline",
                "omitted",
                "weighted",
                "forecast",
                "call",
                "p10",
                "p50",
                "p90",
            ],
            rows,
        )]
    }
}
