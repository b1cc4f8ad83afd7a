//! The fields a rule may name, each with a type: the built-in fields of the record, its
//! custom fields (`custom.<key>`) and the values derived at evaluation time. The catalog
//! also lists what actions may name (stages, users, assignment rules, approval policies),
//! so that a rule is checked against what exists when it is saved.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Op, RecordType};
use crate::custom_fields::{CustomFieldDef, CustomFieldType};
use crate::model::{
    text_enum, AccountSize, ForecastCategory, Grade, Id, LeadGrade, LeadStatus, Pipeline, Source,
    StageId, StageKind, UserId,
};

text_enum!(
    /// The type of a field as rules see it: which operators apply and what a value is.
    FieldType {
        Number => "number",
        Money => "money",
        Date => "date",
        Instant => "instant",
        Text => "text",
        Enum => "enum",
        List => "list",
        Bool => "bool",
        User => "user",
        Stage => "stage",
    }
);

text_enum!(
    /// Where a field's value comes from.
    FieldOrigin { Builtin => "builtin", Custom => "custom", Derived => "derived" }
);

impl FieldType {
    /// The operators that apply to a field of this type.
    pub fn ops(self) -> &'static [Op] {
        use Op::*;
        match self {
            FieldType::Number | FieldType::Money | FieldType::Date | FieldType::Instant => {
                &[Eq, Ne, Lt, Le, Gt, Ge, In, NotIn, IsSet, IsUnset]
            }
            FieldType::Text => &[Eq, Ne, In, NotIn, Contains, IsSet, IsUnset],
            FieldType::Enum | FieldType::User | FieldType::Stage => {
                &[Eq, Ne, In, NotIn, IsSet, IsUnset]
            }
            FieldType::List => &[Contains, IsSet, IsUnset],
            FieldType::Bool => &[Eq, Ne, IsSet, IsUnset],
        }
    }

    /// What a value of this type is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Number => "a number such as 3 or \"12.5\"",
            FieldType::Money => {
                "an amount in minor units (12300) or {\"amount_minor\": 12300, \"currency\": \"CNY\"}"
            }
            FieldType::Date => "a date like \"2026-03-31\"",
            FieldType::Instant => "an RFC 3339 time like \"2026-03-31T08:00:00Z\"",
            FieldType::Text => "a text",
            FieldType::Enum => "one of the field's options",
            FieldType::List => "one of the list's values",
            FieldType::Bool => "true or false",
            FieldType::User => "a user id",
            FieldType::Stage => "a stage id",
        }
    }
}

/// One field of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldInfo {
    /// `amount`, `custom.region`, `days_in_stage`…
    pub name: String,
    pub field_type: FieldType,
    pub origin: FieldOrigin,
    /// Enum and list fields: the values it may have (empty: any text).
    pub options: Vec<String>,
    /// A `set_field` action may set it.
    pub settable: bool,
    /// The date or instant field whose value starts this field's episodes (see
    /// `rules::eval`): `stage_entered_at` for `days_in_stage`, the field itself for a date.
    pub anchor: Option<String>,
    pub label_zh: String,
    pub label_en: String,
}

/// Everything a rule may name, for one record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCatalog {
    pub record_type: RecordType,
    pub fields: Vec<FieldInfo>,
    /// Stages a trigger or a `stage` comparison may name (unarchived).
    pub stages: Vec<StageId>,
    /// Users a rule may name (in a comparison or as a recipient).
    pub users: Vec<UserId>,
    /// Assignment rules an `assign` action may name.
    pub assignment_rules: Vec<Id>,
    /// Approval policies a `request_approval` action may name.
    pub approval_policies: Vec<Id>,
    /// The record type's custom field definitions (values set by a rule are checked by
    /// them).
    pub custom: Vec<CustomFieldDef>,
}

type Spec = (
    &'static str,
    FieldType,
    FieldOrigin,
    bool,
    Option<&'static str>,
    &'static str,
    &'static str,
);

