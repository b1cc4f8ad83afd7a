//! Operations: each loads what it needs, lets shangji-core decide, saves, and returns. The
//! JSON API, the pages, the command line and (later) the importer and the scheduler call
//! these functions, so every rule is enforced on every path in.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use shangji_core::model::*;
use shangji_core::visibility::{self, Actor, Scope};
use shangji_store::{Authenticated, Db, Directory};
use time::OffsetDateTime;

use crate::error::AppError;

pub mod analytics;
pub mod approvals;
/// Assignment rules, the public pool, handing over, the assignment SLA.
pub mod assignment;
pub mod audit;
/// Automation: rules, the scheduler, event rules, the calendar setting, preferences.
pub mod automation;
/// Export, backups (verified, kept by day and week) and restore.
pub mod backups;
pub mod custom_fields;
/// Outgoing notifications: what a notification sends out, channels, the webhook allow-list,
/// email preferences, the delivery log; `delivery::send` is the background sender.
pub mod delivery;
pub mod directory;
/// Duplicates and 撞单: what a record being saved matches across the company, and the policy.
pub mod duplicates;
pub mod export;
/// The facts rules and alerts see, the working calendar and follow-up settings as read.
pub mod facts;
/// The forecast page, the manager roll-up and adjustments.
pub mod forecast;
/// Handing a leaving user's book over: preview, the resumable job, the report.
pub mod handover;
pub mod health;
/// Importing stage history from a CSV file.
pub mod history_import;
pub mod import;
/// Lists: columns, exports, saved views, bulk changes, search, lead conversion.
pub mod lists;
/// Merging two accounts, contacts or leads, and the merge log.
pub mod merge;
pub mod opportunities;
pub mod pipelines;
pub mod records;
/// The report pages' operations: filters, sources, trends, exports.
pub mod reports;
/// The funnel review meeting: sections since the last review, decisions, reviews held.
pub mod review;
/// Lead scoring: settings, the model, scoring a lead or every lead, a lead's score history.
pub mod scoring;
/// Signing in: the limiter, the password check, the audit entry.
pub mod sign_in;
/// Horizons, forecast snapshots, accuracy and the backtest.
pub mod snapshots;
/// Web-to-lead forms: definitions, public submissions and the inbound endpoint, the log.
pub mod web_forms;

pub use analytics::*;
pub use approvals::*;
pub use custom_fields::*;
pub use directory::*;
pub use export::*;
pub use opportunities::*;
pub use pipelines::*;
pub use records::*;
pub use reports::{sales_cycle_report, sources_report, time_in_stage_trend_report};

/// Who is acting, what they may see, and when.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub scope: Scope,
    /// Teams, users' teams and pipelines as of this request.
    pub dir: Arc<Directory>,
    /// Whole milliseconds, as stored, so that what an operation returns is what a later
    /// read returns.
    pub now: OffsetDateTime,
    /// The caller's language, for messages and for the tasks an operation creates.
    pub lang: Language,
    /// Where the request came from (the audit log's "from where"); none off the network.
    pub address: Option<String>,
}

/// Every context is made here: a signed-in user's ([`Ctx::for_user`]), a user acting from
/// the command line ([`Ctx::for_cli`]), the system's ([`Ctx::system`]) and the one rules act
/// in ([`Ctx::rules`]).
impl Ctx {
    /// `user` acting at `now` with the directory `dir`: their scope from the team tree, `now`
    /// in whole milliseconds.
    fn of(user: &User, dir: Arc<Directory>, now: OffsetDateTime, lang: Language) -> Ctx {
        let actor = Actor {
            user_id: user.id,
            role: user.role,
            team_id: user.team_id,
        };
        Ctx {
            scope: visibility::scope(&actor, &dir.org),
            actor,
            dir,
            now: whole_millis(now),
            lang,
            address: None,
        }
    }

