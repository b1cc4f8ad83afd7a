//! What the pipeline board and the forecast board read: totals per column by SQL
//! aggregation (never by loading rows), one column's cards a page at a time, and when each
//! shown card last had a customer-facing follow-up — one grouped query for all of them.

use shangji_core::model::Opportunity;
use shangji_core::Scope;
use time::Date;

use crate::crud::{list_filters, ListQuery};
use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::Entity;
use crate::error::StoreError;
use crate::on_pool;

/// How the board's columns are formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Columns {
    /// One column per stage (`key` is the stage id).
    Stage,
    /// One column per expected close month: `key` 0 holds the opportunities without a close
    /// date or dated before `bounds[0]`; `key` i (1..) those dated in `[bounds[i-1], bounds[i])`.
    /// Those dated on or after the last bound are left out.
    CloseMonth { bounds: Vec<Date> },
}

/// The cards of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Stage(i64),
    /// No close date, or dated before this day.
    Undated {
        before: Date,
    },
    /// Dated in `[from, to)`.
    Dated {
        from: Date,
        to: Date,
    },
}

/// The totals of one column in one currency (sums never mix currencies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnTotal {
    pub key: i64,
    pub currency: String,
    pub count: i64,
    /// Σ amount, minor units.
    pub amount_minor: i64,
    /// Σ amount × probability ÷ 100, each term rounded down, minor units.
    pub weighted_minor: i64,
}

/// A card: the opportunity (without its custom values) and its account's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub opportunity: Opportunity,
    pub account_name: String,
}

/// The conditions every board query shares: visibility, the list filters, and a tag.
fn filters(sql: &mut Sql, scope: &Scope, query: &ListQuery, tag: Option<&str>) {
    list_filters::<Opportunity>(sql, scope, query);
    if let Some(tag) = tag.map(str::trim).filter(|t| !t.is_empty()) {
        // Tags are a JSON array in text: the quoted tag is one of its elements.
        let quoted = serde_json::to_string(tag).unwrap_or_default();
        let pattern = format!(
            "%{}%",
            quoted
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        sql.push(" AND opportunities.tags LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\'");
    }
}

fn push_column(sql: &mut Sql, column: &Column) {
    match column {
        Column::Stage(id) => {
            sql.push(" AND opportunities.stage_id = ").bind(*id);
        }
        Column::Undated { before } => {
            sql.push(" AND (opportunities.close_date IS NULL OR opportunities.close_date < ")
                .bind(*before)
                .push(")");
        }
        Column::Dated { from, to } => {
            sql.push(" AND opportunities.close_date >= ")
                .bind(*from)
                .push(" AND opportunities.close_date < ")
                .bind(*to);
        }
    }
}

impl Db {
    /// Count, amount and weighted amount per column (and currency) of the opportunities in
    /// `scope` matching `query` and `tag`.
    pub async fn board_totals(
        &self,
        scope: &Scope,
        query: &ListQuery,
        tag: Option<&str>,
        columns: &Columns,
    ) -> Result<Vec<ColumnTotal>, StoreError> {
        let mut sql = Sql::new("SELECT ");
        match columns {
            Columns::Stage => {
                sql.push("opportunities.stage_id");
            }
            Columns::CloseMonth { bounds } => {
                sql.push("CAST(CASE WHEN opportunities.close_date IS NULL THEN 0");
                for (i, b) in bounds.iter().enumerate() {
                    sql.push(" WHEN opportunities.close_date < ")
                        .bind(*b)
                        .push(&format!(" THEN {i}"));
                }
                sql.push(" ELSE -1 END AS BIGINT)");
            }
        }
        sql.push(
            " AS k, opportunities.currency AS currency, COUNT(*) AS n, \
             CAST(SUM(opportunities.amount_minor) AS BIGINT) AS amount, \
             CAST(SUM(opportunities.amount_minor / 100 * opportunities.probability \
             + opportunities.amount_minor % 100 * opportunities.probability / 100) AS BIGINT) AS weighted \
             FROM opportunities",
        );
        filters(&mut sql, scope, query, tag);
        if let Columns::CloseMonth { bounds } = columns {
            if let Some(last) = bounds.last() {
                sql.push(" AND (opportunities.close_date IS NULL OR opportunities.close_date < ")
                    .bind(*last)
                    .push(")");
            }
        }
        sql.push(" GROUP BY k, opportunities.currency ORDER BY k, opportunities.currency");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(ColumnTotal {
                        key: r.i64("k")?,
                        currency: r.text("currency")?,
                        count: r.i64("n")?,
                        amount_minor: r.i64("amount")?,
                        weighted_minor: r.i64("weighted")?,
                    })
                })
                .collect()
        })
    }

    /// A page of one column's cards, biggest amount first (`query.limit`, `query.offset`).
    pub async fn board_cards(
        &self,
        scope: &Scope,
        query: &ListQuery,
        tag: Option<&str>,
        column: &Column,
    ) -> Result<Vec<Card>, StoreError> {
        // The page's ids first, from the index alone; then only those rows.
        let mut sql = Sql::new(
            "SELECT opportunities.*, (SELECT accounts.name FROM accounts WHERE accounts.id = opportunities.account_id) AS account_name \
             FROM opportunities WHERE opportunities.id IN (SELECT opportunities.id FROM opportunities",
        );
        filters(&mut sql, scope, query, tag);
        push_column(&mut sql, column);
        sql.push(" ORDER BY opportunities.amount_minor DESC, opportunities.id DESC LIMIT ")
            .bind(query.limit)
            .push(" OFFSET ")
            .bind(query.offset)
            .push(") ORDER BY opportunities.amount_minor DESC, opportunities.id DESC");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(Card {
                        opportunity: Opportunity::from_row(r)?,
                        account_name: r.opt_text("account_name")?.unwrap_or_default(),
                    })
                })
                .collect()
        })
    }
}
