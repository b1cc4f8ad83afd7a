//! The shipped rules (seeds 000 and 002, the product brief): installed enabled, edited and
//! switched off like any other rule. Their `template_key` lets pages show their names in the
//! reader's language.

use serde_json::{json, Value};

use super::{Action, Comparison, Condition, Op, Recipient, RecordType, RuleInput, Trigger};
use crate::model::{Pipeline, StageId, StageKind};

/// The stages the templates name, of every pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateStages {
    /// Where a proposal is made (方案报价).
    pub proposal: Vec<StageId>,
    /// Where terms are negotiated (商务谈判).
    pub negotiation: Vec<StageId>,
}

impl TemplateStages {
    /// The open, unarchived stages named as the default pipeline names them: 方案报价 /
    /// Proposal, and 商务谈判 / Negotiation.
    pub fn find(pipelines: &[Pipeline]) -> TemplateStages {
        let named = |zh: &str, en: &str| -> Vec<StageId> {
            pipelines
                .iter()
                .flat_map(|p| p.stages.iter())
                .filter(|s| s.kind == StageKind::Open && !s.archived)
                .filter(|s| s.name_zh == zh || s.name_en.eq_ignore_ascii_case(en))
                .map(|s| s.id)
                .collect()
        };
        TemplateStages {
            proposal: named("方案报价", "Proposal"),
            negotiation: named("商务谈判", "Negotiation"),
        }
    }
}

fn cmp(field: &str, op: Op, value: Value) -> Condition {
    Condition::Compare(Comparison {
        field: field.into(),
        op,
        value,
    })
}

fn open() -> Condition {
    cmp("stage_kind", Op::Eq, json!("open"))
}

fn notify(to: Recipient) -> Action {
    Action::Notify { to, message: None }
}

fn template(key: &str, name: &str, conditions: Vec<Condition>, actions: Vec<Action>) -> RuleInput {
    of_type(RecordType::Opportunity, key, name, conditions, actions)
}

fn of_type(
    record_type: RecordType,
    key: &str,
    name: &str,
    conditions: Vec<Condition>,
    actions: Vec<Action>,
) -> RuleInput {
    RuleInput {
        name: name.into(),
        enabled: true,
        record_type,
        trigger: Trigger::Schedule,
        conditions: Condition::All { all: conditions },
        actions,
        template_key: Some(key.into()),
        version: None,
    }
}

/// The shipped rules, all scheduled and enabled:
///
/// - `unassigned_48h`: open and unassigned for 48 hours → notify the manager, assign by
///   the default assignment rule;
/// - `no_follow_up_3_working_days`: open, no meaningful follow-up for 3 working days and no
///   open next step → remind the owner;
/// - `stuck_in_stage_7` / `_10` / `_14`: open and 7 / 10 / 14 days in its stage → the owner
///   / the manager / the director (the escalation ladder; each fires once per stay);
/// - `proposal_not_sent_3_working_days`: in a proposal stage for 3 working days without the
///   proposal sent → remind the owner (left out when `stages` has no proposal stage);
/// - `negotiation_past_close`: in a negotiation stage past its expected close date → the
///   owner and the manager (left out without a negotiation stage).
pub fn shipped_templates(stages: &TemplateStages) -> Vec<RuleInput> {
    let ids = |v: &[StageId]| json!(v);
    let mut out = vec![
        template(
            "unassigned_48h",
            "商机超过 48 小时未分配",
            vec![open(), cmp("hours_unassigned", Op::Ge, json!(48))],
            vec![
                notify(Recipient::Manager),
                Action::Assign {
                    assignment_rule_id: None,
                },
            ],
        ),
        template(
            "no_follow_up_3_working_days",
            "3 个工作日未有效跟进",
            vec![
                open(),
                cmp(
                    "working_days_since_follow_up",
                    Op::Ge,
                    json!(crate::alerts::NO_FOLLOW_UP_WORKING_DAYS),
                ),
                cmp("has_open_next_step", Op::Eq, json!(false)),
            ],
            vec![notify(Recipient::Owner)],
        ),
    ];
    for (days, to) in [
        (7, Recipient::Owner),
        (10, Recipient::Manager),
        (14, Recipient::Director),
    ] {
        out.push(template(
            &format!("stuck_in_stage_{days}"),
            &format!("同一阶段停留 {days} 天"),
            vec![open(), cmp("days_in_stage", Op::Ge, json!(days))],
            vec![notify(to)],
        ));
    }
    if !stages.proposal.is_empty() {
        out.push(template(
            "proposal_not_sent_3_working_days",
            "方案阶段 3 个工作日未发送方案",
            vec![
                cmp("stage", Op::In, ids(&stages.proposal)),
                cmp("proposal_sent", Op::Eq, json!(false)),
                cmp("working_days_in_stage", Op::Ge, json!(3)),
            ],
            vec![notify(Recipient::Owner)],
        ));
    }
    if !stages.negotiation.is_empty() {
        out.push(template(
            "negotiation_past_close",
            "谈判超过预计成交日期",
            vec![
                cmp("stage", Op::In, ids(&stages.negotiation)),
                cmp("days_past_close", Op::Gt, json!(0)),
            ],
            vec![notify(Recipient::Owner), notify(Recipient::Manager)],
        ));
    }
    out
}

