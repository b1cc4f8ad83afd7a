//! Records: create, read, update and list any record kind through the core's rules, with
//! custom fields, links checked against what the actor may see, versions and idempotency; the
//! record pages' operations (today, follow-ups, an opportunity's contacts, account 360).

use serde::Serialize;
use shangji_core::custom_fields::{self, CustomChange};
use shangji_core::input;
use shangji_core::model::*;
use shangji_core::opportunity::{NewEvent, OpportunityEvent};
use shangji_core::records::*;
use shangji_core::visibility::Scope;
use shangji_core::{Field, FieldError};
use shangji_store::{
    Access, Compare, CustomFilter, Db, Directory, Entity, IdemKey, ImportMark, ListQuery, Page,
    Save, StoreError,
};
use time::OffsetDateTime;

use super::*;

mod checks;
mod follow_ups;
mod overview;
pub(crate) use checks::*;
pub use follow_ups::*;
pub use overview::*;

use std::collections::HashMap;

use serde::Deserialize;
use shangji_core::alerts::{self, Alert, AlertClock};
use shangji_core::calendar::china_date;
use shangji_store::ApiToken;
use time::Date;
use utoipa::ToSchema;

/// A record kind served by the API: its owner and the records it links to.
pub trait Resource: Entity + Clone + Serialize + Sync {
    const RESOURCE: &'static str;
    fn owner(&self) -> Option<UserId>;
    /// Records this one links to, each of which the actor must be able to read:
    /// (field, kind, id).
    fn links(&self) -> Vec<(&'static str, RecordKind, i64)>;
    /// The record as the store now holds it, after a save gave it `id` and `version`.
    fn stored(self, id: i64, version: i64) -> Self;
}

/// A record kind whose create/update rules are one `apply` function of the core
/// (opportunities have their own operations, which also write history).
pub trait Record: Resource {
    type Input: Clone + Send + Sync + serde::de::DeserializeOwned + 'static;
    fn blank(ctx: &Ctx) -> Self;
    fn apply(
        &mut self,
        input: Self::Input,
        creating: bool,
        now: OffsetDateTime,
    ) -> Result<(), FieldError>;
    fn input_version(input: &Self::Input) -> Option<i64>;
    fn set_updated(&mut self, now: OffsetDateTime);
    /// Takes the `custom` object out of a body (record kinds with custom fields).
    fn take_custom(input: &mut Self::Input) -> Option<CustomValues> {
        let _ = input;
        None
    }
    /// What the record is matched on for duplicates (accounts, contacts, leads).
    fn match_keys(&self) -> Option<super::duplicates::Keys> {
        None
    }
    /// The body says to save it even though it looks like another record.
    fn allow_duplicate(input: &Self::Input) -> bool {
        let _ = input;
        false
    }
    /// The lead whose score this record's write may change: the lead itself, or the lead a
    /// follow-up is logged on.
    fn scored_lead(&self) -> Option<LeadId> {
        None
    }
    /// The record as a lead (leads only): a lead just created is scored as it is held.
    fn as_lead(&self) -> Option<&Lead> {
        None
    }
    /// The record with the score and grade just saved for it (leads only).
    fn with_score(self, scored: (i32, LeadGrade)) -> Self {
        let _ = scored;
        self
    }
    /// Leads and accounts (which wait in the public pool without an owner): keeps
    /// `pool_since` true after a form set the owner (it was `before`), and says what changed
    /// for the owner history (`assignment::settle`).
    fn settle_owner(
        &mut self,
        before: Option<UserId>,
        ctx: &Ctx,
    ) -> Option<shangji_core::assignment::OwnershipEvent> {
        let _ = (before, ctx);
        None
    }
    /// Leads and accounts: their kind, for their event rules and (a lead without an owner)
    /// the lead assignment rules.
    fn party_kind(&self) -> Option<RecordKind> {
        None
    }
}

macro_rules! pooled_record {
    ($kind:expr) => {
        fn settle_owner(
            &mut self,
            before: Option<UserId>,
            ctx: &Ctx,
        ) -> Option<shangji_core::assignment::OwnershipEvent> {
            let id = self.id;
            shangji_core::assignment::settle(before, self, id, &ctx.actor, ctx.now)
        }
        fn party_kind(&self) -> Option<RecordKind> {
            Some($kind)
        }
    };
}

/// A record saved over its duplicates where they go to the manager (`duplicates::guard`).
async fn send_for_review<T: Record>(
    db: &Db,
    ctx: &Ctx,
    record: &T,
    review: Option<Vec<shangji_core::duplicates::MatchedRecord>>,
) -> Result<(), AppError> {
    match (review, record.match_keys()) {
        (Some(matched), Some(keys)) => {
            super::duplicates::send_for_review(db, ctx, keys.kind, record.id(), matched).await
        }
        _ => Ok(()),
    }
}

/// After a lead or an account was created: its event rules, then — a lead that came in
/// without an owner — the lead assignment rules. Returns the record as it is now.
async fn after_party_created<T: Record>(db: &Db, ctx: &Ctx, record: T) -> Result<T, AppError> {
    let Some(kind) = record.party_kind() else {
        return Ok(record);
    };
    let id = record.id();
    let after = serde_json::to_value(&record).unwrap_or_default();
    super::automation::after_party_write(db, ctx, kind, None, after).await;
    if kind != RecordKind::Lead || record.owner().is_some() {
        return Ok(record);
    }
    match super::assignment::route_new_lead(db, ctx, id).await? {
        None => Ok(record),
        Some(_) => db
            .get::<T>(id, &Scope::All, Access::Read)
            .await?
            .ok_or(AppError::NotFound),
    }
}

/// Scores the lead a write may have changed again; a lead just written is read back with
/// its new score.
async fn rescored<T: Record>(db: &Db, ctx: &Ctx, record: T, id: i64) -> Result<T, AppError> {
    let Some(lead) = record.scored_lead() else {
        return Ok(record);
    };
    if !super::scoring::rescore_lead(db, ctx.now, lead).await? {
        return Ok(record);
    }
    Ok(db
        .get::<T>(id, &ctx.scope, Access::Read)
        .await?
        .unwrap_or(record))
}

macro_rules! resource {
    ($t:ty, $name:literal, $owner:ident, |$s:ident| $links:expr) => {
        impl Resource for $t {
            const RESOURCE: &'static str = $name;
            fn owner(&self) -> Option<UserId> {
                self.$owner.into()
            }
            fn links(&self) -> Vec<(&'static str, RecordKind, i64)> {
                let $s = self;
                $links
            }
            fn stored(self, id: i64, version: i64) -> Self {
                Self {
                    id,
                    version,
                    ..self
                }
            }
        }
    };
}

resource!(Account, "accounts", owner_id, |_s| vec![]);
resource!(Contact, "contacts", owner_id, |s| s
    .account_id
    .map(|a| ("account_id", RecordKind::Account, a))
    .into_iter()
    .collect());
resource!(Lead, "leads", owner_id, |_s| vec![]);
resource!(Activity, "activities", author_id, |s| [
    s.account_id.map(|i| ("account_id", RecordKind::Account, i)),
    s.contact_id.map(|i| ("contact_id", RecordKind::Contact, i)),
    s.opportunity_id
        .map(|i| ("opportunity_id", RecordKind::Opportunity, i)),
    s.lead_id.map(|i| ("lead_id", RecordKind::Lead, i)),
]
.into_iter()
.flatten()
.collect());
resource!(
    Task,
    "tasks",
    assignee_id,
    |s| match (s.record_kind, s.record_id) {
        (Some(k), Some(id)) => vec![("record_id", k, id)],
        _ => vec![],
    }
);
resource!(Opportunity, "opportunities", owner_id, |s| {
    let mut l = vec![("account_id", RecordKind::Account, s.account_id)];
    l.extend(
        s.primary_contact_id
            .map(|c| ("primary_contact_id", RecordKind::Contact, c)),
    );
    l
});

macro_rules! record_common {
    () => {
        fn set_updated(&mut self, now: OffsetDateTime) {
            self.updated_at = now;
        }
    };
}

impl Record for Account {
    type Input = AccountInput;
    fn blank(ctx: &Ctx) -> Self {
        blank_account(ctx.actor.user_id, ctx.now)
    }
    fn apply(
        &mut self,
        input: AccountInput,
        creating: bool,
        _: OffsetDateTime,
    ) -> Result<(), FieldError> {
        apply_account(self, input, creating)
    }
    fn input_version(input: &AccountInput) -> Option<i64> {
        input.version
    }
    fn take_custom(input: &mut AccountInput) -> Option<CustomValues> {
        input.custom.take()
    }
    fn match_keys(&self) -> Option<super::duplicates::Keys> {
        let mut k = super::duplicates::Keys::new(RecordKind::Account, self.id, Some(&self.name));
        k.probe.credit_code = self.credit_code.clone();
        Some(k)
    }
    fn allow_duplicate(input: &AccountInput) -> bool {
        input.allow_duplicate
    }
    pooled_record!(RecordKind::Account);
    record_common!();
}

impl Record for Contact {
    type Input = ContactInput;
    fn blank(ctx: &Ctx) -> Self {
        blank_contact(ctx.actor.user_id, ctx.now)
    }
    fn apply(
        &mut self,
        input: ContactInput,
        creating: bool,
        _: OffsetDateTime,
    ) -> Result<(), FieldError> {
        apply_contact(self, input, creating)
    }
    fn input_version(input: &ContactInput) -> Option<i64> {
        input.version
    }
    fn take_custom(input: &mut ContactInput) -> Option<CustomValues> {
        input.custom.take()
    }
    fn match_keys(&self) -> Option<super::duplicates::Keys> {
        let mut k = super::duplicates::Keys::new(RecordKind::Contact, self.id, None);
        k.probe.mobile = self.mobile.clone();
        k.probe.email = self.email.clone();
        Some(k)
    }
    fn allow_duplicate(input: &ContactInput) -> bool {
        input.allow_duplicate
    }
    record_common!();
}

impl Record for Lead {
    type Input = LeadInput;
    fn blank(ctx: &Ctx) -> Self {
        let mut l = blank_lead(ctx.now);
        // A rep's own lead is theirs; a manager's new lead goes to the pool unless assigned.
        if !ctx.scope.is_manager() {
            l.owner_id = Some(ctx.actor.user_id);
        }
        l
    }
    fn apply(
        &mut self,
        input: LeadInput,
        creating: bool,
        _: OffsetDateTime,
    ) -> Result<(), FieldError> {
        apply_lead(self, input, creating)
    }
    fn input_version(input: &LeadInput) -> Option<i64> {
        input.version
    }
    fn take_custom(input: &mut LeadInput) -> Option<CustomValues> {
        input.custom.take()
    }
    fn match_keys(&self) -> Option<super::duplicates::Keys> {
        let company = self.company_name.as_deref();
        let mut k = super::duplicates::Keys::new(RecordKind::Lead, self.id, company);
        k.probe.mobile = self.mobile.clone();
        k.probe.email = self.email.clone();
        Some(k)
    }
    fn allow_duplicate(input: &LeadInput) -> bool {
        input.allow_duplicate
    }
    fn scored_lead(&self) -> Option<LeadId> {
        Some(self.id)
    }
    fn as_lead(&self) -> Option<&Lead> {
        Some(self)
    }
    fn with_score(self, (score, grade): (i32, LeadGrade)) -> Self {
        Lead {
            score: Some(score),
            grade: Some(grade),
            ..self
        }
    }
    pooled_record!(RecordKind::Lead);
    record_common!();
}

impl Record for Activity {
    type Input = ActivityInput;
    fn blank(ctx: &Ctx) -> Self {
        blank_activity(ctx.actor.user_id, ctx.now)
    }
    fn apply(
        &mut self,
        input: ActivityInput,
        creating: bool,
        _: OffsetDateTime,
    ) -> Result<(), FieldError> {
        apply_activity(self, input, creating)
    }
    fn input_version(input: &ActivityInput) -> Option<i64> {
        input.version
    }
    fn scored_lead(&self) -> Option<LeadId> {
        self.lead_id
    }
    record_common!();
}

impl Record for Task {
    type Input = TaskInput;
    fn blank(ctx: &Ctx) -> Self {
        blank_task(ctx.actor.user_id, ctx.now)
    }
    fn apply(
        &mut self,
        input: TaskInput,
        creating: bool,
        now: OffsetDateTime,
    ) -> Result<(), FieldError> {
        apply_task(self, input, creating, now)
    }
    fn input_version(input: &TaskInput) -> Option<i64> {
        input.version
    }
    record_common!();
}

pub(crate) async fn replay<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    idem: &Idempotency,
) -> Result<Option<Created<T>>, AppError> {
    let Some(first) = db.idempotency(ctx.actor.user_id, &idem.key).await? else {
        return Ok(None);
    };
    if first.resource != T::RESOURCE || first.request_hash != idem.request_hash {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        ));
    }
    let record = db
        .get::<T>(first.record_id, &ctx.scope, Access::Read)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Some(Created {
        record,
        replayed: true,
    }))
}

