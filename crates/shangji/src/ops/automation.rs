//! Automation in the application: rules saved and checked, the shipped templates seeded,
//! the dry run, the scheduler's tick, event-triggered rules after an opportunity write, the
//! actions of a firing, saving the working calendar and follow-up settings (read in
//! `ops::facts`) and notification preferences.
//!
//! A firing runs its actions only when this call inserted its (rule, record, episode) row:
//! another tick, another instance or a run before a restart that got there first wins, so
//! every episode fires once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shangji_core::calendar::WorkCalendar;
use shangji_core::model::*;
use shangji_core::opportunity::{MoveInput, OpportunityInput};
use shangji_core::records::TaskInput;
use shangji_core::rules::{
    self, batch_for_delivery, resolve_recipient, Action, Delivery, FactsConfig, Firing, Recipient,
    RecordFacts, RecordRef, RecordType, Rule, RuleInput, Subject, TemplateStages, TriggerEvent,
};
use shangji_core::visibility::Scope;
use shangji_core::Field;
use shangji_store::{Db, FiringRow, RulePrefs};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::facts::{
    account_facts_of, calendar, catalog, facts_of, lead_facts_of, CALENDAR_KEY, FOLLOW_UP_KEY,
};
use super::Ctx;
use crate::error::AppError;

/// The settings key set once the shipped templates were seeded.
pub const TEMPLATES_SEEDED: &str = "rule_templates_seeded";
/// The settings key set once the shipped lead and account templates were seeded.
pub const POOL_TEMPLATES_SEEDED: &str = "rule_templates_pool_seeded";
/// The settings key set once the shipped handover template (inherited deals) was seeded.
pub const HANDOVER_TEMPLATES_SEEDED: &str = "rule_templates_handover_seeded";
/// A recipient with more firings than this in one tick gets one digest instead.
pub const MAX_INDIVIDUAL: usize = 5;
/// Opportunities read per page by the scheduler.
const PAGE: i64 = 500;

/// A rule with what the store adds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: Rule,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_fired_at: Option<OffsetDateTime>,
}

/// One record a rule would fire for now, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunItem {
    pub rule_id: i64,
    pub rule_name: String,
    pub record_type: RecordType,
    pub record_id: i64,
    pub title: String,
    pub episode: String,
    pub reasons: Vec<rules::Reason>,
    /// This episode has fired already: the scheduler will not fire it again.
    pub already_fired: bool,
}

/// A logged firing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiringView {
    pub id: i64,
    pub rule_id: i64,
    pub record_type: String,
    pub record_id: i64,
    pub episode: String,
    #[serde(with = "time::serde::rfc3339")]
    pub fired_at: OffsetDateTime,
    #[schema(value_type = Object)]
    pub reasons: Value,
    /// What each action did.
    #[schema(value_type = Object)]
    pub outcome: Value,
}

impl From<FiringRow> for FiringView {
    fn from(r: FiringRow) -> Self {
        FiringView {
            id: r.id,
            rule_id: r.rule_id,
            record_type: r.record_type,
            record_id: r.record_id,
            episode: r.episode,
            fired_at: r.fired_at,
            reasons: r.reasons,
            outcome: r.outcome,
        }
    }
}

/// A user's notification preferences, as the API reads and writes them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrefsView {
    /// Rules whose notifications you do not want in the app.
    #[serde(default)]
    pub muted_rules: Vec<i64>,
}

/// What one scheduler tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Firings this tick inserted (and whose actions it ran).
    pub fired: usize,
    pub notifications: usize,
}

// ---- Settings: the working calendar. ----

/// Replaces the working calendar (admin). The JSON is checked whole; the first problem is
/// refused with its place (`holidays[3].to`) and code.
pub async fn save_calendar(db: &Db, ctx: &Ctx, json: &str) -> Result<WorkCalendar, AppError> {
    ctx.require_admin()?;
    let cal = WorkCalendar::from_json(json).map_err(|e| {
        if e.code == "invalid_json" {
            AppError::BadRequest(e)
        } else {
            AppError::Invalid(e)
        }
    })?;
    db.set_setting(CALENDAR_KEY, &cal.to_json(), ctx.now)
        .await?;
    super::audit::setting(db, ctx, "automation::save_calendar", "").await?;
    Ok(cal)
}

// ---- Notification preferences. ----

pub async fn preferences(db: &Db, ctx: &Ctx) -> Result<PrefsView, AppError> {
    let p = db.rule_prefs(ctx.actor.user_id).await?;
    Ok(PrefsView {
        muted_rules: p.muted_rules,
    })
}

