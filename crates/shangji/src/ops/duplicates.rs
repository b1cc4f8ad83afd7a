//! Duplicates and 撞单: before an account, a contact or a lead is saved, the records it matches
//! across the whole company — by credit code, mobile, email, or a company name alike after
//! normalisation (`shangji_core::duplicates`) — and what the settings say to do. A match the
//! caller cannot read is told only by its kind, what matched and its owner (name, team), never
//! its data: the rep learns that a colleague already has the customer, and whom to ask.
//!
//! Every path that creates or changes these records goes through [`guard`] (API, pages, lead
//! conversion's new account, import), so the rule is decided here once.

use shangji_core::duplicates::{
    company_key, name_similarity, name_stem, DuplicateMatch, DuplicateReview, DuplicateSettings,
    MatchedOn, MatchedRecord, ReviewStatus, NAME_THRESHOLD,
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
    super::audit::setting(db, ctx, "duplicates::save_settings", "").await?;
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
    let found = matching(db, keys).await?;
    told(db, ctx, found).await
}

/// The records that `keys` match, strongest match first, as the company holds them.
pub(crate) async fn matching(db: &Db, keys: &Keys) -> Result<Vec<Candidate>, AppError> {
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
    Ok(found)
}

/// Each match told as far as the caller may see it.
async fn told(db: &Db, ctx: &Ctx, found: Vec<Candidate>) -> Result<Vec<DuplicateMatch>, AppError> {
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
/// to save it anyway (`allow`). Saved over its matches where the settings send such records to
/// the manager: what it matched, for [`send_for_review`] once it is saved.
pub async fn guard(
    db: &Db,
    ctx: &Ctx,
    keys: Option<Keys>,
    allow: bool,
) -> Result<Option<Vec<MatchedRecord>>, AppError> {
    let Some(keys) = keys else { return Ok(None) };
    let found = matching(db, &keys).await?;
    if found.is_empty() {
        return Ok(None);
    }
    let matched: Vec<MatchedRecord> = found
        .iter()
        .map(|c| MatchedRecord {
            record_kind: c.kind,
            id: c.id,
            matched_on: c.on,
        })
        .collect();
    let settings = settings(db).await?;
    let on: Vec<MatchedOn> = found.iter().map(|c| c.on).collect();
    let blocked = settings.blocks(keys.kind, &on);
    if blocked || !allow {
        // Told (as far as the caller may see them) only when refused: a record saved over
        // its duplicates costs no reads of them.
        let matches = told(db, ctx, found).await?;
        return Err(AppError::Duplicate { matches, blocked });
    }
    Ok(settings.reviews(keys.kind).then_some(matched))
}

// ---- Duplicates sent to the manager (送经理裁决). ----

/// The decision on a duplicate sent to the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Both stay: they are different customers after all.
    Keep,
    /// The new record is archived (the existing one stays).
    Archive,
}

/// What `POST /duplicate-reviews/{id}/decide` takes.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideReview {
    pub decision: ReviewDecision,
    #[serde(default)]
    pub note: Option<String>,
}

/// A review as its page and the API show it: the reviewed record and its matches, each with
/// its name and owner (the manager decides on what they can see: records outside their scope
/// are told by owner only, as the duplicate answer tells them).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    #[serde(flatten)]
    pub review: DuplicateReview,
    /// The reviewed record's name.
    pub name: String,
    pub requested_by_name: String,
    pub matches: Vec<DuplicateMatch>,
}

/// Whom a duplicate saved by `requester` goes to: their managers up the team line, else the
/// directors, else the admins.
fn reviewers(dir: &shangji_store::Directory, users: &[User], requester: UserId) -> Vec<UserId> {
    use shangji_core::approval::{resolve_chain, Approver};
    let line: Vec<(UserId, Role, Option<TeamId>, bool)> = users
        .iter()
        .map(|u| (u.id, u.role, u.team_id, u.active))
        .collect();
    for chain in [[Approver::OwnerManager], [Approver::Director]] {
        let found = resolve_chain(&chain, requester, &dir.org, &line);
        if !found.is_empty() {
            return found;
        }
    }
    users
        .iter()
        .filter(|u| u.active && u.role == Role::Admin)
        .map(|u| u.id)
        .collect()
}

/// Sends a record just saved over its duplicates to the manager: the review, and a
/// notification to each reviewer.
pub async fn send_for_review(
    db: &Db,
    ctx: &Ctx,
    kind: RecordKind,
    id: i64,
    matched: Vec<MatchedRecord>,
) -> Result<(), AppError> {
    let review = DuplicateReview {
        id: 0,
        record_kind: kind,
        record_id: id,
        matched,
        requested_by: ctx.actor.user_id,
        requested_at: ctx.now,
        status: ReviewStatus::Pending,
        decided_by: None,
        decided_at: None,
        note: None,
    };
    let review_id = db.insert_duplicate_review(&review).await?;
    let users = db.users().await?;
    let (name, _) = head(db, kind, id).await?;
    let notes: Vec<Notification> = reviewers(&ctx.dir, &users, ctx.actor.user_id)
        .into_iter()
        .filter(|u| *u != ctx.actor.user_id)
        .map(|user_id| Notification {
            id: 0,
            user_id,
            kind: "duplicate_review".into(),
            record_kind: Some(kind),
            record_id: Some(id),
            payload: serde_json::json!({
                "title": name,
                "requester_id": ctx.actor.user_id,
                "review_id": review_id,
                "link": "/duplicates/reviews",
            }),
            read_at: None,
            archived: false,
            version: 1,
            created_at: ctx.now,
        })
        .collect();
    if !notes.is_empty() {
        super::delivery::notify_users(db, &ctx.dir, &notes, ctx.now).await?;
    }
    Ok(())
}

