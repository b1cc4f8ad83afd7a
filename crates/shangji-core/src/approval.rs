//! Approvals: policies that make a stage move wait for approvers (e.g. amount ≥ ¥1,000,000
//! entering 商务谈判 → the owner's manager, then the director), and the life of a request
//! (pending → approved / rejected / withdrawn). Decided here; the ops layer stores requests
//! and performs the approved move through [`crate::opportunity::move_to`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::*;
use crate::visibility::Org;

text_enum!(ApprovalStatus {
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
    Withdrawn => "withdrawn",
});

text_enum!(
    /// How a condition compares a field with its value.
    CompareOp { Gte => "gte", Gt => "gt", Lte => "lte", Lt => "lt", Eq => "eq", Ne => "ne" }
);

/// One condition of a policy: `field op value`. Fields: `amount_minor`, `probability`,
/// `grade`, `source`, `owner_id`, or `custom.<key>`. Numbers compare as integers, text by
/// equality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Condition {
    pub field: String,
    pub op: CompareOp,
    #[schema(value_type = Object)]
    pub value: Value,
}

/// Who approves at one step of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Approver {
    /// The manager of the owner's team (or of the nearest team above that has one).
    OwnerManager,
    /// A director above the owner's team (or any director).
    Director,
    /// A named user.
    User { user_id: UserId },
}

/// When a stage move needs approval, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalPolicy {
    pub id: Id,
    pub name: String,
    pub active: bool,
    /// The pipeline the policy watches; `None` for all.
    pub pipeline_id: Option<PipelineId>,
    /// The stage whose entry the policy watches; `None` for any forward move.
    pub stage_id: Option<StageId>,
    /// All must hold (on the opportunity with the values sent with the move).
    pub conditions: Vec<Condition>,
    pub chain: Vec<Approver>,
}

/// A decision taken at one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub approver_id: UserId,
    pub approved: bool,
    pub comment: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A request to enter a stage, waiting for its approvers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalRequest {
    pub id: Id,
    pub opportunity_id: OpportunityId,
    pub policy_id: Option<Id>,
    pub requester_id: UserId,
    pub from_stage_id: StageId,
    pub to_stage_id: StageId,
    /// The move as the requester sent it, performed when the last approver approves.
    #[schema(value_type = Object)]
    pub move_input: Value,
    /// The approvers in order; `step` is the index of the one to act now.
    pub approver_ids: Vec<UserId>,
    pub step: i32,
    pub status: ApprovalStatus,
    pub decisions: Vec<Decision>,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

impl ApprovalRequest {
    /// Who must act now, while pending.
    pub fn current_approver(&self) -> Option<UserId> {
        match self.status {
            ApprovalStatus::Pending => self.approver_ids.get(self.step as usize).copied(),
            _ => None,
        }
    }
}

/// What a field holds, for conditions.
fn field_value(opp: &Opportunity, custom: &BTreeMap<String, Value>, field: &str) -> Value {
    match field {
        "amount_minor" => Value::from(opp.amount.amount_minor),
        "probability" => Value::from(opp.probability),
        "grade" => opp.grade.map_or(Value::Null, |g| Value::from(g.as_str())),
        "source" => opp.source.map_or(Value::Null, |s| Value::from(s.as_str())),
        "owner_id" => Value::from(opp.owner_id),
        other => other
            .strip_prefix("custom.")
            .and_then(|k| custom.get(k))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

/// An integer from a number or a numeric string ("12.5" → scaled away: only integers).
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a condition holds. A missing value never satisfies an ordering.
pub fn holds(c: &Condition, opp: &Opportunity, custom: &BTreeMap<String, Value>) -> bool {
    let have = field_value(opp, custom, &c.field);
    match c.op {
        CompareOp::Eq => have == c.value,
        CompareOp::Ne => have != c.value,
        op => match (as_int(&have), as_int(&c.value)) {
            (Some(a), Some(b)) => match op {
                CompareOp::Gte => a >= b,
                CompareOp::Gt => a > b,
                CompareOp::Lte => a <= b,
                CompareOp::Lt => a < b,
                CompareOp::Eq | CompareOp::Ne => unreachable!(),
            },
            _ => false,
        },
    }
}

/// The first active policy that a forward move of `opp` (values applied) into `to` of
/// `pipeline` triggers.
pub fn policy_for<'a>(
    policies: &'a [ApprovalPolicy],
    pipeline: &Pipeline,
    to: &Stage,
    opp: &Opportunity,
    custom: &BTreeMap<String, Value>,
) -> Option<&'a ApprovalPolicy> {
    policies.iter().find(|p| {
        p.active
            && p.pipeline_id.is_none_or(|id| id == pipeline.id)
            && p.stage_id.is_none_or(|id| id == to.id)
            && p.conditions.iter().all(|c| holds(c, opp, custom))
    })
}

/// The users of a chain for an opportunity owned by `owner`: each approver resolved from the
/// organisation, skipping the owner and repeats. `users` are (id, role, team, active).
pub fn resolve_chain(
    chain: &[Approver],
    owner: UserId,
    org: &Org,
    users: &[(UserId, Role, Option<TeamId>, bool)],
) -> Vec<UserId> {
    let owner_team = users.iter().find(|u| u.0 == owner).and_then(|u| u.2);
    // The owner's team and its ancestors, nearest first.
    let mut line = Vec::new();
    let mut t = owner_team;
    while let Some(id) = t {
        if line.contains(&id) {
            break;
        }
        line.push(id);
        t = org
            .teams
            .iter()
            .find(|x| x.id == id)
            .and_then(|x| x.parent_id);
    }
    // The nearest active user with `role` on the owner's line; for directors, who may sit
    // beside the tree, any active director after that.
    let nearest = |role: Role, anywhere: bool| {
        line.iter()
            .find_map(|team| {
                users
                    .iter()
                    .find(|u| u.1 == role && u.3 && u.2 == Some(*team) && u.0 != owner)
                    .map(|u| u.0)
            })
            .or_else(|| {
                users
                    .iter()
                    .find(|u| anywhere && u.1 == role && u.3 && u.0 != owner)
                    .map(|u| u.0)
            })
    };
    let mut out: Vec<UserId> = Vec::new();
    for a in chain {
        let who = match a {
            Approver::OwnerManager => nearest(Role::Manager, false),
            Approver::Director => nearest(Role::Director, true),
            Approver::User { user_id } => {
                users.iter().find(|u| u.0 == *user_id && u.3).map(|u| u.0)
            }
        };
        if let Some(w) = who {
            if !out.contains(&w) && w != owner {
                out.push(w);
            }
        }
    }
    out
}

/// Why a decision is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideError {
    NotPending,
    NotYourTurn,
}

