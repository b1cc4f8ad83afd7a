//! What the list pages need beyond `list`: saved views, the search box's lookups, names of
//! linked records in one query, and the outcome of working a lead — a conversion writes the
//! account, the contact, the opportunity with its history, the lead and the outcome in one
//! transaction.

use shangji_core::custom_fields::CustomChange;
use shangji_core::model::*;
use shangji_core::opportunity::NewEvent;
use shangji_core::Scope;
use time::OffsetDateTime;

use crate::crud::{push_events_insert, push_insert, update_sql, EventsOf};
use crate::custom::{push_values_insert, rows_of};
use crate::db::{bind_all, Arg, Db, RowExt, Sql};
use crate::entity::{Access, Entity};
use crate::error::StoreError;
use crate::on_pool;

/// A user's named list: the query string of a list page (filters, sort, columns) for one
/// record kind (`opportunities`, `accounts`, …). Private to its owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SavedView {
    pub id: i64,
    pub user_id: UserId,
    /// The list it belongs to: opportunities, accounts, contacts, leads, activities or tasks.
    pub kind: String,
    pub name: String,
    /// The list's query string, e.g. `status=open&sort=-amount_minor&cols=title&cols=amount`.
    pub query: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

fn view_from_row<R: RowExt>(r: &R) -> Result<SavedView, StoreError> {
    Ok(SavedView {
        id: r.i64("id")?,
        user_id: r.i64("user_id")?,
        kind: r.text("record_kind")?,
        name: r.text("name")?,
        query: r.text("query")?,
        created_at: r.ts("created_at")?,
    })
}

/// One condition of a search; the conditions given to [`Db::search`] are alternatives.
#[derive(Debug, Clone)]
pub enum Match {
    /// The column equals the value (an index lookup).
    Eq(&'static str, String),
    /// The column is at least the first value and below the second (an index range: a
    /// prefix).
    Range(&'static str, String, String),
    /// The column contains the value, case-insensitively (a scan).
    Contains(&'static str, String),
}

/// A new record written with a lead's conversion, with its custom values.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    pub account: &'a Account,
    pub custom: &'a [CustomChange],
}

#[derive(Debug, Clone, Copy)]
pub struct NewContact<'a> {
    /// Its `account_id` is set to the conversion's account.
    pub contact: &'a Contact,
    pub custom: &'a [CustomChange],
}

#[derive(Debug, Clone, Copy)]
pub struct NewOpportunity<'a> {
    /// Its `account_id` and `primary_contact_id` are set to the conversion's records.
    pub opp: &'a Opportunity,
    pub events: &'a [NewEvent],
    pub custom: &'a [CustomChange],
}

/// The end of working a lead: qualified (with the records it became) or disqualified (with
/// the reason). The lead is saved with its new status after the records are inserted, so a
/// lead changed meanwhile rolls everything back.
#[derive(Debug, Clone)]
pub struct LeadOutcome<'a> {
    pub lead: &'a Lead,
    pub expected_version: i64,
    /// `qualified` or `disqualified`.
    pub outcome: &'static str,
    pub reason: Option<String>,
    /// An account to create, or…
    pub new_account: Option<NewAccount<'a>>,
    /// …an existing one to link.
    pub account_id: Option<AccountId>,
    pub contact: Option<NewContact<'a>>,
    pub opportunity: Option<NewOpportunity<'a>>,
    pub actor_id: UserId,
    pub at: OffsetDateTime,
}

/// The ids a lead's outcome wrote or linked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeIds {
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub opportunity_id: Option<OpportunityId>,
}

/// A lead's recorded outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LeadOutcomeRow {
    pub outcome: String,
    pub reason: Option<String>,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub opportunity_id: Option<OpportunityId>,
    pub actor_id: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