pub async fn save_preferences(db: &Db, ctx: &Ctx, p: PrefsView) -> Result<PrefsView, AppError> {
    let known: BTreeSet<i64> = db.rules().await?.iter().map(|r| r.rule.id).collect();
    let mut muted = p.muted_rules.clone();
    muted.sort();
    muted.dedup();
    if let Some((n, id)) = muted.iter().enumerate().find(|(_, id)| !known.contains(id)) {
        return Err(AppError::invalid(
            &format!("muted_rules[{n}]"),
            "unknown_rule",
            format!("rule {id} does not exist"),
        ));
    }
    let prefs = RulePrefs { muted_rules: muted };
    db.save_rule_prefs(ctx.actor.user_id, &prefs, ctx.now)
        .await?;
    Ok(PrefsView {
        muted_rules: prefs.muted_rules,
    })
}

pub async fn mark_all_read(db: &Db, ctx: &Ctx) -> Result<u64, AppError> {
    Ok(db.mark_all_read(ctx.actor.user_id, ctx.now).await?)
}

// ---- Rules: saving, checking, seeding. ----

/// Checks a rule as rule `id` (0 for a new one), against the catalog and the other rules.
async fn check(
    db: &Db,
    dir: &shangji_store::Directory,
    id: i64,
    input: &RuleInput,
) -> Result<Rule, AppError> {
    let cat = catalog(db, dir, input.record_type).await?;
    let others: Vec<Rule> = db
        .rules()
        .await?
        .into_iter()
        .map(|r| r.rule)
        .filter(|r| r.id != id)
        .collect();
    rules::validate_rule(id, input, &cat, &others).map_err(AppError::InvalidMany)
}

