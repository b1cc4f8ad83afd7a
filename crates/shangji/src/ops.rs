//! Operations: each loads what it needs, lets shangji-core decide, saves, and returns. The
//! JSON API, the pages, the command line and (later) the importer and the scheduler call
//! these functions, so every rule is enforced on every path in.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use shangji_core::analytics;
use shangji_core::approval::{self, ApprovalPolicy, ApprovalRequest, ApprovalStatus, Approver};
use shangji_core::calendar;
use shangji_core::custom_fields::{
    self, CustomChange, CustomFieldDef, CustomFieldInput, CustomFieldType, ValueMigration,
};
use shangji_core::model::*;
use shangji_core::opportunity::{
    self, MoveContext, MoveInput, NewEvent, OpportunityEvent, OpportunityInput,
};
use shangji_core::process::{
    self, LossReason, PipelineTemplate, StageGate, StageSpec, StandardAction, TransitionPolicy,
};
use shangji_core::records::{self, *};
use shangji_core::visibility::{self, Actor, Scope};
use shangji_core::{Field, FieldError, MoveError};
use shangji_store::projection::{Facet, Slice};
use shangji_store::{
    Access, Authenticated, Compare, CustomFilter, Db, Directory, Entity, IdemKey, ListQuery, Page,
    Save, StoreError, Write,
};
use time::OffsetDateTime;

use crate::error::AppError;

/// Automation: rules, the scheduler, event rules, the calendar setting, preferences.
pub mod assignment;
pub mod automation;
/// The forecast page, the manager roll-up and adjustments.
pub mod forecast;
pub mod lists;
/// The record pages' operations (today, follow-ups, opportunity contacts, account 360).
pub mod record_ops;
/// The report pages' operations: filters, sources, trends, exports.
pub mod reports;
pub use reports::{sales_cycle_report, sources_report, time_in_stage_trend_report};
/// The background sender of outgoing notifications and the daily digest.
pub mod deliver;
/// Importing stage history from a CSV file.
pub mod history_import;
/// Outgoing notifications: what a notification sends out (the outbox), channels, the
/// webhook allow-list, email preferences, the delivery log.
pub mod outbox;
/// The funnel review meeting: sections since the last review, decisions, reviews held.
pub mod review;
/// Horizons, forecast snapshots, accuracy and the backtest.
pub mod snapshots;

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
}

