//! The column table of each record kind: built-in columns and the kind's custom fields,
//! and each column's cell of a record, typed so that an export keeps numbers, money and dates.

use std::collections::HashMap;

use shangji_core::custom_fields::CustomFieldDef;
use shangji_core::model::*;
use shangji_core::Money;
use shangji_store::Directory;
use time::{Date, OffsetDateTime};

use crate::i18n::Tr;
use crate::ops::Resource;

use super::ListKind;

/// A column of a list: its key (also the `cols` parameter's value), the key of its label,
/// the column it sorts by, and whether it is shown before the user chooses.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub sort: Option<&'static str>,
    pub default: bool,
}

const fn col(key: &'static str, sort: Option<&'static str>, default: bool) -> Column {
    Column {
        key,
        label: key,
        sort,
        default,
    }
}

/// A column as shown: built-in or a custom field, its label in the user's language.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub key: String,
    pub label: String,
    pub sort: Option<&'static str>,
    pub default: bool,
    /// The custom field, for a `cf.<key>` column.
    pub custom: Option<CustomFieldDef>,
}

/// One value of a row, typed so that an export keeps numbers, money and dates as such.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// Text that links to a record.
    Link(String, String),
    Int(i64),
    Money(Money),
    Date(Date),
    Time(OffsetDateTime),
    Bool(bool),
}

impl Cell {
    /// The cell as people read it.
    pub fn text(&self, tr: Tr) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) | Cell::Link(t, _) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Money(m) => tr.money(m),
            Cell::Date(d) => d.to_string(),
            Cell::Time(t) => tr.datetime(*t),
            Cell::Bool(b) => tr.t(if *b { "value.yes" } else { "value.no" }).to_string(),
        }
    }

    pub fn href(&self) -> Option<&str> {
        match self {
            Cell::Link(_, h) => Some(h),
            _ => None,
        }
    }

    /// Money and numbers are right-aligned.
    pub fn numeric(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Money(_))
    }
}

/// What rows need to show names rather than ids.
pub struct Env<'a> {
    pub tr: Tr,
    pub dir: &'a Directory,
    pub users: &'a [User],
    /// Names of the accounts the rows link to (only those the viewer may read).
    pub accounts: HashMap<i64, String>,
    /// Titles of the deals the rows link to (only those the viewer may read).
    pub opportunities: HashMap<i64, String>,
}

impl Env<'_> {
    fn user(&self, id: Option<UserId>) -> Cell {
        match id {
            None => Cell::Text(self.tr.t("lists.pool").to_string()),
            Some(id) => Cell::Text(
                self.users
                    .iter()
                    .find(|u| u.id == id)
                    .map_or_else(|| format!("#{id}"), |u| u.display_name.clone()),
            ),
        }
    }

    fn account(&self, id: Option<AccountId>) -> Cell {
        match id.and_then(|id| self.accounts.get(&id).map(|n| (id, n))) {
            Some((id, name)) => Cell::Link(name.clone(), format!("/accounts/{id}")),
            None => Cell::Empty,
        }
    }

    fn stage(&self, id: StageId) -> Cell {
        Cell::Text(
            self.dir
                .pipelines
                .iter()
                .find_map(|p| p.stage(id))
                .map_or_else(|| format!("#{id}"), |s| s.name(self.tr.lang).to_string()),
        )
    }

    /// A closed-set value by its label key `<prefix>.<value>`.
    fn label(&self, prefix: &str, value: Option<&str>) -> Cell {
        match value {
            None => Cell::Empty,
            Some(v) => Cell::Text(
                self.tr
                    .get(&format!("{prefix}.{v}"))
                    .map_or_else(|| v.to_string(), str::to_string),
            ),
        }
    }
}

fn text(v: &Option<String>) -> Cell {
    v.as_ref()
        .filter(|s| !s.is_empty())
        .map_or(Cell::Empty, |s| Cell::Text(s.clone()))
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
    v.map_or(Cell::Empty, f)
}

/// A record kind with a list page.
pub trait Listed: Resource {
    const KIND: ListKind;
    const COLUMNS: &'static [Column];
    /// The column that names a row (the first shown, linking to the record).
    fn cell(&self, key: &str, env: &Env) -> Cell;
    /// The record's own page.
    fn href(&self) -> String {
        format!("/{}/{}", Self::KIND.path(), self.id())
    }
    /// The row as the bulk report names it.
    fn title(&self) -> String;
    /// The account the row links to, if any (its name is read once per page).
    fn account_ref(&self) -> Option<AccountId> {
        None
    }
    /// The deal the row links to, if any (its title is read once per page).
    fn opportunity_ref(&self) -> Option<OpportunityId> {
        None
    }
    fn custom_values(&self) -> Option<&CustomValues> {
        None
    }
}

