//! The directory: teams, users, passwords and API tokens.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shangji_core::audit::AuditAction;
use shangji_core::model::*;
use shangji_core::records::{self, *};
use shangji_store::{Db, StoreError};
use time::OffsetDateTime;

use super::*;

// ---- Users and teams ----

pub async fn create_team(db: &Db, ctx: &Ctx, input: TeamInput) -> Result<Team, AppError> {
    ctx.require_admin()?;
    let teams = db.teams().await?;
    let mut team = Team {
        id: 0,
        name: String::new(),
        parent_id: None,
        archived: false,
        regions: vec![],
    };
    records::apply_team(&mut team, input, true, &teams)?;
    let id = db.insert_team(&team, ctx.now).await.map_err(|e| match e {
        StoreError::Duplicate(_) => {
            AppError::invalid("name", "duplicate", "a team with this name exists")
        }
        e => e.into(),
    })?;
    Ok(Team { id, ..team })
}

pub async fn update_team(
    db: &Db,
    ctx: &Ctx,
    id: TeamId,
    input: TeamInput,
) -> Result<Team, AppError> {
    ctx.require_admin()?;
    let teams = db.teams().await?;
    let mut team = teams
        .iter()
        .find(|t| t.id == id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    records::apply_team(&mut team, input, false, &teams)?;
    db.update_team(&team).await?;
    Ok(team)
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) async fn check_team(db: &Db, team: Option<TeamId>) -> Result<(), AppError> {
    if let Some(t) = team {
        if !db.teams().await?.iter().any(|x| x.id == t) {
            return Err(AppError::invalid(
                "team_id",
                "unknown_team",
                format!("team {t} does not exist"),
            ));
        }
    }
    Ok(())
}

/// Creates a user. Admins only, except when `ctx` is `None` (the command line, which acts
/// with the operator's authority over the database).
pub async fn create_user(
    db: &Db,
    ctx: Option<&Ctx>,
    input: UserInput,
    now: OffsetDateTime,
) -> Result<User, AppError> {
    if let Some(ctx) = ctx {
        ctx.require_admin()?;
    }
    let mut user = records::blank_user(now);
    let password = records::apply_user(&mut user, input, true)?;
    check_team(db, user.team_id).await?;
    let hash = password.as_deref().map(hash_password).transpose()?;
    let id = db
        .insert_user(&user, hash.as_deref())
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => {
                AppError::invalid("login", "duplicate", "this login is taken")
            }
            e => e.into(),
        })?;
    let detail = format!("{} ({})", user.login, user.role.as_str());
    audit_by(
        db,
        ctx,
        now,
        AuditAction::UserCreated,
        format!("user {id}"),
        &detail,
    )
    .await?;
    Ok(User { id, ..user })
}

/// Changes a user: admins change anyone; a user may change their own name, contact
/// details, language and password, not their role, team or status.
pub async fn update_user(
    db: &Db,
    ctx: &Ctx,
    id: UserId,
    input: UserInput,
) -> Result<User, AppError> {
    let is_self = ctx.actor.user_id == id;
    if ctx.actor.role != Role::Admin {
        let restricted = !input.role.is_absent()
            || !input.team_id.is_absent()
            || !input.active.is_absent()
            || !input.leaves.is_absent();
        if !is_self || restricted {
            return Err(AppError::Forbidden("admin_only"));
        }
    }
    let mut user = db.user(id).await?.ok_or(AppError::NotFound)?;
    let before = user.clone();
    let password = records::apply_user(&mut user, input, false)?;
    check_team(db, user.team_id).await?;
    db.update_user(&user).await?;
    // Permissions (role, team, status) say what changed; other details that something did.
    let mut changed = Vec::new();
    if before.role != user.role {
        changed.push(format!("role {} → {}", before.role, user.role));
    }
    if before.team_id != user.team_id {
        changed.push(format!("team {:?} → {:?}", before.team_id, user.team_id));
    }
    if before.active != user.active {
        changed.push(format!("active {} → {}", before.active, user.active));
    }
    if changed.is_empty() && before != user {
        changed.push("details".into());
    }
    let target = format!("user {id}");
    if !changed.is_empty() {
        let detail = changed.join("; ");
        super::audit::record(db, ctx, AuditAction::UserChanged, target.clone(), detail).await?;
    }
    if let Some(p) = password {
        db.set_password(id, &hash_password(&p)?).await?;
        super::audit::record(db, ctx, AuditAction::PasswordSet, target, "").await?;
    }
    Ok(user)
}

/// Sets a user's password (`by`: who does it; none for the command line).
pub async fn set_password(
    db: &Db,
    by: Option<&Ctx>,
    user_id: UserId,
    password: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    records::validate_password(password)?;
    db.set_password(user_id, &hash_password(password)?).await?;
    audit_by(
        db,
        by,
        now,
        AuditAction::PasswordSet,
        format!("user {user_id}"),
        "",
    )
    .await
}

/// Writes an audit entry as `by`, or as the command line (no user) when `by` is none.
async fn audit_by(
    db: &Db,
    by: Option<&Ctx>,
    now: OffsetDateTime,
    action: AuditAction,
    target: String,
    detail: &str,
) -> Result<(), AppError> {
    match by {
        Some(ctx) => super::audit::record(db, ctx, action, target, detail).await,
        None => {
            let detail = format!("{detail} (command line)");
            let actor = super::audit::Actor::default();
            super::audit::record_as(db, actor, now, action, target, detail.trim()).await
        }
    }
}

/// Revokes one of `user_id`'s API tokens.
pub async fn revoke_token(
    db: &Db,
    ctx: &Ctx,
    user_id: UserId,
    token_id: i64,
) -> Result<(), AppError> {
    db.revoke_token(user_id, token_id, ctx.now).await?;
    let target = format!("user {user_id}");
    super::audit::record(
        db,
        ctx,
        AuditAction::TokenRevoked,
        target,
        format!("token {token_id}"),
    )
    .await
}

/// A new API token for `user_id`: returns the secret (shown once) and its id.
pub async fn create_token(
    db: &Db,
    by: Option<&Ctx>,
    user_id: UserId,
    name: &str,
    now: OffsetDateTime,
) -> Result<(String, i64), AppError> {
    let name =
        shangji_core::input::text("name", name.to_string(), 100)?.unwrap_or_else(|| "api".into());
    let secret = random_token("sj_");
    let id = db
        .insert_token(user_id, &name, &digest(&secret), now)
        .await?;
    let target = format!("user {user_id}");
    let detail = format!("token {id} “{name}”");
    audit_by(db, by, now, AuditAction::TokenCreated, target, &detail).await?;
    Ok((secret, id))
}

/// A random secret with a prefix: 32 bytes, URL-safe base64.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Secrets are stored as their SHA-256 digest only.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let a = random_token("sj_");
        let b = random_token("sj_");
        assert_ne!(a, b);
        assert!(a.starts_with("sj_") && a.len() > 40);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), a);
    }
}