async fn views(db: &Db) -> Result<Vec<RuleView>, AppError> {
    let last = db.last_fired().await?;
    Ok(db
        .rules()
        .await?
        .into_iter()
        .map(|r| RuleView {
            last_fired_at: last.get(&r.rule.id).copied(),
            rule: r.rule,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

pub async fn list_rules(db: &Db, ctx: &Ctx) -> Result<Vec<RuleView>, AppError> {
    ctx.require_admin()?;
    views(db).await
}

pub async fn get_rule(db: &Db, ctx: &Ctx, id: i64) -> Result<RuleView, AppError> {
    ctx.require_admin()?;
    views(db)
        .await?
        .into_iter()
        .find(|r| r.rule.id == id)
        .ok_or(AppError::NotFound)
}

pub async fn create_rule(db: &Db, ctx: &Ctx, input: RuleInput) -> Result<RuleView, AppError> {
    ctx.require_admin()?;
    let rule = check(db, &ctx.dir, 0, &input).await?;
    let id = db.insert_rule(&rule, ctx.now).await?;
    super::audit::setting(db, ctx, "automation::create_rule", &id.to_string()).await?;
    get_rule(db, ctx, id).await
}

pub async fn update_rule(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    input: RuleInput,
) -> Result<RuleView, AppError> {
    ctx.require_admin()?;
    let current = db.rule(id).await?.ok_or(AppError::NotFound)?;
    let expected = input.version.unwrap_or(current.version);
    let rule = check(db, &ctx.dir, id, &input).await?;
    db.update_rule(&rule, expected, ctx.now).await?;
    super::audit::setting(db, ctx, "automation::update_rule", &id.to_string()).await?;
    get_rule(db, ctx, id).await
}

/// Switches a rule on or off (the rules list's toggle).
pub async fn set_rule_enabled(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    enabled: bool,
) -> Result<RuleView, AppError> {
    ctx.require_admin()?;
    let current = db.rule(id).await?.ok_or(AppError::NotFound)?;
    let mut input = current.rule.to_input();
    input.enabled = enabled;
    input.version = Some(current.version);
    update_rule(db, ctx, id, input).await
}

pub async fn delete_rule(db: &Db, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    ctx.require_admin()?;
    if !db.delete_rule(id).await? {
        return Err(AppError::NotFound);
    }
    super::audit::setting(db, ctx, "automation::delete_rule", &id.to_string()).await
}

pub async fn rule_firings(db: &Db, ctx: &Ctx, id: i64) -> Result<Vec<FiringView>, AppError> {
    ctx.require_admin()?;
    db.rule(id).await?.ok_or(AppError::NotFound)?;
    Ok(db
        .firings_of(id, 200)
        .await?
        .into_iter()
        .map(FiringView::from)
        .collect())
}

/// `inputs` checked as shipped templates.
async fn checked_templates(
    db: &Db,
    dir: &shangji_store::Directory,
    inputs: Vec<RuleInput>,
) -> Result<Vec<Rule>, AppError> {
    let mut out: Vec<Rule> = Vec::new();
    for t in inputs {
        let cat = catalog(db, dir, t.record_type).await?;
        let rule = rules::validate_rule(0, &t, &cat, &out).map_err(|e| {
            AppError::Internal(format!("template {:?} refused: {e:?}", t.template_key))
        })?;
        out.push(rule);
    }
    Ok(out)
}

/// The shipped templates for the pipelines of `dir`, checked.
pub async fn templates(db: &Db, dir: &shangji_store::Directory) -> Result<Vec<Rule>, AppError> {
    checked_templates(
        db,
        dir,
        rules::shipped_templates(&TemplateStages::find(&dir.pipelines)),
    )
    .await
}

/// Seeds the shipped templates (the lead and account ones switched on or off as
/// `rules::pool_templates` says, and the inherited-deal one of `rules::handover_templates`),
/// once per database each group (a settings marker written with them): called when a new
/// database gets its defaults, when demo data is loaded and when `serve` starts. Deleting a
/// template later does not bring it back.
pub async fn seed_templates(db: &Db, now: OffsetDateTime) -> Result<bool, AppError> {
    let dir = db.directory().await?;
    let rules = templates(db, &dir).await?;
    let seeded = db.seed_rules_once(TEMPLATES_SEEDED, &rules, now).await?;
    let sla = super::assignment::settings(db).await?.lead_sla_hours;
    let pool = checked_templates(db, &dir, rules::pool_templates(sla)).await?;
    let pool_seeded = db
        .seed_rules_once(POOL_TEMPLATES_SEEDED, &pool, now)
        .await?;
    let handover = rules::handover_templates(rules::INHERITED_UNTOUCHED_DAYS);
    let handover = checked_templates(db, &dir, handover).await?;
    let handover_seeded = db
        .seed_rules_once(HANDOVER_TEMPLATES_SEEDED, &handover, now)
        .await?;
    Ok(seeded || pool_seeded || handover_seeded)
}

// ---- Facts. ----

/// Replaces the follow-up setting (admin).
pub async fn save_facts_config(
    db: &Db,
    ctx: &Ctx,
    config: FactsConfig,
) -> Result<FactsConfig, AppError> {
    ctx.require_admin()?;
    config.validate().map_err(AppError::InvalidMany)?;
    let json = serde_json::to_string(&config).map_err(|e| AppError::Internal(e.to_string()))?;
    db.set_setting(FOLLOW_UP_KEY, &json, ctx.now).await?;
    super::audit::setting(db, ctx, "automation::save_facts_config", "").await?;
    Ok(config)
}

/// Every open, unarchived opportunity's facts, page by page.
async fn all_open_facts(
    db: &Db,
    dir: &shangji_store::Directory,
    now: OffsetDateTime,
) -> Result<Vec<RecordFacts>, AppError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = db.open_opportunities_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(facts_of(db, dir, &page, now).await?);
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok(out)
}

/// Every unarchived lead still being worked, page by page.
async fn all_lead_facts(
    db: &Db,
    dir: &shangji_store::Directory,
    now: OffsetDateTime,
) -> Result<Vec<rules::LeadFacts>, AppError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = db.open_leads_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(lead_facts_of(db, dir, &page, now).await?);
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok(out)
}

/// Every unarchived account, page by page.
async fn all_account_facts(
    db: &Db,
    dir: &shangji_store::Directory,
    now: OffsetDateTime,
) -> Result<Vec<rules::AccountFacts>, AppError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = db.live_accounts_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(account_facts_of(db, dir, &page, now).await?);
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok(out)
}

/// What `rules` would fire for now on the records of their types, and the titles of
/// those records: the dry run's evaluation, and the scheduler's.
async fn evaluate_all(
    db: &Db,
    dir: &shangji_store::Directory,
    rules: &[Rule],
    now: OffsetDateTime,
) -> Result<(Vec<Firing>, Titles), AppError> {
    let cal = calendar(db).await?;
    let mut firings = Vec::new();
    let mut titles = Titles::new();
    fn run<S: Subject>(
        rules: &[Rule],
        facts: &[S],
        now: OffsetDateTime,
        cal: &shangji_core::calendar::WorkCalendar,
        firings: &mut Vec<Firing>,
        titles: &mut Titles,
    ) {
        let fired = rules::dry_run(rules, facts, now, cal);
        let wanted: BTreeSet<i64> = fired.iter().map(|f| f.record.id).collect();
        for f in facts {
            let r = f.record();
            if wanted.contains(&r.id) {
                titles.insert(r, f.title());
            }
        }
        firings.extend(fired);
    }
    let of = |t: RecordType| -> Vec<Rule> {
        rules
            .iter()
            .filter(|r| r.record_type == t)
            .cloned()
            .collect()
    };
    let (opp, lead, account) = (
        of(RecordType::Opportunity),
        of(RecordType::Lead),
        of(RecordType::Account),
    );
    if !opp.is_empty() {
        let facts = all_open_facts(db, dir, now).await?;
        run(&opp, &facts, now, &cal, &mut firings, &mut titles);
    }
    if !lead.is_empty() {
        let facts = all_lead_facts(db, dir, now).await?;
        run(&lead, &facts, now, &cal, &mut firings, &mut titles);
    }
    if !account.is_empty() {
        let facts = all_account_facts(db, dir, now).await?;
        run(&account, &facts, now, &cal, &mut firings, &mut titles);
    }
    // In the order of `rules`, as `rules::dry_run` orders one type's.
    let order: HashMap<i64, usize> = rules.iter().enumerate().map(|(n, r)| (r.id, n)).collect();
    firings.sort_by_key(|f| order.get(&f.rule_id).copied().unwrap_or(usize::MAX));
    Ok((firings, titles))
}

/// Titles of the records firings are about.
type Titles = HashMap<RecordRef, String>;

// ---- The dry run. ----

async fn dry_run_of(db: &Db, ctx: &Ctx, rules: &[Rule]) -> Result<Vec<DryRunItem>, AppError> {
    let (firings, titles) = evaluate_all(db, &ctx.dir, rules, ctx.now).await?;
    let ids: Vec<i64> = rules.iter().map(|r| r.id).filter(|id| *id > 0).collect();
    let fired = db.fired_keys(&ids).await?;
    Ok(firings
        .into_iter()
        .map(|f| DryRunItem {
            already_fired: fired.contains(&(f.rule_id, f.record.id, f.episode.clone())),
            rule_id: f.rule_id,
            rule_name: f.rule_name,
            record_type: f.record.record_type,
            record_id: f.record.id,
            title: titles.get(&f.record).cloned().unwrap_or_default(),
            episode: f.episode,
            reasons: f.reasons,
        })
        .collect())
}

/// Which records a saved rule would fire for now, and why (enabled or not: the dry run
/// looks at the rule as if it were on).
pub async fn dry_run_saved(db: &Db, ctx: &Ctx, id: i64) -> Result<Vec<DryRunItem>, AppError> {
    ctx.require_admin()?;
    let mut rule = db.rule(id).await?.ok_or(AppError::NotFound)?.rule;
    rule.enabled = true;
    dry_run_of(db, ctx, &[rule]).await
}

/// Which records a rule not yet saved would fire for now, and why.
pub async fn dry_run_input(
    db: &Db,
    ctx: &Ctx,
    input: RuleInput,
) -> Result<Vec<DryRunItem>, AppError> {
    ctx.require_admin()?;
    let mut rule = check(db, &ctx.dir, 0, &input).await?;
    rule.enabled = true;
    dry_run_of(db, ctx, &[rule]).await
}

// ---- Firing: the scheduler and the event path. ----

/// One scheduler tick at `now`: evaluates every enabled scheduled rule on every open,
/// unarchived opportunity, records the firings (once per episode) and runs the actions of
/// those this tick inserted.
pub async fn tick(db: &Db, now: OffsetDateTime) -> Result<TickReport, AppError> {
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    let scheduled: Vec<Rule> = db
        .enabled_rules(true)
        .await?
        .into_iter()
        .map(|r| r.rule)
        .collect();
    if scheduled.is_empty() {
        return Ok(TickReport::default());
    }
    let dir = db.directory().await?;
    // The dry run's own evaluation: what it lists is what fires.
    let (firings, titles) = evaluate_all(db, &dir, &scheduled, now).await?;
    perform(db, dir, &titles, firings, now).await
}

/// Records `firings` and runs the actions of those inserted now.
async fn perform(
    db: &Db,
    dir: Arc<shangji_store::Directory>,
    titles: &Titles,
    firings: Vec<Firing>,
    now: OffsetDateTime,
) -> Result<TickReport, AppError> {
    let mut fresh: Vec<(i64, Firing)> = Vec::new();
    for f in firings {
        let reasons = serde_json::to_value(&f.reasons).unwrap_or(Value::Null);
        if let Some(id) = db
            .insert_firing(
                f.rule_id,
                f.record.record_type.as_str(),
                f.record.id,
                &f.episode,
                now,
                &reasons,
            )
            .await?
        {
            fresh.push((id, f));
        }
    }
    if fresh.is_empty() {
        return Ok(TickReport::default());
    }
    let users: Vec<_> = db
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.role, u.team_id, u.active))
        .collect();
    let muted = db.muted_rules().await?;
    let only: Vec<Firing> = fresh.iter().map(|(_, f)| f.clone()).collect();
    let batches = batch_for_delivery(
        &only,
        |f, to| {
            resolve_recipient(to, f, &dir.org, &users)
                .into_iter()
                .filter(|u| !muted.get(u).is_some_and(|m| m.contains(&f.rule_id)))
                .collect()
        },
        MAX_INDIVIDUAL,
    );
    let mut notes: Vec<Notification> = Vec::new();
    let mut notified: BTreeMap<i64, Vec<UserId>> = BTreeMap::new();
    for b in &batches {
        match &b.delivery {
            Delivery::Individual(list) => {
                for f in list {
                    notes.push(rule_note(b.user_id, f, titles, now));
                }
            }
            Delivery::Digest(list) => notes.push(digest_note(b.user_id, list, titles, now)),
        }
        for f in match &b.delivery {
            Delivery::Individual(l) | Delivery::Digest(l) => l,
        } {
            notified.entry(key(f)).or_default().push(b.user_id);
        }
    }
    if !notes.is_empty() {
        // In the app, and queued for the channels and email (see `outbox`).
        super::delivery::notify_users(db, &dir, &notes, now).await?;
    }
    let ctx = Ctx::rules(db, dir, now).await?;
    for (id, f) in &fresh {
        let mut outcome: Vec<Value> = Vec::new();
        let to = notified.get(&key(f)).cloned().unwrap_or_default();
        for a in &f.actions {
            let done = match a {
                Action::Notify { .. } => json!({"kind": "notify", "status": "done", "users": to}),
                other => match &ctx {
                    None => {
                        json!({"kind": kind_of(other), "status": "skipped", "reason": "no active admin to act as"})
                    }
                    Some(ctx) => act(db, ctx, f, other, &users).await,
                },
            };
            outcome.push(done);
        }
        db.set_firing_outcome(*id, &Value::Array(outcome)).await?;
    }
    Ok(TickReport {
        fired: fresh.len(),
        notifications: notes.len(),
    })
}