impl Ctx {
    /// The context of a signed-in user, with the directory as of their sign-in query.
    pub async fn for_user(
        db: &Db,
        who: &Authenticated,
        now: OffsetDateTime,
        lang: Language,
    ) -> Result<Ctx, AppError> {
        let dir = db.directory_at(who.directory_version).await?;
        let user = &who.user;
        let actor = Actor {
            user_id: user.id,
            role: user.role,
            team_id: user.team_id,
        };
        let now = now
            .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
            .unwrap_or(now);
        Ok(Ctx {
            scope: visibility::scope(&actor, &dir.org),
            actor,
            dir,
            now,
            lang,
        })
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.actor.role {
            Role::Admin => Ok(()),
            _ => Err(AppError::Forbidden("admin_only")),
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
    type Input: Send + Sync + serde::de::DeserializeOwned + 'static;
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

/// Checks that the actor can read every linked record (a link to something outside their
/// scope is reported as unknown, as if it did not exist).
async fn check_links(
    db: &Db,
    ctx: &Ctx,
    links: Vec<(&'static str, RecordKind, i64)>,
) -> Result<(), AppError> {
    for (field, kind, id) in links {
        let found = match kind {
            RecordKind::Account => db
                .get::<Account>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
            RecordKind::Contact => db
                .get::<Contact>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
            RecordKind::Lead => db
                .get::<Lead>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
            RecordKind::Opportunity => db
                .get::<Opportunity>(id, &ctx.scope, Access::Read)
                .await?
                .is_some(),
        };
        if !found {
            return Err(AppError::invalid(
                field,
                "unknown_reference",
                format!("{field} {id} does not exist"),
            ));
        }
    }
    Ok(())
}

/// The owner of a record must be an active user within the actor's scope (a rep can only
/// own things themselves; a manager assigns within the team).
async fn check_owner(
    db: &Db,
    ctx: &Ctx,
    field: &str,
    owner: Option<UserId>,
    before: Option<UserId>,
) -> Result<(), AppError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    if Some(owner) == before {
        return Ok(());
    }
    let user = db.user(owner).await?.filter(|u| u.active);
    let Some(user) = user else {
        return Err(AppError::invalid(
            field,
            "unknown_user",
            format!("user {owner} does not exist or is inactive"),
        ));
    };
    if !ctx.scope.covers(Some(user.id)) {
        return Err(AppError::invalid(
            field,
            "owner_out_of_scope",
            "you cannot assign records to this user",
        ));
    }
    Ok(())
}

/// Applies the `custom` object of a body to a record's values: the core checks each value
/// against the definitions of the record kind; a user named by a user field must be active.
/// Returns the changes, which the save writes with the record.
async fn apply_custom<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    record: &mut T,
    input: Option<CustomValues>,
    creating: bool,
) -> Result<Vec<CustomChange>, AppError> {
    let (Some(kind), Some(values)) = (T::CUSTOM, record.custom_mut()) else {
        return match input {
            Some(_) => Err(AppError::invalid(
                "custom",
                "unknown_field",
                format!("{} have no custom fields", T::RESOURCE),
            )),
            None => Ok(vec![]),
        };
    };
    if input.is_none() && !creating {
        return Ok(vec![]);
    }
    let changes =
        custom_fields::apply_values(&ctx.dir.custom_fields, kind, values, input, creating)?;
    for c in &changes {
        let is_user = ctx
            .dir
            .custom_field(c.field_id)
            .is_some_and(|d| d.field_type == CustomFieldType::User);
        if let (true, Some(id)) = (is_user, c.new.as_i64()) {
            if !db.user(id).await?.is_some_and(|u| u.active) {
                return Err(AppError::invalid(
                    &custom_fields::field_name(&c.key),
                    "unknown_user",
                    format!("user {id} does not exist or is inactive"),
                ));
            }
        }
    }
    Ok(changes)
}

async fn replay<T: Resource>(
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
async fn insert<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    record: T,
    events: &[NewEvent],
    custom: &[CustomChange],
    idem: Option<Idempotency>,
) -> Result<Created<T>, AppError> {
    let key = idem.as_ref().map(|i| IdemKey {
        user_id: ctx.actor.user_id,
        key: i.key.clone(),
        resource: T::RESOURCE,
        request_hash: i.request_hash.clone(),
        at: ctx.now,
    });
    match db
        .save_with_custom(&record, Save::Insert { idem: key.as_ref() }, events, custom)
        .await
    {
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
    if let Some(i) = &idem {
        if let Some(done) = replay::<T>(db, ctx, i).await? {
            return Ok(done);
        }
    }
    let mut input = input;
    let custom = T::take_custom(&mut input);
    let mut record = T::blank(ctx);
    record.apply(input, true, ctx.now)?;
    let changes = apply_custom(db, ctx, &mut record, custom, true).await?;
    check_owner(db, ctx, "owner_id", record.owner(), Some(ctx.actor.user_id)).await?;
    check_links(db, ctx, record.links()).await?;
    insert(db, ctx, record, &[], &changes, idem).await
}

pub async fn get<T: Resource>(db: &Db, ctx: &Ctx, id: i64) -> Result<T, AppError> {
    db.get::<T>(id, &ctx.scope, Access::Read)
        .await?
        .ok_or(AppError::NotFound)
}

/// Loads a record for change: 404 outside the actor's scope, 403 when only readable.
async fn for_update<T: Resource>(db: &Db, ctx: &Ctx, id: i64) -> Result<T, AppError> {
    match db.get::<T>(id, &ctx.scope, Access::Write).await? {
        Some(r) => Ok(r),
        None => match db.get::<T>(id, &ctx.scope, Access::Read).await? {
            Some(_) => Err(AppError::Forbidden("read_only")),
            None => Err(AppError::NotFound),
        },
    }
}

fn check_version(stored: i64, given: Option<i64>) -> Result<(), AppError> {
    match given {
        Some(v) if v != stored => Err(AppError::Conflict {
            current_version: stored,
        }),
        _ => Ok(()),
    }
}

pub async fn update<T: Record>(
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
    record.apply(input, false, ctx.now)?;
    let changes = apply_custom(db, ctx, &mut record, custom, false).await?;
    check_owner(db, ctx, "owner_id", record.owner(), before.owner()).await?;
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
    Ok(record.stored(id, before.version() + 1))
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
        match k {
            "q" => q.q = Some(v.clone()),
            "page" => page = int(k, v)?.max(1),
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
            "include_archived" => q.include_archived = v == "true" || v == "1",
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
                    shangji_store::FilterKind::Bool => (v == "true" || v == "1").into(),
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
fn custom_filter<E: Entity>(
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

// ---- Opportunities: every change goes through the core and writes its events. ----

fn pipeline_for(ctx: &Ctx, id: Option<PipelineId>) -> Result<&Pipeline, AppError> {
    let found = match id {
        Some(id) => ctx.dir.pipeline(id).filter(|p| !p.archived),
        None => ctx
            .dir
            .pipelines
            .iter()
            .find(|p| p.is_default && !p.archived),
    };
    found.ok_or_else(|| match id {
        Some(id) => AppError::invalid(
            "pipeline_id",
            "unknown_pipeline",
            format!("pipeline {id} does not exist"),
        ),
        None => AppError::Internal("no default pipeline".into()),
    })
}

pub async fn create_opportunity(
    db: &Db,
    ctx: &Ctx,
    input: OpportunityInput,
    idem: Option<Idempotency>,
) -> Result<Created<Opportunity>, AppError> {
    if let Some(i) = &idem {
        if let Some(done) = replay::<Opportunity>(db, ctx, i).await? {
            return Ok(done);
        }
    }
    let pipeline_id = match input.pipeline_id {
        Field::Value(id) => Some(id),
        _ => None,
    };
    let pipeline = pipeline_for(ctx, pipeline_id)?;
    let mut input = input;
    let custom = input.custom.take();
    let (mut opp, mut events) = opportunity::create(input, pipeline, &ctx.actor, ctx.now)?;
    let changes = apply_custom(db, ctx, &mut opp, custom, true).await?;
    opportunity::note_custom_values(&mut events, &opp.custom);
    check_owner(
        db,
        ctx,
        "owner_id",
        Some(opp.owner_id),
        Some(ctx.actor.user_id),
    )
    .await?;
    check_links(db, ctx, opp.links()).await?;
    let created = insert(db, ctx, opp, &events, &changes, idem).await?;
    if !created.replayed {
        automation::after_opportunity_write(db, ctx, None, &created.record).await;
    }
    Ok(created)
}

pub async fn update_opportunity(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: OpportunityInput,
) -> Result<Opportunity, AppError> {
    let mut opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let before = opp.clone();
    let pipeline = pipeline_for(ctx, Some(opp.pipeline_id))?;
    let mut input = input;
    let custom = input.custom.take();
    let mut events = opportunity::apply(&mut opp, input, pipeline, &ctx.actor, ctx.now)?;
    let changes = apply_custom(db, ctx, &mut opp, custom, false).await?;
    events.extend(opportunity::custom_field_events(
        &changes, &ctx.actor, ctx.now,
    ));
    if !changes.is_empty() {
        opp.updated_at = ctx.now;
    }
    check_changed_refs(db, ctx, &before, &opp).await?;
    if opp == before {
        return Ok(before);
    }
    db.save_with_custom(
        &opp,
        Save::Update {
            expected_version: before.version,
        },
        &events,
        &changes,
    )
    .await?;
    let saved = opp.stored(id, before.version + 1);
    automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    Ok(saved)
}

pub async fn move_opportunity(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: MoveInput,
) -> Result<Opportunity, AppError> {
    let mut opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let before = opp.clone();
    let (moved, custom) =
        match run_move(db, ctx, &ctx.actor, &mut opp, input.clone(), false).await? {
            Ok(done) => done,
            Err(MoveError::ApprovalRequired { policy_id }) => {
                let req = request_approval(db, ctx, &before, input, policy_id).await?;
                return Err(AppError::AwaitingApproval(Box::new(req)));
            }
            Err(e) => return Err(AppError::from_move(e, ctx.lang)),
        };
    check_changed_refs(db, ctx, &before, &opp).await?;
    db.save_move(&opp, before.version, &moved.events, &moved.tasks, &custom)
        .await
        .map_err(approval_pending)?;
    let saved = opp.stored(id, before.version + 1);
    automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    Ok(saved)
}

/// A stage move of `opp` by `actor`, decided by the core: the custom values sent with it are
/// applied first, so that gates and approval policies see them. On success `opp` holds the
/// new state; returns the move (its events include the custom changes) and the custom
/// changes to store. A refused move is the inner error.
async fn run_move(
    db: &Db,
    ctx: &Ctx,
    actor: &Actor,
    opp: &mut Opportunity,
    mut input: MoveInput,
    approved: bool,
) -> Result<Result<(opportunity::Moved, Vec<CustomChange>), MoveError>, AppError> {
    let pipeline = pipeline_for(ctx, Some(opp.pipeline_id))?;
    // Actions done through their tasks count only where leaving the stage needs them.
    let leaving_needs_actions = pipeline
        .stage(opp.stage_id)
        .is_some_and(|s| s.actions.iter().any(|a| a.required_to_leave));
    let tasks_done = if leaving_needs_actions {
        db.actions_done_by_tasks(opp.id).await?
    } else {
        vec![]
    };
    let mut next = opp.clone();
    let custom_input = input.set.as_mut().and_then(|s| s.custom.take());
    let changes = apply_custom(db, ctx, &mut next, custom_input, false)
        .await
        .map_err(|e| match e {
            AppError::Invalid(f) => AppError::Invalid(FieldError {
                field: format!("set.{}", f.field),
                ..f
            }),
            other => other,
        })?;
    let labels = custom_labels(ctx);
    let custom = next.custom.clone();
    let mctx = MoveContext {
        actor,
        now: ctx.now,
        loss_reasons: &ctx.dir.loss_reasons,
        tasks_done: &tasks_done,
        custom: &custom,
        custom_labels: &labels,
        policies: &ctx.dir.approval_policies,
        approved,
        task_language: ctx.lang,
    };
    let mut moved = match opportunity::move_to(&mut next, pipeline, input, &mctx) {
        Ok(moved) => moved,
        Err(e) => return Ok(Err(e)),
    };
    let mut events = opportunity::custom_field_events(&changes, actor, ctx.now);
    events.append(&mut moved.events);
    moved.events = events;
    *opp = next;
    Ok(Ok((moved, changes)))
}

/// The opportunity custom fields a gate can name: (key, 中文, English), archived ones out.
fn custom_labels(ctx: &Ctx) -> Vec<(String, String, String)> {
    ctx.dir
        .custom_fields_of(RecordKind::Opportunity)
        .filter(|f| !f.archived)
        .map(|f| (f.key.clone(), f.label_zh.clone(), f.label_en.clone()))
        .collect()
}

/// What an update or a move changed in an opportunity's owner and links, checked: the new
/// owner must be assignable by the actor, newly linked records readable.
async fn check_changed_refs(
    db: &Db,
    ctx: &Ctx,
    before: &Opportunity,
    opp: &Opportunity,
) -> Result<(), AppError> {
    check_owner(
        db,
        ctx,
        "owner_id",
        Some(opp.owner_id),
        Some(before.owner_id),
    )
    .await?;
    let links: Vec<_> = opp
        .links()
        .into_iter()
        .filter(|l| !before.links().contains(l))
        .collect();
    check_links(db, ctx, links).await
}

/// Moves an opportunity into another pipeline at the mapped stage (managers and up: it
/// passes no gates). Recorded as a `pipeline_changed` event.
pub async fn change_pipeline(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
    input: ChangePipelineInput,
) -> Result<Opportunity, AppError> {
    if ctx.actor.role == Role::Rep {
        return Err(AppError::Forbidden("managers_only"));
    }
    let mut opp = for_update::<Opportunity>(db, ctx, id).await?;
    check_version(opp.version, input.version)?;
    let expected_version = opp.version;
    let before = opp.clone();
    let to = pipeline_for(ctx, Some(input.pipeline_id))?;
    let events = opportunity::change_pipeline(&mut opp, to, input.stage_id, &ctx.actor, ctx.now)
        .map_err(|e| AppError::from_move(e, ctx.lang))?;
    db.save(&opp, Save::Update { expected_version }, &events)
        .await?;
    let saved = opp.stored(id, expected_version + 1);
    automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    Ok(saved)
}

/// The body of a pipeline change.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePipelineInput {
    pub pipeline_id: PipelineId,
    pub stage_id: StageId,
    #[serde(default)]
    pub version: Option<i64>,
}

pub async fn opportunity_events(
    db: &Db,
    ctx: &Ctx,
    id: OpportunityId,
) -> Result<Vec<OpportunityEvent>, AppError> {
    get::<Opportunity>(db, ctx, id).await?;
    Ok(db.events(id).await?)
}

// ---- Custom fields ----

/// The custom field definitions, for anyone signed in: `record_kind` narrows to one kind;
/// archived fields only with `include_archived=true`.
pub fn custom_fields(
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Vec<CustomFieldDef>, AppError> {
    let mut kind: Option<RecordKind> = None;
    let mut include_archived = false;
    for (k, v) in params {
        match k.as_str() {
            "record_kind" => {
                kind = Some(v.trim().parse().map_err(|_| {
                    AppError::bad_request(
                        k,
                        "invalid_parameter",
                        format!(
                            "record_kind: expected one of {}",
                            RecordKind::NAMES.join(", ")
                        ),
                    )
                })?)
            }
            "include_archived" => include_archived = v == "true" || v == "1",
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown list parameter `{k}`"),
                ))
            }
        }
    }
    Ok(ctx
        .dir
        .custom_fields
        .iter()
        .filter(|d| kind.is_none_or(|k| d.record_kind == k))
        .filter(|d| include_archived || !d.archived)
        .cloned()
        .collect())
}

pub fn custom_field(ctx: &Ctx, id: Id) -> Result<CustomFieldDef, AppError> {
    ctx.dir.custom_field(id).cloned().ok_or(AppError::NotFound)
}

/// Defines a custom field (admins).
pub async fn create_custom_field(
    db: &Db,
    ctx: &Ctx,
    input: CustomFieldInput,
) -> Result<CustomFieldDef, AppError> {
    ctx.require_admin()?;
    let mut def = custom_fields::blank_definition();
    custom_fields::apply(&mut def, input, true, &ctx.dir.custom_fields)?;
    let id = db.insert_custom_field(&def).await.map_err(|e| match e {
        StoreError::Duplicate(_) => AppError::invalid(
            "key",
            "duplicate",
            format!("a {} field with this key exists", def.record_kind),
        ),
        e => e.into(),
    })?;
    Ok(CustomFieldDef { id, ..def })
}

/// Changes a custom field (admins): key and record kind stay; a type change (or a change of
/// decimal places) must keep every stored value, which moves with it; renamed options rename
/// the stored values. Archiving keeps the values.
pub async fn update_custom_field(
    db: &Db,
    ctx: &Ctx,
    id: Id,
    input: CustomFieldInput,
) -> Result<CustomFieldDef, AppError> {
    ctx.require_admin()?;
    let before = custom_field(ctx, id)?;
    let mut def = before.clone();
    let renames = custom_fields::apply(&mut def, input, false, &ctx.dir.custom_fields)?;
    let migration =
        if def.field_type != before.field_type || def.decimal_places != before.decimal_places {
            let stored = db.custom_values_of(id).await?;
            custom_fields::convert_values(&before, &def, &stored)?
        } else {
            ValueMigration::None
        };
    if def == before && renames.is_empty() {
        return Ok(before);
    }
    db.update_custom_field(&def, &renames, migration).await?;
    Ok(def)
}

// ---- Users and teams ----

pub async fn create_team(db: &Db, ctx: &Ctx, input: TeamInput) -> Result<Team, AppError> {
    ctx.require_admin()?;
    let teams = db.teams().await?;
    let mut team = Team {
        id: 0,
        name: String::new(),
        parent_id: None,
        archived: false,
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

async fn check_team(db: &Db, team: Option<TeamId>) -> Result<(), AppError> {
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
    let password = records::apply_user(&mut user, input, false)?;
    check_team(db, user.team_id).await?;
    db.update_user(&user).await?;
    if let Some(p) = password {
        db.set_password(id, &hash_password(&p)?).await?;
    }
    Ok(user)
}

pub async fn set_password(db: &Db, user_id: UserId, password: &str) -> Result<(), AppError> {
    records::validate_password(password)?;
    db.set_password(user_id, &hash_password(password)?).await?;
    Ok(())
}

/// A new API token for `user_id`: returns the secret (shown once) and its id.
pub async fn create_token(
    db: &Db,
    user_id: UserId,
    name: &str,
    now: OffsetDateTime,
) -> Result<(String, i64), AppError> {
    let name =
        shangji_core::input::text("name", name.to_string(), 100)?.unwrap_or_else(|| "api".into());
    let secret = crate::auth::random_token("sj_");
    let id = db
        .insert_token(user_id, &name, &crate::auth::digest(&secret), now)
        .await?;
    Ok((secret, id))
}

/// Flattens a record into CSV cells: nested objects become `parent.child` columns, arrays
/// are joined with `;`.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            let cells: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), cells.join(";")));
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// The rows a list would show (same filters, same visibility, every page) as CSV with a
/// byte-order mark, so that Excel reads the Chinese text.
pub async fn export_csv<T: Resource>(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Vec<u8>, AppError> {
    let filters: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .cloned()
        .collect();
    let mut q = list_query::<T>(&filters, &ctx.dir)?;
    q.limit = 1000;
    // One column per custom field that is not archived, after the built-in ones.
    let fields: Vec<&CustomFieldDef> = T::CUSTOM
        .map(|kind| {
            ctx.dir
                .custom_fields_of(kind)
                .filter(|d| !d.archived)
                .collect()
        })
        .unwrap_or_default();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header: Option<Vec<String>> = None;
    loop {
        let page = db.list::<T>(&ctx.scope, &q).await?;
        for record in &page.items {
            let mut json =
                serde_json::to_value(record).map_err(|e| AppError::Internal(e.to_string()))?;
            let custom = match json.as_object_mut().and_then(|m| m.remove("custom")) {
                Some(serde_json::Value::Object(m)) => m,
                _ => Default::default(),
            };
            let mut cells = Vec::new();
            flatten("", &json, &mut cells);
            let builtin = cells.len();
            for d in &fields {
                let value = custom.get(&d.key).unwrap_or(&serde_json::Value::Null);
                cells.push((d.key.clone(), custom_fields::display_text(d, value)));
            }
            if header.is_none() {
                let mut names: Vec<String> =
                    cells[..builtin].iter().map(|(k, _)| k.clone()).collect();
                for d in &fields {
                    // The English label, or the key where the label is empty or taken.
                    let name = [d.label_en.trim(), d.key.as_str()]
                        .into_iter()
                        .map(str::to_string)
                        .find(|n| !n.is_empty() && !names.contains(n))
                        .unwrap_or_else(|| custom_fields::field_name(&d.key));
                    names.push(name);
                }
                out.write_record(&names)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                header = Some(names);
            }
            out.write_record(cells.iter().map(|(_, v)| v))
                .map_err(|e| AppError::Internal(e.to_string()))?;
        }
        q.offset += q.limit;
        if page.items.len() < q.limit as usize {
            break;
        }
    }
    out.into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))
}

// ---- Pipelines, stages and loss reasons (admin configuration). ----

/// A new pipeline: from a template (`b2b`, `transactional`, `tender`) or with its stages.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    pub name: String,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub stages: Option<Vec<StageSpec>>,
    #[serde(default)]
    pub policy: Option<TransitionPolicy>,
    #[serde(default)]
    pub is_default: bool,
}

/// A change to a pipeline (its stages change through the stage calls).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub policy: Option<TransitionPolicy>,
}

/// A change to a stage; absent fields stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StagePatch {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub kind: Option<StageKind>,
    pub probability: Option<i32>,
    pub forecast_category: Option<ForecastCategory>,
    /// `null` clears.
    #[serde(default)]
    pub rotting_days: Field<i32>,
    /// `null` clears.
    #[serde(default)]
    pub guidance: Field<String>,
    pub gate: Option<StageGate>,
    pub actions: Option<Vec<StandardAction>>,
    pub archived: Option<bool>,
}

/// A new stage, inserted before `position` (default: before the won and lost stages).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct NewStageInput {
    #[serde(flatten)]
    pub stage: StageSpec,
    #[serde(default)]
    pub position: Option<i32>,
}

