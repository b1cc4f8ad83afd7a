//! The sales process: what a stage asks for (gates, checklists, standard actions), which
//! moves a pipeline allows (transition policy), what closing needs (won: amount and close
//! date; lost: a reason from the taxonomy), and the shipped pipeline templates. Decided here
//! once; every path in (API, pages, board, import, rules) goes through
//! [`crate::opportunity::move_to`], which calls [`check_move`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::model::*;

/// A checklist item a stage requires (e.g. BANT's "budget confirmed").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChecklistItem {
    /// Stable key, snake_case, unique within the pipeline. Empty or left out: derived from
    /// the labels ([`fill_keys`]).
    #[serde(default)]
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
}

/// What must be true to enter a stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StageGate {
    /// Fields that must have a value: built-in names (see [`GATE_FIELDS`]) or `custom.<key>`.
    pub required_fields: Vec<String>,
    pub checklist: Vec<ChecklistItem>,
    /// Roles that may move an opportunity into this stage; empty means every role.
    pub allowed_roles: Vec<Role>,
    /// Entering this stage needs an approved request.
    pub requires_approval: bool,
}

/// A standard action (标准动作) expected of the owner in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StandardAction {
    /// Stable key, snake_case, unique within the pipeline. Empty or left out: derived from
    /// the names ([`fill_keys`]).
    #[serde(default)]
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// Create a task for the owner when an opportunity enters the stage.
    #[serde(default)]
    pub create_task: bool,
    /// The task is due this many working days after entry.
    #[serde(default)]
    pub due_working_days: Option<i32>,
    /// Must be done before the opportunity moves on (forward or to won).
    #[serde(default)]
    pub required_to_leave: bool,
}

/// Which moves a pipeline allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TransitionPolicy {
    /// Forward over more than one open stage, or to won from before the last open stage.
    pub allow_skip: bool,
    /// Back to an earlier open stage.
    pub allow_backward: bool,
    /// Who may move a won or lost opportunity back to an open stage.
    pub reopen_roles: Vec<Role>,
}

impl Default for TransitionPolicy {
    fn default() -> Self {
        TransitionPolicy {
            allow_skip: true,
            allow_backward: true,
            reopen_roles: vec![Role::Admin, Role::Director, Role::Manager],
        }
    }
}

/// A loss reason of the admin's taxonomy (输单原因).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LossReason {
    pub id: Id,
    /// Stable key stored on the opportunity.
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    pub position: i32,
    pub archived: bool,
}

/// The default taxonomy: (key, 中文, English).
pub const DEFAULT_LOSS_REASONS: &[(&str, &str, &str)] = &[
    ("price", "价格", "Price"),
    ("product_fit", "产品不匹配", "Product fit"),
    ("competitor", "竞争对手", "Competitor"),
    ("timing", "时机", "Timing"),
    ("no_decision", "无决策", "No decision"),
    ("budget", "预算", "Budget"),
    ("relationship", "关系", "Relationship"),
    ("other", "其他", "Other"),
];

/// The default taxonomy as stored (ids 1..=8).
pub fn default_loss_reasons() -> Vec<LossReason> {
    DEFAULT_LOSS_REASONS
        .iter()
        .enumerate()
        .map(|(i, (key, zh, en))| LossReason {
            id: i as Id + 1,
            key: key.to_string(),
            name_zh: zh.to_string(),
            name_en: en.to_string(),
            position: i as i32,
            archived: false,
        })
        .collect()
}

/// Built-in fields a gate may require: (name, 中文, English).
pub const GATE_FIELDS: &[(&str, &str, &str)] = &[
    ("amount_minor", "金额", "Amount"),
    ("close_date", "预计成交日期", "Expected close date"),
    ("primary_contact_id", "主要联系人", "Primary contact"),
    ("next_step", "下一步", "Next step"),
    ("next_step_date", "下一步日期", "Next-step date"),
    ("grade", "等级", "Grade"),
    ("source", "来源", "Source"),
    ("competitor", "竞争对手", "Competitor"),
];

text_enum!(
    /// Why a gate is not met: stable codes for API clients and pages.
    UnmetCode {
        RequiredField => "required_field",
        ChecklistItem => "checklist_item",
        ActionNotDone => "action_not_done",
        LossReasonRequired => "loss_reason_required",
        UnknownLossReason => "unknown_loss_reason",
    }
);

/// One unmet requirement of a move, with what to show in either language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Unmet {
    pub code: UnmetCode,
    /// `amount_minor`, `custom.<key>`, `checklist.<key>`, `actions.<key>`, `loss_reason`.
    pub field: String,
    pub label_zh: String,
    pub label_en: String,
}

impl Unmet {
    fn new(code: UnmetCode, field: String, zh: &str, en: &str) -> Unmet {
        Unmet {
            code,
            field,
            label_zh: zh.into(),
            label_en: en.into(),
        }
    }

