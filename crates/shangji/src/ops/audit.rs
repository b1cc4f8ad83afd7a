//! The audit log: the one place entries are written — by the operations that sign in,
//! export, back up and restore, import and roll back, merge, hand over, change users,
//! permissions, settings and API tokens — and read, by admins only. Nothing in the
//! application changes or removes an entry (the schema refuses it too).

use shangji_core::audit::{AuditAction, AuditEntry, AuditFilter};
use shangji_core::model::*;
use shangji_store::Db;
use time::OffsetDateTime;

use super::Ctx;
use crate::error::AppError;

/// Who acted, when and from where, for an entry written outside a request's context (a
/// sign-in, the command line, the server's jobs).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub login: Option<String>,
    pub address: Option<String>,
}

/// Writes an entry as `ctx`'s user (none for the server's own context).
pub async fn record(
    db: &Db,
    ctx: &Ctx,
    action: AuditAction,
    target: impl Into<String>,
    detail: impl Into<String>,
) -> Result<(), AppError> {
    let user_id = (ctx.actor.user_id != 0).then_some(ctx.actor.user_id);
    let actor = Actor {
        user_id,
        login: user_id
            .and_then(|id| ctx.dir.user(id))
            .map(|u| u.login.clone()),
        address: ctx.address.clone(),
    };
    record_as(db, actor, ctx.now, action, target, detail).await
}

/// Writes an entry for `actor` at `at`.
pub async fn record_as(
    db: &Db,
    actor: Actor,
    at: OffsetDateTime,
    action: AuditAction,
    target: impl Into<String>,
    detail: impl Into<String>,
) -> Result<(), AppError> {
    db.insert_audit(&AuditEntry {
        id: 0,
        at,
        actor_id: actor.user_id,
        actor_login: actor.login,
        action,
        target: target.into(),
        detail: detail.into(),
        address: actor.address,
    })
    .await?;
    Ok(())
}

/// Writes an entry and only logs a failure: for what must not fail because the log could not
/// be written (a sign-in).
pub async fn record_or_log(
    db: &Db,
    actor: Actor,
    at: OffsetDateTime,
    action: AuditAction,
    target: impl Into<String>,
    detail: impl Into<String>,
) {
    if let Err(e) = record_as(db, actor, at, action, target, detail).await {
        tracing::error!(error = ?e, action = action.as_str(), "the audit log could not be written");
    }
}

/// The entries `filter` asks for, newest first (admins only).
pub async fn list(db: &Db, ctx: &Ctx, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    ctx.require_admin()?;
    Ok(db.audit_entries(filter).await?)
}

/// A list's filters in a few words, for the audit log.
pub fn filters_text(filters: &[(String, String)]) -> String {
    if filters.is_empty() {
        return "none".into();
    }
    filters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Tells the audit log that `ctx`'s user changed a setting (`what`: the operation, e.g.
/// `save_approval_policy`; `which`: the setting's id or name, when there is one).
pub async fn setting(db: &Db, ctx: &Ctx, what: &str, which: &str) -> Result<(), AppError> {
    let area = module_path_of(what);
    record(
        db,
        ctx,
        AuditAction::SettingsChanged,
        area,
        format!("{what} {which}").trim(),
    )
    .await
}

fn module_path_of(what: &str) -> String {
    what.split("::").next().unwrap_or(what).to_string()
}