/// The built-in and derived fields of an opportunity: name, type, origin, settable, anchor,
/// 中文, English.
#[rustfmt::skip]
const OPPORTUNITY_FIELDS: &[Spec] = {
    use FieldOrigin::{Builtin as B, Derived as D};
    use FieldType::*;
    const STAGE: Option<&str> = Some("stage_entered_at");
    const TOUCH: Option<&str> = Some("last_follow_up_at");
    const POOL: Option<&str> = Some("unassigned_since");
    const CLOSE: Option<&str> = Some("close_date");
    const HANDOVER: Option<&str> = Some("handed_over_at");
    &[
        ("title", Text, B, false, None, "标题", "Title"),
        ("stage", Stage, B, false, STAGE, "阶段", "Stage"),
        ("stage_kind", Enum, B, false, None, "阶段类型", "Stage kind"),
        ("stage_entered_at", Instant, B, false, STAGE, "进入阶段时间", "Entered the stage at"),
        ("amount", Money, B, false, None, "金额", "Amount"),
        ("currency", Text, B, false, None, "币种", "Currency"),
        ("close_date", Date, B, true, CLOSE, "预计成交日期", "Expected close date"),
        ("probability", Number, B, true, None, "赢率", "Probability"),
        ("forecast_category", Enum, B, true, None, "预测类别", "Forecast category"),
        ("grade", Enum, B, true, None, "等级", "Grade"),
        ("source", Enum, B, true, None, "来源", "Source"),
        ("owner", User, B, false, None, "负责人", "Owner"),
        ("industry", Text, B, false, None, "客户行业", "Account industry"),
        ("next_step", Text, B, true, None, "下一步", "Next step"),
        ("next_step_date", Date, B, true, Some("next_step_date"), "下一步日期", "Next step date"),
        ("tags", List, B, false, None, "标签", "Tags"),
        ("competitor", Text, B, true, None, "竞争对手", "Competitor"),
        ("loss_reason", Text, B, false, None, "输单原因", "Loss reason"),
        ("checklist", List, B, false, None, "已确认检查项", "Checklist items confirmed"),
        ("actions_done", List, B, false, None, "已完成标准动作", "Standard actions done"),
        ("archived", Bool, B, false, None, "已归档", "Archived"),
        ("created_at", Instant, B, false, Some("created_at"), "创建时间", "Created at"),
        ("days_in_stage", Number, D, false, STAGE, "在当前阶段天数", "Days in stage"),
        ("working_days_in_stage", Number, D, false, STAGE, "在当前阶段工作日数", "Working days in stage"),
        ("last_follow_up_at", Instant, D, false, TOUCH, "最近有效跟进时间", "Last meaningful follow-up at"),
        ("days_since_follow_up", Number, D, false, TOUCH, "距最近有效跟进天数", "Days since the last meaningful follow-up"),
        ("working_days_since_follow_up", Number, D, false, TOUCH, "距最近有效跟进工作日数", "Working days since the last meaningful follow-up"),
        ("unassigned_since", Instant, D, false, POOL, "未分配起始时间", "Unassigned since"),
        ("hours_unassigned", Number, D, false, POOL, "未分配小时数", "Hours unassigned"),
        ("days_to_close", Number, D, false, CLOSE, "距预计成交日期天数", "Days to the close date"),
        ("days_past_close", Number, D, false, CLOSE, "超过预计成交日期天数", "Days past the close date"),
        ("has_open_next_step", Bool, D, false, None, "有未逾期的下一步", "Has an open next step"),
        ("proposal_sent", Bool, D, false, None, "方案已发送", "Proposal sent"),
        ("inherited", Bool, D, false, HANDOVER, "交接接手的商机", "Inherited through a handover"),
        ("handed_over_at", Instant, D, false, HANDOVER, "交接接手时间", "Handed over at"),
        ("days_since_handover", Number, D, false, HANDOVER, "距交接接手天数", "Days since the handover"),
        ("touched_since_handover", Bool, D, false, HANDOVER, "接手后已跟进", "Followed up by the receiver since the handover"),
        ("days_untouched_since_handover", Number, D, false, HANDOVER, "接手后未跟进天数", "Days untouched by the receiver since the handover"),
    ]
};