    /// The requirement in words, in `lang`.
    pub fn message(&self, lang: Language) -> String {
        let (zh, en) = (&self.label_zh, &self.label_en);
        match (lang, self.code) {
            (Language::ZhCn, UnmetCode::RequiredField) => format!("请填写：{zh}"),
            (Language::ZhCn, UnmetCode::ChecklistItem) => format!("请确认：{zh}"),
            (Language::ZhCn, UnmetCode::ActionNotDone) => format!("请先完成标准动作：{zh}"),
            (Language::ZhCn, UnmetCode::LossReasonRequired) => "请选择输单原因".into(),
            (Language::ZhCn, UnmetCode::UnknownLossReason) => {
                format!("输单原因“{zh}”不在列表中")
            }
            (Language::En, UnmetCode::RequiredField) => format!("Required: {en}"),
            (Language::En, UnmetCode::ChecklistItem) => format!("Confirm: {en}"),
            (Language::En, UnmetCode::ActionNotDone) => {
                format!("Standard action not done: {en}")
            }
            (Language::En, UnmetCode::LossReasonRequired) => "Choose a loss reason".into(),
            (Language::En, UnmetCode::UnknownLossReason) => {
                format!("Loss reason “{en}” is not in the list")
            }
        }
    }
}

/// A move refused by the pipeline's transition policy or the target stage's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyError {
    SkipNotAllowed,
    BackwardNotAllowed,
    RoleNotAllowed,
    ReopenNotAllowed,
}

/// The label of a field a gate may require; custom fields are looked up in `custom_labels`
/// (key, 中文, English).
pub fn field_label(name: &str, custom_labels: &[(String, String, String)]) -> (String, String) {
    if let Some(key) = name.strip_prefix("custom.") {
        if let Some((_, zh, en)) = custom_labels.iter().find(|(k, _, _)| k == key) {
            return (zh.clone(), en.clone());
        }
        return (key.into(), key.into());
    }
    GATE_FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or((name.into(), name.into()), |(_, zh, en)| {
            (zh.to_string(), en.to_string())
        })
}

/// Checks a transition against the policy and the target stage's roles. Moves out of won or
/// lost into an open stage are reopens.
pub fn check_policy(
    pipeline: &Pipeline,
    from: &Stage,
    to: &Stage,
    role: Role,
) -> Result<(), PolicyError> {
    if !to.gate.allowed_roles.is_empty()
        && role != Role::Admin
        && !to.gate.allowed_roles.contains(&role)
    {
        return Err(PolicyError::RoleNotAllowed);
    }
    let policy = &pipeline.policy;
    match (from.kind, to.kind) {
        (StageKind::Open, StageKind::Open) => {
            let open = open_positions(pipeline);
            let (f, t) = (rank(&open, from), rank(&open, to));
            if t < f && !policy.allow_backward {
                return Err(PolicyError::BackwardNotAllowed);
            }
            if t > f + 1 && !policy.allow_skip {
                return Err(PolicyError::SkipNotAllowed);
            }
        }
        (StageKind::Open, StageKind::Won) => {
            let open = open_positions(pipeline);
            if rank(&open, from) + 1 < open.len() && !policy.allow_skip {
                return Err(PolicyError::SkipNotAllowed);
            }
        }
        (StageKind::Open, StageKind::Lost) => {}
        (_, StageKind::Open) => {
            if role != Role::Admin && !policy.reopen_roles.contains(&role) {
                return Err(PolicyError::ReopenNotAllowed);
            }
        }
        // Won ↔ lost: a correction of the outcome, by whoever may reopen.
        (_, _) => {
            if role != Role::Admin && !policy.reopen_roles.contains(&role) {
                return Err(PolicyError::ReopenNotAllowed);
            }
        }
    }
    Ok(())
}

/// The positions of the pipeline's usable open stages, in order.
fn open_positions(pipeline: &Pipeline) -> Vec<i32> {
    let mut v: Vec<i32> = pipeline
        .stages
        .iter()
        .filter(|s| s.kind == StageKind::Open && !s.archived)
        .map(|s| s.position)
        .collect();
    v.sort_unstable();
    v
}

fn rank(open: &[i32], stage: &Stage) -> usize {
    open.iter().take_while(|&&p| p < stage.position).count()
}

/// Whether the deal just won by a move from `from` may be taken back there (撤销 after a
/// drop on won): the way back is an ordinary reopen, so it is offered to whoever the pipeline
/// lets reopen, into an open stage still in use, and to nobody else.
pub fn may_undo_won(pipeline: &Pipeline, from: &Stage, won: &Stage, role: Role) -> bool {
    won.kind == StageKind::Won
        && from.kind == StageKind::Open
        && !from.archived
        && check_policy(pipeline, won, from, role).is_ok()
}

/// Whether a move goes forward: from an open stage to a later open stage or to won.
pub fn is_forward(from: &Stage, to: &Stage) -> bool {
    from.kind == StageKind::Open
        && (to.kind == StageKind::Won
            || (to.kind == StageKind::Open && to.position > from.position))
}

