//! What evaluation knows about one record ([`RecordFacts`]) and the values rules compare
//! ([`derive`]), working days counted by the working calendar ([`WorkCalendar`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

use crate::calendar::WorkCalendar;
use crate::custom_fields::{parse_decimal, CustomFieldDef, CustomFieldType};
use crate::model::{
    Account, Activity, ActivityType, CustomValues, Id, Lead, LeadStatus, Opportunity, RecordKind,
    StageId, Task, UserId,
};
use crate::money::Money;

/// A decimal number: an integer scaled by a power of ten (never a float). Kept with no
/// trailing zero in the fraction, so that equal numbers are equal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    units: i128,
    scale: u32,
}

/// Most decimal places a number in a rule may have.
pub const MAX_PLACES: u32 = 6;

impl Number {
    pub fn int(n: i64) -> Number {
        Number {
            units: n as i128,
            scale: 0,
        }
    }

    /// `units` ÷ 10^`scale` (`scale` at most [`MAX_PLACES`]).
    pub fn scaled(units: i64, scale: u32) -> Number {
        let mut n = Number {
            units: units as i128,
            scale: scale.min(MAX_PLACES),
        };
        while n.scale > 0 && n.units % 10 == 0 {
            n.units /= 10;
            n.scale -= 1;
        }
        n
    }

    /// `"12.5"`, `"-3"`, `"0.000001"`: digits with an optional sign and at most
    /// [`MAX_PLACES`] decimals; no exponent.
    pub fn parse(s: &str) -> Option<Number> {
        let places = s
            .trim()
            .split_once('.')
            .map_or(0, |(_, f)| f.trim_end_matches('0').len()) as u32;
        if places > MAX_PLACES {
            return None;
        }
        parse_decimal(s, places)
            .ok()
            .map(|units| Number::scaled(units, places))
    }

    /// A JSON number or a text holding one.
    pub fn from_json(v: &Value) -> Option<Number> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(Number::int(i)),
                None => Number::parse(&n.to_string()),
            },
            Value::String(s) => Number::parse(s),
            _ => None,
        }
    }

    /// An integer as a JSON number, a fraction as a text (`"12.5"`): exact either way.
    pub fn to_json(self) -> Value {
        if self.scale == 0 {
            if let Ok(i) = i64::try_from(self.units) {
                return json!(i);
            }
        }
        let scale = 10i128.pow(self.scale);
        let sign = if self.units < 0 { "-" } else { "" };
        let a = self.units.abs();
        Value::String(format!(
            "{sign}{}.{:0width$}",
            a / scale,
            a % scale,
            width = self.scale as usize
        ))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        let a = self.units * 10i128.pow(scale - self.scale);
        let b = other.units * 10i128.pow(scale - other.scale);
        a.cmp(&b)
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A value as rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Unset,
    Number(Number),
    Money(Money),
    Date(Date),
    Instant(OffsetDateTime),
    Text(String),
    List(Vec<String>),
    Bool(bool),
    /// A user or stage id.
    Id(Id),
}

fn instant_json(t: OffsetDateTime) -> Value {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .map_or(Value::Null, Value::String)
}

impl FieldValue {
    /// The JSON form (what reasons show and conditions are written in): numbers as in
    /// [`Number::to_json`], money as `{"amount_minor", "currency"}`, dates `"2026-03-31"`,
    /// instants RFC 3339 in UTC, unset `null`.
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Unset => Value::Null,
            FieldValue::Number(n) => n.to_json(),
            FieldValue::Money(m) => json!({"amount_minor": m.amount_minor, "currency": m.currency}),
            FieldValue::Date(d) => Value::String(d.to_string()),
            FieldValue::Instant(t) => instant_json(*t),
            FieldValue::Text(s) => Value::String(s.clone()),
            FieldValue::List(l) => json!(l),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::Id(id) => json!(id),
        }
    }

    pub fn is_set(&self) -> bool {
        match self {
            FieldValue::Unset => false,
            FieldValue::Text(s) => !s.is_empty(),
            FieldValue::List(l) => !l.is_empty(),
            _ => true,
        }
    }

    fn text(s: &Option<String>) -> FieldValue {
        match s {
            Some(s) if !s.is_empty() => FieldValue::Text(s.clone()),
            _ => FieldValue::Unset,
        }
    }

    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> FieldValue) -> FieldValue {
        v.map_or(FieldValue::Unset, f)
    }
}