/// Days an inherited deal may stay untouched before its template fires.
pub const INHERITED_UNTOUCHED_DAYS: u32 = 7;

/// The shipped rule on handed-over deals (seeded once, apart from the others, so that
/// databases made before it get it too), scheduled and on:
///
/// - `inherited_untouched_7d`: an open deal its owner inherited through a handover
///   ([`crate::handover::inherited`]) that the receiver has not touched since — no follow-up
///   logged on it, no change of theirs ([`crate::handover::DealTrail::touched_since`]) — `days`
///   (7) days after the handover → the receiver (its owner) and their manager. It fires once
///   per handover (its episode is anchored on `handed_over_at`).
pub fn handover_templates(days: u32) -> Vec<RuleInput> {
    vec![template(
        &format!("inherited_untouched_{days}d"),
        &format!("接手的商机 {days} 天未跟进"),
        vec![
            open(),
            cmp("inherited", Op::Eq, json!(true)),
            cmp("touched_since_handover", Op::Eq, json!(false)),
            cmp("days_since_handover", Op::Ge, json!(days)),
        ],
        vec![notify(Recipient::Owner), notify(Recipient::Manager)],
    )]
}

/// The shipped rules on leads and accounts, scheduled (seeded once, apart from the
/// opportunity templates, so that databases made before them get them too):
///
/// - `lead_sla_first_follow_up` (on): a lead still new or being worked has had no
///   meaningful follow-up `sla_hours` after it came in → its owner and the manager (of the
///   region's team while it waits in the pool) — the lead SLA;
/// - `lead_return_no_follow_up_7d` (off until an admin switches it on): an owned lead not
///   followed up for 7 days goes back to the pool, and its owner is told;
/// - `account_return_no_follow_up_30d` (off): an owned account without an open opportunity
///   not followed up for 30 days goes back to the pool.
pub fn pool_templates(sla_hours: u32) -> Vec<RuleInput> {
    let owned = || cmp("owner", Op::IsSet, Value::Null);
    let mut lead_return = of_type(
        RecordType::Lead,
        "lead_return_no_follow_up_7d",
        "线索 7 天未跟进退回公海",
        vec![owned(), cmp("days_since_follow_up", Op::Ge, json!(7))],
        vec![notify(Recipient::Owner), Action::ReturnToPool],
    );
    lead_return.enabled = false;
    let mut account_return = of_type(
        RecordType::Account,
        "account_return_no_follow_up_30d",
        "客户 30 天未跟进且无进行中商机退回公海",
        vec![
            owned(),
            cmp("days_since_follow_up", Op::Ge, json!(30)),
            cmp("open_opportunities", Op::Eq, json!(0)),
        ],
        vec![notify(Recipient::Owner), Action::ReturnToPool],
    );
    account_return.enabled = false;
    vec![
        of_type(
            RecordType::Lead,
            "lead_sla_first_follow_up",
            &format!("线索 {sla_hours} 小时内未首次跟进"),
            vec![
                cmp("hours_since_created", Op::Ge, json!(sla_hours)),
                cmp("first_follow_up_at", Op::IsUnset, Value::Null),
            ],
            vec![notify(Recipient::Owner), notify(Recipient::Manager)],
        ),
        lead_return,
        account_return,
    ]
}