fn template(key: &str) -> Result<PipelineTemplate, AppError> {
    process::templates()
        .into_iter()
        .find(|t| t.key == key)
        .ok_or_else(|| {
            AppError::invalid(
                "template",
                "unknown_template",
                format!("`{key}` is not a template: b2b, transactional or tender"),
            )
        })
}

fn pipeline_name(name: &str) -> Result<String, AppError> {
    Ok(shangji_core::input::required_text(
        "name",
        name.to_string(),
        shangji_core::input::SHORT_TEXT,
    )?)
}

/// The keys of the opportunity custom fields a gate may require.
fn opportunity_custom_keys(ctx: &Ctx) -> Vec<String> {
    custom_labels(ctx).into_iter().map(|(k, _, _)| k).collect()
}

pub async fn create_pipeline(
    db: &Db,
    ctx: &Ctx,
    input: PipelineInput,
) -> Result<Pipeline, AppError> {
    ctx.require_admin()?;
    let name = pipeline_name(&input.name)?;
    let (policy, stages) = match (&input.template, input.stages) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "stages",
                "template_or_stages",
                "give a template or stages, not both",
            ))
        }
        (Some(key), None) => {
            let t = template(key)?;
            (input.policy.unwrap_or(t.policy), t.stages)
        }
        (None, Some(stages)) => (input.policy.unwrap_or_default(), stages),
        (None, None) => {
            return Err(AppError::invalid(
                "stages",
                "required",
                "give a template or stages",
            ))
        }
    };
    process::check_pipeline_stages(&stages, &opportunity_custom_keys(ctx))?;
    Ok(db
        .insert_pipeline(&name, input.is_default, &policy, &stages, ctx.now)
        .await?)
}

/// A pipeline as an admin may change it (archived ones included).
fn admin_pipeline(ctx: &Ctx, id: PipelineId) -> Result<Pipeline, AppError> {
    ctx.require_admin()?;
    ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)
}

async fn reread_pipeline(db: &Db, id: PipelineId) -> Result<Pipeline, AppError> {
    db.pipeline(id).await?.ok_or(AppError::NotFound)
}

