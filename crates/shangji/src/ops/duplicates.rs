//! Duplicates and 撞单: before an account, a contact or a lead is saved, the records it matches
//! across the whole company — by credit code, mobile, email, or a company name alike after
//! normalisation (`shangji_core::duplicates`) — and what the settings say to do. A match the
//! caller cannot read is told only by its kind, what matched and its owner (name, team), never
//! its data: the rep learns that a colleague already has the customer, and whom to ask.
//!
//! Every path that creates or changes these records goes through [`guard`] (API, pages, lead
//! conversion's new account, import), so the rule is decided here once.

use shangji_core::duplicates::{
    company_key, name_similarity, name_stem, DuplicateMatch, DuplicateSettings, MatchedOn,
    NAME_THRESHOLD,
};
use shangji_core::model::*;
use shangji_store::{Access, Candidate, Db, Probe};

use super::Ctx;
use crate::error::AppError;

/// The settings key of the duplicate policies (JSON of `DuplicateSettings`).
pub const SETTINGS_KEY: &str = "duplicates";

/// What a record is matched on: its kind, the store's probe, and its company name's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub kind: RecordKind,
    pub probe: Probe,
    pub name_key: Option<String>,
}

impl Keys {
    /// The keys of a record of `kind` (`id` 0 when not stored yet).
    pub fn new(kind: RecordKind, id: i64, company: Option<&str>) -> Keys {
        let name_key = company.map(company_key).filter(|k| !k.is_empty());
        Keys {
            kind,
            probe: Probe {
                exclude: (id != 0).then_some((kind, id)),
                name_key: name_key.clone(),
                name_stem: name_key.as_deref().map(name_stem),
                ..Default::default()
            },
            name_key,
        }
    }
}

/// The duplicate settings in force: the saved ones, else the defaults (warn; a credit code in
/// use is refused).
pub async fn settings(db: &Db) -> Result<DuplicateSettings, AppError> {
    match db.setting(SETTINGS_KEY).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| AppError::Internal(format!("stored duplicate settings: {e}"))),
        None => Ok(DuplicateSettings::default()),
    }
}

/// Replaces the duplicate settings (admin).
pub async fn save_settings(
    db: &Db,
    ctx: &Ctx,
    s: DuplicateSettings,
) -> Result<DuplicateSettings, AppError> {
    ctx.require_admin()?;
    let json = serde_json::to_string(&s).map_err(|e| AppError::Internal(e.to_string()))?;
    db.set_setting(SETTINGS_KEY, &json, ctx.now).await?;
    Ok(s)
}

fn strength(on: MatchedOn) -> u8 {
    match on {
        MatchedOn::CreditCode => 0,
        MatchedOn::Mobile => 1,
        MatchedOn::Email => 2,
        MatchedOn::Name => 3,
    }
}

async fn readable(db: &Db, ctx: &Ctx, kind: RecordKind, id: i64) -> Result<bool, AppError> {
    let scope = &ctx.scope;
    Ok(match kind {
        RecordKind::Account => db.get::<Account>(id, scope, Access::Read).await?.is_some(),
        RecordKind::Contact => db.get::<Contact>(id, scope, Access::Read).await?.is_some(),
        RecordKind::Lead => db.get::<Lead>(id, scope, Access::Read).await?.is_some(),
        RecordKind::Opportunity => db
            .get::<Opportunity>(id, scope, Access::Read)
            .await?
            .is_some(),
    })
}

/// The records that `keys` match, strongest match first, each told as far as the caller may
/// see it.
pub async fn find(db: &Db, ctx: &Ctx, keys: &Keys) -> Result<Vec<DuplicateMatch>, AppError> {
    let mut found: Vec<Candidate> = db
        .duplicate_candidates(&keys.probe)
        .await?
        .into_iter()
        .filter(|c| match (c.on, &keys.name_key, &c.key) {
            (MatchedOn::Name, Some(mine), Some(theirs)) => {
                name_similarity(mine, theirs) >= NAME_THRESHOLD
            }
            (MatchedOn::Name, _, _) => false,
            _ => true,
        })
        .collect();
    found.sort_by_key(|c| (strength(c.on), c.kind.as_str(), c.id));
    found.dedup_by_key(|c| (c.kind, c.id));
    if found.is_empty() {
        return Ok(vec![]);
    }
    let users = db.users().await?;
    let teams = db.teams().await?;
    let mut out = Vec::new();
    for c in found {
        let visible = readable(db, ctx, c.kind, c.id).await?;
        let owner = c.owner_id.and_then(|o| users.iter().find(|u| u.id == o));
        out.push(DuplicateMatch {
            record_kind: c.kind,
            matched_on: c.on,
            visible,
            id: visible.then_some(c.id),
            name: visible.then_some(c.name),
            owner_name: owner.map(|u| u.display_name.clone()),
            owner_team: owner
                .and_then(|u| u.team_id)
                .and_then(|t| teams.iter().find(|x| x.id == t))
                .map(|t| t.name.clone()),
        });
    }
    Ok(out)
}

/// Refuses a record that matches others where the settings say so, or unless the caller said
/// to save it anyway (`allow`).
pub async fn guard(db: &Db, ctx: &Ctx, keys: Option<Keys>, allow: bool) -> Result<(), AppError> {
    let Some(keys) = keys else { return Ok(()) };
    let matches = find(db, ctx, &keys).await?;
    if matches.is_empty() {
        return Ok(());
    }
    let blocked = settings(db).await?.blocks(keys.kind, &matches);
    if blocked || !allow {
        return Err(AppError::Duplicate { matches, blocked });
    }
    Ok(())
}

/// What a caller asks to check before entering a record.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    /// The kind about to be entered: `account`, `contact` or `lead`.
    pub kind: RecordKind,
    /// A company name (accounts, leads).
    pub name: Option<String>,
    pub credit_code: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// The records across the company that a record with these values would match, each told as
/// far as the caller may see it. Values are read as the record's fields are (a mobile with
/// `+86` and separators, an email in any case); a value that could not be stored is refused
/// with its field.
pub async fn check(db: &Db, ctx: &Ctx, q: DuplicateQuery) -> Result<Vec<DuplicateMatch>, AppError> {
    use shangji_core::input;
    let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let company = match q.kind {
        RecordKind::Account | RecordKind::Lead => given(q.name),
        _ => None,
    };
    let mut keys = Keys::new(q.kind, 0, company.as_deref());
    if let Some(c) = given(q.credit_code) {
        let code = shangji_core::credit_code::validate(c.trim())
            .map_err(|e| AppError::invalid("credit_code", e.code(), e.message()))?;
        keys.probe.credit_code = Some(code);
    }
    if let Some(m) = given(q.mobile) {
        keys.probe.mobile = input::phone("mobile", m, true)?;
    }
    if let Some(e) = given(q.email) {
        keys.probe.email = input::email("email", e)?;
    }
    find(db, ctx, &keys).await
}
