//! Automation rules: data that says *when* (a trigger), *if* (conditions over built-in,
//! custom and derived values) and *what* (actions) — edited in the admin pages and the API,
//! never in code. This module decides everything about a rule that needs no I/O:
//!
//! - [`catalog`]: the fields a rule may name, each with a type ([`FieldCatalog`]);
//! - [`validate`]: a rule as saved — unknown fields, type mismatches, unknown users, stages,
//!   policies, and loops between rules are refused with the place and the reason
//!   ([`validate_rule`]);
//! - [`facts`]: what evaluation knows about one record ([`RecordFacts`]) and the values it
//!   derives from them at `now` ([`derive`]): days in stage, working days since the last
//!   meaningful follow-up, hours unassigned, days to / past the close date…;
//! - [`eval`]: whether a rule fires for a record, why, and in which *episode*
//!   ([`evaluate`]); the dry run ([`dry_run`]) takes the same path;
//! - [`templates`]: the shipped rules ([`shipped_templates`], [`pool_templates`],
//!   [`handover_templates`]);
//! - [`delivery`]: who a firing notifies, and one digest instead of hundreds of messages
//!   after a downtime ([`batch_for_delivery`]).
//!
//! The clock is passed in (`now`), and working days come from the working calendar
//! ([`crate::calendar::WorkCalendar`]). Definitions for users are in `docs/automation.md`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::model::{text_enum, Id, Role, StageId, UserId};

pub mod catalog;
pub mod delivery;
pub mod eval;
pub mod facts;
pub mod templates;
pub mod validate;

#[cfg(test)]
mod tests;

pub use catalog::{FieldCatalog, FieldInfo, FieldOrigin, FieldType};
pub use delivery::{batch_for_delivery, resolve_recipient, Batch, Delivery};
pub use eval::{
    changed_fields, dry_run, episode, evaluate, evaluate_values, EventType, Firing, Reason,
    RecordRef, TriggerEvent,
};
pub use facts::{
    derive, last_meaningful_follow_up, AccountFacts, FactsConfig, FieldValue, LeadFacts, Number,
    RecordFacts, Subject, Values,
};
pub use templates::{
    handover_templates, pool_templates, shipped_templates, TemplateStages, INHERITED_UNTOUCHED_DAYS,
};
pub use validate::validate_rule;

pub type RuleId = Id;

/// Most comparisons in one rule.
pub const MAX_COMPARISONS: usize = 50;
/// Deepest nesting of `all` / `any` / `not`.
pub const MAX_DEPTH: usize = 8;
/// Most actions of one rule.
pub const MAX_ACTIONS: usize = 20;
/// Most values of an `in` / `not_in` list.
pub const MAX_LIST: usize = 500;
/// Longest rule name.
pub const NAME_MAX: usize = 100;

text_enum!(
    /// The kind of record a rule watches.
    RecordType { Opportunity => "opportunity", Lead => "lead", Account => "account" }
);

impl RecordType {
    pub fn kind(self) -> crate::model::RecordKind {
        use crate::model::RecordKind;
        match self {
            RecordType::Opportunity => RecordKind::Opportunity,
            RecordType::Lead => RecordKind::Lead,
            RecordType::Account => RecordKind::Account,
        }
    }
}

text_enum!(
    /// How a comparison compares a field with its value. See `docs/automation.md` for which
    /// operators apply to which field types, and how an unset value compares.
    Op {
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
        In => "in",
        NotIn => "not_in",
        IsSet => "is_set",
        IsUnset => "is_unset",
        Contains => "contains",
    }
);

/// When a rule is considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// The record was created.
    Created,
    /// Any stored field of the record changed.
    Updated,
    /// The named stored field changed (`amount`, `owner`, `custom.region`…).
    FieldChanged { field: String },
    /// The record entered `stage` (any stage when `None`), by a move or by being created in
    /// it.
    StageEntered {
        #[serde(default)]
        stage: Option<StageId>,
    },
    /// The record left `stage` (any stage when `None`).
    StageLeft {
        #[serde(default)]
        stage: Option<StageId>,
    },
    /// The scheduler's regular scan: the rule fires once per episode while its conditions
    /// hold (see [`eval`]).
    Schedule,
}

impl Trigger {
    pub fn is_schedule(&self) -> bool {
        matches!(self, Trigger::Schedule)
    }
}

/// `field op value`: one test of a record's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// A field of the catalog: built-in (`amount`), custom (`custom.<key>`) or derived
    /// (`days_in_stage`).
    pub field: String,
    pub op: Op,
    /// Of the field's type; a list for `in` / `not_in`; absent (or `null`) for `is_set` /
    /// `is_unset`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Value,
}

/// A tree of comparisons. In JSON: `{"all": […]}`, `{"any": […]}`, `{"not": {…}}` or a
/// comparison `{"field": …, "op": …, "value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Condition {
    /// Every condition holds (an empty list holds).
    All {
        #[schema(no_recursion)]
        all: Vec<Condition>,
    },
    /// At least one condition holds.
    Any {
        #[schema(no_recursion)]
        any: Vec<Condition>,
    },
    /// The condition does not hold.
    Not {
        #[schema(no_recursion)]
        not: Box<Condition>,
    },
    Compare(Comparison),
}

impl Default for Condition {
    fn default() -> Self {
        Condition::All { all: vec![] }
    }
}