/// Saves a new record, honouring an idempotency key; a concurrent retry that loses the race
/// for the key gets the winner's record.
pub(crate) async fn insert<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    record: T,
    events: &[NewEvent],
    custom: &[CustomChange],
    idem: Option<Idempotency>,
    imported: Option<ImportMark>,
) -> Result<Created<T>, AppError> {
    let key = idem.as_ref().map(|i| IdemKey {
        user_id: ctx.actor.user_id,
        key: i.key.clone(),
        resource: T::RESOURCE,
        request_hash: i.request_hash.clone(),
        at: ctx.now,
    });
    let how = match imported {
        Some(mark) => Save::Imported(mark),
        None => Save::Insert { idem: key.as_ref() },
    };
    match db.save_with_custom(&record, how, events, custom).await {
        Ok(id) => Ok(Created {
            record: record.stored(id, 1),
            replayed: false,
        }),
        Err(StoreError::Duplicate(_)) if idem.is_some() => {
            let idem = idem.expect("checked");
            replay(db, ctx, &idem)
                .await?
                .ok_or(AppError::Internal("idempotency race".into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create<T: Record>(
    db: &Db,
    ctx: &Ctx,
    input: T::Input,
    idem: Option<Idempotency>,
) -> Result<Created<T>, AppError> {
    create_then(db, ctx, input, idem, async |_: &T| Ok(())).await
}

/// A new record from `input` as [`create`] would store it, every rule but the duplicate
/// check passed, nothing saved: the record, its custom values' changes, and whether the input
/// says to save it over its duplicates.
pub(crate) async fn prepared<T: Record>(
    db: &Db,
    ctx: &Ctx,
    mut input: T::Input,
) -> Result<(T, Vec<CustomChange>, bool), AppError> {
    let custom = T::take_custom(&mut input);
    let allow = T::allow_duplicate(&input);
    let mut record = T::blank(ctx);
    record.apply(input, true, ctx.now)?;
    // A new record's owner is no change of owner: its history starts with it.
    record.settle_owner(None, ctx);
    let changes = apply_custom(db, ctx, &mut record, custom, true).await?;
    check_owner(ctx, "owner_id", record.owner(), Some(ctx.actor.user_id))?;
    check_links(db, ctx, record.links()).await?;
    Ok((record, changes, allow))
}

/// [`create`], running `just_saved` on the record as soon as it is stored — before it is
/// scored and its rules run, so that what `just_saved` records (a web form's submission, a
/// touch the lead is scored on) counts for them.
pub async fn create_then<T: Record>(
    db: &Db,
    ctx: &Ctx,
    input: T::Input,
    idem: Option<Idempotency>,
    just_saved: impl AsyncFnOnce(&T) -> Result<(), AppError>,
) -> Result<Created<T>, AppError> {
    if let Some(i) = &idem {
        if let Some(done) = replay::<T>(db, ctx, i).await? {
            return Ok(done);
        }
    }
    let (record, changes, allow) = prepared::<T>(db, ctx, input).await?;
    let review = super::duplicates::guard(db, ctx, record.match_keys(), allow).await?;
    save_new(db, ctx, record, &changes, idem, None, review, just_saved).await
}

/// The rest of [`create_then`] once the record is prepared and its duplicates were dealt
/// with (`review`: the matches to send to the manager): saves it (with the mark of the import
/// row it comes from, if any), scores it, runs its rules and routing.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn save_new<T: Record>(
    db: &Db,
    ctx: &Ctx,
    record: T,
    changes: &[CustomChange],
    idem: Option<Idempotency>,
    imported: Option<ImportMark>,
    review: Option<Vec<shangji_core::duplicates::MatchedRecord>>,
    just_saved: impl AsyncFnOnce(&T) -> Result<(), AppError>,
) -> Result<Created<T>, AppError> {
    let created = insert(db, ctx, record, &[], changes, idem, imported).await?;
    if created.replayed {
        return Ok(created);
    }
    let id = created.record.id();
    just_saved(&created.record).await?;
    send_for_review(db, ctx, &created.record, review).await?;
    let record = match created.record.as_lead() {
        // Just created: scored as it is held, nothing of it read back.
        Some(lead) => match super::scoring::score_new_lead(db, ctx.now, lead).await? {
            Some(scored) => created.record.with_score(scored),
            None => created.record,
        },
        None => rescored(db, ctx, created.record, id).await?,
    };
    Ok(Created {
        record: after_party_created(db, ctx, record).await?,
        replayed: false,
    })
}

pub async fn get<T: Resource>(db: &Db, ctx: &Ctx, id: i64) -> Result<T, AppError> {
    db.get::<T>(id, &ctx.scope, Access::Read)
        .await?
        .ok_or(AppError::NotFound)
}

/// Loads a record for change: 404 outside the actor's scope, 403 when only readable.
pub(crate) async fn for_update<T: Resource>(db: &Db, ctx: &Ctx, id: i64) -> Result<T, AppError> {
    match db.get::<T>(id, &ctx.scope, Access::Write).await? {
        Some(r) => Ok(r),
        None => match db.get::<T>(id, &ctx.scope, Access::Read).await? {
            Some(_) => Err(AppError::Forbidden("read_only")),
            None => Err(AppError::NotFound),
        },
    }
}

pub(crate) fn check_version(stored: i64, given: Option<i64>) -> Result<(), AppError> {
    match given {
        Some(v) if v != stored => Err(AppError::Conflict {
            current_version: stored,
        }),
        _ => Ok(()),
    }
}

/// Changes a record; without a version the change takes its turn ([`super::in_turn`]).
pub async fn update<T: Record>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: T::Input,
) -> Result<T, AppError> {
    let given = T::input_version(&input);
    super::in_turn(given, || update_once::<T>(db, ctx, id, input.clone())).await
}

async fn update_once<T: Record>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: T::Input,
) -> Result<T, AppError> {
    let mut record = for_update::<T>(db, ctx, id).await?;
    check_version(record.version(), T::input_version(&input))?;
    let before = record.clone();
    let mut input = input;
    let custom = T::take_custom(&mut input);
    let allow = T::allow_duplicate(&input);
    record.apply(input, false, ctx.now)?;
    let owner_change = record.settle_owner(before.owner(), ctx);
    // Matched again only when what it is matched on changed.
    let keys = record.match_keys();
    let review = if keys != before.match_keys() {
        super::duplicates::guard(db, ctx, keys, allow).await?
    } else {
        None
    };
    let changes = apply_custom(db, ctx, &mut record, custom, false).await?;
    check_owner(ctx, "owner_id", record.owner(), before.owner())?;
    let links: Vec<_> = record
        .links()
        .into_iter()
        .filter(|l| !before.links().contains(l))
        .collect();
    check_links(db, ctx, links).await?;
    if serde_json::to_value(&record).ok() == serde_json::to_value(&before).ok() {
        return Ok(before);
    }
    record.set_updated(ctx.now);
    db.save_with_custom(
        &record,
        Save::Update {
            expected_version: before.version(),
        },
        &[],
        &changes,
    )
    .await?;
    if let Some(event) = owner_change {
        db.insert_ownership_event(&event).await?;
    }
    send_for_review(db, ctx, &record, review).await?;
    let record = record.stored(id, before.version() + 1);
    if let Some(kind) = record.party_kind() {
        let (before, after) = (
            serde_json::to_value(&before).ok(),
            serde_json::to_value(&record),
        );
        let after = after.unwrap_or_default();
        super::automation::after_party_write(db, ctx, kind, before.as_ref(), after).await;
    }
    rescored(db, ctx, record, id).await
}

/// Parses list parameters against a record kind's whitelist of filters and sort columns.
pub fn list_query<E: Entity>(
    params: &[(String, String)],
    dir: &Directory,
) -> Result<ListQuery, AppError> {
    let mut q = ListQuery::default();
    let mut page: i64 = 1;
    let bad = |field: &str, what: &str| {
        AppError::bad_request(field, "invalid_parameter", format!("{field}: {what}"))
    };
    let int = |field: &str, v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| bad(field, "expected an integer"))
    };
    let date = |field: &str, v: &str| {
        time::Date::parse(
            v.trim(),
            &time::format_description::well_known::Iso8601::DATE,
        )
        .map_err(|_| bad(field, "expected a date like 2026-03-31"))
    };
    for (k, v) in params {
        let k = k.as_str();
        input::query_text(k, v).map_err(AppError::BadRequest)?;
        match k {
            "q" => q.q = Some(v.clone()),
            "page" => {
                page = int(k, v)?;
                if page < 1 {
                    return Err(bad(k, "pages are counted from 1"));
                }
            }
            "per_page" => {
                let n = int(k, v)?;
                if !(1..=200).contains(&n) {
                    return Err(bad(k, "must be between 1 and 200"));
                }
                q.limit = n;
            }
            "sort" => {
                let (desc, col) = match v.strip_prefix('-') {
                    Some(c) => (true, c),
                    None => (false, v.as_str()),
                };
                q.sort = E::SORT
                    .iter()
                    .find(|c| **c == col)
                    .copied()
                    .ok_or_else(|| {
                        bad(
                            k,
                            &format!("cannot sort by `{col}`; use one of {}", E::SORT.join(", ")),
                        )
                    })?;
                q.desc = desc;
            }
            "owner_id" => q.owner_id = Some(int(k, v)?),
            "team_id" => {
                let team = int(k, v)?;
                if !dir.org.teams.iter().any(|t| t.id == team) {
                    return Err(AppError::invalid(
                        k,
                        "unknown_team",
                        format!("team {team} does not exist"),
                    ));
                }
                q.owner_ids = Some(dir.org.members(team));
            }
            "include_archived" => {
                q.include_archived = input::flag(k, v).map_err(AppError::BadRequest)?
            }
            "tag" if E::TAGS => q.tag = Some(v.trim().to_string()),
            // Days in China time, the last one included.
            "created_from" | "created_to" => {
                let day = date(k, v)?;
                let (day, op) = if k == "created_from" {
                    (day, ">=")
                } else {
                    (day.next_day().unwrap_or(day), "<")
                };
                let at = day.midnight().assume_offset(crate::i18n::DISPLAY_OFFSET);
                q.ranges.push(("created_at", op, at.into()));
            }
            "updated_since" => {
                let t =
                    OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339)
                        .map_err(|_| {
                            bad(k, "expected an RFC 3339 time like 2026-03-31T08:00:00Z")
                        })?;
                q.ranges.push(("updated_at", ">=", t.into()));
            }
            _ if k.starts_with("cf.") => q.custom.push(custom_filter::<E>(k, v, dir)?),
            _ => {
                if let Some((prefix, col)) = E::DATE_RANGE {
                    if k == format!("{prefix}_from") {
                        q.ranges.push((col, ">=", date(k, v)?.into()));
                        continue;
                    }
                    if k == format!("{prefix}_to") {
                        q.ranges.push((col, "<=", date(k, v)?.into()));
                        continue;
                    }
                }
                let Some((col, kind)) = E::FILTERS.iter().find(|(c, _)| *c == k) else {
                    return Err(AppError::bad_request(
                        k,
                        "unknown_parameter",
                        format!("unknown list parameter `{k}`"),
                    ));
                };
                let arg = match kind {
                    shangji_store::FilterKind::Id => int(k, v)?.into(),
                    shangji_store::FilterKind::Bool => {
                        input::flag(k, v).map_err(AppError::BadRequest)?.into()
                    }
                    shangji_store::FilterKind::Text => v.trim().to_string().into(),
                    shangji_store::FilterKind::OneOf(names) => {
                        let v = v.trim();
                        if !names.contains(&v) {
                            return Err(bad(k, &format!("expected one of {}", names.join(", "))));
                        }
                        v.to_string().into()
                    }
                };
                q.eq.push((col, arg));
            }
        }
    }
    q.offset = (page - 1).saturating_mul(q.limit);
    Ok(q)
}