/// A record's name and owner, whoever may see it (`#id` for one that is gone).
async fn head(db: &Db, kind: RecordKind, id: i64) -> Result<(String, Option<UserId>), AppError> {
    let all = &shangji_core::visibility::Scope::All;
    let found = match kind {
        RecordKind::Account => db
            .get::<Account>(id, all, Access::Read)
            .await?
            .map(|a| (Some(a.name), a.owner_id)),
        RecordKind::Contact => db
            .get::<Contact>(id, all, Access::Read)
            .await?
            .map(|c| (Some(c.name), c.owner_id)),
        RecordKind::Lead => db
            .get::<Lead>(id, all, Access::Read)
            .await?
            .map(|l| (l.company_name.or(l.contact_name), l.owner_id)),
        RecordKind::Opportunity => None,
    };
    let (name, owner) = found.unwrap_or((None, None));
    Ok((name.unwrap_or_else(|| format!("#{id}")), owner))
}

/// The reviews the caller decides (managers: those their scope covers the requester of;
/// admins: all), pending ones or the last 100 of any status.
pub async fn reviews(db: &Db, ctx: &Ctx, pending_only: bool) -> Result<Vec<ReviewView>, AppError> {
    if !ctx.scope.is_manager() {
        return Err(AppError::Forbidden("managers_only"));
    }
    let users = db.users().await?;
    let mut out = Vec::new();
    for r in db.duplicate_reviews(pending_only, 100).await? {
        if !ctx.scope.covers(Some(r.requested_by)) {
            continue;
        }
        out.push(view(db, ctx, &users, r).await?);
    }
    Ok(out)
}

async fn view(
    db: &Db,
    ctx: &Ctx,
    users: &[User],
    review: DuplicateReview,
) -> Result<ReviewView, AppError> {
    let mut found = Vec::with_capacity(review.matched.len());
    for m in &review.matched {
        let (name, owner_id) = head(db, m.record_kind, m.id).await?;
        found.push(Candidate {
            kind: m.record_kind,
            id: m.id,
            name,
            owner_id,
            on: m.matched_on,
            key: None,
        });
    }
    let matches = told(db, ctx, found).await?;
    Ok(ReviewView {
        name: head(db, review.record_kind, review.record_id).await?.0,
        requested_by_name: users
            .iter()
            .find(|u| u.id == review.requested_by)
            .map(|u| u.display_name.clone())
            .unwrap_or_default(),
        matches,
        review,
    })
}

/// Decides a pending review (its requester's manager, or an admin): keep both, or archive the
/// new record. A review already decided (or merged) is refused.
pub async fn decide_review(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: DecideReview,
) -> Result<ReviewView, AppError> {
    let review = db.duplicate_review(id).await?.ok_or(AppError::NotFound)?;
    if !ctx.scope.is_manager() || !ctx.scope.covers(Some(review.requested_by)) {
        return Err(AppError::NotFound);
    }
    if review.status != ReviewStatus::Pending {
        return Err(AppError::invalid(
            "status",
            "already_decided",
            format!("the review was decided already: {}", review.status),
        ));
    }
    let note = input
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(AppError::invalid(
            "note",
            "too_long",
            "at most 500 characters",
        ));
    }
    let status = match input.decision {
        ReviewDecision::Keep => ReviewStatus::Kept,
        ReviewDecision::Archive => {
            archive(db, ctx, review.record_kind, review.record_id).await?;
            ReviewStatus::Archived
        }
    };
    db.decide_duplicate_reviews(&[id], status, ctx.actor.user_id, ctx.now, note)
        .await?;
    let review = db.duplicate_review(id).await?.ok_or(AppError::NotFound)?;
    let users = db.users().await?;
    view(db, ctx, &users, review).await
}

async fn archive(db: &Db, ctx: &Ctx, kind: RecordKind, id: i64) -> Result<(), AppError> {
    use shangji_core::records::{AccountInput, ContactInput, LeadInput};
    use shangji_core::Field;
    match kind {
        RecordKind::Account => {
            let input = AccountInput {
                archived: Field::Value(true),
                ..Default::default()
            };
            super::update::<Account>(db, ctx, id, input).await?;
        }
        RecordKind::Contact => {
            let input = ContactInput {
                archived: Field::Value(true),
                ..Default::default()
            };
            super::update::<Contact>(db, ctx, id, input).await?;
        }
        _ => {
            let input = LeadInput {
                archived: Field::Value(true),
                ..Default::default()
            };
            super::update::<Lead>(db, ctx, id, input).await?;
        }
    }
    Ok(())
}

/// After a merge: the pending reviews either record took part in are decided as merged.
pub async fn merged(db: &Db, ctx: &Ctx, kind: RecordKind, ids: [i64; 2]) -> Result<(), AppError> {
    let pending: Vec<i64> = db
        .pending_reviews_of(kind, &ids)
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    db.decide_duplicate_reviews(
        &pending,
        ReviewStatus::Merged,
        ctx.actor.user_id,
        ctx.now,
        None,
    )
    .await?;
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
