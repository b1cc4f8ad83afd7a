//! What a record is as rules, alerts and reports see it, and the two settings every count of
//! days reads: the working calendar (调休 included) and which follow-ups are meaningful. Read
//! here by every capability (automation, assignment, records, opportunities, review,
//! analytics, the board); saved by `ops::automation`.

use shangji_core::calendar::WorkCalendar;
use shangji_core::handover::inherited;
use shangji_core::model::*;
use shangji_core::rules::{
    AccountFacts, FactsConfig, FieldCatalog, LeadFacts, RecordFacts, RecordType,
};
use shangji_store::Db;
use time::OffsetDateTime;

use crate::error::AppError;

/// The settings key of the working calendar (JSON as `WorkCalendar::from_json` reads it).
pub const CALENDAR_KEY: &str = "work_calendar";

/// The working calendar in force: the saved one, else the shipped China calendar.
pub async fn calendar(db: &Db) -> Result<WorkCalendar, AppError> {
    match db.setting(CALENDAR_KEY).await? {
        Some(json) => WorkCalendar::from_json(&json)
            .map_err(|e| AppError::Internal(format!("stored calendar: {e}"))),
        None => Ok(WorkCalendar::china_default()),
    }
}

/// What rules (and assignment rules) on records of `record_type` may name.
pub async fn catalog(
    db: &Db,
    dir: &shangji_store::Directory,
    record_type: RecordType,
) -> Result<FieldCatalog, AppError> {
    let users: Vec<UserId> = db.users().await?.iter().map(|u| u.id).collect();
    let policies: Vec<i64> = dir.approval_policies.iter().map(|p| p.id).collect();
    let assignment: Vec<i64> = db
        .assignment_rules()
        .await?
        .iter()
        .filter(|r| r.rule.record_type == record_type)
        .map(|r| r.rule.id)
        .collect();
    let cat = match record_type {
        RecordType::Opportunity => {
            FieldCatalog::opportunity(&dir.custom_fields, &dir.pipelines, &users)
                .with_approval_policies(&policies)
        }
        RecordType::Lead => FieldCatalog::lead(&dir.custom_fields, &users),
        RecordType::Account => FieldCatalog::account(&dir.custom_fields, &users),
    };
    Ok(cat.with_assignment_rules(&assignment))
}

/// The settings key of what counts for the derived values (JSON of `FactsConfig`).
pub const FOLLOW_UP_KEY: &str = "follow_up";

/// Which activity types are a meaningful follow-up, and which standard actions send the
/// proposal: the saved setting, else the defaults (the customer-facing types). Every count of
/// follow-ups reads it — the rules, the board, the today page, the review, the leaderboard.
pub async fn facts_config(db: &Db) -> Result<FactsConfig, AppError> {
    match db.setting(FOLLOW_UP_KEY).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| AppError::Internal(format!("stored follow-up setting: {e}"))),
        None => Ok(FactsConfig::default()),
    }
}

/// The facts of these opportunities at `now`, in a few grouped queries (with, for the deals
/// ever handed over, whether their owner inherited them and touched them since:
/// `shangji_core::handover::inherited`).
pub async fn facts_of(
    db: &Db,
    dir: &shangji_store::Directory,
    opps: &[Opportunity],
    now: OffsetDateTime,
) -> Result<Vec<RecordFacts>, AppError> {
    let config = facts_config(db).await?;
    let ids: Vec<i64> = opps.iter().map(|o| o.id).collect();
    let rows = db.rule_facts(&ids, &config.kinds(), now).await?;
    let trails = db.deal_trails(&ids).await?;
    Ok(opps
        .iter()
        .map(|o| {
            let mut f = RecordFacts::opportunity(o, &[], &[], &dir.custom_fields, &config, now);
            f.last_follow_up = rows.last_follow_up.get(&o.id).copied();
            f.open_task_due_dates = rows.open_task_due.get(&o.id).cloned().unwrap_or_default();
            f.industry = rows.industry.get(&o.id).cloned();
            let by_tasks = rows.actions_by_tasks.get(&o.id);
            f.proposal_sent = o
                .actions_done
                .iter()
                .chain(by_tasks.into_iter().flatten())
                .any(|k| config.proposal_actions.contains(k));
            f.inherited = trails.get(&o.id).and_then(|t| inherited(o, t));
            f
        })
        .collect())
}

/// Whose team line hears of a pool record of `region`: the first active manager of the
/// team that covers the region (`Team::regions`).
fn pool_line(
    dir: &shangji_store::Directory,
    users: &[User],
    region: Option<&str>,
) -> Option<UserId> {
    let region = region.map(str::trim).filter(|r| !r.is_empty())?;
    let team = dir
        .org
        .teams
        .iter()
        .find(|t| !t.archived && t.regions.iter().any(|r| r.trim() == region))?;
    users
        .iter()
        .filter(|u| u.active && u.role == Role::Manager && u.team_id == Some(team.id))
        .map(|u| u.id)
        .min()
}

/// The facts of these leads at `now`, in grouped queries.
pub async fn lead_facts_of(
    db: &Db,
    dir: &shangji_store::Directory,
    leads: &[Lead],
    now: OffsetDateTime,
) -> Result<Vec<LeadFacts>, AppError> {
    let config = facts_config(db).await?;
    let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
    let spans = db.lead_follow_up_span(&ids, &config.kinds(), now).await?;
    let users = &dir.users;
    Ok(leads
        .iter()
        .map(|l| {
            let mut f = LeadFacts::new(l, &dir.custom_fields);
            if let Some((first, last)) = spans.get(&l.id) {
                f.first_follow_up = Some(*first);
                f.last_follow_up = Some(*last);
            }
            f.pool_line = pool_line(dir, users, l.region.as_deref());
            f
        })
        .collect())
}

/// The facts of these accounts at `now`, in grouped queries.
pub async fn account_facts_of(
    db: &Db,
    dir: &shangji_store::Directory,
    accounts: &[Account],
    now: OffsetDateTime,
) -> Result<Vec<AccountFacts>, AppError> {
    let config = facts_config(db).await?;
    let ids: Vec<i64> = accounts.iter().map(|a| a.id).collect();
    let (last, open) = db.account_rule_facts(&ids, &config.kinds(), now).await?;
    let users = &dir.users;
    Ok(accounts
        .iter()
        .map(|a| {
            let mut f = AccountFacts::new(a, &dir.custom_fields);
            f.last_follow_up = last.get(&a.id).copied();
            f.open_opportunities = open.get(&a.id).copied().unwrap_or(0);
            f.pool_line = pool_line(dir, users, a.region.as_deref());
            f
        })
        .collect())
}