/// The built-in and derived fields of a lead.
#[rustfmt::skip]
const LEAD_FIELDS: &[Spec] = {
    use FieldOrigin::{Builtin as B, Derived as D};
    use FieldType::*;
    const TOUCH: Option<&str> = Some("last_follow_up_at");
    const POOL: Option<&str> = Some("unassigned_since");
    const NEW: Option<&str> = Some("created_at");
    &[
        ("company_name", Text, B, false, None, "公司名称", "Company name"),
        ("contact_name", Text, B, false, None, "联系人", "Contact name"),
        ("title", Text, B, false, None, "职务", "Job title"),
        ("status", Enum, B, false, None, "线索状态", "Lead status"),
        ("source", Enum, B, true, None, "来源", "Source"),
        ("region", Text, B, true, None, "区域", "Region"),
        ("industry", Text, B, true, None, "行业", "Industry"),
        ("owner", User, B, false, None, "负责人", "Owner"),
        ("score", Number, B, false, None, "线索评分", "Lead score"),
        ("grade", Enum, B, false, None, "线索等级", "Lead grade"),
        ("archived", Bool, B, false, None, "已归档", "Archived"),
        ("created_at", Instant, B, false, NEW, "创建时间", "Created at"),
        ("hours_since_created", Number, D, false, NEW, "创建后小时数", "Hours since created"),
        ("first_follow_up_at", Instant, D, false, Some("first_follow_up_at"), "首次有效跟进时间", "First meaningful follow-up at"),
        ("last_follow_up_at", Instant, D, false, TOUCH, "最近有效跟进时间", "Last meaningful follow-up at"),
        ("days_since_follow_up", Number, D, false, TOUCH, "距最近有效跟进天数", "Days since the last meaningful follow-up"),
        ("working_days_since_follow_up", Number, D, false, TOUCH, "距最近有效跟进工作日数", "Working days since the last meaningful follow-up"),
        ("unassigned_since", Instant, D, false, POOL, "进入公海时间", "In the pool since"),
        ("hours_unassigned", Number, D, false, POOL, "在公海小时数", "Hours in the pool"),
    ]
};

/// The built-in and derived fields of an account.
#[rustfmt::skip]
const ACCOUNT_FIELDS: &[Spec] = {
    use FieldOrigin::{Builtin as B, Derived as D};
    use FieldType::*;
    const TOUCH: Option<&str> = Some("last_follow_up_at");
    const POOL: Option<&str> = Some("unassigned_since");
    &[
        ("name", Text, B, false, None, "客户名称", "Account name"),
        ("industry", Text, B, true, None, "行业", "Industry"),
        ("region", Text, B, true, None, "区域", "Region"),
        ("size", Enum, B, true, None, "规模", "Size"),
        ("source", Enum, B, true, None, "来源", "Source"),
        ("owner", User, B, false, None, "负责人", "Owner"),
        ("tags", List, B, false, None, "标签", "Tags"),
        ("archived", Bool, B, false, None, "已归档", "Archived"),
        ("created_at", Instant, B, false, Some("created_at"), "创建时间", "Created at"),
        ("open_opportunities", Number, D, false, None, "进行中的商机数", "Open opportunities"),
        ("last_follow_up_at", Instant, D, false, TOUCH, "最近有效跟进时间", "Last meaningful follow-up at"),
        ("days_since_follow_up", Number, D, false, TOUCH, "距最近有效跟进天数", "Days since the last meaningful follow-up"),
        ("working_days_since_follow_up", Number, D, false, TOUCH, "距最近有效跟进工作日数", "Working days since the last meaningful follow-up"),
        ("unassigned_since", Instant, D, false, POOL, "进入公海时间", "In the pool since"),
        ("hours_unassigned", Number, D, false, POOL, "在公海小时数", "Hours in the pool"),
    ]
};

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The rules' view of a custom field type.
pub fn custom_type(t: CustomFieldType) -> FieldType {
    use CustomFieldType as C;
    match t {
        C::Text | C::LongText | C::Url | C::Phone | C::Email => FieldType::Text,
        C::Integer | C::Decimal => FieldType::Number,
        C::Money => FieldType::Money,
        C::Date => FieldType::Date,
        C::DateTime => FieldType::Instant,
        C::SingleSelect => FieldType::Enum,
        C::MultiSelect => FieldType::List,
        C::Boolean => FieldType::Bool,
        C::User => FieldType::User,
    }
}