impl Listed for Opportunity {
    const KIND: ListKind = ListKind::Opportunities;
    const COLUMNS: &'static [Column] = &[
        col("title", Some("title"), true),
        col("account", None, true),
        col("stage", None, true),
        col("amount", Some("amount_minor"), true),
        col("close_date", Some("close_date"), true),
        col("owner", None, true),
        col("probability", Some("probability"), false),
        col("status", None, false),
        col("grade", None, false),
        col("source", None, false),
        col("forecast_category", None, false),
        col("next_step", None, false),
        col("tags", None, false),
        col("created_at", Some("created_at"), false),
        col("updated_at", Some("updated_at"), false),
    ];
    fn cell(&self, key: &str, env: &Env) -> Cell {
        match key {
            "title" => Cell::Link(self.title.clone(), self.href()),
            "account" => env.account(Some(self.account_id)),
            "stage" => env.stage(self.stage_id),
            "amount" => Cell::Money(self.amount.clone()),
            "close_date" => opt(self.close_date, Cell::Date),
            "owner" => env.user(Some(self.owner_id)),
            "probability" => Cell::Int(self.probability.into()),
            "status" => env.label("kind", Some(self.status.as_str())),
            "grade" => opt(self.grade, |g| Cell::Text(g.as_str().to_uppercase())),
            "source" => env.label("source", self.source.map(|s| s.as_str())),
            "forecast_category" => env.label("forecast", Some(self.forecast_category.as_str())),
            "next_step" => text(&self.next_step),
            "tags" => Cell::Text(self.tags.join(", ")),
            "created_at" => Cell::Time(self.created_at),
            "updated_at" => Cell::Time(self.updated_at),
            _ => Cell::Empty,
        }
    }
    fn title(&self) -> String {
        self.title.clone()
    }
    fn account_ref(&self) -> Option<AccountId> {
        Some(self.account_id)
    }
    fn custom_values(&self) -> Option<&CustomValues> {
        Some(&self.custom)
    }
}

impl Listed for Account {
    const KIND: ListKind = ListKind::Accounts;
    const COLUMNS: &'static [Column] = &[
        col("name", Some("name"), true),
        col("credit_code", None, false),
        col("industry", Some("industry"), true),
        col("region", Some("region"), true),
        col("size", None, false),
        col("source", None, false),
        col("owner", None, true),
        col("tags", None, true),
        col("created_at", Some("created_at"), false),
        col("updated_at", Some("updated_at"), true),
    ];
    fn cell(&self, key: &str, env: &Env) -> Cell {
        match key {
            "name" => Cell::Link(self.name.clone(), self.href()),
            "credit_code" => text(&self.credit_code),
            "industry" => text(&self.industry),
            "region" => text(&self.region),
            "size" => env.label("lists.size", self.size.map(|s| s.as_str())),
            "source" => env.label("source", self.source.map(|s| s.as_str())),
            "owner" => env.user(self.owner_id),
            "tags" => Cell::Text(self.tags.join(", ")),
            "created_at" => Cell::Time(self.created_at),
            "updated_at" => Cell::Time(self.updated_at),
            _ => Cell::Empty,
        }
    }
    fn title(&self) -> String {
        self.name.clone()
    }
    fn custom_values(&self) -> Option<&CustomValues> {
        Some(&self.custom)
    }
}

impl Listed for Contact {
    const KIND: ListKind = ListKind::Contacts;
    const COLUMNS: &'static [Column] = &[
        col("name", Some("name"), true),
        col("account", None, true),
        col("mobile", None, true),
        col("email", None, true),
        col("job_title", None, true),
        col("buying_role", None, false),
        col("wechat", None, false),
        col("owner", None, true),
        col("created_at", Some("created_at"), false),
        col("updated_at", Some("updated_at"), false),
    ];
    fn cell(&self, key: &str, env: &Env) -> Cell {
        match key {
            "name" => Cell::Link(self.name.clone(), self.href()),
            "account" => env.account(self.account_id),
            "mobile" => text(&self.mobile),
            "email" => text(&self.email),
            "job_title" => text(&self.title),
            "buying_role" => env.label("lists.role", self.buying_role.map(|r| r.as_str())),
            "wechat" => text(&self.wechat),
            "owner" => env.user(self.owner_id),
            "created_at" => Cell::Time(self.created_at),
            "updated_at" => Cell::Time(self.updated_at),
            _ => Cell::Empty,
        }
    }
    fn title(&self) -> String {
        self.name.clone()
    }
    fn account_ref(&self) -> Option<AccountId> {
        self.account_id
    }
    fn custom_values(&self) -> Option<&CustomValues> {
        Some(&self.custom)
    }
}

