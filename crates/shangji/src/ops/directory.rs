//! The directory: teams, users, passwords and API tokens.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shangji_core::audit::AuditAction;
use shangji_core::model::*;
use shangji_core::records::{self, *};
use shangji_core::Field;
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

/// A user as the caller may see them: who they are, their role, team and status for
/// everyone signed in; their contact details, leave and language only for themselves, the
/// people who manage them and admins (`Scope::sees_details_of`) — absent for anyone else.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct UserEntry {
    pub id: UserId,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub team_id: Option<TeamId>,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Only for the user, their managers and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Only for the user, their managers and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mobile: Option<Option<String>>,
    /// Only for the user, their managers and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaves: Option<Vec<Leave>>,
    /// Only for the user, their managers and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Language>)]
    pub language: Option<Option<Language>>,
}

impl UserEntry {
    fn seen_by(ctx: &Ctx, u: User) -> UserEntry {
        let details = ctx.scope.sees_details_of(u.id);
        UserEntry {
            id: u.id,
            login: u.login,
            display_name: u.display_name,
            role: u.role,
            team_id: u.team_id,
            active: u.active,
            created_at: u.created_at,
            email: details.then_some(u.email),
            mobile: details.then_some(u.mobile),
            leaves: details.then_some(u.leaves),
            language: details.then_some(u.language),
        }
    }
}

/// Every user, as the caller may see them.
pub async fn users(db: &Db, ctx: &Ctx) -> Result<Vec<UserEntry>, AppError> {
    Ok(db
        .users()
        .await?
        .into_iter()
        .map(|u| UserEntry::seen_by(ctx, u))
        .collect())
}

/// One user, as the caller may see them.
pub async fn user(db: &Db, ctx: &Ctx, id: UserId) -> Result<UserEntry, AppError> {
    let u = db.user(id).await?.ok_or(AppError::NotFound)?;
    Ok(UserEntry::seen_by(ctx, u))
}

/// Changes a user: admins change anyone; a user may change their own name, contact
/// details, language and password (giving the current one), not their role, team or status.
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
    let current = match &input.current_password {
        Field::Value(p) => Some(p.clone()),
        _ => None,
    };
    let password = records::apply_user(&mut user, input, false)?;
    if password.is_some() && is_self {
        check_current_password(db, &user, current.as_deref()).await?;
    }
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
        store_password(db, Some(ctx), id, &p, ctx.now).await?;
    }
    Ok(user)
}

/// A user changing their own password proves they know the present one (a session left
/// open, or a stolen token, is not enough to take the account over).
async fn check_current_password(
    db: &Db,
    user: &User,
    current: Option<&str>,
) -> Result<(), AppError> {
    let Some(current) = current.filter(|c| !c.is_empty()) else {
        return Err(AppError::invalid(
            "current_password",
            "required",
            "give your current password to change it",
        ));
    };
    let hash = db.user_by_login(&user.login).await?.and_then(|(_, h)| h);
    let (current, hash) = (current.to_string(), hash);
    let matches =
        tokio::task::spawn_blocking(move || hash.is_some_and(|h| verify_password(&current, &h)))
            .await
            .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    if !matches {
        return Err(AppError::invalid(
            "current_password",
            "wrong_password",
            "the current password is not right",
        ));
    }
    Ok(())
}

/// Stores a new password: every session of the user ends (the store does that); when
/// someone else sets it — an admin's reset, the command line — the user's API tokens are
/// revoked as well, since whoever held the account may hold them too.
async fn store_password(
    db: &Db,
    by: Option<&Ctx>,
    user_id: UserId,
    password: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    db.set_password(user_id, &hash_password(password)?).await?;
    let reset = by.is_none_or(|c| c.actor.user_id != user_id);
    let detail = if reset {
        let n = db.revoke_tokens_of(user_id, now).await?;
        format!("reset; {n} API tokens revoked")
    } else {
        String::new()
    };
    let target = format!("user {user_id}");
    audit_by(db, by, now, AuditAction::PasswordSet, target, &detail).await
}

/// Sets another user's password (`by`: the admin who does it; none for the command line):
/// their sessions end and their API tokens are revoked. One's own password changes through
/// [`update_user`] with the current one.
pub async fn set_password(
    db: &Db,
    by: Option<&Ctx>,
    user_id: UserId,
    password: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    records::validate_password(password)?;
    if let Some(ctx) = by {
        ctx.require_admin()?;
        if ctx.actor.user_id == user_id {
            return Err(AppError::invalid(
                "current_password",
                "required",
                "give your current password to change it",
            ));
        }
    }
    store_password(db, by, user_id, password, now).await
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