fn key(f: &Firing) -> i64 {
    // Firings of one tick are distinct by (rule, record); a compact key for maps.
    f.rule_id * 1_000_000_007 + f.record.id
}

fn kind_of(a: &Action) -> &'static str {
    match a {
        Action::Notify { .. } => "notify",
        Action::CreateTask { .. } => "create_task",
        Action::SetField { .. } => "set_field",
        Action::Assign { .. } => "assign",
        Action::ReturnToPool => "return_to_pool",
        Action::RequestApproval { .. } => "request_approval",
    }
}

fn messages(f: &Firing) -> Vec<String> {
    f.actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify {
                message: Some(m), ..
            } if !m.trim().is_empty() => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The page of the record a firing is about.
fn link(r: &RecordRef) -> String {
    match r.record_type {
        RecordType::Opportunity => format!("/opportunities/{}", r.id),
        RecordType::Lead => format!("/leads/{}", r.id),
        RecordType::Account => format!("/accounts/{}", r.id),
    }
}

fn rule_note(user_id: UserId, f: &Firing, titles: &Titles, now: OffsetDateTime) -> Notification {
    Notification {
        id: 0,
        user_id,
        kind: "rule".into(),
        record_kind: Some(f.record.record_type.kind()),
        record_id: Some(f.record.id),
        payload: json!({
            "rule_id": f.rule_id,
            "rule_name": f.rule_name,
            "template_key": f.template_key,
            "title": titles.get(&f.record).cloned().unwrap_or_default(),
            "link": link(&f.record),
            "episode": f.episode,
            "reasons": f.reasons,
            "messages": messages(f),
        }),
        read_at: None,
        archived: false,
        version: 1,
        created_at: now,
    }
}

fn digest_note(
    user_id: UserId,
    list: &[Firing],
    titles: &Titles,
    now: OffsetDateTime,
) -> Notification {
    let items: Vec<Value> = list
        .iter()
        .map(|f| {
            json!({
                "rule_id": f.rule_id,
                "rule_name": f.rule_name,
                "template_key": f.template_key,
                "record_id": f.record.id,
                "record_type": f.record.record_type,
                "title": titles.get(&f.record).cloned().unwrap_or_default(),
                "link": link(&f.record),
            })
        })
        .collect();
    Notification {
        id: 0,
        user_id,
        kind: "rule_digest".into(),
        record_kind: None,
        record_id: None,
        payload: json!({ "count": items.len(), "items": items, "link": "/notifications" }),
        read_at: None,
        archived: false,
        version: 1,
        created_at: now,
    }
}

/// Runs one action other than `notify` for a firing, as `ctx` (the system context).
async fn act(
    db: &Db,
    ctx: &Ctx,
    f: &Firing,
    a: &Action,
    users: &[(UserId, Role, Option<TeamId>, bool)],
) -> Value {
    let kind = kind_of(a);
    let result: Result<Value, AppError> = async {
        match a {
            Action::CreateTask {
                title,
                assignee,
                due_working_days,
            } => {
                let Some(who) = first_recipient(assignee, f, ctx, users) else {
                    return Ok(
                        json!({"status": "skipped", "reason": "nobody to assign the task to"}),
                    );
                };
                let cal = calendar(db).await?;
                let due = cal.add_working_days(f.at, (*due_working_days).max(0) as u32);
                let input = TaskInput {
                    title: Field::Value(title.clone()),
                    due_date: Field::Value(cal.local_date(due)),
                    assignee_id: Field::Value(who),
                    record_kind: Field::Value(f.record.record_type.kind()),
                    record_id: Field::Value(f.record.id),
                    ..Default::default()
                };
                let task = super::create::<Task>(db, ctx, input, None).await?;
                Ok(json!({"status": "done", "task_id": task.record.id}))
            }
            Action::SetField { field, value }
                if f.record.record_type != RecordType::Opportunity =>
            {
                set_party_field(db, ctx, f.record, field, value).await
            }
            Action::SetField { field, value } => {
                let opp = db
                    .get::<Opportunity>(f.record.id, &Scope::All, shangji_store::Access::Read)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let body = match field.strip_prefix("custom.") {
                    Some(k) => json!({ "custom": { k: value }, "version": opp.version }),
                    None => json!({ field.as_str(): value, "version": opp.version }),
                };
                let input: OpportunityInput = serde_json::from_value(body)
                    .map_err(|e| AppError::invalid(field, "invalid_value", e.to_string()))?;
                let saved = super::update_opportunity(db, ctx, f.record.id, input).await?;
                Ok(json!({"status": "done", "version": saved.version}))
            }
            Action::RequestApproval { policy_id } => {
                let policy = ctx
                    .dir
                    .approval_policies
                    .iter()
                    .find(|p| p.id == *policy_id)
                    .cloned()
                    .ok_or(AppError::NotFound)?;
                let opp = db
                    .get::<Opportunity>(f.record.id, &Scope::All, shangji_store::Access::Read)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let pipeline = ctx
                    .dir
                    .pipeline(opp.pipeline_id)
                    .ok_or(AppError::NotFound)?;
                let to = match policy.stage_id {
                    Some(s) => Some(s),
                    None => {
                        let open: Vec<&Stage> =
                            pipeline.stages.iter().filter(|s| !s.archived).collect();
                        open.iter()
                            .position(|s| s.id == opp.stage_id)
                            .and_then(|i| open.get(i + 1))
                            .map(|s| s.id)
                    }
                };
                let Some(to) = to.filter(|s| *s != opp.stage_id) else {
                    return Ok(json!({"status": "skipped", "reason": "no stage to ask for"}));
                };
                let input: MoveInput = serde_json::from_value(json!({"stage_id": to}))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let req = super::request_approval(db, ctx, &opp, input, Some(*policy_id)).await?;
                Ok(json!({"status": "done", "approval_id": req.id}))
            }
            Action::Assign { assignment_rule_id } => match f.record.record_type {
                RecordType::Lead => {
                    super::assignment::lead_by_rules(db, ctx, f.record.id, *assignment_rule_id)
                        .await
                }
                _ => super::assignment::by_rules(db, ctx, f.record.id, *assignment_rule_id).await,
            },
            Action::ReturnToPool => {
                let input = super::assignment::ReleaseInput {
                    reason: Some(format!("rule {}", f.rule_name)),
                    version: None,
                };
                let version = match f.record.record_type {
                    RecordType::Opportunity => {
                        super::assignment::release(db, ctx, f.record.id, input)
                            .await
                            .map(|o| o.version)
                    }
                    RecordType::Lead => {
                        super::assignment::release_record::<Lead>(db, ctx, f.record.id, input)
                            .await
                            .map(|l| l.version)
                    }
                    RecordType::Account => {
                        super::assignment::release_record::<Account>(db, ctx, f.record.id, input)
                            .await
                            .map(|a| a.version)
                    }
                };
                match version {
                    Ok(version) => Ok(json!({"status": "done", "version": version})),
                    Err(AppError::Invalid(e)) if e.code == "already_in_pool" => {
                        Ok(json!({"status": "skipped", "reason": e.message}))
                    }
                    Err(e) => Err(e),
                }
            }
            Action::Notify { .. } => Ok(json!({"status": "done"})),
        }
    }
    .await;
    let mut v = match result {
        Ok(v) => v,
        Err(e) => {
            let body = e.body();
            json!({"status": "failed", "code": body.code, "message": body.message, "field": body.field})
        }
    };
    v["kind"] = json!(kind);
    v
}

/// A rule's `set_field` on a lead or an account: through the record's update, as a form
/// would change it.
async fn set_party_field(
    db: &Db,
    ctx: &Ctx,
    r: RecordRef,
    field: &str,
    value: &Value,
) -> Result<Value, AppError> {
    let body = |version: i64| match field.strip_prefix("custom.") {
        Some(k) => json!({ "custom": { k: value }, "version": version }),
        None => json!({ field: value, "version": version }),
    };
    let bad = |e: serde_json::Error| AppError::invalid(field, "invalid_value", e.to_string());
    let version = match r.record_type {
        RecordType::Lead => {
            let lead: Lead = super::get(db, ctx, r.id).await?;
            let input = serde_json::from_value(body(lead.version)).map_err(bad)?;
            super::update::<Lead>(db, ctx, r.id, input).await?.version
        }
        _ => {
            let account: Account = super::get(db, ctx, r.id).await?;
            let input = serde_json::from_value(body(account.version)).map_err(bad)?;
            super::update::<Account>(db, ctx, r.id, input)
                .await?
                .version
        }
    };
    Ok(json!({"status": "done", "version": version}))
}

fn first_recipient(
    to: &Recipient,
    f: &Firing,
    ctx: &Ctx,
    users: &[(UserId, Role, Option<TeamId>, bool)],
) -> Option<UserId> {
    resolve_recipient(to, f, &ctx.dir.org, users)
        .into_iter()
        .next()
}

/// After an opportunity was created (`before` is `None`) or changed, in `ctx`: evaluates
/// the enabled event-triggered rules with the change and runs the firings the same way as
/// the scheduler. A failure is logged, never returned: the write has been made.
pub fn after_opportunity_write<'a>(
    db: &'a Db,
    ctx: &'a Ctx,
    before: Option<&'a Opportunity>,
    after: &'a Opportunity,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        if let Err(e) = on_event(db, ctx, before, after).await {
            tracing::warn!(error = ?e, opportunity = after.id, "event rules failed");
        }
    })
}

