//! What the reports read besides the stage history itself: the source / industry filter on
//! that history, each opportunity's source and its account's industry (for grouping), the
//! leads of a period by source, and the industries known (for a filter's choices).

use shangji_core::model::*;
use shangji_core::Scope;
use time::OffsetDateTime;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::entity::{Access, Entity};
use crate::error::StoreError;
use crate::on_pool;

/// Narrows the opportunities a report reads: by their source channel and by their account's
/// industry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub source: Option<String>,
    pub industry: Option<String>,
}

impl HistoryFilter {
    /// Appends ` AND …` conditions on the `opportunities` table.
    pub(crate) fn push(&self, sql: &mut Sql) {
        if let Some(s) = &self.source {
            sql.push(" AND opportunities.source = ").bind(s.as_str());
        }
        if let Some(i) = &self.industry {
            sql.push(" AND opportunities.account_id IN (SELECT id FROM accounts WHERE industry = ")
                .bind(i.as_str())
                .push(")");
        }
    }
}

/// A lead created in a report's period: its source, when it was created, and when it was
/// first qualified into an opportunity (if it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadFact {
    pub source: Option<String>,
    pub created_at: OffsetDateTime,
    pub converted_at: Option<OffsetDateTime>,
}

impl Db {
    /// The leads created in `[from, to)` that `scope` may see (optionally owned by one of
    /// `owners`; of one source and industry when `filter` says so), each with the instant it
    /// was first qualified into an opportunity.
    pub async fn lead_facts(
        &self,
        scope: &Scope,
        from: OffsetDateTime,
        to: OffsetDateTime,
        owners: Option<&[UserId]>,
        filter: &HistoryFilter,
    ) -> Result<Vec<LeadFact>, StoreError> {
        let mut sql = Sql::new(
            "SELECT leads.source AS source, leads.created_at AS created_at, (SELECT MIN(o.at) FROM lead_outcomes o WHERE o.lead_id = leads.id AND o.outcome = 'qualified') AS converted_at FROM leads WHERE ",
        );
        Lead::scope_sql(scope, Access::Read, &mut sql);
        sql.push(" AND leads.created_at >= ").bind(from);
        sql.push(" AND leads.created_at < ").bind(to);
        if let Some(owners) = owners {
            sql.push(" AND leads.owner_id IN ");
            sql.bind_list(if owners.is_empty() { &[-1] } else { owners });
        }
        if let Some(s) = &filter.source {
            sql.push(" AND leads.source = ").bind(s.as_str());
        }
        if let Some(i) = &filter.industry {
            sql.push(" AND leads.industry = ").bind(i.as_str());
        }
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    Ok(LeadFact {
                        source: r.opt_text("source")?,
                        created_at: r.ts("created_at")?,
                        converted_at: r.opt_ts("converted_at")?,
                    })
                })
                .collect()
        })
    }

    /// The industries of the accounts `scope` may see, in order (a report filter's choices).
    pub async fn industries(&self, scope: &Scope) -> Result<Vec<String>, StoreError> {
        let mut sql = Sql::new("SELECT DISTINCT industry FROM accounts WHERE ");
        Account::scope_sql(scope, Access::Read, &mut sql);
        sql.push(" AND industry IS NOT NULL AND industry <> '' ORDER BY industry");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| r.text("industry")).collect()
        })
    }
}
