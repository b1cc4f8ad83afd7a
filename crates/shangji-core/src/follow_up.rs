//! Logging a follow-up on an opportunity in one go: the activity, the task for the next
//! step, and the opportunity's next step — decided here, written together by the caller.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::input::{self, Field};
use crate::model::*;
use crate::records::{
    apply_activity, apply_task, blank_activity, blank_task, ActivityInput, TaskInput,
};

/// The body of `POST /api/v1/opportunities/{id}/follow-ups`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpInput {
    /// Call, visit, meeting, WeChat… (default: call).
    #[serde(default)]
    pub kind: Option<ActivityType>,
    /// What happened.
    #[serde(default)]
    pub summary: String,
    /// The contact spoken to, if any (a contact of the opportunity's account).
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// The next step; with `next_step_date`, it becomes a task of the owner and the
    /// opportunity's next step.
    #[serde(default)]
    pub next_step: Option<String>,
    /// When the next step is due: today or later.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub next_step_date: Option<Date>,
    /// The opportunity's version, checked when given.
    #[serde(default)]
    pub version: Option<i64>,
}

/// What a follow-up writes: the activity, the task of the next step (if one was given) and
/// the next step to set on the opportunity.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpPlan {
    pub activity: Activity,
    pub task: Option<Task>,
    /// `(next_step, next_step_date)` for the opportunity, when a next step was given.
    pub next_step: Option<(String, Date)>,
}

/// Checks a follow-up on `opp` by `author` and says what to write. A next step needs its
/// date and a date needs its step; the date cannot be in the past (`today` is the team's
/// calendar day). The task goes to the opportunity's owner.
pub fn plan(
    opp: &Opportunity,
    input: FollowUpInput,
    author: UserId,
    now: OffsetDateTime,
    today: Date,
) -> Result<FollowUpPlan, FieldError> {
    let mut activity = blank_activity(author, now);
    let step = input::text(
        "next_step",
        input.next_step.unwrap_or_default(),
        input::SHORT_TEXT,
    )?;
    apply_activity(
        &mut activity,
        ActivityInput {
            kind: Field::Value(input.kind.unwrap_or(ActivityType::Call)),
            summary: Field::Value(input.summary),
            next_step: step.clone().map_or(Field::Absent, Field::Value),
            account_id: Field::Value(opp.account_id),
            contact_id: input.contact_id.map_or(Field::Absent, Field::Value),
            opportunity_id: Field::Value(opp.id),
            ..Default::default()
        },
        true,
    )?;
    let next_step_date = input
        .next_step_date
        .map(|d| input::date("next_step_date", d))
        .transpose()?;
    let next_step = match (step, next_step_date) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(FieldError::new(
                "next_step_date",
                "required",
                "a next step needs the day it is due",
            ))
        }
        (None, Some(_)) => {
            return Err(FieldError::new(
                "next_step",
                "required",
                "a next-step date needs the step",
            ))
        }
        (Some(_), Some(d)) if d < today => {
            return Err(FieldError::new(
                "next_step_date",
                "in_past",
                "the next step cannot be due before today",
            ))
        }
        (Some(s), Some(d)) => Some((s, d)),
    };
    let task = match &next_step {
        Some((s, d)) => {
            let mut t = blank_task(opp.owner_id, now);
            apply_task(
                &mut t,
                TaskInput {
                    title: Field::Value(s.clone()),
                    due_date: Field::Value(*d),
                    record_kind: Field::Value(RecordKind::Opportunity),
                    record_id: Field::Value(opp.id),
                    ..Default::default()
                },
                true,
                now,
            )?;
            Some(t)
        }
        None => None,
    };
    Ok(FollowUpPlan {
        activity,
        task,
        next_step,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use time::macros::{date, datetime};

    fn opp() -> Opportunity {
        let t = datetime!(2026-03-01 09:00 UTC);
        Opportunity {
            id: 7,
            title: "t".into(),
            account_id: 3,
            primary_contact_id: None,
            pipeline_id: 1,
            stage_id: 1,
            status: StageKind::Open,
            amount: Money::cny(100),
            close_date: None,
            probability: 10,
            probability_overridden: false,
            forecast_category: ForecastCategory::Pipeline,
            grade: None,
            source: None,
            owner_id: 42,
            next_step: None,
            next_step_date: None,
            tags: vec![],
            loss_reason: None,
            loss_note: None,
            competitor: None,
            checklist: vec![],
            actions_done: vec![],
            custom: Default::default(),
            archived: false,
            version: 1,
            created_at: t,
            updated_at: t,
            closed_at: None,
            stage_entered_at: t,
            pool_since: None,
        }
    }

    #[test]
    fn a_follow_up_with_a_next_step_makes_a_task_for_the_owner() {
        let now = datetime!(2026-03-10 02:00 UTC);
        let today = date!(2026 - 03 - 10);
        let input = FollowUpInput {
            kind: Some(ActivityType::Visit),
            summary: "拜访了采购部".into(),
            next_step: Some(" 发送报价 ".into()),
            next_step_date: Some(date!(2026 - 03 - 12)),
            ..Default::default()
        };
        let p = plan(&opp(), input, 5, now, today).unwrap();
        assert_eq!(p.activity.kind, ActivityType::Visit);
        assert!(p.activity.customer_facing);
        assert_eq!(p.activity.opportunity_id, Some(7));
        assert_eq!(p.activity.account_id, Some(3));
        assert_eq!(p.activity.author_id, 5);
        let t = p.task.unwrap();
        assert_eq!(
            (t.title.as_str(), t.due_date, t.assignee_id, t.record_id),
            ("发送报价", Some(date!(2026 - 03 - 12)), 42, Some(7))
        );
        assert_eq!(
            p.next_step,
            Some(("发送报价".to_string(), date!(2026 - 03 - 12)))
        );
    }

    #[test]
    fn refused_follow_ups_name_their_field() {
        let now = datetime!(2026-03-10 02:00 UTC);
        let today = date!(2026 - 03 - 10);
        let cases: Vec<(FollowUpInput, &str, &str)> = vec![
            (FollowUpInput::default(), "summary", "required"),
            (
                FollowUpInput {
                    summary: "   ".into(),
                    ..Default::default()
                },
                "summary",
                "required",
            ),
            (
                FollowUpInput {
                    summary: "ok".into(),
                    next_step: Some("报价".into()),
                    ..Default::default()
                },
                "next_step_date",
                "required",
            ),
            (
                FollowUpInput {
                    summary: "ok".into(),
                    next_step_date: Some(date!(2026 - 03 - 12)),
                    ..Default::default()
                },
                "next_step",
                "required",
            ),
            (
                FollowUpInput {
                    summary: "ok".into(),
                    next_step: Some("报价".into()),
                    next_step_date: Some(date!(2026 - 03 - 09)),
                    ..Default::default()
                },
                "next_step_date",
                "in_past",
            ),
        ];
        for (input, field, code) in cases {
            let e = plan(&opp(), input.clone(), 5, now, today).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                (field, code),
                "{input:?}"
            );
        }
        // Today is allowed; no step at all is allowed too.
        let ok = FollowUpInput {
            summary: "ok".into(),
            next_step: Some("报价".into()),
            next_step_date: Some(today),
            ..Default::default()
        };
        assert!(plan(&opp(), ok, 5, now, today).is_ok());
        let bare = FollowUpInput {
            summary: "ok".into(),
            ..Default::default()
        };
        let p = plan(&opp(), bare, 5, now, today).unwrap();
        assert!(p.task.is_none() && p.next_step.is_none());
    }
}