    /// The context of a signed-in user, with the directory as of their sign-in query.
    pub async fn for_user(
        db: &Db,
        who: &Authenticated,
        now: OffsetDateTime,
        lang: Language,
    ) -> Result<Ctx, AppError> {
        let dir = db.directory_at(who.directory_version).await?;
        Ok(Ctx::of(&who.user, dir, now, lang))
    }

    /// The context of a user acting from the command line, in their language.
    pub async fn for_cli(db: &Db, user: &User, now: OffsetDateTime) -> Result<Ctx, AppError> {
        let dir = db.directory().await?;
        Ok(Ctx::of(
            user,
            dir,
            now,
            user.language.unwrap_or(Language::ZhCn),
        ))
    }

    /// The context the server's own jobs and the command line's reports act in: everything,
    /// as an administrator that is no user (id 0).
    pub async fn system(db: &Db, now: OffsetDateTime) -> Result<Ctx, AppError> {
        let dir = db.directory().await?;
        Ok(Ctx {
            actor: Actor {
                user_id: 0,
                role: Role::Admin,
                team_id: None,
            },
            scope: Scope::All,
            dir,
            now: whole_millis(now),
            lang: Language::En,
            address: None,
        })
    }

    /// The context rules act in: the first active admin, seeing everything, at `now`. `None`
    /// when there is no active admin (actions other than notifications are then skipped).
    pub async fn rules(
        db: &Db,
        dir: Arc<Directory>,
        now: OffsetDateTime,
    ) -> Result<Option<Ctx>, AppError> {
        let admin = db
            .users()
            .await?
            .into_iter()
            .filter(|u| u.role == Role::Admin && u.active)
            .min_by_key(|u| u.id);
        Ok(admin.map(|u| Ctx {
            scope: Scope::All,
            now,
            ..Ctx::of(&u, dir, now, Language::ZhCn)
        }))
    }

    /// This context at `t` when that is later than its own time: a change decided on a
    /// record saved after this request began is stamped after it, so that a record's history
    /// is in the order it was written.
    pub fn not_before(&self, t: OffsetDateTime) -> Ctx {
        Ctx {
            now: self.now.max(whole_millis(t)),
            ..self.clone()
        }
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.actor.role {
            Role::Admin => Ok(()),
            _ => Err(AppError::Forbidden("admin_only")),
        }
    }
}

/// `t` without its sub-millisecond part: what the store keeps, so that what an operation
/// returns is what a later read returns.
fn whole_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t)
}

/// How often a change without a version is decided again on a record another request saved
/// meanwhile, before it is answered as a conflict.
const TURNS: u32 = 16;

/// Runs `attempt` — a read, a decision on what was read, a save checked against the version
/// read — again when the save finds the record changed meanwhile and the caller gave no
/// version (`given`): their change takes its turn after the other, decided on the record as
/// it is then. With a version, a change meanwhile is the caller's conflict.
pub(crate) async fn in_turn<T, F, Fut>(given: Option<i64>, mut attempt: F) -> Result<T, AppError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(AppError::Conflict { .. }) if given.is_none() && tries < TURNS => tries += 1,
            done => return done,
        }
    }
}

/// An idempotency key sent with a create.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    /// A digest of the request body, to refuse a key reused for another request.
    pub request_hash: String,
}

impl Idempotency {
    pub fn new(key: &str, body: &[u8]) -> Result<Idempotency, AppError> {
        let key = key.trim();
        if key.is_empty() || key.len() > 200 {
            return Err(AppError::bad_request(
                "Idempotency-Key",
                "invalid_idempotency_key",
                "an Idempotency-Key has 1 to 200 characters",
            ));
        }
        Ok(Idempotency {
            key: key.to_string(),
            request_hash: hex::encode(Sha256::digest(body)),
        })
    }
}

/// The result of a create: the record, and whether it was created now or earlier by a
/// request with the same idempotency key.
#[derive(Debug)]
pub struct Created<T> {
    pub record: T,
    pub replayed: bool,
}
