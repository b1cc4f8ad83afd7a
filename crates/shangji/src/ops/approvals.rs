//! Approvals and notifications: approvers along the team tree, requests and decisions,
//! approval policies, the in-app notifications, and what the header and the inbox show.

use shangji_core::approval::{self, ApprovalPolicy, ApprovalRequest, ApprovalStatus, Approver};
use shangji_core::model::*;
use shangji_core::opportunity::{self, MoveInput, NewEvent};
use shangji_core::visibility::{self, Scope};
use shangji_core::Field;
use shangji_store::{Access, Db, ListQuery, StoreError, Write};
use time::OffsetDateTime;

use super::*;

// ---- Approvals and notifications. ----

/// The approvers of a policy's chain (or, for a stage whose gate asks for approval, the
/// owner's manager then a director), resolved for the opportunity's owner.
pub(crate) async fn approvers_for(
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

pub(crate) fn notification(
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

pub(crate) fn approval_event(
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
    let deliveries = delivery::deliveries_for(db, &ctx.dir, &notes, ctx.now).await?;
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
pub(crate) fn approval_pending(e: StoreError) -> AppError {
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
pub(crate) async fn visible_request(
    db: &Db,
    ctx: &Ctx,
    id: i64,
) -> Result<ApprovalRequest, AppError> {
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
    let deliveries = delivery::deliveries_for(db, &ctx.dir, &notes, ctx.now).await?;
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

pub(crate) fn yes() -> bool {
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
    super::audit::setting(db, ctx, "approvals::save_approval_policy", "").await?;
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
    if !db.mark_read(ctx.actor.user_id, id, ctx.now).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
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