/// A list filter on a custom field: `cf.<key>=value` (equality; a multi-select has that
/// option), `cf.<key>_from` / `cf.<key>_to` (a range, bounds included). A key that is itself
/// named `…_from` or `…_to` is taken as the whole key first.
pub(crate) fn custom_filter<E: Entity>(
    param: &str,
    value: &str,
    dir: &Directory,
) -> Result<CustomFilter, AppError> {
    let name = &param["cf.".len()..];
    let field =
        |key: &str| E::CUSTOM.and_then(|kind| dir.custom_fields_of(kind).find(|d| d.key == key));
    let found = field(name).map(|d| (d, Compare::Eq)).or_else(|| {
        let from = name.strip_suffix("_from").and_then(field);
        let to = name.strip_suffix("_to").and_then(field);
        from.map(|d| (d, Compare::AtLeast))
            .or(to.map(|d| (d, Compare::AtMost)))
    });
    let Some((def, compare)) = found else {
        return Err(AppError::bad_request(
            param,
            "unknown_filter",
            format!("`{param}` names no custom field of these records"),
        ));
    };
    let value = custom_fields::filter_value(def, value, compare != Compare::Eq)
        .map_err(|m| AppError::bad_request(param, "invalid_parameter", format!("{param}: {m}")))?;
    Ok(CustomFilter {
        field_id: def.id,
        compare,
        value,
    })
}