impl FieldCatalog {
    /// The catalog of opportunity rules: the built-in and derived fields, the opportunity
    /// custom fields of `custom` (definitions of other record kinds are ignored), the
    /// unarchived stages of `pipelines`, and the users rules may name. Assignment rules and
    /// approval policies are added with [`FieldCatalog::with_assignment_rules`] and
    /// [`FieldCatalog::with_approval_policies`].
    pub fn opportunity(
        custom: &[CustomFieldDef],
        pipelines: &[Pipeline],
        users: &[UserId],
    ) -> FieldCatalog {
        let options = |name: &str| match name {
            "stage_kind" => names(StageKind::NAMES),
            "forecast_category" => names(ForecastCategory::NAMES),
            "grade" => names(Grade::NAMES),
            "source" => names(Source::NAMES),
            _ => vec![],
        };
        let mut cat = FieldCatalog::of(
            RecordType::Opportunity,
            OPPORTUNITY_FIELDS,
            options,
            custom,
            users,
        );
        cat.stages = pipelines
            .iter()
            .flat_map(|p| p.stages.iter())
            .filter(|s| !s.archived)
            .map(|s| s.id)
            .collect();
        cat
    }

    /// The catalog of lead rules (and lead assignment rules).
    pub fn lead(custom: &[CustomFieldDef], users: &[UserId]) -> FieldCatalog {
        let options = |name: &str| match name {
            "status" => names(LeadStatus::NAMES),
            "grade" => names(LeadGrade::NAMES),
            "source" => names(Source::NAMES),
            _ => vec![],
        };
        FieldCatalog::of(RecordType::Lead, LEAD_FIELDS, options, custom, users)
    }

    /// The catalog of account rules (and account assignment rules).
    pub fn account(custom: &[CustomFieldDef], users: &[UserId]) -> FieldCatalog {
        let options = |name: &str| match name {
            "size" => names(AccountSize::NAMES),
            "source" => names(Source::NAMES),
            _ => vec![],
        };
        FieldCatalog::of(RecordType::Account, ACCOUNT_FIELDS, options, custom, users)
    }

    fn of(
        record_type: RecordType,
        specs: &[Spec],
        options: impl Fn(&str) -> Vec<String>,
        custom: &[CustomFieldDef],
        users: &[UserId],
    ) -> FieldCatalog {
        let mut fields: Vec<FieldInfo> = specs
            .iter()
            .map(
                |&(name, field_type, origin, settable, anchor, zh, en)| FieldInfo {
                    name: name.into(),
                    field_type,
                    origin,
                    options: options(name),
                    settable,
                    anchor: anchor.map(str::to_string),
                    label_zh: zh.into(),
                    label_en: en.into(),
                },
            )
            .collect();
        let defs: Vec<CustomFieldDef> = custom
            .iter()
            .filter(|d| d.record_kind == record_type.kind())
            .cloned()
            .collect();
        for d in &defs {
            let field_type = custom_type(d.field_type);
            let name = format!("custom.{}", d.key);
            fields.push(FieldInfo {
                anchor: matches!(field_type, FieldType::Date | FieldType::Instant)
                    .then(|| name.clone()),
                name,
                field_type,
                origin: FieldOrigin::Custom,
                options: d.options.iter().map(|o| o.value.clone()).collect(),
                settable: !d.archived,
                label_zh: d.label_zh.clone(),
                label_en: d.label_en.clone(),
            });
        }
        FieldCatalog {
            record_type,
            fields,
            stages: vec![],
            users: users.to_vec(),
            assignment_rules: vec![],
            approval_policies: vec![],
            custom: defs,
        }
    }

    pub fn with_assignment_rules(mut self, ids: &[Id]) -> FieldCatalog {
        self.assignment_rules = ids.to_vec();
        self
    }

    pub fn with_approval_policies(mut self, ids: &[Id]) -> FieldCatalog {
        self.approval_policies = ids.to_vec();
        self
    }

    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The custom field definition behind `custom.<key>`.
    pub fn custom_def(&self, name: &str) -> Option<&CustomFieldDef> {
        let key = name.strip_prefix("custom.")?;
        self.custom.iter().find(|d| d.key == key)
    }
}