pub async fn update_pipeline(
    db: &Db,
    ctx: &Ctx,
    id: PipelineId,
    patch: PipelinePatch,
) -> Result<Pipeline, AppError> {
    let mut p = admin_pipeline(ctx, id)?;
    if let Some(name) = &patch.name {
        p.name = pipeline_name(name)?;
    }
    if let Some(policy) = patch.policy {
        p.policy = policy;
    }
    if let Some(d) = patch.is_default {
        if !d && p.is_default {
            return Err(AppError::invalid(
                "is_default",
                "default_required",
                "make another pipeline the default instead",
            ));
        }
        p.is_default = d;
    }
    if let Some(a) = patch.archived {
        p.archived = a;
    }
    if p.archived && p.is_default {
        return Err(AppError::invalid(
            "archived",
            "default_pipeline",
            "the default pipeline cannot be archived",
        ));
    }
    db.update_pipeline(&p).await?;
    reread_pipeline(db, id).await
}

fn stage_of(p: &Pipeline, stage_id: StageId) -> Result<Stage, AppError> {
    p.stage(stage_id).cloned().ok_or(AppError::NotFound)
}

/// Checks that the pipeline's stages, with `changed` in place of the stage of the same id
/// (or added), still make a valid pipeline.
fn check_stages_with(ctx: &Ctx, p: &Pipeline, changed: &Stage) -> Result<(), AppError> {
    let mut stages: Vec<Stage> = p.stages.clone();
    match stages.iter_mut().find(|s| s.id == changed.id) {
        Some(s) => *s = changed.clone(),
        None => stages.push(changed.clone()),
    }
    let specs: Vec<StageSpec> = stages
        .iter()
        .filter(|s| !s.archived)
        .map(StageSpec::from)
        .collect();
    let index = stages
        .iter()
        .filter(|s| !s.archived)
        .position(|s| s.id == changed.id);
    process::check_pipeline_stages(&specs, &opportunity_custom_keys(ctx)).map_err(|e| {
        // Name the stage by the request's fields rather than by its place in the pipeline.
        let prefix = index.map(|i| format!("stages[{i}]."));
        let field = match prefix {
            Some(p) if e.field.starts_with(&p) => e.field[p.len()..].to_string(),
            _ => e.field.clone(),
        };
        AppError::Invalid(FieldError { field, ..e })
    })
}

pub async fn add_stage(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    input: NewStageInput,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let end = p
        .stages
        .iter()
        .filter(|s| s.kind == StageKind::Open)
        .map(|s| s.position + 1)
        .max()
        .unwrap_or(0);
    let position = input
        .position
        .unwrap_or(end)
        .clamp(0, p.stages.len() as i32);
    let candidate = input.stage.to_stage(-1, pipeline_id, position);
    check_stages_with(ctx, &p, &candidate)?;
    db.insert_stage(pipeline_id, position, &input.stage).await?;
    // The stays' meaning follows the stages' kinds and order.
    db.mark_pipeline_dirty(pipeline_id).await?;
    reread_pipeline(db, pipeline_id).await
}

pub async fn update_stage(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    stage_id: StageId,
    patch: StagePatch,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let mut s = stage_of(&p, stage_id)?;
    if let Some(kind) = patch.kind.filter(|k| *k != s.kind) {
        if db.stage_in_use(stage_id).await? {
            return Err(AppError::invalid(
                "kind",
                "stage_in_use",
                "opportunities have been in this stage: its kind cannot change",
            ));
        }
        s.kind = kind;
    }
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = patch.$f { s.$f = v; })* };
    }
    set!(
        name_zh,
        name_en,
        probability,
        forecast_category,
        gate,
        actions,
        archived
    );
    patch.rotting_days.apply_opt(&mut s.rotting_days);
    patch.guidance.apply_opt(&mut s.guidance);
    check_stages_with(ctx, &p, &s)?;
    db.update_stage(&s).await?;
    // The stays' meaning follows the stages' kinds and order.
    db.mark_pipeline_dirty(pipeline_id).await?;
    reread_pipeline(db, pipeline_id).await
}

/// Deletes a stage no opportunity has ever been in; a stage in use can only be archived.
pub async fn delete_stage(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    stage_id: StageId,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let s = stage_of(&p, stage_id)?;
    if db.stage_in_use(stage_id).await? {
        return Err(AppError::invalid(
            "stage_id",
            "stage_in_use",
            "opportunities have been in this stage: archive it instead",
        ));
    }
    check_stages_with(
        ctx,
        &p,
        &Stage {
            archived: true,
            ..s
        },
    )?;
    db.delete_stage(stage_id).await?;
    reread_pipeline(db, pipeline_id).await
}

/// Puts a pipeline's stages in the given order (every stage once).
pub async fn reorder_stages(
    db: &Db,
    ctx: &Ctx,
    pipeline_id: PipelineId,
    stage_ids: Vec<StageId>,
) -> Result<Pipeline, AppError> {
    let p = admin_pipeline(ctx, pipeline_id)?;
    let mut given = stage_ids.clone();
    given.sort_unstable();
    let mut have: Vec<StageId> = p.stages.iter().map(|s| s.id).collect();
    have.sort_unstable();
    if given != have {
        return Err(AppError::invalid(
            "stage_ids",
            "stage_list_mismatch",
            "list every stage of the pipeline exactly once",
        ));
    }
    db.reorder_stages(pipeline_id, &stage_ids).await?;
    // The stays' meaning follows the stages' kinds and order.
    db.mark_pipeline_dirty(pipeline_id).await?;
    reread_pipeline(db, pipeline_id).await
}

/// Moving every opportunity of a pipeline into another, stage by stage.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateInput {
    pub to_pipeline_id: PipelineId,
    /// For each stage of the source pipeline, the stage of the target it maps to.
    pub mapping: Vec<StageMapping>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageMapping {
    pub from_stage_id: StageId,
    pub to_stage_id: StageId,
}

/// How many opportunities a migration moved.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Migrated {
    pub moved: i64,
}

/// Moves every opportunity of pipeline `from` (archived ones too) into another pipeline at
/// the mapped stages, each with its `pipeline_changed` event (admin). The mapping must
/// cover every stage of the source and name stages of the target.
pub async fn migrate_pipeline(
    db: &Db,
    ctx: &Ctx,
    from: PipelineId,
    input: MigrateInput,
) -> Result<Migrated, AppError> {
    let source = admin_pipeline(ctx, from)?;
    let target = pipeline_for(ctx, Some(input.to_pipeline_id))
        .map_err(|_| AppError::invalid("to_pipeline_id", "unknown_pipeline", "no such pipeline"))?;
    if target.id == source.id {
        return Err(AppError::invalid(
            "to_pipeline_id",
            "same_pipeline",
            "migrate into another pipeline",
        ));
    }
    for (i, m) in input.mapping.iter().enumerate() {
        if source.stage(m.from_stage_id).is_none() {
            return Err(AppError::invalid(
                &format!("mapping[{i}].from_stage_id"),
                "unknown_stage",
                "not a stage of the source pipeline",
            ));
        }
        if target.stage(m.to_stage_id).is_none_or(|s| s.archived) {
            return Err(AppError::invalid(
                &format!("mapping[{i}].to_stage_id"),
                "unknown_stage",
                "not a usable stage of the target pipeline",
            ));
        }
    }
    if let Some(s) = source
        .stages
        .iter()
        .find(|s| !input.mapping.iter().any(|m| m.from_stage_id == s.id))
    {
        return Err(AppError::invalid(
            "mapping",
            "incomplete_mapping",
            format!("stage {} ({}) has no target", s.id, s.name_en),
        ));
    }
    let mut moved = 0;
    loop {
        let q = ListQuery {
            eq: vec![("pipeline_id", from.into())],
            include_archived: true,
            sort: "created_at",
            desc: false,
            limit: 200,
            ..Default::default()
        };
        let page = db.list::<Opportunity>(&Scope::All, &q).await?;
        if page.items.is_empty() {
            break;
        }
        for mut opp in page.items {
            let to = input
                .mapping
                .iter()
                .find(|m| m.from_stage_id == opp.stage_id)
                .map(|m| m.to_stage_id)
                .unwrap_or_default();
            let expected_version = opp.version;
            let events = opportunity::change_pipeline(&mut opp, target, to, &ctx.actor, ctx.now)
                .map_err(|e| AppError::from_move(e, ctx.lang))?;
            db.save(&opp, Save::Update { expected_version }, &events)
                .await?;
            moved += 1;
        }
    }
    Ok(Migrated { moved })
}

/// A loss reason to add, or a change to one (the key is fixed once created).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LossReasonInput {
    pub key: Option<String>,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub position: Option<i32>,
    pub archived: Option<bool>,
}

