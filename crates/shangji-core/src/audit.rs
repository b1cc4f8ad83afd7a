//! The audit log's entries: who did what, when, from where. Written by the operations that
//! matter for security and for the data leaving or changing in bulk; read (and filtered) by
//! admins; never changed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::model::*;

text_enum!(
    /// What was done.
    AuditAction {
        SignIn => "sign_in",
        SignInFailed => "sign_in_failed",
        Export => "export",
        Backup => "backup",
        Restore => "restore",
        Download => "download",
        Import => "import",
        ImportRollback => "import_rollback",
        Merge => "merge",
        Handover => "handover",
        UserCreated => "user_created",
        UserChanged => "user_changed",
        PasswordSet => "password_set",
        TokenCreated => "token_created",
        TokenRevoked => "token_revoked",
        SettingsChanged => "settings_changed",
    }
);

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The user who acted (none: the server itself, or a sign-in with no such user).
    pub actor_id: Option<UserId>,
    /// The login given (for a failed sign-in, what was typed).
    pub actor_login: Option<String>,
    pub action: AuditAction,
    /// What it was done to: `import 12`, `user 7`, `pipeline 1`, a file's name…
    pub target: String,
    /// What changed or came out, in a few words.
    pub detail: String,
    /// The client's address, for what came over the network.
    pub address: Option<String>,
}

/// Which entries to read: by action, by actor, from a time (inclusive) to a time
/// (exclusive), older than an entry (the next page), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub actor_id: Option<UserId>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
    pub before_id: Option<Id>,
    pub limit: Option<u32>,
}

/// The most entries one read returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

impl AuditFilter {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE)
    }
}