/// A custom value (its canonical JSON, see `custom_fields::value_of`) as rules see it.
pub fn custom_value(def: &CustomFieldDef, v: &Value) -> FieldValue {
    typed_value(def, v).unwrap_or(FieldValue::Unset)
}

fn typed_value(def: &CustomFieldDef, v: &Value) -> Option<FieldValue> {
    use CustomFieldType as C;
    match (def.field_type, v) {
        (_, Value::Null) => None,
        (C::Integer | C::Decimal, v) => Number::from_json(v).map(FieldValue::Number),
        (C::Money, Value::Object(m)) => Some(FieldValue::Money(Money {
            amount_minor: m.get("amount_minor").and_then(Value::as_i64)?,
            currency: m.get("currency").and_then(Value::as_str)?.to_string(),
        })),
        (C::Date, Value::String(s)) => parse_date(s).map(FieldValue::Date),
        (C::DateTime, Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(FieldValue::Instant),
        (C::MultiSelect, Value::Array(items)) => Some(FieldValue::List(
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
        )),
        (C::Boolean, Value::Bool(b)) => Some(FieldValue::Bool(*b)),
        (C::User, v) => v.as_i64().map(FieldValue::Id),
        (
            C::Text | C::LongText | C::Url | C::Phone | C::Email | C::SingleSelect,
            Value::String(s),
        ) => Some(FieldValue::text(&Some(s.clone()))),
        _ => None,
    }
}

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

pub(crate) fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), DATE_FORMAT).ok()
}

/// Every value of one record at one instant, by field name (see the catalog). A field
/// without a value is [`FieldValue::Unset`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<String, FieldValue>);

static UNSET: FieldValue = FieldValue::Unset;

impl Values {
    pub fn get(&self, field: &str) -> &FieldValue {
        self.0.get(field).unwrap_or(&UNSET)
    }

    /// The fields whose value differs from `before` (set in one and not the other too).
    pub fn changed_from(&self, before: &Values) -> Vec<String> {
        let mut keys: Vec<&String> = self.0.keys().chain(before.0.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| self.get(k) != before.get(k))
            .cloned()
            .collect()
    }

    pub fn insert(&mut self, field: &str, value: FieldValue) {
        self.0.insert(field.to_string(), value);
    }

    /// Every value in its JSON form (for a record's "as rules see it" view).
    pub fn to_json(&self) -> BTreeMap<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect()
    }
}

/// What counts for the derived values; admins may change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FactsConfig {
    /// Activity types that are a meaningful follow-up and reset the follow-up clock.
    /// Default: the customer-facing ones (call, visit, meeting, email, WeChat, SMS, demo);
    /// notes and internal work never are.
    pub meaningful: Vec<ActivityType>,
    /// Standard actions whose completion means the proposal was sent (ticked on the deal
    /// or through its task). Default: `send_proposal`, `send_quote`.
    pub proposal_actions: Vec<String>,
}