pub async fn create_loss_reason(
    db: &Db,
    ctx: &Ctx,
    input: LossReasonInput,
) -> Result<LossReason, AppError> {
    ctx.require_admin()?;
    let mut r = LossReason {
        id: 0,
        key: input.key.clone().unwrap_or_default(),
        name_zh: String::new(),
        name_en: String::new(),
        position: ctx.dir.loss_reasons.len() as i32,
        archived: false,
    };
    process::check_key("key", &r.key)?;
    if ctx.dir.loss_reasons.iter().any(|l| l.key == r.key) {
        return Err(AppError::invalid(
            "key",
            "duplicate",
            format!("loss reason `{}` exists", r.key),
        ));
    }
    apply_loss_reason(&mut r, input)?;
    r.id = db.insert_loss_reason(&r).await?;
    Ok(r)
}

pub async fn update_loss_reason(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: LossReasonInput,
) -> Result<LossReason, AppError> {
    ctx.require_admin()?;
    let mut r = ctx
        .dir
        .loss_reasons
        .iter()
        .find(|l| l.id == id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    if input.key.as_ref().is_some_and(|k| *k != r.key) {
        return Err(AppError::invalid(
            "key",
            "read_only",
            "a loss reason's key never changes",
        ));
    }
    apply_loss_reason(&mut r, input)?;
    db.update_loss_reason(&r).await?;
    Ok(r)
}

fn apply_loss_reason(r: &mut LossReason, input: LossReasonInput) -> Result<(), AppError> {
    if let Some(v) = input.name_zh {
        r.name_zh = v;
    }
    if let Some(v) = input.name_en {
        r.name_en = v;
    }
    process::check_label("name_zh", &r.name_zh)?;
    process::check_label("name_en", &r.name_en)?;
    if let Some(v) = input.position {
        r.position = v;
    }
    if let Some(v) = input.archived {
        r.archived = v;
    }
    Ok(())
}

// ---- Approvals and notifications. ----

/// The approvers of a policy's chain (or, for a stage whose gate asks for approval, the
/// owner's manager then a director), resolved for the opportunity's owner.
async fn approvers_for(
    db: &Db,
    ctx: &Ctx,
    owner: UserId,
    policy_id: Option<i64>,
) -> Result<Vec<UserId>, AppError> {
    let chain = policy_id
        .and_then(|id| ctx.dir.approval_policies.iter().find(|p| p.id == id))
        .map_or_else(
            || vec![Approver::OwnerManager, Approver::Director],
            |p| p.chain.clone(),
        );
    let users: Vec<_> = db
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.role, u.team_id, u.active))
        .collect();
    Ok(approval::resolve_chain(&chain, owner, &ctx.dir.org, &users))
}

fn notification(
    user_id: UserId,
    kind: &str,
    opp: &Opportunity,
    payload: serde_json::Value,
    now: OffsetDateTime,
) -> Notification {
    Notification {
        id: 0,
        user_id,
        kind: kind.into(),
        record_kind: Some(RecordKind::Opportunity),
        record_id: Some(opp.id),
        payload,
        read_at: None,
        archived: false,
        version: 1,
        created_at: now,
    }
}

fn approval_event(
    kind: opportunity::EventKind,
    ctx: &Ctx,
    req: &ApprovalRequest,
    value: serde_json::Value,
) -> NewEvent {
    NewEvent {
        kind,
        actor_id: ctx.actor.user_id,
        at: ctx.now,
        from_stage_id: Some(req.from_stage_id),
        to_stage_id: Some(req.to_stage_id),
        old_value: None,
        new_value: Some(value),
    }
}

/// Stores a request for the move `input` of `opp` (which stays where it is), records it in
/// the opportunity's history and tells the first approver — in one transaction.
pub(crate) async fn request_approval(
    db: &Db,
    ctx: &Ctx,
    opp: &Opportunity,
    input: MoveInput,
    policy_id: Option<i64>,
) -> Result<ApprovalRequest, AppError> {
    let approvers = approvers_for(db, ctx, opp.owner_id, policy_id).await?;
    if approvers.is_empty() {
        return Err(AppError::invalid(
            "stage_id",
            "no_approver",
            "entering this stage needs an approval, and nobody can approve it",
        ));
    }
    let mut req = ApprovalRequest {
        id: 0,
        opportunity_id: opp.id,
        policy_id,
        requester_id: ctx.actor.user_id,
        from_stage_id: opp.stage_id,
        to_stage_id: input.stage_id,
        move_input: serde_json::to_value(MoveInput {
            version: None,
            ..input
        })
        .map_err(|e| AppError::Internal(e.to_string()))?,
        approver_ids: approvers,
        step: 0,
        status: ApprovalStatus::Pending,
        decisions: vec![],
        version: 1,
        created_at: ctx.now,
        decided_at: None,
    };
    let event = approval_event(
        opportunity::EventKind::ApprovalRequested,
        ctx,
        &req,
        serde_json::json!({ "approver_ids": req.approver_ids, "policy_id": policy_id }),
    );
    let note = notification(
        req.approver_ids[0],
        "approval_requested",
        opp,
        serde_json::json!({ "title": opp.title, "requester_id": ctx.actor.user_id, "to_stage_id": req.to_stage_id }),
        ctx.now,
    );
    let notes = [note];
    let deliveries = outbox::deliveries_for(db, &ctx.dir, &notes, ctx.now).await?;
    let ids = db
        .write_all(&[
            Write::NewApproval(&req),
            Write::Events {
                opportunity_id: opp.id,
                events: &[event],
            },
            Write::Notify(&notes),
            Write::Deliveries(&deliveries),
        ])
        .await
        .map_err(approval_pending)?;
    req.id = ids[0];
    Ok(req)
}

/// A second request for an opportunity, or a move of one, while a move waits for approval
/// (the store's `APPROVAL_PENDING` guard, or the index allowing one pending request).
fn approval_pending(e: StoreError) -> AppError {
    match e {
        StoreError::Duplicate(_) => AppError::invalid(
            "stage_id",
            "approval_pending",
            "a move of this opportunity is waiting for approval: withdraw it first",
        ),
        other => other.into(),
    }
}

/// A request the caller may see: their own, one they approve, or one on an opportunity
/// they can read; otherwise not found.
async fn visible_request(db: &Db, ctx: &Ctx, id: i64) -> Result<ApprovalRequest, AppError> {
    let req = db
        .get::<ApprovalRequest>(id, &Scope::All, Access::Read)
        .await?
        .ok_or(AppError::NotFound)?;
    let involved =
        req.requester_id == ctx.actor.user_id || req.approver_ids.contains(&ctx.actor.user_id);
    if !involved {
        get::<Opportunity>(db, ctx, req.opportunity_id).await?;
    }
    Ok(req)
}

pub async fn approval(db: &Db, ctx: &Ctx, id: i64) -> Result<ApprovalRequest, AppError> {
    visible_request(db, ctx, id).await
}

/// Which requests to list: waiting for the caller (`inbox`), or made by the caller (`sent`).
pub async fn approvals(db: &Db, ctx: &Ctx, inbox: bool) -> Result<Vec<ApprovalRequest>, AppError> {
    let column = if inbox {
        "current_approver_id"
    } else {
        "requester_id"
    };
    let q = ListQuery {
        eq: vec![(column, ctx.actor.user_id.into())],
        sort: "created_at",
        limit: 200,
        ..Default::default()
    };
    Ok(db.list::<ApprovalRequest>(&Scope::All, &q).await?.items)
}

