//! The domain records. Plain data: no I/O, no clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::money::Money;
use crate::process::{StageGate, StandardAction, TransitionPolicy};

pub type Id = i64;
pub type UserId = Id;
pub type TeamId = Id;
pub type AccountId = Id;
pub type ContactId = Id;
pub type LeadId = Id;
pub type OpportunityId = Id;
pub type PipelineId = Id;
pub type StageId = Id;

/// A record's custom field values by field key, each in its canonical JSON form (see
/// `custom_fields`). A field without a value is absent.
pub type CustomValues = BTreeMap<String, serde_json::Value>;

/// Declares a closed set of values stored and sent as snake_case text.
#[macro_export]
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::error::UnknownValue {
                        kind: stringify!($name),
                        value: s.to_string(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// What a user may do. Visibility follows from role and team (see `visibility`).
    Role { Admin => "admin", Director => "director", Manager => "manager", Rep => "rep" }
);

text_enum!(Language { ZhCn => "zh-CN", En => "en" });

text_enum!(StageKind { Open => "open", Won => "won", Lost => "lost" });

text_enum!(ForecastCategory {
    Pipeline => "pipeline",
    BestCase => "best_case",
    Commit => "commit",
    Closed => "closed",
    Omitted => "omitted",
});

text_enum!(Grade { A => "a", B => "b", C => "c" });

text_enum!(BuyingRole {
    DecisionMaker => "decision_maker",
    EconomicBuyer => "economic_buyer",
    Champion => "champion",
    Influencer => "influencer",
    User => "user",
    Blocker => "blocker",
});

text_enum!(
    /// A lead's grade from its score (`scoring`): A is the best.
    LeadGrade { A => "a", B => "b", C => "c", D => "d" }
);

text_enum!(LeadStatus {
    New => "new",
    Working => "working",
    Qualified => "qualified",
    Disqualified => "disqualified",
});

text_enum!(
    /// Kinds of follow-up. `is_customer_facing` decides what counts as a real touch.
    ActivityType {
        Call => "call",
        Visit => "visit",
        Meeting => "meeting",
        Email => "email",
        Wechat => "wechat",
        Sms => "sms",
        Demo => "demo",
        Note => "note",
        Internal => "internal",
    }
);

impl ActivityType {
    /// Customer-facing activities reset the follow-up clock; notes and internal work do not.
    pub fn is_customer_facing(self) -> bool {
        !matches!(self, ActivityType::Note | ActivityType::Internal)
    }
}

text_enum!(AccountSize {
    Micro => "micro",
    Small => "small",
    Medium => "medium",
    Large => "large",
    Enterprise => "enterprise",
});

text_enum!(
    /// Where a record came from.
    Source {
        Website => "website",
        Referral => "referral",
        Exhibition => "exhibition",
        ColdCall => "cold_call",
        Partner => "partner",
        Advertising => "advertising",
        Wechat => "wechat",
        Tender => "tender",
        Existing => "existing",
        Other => "other",
    }
);

text_enum!(RecordKind {
    Account => "account",
    Contact => "contact",
    Lead => "lead",
    Opportunity => "opportunity",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub parent_id: Option<TeamId>,
    pub archived: bool,
    /// The regions (the `region` of leads and accounts: 华东, 上海…) whose public-pool
    /// records this team's people see and claim (empty: none of its own; see
    /// `visibility::PoolRegions`).
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A date range (inclusive) on which a user is away; assignment skips them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Leave {
    pub from: Date,
    pub to: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub display_name: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub role: Role,
    pub team_id: Option<TeamId>,
    pub active: bool,
    pub leaves: Vec<Leave>,
    pub language: Option<Language>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl User {
    pub fn on_leave(&self, day: Date) -> bool {
        self.leaves.iter().any(|l| l.from <= day && day <= l.to)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub credit_code: Option<String>,
    pub industry: Option<String>,
    pub region: Option<String>,
    pub size: Option<AccountSize>,
    pub source: Option<Source>,
    pub owner_id: Option<UserId>,
    /// Since when it has waited in the public pool (公海) for an owner; `None` while it
    /// has one.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub pool_since: Option<OffsetDateTime>,
    pub tags: Vec<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
    /// Custom field values by key (see `/api/v1/custom-fields`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: CustomValues,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: Option<AccountId>,
    pub name: String,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wechat: Option<String>,
    pub title: Option<String>,
    pub buying_role: Option<BuyingRole>,
    pub owner_id: Option<UserId>,
    /// Custom field values by key (see `/api/v1/custom-fields`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: CustomValues,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lead {
    pub id: LeadId,
    pub source: Option<Source>,
    pub status: LeadStatus,
    pub company_name: Option<String>,
    pub contact_name: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub wechat: Option<String>,
    pub title: Option<String>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub notes: Option<String>,
    pub owner_id: Option<UserId>,
    /// Since when it has waited in the public pool (公海) for an owner; `None` while it
    /// has one.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub pool_since: Option<OffsetDateTime>,
    /// Filled by lead scoring (0–100); `None` until scored.
    pub score: Option<i32>,
    /// The grade of the score; `None` until scored.
    #[serde(default)]
    pub grade: Option<LeadGrade>,
    /// Custom field values by key (see `/api/v1/custom-fields`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: CustomValues,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Opportunity {
    pub id: OpportunityId,
    pub title: String,
    pub account_id: AccountId,
    pub primary_contact_id: Option<ContactId>,
    pub pipeline_id: PipelineId,
    pub stage_id: StageId,
    /// The kind of the current stage (open, won, lost), kept with the stage so that lists
    /// and boards filter on it without a join.
    pub status: StageKind,
    pub amount: Money,
    pub close_date: Option<Date>,
    /// Percent, 0..=100.
    pub probability: i32,
    pub probability_overridden: bool,
    pub forecast_category: ForecastCategory,
    pub grade: Option<Grade>,
    pub source: Option<Source>,
    pub owner_id: UserId,
    pub next_step: Option<String>,
    pub next_step_date: Option<Date>,
    pub tags: Vec<String>,
    /// The key of a loss reason of the taxonomy, when lost.
    pub loss_reason: Option<String>,
    /// The loss review (复盘), when lost.
    pub loss_note: Option<String>,
    /// The competitor that won, when lost (or the main one while open).
    pub competitor: Option<String>,
    /// Keys of the checklist items confirmed (across stages).
    pub checklist: Vec<String>,
    /// Keys of the standard actions done (across stages).
    pub actions_done: Vec<String>,
    /// Custom field values by key (see `/api/v1/custom-fields`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom: CustomValues,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub stage_entered_at: OffsetDateTime,
    /// Since when the opportunity has been in the public pool (公海), waiting for an owner;
    /// `None` while it has one. While it is set, `owner_id` is the last owner (or whoever put
    /// it there), whose team line is told about it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub pool_since: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    pub id: Id,
    pub kind: ActivityType,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub summary: String,
    pub outcome: Option<String>,
    pub next_step: Option<String>,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub opportunity_id: Option<OpportunityId>,
    pub lead_id: Option<LeadId>,
    pub author_id: UserId,
    /// Derived from `kind`; stored so history keeps its meaning if the mapping changes.
    pub customer_facing: bool,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: Id,
    pub title: String,
    pub due_date: Option<Date>,
    pub assignee_id: UserId,
    pub done: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
    pub record_kind: Option<RecordKind>,
    pub record_id: Option<Id>,
    /// The standard action this task was created for, if any.
    pub action_key: Option<String>,
    pub archived: bool,
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stage {
    pub id: StageId,
    pub pipeline_id: PipelineId,
    pub position: i32,
    pub name_zh: String,
    pub name_en: String,
    pub kind: StageKind,
    /// Default probability in percent, 0..=100.
    pub probability: i32,
    pub forecast_category: ForecastCategory,
    /// Days after which an opportunity in this stage counts as rotting.
    pub rotting_days: Option<i32>,
    pub guidance: Option<String>,
    #[serde(default)]
    pub gate: StageGate,
    #[serde(default)]
    pub actions: Vec<StandardAction>,
    pub archived: bool,
}

impl Stage {
    pub fn name(&self, lang: Language) -> &str {
        match lang {
            Language::ZhCn => &self.name_zh,
            Language::En => &self.name_en,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Pipeline {
    pub id: PipelineId,
    pub name: String,
    pub is_default: bool,
    pub archived: bool,
    #[serde(default)]
    pub policy: TransitionPolicy,
    /// Ordered by `position`.
    pub stages: Vec<Stage>,
}

impl Pipeline {
    pub fn stage(&self, id: StageId) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The first open, non-archived stage: where new opportunities start.
    pub fn first_open_stage(&self) -> Option<&Stage> {
        self.stages
            .iter()
            .filter(|s| s.kind == StageKind::Open && !s.archived)
            .min_by_key(|s| s.position)
    }
}

/// An in-app notification: what happened (`kind`, with its details in `payload`), about
/// which record, for whom. Pages word it in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: Id,
    pub user_id: UserId,
    /// `approval_requested`, `approval_approved`, `approval_rejected`…
    pub kind: String,
    pub record_kind: Option<RecordKind>,
    pub record_id: Option<Id>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub read_at: Option<OffsetDateTime>,
    #[serde(skip)]
    pub archived: bool,
    #[serde(skip)]
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

text_enum!(
    /// Where a notification goes: our generic JSON webhook or a group robot.
    ChannelKind {
        Webhook => "webhook",
        WeCom => "wecom",
        DingTalk => "dingtalk",
        Feishu => "feishu",
    }
);

impl ChannelKind {
    /// The hosts the platform's robot webhooks live on (what an admin adds to the allow-list
    /// to use it); none for the generic webhook.
    pub fn platform_hosts(self) -> &'static [&'static str] {
        match self {
            ChannelKind::Webhook => &[],
            ChannelKind::WeCom => &["qyapi.weixin.qq.com"],
            ChannelKind::DingTalk => &["oapi.dingtalk.com"],
            ChannelKind::Feishu => &["open.feishu.cn", "open.larksuite.com"],
        }
    }
}