/// The stages whose entry gates apply to a move from `from` to `to`: moving forward, every
/// open stage passed on the way and the target (so skipping cannot bypass a gate); moving
/// to lost, the lost stage; moving back or reopening (a manager's correction), none.
pub fn gates_on_the_way<'a>(pipeline: &'a Pipeline, from: &Stage, to: &'a Stage) -> Vec<&'a Stage> {
    if !is_forward(from, to) {
        return if to.kind == StageKind::Lost {
            vec![to]
        } else {
            vec![]
        };
    }
    let mut out: Vec<&Stage> = pipeline
        .stages
        .iter()
        .filter(|s| {
            s.kind == StageKind::Open
                && !s.archived
                && s.position > from.position
                && (to.kind != StageKind::Open || s.position < to.position)
        })
        .collect();
    out.sort_by_key(|s| s.position);
    out.push(to);
    out
}

/// What a gate looks at: the opportunity after the values sent with the move were applied.
pub struct GateSubject<'a> {
    pub opp: &'a Opportunity,
    /// Custom field values by key (a missing key or `null` is "no value").
    pub custom: &'a std::collections::BTreeMap<String, serde_json::Value>,
    /// Standard actions done: the opportunity's own list and those done through their tasks.
    pub actions_done: &'a [String],
    pub loss_reasons: &'a [LossReason],
    pub custom_labels: &'a [(String, String, String)],
}

fn has_value(subject: &GateSubject, field: &str) -> bool {
    let o = subject.opp;
    match field {
        "amount_minor" => o.amount.amount_minor > 0,
        "close_date" => o.close_date.is_some(),
        "primary_contact_id" => o.primary_contact_id.is_some(),
        "next_step" => o.next_step.is_some(),
        "next_step_date" => o.next_step_date.is_some(),
        "grade" => o.grade.is_some(),
        "source" => o.source.is_some(),
        "competitor" => o.competitor.is_some(),
        other => other
            .strip_prefix("custom.")
            .and_then(|k| subject.custom.get(k))
            .is_some_and(|v| match v {
                serde_json::Value::Null => false,
                serde_json::Value::String(s) => !s.is_empty(),
                serde_json::Value::Array(a) => !a.is_empty(),
                _ => true,
            }),
    }
}

/// Every requirement of moving `subject.opp` from `from` to `to` that is not met: entry
/// gates on the way, standard actions required to leave `from` (moving on), won's amount and
/// close date, lost's reason. Empty when the move may go ahead.
pub fn unmet(pipeline: &Pipeline, from: &Stage, to: &Stage, subject: &GateSubject) -> Vec<Unmet> {
    let mut out: Vec<Unmet> = Vec::new();
    let mut push = |u: Unmet| {
        if !out.iter().any(|o| o.field == u.field) {
            out.push(u);
        }
    };
    if is_forward(from, to) {
        for a in from.actions.iter().filter(|a| a.required_to_leave) {
            if !subject.actions_done.contains(&a.key) {
                push(Unmet::new(
                    UnmetCode::ActionNotDone,
                    format!("actions.{}", a.key),
                    &a.name_zh,
                    &a.name_en,
                ));
            }
        }
    }
    if to.kind == StageKind::Won {
        for f in ["amount_minor", "close_date"] {
            if !has_value(subject, f) {
                let (zh, en) = field_label(f, subject.custom_labels);
                push(Unmet::new(UnmetCode::RequiredField, f.into(), &zh, &en));
            }
        }
    }
    if to.kind == StageKind::Lost {
        match subject.opp.loss_reason.as_deref() {
            None => push(Unmet::new(
                UnmetCode::LossReasonRequired,
                "loss_reason".into(),
                "输单原因",
                "Loss reason",
            )),
            Some(r) => {
                if !subject
                    .loss_reasons
                    .iter()
                    .any(|l| l.key == r && !l.archived)
                {
                    push(Unmet::new(
                        UnmetCode::UnknownLossReason,
                        "loss_reason".into(),
                        r,
                        r,
                    ));
                }
            }
        }
    }
    for stage in gates_on_the_way(pipeline, from, to) {
        for f in &stage.gate.required_fields {
            if !has_value(subject, f) {
                let (zh, en) = field_label(f, subject.custom_labels);
                push(Unmet::new(UnmetCode::RequiredField, f.clone(), &zh, &en));
            }
        }
        for item in &stage.gate.checklist {
            if !subject.opp.checklist.contains(&item.key) {
                push(Unmet::new(
                    UnmetCode::ChecklistItem,
                    format!("checklist.{}", item.key),
                    &item.label_zh,
                    &item.label_en,
                ));
            }
        }
    }
    out
}

/// Whether entering `to` (or a stage passed on the way) needs an approval.
pub fn needs_approval(pipeline: &Pipeline, from: &Stage, to: &Stage) -> bool {
    gates_on_the_way(pipeline, from, to)
        .iter()
        .any(|s| s.gate.requires_approval)
}

// ---- Checking an admin's configuration. ----

pub fn check_key(field: &str, key: &str) -> Result<(), FieldError> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "invalid_key",
            format!("`{key}` is not a key: use lowercase letters, digits and _"),
        ))
    }
}

pub fn check_label(field: &str, label: &str) -> Result<(), FieldError> {
    if label.trim().is_empty() || label.chars().count() > 200 {
        return Err(FieldError::new(
            field,
            "invalid_label",
            "a label has 1 to 200 characters",
        ));
    }
    Ok(())
}

