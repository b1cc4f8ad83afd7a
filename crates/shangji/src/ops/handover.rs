//! Handover (交接): a leaving user's book — accounts with their contacts, open deals, open
//! leads, open tasks — moves to one receiver or is split among several (an account with
//! everything of the leaver on it to one of them); pending approvals they must decide, their
//! place as named approver in approval policies and as a member of assignment rules go to the
//! first receiver. A preview counts what would move; a run is one job in the database that
//! resumes with what the leaver still owns. Won and lost deals, follow-ups and every event
//! stay the leaver's history. Who may hand over whom: `shangji_core::handover::may_hand_over`.

use shangji_core::audit::AuditAction;
use std::collections::{BTreeMap, HashMap};

use shangji_core::approval::Approver;
use shangji_core::handover::{
    self as core, HandedOver, Handover, HandoverCount, HandoverInput, HandoverKind,
    HandoverSettings, HandoverStatus, Move,
};
use shangji_core::model::*;
use shangji_store::{Db, InheritedDeal};

use super::Ctx;
use crate::error::AppError;

/// Latest handovers listed.
pub const LIST_LIMIT: i64 = 200;
/// Inherited deals a report lists (the totals count them all).
pub const REPORT_LIMIT: usize = 500;

/// A preview (`dry_run`) or a run: what moves (moved) to whom, and the job.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HandoverOutcome {
    pub dry_run: bool,
    pub counts: Vec<HandoverCount>,
    pub handover: Option<Handover>,
}

/// One receiver's inherited deals.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiverReport {
    pub user_id: UserId,
    pub deals: i64,
    /// Deals followed up since the handover: a follow-up logged on them, or a change by the
    /// receiver (`shangji_core::handover::DealTrail::touched_since`).
    pub followed: i64,
}

/// An inherited deal and whether it was followed up since the handover.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InheritedDealRow {
    pub receiver_id: UserId,
    pub opportunity_id: OpportunityId,
    pub title: String,
    pub status: StageKind,
    pub amount_minor: i64,
    pub currency: String,
    /// Its owner now (the receiver, unless it moved on since).
    pub owner_id: UserId,
    /// The latest follow-up of it since the handover (a follow-up logged, or a change by the
    /// receiver); `null`: not followed up.
    #[serde(with = "time::serde::rfc3339::option")]
    pub followed_at: Option<time::OffsetDateTime>,
}

/// A handover with its report: per receiver the inherited deals and how many were followed
/// up since, and the deals (not followed up first, at most 500).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HandoverReport {
    pub handover: Handover,
    pub receivers: Vec<ReceiverReport>,
    pub deals: Vec<InheritedDealRow>,
}

fn forbidden() -> AppError {
    AppError::Forbidden("handover_not_allowed")
}

/// The leaver, if the caller may hand them over.
pub async fn leaver(db: &Db, ctx: &Ctx, id: UserId) -> Result<User, AppError> {
    if !ctx.scope.is_manager() {
        return Err(forbidden());
    }
    let user = db.user(id).await?.ok_or(AppError::NotFound)?;
    if !ctx.scope.covers(Some(id)) {
        return Err(AppError::NotFound);
    }
    if !core::may_hand_over(&ctx.actor, &ctx.scope, &user) {
        return Err(forbidden());
    }
    Ok(user)
}

/// The users the caller may hand over, by name.
pub async fn leavers(db: &Db, ctx: &Ctx) -> Result<Vec<User>, AppError> {
    if !ctx.scope.is_manager() {
        return Err(forbidden());
    }
    let mut users: Vec<User> = db
        .users()
        .await?
        .into_iter()
        .filter(|u| ctx.scope.covers(Some(u.id)) && core::may_hand_over(&ctx.actor, &ctx.scope, u))
        .collect();
    users.sort_by(|a, b| (!a.active, &a.display_name).cmp(&(!b.active, &b.display_name)));
    Ok(users)
}

/// The users the caller may choose as receivers of `from`'s book: active, in scope.
pub async fn receivers(db: &Db, ctx: &Ctx, from: UserId) -> Result<Vec<User>, AppError> {
    Ok(db
        .users()
        .await?
        .into_iter()
        .filter(|u| u.active && u.id != from && ctx.scope.covers(Some(u.id)))
        .collect())
}

async fn checked(db: &Db, ctx: &Ctx, input: &HandoverInput) -> Result<User, AppError> {
    let user = leaver(db, ctx, input.from_user_id).await?;
    if input.deactivate && !core::may_deactivate(&ctx.actor) {
        return Err(AppError::Forbidden("admin_only"));
    }
    core::check_receivers(input, &db.users().await?, &ctx.scope)?;
    Ok(user)
}

/// Who receives each record `from` still holds.
async fn plan(db: &Db, from: UserId, settings: &HandoverSettings) -> Result<Vec<Move>, AppError> {
    let holdings = db.handover_holdings(from).await?;
    let mut accounts: Vec<i64> = holdings.iter().filter_map(|h| h.account_id).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let owners = db.account_owners(&accounts).await?;
    let loads = match settings.method {
        core::HandoverMethod::LeastLoad => db.owner_loads(&settings.receivers).await?,
        _ => HashMap::new(),
    };
    Ok(core::plan(&holdings, settings, &loads, &owners))
}