pub async fn list<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Page<T>, AppError> {
    let q = list_query::<T>(params, &ctx.dir)?;
    Ok(db.list::<T>(&ctx.scope, &q).await?)
}

/// The most open opportunities the today page weighs (newest changed first).
const TODAY_MAX_OPPORTUNITIES: i64 = 1000;

/// Whose records the today page shows: the actor's own, or everyone in their scope.
fn owners(ctx: &Ctx, team: bool) -> Option<Vec<UserId>> {
    match (&ctx.scope, team) {
        (_, false) | (Scope::Own { .. }, true) => Some(vec![ctx.actor.user_id]),
        (Scope::Teams { members, .. }, true) => Some(members.clone()),
        (Scope::All, true) => None,
    }
}

/// One open opportunity on the today page with what the core says about it.
#[derive(Debug, Clone)]
pub struct TodayDeal {
    pub opportunity: Opportunity,
    pub alerts: Vec<Alert>,
    /// The latest customer-facing follow-up, if any.
    pub last_follow_up: Option<OffsetDateTime>,
    pub next_step_due: bool,
}

/// What needs doing today, for the actor or their team.
#[derive(Debug, Clone)]
pub struct Today {
    /// The team's view (managers and directors).
    pub team: bool,
    pub today: Date,
    /// Tasks not done, due today or before, oldest first.
    pub tasks: Vec<Task>,
    /// Open opportunities, newest changed first.
    pub deals: Vec<TodayDeal>,
    /// How many open opportunities there are (the page weighs at most 1000).
    pub open_total: i64,
    /// The latest events of these deals, newest first.
    pub events: Vec<OpportunityEvent>,
}