/// Checks a stage's gate and actions: known fields, well-formed keys and labels, no
/// duplicates. `custom_keys` are the opportunity custom fields that exist.
pub fn check_stage_config(
    gate: &StageGate,
    actions: &[StandardAction],
    custom_keys: &[String],
) -> Result<(), FieldError> {
    for (i, f) in gate.required_fields.iter().enumerate() {
        let known = match f.strip_prefix("custom.") {
            Some(k) => custom_keys.iter().any(|c| c == k),
            None => GATE_FIELDS.iter().any(|(n, _, _)| n == f),
        };
        if !known {
            return Err(FieldError::new(
                &format!("gate.required_fields[{i}]"),
                "unknown_field",
                format!("`{f}` is not a field a gate can require"),
            ));
        }
    }
    let mut keys = Vec::new();
    for (i, c) in gate.checklist.iter().enumerate() {
        let field = format!("gate.checklist[{i}]");
        check_key(&field, &c.key)?;
        check_label(&field, &c.label_zh)?;
        check_label(&field, &c.label_en)?;
        keys.push(format!("c:{}", c.key));
    }
    for (i, a) in actions.iter().enumerate() {
        let field = format!("actions[{i}]");
        check_key(&field, &a.key)?;
        check_label(&field, &a.name_zh)?;
        check_label(&field, &a.name_en)?;
        if a.due_working_days.is_some_and(|d| !(0..=365).contains(&d)) {
            return Err(FieldError::new(
                &field,
                "out_of_range",
                "due_working_days is 0 to 365",
            ));
        }
        keys.push(format!("a:{}", a.key));
    }
    distinct_keys(
        "gate",
        keys,
        "checklist items and actions need distinct keys",
    )
}

/// Longest checklist or action key.
const ITEM_KEY_MAX: usize = 64;

/// The keys of a stage's checklist items and actions.
pub struct StageKeys<'a> {
    pub checklist: &'a [ChecklistItem],
    pub actions: &'a [StandardAction],
}

/// Gives each checklist item and action of a stage sent without a key one, so that an admin
/// never has to type English: the key the stage had (`before`) for an item of the same
/// label — keys stay stable when a stage is edited —, else one derived from the labels
/// (`keys::derive`: English, else pinyin, else `item_<n>` / `action_<n>`), unique among the
/// pipeline's other stages (`others`) and the stage's own items. Keys given are kept as
/// given (trimmed), to be checked by [`check_stage_config`].
pub fn fill_keys(
    checklist: &mut [ChecklistItem],
    actions: &mut [StandardAction],
    before: StageKeys,
    others: &[StageKeys],
) {
    for c in checklist.iter_mut() {
        c.key = c.key.trim().to_string();
    }
    for a in actions.iter_mut() {
        a.key = a.key.trim().to_string();
    }
    for i in 0..checklist.len() {
        if !checklist[i].key.is_empty() {
            continue;
        }
        let taken = |k: &str| {
            checklist.iter().any(|c| c.key == k)
                || others
                    .iter()
                    .any(|o| o.checklist.iter().any(|c| c.key == k))
        };
        let c = &checklist[i];
        let kept = before
            .checklist
            .iter()
            .find(|b| {
                (b.label_zh.trim() == c.label_zh.trim() || b.label_en.trim() == c.label_en.trim())
                    && !taken(&b.key)
            })
            .map(|b| b.key.clone());
        let key = kept.unwrap_or_else(|| {
            crate::keys::derive(&[&c.label_en, &c.label_zh], "item", ITEM_KEY_MAX, taken)
        });
        checklist[i].key = key;
    }
    for i in 0..actions.len() {
        if !actions[i].key.is_empty() {
            continue;
        }
        let taken = |k: &str| {
            actions.iter().any(|a| a.key == k)
                || others.iter().any(|o| o.actions.iter().any(|a| a.key == k))
        };
        let a = &actions[i];
        let kept = before
            .actions
            .iter()
            .find(|b| {
                (b.name_zh.trim() == a.name_zh.trim() || b.name_en.trim() == a.name_en.trim())
                    && !taken(&b.key)
            })
            .map(|b| b.key.clone());
        let key = kept.unwrap_or_else(|| {
            crate::keys::derive(&[&a.name_en, &a.name_zh], "action", ITEM_KEY_MAX, taken)
        });
        actions[i].key = key;
    }
}

/// [`fill_keys`] for every stage of a new pipeline.
pub fn fill_pipeline_keys(stages: &mut [StageSpec]) {
    for i in 0..stages.len() {
        let (head, rest) = stages.split_at_mut(i);
        let (me, tail) = rest.split_first_mut().expect("i is in range");
        let others: Vec<StageKeys> = head
            .iter()
            .chain(tail.iter())
            .map(|s| StageKeys {
                checklist: &s.gate.checklist,
                actions: &s.actions,
            })
            .collect();
        let none = StageKeys {
            checklist: &[],
            actions: &[],
        };
        fill_keys(&mut me.gate.checklist, &mut me.actions, none, &others);
    }
}