fn set(cols: &mut [(&'static str, Arg)], name: &str, value: Arg) {
    if let Some(c) = cols.iter_mut().find(|(c, _)| *c == name) {
        c.1 = value;
    }
}

impl Db {
    /// A user's saved views, of one list or of all, by name.
    pub async fn saved_views(
        &self,
        user_id: UserId,
        kind: Option<&str>,
    ) -> Result<Vec<SavedView>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM saved_views WHERE user_id = ");
        sql.bind(user_id);
        if let Some(k) = kind {
            sql.push(" AND record_kind = ").bind(k);
        }
        sql.push(" ORDER BY record_kind, name, id");
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(view_from_row).collect()
        })
    }

    /// One of a user's saved views (`None` when it is someone else's).
    pub async fn saved_view(
        &self,
        user_id: UserId,
        id: i64,
    ) -> Result<Option<SavedView>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM saved_views WHERE id = ");
        sql.bind(id).push(" AND user_id = ").bind(user_id);
        on_pool!(self, p => {
            let row = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_optional(p).await?;
            row.as_ref().map(view_from_row).transpose()
        })
    }

    /// Saves a view; a name the user already gave a view of that list is `Duplicate`.
    pub async fn insert_saved_view(&self, v: &SavedView) -> Result<i64, StoreError> {
        let mut sql = Sql::new("");
        push_insert_plain(
            &mut sql,
            "saved_views",
            &[
                ("user_id", v.user_id.into()),
                ("record_kind", v.kind.clone().into()),
                ("name", v.name.clone().into()),
                ("query", v.query.clone().into()),
                ("created_at", v.created_at.into()),
            ],
        );
        let _writer = self.writer().await;
        on_pool!(self, p => {
            Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(p).await?)
        })
    }

    /// Deletes one of a user's views; `false` when they have none by that id.
    pub async fn delete_saved_view(&self, user_id: UserId, id: i64) -> Result<bool, StoreError> {
        let mut sql = Sql::new("DELETE FROM saved_views WHERE id = ");
        sql.bind(id).push(" AND user_id = ").bind(user_id);
        Ok(self.execute(&sql).await? > 0)
    }

    /// Records in `scope`, not archived, that meet any of `matches`; most recently updated
    /// first.
    pub async fn search<E: Entity>(
        &self,
        scope: &Scope,
        matches: &[Match],
        limit: i64,
    ) -> Result<Vec<E>, StoreError> {
        if matches.is_empty() {
            return Ok(vec![]);
        }
        let t = E::TABLE;
        let mut sql = Sql::new(&format!("SELECT * FROM {t} WHERE "));
        E::scope_sql(scope, Access::Read, &mut sql);
        sql.push(&format!(" AND {t}.archived = ")).bind(false);
        sql.push(" AND (");
        for (i, m) in matches.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            match m {
                Match::Eq(col, v) => {
                    sql.push(&format!("{t}.{col} = ")).bind(v.clone());
                }
                Match::Range(col, from, to) => {
                    sql.push(&format!("({t}.{col} >= "))
                        .bind(from.clone())
                        .push(&format!(" AND {t}.{col} < "))
                        .bind(to.clone())
                        .push(")");
                }
                Match::Contains(col, v) => {
                    let escaped = v
                        .to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    sql.push(&format!("LOWER({t}.{col}) LIKE "))
                        .bind(format!("%{escaped}%"))
                        .push(" ESCAPE '\\'");
                }
            }
        }
        sql.push(&format!(
            ") ORDER BY {t}.updated_at DESC, {t}.id DESC LIMIT "
        ))
        .bind(limit);
        let mut found: Vec<E> = on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(E::from_row).collect::<Result<Vec<E>, _>>()?
        });
        self.fill_custom(&mut found).await?;
        Ok(found)
    }

    /// The `col` (a name or title) of the records of `ids` readable in `scope`, in one
    /// query: the names a list shows for the records its rows link to.
    pub async fn names_in_scope<E: Entity>(
        &self,
        scope: &Scope,
        col: &'static str,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let t = E::TABLE;
        let mut sql = Sql::new(&format!(
            "SELECT {t}.id AS id, {t}.{col} AS name FROM {t} WHERE "
        ));
        E::scope_sql(scope, Access::Read, &mut sql);
        sql.push(&format!(" AND {t}.id IN "));
        sql.bind_list(ids);
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, r.opt_text("name")?.unwrap_or_default()))).collect()
        })
    }

    /// Writes a lead's outcome: the new records (each with its custom values, the
    /// opportunity with its events), the lead with its new status, and the outcome row — all
    /// or nothing.
    pub async fn save_lead_outcome(&self, o: &LeadOutcome<'_>) -> Result<OutcomeIds, StoreError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            let mut tx = p.begin_with(self.write_begin()).await?;
            let mut ids = OutcomeIds { account_id: o.account_id, ..Default::default() };
            let mut values: Vec<(RecordKind, i64, &[CustomChange])> = Vec::new();
            if let Some(a) = o.new_account {
                let mut sql = Sql::new("");
                push_insert(&mut sql, Account::TABLE, &a.account.columns());
                let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                ids.account_id = Some(id);
                values.push((RecordKind::Account, id, a.custom));
            }
            if let Some(c) = o.contact {
                let mut cols = c.contact.columns();
                set(&mut cols, "account_id", ids.account_id.into());
                let mut sql = Sql::new("");
                push_insert(&mut sql, Contact::TABLE, &cols);
                let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                ids.contact_id = Some(id);
                values.push((RecordKind::Contact, id, c.custom));
            }
            if let Some(n) = o.opportunity {
                let account = ids.account_id.ok_or_else(|| StoreError::Config("an opportunity needs an account".into()))?;
                let mut cols = n.opp.columns();
                set(&mut cols, "account_id", account.into());
                set(&mut cols, "primary_contact_id", ids.contact_id.into());
                let mut sql = Sql::new("");
                push_insert(&mut sql, Opportunity::TABLE, &cols);
                let id: i64 = bind_all!(sqlx::query_scalar(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
                ids.opportunity_id = Some(id);
                if !n.events.is_empty() {
                    let mut sql = Sql::new("");
                    push_events_insert(&mut sql, EventsOf::Id(id), n.events);
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
                values.push((RecordKind::Opportunity, id, n.custom));
            }
            for (kind, id, custom) in values {
                let rows = rows_of(custom);
                if !rows.is_empty() {
                    let mut sql = Sql::new("");
                    push_values_insert(&mut sql, kind, EventsOf::Id(id), &rows);
                    bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?;
                }
            }
            let sql = update_sql(o.lead, &o.lead.columns(), o.expected_version);
            let n = bind_all!(sqlx::query(&sql.text), &sql.args).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                let current: Option<i64> = sqlx::query_scalar("SELECT version FROM leads WHERE id = $1")
                    .bind(o.lead.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(current.map_or(StoreError::NotFound, |current_version| StoreError::Conflict { current_version }));
            }
            let mut sql = Sql::new("");
            push_insert_plain(
                &mut sql,
                "lead_outcomes",
                &[
                    ("lead_id", o.lead.id.into()),
                    ("outcome", o.outcome.into()),
                    ("reason", o.reason.clone().into()),
                    ("account_id", ids.account_id.into()),
                    ("contact_id", ids.contact_id.into()),
                    ("opportunity_id", ids.opportunity_id.into()),
                    ("actor_id", o.actor_id.into()),
                    ("at", o.at.into()),
                ],
            );
            bind_all!(sqlx::query_scalar::<_, i64>(&sql.text), &sql.args).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(ids)
        })
    }

    /// A lead's outcomes, oldest first.
    pub async fn lead_outcomes(&self, lead_id: LeadId) -> Result<Vec<LeadOutcomeRow>, StoreError> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM lead_outcomes WHERE lead_id = $1 ORDER BY at, id")
                .bind(lead_id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(LeadOutcomeRow {
                        outcome: r.text("outcome")?,
                        reason: r.opt_text("reason")?,
                        account_id: r.opt_i64("account_id")?,
                        contact_id: r.opt_i64("contact_id")?,
                        opportunity_id: r.opt_i64("opportunity_id")?,
                        actor_id: r.i64("actor_id")?,
                        at: r.ts("at")?,
                    })
                })
                .collect()
        })
    }
}

/// `INSERT … RETURNING id` of a row without a version.
fn push_insert_plain(sql: &mut Sql, table: &str, cols: &[(&'static str, Arg)]) {
    let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    sql.push(&format!(
        "INSERT INTO {table} ({}) VALUES (",
        names.join(", ")
    ));
    for (i, (_, v)) in cols.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(v.clone());
    }
    sql.push(") RETURNING id");
}