/// An approver's decision. The last approval performs the requested move, as the requester
/// asked it, in the same transaction; a rejection leaves the opportunity as it was.
pub async fn decide_approval(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    approve: bool,
    comment: Option<String>,
) -> Result<ApprovalRequest, AppError> {
    let mut req = visible_request(db, ctx, id).await?;
    let expected_version = req.version;
    let comment = shangji_core::input::opt_text(
        "comment",
        comment.map_or(Field::Absent, Field::Value),
        shangji_core::input::LONG_TEXT,
    )?;
    let comment = match comment {
        Field::Value(c) => Some(c),
        _ => None,
    };
    let done = approval::decide(
        &mut req,
        ctx.actor.user_id,
        approve,
        comment.clone(),
        ctx.now,
    )
    .map_err(|e| match e {
        approval::DecideError::NotPending => {
            AppError::invalid("", "approval_closed", "the request is no longer pending")
        }
        approval::DecideError::NotYourTurn => AppError::Forbidden("not_your_approval"),
    })?;
    let mut opp = db
        .get::<Opportunity>(req.opportunity_id, &Scope::All, Access::Read)
        .await?
        .ok_or(AppError::NotFound)?;
    let event = approval_event(
        opportunity::EventKind::ApprovalDecided,
        ctx,
        &req,
        serde_json::json!({ "approved": approve, "comment": comment, "step": req.decisions.len() - 1 }),
    );
    let payload = serde_json::json!({ "title": opp.title, "approver_id": ctx.actor.user_id, "comment": comment, "to_stage_id": req.to_stage_id });
    let notes: Vec<Notification> = match (req.status, req.current_approver()) {
        (ApprovalStatus::Pending, Some(next)) => {
            vec![notification(
                next,
                "approval_requested",
                &opp,
                payload,
                ctx.now,
            )]
        }
        (ApprovalStatus::Rejected, _) => vec![notification(
            req.requester_id,
            "approval_rejected",
            &opp,
            payload,
            ctx.now,
        )],
        _ => vec![notification(
            req.requester_id,
            "approval_approved",
            &opp,
            payload,
            ctx.now,
        )],
    };
    let events = [event];
    let deliveries = outbox::deliveries_for(db, &ctx.dir, &notes, ctx.now).await?;
    let mut writes = vec![
        Write::Approval {
            req: &req,
            expected_version,
        },
        Write::Events {
            opportunity_id: opp.id,
            events: &events,
        },
        Write::Notify(&notes),
        Write::Deliveries(&deliveries),
    ];
    let moved;
    let mut before_move: Option<Opportunity> = None;
    if done {
        // The move, as the requester asked it: their role and scope, the gates of now.
        let requester = db.user(req.requester_id).await?.ok_or(AppError::NotFound)?;
        let actor = visibility::Actor {
            user_id: requester.id,
            role: requester.role,
            team_id: requester.team_id,
        };
        let input: MoveInput = serde_json::from_value(req.move_input.clone())
            .map_err(|e| AppError::Internal(format!("stored move: {e}")))?;
        let expected = opp.version;
        before_move = Some(opp.clone());
        moved = run_move(db, ctx, &actor, &mut opp, input, true)
            .await?
            .map_err(|e| AppError::from_move(e, ctx.lang))?;
        writes.push(Write::Move {
            opp: &opp,
            expected_version: expected,
            events: &moved.0.events,
            tasks: &moved.0.tasks,
            custom: &moved.1,
        });
    }
    db.write_all(&writes).await?;
    req.version = expected_version + 1;
    if let Some(before) = before_move {
        let saved = opp.clone().stored(opp.id, before.version + 1);
        automation::after_opportunity_write(db, ctx, Some(&before), &saved).await;
    }
    Ok(req)
}

/// The requester takes a pending request back; the opportunity stays as it is.
pub async fn withdraw_approval(db: &Db, ctx: &Ctx, id: i64) -> Result<ApprovalRequest, AppError> {
    let mut req = visible_request(db, ctx, id).await?;
    if req.requester_id != ctx.actor.user_id {
        return Err(AppError::Forbidden("not_your_request"));
    }
    if req.status != ApprovalStatus::Pending {
        return Err(AppError::invalid(
            "",
            "approval_closed",
            "the request is no longer pending",
        ));
    }
    let expected_version = req.version;
    req.status = ApprovalStatus::Withdrawn;
    req.decided_at = Some(ctx.now);
    let event = approval_event(
        opportunity::EventKind::ApprovalDecided,
        ctx,
        &req,
        serde_json::json!({ "withdrawn": true }),
    );
    db.write_all(&[
        Write::Approval {
            req: &req,
            expected_version,
        },
        Write::Events {
            opportunity_id: req.opportunity_id,
            events: &[event],
        },
    ])
    .await?;
    req.version = expected_version + 1;
    Ok(req)
}

/// An approval policy as an admin writes it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicyInput {
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    #[serde(default)]
    pub stage_id: Option<StageId>,
    #[serde(default)]
    pub conditions: Vec<approval::Condition>,
    pub chain: Vec<Approver>,
}

fn yes() -> bool {
    true
}

/// Creates (`id` None) or replaces an approval policy (admin).
pub async fn save_approval_policy(
    db: &Db,
    ctx: &Ctx,
    id: Option<i64>,
    input: ApprovalPolicyInput,
) -> Result<ApprovalPolicy, AppError> {
    ctx.require_admin()?;
    if let Some(id) = id {
        if !ctx.dir.approval_policies.iter().any(|p| p.id == id) {
            return Err(AppError::NotFound);
        }
    }
    let mut p = ApprovalPolicy {
        id: id.unwrap_or(0),
        name: input.name.trim().to_string(),
        active: input.active,
        pipeline_id: input.pipeline_id,
        stage_id: input.stage_id,
        conditions: input.conditions,
        chain: input.chain,
    };
    approval::check_policy(&p)?;
    if let Some(pid) = p.pipeline_id {
        let pipeline = ctx.dir.pipeline(pid).ok_or_else(|| {
            AppError::invalid("pipeline_id", "unknown_pipeline", "no such pipeline")
        })?;
        if p.stage_id.is_some_and(|s| pipeline.stage(s).is_none()) {
            return Err(AppError::invalid(
                "stage_id",
                "unknown_stage",
                "the stage is not in that pipeline",
            ));
        }
    } else if let Some(s) = p.stage_id {
        if !ctx.dir.pipelines.iter().any(|pl| pl.stage(s).is_some()) {
            return Err(AppError::invalid(
                "stage_id",
                "unknown_stage",
                "no such stage",
            ));
        }
    }
    p.id = db.save_approval_policy(&p, ctx.now).await?;
    Ok(p)
}

/// The caller's notifications, newest first.
pub async fn notifications(db: &Db, ctx: &Ctx) -> Result<Vec<Notification>, AppError> {
    let q = ListQuery {
        owner_id: Some(ctx.actor.user_id),
        sort: "created_at",
        limit: 100,
        ..Default::default()
    };
    Ok(db.list::<Notification>(&Scope::All, &q).await?.items)
}

pub async fn mark_notification_read(db: &Db, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    db.mark_read(ctx.actor.user_id, id, ctx.now).await?;
    Ok(())
}

// ---- For the opportunity page. ----

/// The standard actions of an opportunity that count as done: those confirmed on it and those
/// whose tasks are done. `opp` is a record the caller read within their scope.
pub async fn actions_done(db: &Db, opp: &Opportunity) -> Result<Vec<String>, AppError> {
    let mut done = opp.actions_done.clone();
    done.extend(db.actions_done_by_tasks(opp.id).await?);
    done.sort();
    done.dedup();
    Ok(done)
}

// ---- Funnel analytics (reports read the stage history). ----

/// What a report covers: a pipeline the caller can see, a period, optionally some owners.
pub struct ReportScope {
    pub pipeline: Pipeline,
    pub period: analytics::Period,
    pub owners: Option<Vec<UserId>>,
    /// For the waterfall: the expected-close window and the currency.
    pub close_window: Option<(time::Date, time::Date)>,
    pub currency: String,
    /// For the 4S: the amount to win that Shape measures against.
    pub target_minor: Option<i64>,
    /// The opportunities' source channel and their account's industry.
    pub filter: shangji_store::HistoryFilter,
    /// For the funnel: how many trailing periods make its baseline.
    pub baseline_periods: u32,
}

/// China days: a date means the day in Asia/Shanghai (UTC+8).
use analytics::china_day_start as day_start;

fn param_date(k: &str, v: &str) -> Result<time::Date, AppError> {
    time::Date::parse(v, &time::format_description::well_known::Iso8601::DATE).map_err(|_| {
        AppError::bad_request(
            k,
            "invalid_date",
            format!("`{v}` is not a date (YYYY-MM-DD)"),
        )
    })
}

/// Reads a report's parameters: `pipeline_id` (default: the default pipeline), `from` and
/// `to` (dates, China days; `to` inclusive; default the last 90 days), `owner_id`, `team_id`,
/// and for the waterfall `close_from`, `close_to`, `currency`.
pub fn report_scope(ctx: &Ctx, params: &[(String, String)]) -> Result<ReportScope, AppError> {
    let today = calendar::china_date(ctx.now);
    let (mut pipeline_id, mut from, mut to) = (None, today - time::Duration::days(89), today);
    let mut owners: Option<Vec<UserId>> = None;
    let (mut close_from, mut close_to) = (None, None);
    let mut currency = "CNY".to_string();
    let mut target_minor = None;
    let mut filter = shangji_store::HistoryFilter::default();
    let mut baseline_periods = shangji_core::report_extras::BASELINE_PERIODS;
    for (k, v) in params {
        let id = || {
            v.parse::<i64>().map_err(|_| {
                AppError::bad_request(k, "invalid_parameter", format!("`{v}` is not an id"))
            })
        };
        match k.as_str() {
            "pipeline_id" => pipeline_id = Some(id()?),
            "from" => from = param_date(k, v)?,
            "to" => to = param_date(k, v)?,
            "owner_id" => owners = Some(vec![id()?]),
            "team_id" => {
                let team = id()?;
                if !ctx.dir.org.teams.iter().any(|t| t.id == team) {
                    return Err(AppError::NotFound);
                }
                owners = Some(ctx.dir.org.members(team));
            }
            "close_from" => close_from = Some(param_date(k, v)?),
            "close_to" => close_to = Some(param_date(k, v)?),
            "currency" => currency = shangji_core::Money::parse(0, v, "currency")?.currency,
            "target_minor" => {
                target_minor = Some(v.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
                    AppError::bad_request(
                        k,
                        "invalid_parameter",
                        "target_minor is a whole number of fen, 0 or more",
                    )
                })?)
            }
            "source" | "industry" | "baseline" => {
                reports::read_filter(k, v, &mut filter, &mut baseline_periods)?
            }
            _ => {
                return Err(AppError::bad_request(
                    k,
                    "unknown_parameter",
                    format!("unknown report parameter `{k}`"),
                ))
            }
        }
    }
    if to < from || (to - from).whole_days() > 3660 {
        return Err(AppError::bad_request(
            "to",
            "invalid_period",
            "the period runs from `from` to `to` (inclusive), at most ten years",
        ));
    }
    let close_window = match (close_from, close_to) {
        (None, None) => None,
        (Some(a), Some(b)) if a <= b => Some((a, b)),
        _ => {
            return Err(AppError::bad_request(
                "close_to",
                "invalid_period",
                "give both close_from and close_to, in order",
            ))
        }
    };
    let pipeline = match pipeline_id {
        Some(id) => ctx.dir.pipeline(id).cloned().ok_or(AppError::NotFound)?,
        None => pipeline_for(ctx, None)?.clone(),
    };
    Ok(ReportScope {
        pipeline,
        period: analytics::Period {
            from: day_start(from),
            to: day_start(to + time::Duration::days(1)),
        },
        owners,
        close_window,
        currency,
        target_minor,
        filter,
        baseline_periods,
    })
}

