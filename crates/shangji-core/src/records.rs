//! Create and update rules for the records other than opportunities. Each `apply_*`
//! function serves both create (applied to a blank record) and partial update.

use serde::Deserialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::credit_code;
use crate::error::FieldError;
use crate::input::{self, Field, LONG_TEXT, SHORT_TEXT};
use crate::model::*;

fn required<T>(field: &Field<T>, name: &str) -> Result<(), FieldError> {
    match field {
        Field::Value(_) => Ok(()),
        _ => Err(FieldError::new(
            name,
            "required",
            format!("{name} is required"),
        )),
    }
}

fn short(field: &str, value: Field<String>) -> Result<Field<String>, FieldError> {
    input::opt_text(field, value, SHORT_TEXT)
}

fn long(field: &str, value: Field<String>) -> Result<Field<String>, FieldError> {
    input::opt_text(field, value, LONG_TEXT)
}

fn tags(value: Field<Vec<String>>, target: &mut Vec<String>) -> Result<(), FieldError> {
    match value {
        Field::Absent => {}
        Field::Null => target.clear(),
        Field::Value(v) => *target = input::tags("tags", v)?,
    }
    Ok(())
}

fn opt_with(
    value: Field<String>,
    target: &mut Option<String>,
    check: impl FnOnce(String) -> Result<Option<String>, FieldError>,
) -> Result<(), FieldError> {
    match value {
        Field::Absent => {}
        Field::Null => *target = None,
        Field::Value(v) => *target = check(v)?,
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    #[serde(default)]
    pub name: Field<String>,
    /// 统一社会信用代码, 18 characters with a valid check character.
    #[serde(default)]
    pub credit_code: Field<String>,
    #[serde(default)]
    pub industry: Field<String>,
    #[serde(default)]
    pub region: Field<String>,
    #[serde(default)]
    pub size: Field<AccountSize>,
    #[serde(default)]
    pub source: Field<Source>,
    #[serde(default)]
    pub owner_id: Field<UserId>,
    #[serde(default)]
    pub tags: Field<Vec<String>>,
    #[serde(default)]
    pub address: Field<String>,
    #[serde(default)]
    pub notes: Field<String>,
    /// Custom field values by key; `null` clears one. Checked against the field definitions
    /// by `custom_fields::apply_values`, not by `apply_*`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomValues>,
    #[serde(default)]
    pub archived: Field<bool>,
    #[serde(default)]
    pub version: Option<i64>,
    /// Save even though the record looks like another one (a `possible_duplicate` answer);
    /// a blocked duplicate is refused all the same.
    #[serde(default)]
    pub allow_duplicate: bool,
}

pub fn blank_account(owner: UserId, now: OffsetDateTime) -> Account {
    Account {
        id: 0,
        name: String::new(),
        credit_code: None,
        industry: None,
        region: None,
        size: None,
        source: None,
        owner_id: Some(owner),
        pool_since: None,
        tags: vec![],
        address: None,
        notes: None,
        custom: CustomValues::new(),
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

pub fn apply_account(a: &mut Account, i: AccountInput, creating: bool) -> Result<(), FieldError> {
    if creating {
        required(&i.name, "name")?;
    }
    i.name
        .try_map(|n| input::required_text("name", n, SHORT_TEXT))?
        .apply_required(&mut a.name, "name")?;
    opt_with(i.credit_code, &mut a.credit_code, |c| {
        if c.trim().is_empty() {
            return Ok(None);
        }
        credit_code::validate(&c)
            .map(Some)
            .map_err(|e| FieldError::new("credit_code", e.code(), e.message()))
    })?;
    short("industry", i.industry)?.apply_opt(&mut a.industry);
    short("region", i.region)?.apply_opt(&mut a.region);
    i.size.apply_opt(&mut a.size);
    i.source.apply_opt(&mut a.source);
    i.owner_id.apply_opt(&mut a.owner_id);
    tags(i.tags, &mut a.tags)?;
    short("address", i.address)?.apply_opt(&mut a.address);
    long("notes", i.notes)?.apply_opt(&mut a.notes);
    i.archived.apply_required(&mut a.archived, "archived")?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub account_id: Field<AccountId>,
    #[serde(default)]
    pub name: Field<String>,
    #[serde(default)]
    pub mobile: Field<String>,
    #[serde(default)]
    pub phone: Field<String>,
    #[serde(default)]
    pub email: Field<String>,
    #[serde(default)]
    pub wechat: Field<String>,
    #[serde(default)]
    pub title: Field<String>,
    #[serde(default)]
    pub buying_role: Field<BuyingRole>,
    #[serde(default)]
    pub owner_id: Field<UserId>,
    /// Custom field values by key; `null` clears one. Checked against the field definitions
    /// by `custom_fields::apply_values`, not by `apply_*`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomValues>,
    #[serde(default)]
    pub archived: Field<bool>,
    #[serde(default)]
    pub version: Option<i64>,
    /// Save even though the record looks like another one (a `possible_duplicate` answer);
    /// a blocked duplicate is refused all the same.
    #[serde(default)]
    pub allow_duplicate: bool,
}

pub fn blank_contact(owner: UserId, now: OffsetDateTime) -> Contact {
    Contact {
        id: 0,
        account_id: None,
        name: String::new(),
        mobile: None,
        phone: None,
        email: None,
        wechat: None,
        title: None,
        buying_role: None,
        owner_id: Some(owner),
        custom: CustomValues::new(),
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

pub fn apply_contact(c: &mut Contact, i: ContactInput, creating: bool) -> Result<(), FieldError> {
    if creating {
        required(&i.name, "name")?;
    }
    i.account_id.apply_opt(&mut c.account_id);
    i.name
        .try_map(|n| input::required_text("name", n, SHORT_TEXT))?
        .apply_required(&mut c.name, "name")?;
    opt_with(i.mobile, &mut c.mobile, |v| input::phone("mobile", v, true))?;
    opt_with(i.phone, &mut c.phone, |v| input::phone("phone", v, false))?;
    opt_with(i.email, &mut c.email, |v| input::email("email", v))?;
    short("wechat", i.wechat)?.apply_opt(&mut c.wechat);
    short("title", i.title)?.apply_opt(&mut c.title);
    i.buying_role.apply_opt(&mut c.buying_role);
    i.owner_id.apply_opt(&mut c.owner_id);
    i.archived.apply_required(&mut c.archived, "archived")?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    #[serde(default)]
    pub source: Field<Source>,
    #[serde(default)]
    pub status: Field<LeadStatus>,
    #[serde(default)]
    pub company_name: Field<String>,
    #[serde(default)]
    pub contact_name: Field<String>,
    #[serde(default)]
    pub mobile: Field<String>,
    #[serde(default)]
    pub email: Field<String>,
    #[serde(default)]
    pub wechat: Field<String>,
    #[serde(default)]
    pub title: Field<String>,
    #[serde(default)]
    pub region: Field<String>,
    #[serde(default)]
    pub industry: Field<String>,
    #[serde(default)]
    pub notes: Field<String>,
    /// `null` leaves the lead in the public pool (公海).
    #[serde(default)]
    pub owner_id: Field<UserId>,
    /// Custom field values by key; `null` clears one. Checked against the field definitions
    /// by `custom_fields::apply_values`, not by `apply_*`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<CustomValues>,
    #[serde(default)]
    pub archived: Field<bool>,
    #[serde(default)]
    pub version: Option<i64>,
    /// Save even though the record looks like another one (a `possible_duplicate` answer);
    /// a blocked duplicate is refused all the same.
    #[serde(default)]
    pub allow_duplicate: bool,
}

pub fn blank_lead(now: OffsetDateTime) -> Lead {
    Lead {
        id: 0,
        source: None,
        status: LeadStatus::New,
        company_name: None,
        contact_name: None,
        mobile: None,
        email: None,
        wechat: None,
        title: None,
        region: None,
        industry: None,
        notes: None,
        owner_id: None,
        pool_since: Some(now),
        score: None,
        grade: None,
        custom: CustomValues::new(),
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

pub fn apply_lead(l: &mut Lead, i: LeadInput, creating: bool) -> Result<(), FieldError> {
    i.source.apply_opt(&mut l.source);
    i.status.apply_required(&mut l.status, "status")?;
    short("company_name", i.company_name)?.apply_opt(&mut l.company_name);
    short("contact_name", i.contact_name)?.apply_opt(&mut l.contact_name);
    opt_with(i.mobile, &mut l.mobile, |v| input::phone("mobile", v, true))?;
    opt_with(i.email, &mut l.email, |v| input::email("email", v))?;
    short("wechat", i.wechat)?.apply_opt(&mut l.wechat);
    short("title", i.title)?.apply_opt(&mut l.title);
    short("region", i.region)?.apply_opt(&mut l.region);
    short("industry", i.industry)?.apply_opt(&mut l.industry);
    long("notes", i.notes)?.apply_opt(&mut l.notes);
    i.owner_id.apply_opt(&mut l.owner_id);
    i.archived.apply_required(&mut l.archived, "archived")?;
    if creating && l.company_name.is_none() && l.contact_name.is_none() {
        return Err(FieldError::new(
            "company_name",
            "required",
            "a lead needs a company name or a contact name",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    #[serde(default)]
    pub kind: Field<ActivityType>,
    /// Defaults to now on create.
    #[serde(default, with = "rfc3339_field")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Field<OffsetDateTime>,
    #[serde(default)]
    pub summary: Field<String>,
    #[serde(default)]
    pub outcome: Field<String>,
    #[serde(default)]
    pub next_step: Field<String>,
    #[serde(default)]
    pub account_id: Field<AccountId>,
    #[serde(default)]
    pub contact_id: Field<ContactId>,
    #[serde(default)]
    pub opportunity_id: Field<OpportunityId>,
    #[serde(default)]
    pub lead_id: Field<LeadId>,
    #[serde(default)]
    pub archived: Field<bool>,
    #[serde(default)]
    pub version: Option<i64>,
}

mod rfc3339_field {
    use super::Field;
    use serde::{Deserialize, Deserializer};
    use time::OffsetDateTime;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Field<OffsetDateTime>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);
        Ok(match Option::<W>::deserialize(d)? {
            None => Field::Null,
            Some(W(t)) => Field::Value(t),
        })
    }
}

pub fn blank_activity(author: UserId, now: OffsetDateTime) -> Activity {
    Activity {
        id: 0,
        kind: ActivityType::Note,
        occurred_at: now,
        summary: String::new(),
        outcome: None,
        next_step: None,
        account_id: None,
        contact_id: None,
        opportunity_id: None,
        lead_id: None,
        author_id: author,
        customer_facing: false,
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

pub fn apply_activity(
    a: &mut Activity,
    i: ActivityInput,
    creating: bool,
) -> Result<(), FieldError> {
    if creating {
        required(&i.kind, "kind")?;
        required(&i.summary, "summary")?;
    }
    i.kind.apply_required(&mut a.kind, "kind")?;
    a.customer_facing = a.kind.is_customer_facing();
    if let Field::Value(t) = i.occurred_at {
        input::instant("occurred_at", t)?;
        if t > a.created_at + time::Duration::days(1) {
            return Err(FieldError::new(
                "occurred_at",
                "in_future",
                "a follow-up cannot be logged in the future",
            ));
        }
        a.occurred_at = t;
    } else if matches!(i.occurred_at, Field::Null) {
        return Err(FieldError::new(
            "occurred_at",
            "required",
            "occurred_at is required",
        ));
    }
    i.summary
        .try_map(|s| input::required_text("summary", s, LONG_TEXT))?
        .apply_required(&mut a.summary, "summary")?;
    long("outcome", i.outcome)?.apply_opt(&mut a.outcome);
    short("next_step", i.next_step)?.apply_opt(&mut a.next_step);
    i.account_id.apply_opt(&mut a.account_id);
    i.contact_id.apply_opt(&mut a.contact_id);
    i.opportunity_id.apply_opt(&mut a.opportunity_id);
    i.lead_id.apply_opt(&mut a.lead_id);
    i.archived.apply_required(&mut a.archived, "archived")?;
    if a.account_id.is_none()
        && a.contact_id.is_none()
        && a.opportunity_id.is_none()
        && a.lead_id.is_none()
    {
        return Err(FieldError::new(
            "opportunity_id",
            "required",
            "a follow-up must be linked to an account, contact, opportunity or lead",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    #[serde(default)]
    pub title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Field<Date>,
    #[serde(default)]
    pub assignee_id: Field<UserId>,
    #[serde(default)]
    pub done: Field<bool>,
    #[serde(default)]
    pub record_kind: Field<RecordKind>,
    #[serde(default)]
    pub record_id: Field<Id>,
    #[serde(default)]
    pub archived: Field<bool>,
    #[serde(default)]
    pub version: Option<i64>,
}

pub fn blank_task(assignee: UserId, now: OffsetDateTime) -> Task {
    Task {
        id: 0,
        title: String::new(),
        due_date: None,
        assignee_id: assignee,
        done: false,
        done_at: None,
        record_kind: None,
        record_id: None,
        action_key: None,
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

pub fn apply_task(
    t: &mut Task,
    i: TaskInput,
    creating: bool,
    now: OffsetDateTime,
) -> Result<(), FieldError> {
    if creating {
        required(&i.title, "title")?;
    }
    i.title
        .try_map(|s| input::required_text("title", s, SHORT_TEXT))?
        .apply_required(&mut t.title, "title")?;
    input::opt_date("due_date", i.due_date)?.apply_opt(&mut t.due_date);
    i.assignee_id
        .apply_required(&mut t.assignee_id, "assignee_id")?;
    let was_done = t.done;
    i.done.apply_required(&mut t.done, "done")?;
    if t.done != was_done {
        t.done_at = t.done.then_some(now);
    }
    i.record_kind.apply_opt(&mut t.record_kind);
    i.record_id.apply_opt(&mut t.record_id);
    if t.record_kind.is_some() != t.record_id.is_some() {
        return Err(FieldError::new(
            "record_id",
            "incomplete_link",
            "record_kind and record_id must be given together",
        ));
    }
    i.archived.apply_required(&mut t.archived, "archived")?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    #[serde(default)]
    pub name: Field<String>,
    #[serde(default)]
    pub parent_id: Field<TeamId>,
    #[serde(default)]
    pub archived: Field<bool>,
    /// The regions whose public-pool leads and accounts the team's people see
    /// (`visibility::PoolRegions`); `[]` or `null`: none of its own.
    #[serde(default)]
    pub regions: Field<Vec<String>>,
}

pub fn apply_team(
    t: &mut Team,
    i: TeamInput,
    creating: bool,
    teams: &[Team],
) -> Result<(), FieldError> {
    if creating {
        required(&i.name, "name")?;
    }
    i.name
        .try_map(|n| input::required_text("name", n, 100))?
        .apply_required(&mut t.name, "name")?;
    i.parent_id.apply_opt(&mut t.parent_id);
    if let Some(parent) = t.parent_id {
        if !teams.iter().any(|x| x.id == parent) {
            return Err(FieldError::new(
                "parent_id",
                "not_found",
                format!("team {parent} does not exist"),
            ));
        }
        if t.id != 0 && crate::visibility::subtree(teams, t.id).contains(&parent) {
            return Err(FieldError::new(
                "parent_id",
                "cycle",
                "a team cannot be placed under itself",
            ));
        }
    }
    i.archived.apply_required(&mut t.archived, "archived")?;
    match i.regions {
        Field::Absent => {}
        Field::Null => t.regions.clear(),
        Field::Value(list) => t.regions = input::tags("regions", list)?,
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    #[serde(default)]
    pub login: Field<String>,
    #[serde(default)]
    pub display_name: Field<String>,
    #[serde(default)]
    pub email: Field<String>,
    #[serde(default)]
    pub mobile: Field<String>,
    #[serde(default)]
    pub role: Field<Role>,
    #[serde(default)]
    pub team_id: Field<TeamId>,
    #[serde(default)]
    pub active: Field<bool>,
    #[serde(default)]
    pub leaves: Field<Vec<Leave>>,
    #[serde(default)]
    pub language: Field<Language>,
    /// On create, by an admin, or by the user themselves with `current_password`; at
    /// least 8 characters.
    #[serde(default)]
    pub password: Field<String>,
    /// The user's present password: required when a user changes their own password.
    #[serde(default)]
    pub current_password: Field<String>,
}

pub fn blank_user(now: OffsetDateTime) -> User {
    User {
        id: 0,
        login: String::new(),
        display_name: String::new(),
        email: None,
        mobile: None,
        role: Role::Rep,
        team_id: None,
        active: true,
        leaves: vec![],
        language: None,
        created_at: now,
    }
}

pub fn validate_login(login: &str) -> Result<String, FieldError> {
    let l = login.trim().to_lowercase();
    let ok = (2..=64).contains(&l.chars().count())
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if !ok {
        return Err(FieldError::new(
            "login",
            "invalid_login",
            "a login has 2 to 64 letters, digits, dots, dashes, underscores or @",
        ));
    }
    Ok(l)
}

pub fn validate_password(p: &str) -> Result<(), FieldError> {
    if p.chars().count() < 8 {
        return Err(FieldError::new(
            "password",
            "weak_password",
            "a password has at least 8 characters",
        ));
    }
    if p.len() > 1024 {
        return Err(FieldError::new(
            "password",
            "too_long",
            "a password has at most 1024 bytes",
        ));
    }
    Ok(())
}

/// Applies a user body; returns the new password (to be hashed) if one was given.
pub fn apply_user(
    u: &mut User,
    i: UserInput,
    creating: bool,
) -> Result<Option<String>, FieldError> {
    if creating {
        required(&i.login, "login")?;
    } else if !i.login.is_absent() {
        return Err(FieldError::new(
            "login",
            "read_only",
            "a login cannot be changed",
        ));
    }
    if let Field::Value(l) = i.login {
        u.login = validate_login(&l)?;
    }
    i.display_name
        .try_map(|n| input::required_text("display_name", n, 100))?
        .apply_required(&mut u.display_name, "display_name")?;
    if u.display_name.is_empty() {
        u.display_name = u.login.clone();
    }
    opt_with(i.email, &mut u.email, |v| input::email("email", v))?;
    opt_with(i.mobile, &mut u.mobile, |v| input::phone("mobile", v, true))?;
    i.role.apply_required(&mut u.role, "role")?;
    i.team_id.apply_opt(&mut u.team_id);
    i.active.apply_required(&mut u.active, "active")?;
    if let Field::Value(leaves) = &i.leaves {
        for (n, l) in leaves.iter().enumerate() {
            input::date(&format!("leaves[{n}].from"), l.from)?;
            input::date(&format!("leaves[{n}].to"), l.to)?;
        }
        if let Some(bad) = leaves.iter().position(|l| l.to < l.from) {
            return Err(FieldError::new(
                &format!("leaves[{bad}]"),
                "invalid_range",
                "a leave ends before it starts",
            ));
        }
    }
    match i.leaves {
        Field::Absent => {}
        Field::Null => u.leaves.clear(),
        Field::Value(l) => u.leaves = l,
    }
    i.language.apply_opt(&mut u.language);
    Ok(match i.password {
        Field::Value(p) => {
            validate_password(&p)?;
            Some(p)
        }
        _ => None,
    })
}
