//! Signing in with a login and password: the limiter's verdict (`shangji_core::sign_in`,
//! counted in the database so that every instance limits together), the password checked in
//! the same time whether the login exists or not, the counters kept, the audit entry written.
//! The page makes the session of a user this lets in.

use std::sync::OnceLock;

use shangji_core::audit::AuditAction;
use shangji_core::model::User;
use shangji_core::sign_in::{self as rule, Verdict};
use shangji_store::{Db, ThrottleKeys};
use time::OffsetDateTime;

use super::audit::{self, Actor};
use super::directory::{hash_password, verify_password};
use crate::error::AppError;

/// A sign-in attempt: the login and password typed, and the client's address.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub login: String,
    pub password: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    SignedIn(User),
    /// Wrong login or password (which of them is not told).
    Failed,
    /// Too many failures: no attempt is heard before this instant.
    Wait(OffsetDateTime),
}

/// A hash no password matches, checked for a login that does not exist (or has no password)
/// so that it takes as long as a wrong password for one that does: the answer's timing does
/// not tell which logins exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&super::directory::random_token("")).expect("hashing a random password")
    })
}

/// Checks a password against a stored hash (or the dummy), off the request threads:
/// argon2 takes tens of milliseconds of one core.
async fn password_matches(password: &str, hash: Option<String>) -> Result<bool, AppError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_password(&password, &h),
        None => {
            verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("password check: {e}")))
}

/// Tries an attempt at `now`.
pub async fn sign_in(db: &Db, a: &Attempt, now: OffsetDateTime) -> Result<Outcome, AppError> {
    let keys = ThrottleKeys::new(&a.login, &a.address);
    let actor = |user_id| Actor {
        user_id,
        login: Some(a.login.trim().chars().take(100).collect()),
        address: Some(a.address.clone()),
    };
    if let Verdict::Wait(until) = rule::verdict(&db.sign_in_counters(&keys, now).await?, now) {
        let failed = AuditAction::SignInFailed;
        audit::record_or_log(db, actor(None), now, failed, "session", "rate limited").await;
        return Ok(Outcome::Wait(until));
    }
    let found = db.user_by_login(&a.login).await?;
    let (user, hash) = match found {
        Some((u, hash)) => (Some(u), hash),
        None => (None, None),
    };
    let matches = password_matches(&a.password, hash).await?;
    match user {
        Some(user) if matches && user.active => {
            db.sign_in_succeeded(&keys, now).await?;
            let signed_in = AuditAction::SignIn;
            audit::record_or_log(db, actor(Some(user.id)), now, signed_in, "session", "").await;
            Ok(Outcome::SignedIn(user))
        }
        user => {
            let [pair, account, address] = db.count_sign_in_failure(&keys, now).await?;
            for (key, rule, failures) in [
                (&keys.pair, rule::PAIR, pair),
                (&keys.account, rule::ACCOUNT, account),
                (&keys.address, rule::ADDRESS, address),
            ] {
                let wait = rule::delay(rule, failures);
                if wait.is_positive() {
                    db.hold_sign_in(key, now + wait).await?;
                }
            }
            let failed = AuditAction::SignInFailed;
            let who = actor(user.map(|u| u.id));
            audit::record_or_log(db, who, now, failed, "session", "").await;
            Ok(Outcome::Failed)
        }
    }
}