/// A report: what it covers and its rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Report<T> {
    pub pipeline_id: PipelineId,
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    pub rows: T,
}

/// The funnel with each stage's baseline (its conversion over the trailing periods of the
/// same length) and the bottleneck flagged.
pub async fn funnel_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<shangji_core::report_extras::FunnelStage>>, AppError> {
    use shangji_core::report_extras as x;
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    // The period and its trailing ones, side by side.
    let mut periods = vec![r.period];
    periods.extend(x::trailing_periods(r.period, r.baseline_periods));
    let counts =
        futures_util::future::try_join_all(periods.iter().map(|p| db.funnel_counts(of, *p)))
            .await?;
    let mut funnels = counts
        .iter()
        .map(|c| analytics::funnel_from(&r.pipeline, c));
    let current = funnels.next().expect("the period itself");
    Ok(r.report(x::with_baseline(&current, &funnels.collect::<Vec<_>>())))
}

impl ReportScope {
    /// The report of these rows.
    fn report<T>(&self, rows: T) -> Report<T> {
        Report {
            pipeline_id: self.pipeline.id,
            from: self.period.from,
            to: self.period.to,
            rows,
        }
    }

    fn slice<'a>(&'a self, ctx: &'a Ctx) -> Slice<'a> {
        Slice {
            scope: &ctx.scope,
            pipeline_id: self.pipeline.id,
            owners: self.owners.as_deref(),
            filter: &self.filter,
        }
    }
}

/// Keeps the analytics projection close to the history in the background (every few
/// seconds), so that a report rarely has more than a few opportunities to rebuild first.
pub fn spawn_projection_refresher(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let done = match db.directory().await {
                Ok(dir) => db.refresh_analytics(&dir.pipelines).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "analytics projection refreshed"),
                Err(e) => tracing::warn!(error = ?e, "analytics projection refresh failed"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    })
}

/// Brings the analytics projection up to date with the history, then says which rows the
/// report reads.
async fn fresh_slice<'a>(db: &Db, ctx: &'a Ctx, r: &'a ReportScope) -> Result<Slice<'a>, AppError> {
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    Ok(r.slice(ctx))
}

pub async fn time_in_stage_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::StageTime>>, AppError> {
    let r = report_scope(ctx, params)?;
    let times = db
        .stage_times(fresh_slice(db, ctx, &r).await?, r.period)
        .await?;
    Ok(r.report(analytics::time_in_stage_from(&r.pipeline, &times)))
}

pub async fn win_rate_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<analytics::WinRate>, AppError> {
    let r = report_scope(ctx, params)?;
    let closed = db
        .closed_by(fresh_slice(db, ctx, &r).await?, r.period, Facet::All)
        .await?;
    Ok(r.report(analytics::win_rate_from(&r.pipeline, &closed)))
}

/// The waterfall between the period's start and end.
pub async fn waterfall_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<analytics::Waterfall>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let w = waterfall_of(db, of, &r.pipeline, r.period, r.close_window, &r.currency).await?;
    Ok(r.report(w))
}

/// The waterfall of a slice of the projection.
pub async fn waterfall_of(
    db: &Db,
    of: Slice<'_>,
    pipeline: &Pipeline,
    between: analytics::Period,
    close_window: Option<(time::Date, time::Date)>,
    currency: &str,
) -> Result<analytics::Waterfall, AppError> {
    let open = analytics::stages_of_kind(pipeline, StageKind::Open);
    let groups = db
        .change_groups(of, between, &open, close_window, currency)
        .await?;
    Ok(analytics::waterfall_from(pipeline, &groups))
}

/// Win/loss by reason, competitor, stage lost and owner, and by source and industry.
pub async fn win_loss_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<reports::WinLossReport>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let by = |facet| db.closed_by(of, r.period, facet);
    let (by_reason, by_competitor, by_stage_lost, by_owner, by_source, by_industry) = tokio::try_join!(
        by(Facet::LossReason),
        by(Facet::Competitor),
        by(Facet::FromStage),
        by(Facet::Owner),
        by(Facet::Source),
        by(Facet::Industry),
    )?;
    let w = analytics::win_loss_from(
        &r.pipeline,
        analytics::WinLossInputs {
            by_reason,
            by_competitor,
            by_stage_lost,
            by_owner,
        },
    );
    Ok(r.report(reports::WinLossReport {
        by_source: analytics::win_loss_rows(&r.pipeline, &by_source),
        by_industry: analytics::win_loss_rows(&r.pipeline, &by_industry),
        by_reason: w.by_reason,
        by_competitor: w.by_competitor,
        by_stage_lost: w.by_stage_lost,
        by_owner: w.by_owner,
    }))
}

/// Forecast periods and options from a report's parameters: `grain` month (default),
/// quarter or year, from the current one; `periods` how many (default 3, at most 36);
/// `weighting` configured (default), empirical or blended; `runs` (default 10,000, at most
/// 100,000) and `seed` for a simulation. The rest are the usual report parameters.
struct ForecastParams {
    periods: Vec<(time::Date, time::Date)>,
    weighting: analytics::Weighting,
    runs: usize,
    seed: u64,
    rest: Vec<(String, String)>,
}

fn forecast_params(ctx: &Ctx, params: &[(String, String)]) -> Result<ForecastParams, AppError> {
    let (mut months_per, mut count) = (1u8, 3usize);
    let mut f = ForecastParams {
        periods: vec![],
        weighting: analytics::Weighting::Configured,
        runs: 10_000,
        seed: 1,
        rest: vec![],
    };
    for (k, v) in params {
        let bad = |what: &str| AppError::bad_request(k, "invalid_parameter", what.to_string());
        match k.as_str() {
            "grain" => {
                months_per = match v.as_str() {
                    "month" => 1,
                    "quarter" => 3,
                    "year" => 12,
                    _ => return Err(bad("grain is month, quarter or year")),
                }
            }
            "periods" => {
                count = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=36).contains(n))
                    .ok_or_else(|| bad("periods is 1 to 36"))?
            }
            "weighting" => {
                f.weighting = serde_json::from_value(serde_json::Value::String(v.clone()))
                    .map_err(|_| bad("weighting is configured, empirical or blended"))?
            }
            "runs" => {
                f.runs = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| bad("runs is 1 to 100000"))?
            }
            "seed" => f.seed = v.parse().map_err(|_| bad("seed is a whole number"))?,
            _ => f.rest.push((k.clone(), v.clone())),
        }
    }
    let today = calendar::china_date(ctx.now);
    // Periods start on the first day of this month (of this quarter / year).
    let first_month = match months_per {
        3 => (today.month() as u8 - 1) / 3 * 3 + 1,
        12 => 1,
        _ => today.month() as u8,
    };
    let mut start = time::Date::from_calendar_date(
        today.year(),
        time::Month::try_from(first_month).expect("a month"),
        1,
    )
    .expect("the first of a month");
    for _ in 0..count {
        let mut next = start;
        for _ in 0..months_per {
            next = next
                .checked_add(time::Duration::days(32))
                .and_then(|d| d.replace_day(1).ok())
                .ok_or_else(|| AppError::bad_request("periods", "invalid_period", "too far"))?;
        }
        f.periods
            .push((start, next.previous_day().expect("a day before")));
        start = next;
    }
    Ok(f)
}

/// The weighted forecast from the current period on (see [`forecast_params`]).
pub async fn forecast_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::ForecastBucket>>, AppError> {
    let (f, r, inputs) = forecast_request(db, ctx, params).await?;
    Ok(r.report(analytics::forecast_from(
        &r.pipeline,
        &inputs,
        &f.periods,
        f.weighting,
    )))
}

/// The Monte Carlo forecast: P10 / P50 / P90 of the won amount per period.
pub async fn monte_carlo_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::SimulatedBucket>>, AppError> {
    let (f, r, inputs) = forecast_request(db, ctx, params).await?;
    let rows = simulate(&r.pipeline, inputs, ctx.now, &f.periods, f.runs, f.seed).await?;
    Ok(r.report(rows))
}