/// Refuses a list of keys with a repeat.
fn distinct_keys(field: &str, mut keys: Vec<String>, message: &str) -> Result<(), FieldError> {
    let n = keys.len();
    keys.sort();
    keys.dedup();
    if keys.len() != n {
        return Err(FieldError::new(field, "duplicate_key", message));
    }
    Ok(())
}

/// Checks a stage as an admin declared it (`field` is where it sits in the request).
pub fn check_stage_spec(
    field: &str,
    s: &StageSpec,
    custom_keys: &[String],
) -> Result<(), FieldError> {
    let at = |f: &str| format!("{field}{f}");
    check_label(&at("name_zh"), &s.name_zh)?;
    check_label(&at("name_en"), &s.name_en)?;
    crate::input::percent(&at("probability"), s.probability)?;
    if s.rotting_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(FieldError::new(
            &at("rotting_days"),
            "out_of_range",
            "rotting_days is 1 to 3650",
        ));
    }
    if s.guidance
        .as_ref()
        .is_some_and(|g| g.chars().count() > 2000)
    {
        return Err(FieldError::new(
            &at("guidance"),
            "too_long",
            "guidance has at most 2000 characters",
        ));
    }
    check_stage_config(&s.gate, &s.actions, custom_keys).map_err(|e| FieldError {
        field: at(&e.field),
        ..e
    })
}

/// Checks a new pipeline's stages: each valid, at least one open, exactly one won and one
/// lost stage, and keys distinct across the pipeline.
pub fn check_pipeline_stages(
    stages: &[StageSpec],
    custom_keys: &[String],
) -> Result<(), FieldError> {
    for (i, s) in stages.iter().enumerate() {
        check_stage_spec(&format!("stages[{i}]."), s, custom_keys)?;
    }
    let count = |k: StageKind| stages.iter().filter(|s| s.kind == k).count();
    if count(StageKind::Open) == 0 || count(StageKind::Won) != 1 || count(StageKind::Lost) != 1 {
        return Err(FieldError::new(
            "stages",
            "invalid_stages",
            "a pipeline has at least one open stage, one won stage and one lost stage",
        ));
    }
    let keys: Vec<String> = stages
        .iter()
        .flat_map(|s| {
            s.gate
                .checklist
                .iter()
                .map(|c| format!("c:{}", c.key))
                .chain(s.actions.iter().map(|a| format!("a:{}", a.key)))
        })
        .collect();
    distinct_keys(
        "stages",
        keys,
        "checklist items and actions need distinct keys across the pipeline",
    )
}

// ---- Templates. ----

/// A stage as declared by a template or an admin, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StageSpec {
    pub name_zh: String,
    pub name_en: String,
    pub kind: StageKind,
    pub probability: i32,
    pub forecast_category: ForecastCategory,
    #[serde(default)]
    pub rotting_days: Option<i32>,
    #[serde(default)]
    pub guidance: Option<String>,
    #[serde(default)]
    pub gate: StageGate,
    #[serde(default)]
    pub actions: Vec<StandardAction>,
}

impl StageSpec {
    /// The stage this declares, with its place.
    pub fn to_stage(&self, id: StageId, pipeline_id: PipelineId, position: i32) -> Stage {
        Stage {
            id,
            pipeline_id,
            position,
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            kind: self.kind,
            probability: self.probability,
            forecast_category: self.forecast_category,
            rotting_days: self.rotting_days,
            guidance: self.guidance.clone(),
            gate: self.gate.clone(),
            actions: self.actions.clone(),
            archived: false,
        }
    }
}

impl From<&Stage> for StageSpec {
    fn from(s: &Stage) -> StageSpec {
        StageSpec {
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            kind: s.kind,
            probability: s.probability,
            forecast_category: s.forecast_category,
            rotting_days: s.rotting_days,
            guidance: s.guidance.clone(),
            gate: s.gate.clone(),
            actions: s.actions.clone(),
        }
    }
}

/// A pipeline template: key, name, policy, stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineTemplate {
    pub key: &'static str,
    pub name: &'static str,
    pub policy: TransitionPolicy,
    pub stages: Vec<StageSpec>,
}

fn item(key: &str, zh: &str, en: &str) -> ChecklistItem {
    ChecklistItem {
        key: key.into(),
        label_zh: zh.into(),
        label_en: en.into(),
    }
}

/// BANT: budget, authority, need, timeline.
pub fn bant() -> Vec<ChecklistItem> {
    vec![
        item("budget_confirmed", "预算已确认", "Budget confirmed"),
        item(
            "decision_maker_identified",
            "已找到决策人",
            "Decision maker identified",
        ),
        item("need_confirmed", "需求已确认", "Need confirmed"),
        item("timeline_known", "采购时间已明确", "Timeline known"),
    ]
}

/// MEDDIC: metrics, economic buyer, decision criteria, decision process, identified pain,
/// champion.
pub fn meddic() -> Vec<ChecklistItem> {
    vec![
        item("metrics", "量化收益已明确", "Metrics"),
        item("economic_buyer", "已接触经济决策人", "Economic buyer"),
        item("decision_criteria", "决策标准已明确", "Decision criteria"),
        item("decision_process", "决策流程已明确", "Decision process"),
        item("identified_pain", "痛点已识别", "Identified pain"),
        item("champion", "已有内部支持者", "Champion"),
    ]
}