async fn on_event(
    db: &Db,
    ctx: &Ctx,
    before: Option<&Opportunity>,
    after: &Opportunity,
) -> Result<(), AppError> {
    let event_rules = &ctx.dir.event_rules;
    if event_rules.is_empty() {
        return Ok(());
    }
    let event = match before {
        None => TriggerEvent::created(after.version.to_string()),
        Some(b) => TriggerEvent::updated(after.version.to_string(), b, after),
    };
    if before.is_some() && event.changed.is_empty() {
        return Ok(());
    }
    let cal = calendar(db).await?;
    let now = ctx.now;
    let facts = facts_of(db, &ctx.dir, std::slice::from_ref(after), now).await?;
    fire_on_event(db, ctx, event_rules, &facts[0], &event, &cal).await
}

/// Evaluates the event-triggered `rules` on `facts` after `event` and runs what fires.
async fn fire_on_event<S: Subject>(
    db: &Db,
    ctx: &Ctx,
    rules: &[Rule],
    facts: &S,
    event: &TriggerEvent,
    cal: &shangji_core::calendar::WorkCalendar,
) -> Result<(), AppError> {
    let firings: Vec<Firing> = rules
        .iter()
        .filter_map(|r| rules::evaluate(r, facts, Some(event), ctx.now, cal))
        .collect();
    if firings.is_empty() {
        return Ok(());
    }
    let titles: Titles = [(facts.record(), facts.title())].into_iter().collect();
    perform(db, ctx.dir.clone(), &titles, firings, ctx.now).await?;
    Ok(())
}