/// Records `approver`'s decision. Returns whether the request is now fully approved (the
/// move is then due).
pub fn decide(
    req: &mut ApprovalRequest,
    approver: UserId,
    approved: bool,
    comment: Option<String>,
    now: OffsetDateTime,
) -> Result<bool, DecideError> {
    if req.status != ApprovalStatus::Pending {
        return Err(DecideError::NotPending);
    }
    if req.current_approver() != Some(approver) {
        return Err(DecideError::NotYourTurn);
    }
    req.decisions.push(Decision {
        approver_id: approver,
        approved,
        comment,
        at: now,
    });
    if !approved {
        req.status = ApprovalStatus::Rejected;
        req.decided_at = Some(now);
        return Ok(false);
    }
    req.step += 1;
    if req.step as usize >= req.approver_ids.len() {
        req.status = ApprovalStatus::Approved;
        req.decided_at = Some(now);
        return Ok(true);
    }
    Ok(false)
}

/// Checks a policy as an admin declared it.
pub fn check_policy(p: &ApprovalPolicy) -> Result<(), FieldError> {
    crate::process::check_label("name", &p.name)?;
    if p.chain.is_empty() {
        return Err(FieldError::new(
            "chain",
            "required",
            "a policy needs at least one approver",
        ));
    }
    for (i, c) in p.conditions.iter().enumerate() {
        let known = c.field.starts_with("custom.")
            || ["amount_minor", "probability", "grade", "source", "owner_id"]
                .contains(&c.field.as_str());
        if !known {
            return Err(FieldError::new(
                &format!("conditions[{i}].field"),
                "unknown_field",
                format!("`{}` cannot be used in a condition", c.field),
            ));
        }
        let ordering = !matches!(c.op, CompareOp::Eq | CompareOp::Ne);
        if ordering && as_int(&c.value).is_none() {
            return Err(FieldError::new(
                &format!("conditions[{i}].value"),
                "invalid_value",
                "an ordering compares with an integer",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use crate::process::{b2b_template, build_pipeline};
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    fn opp(amount_minor: i64) -> Opportunity {
        let p = build_pipeline(&b2b_template(), 1, 10);
        let (mut o, _) = crate::opportunity::create(
            serde_json::from_value(json!({"title": "x", "account_id": 1})).unwrap(),
            &p,
            &crate::visibility::Actor {
                user_id: 20,
                role: Role::Rep,
                team_id: Some(3),
            },
            NOW,
        )
        .unwrap();
        o.amount = Money::cny(amount_minor);
        o
    }

    fn policy(stage_id: Option<StageId>, conditions: Vec<Condition>) -> ApprovalPolicy {
        ApprovalPolicy {
            id: 1,
            name: "大单审批".into(),
            active: true,
            pipeline_id: None,
            stage_id,
            conditions,
            chain: vec![Approver::OwnerManager, Approver::Director],
        }
    }

    fn big() -> Condition {
        Condition {
            field: "amount_minor".into(),
            op: CompareOp::Gte,
            value: json!(100_000_000),
        }
    }

    #[test]
    fn policies_match_on_stage_and_conditions() {
        let p = build_pipeline(&b2b_template(), 1, 10);
        let negotiation = p.stage(13).unwrap();
        let proposal = p.stage(12).unwrap();
        let discount = Condition {
            field: "custom.discount".into(),
            op: CompareOp::Gt,
            value: json!(20),
        };
        let custom = |d: i64| BTreeMap::from([("discount".to_string(), json!(d))]);
        let cases = [
            (
                policy(Some(13), vec![big()]),
                negotiation,
                100_000_000,
                0,
                true,
            ),
            (
                policy(Some(13), vec![big()]),
                negotiation,
                99_999_999,
                0,
                false,
            ),
            (
                policy(Some(13), vec![big()]),
                proposal,
                200_000_000,
                0,
                false,
            ),
            (policy(None, vec![discount.clone()]), proposal, 1, 25, true),
            (policy(None, vec![discount.clone()]), proposal, 1, 20, false),
            (policy(None, vec![]), proposal, 0, 0, true),
        ];
        for (pol, to, amount, d, want) in cases {
            let pols = [pol];
            let got = policy_for(&pols, &p, to, &opp(amount), &custom(d)).is_some();
            assert_eq!(got, want, "{amount} {d} → {}", to.name_en);
        }
        let mut off = policy(None, vec![]);
        off.active = false;
        assert!(policy_for(&[off], &p, proposal, &opp(0), &custom(0)).is_none());
    }

    #[test]
    fn chains_resolve_along_the_team_tree() {
        use crate::model::Team;
        let team = |id, parent| Team {
            id,
            name: format!("t{id}"),
            parent_id: parent,
            archived: false,
            regions: vec![],
        };
        // 1 company → 2 east → 3 shanghai; 4 south.
        let org = Org {
            teams: vec![
                team(1, None),
                team(2, Some(1)),
                team(3, Some(2)),
                team(4, Some(1)),
            ],
            users: vec![],
        };
        let users = vec![
            (20, Role::Rep, Some(3), true),
            (21, Role::Manager, Some(2), true),
            (22, Role::Manager, Some(4), true),
            (23, Role::Director, Some(1), true),
            (24, Role::Manager, Some(3), false),
            (25, Role::Admin, None, true),
        ];
        let chain = [Approver::OwnerManager, Approver::Director];
        // The inactive manager of 3 is skipped; 2's manager is next up.
        assert_eq!(resolve_chain(&chain, 20, &org, &users), vec![21, 23]);
        // A manager's own deal goes to the director only.
        assert_eq!(resolve_chain(&chain, 21, &org, &users), vec![23]);
        let named = [
            Approver::User { user_id: 25 },
            Approver::User { user_id: 25 },
        ];
        assert_eq!(resolve_chain(&named, 20, &org, &users), vec![25]);
    }

    #[test]
    fn decisions_advance_the_chain_or_end_it() {
        let mut req = ApprovalRequest {
            id: 1,
            opportunity_id: 5,
            policy_id: Some(1),
            requester_id: 20,
            from_stage_id: 12,
            to_stage_id: 13,
            move_input: json!({"stage_id": 13}),
            approver_ids: vec![21, 23],
            step: 0,
            status: ApprovalStatus::Pending,
            decisions: vec![],
            version: 1,
            created_at: NOW,
            decided_at: None,
        };
        assert_eq!(
            decide(&mut req.clone(), 23, true, None, NOW),
            Err(DecideError::NotYourTurn)
        );
        assert_eq!(
            decide(&mut req, 21, true, Some("同意".into()), NOW),
            Ok(false)
        );
        assert_eq!(req.current_approver(), Some(23));
        let mut rejected = req.clone();
        assert_eq!(
            decide(&mut rejected, 23, false, Some("价格太低".into()), NOW),
            Ok(false)
        );
        assert_eq!(rejected.status, ApprovalStatus::Rejected);
        assert_eq!(rejected.current_approver(), None);
        assert_eq!(decide(&mut req, 23, true, None, NOW), Ok(true));
        assert_eq!(req.status, ApprovalStatus::Approved);
        assert_eq!(
            decide(&mut req, 23, true, None, NOW),
            Err(DecideError::NotPending)
        );
        assert_eq!(req.decisions.len(), 2);
    }

    #[test]
    fn bad_policies_name_the_place() {
        let mut p = policy(None, vec![big()]);
        check_policy(&p).unwrap();
        p.conditions.push(Condition {
            field: "discount".into(),
            op: CompareOp::Eq,
            value: json!(1),
        });
        assert_eq!(check_policy(&p).unwrap_err().field, "conditions[1].field");
        p.conditions[1] = Condition {
            field: "probability".into(),
            op: CompareOp::Gt,
            value: json!("high"),
        };
        assert_eq!(check_policy(&p).unwrap_err().field, "conditions[1].value");
        p.chain.clear();
        p.conditions.truncate(1);
        assert_eq!(check_policy(&p).unwrap_err().code, "required");
    }
}