fn action(key: &str, zh: &str, en: &str, due: Option<i32>, required: bool) -> StandardAction {
    StandardAction {
        key: key.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        create_task: due.is_some(),
        due_working_days: due,
        required_to_leave: required,
    }
}

#[allow(clippy::too_many_arguments)]
fn spec(
    zh: &str,
    en: &str,
    kind: StageKind,
    probability: i32,
    forecast_category: ForecastCategory,
    rotting_days: Option<i32>,
    guidance: &str,
    gate: StageGate,
    actions: Vec<StandardAction>,
) -> StageSpec {
    StageSpec {
        name_zh: zh.into(),
        name_en: en.into(),
        kind,
        probability,
        forecast_category,
        rotting_days,
        guidance: Some(guidance.into()),
        gate,
        actions,
    }
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn won_lost(won_guidance: &str) -> [StageSpec; 2] {
    use ForecastCategory as F;
    [
        spec(
            "赢单",
            "Won",
            StageKind::Won,
            100,
            F::Closed,
            None,
            won_guidance,
            StageGate::default(),
            vec![],
        ),
        spec(
            "输单",
            "Lost",
            StageKind::Lost,
            0,
            F::Omitted,
            None,
            "记录输单原因、竞争对手并复盘。",
            StageGate::default(),
            vec![],
        ),
    ]
}

/// The B2B default (product brief): stages by the customer's buying process, BANT before a
/// proposal, the proposal sent before negotiating.
pub fn b2b_template() -> PipelineTemplate {
    use ForecastCategory as F;
    use StageKind as K;
    let b = bant();
    let mut stages = vec![
        spec(
            "线索确认",
            "Qualification",
            K::Open,
            10,
            F::Pipeline,
            Some(7),
            "确认客户需求与预算；完成需求调研，3 天内必须有跟进。",
            StageGate::default(),
            vec![action(
                "needs_call",
                "需求沟通",
                "Needs call",
                Some(2),
                false,
            )],
        ),
        spec(
            "需求分析",
            "Needs analysis",
            K::Open,
            25,
            F::Pipeline,
            Some(10),
            "找到决策人，填写需求调研表，明确采购时间。",
            StageGate {
                checklist: vec![b[2].clone()],
                ..Default::default()
            },
            vec![action(
                "needs_form",
                "需求调研表",
                "Needs questionnaire",
                Some(3),
                false,
            )],
        ),
        spec(
            "方案报价",
            "Proposal",
            K::Open,
            50,
            F::BestCase,
            Some(14),
            "制定方案并报价，方案须在 3 天内发出。",
            StageGate {
                required_fields: fields(&["amount_minor", "close_date"]),
                checklist: vec![b[0].clone(), b[1].clone(), b[3].clone()],
                ..Default::default()
            },
            vec![action(
                "send_proposal",
                "发送方案",
                "Send the proposal",
                Some(3),
                true,
            )],
        ),
        spec(
            "商务谈判",
            "Negotiation",
            K::Open,
            75,
            F::Commit,
            Some(14),
            "谈判价格与条款，准备合同草稿。",
            StageGate {
                checklist: vec![item(
                    "proposal_accepted",
                    "客户认可方案",
                    "Proposal accepted by the customer",
                )],
                ..Default::default()
            },
            vec![action(
                "contract_draft",
                "合同草稿",
                "Contract draft",
                Some(5),
                false,
            )],
        ),
    ];
    stages.extend(won_lost("签约、归档合同与回款计划。"));
    PipelineTemplate {
        key: "b2b",
        name: "B2B 标准流程",
        policy: TransitionPolicy::default(),
        stages,
    }
}

/// A short pipeline for transactional sales: quote, then close.
pub fn transactional_template() -> PipelineTemplate {
    use ForecastCategory as F;
    use StageKind as K;
    let mut stages = vec![
        spec(
            "询价",
            "Inquiry",
            K::Open,
            20,
            F::Pipeline,
            Some(3),
            "当天回复询价，确认型号与数量。",
            StageGate::default(),
            vec![action(
                "send_quote",
                "发送报价",
                "Send the quote",
                Some(1),
                true,
            )],
        ),
        spec(
            "报价跟进",
            "Quoted",
            K::Open,
            60,
            F::Commit,
            Some(7),
            "报价后 2 天内跟进，确认交期与付款方式。",
            StageGate {
                required_fields: fields(&["amount_minor"]),
                ..Default::default()
            },
            vec![],
        ),
    ];
    stages.extend(won_lost("确认订单与付款。"));
    PipelineTemplate {
        key: "transactional",
        name: "快速成交流程",
        policy: TransitionPolicy::default(),
        stages,
    }
}

/// A project / tender pipeline (招投标), MEDDIC-qualified, stages in order only.
pub fn tender_template() -> PipelineTemplate {
    use ForecastCategory as F;
    use StageKind as K;
    let m = meddic();
    let mut stages = vec![
        spec(
            "立项",
            "Project initiation",
            K::Open,
            10,
            F::Pipeline,
            Some(14),
            "确认项目立项、预算来源和采购方式。",
            StageGate::default(),
            vec![action(
                "project_file",
                "项目立项信息",
                "Project file",
                Some(5),
                false,
            )],
        ),
        spec(
            "关键人拜访",
            "Key-person visits",
            K::Open,
            20,
            F::Pipeline,
            Some(14),
            "拜访经济决策人与技术负责人，找到内部支持者。",
            StageGate {
                checklist: vec![m[4].clone(), m[1].clone()],
                ..Default::default()
            },
            vec![action(
                "visit_report",
                "拜访报告",
                "Visit report",
                Some(5),
                false,
            )],
        ),
        spec(
            "方案",
            "Solution",
            K::Open,
            35,
            F::Pipeline,
            Some(21),
            "按决策标准准备技术方案，影响招标参数。",
            StageGate {
                checklist: vec![m[0].clone(), m[2].clone(), m[5].clone()],
                ..Default::default()
            },
            vec![action(
                "solution_doc",
                "技术方案",
                "Solution document",
                Some(10),
                true,
            )],
        ),
        spec(
            "投标",
            "Bid",
            K::Open,
            50,
            F::BestCase,
            Some(30),
            "购买标书、编制投标文件、按时投标。",
            StageGate {
                required_fields: fields(&["amount_minor", "close_date"]),
                checklist: vec![m[3].clone()],
                ..Default::default()
            },
            vec![action(
                "bid_documents",
                "投标文件",
                "Bid documents",
                Some(10),
                true,
            )],
        ),
        spec(
            "商务谈判",
            "Negotiation",
            K::Open,
            75,
            F::Commit,
            Some(14),
            "中标后谈判合同条款与付款节点。",
            StageGate::default(),
            vec![],
        ),
    ];
    stages.extend(won_lost("签约。"));
    PipelineTemplate {
        key: "tender",
        name: "项目招投标流程",
        policy: TransitionPolicy {
            allow_skip: false,
            ..Default::default()
        },
        stages,
    }
}

/// A pipeline built from a template with consecutive ids (tests, demo data).
pub fn build_pipeline(t: &PipelineTemplate, id: PipelineId, first_stage_id: StageId) -> Pipeline {
    Pipeline {
        id,
        name: t.name.into(),
        is_default: true,
        archived: false,
        policy: t.policy.clone(),
        stages: t
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| s.to_stage(first_stage_id + i as i64, id, i as i32))
            .collect(),
    }
}