/// A forecast request's parameters, its scope, and what it reads from the projection.
async fn forecast_request(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<(ForecastParams, ReportScope, analytics::ForecastInputs), AppError> {
    let f = forecast_params(ctx, params)?;
    let r = report_scope(ctx, &f.rest)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let inputs = forecast_inputs(db, ctx, of, &r.pipeline, &f.periods).await?;
    Ok((f, r, inputs))
}

/// The Monte Carlo forecast of `inputs`, off the request threads.
async fn simulate(
    pipeline: &Pipeline,
    inputs: analytics::ForecastInputs,
    now: OffsetDateTime,
    periods: &[(time::Date, time::Date)],
    runs: usize,
    seed: u64,
) -> Result<Vec<analytics::SimulatedBucket>, AppError> {
    let (pipeline, periods) = (pipeline.clone(), periods.to_vec());
    off_thread("simulation", move || {
        analytics::monte_carlo_from(&pipeline, &inputs, now, &periods, runs, seed)
    })
    .await
}

/// Runs `work` (seconds of CPU: a simulation) off the request threads.
async fn off_thread<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(format!("{what}: {e}")))
}

/// No filter on source or industry.
static NO_FILTER: shangji_store::HistoryFilter = shangji_store::HistoryFilter {
    source: None,
    industry: None,
};

/// The projection's rows of one pipeline's deals in the caller's scope (and of `owners`),
/// after bringing the projection up to date with the history.
async fn fresh_pipeline_slice<'a>(
    db: &Db,
    ctx: &'a Ctx,
    pipeline_id: PipelineId,
    owners: Option<&'a [UserId]>,
) -> Result<Slice<'a>, AppError> {
    db.refresh_analytics(&ctx.dir.pipelines).await?;
    Ok(Slice {
        scope: &ctx.scope,
        pipeline_id,
        owners,
        filter: &NO_FILTER,
    })
}

/// What a forecast as of now for `periods` reads from (an up-to-date slice of) the
/// projection.
async fn forecast_inputs(
    db: &Db,
    ctx: &Ctx,
    of: Slice<'_>,
    pipeline: &Pipeline,
    periods: &[(time::Date, time::Date)],
) -> Result<analytics::ForecastInputs, AppError> {
    let open = analytics::stages_of_kind(pipeline, StageKind::Open);
    let won = analytics::stages_of_kind(pipeline, StageKind::Won);
    let mut stages = open.clone();
    stages.extend(&won);
    let first = periods
        .first()
        .map_or(calendar::china_date(ctx.now), |p| p.0);
    let closed = closed_stages(pipeline);
    let (deals, reach, to_win) = tokio::try_join!(
        db.deals_at(
            of,
            &stages,
            &open,
            analytics::china_day_start(first),
            ctx.now,
            "CNY"
        ),
        db.reach_counts(of, &closed),
        db.to_win_days(of, &won),
    )?;
    Ok(analytics::ForecastInputs {
        deals,
        reach,
        to_win,
    })
}

/// The 4S for the period and for the period of the same length just before it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FourSReport {
    pub current: analytics::FourS,
    pub previous: analytics::FourS,
}

pub async fn four_s_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<FourSReport>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let length = r.period.to - r.period.from;
    let before = analytics::Period {
        from: r.period.from - length,
        to: r.period.from,
    };
    // The reach counts span all history: read once for both periods.
    let reach = db.reach_counts(of, &closed_stages(&r.pipeline)).await?;
    let (current, previous) = tokio::try_join!(
        four_s_of(db, of, &r.pipeline, r.period, r.target_minor, &reach),
        four_s_of(db, of, &r.pipeline, before, r.target_minor, &reach),
    )?;
    Ok(r.report(FourSReport { current, previous }))
}

/// The 4S of a slice of the projection for one period, with the slice's reach counts
/// (`Db::reach_counts`, all history).
pub async fn four_s_of(
    db: &Db,
    of: Slice<'_>,
    pipeline: &Pipeline,
    period: analytics::Period,
    target_minor: Option<i64>,
    reach: &[shangji_core::projection::ReachCount],
) -> Result<analytics::FourS, AppError> {
    let open = analytics::stages_of_kind(pipeline, StageKind::Open);
    let won = analytics::stages_of_kind(pipeline, StageKind::Won);
    let (entries, closed, size, stage_times, cycles) = tokio::try_join!(
        db.funnel_counts(of, period),
        db.closed_by(of, period, Facet::All),
        db.size_at(of, &open, analytics::size_instant(period), "CNY"),
        db.stage_times(of, period),
        db.won_cycles(of, &won, period),
    )?;
    let inputs = analytics::FourSInputs {
        entries,
        closed,
        reach: reach.to_vec(),
        size,
        stage_times,
        cycles,
    };
    Ok(analytics::four_s_from(pipeline, inputs, target_minor))
}

/// The won and lost stages.
fn closed_stages(pipeline: &Pipeline) -> Vec<StageId> {
    let mut closed = analytics::stages_of_kind(pipeline, StageKind::Won);
    closed.extend(analytics::stages_of_kind(pipeline, StageKind::Lost));
    closed
}

/// Won amount, win rate, pipeline created and customer-facing follow-ups per person.
pub async fn leaderboard_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::LeaderRow>>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let (closed, created) = tokio::try_join!(
        db.closed_by(of, r.period, Facet::Owner),
        db.created_by(of, r.period, Facet::Owner),
    )?;
    let mut out = r.report(analytics::leaderboard_from(&r.pipeline, &closed, &created));
    let kinds = automation::facts_config(db).await?.kinds();
    let follow_ups = db
        .follow_ups_by_author(
            &ctx.scope,
            r.period.from,
            r.period.to,
            r.owners.as_deref(),
            &kinds,
        )
        .await?;
    for (author, n) in follow_ups {
        match out.rows.iter_mut().find(|row| row.owner_id == author) {
            Some(row) => row.follow_ups = n as u64,
            None => out.rows.push(analytics::LeaderRow {
                owner_id: author,
                follow_ups: n as u64,
                ..Default::default()
            }),
        }
    }
    Ok(out)
}

pub async fn calibration_report(
    db: &Db,
    ctx: &Ctx,
    params: &[(String, String)],
) -> Result<Report<Vec<analytics::Calibration>>, AppError> {
    let r = report_scope(ctx, params)?;
    let of = fresh_slice(db, ctx, &r).await?;
    let reach = db.reach_counts(of, &closed_stages(&r.pipeline)).await?;
    Ok(r.report(analytics::calibration_from(&r.pipeline, &reach)))
}

// ---- For the pages: what the header counts, a deal's pending request, requests with
// their deals. ----

/// What the header shows a signed-in user: approval requests waiting for them and their
/// unread notifications.
pub async fn header_counts(db: &Db, ctx: &Ctx) -> Result<(i64, i64), AppError> {
    let q = ListQuery {
        eq: vec![("current_approver_id", ctx.actor.user_id.into())],
        sort: "created_at",
        limit: 1,
        ..Default::default()
    };
    let waiting = db.list::<ApprovalRequest>(&Scope::All, &q).await?.total;
    let unread = db.unread_count(ctx.actor.user_id).await?;
    Ok((waiting, unread))
}

/// The pending approval request of an opportunity the caller can read, if any.
pub async fn pending_approval(
    db: &Db,
    ctx: &Ctx,
    opportunity_id: OpportunityId,
) -> Result<Option<ApprovalRequest>, AppError> {
    get::<Opportunity>(db, ctx, opportunity_id).await?;
    let q = ListQuery {
        eq: vec![
            ("opportunity_id", opportunity_id.into()),
            ("status", ApprovalStatus::Pending.as_str().into()),
        ],
        sort: "created_at",
        limit: 1,
        ..Default::default()
    };
    Ok(db
        .list::<ApprovalRequest>(&Scope::All, &q)
        .await?
        .items
        .into_iter()
        .next())
}

/// An approval request with the opportunity it is about.
#[derive(Debug, Clone)]
pub struct ApprovalItem {
    pub request: ApprovalRequest,
    /// The opportunity as it is now (its requester and approvers may see what the request
    /// is about, as the notifications told them).
    pub opportunity: Option<Opportunity>,
    /// Whether the caller may open the opportunity itself.
    pub readable: bool,
}

/// The requests waiting for the caller (`inbox`) or made by the caller, newest first, each
/// with its opportunity.
pub async fn approval_items(
    db: &Db,
    ctx: &Ctx,
    inbox: bool,
) -> Result<Vec<ApprovalItem>, AppError> {
    let mut out = Vec::new();
    for request in approvals(db, ctx, inbox).await? {
        let opportunity = db
            .get::<Opportunity>(request.opportunity_id, &Scope::All, Access::Read)
            .await?;
        let readable = opportunity
            .as_ref()
            .is_some_and(|o| ctx.scope.covers(Some(o.owner_id)));
        out.push(ApprovalItem {
            request,
            opportunity,
            readable,
        });
    }
    Ok(out)
}