/// After a lead or an account was created (`before` is `None`) or changed, in `ctx`: the
/// event-triggered rules of its type, as for opportunities, on the record as written
/// (`after`). A failure is logged, never returned: the write has been made.
pub fn after_party_write<'a>(
    db: &'a Db,
    ctx: &'a Ctx,
    kind: RecordKind,
    before: Option<&'a Value>,
    after: Value,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let id = after["id"].as_i64().unwrap_or_default();
        if let Err(e) = on_party_event(db, ctx, kind, before, after).await {
            tracing::warn!(error = ?e, record = id, kind = kind.as_str(), "event rules failed");
        }
    })
}

/// A lead's or an account's facts.
enum PartyFacts {
    Lead(rules::LeadFacts),
    Account(rules::AccountFacts),
}

impl PartyFacts {
    fn of(&self) -> &dyn Subject {
        match self {
            PartyFacts::Lead(f) => f,
            PartyFacts::Account(f) => f,
        }
    }
}

impl Subject for PartyFacts {
    fn record(&self) -> RecordRef {
        self.of().record()
    }
    fn title(&self) -> String {
        self.of().title()
    }
    fn line_owner(&self) -> UserId {
        self.of().line_owner()
    }
    fn assigned(&self) -> bool {
        self.of().assigned()
    }
    fn is_live(&self) -> bool {
        self.of().is_live()
    }
    fn stage_id(&self) -> Option<StageId> {
        None
    }
    fn values(
        &self,
        now: OffsetDateTime,
        cal: &shangji_core::calendar::WorkCalendar,
    ) -> rules::Values {
        self.of().values(now, cal)
    }
}

