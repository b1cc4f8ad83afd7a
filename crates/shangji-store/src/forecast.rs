//! Managers' forecast adjustments: appended, never changed; read per period, newest first.

use shangji_core::model::{TeamId, UserId};
use shangji_core::rollup::Adjustment;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

fn adjustment_from_row<R: RowExt>(r: &R) -> Result<Adjustment, StoreError> {
    Ok(Adjustment {
        id: r.i64("id")?,
        team_id: r.opt_i64("team_id")?,
        user_id: r.opt_i64("user_id")?,
        period: r.text("period")?,
        amount_minor: r.i64("amount_minor")?,
        currency: r.text("currency")?,
        reason: r.text("reason")?,
        actor_id: r.i64("actor_id")?,
        at: r.ts("at")?,
    })
}

impl Db {
    /// Appends an adjustment (its `id` is ignored) and returns its id.
    pub async fn insert_adjustment(&self, a: &Adjustment) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO forecast_adjustments (team_id, user_id, period, amount_minor, currency, reason, actor_id, at) VALUES (",
        );
        sql.bind(a.team_id).push(", ").bind(a.user_id);
        sql.push(", ").bind(a.period.clone());
        sql.push(", ").bind(a.amount_minor);
        sql.push(", ").bind(a.currency.clone());
        sql.push(", ").bind(a.reason.clone());
        sql.push(", ").bind(a.actor_id);
        sql.push(", ").bind(a.at).push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?))
    }

    /// Adjustments, newest first: of one period (`YYYY-MM` / `YYYY-Qn`) or all, optionally
    /// only those on one team or one person.
    pub async fn adjustments(
        &self,
        period: Option<&str>,
        team_id: Option<TeamId>,
        user_id: Option<UserId>,
    ) -> Result<Vec<Adjustment>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM forecast_adjustments WHERE 1 = 1");
        if let Some(p) = period {
            sql.push(" AND period = ").bind(p);
        }
        if let Some(t) = team_id {
            sql.push(" AND team_id = ").bind(t);
        }
        if let Some(u) = user_id {
            sql.push(" AND user_id = ").bind(u);
        }
        sql.push(" ORDER BY at DESC, id DESC");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(adjustment_from_row).collect()
        })
    }
}
