//! The audit log (`shangji_core::audit`): entries are added, and read newest first; the
//! schema's triggers refuse any change.

use shangji_core::audit::{AuditEntry, AuditFilter};
use shangji_core::model::Id;

use crate::db::{bind_all, Db, RowExt, Sql};
use crate::error::StoreError;
use crate::on_pool;

fn entry_from_row(r: &impl RowExt) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.i64("id")?,
        at: r.ts("at")?,
        actor_id: r.opt_i64("actor_id")?,
        actor_login: r.opt_text("actor_login")?,
        action: r.parse("action")?,
        target: r.text("target")?,
        detail: r.text("detail")?,
        address: r.opt_text("address")?,
    })
}

impl Db {
    /// Adds an entry (its `id` is ignored); the new id.
    pub async fn insert_audit(&self, e: &AuditEntry) -> Result<Id, StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO audit_log (at, actor_id, actor_login, action, target, detail, address) VALUES (",
        );
        sql.bind(e.at).push(", ").bind(e.actor_id);
        sql.push(", ")
            .bind(e.actor_login.clone())
            .push(", ")
            .bind(e.action.as_str());
        sql.push(", ")
            .bind(e.target.clone())
            .push(", ")
            .bind(e.detail.clone());
        sql.push(", ")
            .bind(e.address.clone())
            .push(") RETURNING id");
        let _writer = self.writer().await;
        on_pool!(self, p => Ok(bind_all!(sqlx::query_scalar(&sql.text), &sql.args)
            .fetch_one(p)
            .await?))
    }

    /// The entries `filter` asks for, newest first.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = Sql::new("SELECT * FROM audit_log WHERE 1 = 1");
        if let Some(a) = filter.action {
            sql.push(" AND action = ").bind(a.as_str());
        }
        if let Some(u) = filter.actor_id {
            sql.push(" AND actor_id = ").bind(u);
        }
        if let Some(t) = filter.from {
            sql.push(" AND at >= ").bind(t);
        }
        if let Some(t) = filter.to {
            sql.push(" AND at < ").bind(t);
        }
        if let Some(id) = filter.before_id {
            sql.push(" AND id < ").bind(id);
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(i64::from(filter.limit()));
        on_pool!(self, p => {
            let rows = bind_all!(sqlx::query(&sql.text), &sql.args).fetch_all(p).await?;
            rows.iter().map(entry_from_row).collect()
        })
    }
}