/// Facts of one lead or account (as JSON: as it is now, or as it was).
async fn party_facts(
    db: &Db,
    ctx: &Ctx,
    kind: RecordKind,
    record: &Value,
) -> Result<PartyFacts, AppError> {
    let bad = |e: serde_json::Error| AppError::Internal(e.to_string());
    Ok(match kind {
        RecordKind::Lead => {
            let l: Lead = serde_json::from_value(record.clone()).map_err(bad)?;
            let mut f = lead_facts_of(db, &ctx.dir, &[l], ctx.now).await?;
            PartyFacts::Lead(f.remove(0))
        }
        _ => {
            let a: Account = serde_json::from_value(record.clone()).map_err(bad)?;
            let mut f = account_facts_of(db, &ctx.dir, &[a], ctx.now).await?;
            PartyFacts::Account(f.remove(0))
        }
    })
}

async fn on_party_event(
    db: &Db,
    ctx: &Ctx,
    kind: RecordKind,
    before: Option<&Value>,
    now_json: Value,
) -> Result<(), AppError> {
    let record_type = match kind {
        RecordKind::Lead => RecordType::Lead,
        RecordKind::Account => RecordType::Account,
        _ => return Ok(()),
    };
    let event_rules: Vec<Rule> = ctx
        .dir
        .event_rules
        .iter()
        .filter(|r| r.record_type == record_type)
        .cloned()
        .collect();
    if event_rules.is_empty() {
        return Ok(());
    }
    let cal = calendar(db).await?;
    let after = party_facts(db, ctx, kind, &now_json).await?;
    let version = now_json["version"].as_i64().unwrap_or(0).to_string();
    let event = match before {
        None => TriggerEvent::created(version),
        Some(b) => {
            let before = party_facts(db, ctx, kind, b).await?;
            let e = TriggerEvent::updated_values(
                version,
                &before.values(ctx.now, &cal),
                &after.values(ctx.now, &cal),
            );
            if e.changed.is_empty() {
                return Ok(());
            }
            e
        }
    };
    fire_on_event(db, ctx, &event_rules, &after, &event, &cal).await
}

/// One turn of the rule scheduler job (`jobs`): [`tick`] at `now`; the outcome is logged.
pub async fn scheduler_turn(db: &Db, now: OffsetDateTime) {
    match tick(db, now).await {
        Ok(r) if r.fired > 0 => {
            tracing::info!(
                fired = r.fired,
                notifications = r.notifications,
                "rules fired"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "rule scheduler tick failed"),
    }
}