impl FactsConfig {
    /// The meaningful activity types as stored (`call`, `visit`…), for queries.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.meaningful.iter().map(|k| k.as_str()).collect()
    }

    /// Refuses a configuration with no meaningful type (nothing would ever reset the
    /// follow-up clock), a type listed twice, or an empty or overlong proposal action key.
    pub fn validate(&self) -> Result<(), Vec<crate::error::FieldError>> {
        use crate::error::FieldError;
        let mut errors = Vec::new();
        if self.meaningful.is_empty() {
            errors.push(FieldError::new(
                "meaningful",
                "required",
                "at least one activity type must count as a follow-up",
            ));
        }
        for (n, k) in self.meaningful.iter().enumerate() {
            if self.meaningful[..n].contains(k) {
                errors.push(FieldError::new(
                    &format!("meaningful[{n}]"),
                    "duplicate",
                    format!("{} is listed twice", k.as_str()),
                ));
            }
        }
        for (n, a) in self.proposal_actions.iter().enumerate() {
            if a.trim().is_empty() || a.chars().count() > 64 {
                errors.push(FieldError::new(
                    &format!("proposal_actions[{n}]"),
                    "invalid_value",
                    "a standard action key of 1 to 64 characters",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl Default for FactsConfig {
    fn default() -> Self {
        FactsConfig {
            meaningful: ActivityType::ALL
                .iter()
                .copied()
                .filter(|t| t.is_customer_facing())
                .collect(),
            proposal_actions: vec!["send_proposal".into(), "send_quote".into()],
        }
    }
}

/// The time of the latest meaningful follow-up among `activities`: unarchived, of a type
/// in `config.meaningful`, not after `now` (a follow-up logged ahead of time counts once
/// its time has come).
pub fn last_meaningful_follow_up(
    activities: &[Activity],
    config: &FactsConfig,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    activities
        .iter()
        .filter(|a| !a.archived && a.occurred_at <= now && config.meaningful.contains(&a.kind))
        .map(|a| a.occurred_at)
        .max()
}

/// Everything evaluation needs about one record. Built by [`RecordFacts::opportunity`]
/// from what the store loads; the app then sets what lives elsewhere (`industry`,
/// `unassigned_since`).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFacts {
    /// The opportunity as it is now (after the change, for an event).
    pub opportunity: Opportunity,
    /// The account's industry.
    pub industry: Option<String>,
    /// Custom values by key, typed by their definitions.
    pub custom: BTreeMap<String, FieldValue>,
    /// The latest meaningful follow-up (see [`last_meaningful_follow_up`]).
    pub last_follow_up: Option<OffsetDateTime>,
    /// Due dates of the record's open tasks (not done, not archived; tasks without a due
    /// date are no commitment).
    pub open_task_due_dates: Vec<Date>,
    /// Since when the record has had no owner (public pool, `pool_since`); `None` while it has one.
    /// While it is set, `owner` reads as unset and `opportunity.owner_id` is the last owner
    /// (whose team line is notified).
    pub unassigned_since: Option<OffsetDateTime>,
    /// Whether a proposal action of [`FactsConfig::proposal_actions`] is done.
    pub proposal_sent: bool,
    /// Whether its owner received it through a handover, and touched it since (see
    /// [`crate::handover::inherited`]); `None`: not inherited.
    pub inherited: Option<crate::handover::Inherited>,
}

impl RecordFacts {
    /// The facts of `opp` from its activities and tasks (those of other records are
    /// ignored), its custom field definitions (of any record kind) and `config`.
    pub fn opportunity(
        opp: &Opportunity,
        activities: &[Activity],
        tasks: &[Task],
        defs: &[CustomFieldDef],
        config: &FactsConfig,
        now: OffsetDateTime,
    ) -> RecordFacts {
        let own: Vec<Activity> = activities
            .iter()
            .filter(|a| a.opportunity_id == Some(opp.id))
            .cloned()
            .collect();
        let tasks: Vec<&Task> = tasks
            .iter()
            .filter(|t| {
                !t.archived
                    && t.record_kind == Some(RecordKind::Opportunity)
                    && t.record_id == Some(opp.id)
            })
            .collect();
        let done_actions = opp.actions_done.iter().chain(
            tasks
                .iter()
                .filter(|t| t.done)
                .filter_map(|t| t.action_key.as_ref()),
        );
        let proposal_sent = done_actions
            .clone()
            .any(|k| config.proposal_actions.contains(k));
        RecordFacts {
            opportunity: opp.clone(),
            industry: None,
            custom: typed_custom(&opp.custom, defs, RecordKind::Opportunity),
            last_follow_up: last_meaningful_follow_up(&own, config, now),
            open_task_due_dates: tasks
                .iter()
                .filter(|t| !t.done)
                .filter_map(|t| t.due_date)
                .collect(),
            unassigned_since: opp.pool_since,
            proposal_sent,
            inherited: None,
        }
    }

    /// When the follow-up clock started: the latest meaningful follow-up, else the
    /// record's creation.
    pub fn follow_up_clock(&self) -> OffsetDateTime {
        self.last_follow_up.unwrap_or(self.opportunity.created_at)
    }

    /// The owner, unless the record is in the public pool.
    pub fn owner(&self) -> Option<Id> {
        self.unassigned_since
            .is_none()
            .then_some(self.opportunity.owner_id)
    }
}

fn typed_custom(
    values: &CustomValues,
    defs: &[CustomFieldDef],
    kind: RecordKind,
) -> BTreeMap<String, FieldValue> {
    defs.iter()
        .filter(|d| d.record_kind == kind)
        .filter_map(|d| {
            let v = custom_value(d, values.get(&d.key)?);
            v.is_set().then(|| (d.key.clone(), v))
        })
        .collect()
}

/// Every value of the record at `now`: its stored fields, its custom fields and the
/// derived values (exact definitions in `docs/automation.md`):
///
/// - `days_in_stage`: whole 24-hour days since `stage_entered_at` (as the rotting alert);
/// - `working_days_in_stage`: [`WorkCalendar::working_days_between`] stage entry and now;
/// - `last_follow_up_at`: the latest meaningful follow-up (unset when none);
/// - `days_since_follow_up` / `working_days_since_follow_up`: whole days / working days
///   since it, or since the record was created when it has none;
/// - `unassigned_since`, `hours_unassigned`: whole hours in the public pool (unset while
///   it has an owner);
/// - `days_to_close`: close date − today (local), negative once passed; `days_past_close`:
///   today − close date, 0 until it has passed (both unset without a close date);
/// - `has_open_next_step`: a task due today or later, or a next-step date today or later;
/// - `proposal_sent`: see [`FactsConfig::proposal_actions`];
/// - `inherited`: its owner received it through a handover ([`crate::handover::inherited`]);
///   `handed_over_at`, `days_since_handover`: when, and whole days since (unset when not
///   inherited); `touched_since_handover`: whether the receiver touched it since
///   ([`crate::handover::DealTrail::touched_since`]); `days_untouched_since_handover`: whole
///   days since the receiver's latest touch, or since the handover while untouched.
pub fn derive(f: &RecordFacts, now: OffsetDateTime, cal: &WorkCalendar) -> Values {
    use FieldValue as V;
    let o = &f.opportunity;
    let today = cal.local_date(now);
    let mut v = Values::default();
    v.insert("title", V::Text(o.title.clone()));
    v.insert("stage", V::Id(o.stage_id));
    v.insert("stage_kind", V::Text(o.status.as_str().into()));
    v.insert("stage_entered_at", V::Instant(o.stage_entered_at));
    v.insert("amount", V::Money(o.amount.clone()));
    v.insert("currency", V::Text(o.amount.currency.clone()));
    v.insert("close_date", V::opt(o.close_date, V::Date));
    v.insert("probability", int(o.probability.into()));
    v.insert(
        "forecast_category",
        V::Text(o.forecast_category.as_str().into()),
    );
    v.insert("grade", V::opt(o.grade, |g| V::Text(g.as_str().into())));
    v.insert("source", V::opt(o.source, |s| V::Text(s.as_str().into())));
    v.insert("owner", V::opt(f.owner(), V::Id));
    v.insert("industry", V::text(&f.industry));
    v.insert("next_step", V::text(&o.next_step));
    v.insert("next_step_date", V::opt(o.next_step_date, V::Date));
    v.insert("tags", V::List(o.tags.clone()));
    v.insert("competitor", V::text(&o.competitor));
    v.insert("loss_reason", V::text(&o.loss_reason));
    v.insert("checklist", V::List(o.checklist.clone()));
    v.insert("actions_done", V::List(o.actions_done.clone()));
    v.insert("archived", V::Bool(o.archived));
    v.insert("created_at", V::Instant(o.created_at));
    for (key, value) in &f.custom {
        v.insert(&format!("custom.{key}"), value.clone());
    }

    v.insert("days_in_stage", int(crate::alerts::days_in_stage(o, now)));
    v.insert(
        "working_days_in_stage",
        int(cal.working_days_between(o.stage_entered_at, now).max(0)),
    );
    clocks(
        &mut v,
        f.last_follow_up,
        o.created_at,
        f.unassigned_since,
        now,
        cal,
    );
    v.insert(
        "days_to_close",
        V::opt(o.close_date, |d| int((d - today).whole_days())),
    );
    v.insert(
        "days_past_close",
        V::opt(o.close_date, |d| int((today - d).whole_days().max(0))),
    );
    let open_next_step = o.next_step_date.is_some_and(|d| d >= today)
        || f.open_task_due_dates.iter().any(|d| *d >= today);
    v.insert("has_open_next_step", V::Bool(open_next_step));
    v.insert("proposal_sent", V::Bool(f.proposal_sent));
    let i = f.inherited.as_ref();
    v.insert("inherited", V::Bool(i.is_some()));
    v.insert("handed_over_at", V::opt(i, |i| V::Instant(i.handover.at)));
    v.insert(
        "days_since_handover",
        V::opt(i, |i| int(i.days_since_handover(now))),
    );
    v.insert(
        "touched_since_handover",
        V::opt(i, |i| V::Bool(i.touched_at.is_some())),
    );
    v.insert(
        "days_untouched_since_handover",
        V::opt(i, |i| int(i.days_untouched(now))),
    );
    v
}

/// A record rules are evaluated on: an opportunity ([`RecordFacts`]), a lead
/// ([`LeadFacts`]) or an account ([`AccountFacts`]).
pub trait Subject {
    fn record(&self) -> super::RecordRef;
    /// What notifications call it.
    fn title(&self) -> String;
    /// The owner, or while it is in the pool whose team line is told (its last owner, or
    /// the manager of the region's team; 0: nobody's).
    fn line_owner(&self) -> UserId;
    /// Whether it has an owner (not in the public pool).
    fn assigned(&self) -> bool;
    /// Whether it can fire rules at all: archived records (and closed leads) never do.
    fn is_live(&self) -> bool;
    /// Its stage, for stage triggers (opportunities only).
    fn stage_id(&self) -> Option<StageId>;
    /// Every value rules compare at `now`.
    fn values(&self, now: OffsetDateTime, cal: &WorkCalendar) -> Values;
}

impl Subject for RecordFacts {
    fn record(&self) -> super::RecordRef {
        super::RecordRef {
            record_type: super::RecordType::Opportunity,
            id: self.opportunity.id,
        }
    }
    fn title(&self) -> String {
        self.opportunity.title.clone()
    }
    fn line_owner(&self) -> UserId {
        self.opportunity.owner_id
    }
    fn assigned(&self) -> bool {
        self.owner().is_some()
    }
    fn is_live(&self) -> bool {
        !self.opportunity.archived
    }
    fn stage_id(&self) -> Option<StageId> {
        Some(self.opportunity.stage_id)
    }
    fn values(&self, now: OffsetDateTime, cal: &WorkCalendar) -> Values {
        derive(self, now, cal)
    }
}

/// What evaluation knows about a lead. Built by the app from the lead, its follow-ups and
/// its custom values.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadFacts {
    pub lead: Lead,
    pub custom: BTreeMap<String, FieldValue>,
    /// Its first and latest meaningful follow-up (see [`FactsConfig::meaningful`]).
    pub first_follow_up: Option<OffsetDateTime>,
    pub last_follow_up: Option<OffsetDateTime>,
    /// Whose team line hears of it while it is in the pool (see [`Subject::line_owner`]).
    pub pool_line: Option<UserId>,
}

impl LeadFacts {
    pub fn new(lead: &Lead, defs: &[CustomFieldDef]) -> LeadFacts {
        LeadFacts {
            custom: typed_custom(&lead.custom, defs, RecordKind::Lead),
            lead: lead.clone(),
            first_follow_up: None,
            last_follow_up: None,
            pool_line: None,
        }
    }
}

impl Subject for LeadFacts {
    fn record(&self) -> super::RecordRef {
        super::RecordRef {
            record_type: super::RecordType::Lead,
            id: self.lead.id,
        }
    }
    fn title(&self) -> String {
        let l = &self.lead;
        l.company_name
            .clone()
            .or_else(|| l.contact_name.clone())
            .unwrap_or_else(|| format!("#{}", l.id))
    }
    fn line_owner(&self) -> UserId {
        self.lead.owner_id.or(self.pool_line).unwrap_or(0)
    }
    fn assigned(&self) -> bool {
        self.lead.owner_id.is_some()
    }
    fn is_live(&self) -> bool {
        !self.lead.archived && matches!(self.lead.status, LeadStatus::New | LeadStatus::Working)
    }
    fn stage_id(&self) -> Option<StageId> {
        None
    }
    /// Beside the stored fields: `hours_since_created`, `first_follow_up_at`, the follow-up
    /// clocks as for opportunities (from creation when none), `unassigned_since` /
    /// `hours_unassigned` while in the pool.
    fn values(&self, now: OffsetDateTime, cal: &WorkCalendar) -> Values {
        use FieldValue as V;
        let l = &self.lead;
        let mut v = Values::default();
        v.insert("company_name", V::text(&l.company_name));
        v.insert("contact_name", V::text(&l.contact_name));
        v.insert("title", V::text(&l.title));
        v.insert("status", V::Text(l.status.as_str().into()));
        v.insert("source", V::opt(l.source, |s| V::Text(s.as_str().into())));
        v.insert("region", V::text(&l.region));
        v.insert("industry", V::text(&l.industry));
        v.insert("owner", V::opt(l.owner_id, V::Id));
        v.insert("score", V::opt(l.score, |s| int(s.into())));
        v.insert("grade", V::opt(l.grade, |g| V::Text(g.as_str().into())));
        v.insert("archived", V::Bool(l.archived));
        v.insert("created_at", V::Instant(l.created_at));
        v.insert(
            "hours_since_created",
            int((now - l.created_at).whole_hours().max(0)),
        );
        v.insert(
            "first_follow_up_at",
            V::opt(self.first_follow_up, V::Instant),
        );
        for (key, value) in &self.custom {
            v.insert(&format!("custom.{key}"), value.clone());
        }
        clocks(
            &mut v,
            self.last_follow_up,
            l.created_at,
            l.pool_since,
            now,
            cal,
        );
        v
    }
}

/// What evaluation knows about an account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountFacts {
    pub account: Account,
    pub custom: BTreeMap<String, FieldValue>,
    /// The latest meaningful follow-up on the account or any of its opportunities.
    pub last_follow_up: Option<OffsetDateTime>,
    /// Its open, unarchived opportunities.
    pub open_opportunities: u32,
    pub pool_line: Option<UserId>,
}

impl AccountFacts {
    pub fn new(account: &Account, defs: &[CustomFieldDef]) -> AccountFacts {
        AccountFacts {
            custom: typed_custom(&account.custom, defs, RecordKind::Account),
            account: account.clone(),
            last_follow_up: None,
            open_opportunities: 0,
            pool_line: None,
        }
    }
}

impl Subject for AccountFacts {
    fn record(&self) -> super::RecordRef {
        super::RecordRef {
            record_type: super::RecordType::Account,
            id: self.account.id,
        }
    }
    fn title(&self) -> String {
        self.account.name.clone()
    }
    fn line_owner(&self) -> UserId {
        self.account.owner_id.or(self.pool_line).unwrap_or(0)
    }
    fn assigned(&self) -> bool {
        self.account.owner_id.is_some()
    }
    fn is_live(&self) -> bool {
        !self.account.archived
    }
    fn stage_id(&self) -> Option<StageId> {
        None
    }
    fn values(&self, now: OffsetDateTime, cal: &WorkCalendar) -> Values {
        use FieldValue as V;
        let a = &self.account;
        let mut v = Values::default();
        v.insert("name", V::Text(a.name.clone()));
        v.insert("industry", V::text(&a.industry));
        v.insert("region", V::text(&a.region));
        v.insert("size", V::opt(a.size, |s| V::Text(s.as_str().into())));
        v.insert("source", V::opt(a.source, |s| V::Text(s.as_str().into())));
        v.insert("owner", V::opt(a.owner_id, V::Id));
        v.insert("tags", V::List(a.tags.clone()));
        v.insert("archived", V::Bool(a.archived));
        v.insert("created_at", V::Instant(a.created_at));
        v.insert("open_opportunities", int(self.open_opportunities.into()));
        for (key, value) in &self.custom {
            v.insert(&format!("custom.{key}"), value.clone());
        }
        clocks(
            &mut v,
            self.last_follow_up,
            a.created_at,
            a.pool_since,
            now,
            cal,
        );
        v
    }
}

fn int(n: i64) -> FieldValue {
    FieldValue::Number(Number::int(n))
}

/// The follow-up and pool clocks every record kind has (as [`derive`] defines them).
fn clocks(
    v: &mut Values,
    last_follow_up: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    pool_since: Option<OffsetDateTime>,
    now: OffsetDateTime,
    cal: &WorkCalendar,
) {
    use FieldValue as V;
    let clock = last_follow_up.unwrap_or(created_at);
    v.insert("last_follow_up_at", V::opt(last_follow_up, V::Instant));
    v.insert(
        "days_since_follow_up",
        int((now - clock).whole_days().max(0)),
    );
    v.insert(
        "working_days_since_follow_up",
        int(crate::alerts::days_without_follow_up(
            last_follow_up,
            created_at,
            now,
            cal,
        )),
    );
    v.insert("unassigned_since", V::opt(pool_since, V::Instant));
    v.insert(
        "hours_unassigned",
        V::opt(pool_since, |t| int((now - t).whole_hours().max(0))),
    );
}