pub async fn today(db: &Db, ctx: &Ctx, team: bool) -> Result<Today, AppError> {
    let team = team && ctx.scope.is_manager();
    let owner_ids = owners(ctx, team);
    let today = china_date(ctx.now);
    let tasks = db
        .list::<Task>(
            &ctx.scope,
            &ListQuery {
                eq: vec![("done", false.into())],
                ranges: vec![("due_date", "<=", today.into())],
                owner_ids: owner_ids.clone(),
                sort: "due_date",
                desc: false,
                limit: 200,
                ..Default::default()
            },
        )
        .await?
        .items;
    let mut open = Vec::new();
    let mut open_total = 0;
    while (open.len() as i64) < TODAY_MAX_OPPORTUNITIES {
        let page = db
            .list::<Opportunity>(
                &ctx.scope,
                &ListQuery {
                    eq: vec![("status", StageKind::Open.as_str().into())],
                    owner_ids: owner_ids.clone(),
                    limit: 200,
                    offset: open.len() as i64,
                    ..Default::default()
                },
            )
            .await?;
        open_total = page.total;
        let done = page.items.is_empty();
        open.extend(page.items);
        if done || open.len() as i64 >= page.total {
            break;
        }
    }
    let ids: Vec<OpportunityId> = open.iter().map(|o| o.id).collect();
    let kinds = super::facts::facts_config(db).await?;
    let last: HashMap<OpportunityId, OffsetDateTime> = db
        .last_follow_ups(&ids, &kinds.kinds(), ctx.now)
        .await?
        .into_iter()
        .collect();
    let calendar = super::facts::calendar(db).await?;
    let clock = AlertClock {
        now: ctx.now,
        today,
        calendar: &calendar,
        no_follow_up_days: alerts::NO_FOLLOW_UP_WORKING_DAYS,
    };
    let deals = open
        .into_iter()
        .map(|o| {
            let stage = ctx
                .dir
                .pipeline(o.pipeline_id)
                .and_then(|p| p.stage(o.stage_id));
            let last_follow_up = last.get(&o.id).copied();
            TodayDeal {
                alerts: alerts::opportunity_alerts(&o, stage, last_follow_up, &clock),
                next_step_due: alerts::next_step_due(&o, today),
                last_follow_up,
                opportunity: o,
            }
        })
        .collect();
    let events = db
        .recent_events(&ctx.scope, owner_ids.as_deref(), 20)
        .await?;
    Ok(Today {
        team,
        today,
        tasks,
        deals,
        open_total,
        events,
    })
}