/// The shipped templates, by key.
pub fn templates() -> Vec<PipelineTemplate> {
    vec![b2b_template(), transactional_template(), tender_template()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid_configurations() {
        for t in templates() {
            assert!(
                t.stages.iter().any(|s| s.kind == StageKind::Won),
                "{}",
                t.key
            );
            assert!(
                t.stages.iter().any(|s| s.kind == StageKind::Lost),
                "{}",
                t.key
            );
            for s in &t.stages {
                check_stage_config(&s.gate, &s.actions, &[]).unwrap();
            }
        }
        let tender = tender_template();
        let names: Vec<&str> = tender
            .stages
            .iter()
            .filter(|s| s.kind == StageKind::Open)
            .map(|s| s.name_zh.as_str())
            .collect();
        assert_eq!(names, ["立项", "关键人拜访", "方案", "投标", "商务谈判"]);
        assert_eq!(bant().len(), 4);
        assert_eq!(meddic().len(), 6);
    }

    #[test]
    fn checklist_and_action_keys_left_empty_are_filled_in() {
        let item = |k: &str, zh: &str, en: &str| ChecklistItem {
            key: k.into(),
            label_zh: zh.into(),
            label_en: en.into(),
        };
        let action = |k: &str, zh: &str, en: &str| StandardAction {
            key: k.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            create_task: false,
            due_working_days: None,
            required_to_leave: false,
        };
        let before = vec![item("budget_ok", "预算已确认", "Budget confirmed")];
        let other_stage = vec![item("need_confirmed", "需求已确认", "Need confirmed")];
        let other_actions = vec![action("visit", "拜访", "Visit")];
        let others = [StageKeys {
            checklist: &other_stage,
            actions: &other_actions,
        }];
        // (sent, filled in)
        let cases: Vec<(Vec<ChecklistItem>, Vec<&str>)> = vec![
            // An item kept with its label edited: its old key.
            (
                vec![item("", "预算已确认（书面）", "Budget confirmed")],
                vec!["budget_ok"],
            ),
            (
                vec![item(" ", "预算已确认", "Budget signed off")],
                vec!["budget_ok"],
            ),
            // New ones: from the English label, else pinyin; unique in the pipeline.
            (
                vec![item("", "决策人", "Decision maker")],
                vec!["decision_maker"],
            ),
            (
                vec![item("", "需求已确认", "Need confirmed")],
                vec!["need_confirmed_2"],
            ),
            (vec![item("", "竞品分析", "")], vec!["jing_pin_fen_xi"]),
            (vec![item("", "？", "?")], vec!["item_1"]),
            (
                vec![
                    item("", "决策人", "Decision maker"),
                    item("", "决策人2", "Decision maker"),
                ],
                vec!["decision_maker", "decision_maker_2"],
            ),
            // Keys given stay as given.
            (
                vec![item(" mine ", "A", "A"), item("", "B", "Mine")],
                vec!["mine", "mine_2"],
            ),
        ];
        for (mut sent, want) in cases {
            let mut actions = vec![
                action("", "发送报价", "Send quote"),
                action("", "拜访", "Visit"),
            ];
            let old = StageKeys {
                checklist: &before,
                actions: &[],
            };
            fill_keys(&mut sent, &mut actions, old, &others);
            let got: Vec<&str> = sent.iter().map(|c| c.key.as_str()).collect();
            assert_eq!(got, want);
            let got: Vec<&str> = actions.iter().map(|a| a.key.as_str()).collect();
            assert_eq!(got, ["send_quote", "visit_2"]);
        }
        // A new pipeline: keys unique across its stages, and a valid configuration.
        let mut stages = b2b_template().stages;
        for s in &mut stages {
            for c in &mut s.gate.checklist {
                c.key.clear();
            }
            for a in &mut s.actions {
                a.key.clear();
            }
        }
        fill_pipeline_keys(&mut stages);
        check_pipeline_stages(&stages, &[]).unwrap();
    }

    #[test]
    fn undoing_a_win_is_offered_to_whoever_may_reopen() {
        // 10 Qualification … 13 Negotiation, 14 Won, 15 Lost.
        let mut p = build_pipeline(&b2b_template(), 1, 10);
        let mut archived = p.clone();
        archived.stages[2].archived = true;
        let reps_reopen = {
            let mut q = p.clone();
            q.policy.reopen_roles.push(Role::Rep);
            q
        };
        p.policy.allow_backward = false;
        let cases: Vec<(&Pipeline, StageId, StageId, Role, bool)> = vec![
            (&p, 13, 14, Role::Manager, true),
            (&p, 13, 14, Role::Director, true),
            (&p, 12, 14, Role::Admin, true),
            // Reopening is the manager's call unless the pipeline lets reps do it.
            (&p, 13, 14, Role::Rep, false),
            (&reps_reopen, 13, 14, Role::Rep, true),
            // Only a win is undone, and only back into an open stage still in use.
            (&p, 13, 15, Role::Manager, false),
            (&p, 15, 14, Role::Manager, false),
            (&archived, 12, 14, Role::Manager, false),
        ];
        for (pipeline, from, won, role, want) in cases {
            let (f, w) = (pipeline.stage(from).unwrap(), pipeline.stage(won).unwrap());
            assert_eq!(
                may_undo_won(pipeline, f, w, role),
                want,
                "{from} → {won} as {role:?}"
            );
        }
    }

    #[test]
    fn pipeline_stage_lists_are_checked() {
        let t = b2b_template();
        check_pipeline_stages(&t.stages, &[]).unwrap();
        let mut two_won = t.stages.clone();
        two_won[0].kind = StageKind::Won;
        let mut bad_prob = t.stages.clone();
        bad_prob[1].probability = 120;
        let mut dup = t.stages.clone();
        dup[1].gate.checklist.push(bant()[2].clone());
        let cases = [
            (two_won, "stages", "invalid_stages"),
            (bad_prob, "stages[1].probability", "out_of_range"),
            (dup, "stages[1].gate", "duplicate_key"),
        ];
        for (stages, field, code) in cases {
            let e = check_pipeline_stages(&stages, &[]).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), (field, code));
        }
    }

    #[test]
    fn bad_configurations_name_the_place() {
        let a = |key: &str| action(key, "甲", "A", Some(1), false);
        let cases: Vec<(StageGate, Vec<StandardAction>, &str, &str)> = vec![
            (
                StageGate {
                    required_fields: fields(&["amount_minor", "budget"]),
                    ..Default::default()
                },
                vec![],
                "gate.required_fields[1]",
                "unknown_field",
            ),
            (
                StageGate {
                    required_fields: fields(&["custom.nope"]),
                    ..Default::default()
                },
                vec![],
                "gate.required_fields[0]",
                "unknown_field",
            ),
            (
                StageGate::default(),
                vec![a("ok"), a("Bad Key")],
                "actions[1]",
                "invalid_key",
            ),
            (
                StageGate::default(),
                vec![a("same"), a("same")],
                "gate",
                "duplicate_key",
            ),
            (
                StageGate {
                    checklist: vec![item("x", " ", "X")],
                    ..Default::default()
                },
                vec![],
                "gate.checklist[0]",
                "invalid_label",
            ),
        ];
        for (gate, actions, field, code) in cases {
            let e = check_stage_config(&gate, &actions, &[]).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), (field, code));
        }
        let ok = StageGate {
            required_fields: fields(&["custom.budget_source"]),
            ..Default::default()
        };
        check_stage_config(&ok, &[], &["budget_source".into()]).unwrap();
    }
}
