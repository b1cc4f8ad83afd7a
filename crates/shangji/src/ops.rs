//! Operations: each loads what it needs, lets shangji-core decide, saves, and returns. The
//! JSON API, the pages, the command line and (later) the importer and the scheduler call
//! these functions, so every rule is enforced on every path in.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use shangji_core::model::*;
use shangji_core::opportunity::{
    self, MoveContext, MoveInput, NewEvent, OpportunityEvent, OpportunityInput,
};
use shangji_core::process::{
    self, LossReason, PipelineTemplate, StageGate, StageSpec, StandardAction, TransitionPolicy,
};
use shangji_core::records::{self, *};
use shangji_core::visibility::{self, Actor, Scope};
use shangji_core::{Field, FieldError};
use shangji_store::{
    Access, Authenticated, Db, Directory, Entity, IdemKey, ListQuery, Page, Save, StoreError,
};
use time::OffsetDateTime;

use crate::error::AppError;

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
        .save(&record, Save::Insert { idem: key.as_ref() }, events)
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
    let mut record = T::blank(ctx);
    record.apply(input, true, ctx.now)?;
    check_owner(db, ctx, "owner_id", record.owner(), Some(ctx.actor.user_id)).await?;
    check_links(db, ctx, record.links()).await?;
    insert(db, ctx, record, &[], idem).await
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
    record.apply(input, false, ctx.now)?;
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
    db.save(
        &record,
        Save::Update {
            expected_version: before.version(),
        },
        &[],
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
            "updated_since" => {
                let t =
                    OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339)
                        .map_err(|_| {
                            bad(k, "expected an RFC 3339 time like 2026-03-31T08:00:00Z")
                        })?;
                q.ranges.push(("updated_at", ">=", t.into()));
            }
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
    let (opp, events) = opportunity::create(input, pipeline, &ctx.actor, ctx.now)?;
    check_owner(
        db,
        ctx,
        "owner_id",
        Some(opp.owner_id),
        Some(ctx.actor.user_id),
    )
    .await?;
    check_links(db, ctx, opp.links()).await?;
    insert(db, ctx, opp, &events, idem).await
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
    let events = opportunity::apply(&mut opp, input, pipeline, &ctx.actor, ctx.now)?;
    check_changed_refs(db, ctx, &before, &opp).await?;
    if opp == before {
        return Ok(before);
    }
    db.save(
        &opp,
        Save::Update {
            expected_version: before.version,
        },
        &events,
    )
    .await?;
    Ok(opp.stored(id, before.version + 1))
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
    let pipeline = pipeline_for(ctx, Some(opp.pipeline_id))?;
    // Actions done through their tasks count only where leaving the stage needs them.
    let leaving_needs_actions = pipeline
        .stage(opp.stage_id)
        .is_some_and(|s| s.actions.iter().any(|a| a.required_to_leave));
    let tasks_done = if leaving_needs_actions {
        db.actions_done_by_tasks(id).await?
    } else {
        vec![]
    };
    let custom = Default::default();
    let mctx = MoveContext {
        actor: &ctx.actor,
        now: ctx.now,
        loss_reasons: &ctx.dir.loss_reasons,
        tasks_done: &tasks_done,
        custom: &custom,
        custom_labels: &[],
        approved: false,
        task_language: ctx.lang,
    };
    let moved = opportunity::move_to(&mut opp, pipeline, input, &mctx)
        .map_err(|e| AppError::from_move(e, ctx.lang))?;
    check_changed_refs(db, ctx, &before, &opp).await?;
    db.save_move(&opp, before.version, &moved.events, &moved.tasks)
        .await?;
    Ok(opp.stored(id, before.version + 1))
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
    let to = pipeline_for(ctx, Some(input.pipeline_id))?;
    let events = opportunity::change_pipeline(&mut opp, to, input.stage_id, &ctx.actor, ctx.now)
        .map_err(|e| AppError::from_move(e, ctx.lang))?;
    db.save(&opp, Save::Update { expected_version }, &events)
        .await?;
    Ok(opp.stored(id, expected_version + 1))
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
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut header: Option<Vec<String>> = None;
    loop {
        let page = db.list::<T>(&ctx.scope, &q).await?;
        for record in &page.items {
            let mut cells = Vec::new();
            flatten(
                "",
                &serde_json::to_value(record).map_err(|e| AppError::Internal(e.to_string()))?,
                &mut cells,
            );
            if header.is_none() {
                let names: Vec<String> = cells.iter().map(|(k, _)| k.clone()).collect();
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
fn opportunity_custom_keys(_ctx: &Ctx) -> Vec<String> {
    vec![]
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
        .map(|s| StageSpec {
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            kind: s.kind,
            probability: s.probability,
            forecast_category: s.forecast_category,
            rotting_days: s.rotting_days,
            guidance: s.guidance.clone(),
            gate: s.gate.clone(),
            actions: s.actions.clone(),
        })
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
    let candidate = Stage {
        id: -1,
        pipeline_id,
        position,
        name_zh: input.stage.name_zh.clone(),
        name_en: input.stage.name_en.clone(),
        kind: input.stage.kind,
        probability: input.stage.probability,
        forecast_category: input.stage.forecast_category,
        rotting_days: input.stage.rotting_days,
        guidance: input.stage.guidance.clone(),
        gate: input.stage.gate.clone(),
        actions: input.stage.actions.clone(),
        archived: false,
    };
    check_stages_with(ctx, &p, &candidate)?;
    db.insert_stage(pipeline_id, position, &input.stage).await?;
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
    reread_pipeline(db, pipeline_id).await
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