/// A contact taking part in an opportunity, with the role they play in this purchase.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpportunityContact {
    pub contact: Contact,
    pub buying_role: Option<BuyingRole>,
}

/// The body of linking a contact to an opportunity.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactLinkInput {
    pub contact_id: ContactId,
    #[serde(default)]
    pub buying_role: Option<BuyingRole>,
}

/// The contacts of an opportunity the caller can read.
pub async fn opportunity_contacts(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<OpportunityContact>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    let mut out = Vec::new();
    for (contact_id, buying_role) in db.opportunity_contacts(id).await? {
        if let Some(contact) = db
            .get::<Contact>(contact_id, &ctx.scope, Access::Read)
            .await?
        {
            out.push(OpportunityContact {
                contact,
                buying_role,
            });
        }
    }
    Ok(out)
}

/// Links a contact of the opportunity's account to it with a buying role (or changes the
/// role). Whoever may change the opportunity may do this.
pub async fn link_contact(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: ContactLinkInput,
) -> Result<Vec<OpportunityContact>, AppError> {
    let opp = for_update::<Opportunity>(db, ctx, id).await?;
    let contact = db
        .get::<Contact>(input.contact_id, &ctx.scope, Access::Read)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "contact_id",
                "unknown_reference",
                format!("contact_id {} does not exist", input.contact_id),
            )
        })?;
    if contact.account_id != Some(opp.account_id) || contact.archived {
        return Err(AppError::invalid(
            "contact_id",
            "other_account",
            "the contact must be a current contact of the opportunity's account",
        ));
    }
    db.link_contact(id, contact.id, input.buying_role, ctx.now)
        .await?;
    opportunity_contacts(db, ctx, id).await
}