impl Condition {
    /// Every comparison in the tree, with its path below `conditions`.
    pub fn comparisons(&self) -> Vec<(String, &Comparison)> {
        let mut out = Vec::new();
        fn walk<'a>(c: &'a Condition, path: String, out: &mut Vec<(String, &'a Comparison)>) {
            match c {
                Condition::All { all } => {
                    for (i, c) in all.iter().enumerate() {
                        walk(c, format!("{path}.all[{i}]"), out);
                    }
                }
                Condition::Any { any } => {
                    for (i, c) in any.iter().enumerate() {
                        walk(c, format!("{path}.any[{i}]"), out);
                    }
                }
                Condition::Not { not } => walk(not, format!("{path}.not"), out),
                Condition::Compare(cmp) => out.push((path, cmp)),
            }
        }
        walk(self, "conditions".into(), &mut out);
        out
    }
}

// A condition is told apart by its keys, so that a mistake is reported as what it is
// rather than as "no variant matched".
impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        condition_from_json(v).map_err(D::Error::custom)
    }
}

fn condition_from_json(v: Value) -> Result<Condition, String> {
    let Value::Object(mut m) = v else {
        return Err(
            "a condition is an object: {\"all\": […]}, {\"any\": […]}, {\"not\": {…}} or \
             {\"field\": …, \"op\": …, \"value\": …}"
                .into(),
        );
    };
    let list = |v: Value, key: &str| -> Result<Vec<Condition>, String> {
        let Value::Array(items) = v else {
            return Err(format!("`{key}` takes a list of conditions"));
        };
        items.into_iter().map(condition_from_json).collect()
    };
    for key in ["all", "any", "not"] {
        if let Some(inner) = m.remove(key) {
            if let Some(other) = m.keys().next() {
                return Err(format!(
                    "`{key}` stands alone in its object, not with `{other}`"
                ));
            }
            return Ok(match key {
                "all" => Condition::All {
                    all: list(inner, key)?,
                },
                "any" => Condition::Any {
                    any: list(inner, key)?,
                },
                _ => Condition::Not {
                    not: Box::new(condition_from_json(inner)?),
                },
            });
        }
    }
    serde_json::from_value::<Comparison>(Value::Object(m))
        .map(Condition::Compare)
        .map_err(|e| e.to_string())
}

/// Who an action addresses. Resolved along the owner's team line (see
/// [`resolve_recipient`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    /// The record's owner (nobody while it is in the public pool).
    Owner,
    /// The nearest manager on the owner's team line.
    Manager,
    /// The nearest director on the owner's team line, else any director.
    Director,
    /// Every active user with the role on the owner's team line (every admin for `admin`).
    Role { role: Role },
    /// A named user.
    User { user_id: UserId },
}

fn owner() -> Recipient {
    Recipient::Owner
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// An in-app notification (and whatever channels the user has) about the record, with
    /// the firing's reasons.
    Notify {
        to: Recipient,
        /// The admin's own words, shown with the reasons.
        #[serde(default)]
        message: Option<String>,
    },
    /// A task on the record, due `due_working_days` working days after the firing (0:
    /// today), for the first user `assignee` resolves to.
    CreateTask {
        title: String,
        #[serde(default = "owner")]
        assignee: Recipient,
        #[serde(default)]
        due_working_days: i32,
    },
    /// Sets a stored field (`null` clears it). Only fields the catalog marks settable.
    SetField {
        field: String,
        #[schema(value_type = Object)]
        value: Value,
    },
    /// Gives the record an owner by an assignment rule (the default one when `None`).
    Assign {
        #[serde(default)]
        assignment_rule_id: Option<Id>,
    },
    /// Returns the record to the public pool (公海): it loses its owner.
    ReturnToPool,
    /// Asks for an approval along the policy's approver chain.
    RequestApproval { policy_id: Id },
}

impl Action {
    /// The stored fields this action changes on the record (which may trigger rules).
    pub fn writes(&self) -> Option<&str> {
        match self {
            Action::SetField { field, .. } => Some(field),
            Action::Assign { .. } | Action::ReturnToPool => Some("owner"),
            _ => None,
        }
    }
}

/// A rule as the admin pages and the API send it (create and full replace alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "opportunity")]
    pub record_type: RecordType,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Condition,
    pub actions: Vec<Action>,
    /// The shipped template the rule came from (its name and texts can then be shown in
    /// the reader's language).
    #[serde(default)]
    pub template_key: Option<String>,
    /// The version read, when replacing a rule: a stale one is refused (409).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}

fn opportunity() -> RecordType {
    RecordType::Opportunity
}

/// A checked rule (see [`validate_rule`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    pub id: RuleId,
    pub name: String,
    pub enabled: bool,
    pub record_type: RecordType,
    pub trigger: Trigger,
    pub conditions: Condition,
    pub actions: Vec<Action>,
    pub template_key: Option<String>,
    /// The clock anchors of a scheduled rule's episodes, from the fields its conditions
    /// name (set by [`validate_rule`]; see [`eval`]): e.g. `["stage_entered_at"]` — the
    /// rule fires once per stay in a stage.
    #[serde(default)]
    pub episode_anchors: Vec<String>,
}

impl Rule {
    /// The input that gives this rule (to edit it).
    pub fn to_input(&self) -> RuleInput {
        RuleInput {
            name: self.name.clone(),
            enabled: self.enabled,
            record_type: self.record_type,
            trigger: self.trigger.clone(),
            conditions: self.conditions.clone(),
            actions: self.actions.clone(),
            template_key: self.template_key.clone(),
            version: None,
        }
    }
}