/// The approval policies naming `from` as approver, with `to` in their place.
async fn policies(
    db: &Db,
    from: UserId,
    to: UserId,
) -> Result<Vec<shangji_core::approval::ApprovalPolicy>, AppError> {
    let mut out = Vec::new();
    for mut p in db.approval_policies().await? {
        let named = |a: &Approver| matches!(a, Approver::User { user_id } if *user_id == from);
        if p.chain.iter().any(named) {
            for a in &mut p.chain {
                if named(a) {
                    *a = Approver::User { user_id: to };
                }
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// The assignment rules with `from` as a member, with `to` in their place.
async fn rules(
    db: &Db,
    from: UserId,
    to: UserId,
) -> Result<Vec<shangji_store::StoredAssignmentRule>, AppError> {
    let mut out = Vec::new();
    for mut r in db.assignment_rules().await? {
        if !r.rule.members.contains(&from) {
            continue;
        }
        let had_to = r.rule.members.contains(&to);
        r.rule.members = core::replace_user(&r.rule.members, from, to);
        if had_to {
            r.rule.capacities.retain(|c| c.user_id != from);
        } else {
            for c in &mut r.rule.capacities {
                if c.user_id == from {
                    c.user_id = to;
                }
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// What would move now: records per receiver and kind, then the approvals, policies and
/// rules the first receiver takes over.
async fn counts(
    db: &Db,
    from: UserId,
    settings: &HandoverSettings,
) -> Result<Vec<HandoverCount>, AppError> {
    let mut out = core::count(&plan(db, from, settings).await?);
    let to = settings.receivers[0];
    let approvals = db.pending_chains_of(from).await?.len() as i64;
    let policies = policies(db, from, to).await?.len() as i64;
    let rules = rules(db, from, to).await?.len() as i64;
    for (kind, count) in [
        (HandoverKind::Approval, approvals),
        (HandoverKind::Policy, policies),
        (HandoverKind::Rule, rules),
    ] {
        if count > 0 {
            out.push(HandoverCount {
                to_user_id: to,
                kind,
                count,
            });
        }
    }
    Ok(core::add_counts(&out, &[]))
}

/// Previews (`dry_run`) or runs a handover.
pub async fn hand_over(
    db: &Db,
    ctx: &Ctx,
    input: HandoverInput,
) -> Result<HandoverOutcome, AppError> {
    let user = checked(db, ctx, &input).await?;
    let settings = HandoverSettings {
        receivers: input.receivers.clone(),
        method: input.method,
        deactivate: input.deactivate,
    };
    if input.dry_run {
        return Ok(HandoverOutcome {
            dry_run: true,
            counts: counts(db, user.id, &settings).await?,
            handover: None,
        });
    }
    let id = db
        .insert_handover(user.id, ctx.actor.user_id, &settings, ctx.now)
        .await?;
    let handover = run(db, ctx, id).await?;
    Ok(HandoverOutcome {
        dry_run: false,
        counts: handover.counts.clone(),
        handover: Some(handover),
    })
}

/// Resumes an interrupted handover (a finished one is returned as it is).
pub async fn resume(db: &Db, ctx: &Ctx, id: Id) -> Result<Handover, AppError> {
    let h = db.handover(id).await?.ok_or(AppError::NotFound)?;
    leaver(db, ctx, h.from_user_id).await?;
    run(db, ctx, id).await
}

/// Runs handover `id` to its end: everything the leaver still holds moves, batch by batch.
async fn run(db: &Db, ctx: &Ctx, id: Id) -> Result<Handover, AppError> {
    let h = db.handover(id).await?.ok_or(AppError::NotFound)?;
    if h.status == HandoverStatus::Done {
        return Ok(h);
    }
    let (from, settings) = (h.from_user_id, h.settings.clone());
    let Some(&first) = settings.receivers.first() else {
        return Err(AppError::invalid("receivers", "required", "no receiver"));
    };
    // What an earlier run of this handover re-routed (records are counted from their moves).
    let mut extras: Vec<HandoverCount> = h
        .counts
        .iter()
        .filter(|c| !HandoverKind::RECORDS.contains(&c.kind))
        .cloned()
        .collect();
    let moves = plan(db, from, &settings).await?;
    for kind in HandoverKind::RECORDS {
        let mut by_receiver: BTreeMap<UserId, Vec<Id>> = BTreeMap::new();
        for m in moves.iter().filter(|m| m.kind == kind) {
            by_receiver.entry(m.to).or_default().push(m.id);
        }
        for (to, ids) in by_receiver {
            for chunk in ids.chunks(shangji_store::handover::BATCH) {
                db.move_for_handover(id, kind, from, to, chunk, ctx.actor.user_id, ctx.now)
                    .await?;
            }
        }
        let moved = db.handover_move_counts(id).await?;
        db.save_handover_progress(id, &core::add_counts(&moved, &extras), None)
            .await?;
    }
    let mut rerouted = Vec::new();
    for mut c in db.pending_chains_of(from).await? {
        let step = c.step.max(0) as usize;
        for a in c.approver_ids.iter_mut().skip(step) {
            if *a == from {
                *a = first;
            }
        }
        c.current_approver_id = c.approver_ids.get(step).copied();
        if db.save_pending_chain(&c).await? {
            rerouted.push(HandoverKind::Approval);
        }
    }
    for p in policies(db, from, first).await? {
        db.save_approval_policy(&p, ctx.now).await?;
        rerouted.push(HandoverKind::Policy);
    }
    for r in rules(db, from, first).await? {
        db.update_assignment_rule(&r.rule, r.version, ctx.now)
            .await?;
        rerouted.push(HandoverKind::Rule);
    }
    let this_run: Vec<HandoverCount> = rerouted
        .iter()
        .map(|kind| HandoverCount {
            to_user_id: first,
            kind: *kind,
            count: 1,
        })
        .collect();
    extras = core::add_counts(&extras, &this_run);
    if settings.deactivate {
        if let Some(mut u) = db.user(from).await? {
            if u.active {
                u.active = false;
                db.update_user(&u).await?;
            }
        }
    }
    let moved = db.handover_move_counts(id).await?;
    let counts = core::add_counts(&moved, &extras);
    db.save_handover_progress(id, &counts, Some(ctx.now))
        .await?;
    let total: i64 = counts.iter().map(|c| c.count).sum();
    let detail = format!(
        "user {from} → {:?}: {total} moved or re-routed{}",
        settings.receivers,
        if settings.deactivate {
            "; deactivated"
        } else {
            ""
        }
    );
    let target = format!("handover {id}");
    super::audit::record(db, ctx, AuditAction::Handover, target, detail).await?;
    db.handover(id).await?.ok_or(AppError::NotFound)
}

/// Handovers the caller may see (of the users they may hand over), newest first; of one
/// leaver with `from`.
pub async fn list(db: &Db, ctx: &Ctx, from: Option<UserId>) -> Result<Vec<Handover>, AppError> {
    if !ctx.scope.is_manager() {
        return Err(forbidden());
    }
    if let Some(f) = from {
        leaver(db, ctx, f).await?;
    }
    let users = db.users().await?;
    Ok(db
        .handovers(from, LIST_LIMIT)
        .await?
        .into_iter()
        .filter(|h| {
            users
                .iter()
                .find(|u| u.id == h.from_user_id)
                .is_some_and(|u| {
                    ctx.scope.covers(Some(u.id)) && core::may_hand_over(&ctx.actor, &ctx.scope, u)
                })
        })
        .collect())
}

/// A handover with its report (for whoever may hand its leaver over): whether each deal was
/// followed up since is decided as the rules decide it (`DealTrail::touched_since`, from the
/// deal's move by this handover).
pub async fn report(db: &Db, ctx: &Ctx, id: Id) -> Result<HandoverReport, AppError> {
    let handover = db.handover(id).await?.ok_or(AppError::NotFound)?;
    leaver(db, ctx, handover.from_user_id).await?;
    let deals: Vec<InheritedDeal> = db.inherited_deals(&handover).await?;
    let ids: Vec<Id> = deals.iter().map(|d| d.opportunity_id).collect();
    let trails = db.deal_trails(&ids).await?;
    let mut rows: Vec<InheritedDealRow> = deals
        .into_iter()
        .map(|d| {
            let trail = trails.get(&d.opportunity_id).cloned().unwrap_or_default();
            // Its move by this handover (a deal moved before the events named it: the start).
            let moved = trail.move_by(handover.id).unwrap_or(HandedOver {
                handover_id: handover.id,
                at: handover.created_at,
                to: d.to_user_id,
            });
            InheritedDealRow {
                receiver_id: d.to_user_id,
                opportunity_id: d.opportunity_id,
                title: d.title,
                status: d.status.parse().unwrap_or(StageKind::Open),
                amount_minor: d.amount_minor,
                currency: d.currency,
                owner_id: d.owner_id,
                followed_at: trail.touched_since(&moved),
            }
        })
        .collect();
    let mut receivers: Vec<ReceiverReport> = Vec::new();
    for r in &rows {
        match receivers.last_mut() {
            Some(last) if last.user_id == r.receiver_id => {}
            _ => receivers.push(ReceiverReport {
                user_id: r.receiver_id,
                deals: 0,
                followed: 0,
            }),
        }
        if let Some(last) = receivers.last_mut() {
            last.deals += 1;
            last.followed += i64::from(r.followed_at.is_some());
        }
    }
    // Per receiver, those not followed up first.
    rows.sort_by_key(|r| (r.receiver_id, r.followed_at.is_some(), r.opportunity_id));
    rows.truncate(REPORT_LIMIT);
    Ok(HandoverReport {
        receivers,
        deals: rows,
        handover,
    })
}