impl Listed for Lead {
    const KIND: ListKind = ListKind::Leads;
    const COLUMNS: &'static [Column] = &[
        col("company_name", Some("company_name"), true),
        col("contact_name", None, true),
        col("mobile", None, true),
        col("email", None, false),
        col("lead_status", None, true),
        col("source", None, true),
        col("region", None, false),
        col("industry", None, false),
        col("score", Some("score"), true),
        col("lead_grade", None, true),
        col("owner", None, true),
        col("created_at", Some("created_at"), true),
        col("updated_at", Some("updated_at"), false),
    ];
    fn cell(&self, key: &str, env: &Env) -> Cell {
        match key {
            "company_name" => Cell::Link(self.title(), self.href()),
            "contact_name" => text(&self.contact_name),
            "mobile" => text(&self.mobile),
            "email" => text(&self.email),
            "lead_status" => env.label("lists.lead", Some(self.status.as_str())),
            "source" => env.label("source", self.source.map(|s| s.as_str())),
            "region" => text(&self.region),
            "industry" => text(&self.industry),
            "score" => opt(self.score, |s| Cell::Int(s.into())),
            "lead_grade" => opt(self.grade, |g| Cell::Text(g.as_str().to_uppercase())),
            "owner" => env.user(self.owner_id),
            "created_at" => Cell::Time(self.created_at),
            "updated_at" => Cell::Time(self.updated_at),
            _ => Cell::Empty,
        }
    }
    fn title(&self) -> String {
        self.company_name
            .clone()
            .or_else(|| self.contact_name.clone())
            .unwrap_or_else(|| format!("#{}", self.id))
    }
    fn custom_values(&self) -> Option<&CustomValues> {
        Some(&self.custom)
    }
}

impl Listed for Activity {
    const KIND: ListKind = ListKind::Activities;
    const COLUMNS: &'static [Column] = &[
        col("occurred_at", Some("occurred_at"), true),
        col("activity_kind", None, true),
        col("summary", None, true),
        col("outcome", None, false),
        col("next_step", None, false),
        col("account", None, true),
        col("author", None, true),
        col("customer_facing", None, false),
        col("created_at", Some("created_at"), false),
    ];
    fn cell(&self, key: &str, env: &Env) -> Cell {
        match key {
            "occurred_at" => Cell::Time(self.occurred_at),
            "activity_kind" => env.label("lists.activity", Some(self.kind.as_str())),
            "summary" => match self.opportunity_id {
                Some(o) => Cell::Link(self.summary.clone(), format!("/opportunities/{o}")),
                None => Cell::Text(self.summary.clone()),
            },
            "outcome" => text(&self.outcome),
            "next_step" => text(&self.next_step),
            "account" => env.account(self.account_id),
            "author" => env.user(Some(self.author_id)),
            "customer_facing" => Cell::Bool(self.customer_facing),
            "created_at" => Cell::Time(self.created_at),
            _ => Cell::Empty,
        }
    }
    fn title(&self) -> String {
        self.summary.clone()
    }
    fn account_ref(&self) -> Option<AccountId> {
        self.account_id
    }
}

impl Listed for Task {
    const KIND: ListKind = ListKind::Tasks;
    const COLUMNS: &'static [Column] = &[
        col("task_title", Some("title"), true),
        col("due_date", Some("due_date"), true),
        col("assignee", None, true),
        col("done", None, true),
        col("record", None, true),
        col("created_at", Some("created_at"), false),
        col("updated_at", Some("updated_at"), false),
    ];
    fn cell(&self, key: &str, env: &Env) -> Cell {
        match key {
            "task_title" => Cell::Text(self.title.clone()),
            "due_date" => opt(self.due_date, Cell::Date),
            "assignee" => env.user(Some(self.assignee_id)),
            "done" => Cell::Bool(self.done),
            "record" => match (self.record_kind, self.record_id) {
                (Some(RecordKind::Opportunity), Some(id)) => Cell::Link(
                    env.opportunities
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("{} #{id}", env.tr.t("lists.kind.opportunity"))),
                    format!("/opportunities/{id}"),
                ),
                (Some(k), Some(id)) => Cell::Text(format!(
                    "{} #{id}",
                    env.tr.t(&format!("lists.kind.{}", k.as_str()))
                )),
                _ => Cell::Empty,
            },
            "created_at" => Cell::Time(self.created_at),
            "updated_at" => Cell::Time(self.updated_at),
            _ => Cell::Empty,
        }
    }
    fn title(&self) -> String {
        self.title.clone()
    }
    fn opportunity_ref(&self) -> Option<OpportunityId> {
        match (self.record_kind, self.record_id) {
            (Some(RecordKind::Opportunity), id) => id,
            _ => None,
        }
    }
}

/// Every column of a kind: the built-in ones, then one per custom field not archived.
pub fn columns<T: Listed>(tr: Tr, dir: &Directory) -> Vec<ColumnDef> {
    let mut out: Vec<ColumnDef> = T::COLUMNS
        .iter()
        .map(|c| ColumnDef {
            key: c.key.to_string(),
            label: tr.t(&format!("lists.col.{}", c.label)).to_string(),
            sort: c.sort,
            default: c.default,
            custom: None,
        })
        .collect();
    if let Some(kind) = T::CUSTOM {
        for d in dir.custom_fields_of(kind).filter(|d| !d.archived) {
            let label = if tr.is_zh() { &d.label_zh } else { &d.label_en };
            out.push(ColumnDef {
                key: format!("cf.{}", d.key),
                label: if label.trim().is_empty() {
                    d.key.clone()
                } else {
                    label.clone()
                },
                sort: None,
                default: false,
                custom: Some(d.clone()),
            });
        }
    }
    out
}