pub async fn unlink_contact(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    contact_id: ContactId,
) -> Result<(), AppError> {
    for_update::<Opportunity>(db, ctx, id).await?;
    if !db.unlink_contact(id, contact_id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The open tasks of an opportunity and the ones done lately, open first by due date.
pub async fn opportunity_tasks(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<Task>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    let q = ListQuery {
        eq: vec![
            ("record_kind", RecordKind::Opportunity.as_str().into()),
            ("record_id", id.into()),
        ],
        sort: "due_date",
        desc: false,
        limit: 100,
        ..Default::default()
    };
    // Tasks of a deal are the deal's: whoever reads the deal sees them.
    let mut tasks = db.list::<Task>(&Scope::All, &q).await?.items;
    tasks.sort_by_key(|t| (t.done, t.due_date.is_none(), t.due_date));
    Ok(tasks)
}

/// Marks a task done (or not done again): an ordinary task update, with its version.
pub async fn set_task_done(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    done: bool,
    version: Option<i64>,
) -> Result<Task, AppError> {
    super::update::<Task>(
        db,
        ctx,
        id,
        shangji_core::records::TaskInput {
            done: Field::Value(done),
            version,
            ..Default::default()
        },
    )
    .await
}

/// An opportunity's follow-ups, newest first.
pub async fn opportunity_activities(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<Activity>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    // The deal's follow-ups are readable with the deal.
    Ok(db.activities_about(&Scope::All, None, &[id], 200).await?)
}

// ---- API tokens, managed by an admin for anyone. ----

/// Every user with their API tokens (admins).
pub async fn all_tokens(db: &Db, ctx: &Ctx) -> Result<Vec<(User, Vec<ApiToken>)>, AppError> {
    ctx.require_admin()?;
    let mut out = Vec::new();
    for u in db.users().await? {
        let tokens = db.tokens(u.id).await?;
        out.push((u, tokens));
    }
    Ok(out)
}

/// A new API token for a user (admins): the secret is returned once.
pub async fn create_token_for(
    db: &Db,
    ctx: &Ctx,
    user_id: UserId,
    name: &str,
) -> Result<(String, i64), AppError> {
    ctx.require_admin()?;
    match db.user(user_id).await? {
        Some(u) if u.active => super::create_token(db, Some(ctx), user_id, name, ctx.now).await,
        _ => Err(AppError::invalid(
            "user_id",
            "unknown_user",
            format!("user {user_id} does not exist or is inactive"),
        )),
    }
}

/// Revokes a user's token (admins).
pub async fn revoke_token_of(
    db: &Db,
    ctx: &Ctx,
    user_id: UserId,
    token_id: i64,
) -> Result<(), AppError> {
    ctx.require_admin()?;
    super::directory::revoke_token(db, ctx, user_id, token_id).await
}
