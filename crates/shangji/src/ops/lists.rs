//! Lists of every record kind as people read them: one column table per kind (built-in
//! columns and the kind's custom fields), the table of a page of any list, exports of a list
//! as CSV and XLSX with the chosen columns, saved views, bulk changes (each record through
//! the same operation as a single change), the search box, and working a lead (qualify into
//! account, contact and opportunity in one transaction, or disqualify with a reason).
//!
//! The list's parameters are read by [`super::list_query`], as for the API, so a filter means
//! the same on every path; the page's own parameters (`cols`, `view`) are taken out first.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shangji_core::custom_fields::{self, CustomFieldDef};
use shangji_core::model::*;
use shangji_core::opportunity::{self, MoveInput, OpportunityInput};
use shangji_core::records::{AccountInput, ContactInput};
use shangji_core::{FieldError, Money};
use shangji_store::{
    Db, Directory, LeadOutcome, Match, NewAccount, NewContact, NewOpportunity, SavedView,
    StoreError,
};
use time::{Date, OffsetDateTime};

use super::{
    apply_custom, check_owner, check_version, for_update, list_query, pipeline_for, Ctx, Record,
    Resource,
};
use crate::error::AppError;
use crate::i18n::{Tr, DISPLAY_OFFSET};

/// The record kinds with a list page, by the word of their path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Opportunities,
    Accounts,
    Contacts,
    Leads,
    Activities,
    Tasks,
}

impl ListKind {
    pub const ALL: [ListKind; 6] = [
        ListKind::Opportunities,
        ListKind::Accounts,
        ListKind::Contacts,
        ListKind::Leads,
        ListKind::Activities,
        ListKind::Tasks,
    ];

    pub fn path(self) -> &'static str {
        match self {
            ListKind::Opportunities => "opportunities",
            ListKind::Accounts => "accounts",
            ListKind::Contacts => "contacts",
            ListKind::Leads => "leads",
            ListKind::Activities => "activities",
            ListKind::Tasks => "tasks",
        }
    }

    pub fn parse(word: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|k| k.path() == word)
    }

    /// Whose records a bulk reassignment changes: the owner (assignee of a task); a
    /// follow-up keeps its author.
    pub fn reassignable(self) -> bool {
        self != ListKind::Activities
    }

    pub fn has_tags(self) -> bool {
        matches!(self, ListKind::Opportunities | ListKind::Accounts)
    }
}

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
        col("score", Some("score"), false),
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
                    format!("{} #{id}", env.tr.t("lists.kind.opportunity")),
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

/// The parameters of a list page, split: the list's filters, sort and page (for
/// [`list_query`]) and the chosen columns. Empty values (a filter left blank) are dropped.
pub struct PageParams {
    pub filters: Vec<(String, String)>,
    pub cols: Vec<String>,
}

pub fn split_params(params: &[(String, String)]) -> PageParams {
    let mut filters = Vec::new();
    let mut cols = Vec::new();
    for (k, v) in params {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "cols" => cols.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            ),
            "view" | "format" | "csrf" => {}
            _ => filters.push((k.clone(), v.to_string())),
        }
    }
    PageParams { filters, cols }
}

/// The columns to show: those chosen that exist, in the table's order; the defaults when
/// none is chosen.
pub fn chosen(all: &[ColumnDef], cols: &[String]) -> Vec<ColumnDef> {
    let picked: Vec<ColumnDef> = all
        .iter()
        .filter(|c| cols.contains(&c.key))
        .cloned()
        .collect();
    if picked.is_empty() {
        all.iter().filter(|c| c.default).cloned().collect()
    } else {
        picked
    }
}

/// A row of a list.
pub struct Row {
    pub id: i64,
    pub cells: Vec<Cell>,
}

/// A page of a list as a table.
pub struct Table {
    pub all: Vec<ColumnDef>,
    pub columns: Vec<ColumnDef>,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// The sort column and direction in force.
    pub sort: &'static str,
    pub desc: bool,
}

async fn env<'a, T: Listed>(
    db: &Db,
    ctx: &'a Ctx,
    tr: Tr,
    users: &'a [User],
    items: &[T],
) -> Result<Env<'a>, AppError> {
    let mut ids: Vec<i64> = items.iter().filter_map(T::account_ref).collect();
    ids.sort_unstable();
    ids.dedup();
    let accounts = db
        .names_in_scope::<Account>(&ctx.scope, "name", &ids)
        .await?
        .into_iter()
        .collect();
    Ok(Env {
        tr,
        dir: &ctx.dir,
        users,
        accounts,
    })
}

fn row<T: Listed>(r: &T, columns: &[ColumnDef], env: &Env) -> Row {
    Row {
        id: r.id(),
        cells: columns
            .iter()
            .map(|c| match &c.custom {
                Some(d) => {
                    let v = r
                        .custom_values()
                        .and_then(|m| m.get(&d.key))
                        .cloned()
                        .unwrap_or(serde_json::Value::Null);
                    match custom_fields::display_text(d, &v) {
                        t if t.is_empty() => Cell::Empty,
                        t => Cell::Text(t),
                    }
                }
                None => r.cell(&c.key, env),
            })
            .collect(),
    }
}

/// A page of a list, within the viewer's scope, as a table of the chosen columns.
pub async fn table<T: Listed>(
    db: &Db,
    ctx: &Ctx,
    tr: Tr,
    params: &[(String, String)],
) -> Result<Table, AppError> {
    let p = split_params(params);
    let q = list_query::<T>(&p.filters, &ctx.dir)?;
    let all = columns::<T>(tr, &ctx.dir);
    let columns = chosen(&all, &p.cols);
    let page = db.list::<T>(&ctx.scope, &q).await?;
    let users = db.users().await?;
    let env = env(db, ctx, tr, &users, &page.items).await?;
    let rows = page.items.iter().map(|r| row(r, &columns, &env)).collect();
    Ok(Table {
        all,
        columns,
        rows,
        total: page.total,
        page: q.offset / q.limit.max(1) + 1,
        per_page: q.limit,
        sort: q.sort,
        desc: q.desc,
    })
}

/// The format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// Every row of a list (its filters and sort, within the viewer's scope) with the chosen
/// columns, labelled in the user's language: CSV (UTF-8 with a byte-order mark, for Excel)
/// or XLSX (money as a number with a currency column beside it, dates and times as dates).
pub async fn export<T: Listed>(
    db: &Db,
    ctx: &Ctx,
    tr: Tr,
    params: &[(String, String)],
    format: Format,
) -> Result<Vec<u8>, AppError> {
    let p = split_params(params);
    let filters: Vec<(String, String)> = p
        .filters
        .into_iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let mut q = list_query::<T>(&filters, &ctx.dir)?;
    q.limit = 1000;
    let all = columns::<T>(tr, &ctx.dir);
    let columns = chosen(&all, &p.cols);
    let users = db.users().await?;
    let mut rows: Vec<Row> = Vec::new();
    loop {
        let page = db.list::<T>(&ctx.scope, &q).await?;
        let env = env(db, ctx, tr, &users, &page.items).await?;
        rows.extend(page.items.iter().map(|r| row(r, &columns, &env)));
        q.offset += q.limit;
        if page.items.len() < q.limit as usize {
            break;
        }
    }
    match format {
        Format::Csv => csv_of(tr, &columns, &rows),
        Format::Xlsx => xlsx_of(tr, &columns, &rows),
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// The header: a money column is followed by its currency.
fn header(tr: Tr, columns: &[ColumnDef], rows: &[Row]) -> Vec<(String, bool)> {
    columns
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let money = rows.iter().any(|r| matches!(r.cells[i], Cell::Money(_)));
            let mut v = vec![(c.label.clone(), false)];
            if money {
                v.push((tr.t("lists.col.currency").to_string(), true));
            }
            v
        })
        .collect()
}

fn csv_of(tr: Tr, columns: &[ColumnDef], rows: &[Row]) -> Result<Vec<u8>, AppError> {
    let head = header(tr, columns, rows);
    let money_cols: Vec<bool> = (0..columns.len())
        .map(|i| rows.iter().any(|r| matches!(r.cells[i], Cell::Money(_))))
        .collect();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(head.iter().map(|(l, _)| l))
        .map_err(internal)?;
    for r in rows {
        let mut line = Vec::new();
        for (i, c) in r.cells.iter().enumerate() {
            match c {
                Cell::Money(m) => {
                    line.push(m.format_major().replace(',', ""));
                    line.push(m.currency.clone());
                }
                Cell::Time(t) => line.push(tr.datetime(*t)),
                other => {
                    line.push(other.text(tr));
                    if money_cols[i] {
                        line.push(String::new());
                    }
                }
            }
        }
        out.write_record(&line).map_err(internal)?;
    }
    out.into_inner().map_err(internal)
}

fn xlsx_of(tr: Tr, columns: &[ColumnDef], rows: &[Row]) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Workbook};
    let head = header(tr, columns, rows);
    let money_cols: Vec<bool> = (0..columns.len())
        .map(|i| rows.iter().any(|r| matches!(r.cells[i], Cell::Money(_))))
        .collect();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = XFormat::new().set_bold();
    let date = XFormat::new().set_num_format("yyyy-mm-dd");
    let time = XFormat::new().set_num_format("yyyy-mm-dd hh:mm");
    let money = XFormat::new().set_num_format("#,##0.00");
    for (i, (label, _)) in head.iter().enumerate() {
        sheet
            .write_string_with_format(0, i as u16, label, &bold)
            .map_err(internal)?;
        sheet.set_column_width(i as u16, 16).map_err(internal)?;
    }
    for (n, r) in rows.iter().enumerate() {
        let y = n as u32 + 1;
        let mut x: u16 = 0;
        for (i, c) in r.cells.iter().enumerate() {
            match c {
                Cell::Empty => {}
                Cell::Text(t) | Cell::Link(t, _) => {
                    sheet.write_string(y, x, t).map_err(internal)?;
                }
                Cell::Int(v) => {
                    sheet.write_number(y, x, *v as f64).map_err(internal)?;
                }
                Cell::Money(m) => {
                    // A spreadsheet number is a double; the amount is exact to the fen up
                    // to 2^53 fen.
                    let major = m.amount_minor as f64 / 100.0;
                    sheet
                        .write_number_with_format(y, x, major, &money)
                        .map_err(internal)?;
                    sheet
                        .write_string(y, x + 1, &m.currency)
                        .map_err(internal)?;
                }
                Cell::Date(d) => {
                    let dt = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day())
                        .map_err(internal)?;
                    sheet
                        .write_datetime_with_format(y, x, &dt, &date)
                        .map_err(internal)?;
                }
                Cell::Time(t) => {
                    let l = t.to_offset(DISPLAY_OFFSET);
                    let dt = ExcelDateTime::from_ymd(l.year() as u16, l.month() as u8, l.day())
                        .and_then(|d| d.and_hms(u16::from(l.hour()), l.minute(), l.second()))
                        .map_err(internal)?;
                    sheet
                        .write_datetime_with_format(y, x, &dt, &time)
                        .map_err(internal)?;
                }
                Cell::Bool(b) => {
                    sheet.write_boolean(y, x, *b).map_err(internal)?;
                }
            }
            x += if money_cols[i] { 2 } else { 1 };
        }
    }
    book.save_to_buffer().map_err(internal)
}

// ---- Saved views. ----

/// A view to save: the list it belongs to, its name, and the list's query string.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewInput {
    /// opportunities, accounts, contacts, leads, activities or tasks.
    pub kind: String,
    pub name: String,
    /// The list's query string (filters, `sort`, `cols`), as in the list page's address.
    #[serde(default)]
    pub query: String,
}

/// A query string's pairs, decoded (`+` is a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// A query string of pairs, encoded.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Checks a list's parameters as the list would read them.
pub fn check_params(
    kind: ListKind,
    params: &[(String, String)],
    dir: &Directory,
) -> Result<(), AppError> {
    let p = split_params(params);
    match kind {
        ListKind::Opportunities => list_query::<Opportunity>(&p.filters, dir).map(|_| ()),
        ListKind::Accounts => list_query::<Account>(&p.filters, dir).map(|_| ()),
        ListKind::Contacts => list_query::<Contact>(&p.filters, dir).map(|_| ()),
        ListKind::Leads => list_query::<Lead>(&p.filters, dir).map(|_| ()),
        ListKind::Activities => list_query::<Activity>(&p.filters, dir).map(|_| ()),
        ListKind::Tasks => list_query::<Task>(&p.filters, dir).map(|_| ()),
    }
}

fn kind_of(word: &str) -> Result<ListKind, AppError> {
    ListKind::parse(word).ok_or_else(|| {
        AppError::invalid(
            "kind",
            "invalid_value",
            "kind is one of opportunities, accounts, contacts, leads, activities, tasks",
        )
    })
}

/// The caller's saved views, of one list or of all.
pub async fn views(db: &Db, ctx: &Ctx, kind: Option<&str>) -> Result<Vec<SavedView>, AppError> {
    if let Some(k) = kind {
        kind_of(k).map_err(|e| match e {
            AppError::Invalid(f) => AppError::BadRequest(f),
            e => e,
        })?;
    }
    Ok(db.saved_views(ctx.actor.user_id, kind).await?)
}

/// Saves the caller's view under a name of their own for that list. The query is read as
/// the list reads it, so a view that could not be opened is not saved; the page number is
/// not kept.
pub async fn create_view(db: &Db, ctx: &Ctx, input: ViewInput) -> Result<SavedView, AppError> {
    let kind = kind_of(input.kind.trim())?;
    let name = input.name.trim().to_string();
    if name.is_empty() {
        return Err(AppError::invalid("name", "required", "a view needs a name"));
    }
    if name.chars().count() > 60 {
        return Err(AppError::invalid(
            "name",
            "too_long",
            "a view's name has at most 60 characters",
        ));
    }
    if input.query.len() > 4000 {
        return Err(AppError::invalid(
            "query",
            "too_long",
            "the query has at most 4000 characters",
        ));
    }
    let pairs: Vec<(String, String)> = parse_query(&input.query)
        .into_iter()
        .filter(|(k, v)| !v.trim().is_empty() && !["page", "view", "csrf"].contains(&k.as_str()))
        .collect();
    check_params(kind, &pairs, &ctx.dir).map_err(|e| match e {
        AppError::BadRequest(f) | AppError::Invalid(f) => {
            AppError::invalid("query", &f.code, f.message)
        }
        e => e,
    })?;
    let mut view = SavedView {
        id: 0,
        user_id: ctx.actor.user_id,
        kind: kind.path().to_string(),
        name,
        query: encode_query(&pairs),
        created_at: ctx.now,
    };
    view.id = match db.insert_saved_view(&view).await {
        Ok(id) => id,
        Err(StoreError::Duplicate(_)) => {
            return Err(AppError::invalid(
                "name",
                "duplicate",
                "you already have a view of this name",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(view)
}

/// One of the caller's views; someone else's is not found.
pub async fn view(db: &Db, ctx: &Ctx, id: i64) -> Result<SavedView, AppError> {
    db.saved_view(ctx.actor.user_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete_view(db: &Db, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    if db.delete_saved_view(ctx.actor.user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

// ---- Bulk changes. ----

/// A change made to each selected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// To this owner (the assignee of a task), with the same check as a single edit.
    Reassign(UserId),
    AddTag(String),
    /// Opportunities to this stage, each through the move with its gates.
    Move(StageId),
}

/// What happened to one record of a bulk change.
pub struct BulkOutcome {
    pub id: i64,
    pub title: String,
    pub result: Result<(), AppError>,
}

async fn titles<T: Listed>(db: &Db, ctx: &Ctx, ids: &[i64]) -> HashMap<i64, String> {
    let mut out = HashMap::new();
    for id in ids {
        if let Ok(Some(r)) = db
            .get::<T>(*id, &ctx.scope, shangji_store::Access::Read)
            .await
        {
            out.insert(*id, r.title());
        }
    }
    out
}

async fn add_tag<T: Record + Listed>(
    db: &Db,
    ctx: &Ctx,
    id: i64,
    tag: &str,
    tags: impl Fn(&T) -> &Vec<String>,
) -> Result<(), AppError> {
    let r = super::get::<T>(db, ctx, id).await?;
    let mut list = tags(&r).clone();
    if list.iter().any(|t| t == tag) {
        return Ok(());
    }
    list.push(tag.to_string());
    let input: T::Input =
        serde_json::from_value(serde_json::json!({ "tags": list, "version": r.version() }))
            .map_err(internal)?;
    super::update::<T>(db, ctx, id, input).await.map(|_| ())
}

async fn reassign<T: Record>(db: &Db, ctx: &Ctx, id: i64, owner: UserId) -> Result<(), AppError> {
    let input: T::Input = serde_json::from_value(serde_json::json!({ T::OWNER: owner }))
        .map_err(|e| AppError::invalid("action", "invalid_value", e.to_string()))?;
    super::update::<T>(db, ctx, id, input).await.map(|_| ())
}

async fn one(
    db: &Db,
    ctx: &Ctx,
    kind: ListKind,
    id: i64,
    action: &BulkAction,
) -> Result<(), AppError> {
    let unsupported = || AppError::invalid("action", "invalid_value", "not for these records");
    match (kind, action) {
        (ListKind::Opportunities, BulkAction::Reassign(owner)) => {
            let input = OpportunityInput {
                owner_id: shangji_core::Field::Value(*owner),
                ..Default::default()
            };
            super::update_opportunity(db, ctx, id, input)
                .await
                .map(|_| ())
        }
        (ListKind::Opportunities, BulkAction::AddTag(tag)) => {
            let o = super::get::<Opportunity>(db, ctx, id).await?;
            if o.tags.iter().any(|t| t == tag) {
                return Ok(());
            }
            let mut tags = o.tags.clone();
            tags.push(tag.clone());
            let input = OpportunityInput {
                tags: shangji_core::Field::Value(tags),
                version: Some(o.version),
                ..Default::default()
            };
            super::update_opportunity(db, ctx, id, input)
                .await
                .map(|_| ())
        }
        (ListKind::Opportunities, BulkAction::Move(stage)) => {
            let input: MoveInput = serde_json::from_value(serde_json::json!({ "stage_id": stage }))
                .map_err(internal)?;
            super::move_opportunity(db, ctx, id, input)
                .await
                .map(|_| ())
        }
        (ListKind::Accounts, BulkAction::Reassign(o)) => reassign::<Account>(db, ctx, id, *o).await,
        (ListKind::Accounts, BulkAction::AddTag(t)) => {
            add_tag::<Account>(db, ctx, id, t, |a| &a.tags).await
        }
        (ListKind::Contacts, BulkAction::Reassign(o)) => reassign::<Contact>(db, ctx, id, *o).await,
        (ListKind::Leads, BulkAction::Reassign(o)) => reassign::<Lead>(db, ctx, id, *o).await,
        (ListKind::Tasks, BulkAction::Reassign(o)) => reassign::<Task>(db, ctx, id, *o).await,
        _ => Err(unsupported()),
    }
}

/// Applies `action` to each selected record on its own, through the operation a single
/// change uses (so the owner rule, the gates and the approvals hold); each record is saved
/// in its own transaction or not at all. Answers per record, in the order given.
pub async fn bulk(
    db: &Db,
    ctx: &Ctx,
    kind: ListKind,
    ids: &[i64],
    action: &BulkAction,
) -> Result<Vec<BulkOutcome>, AppError> {
    if ids.is_empty() {
        return Err(AppError::invalid(
            "ids",
            "required",
            "select at least one record",
        ));
    }
    if ids.len() > 200 {
        return Err(AppError::invalid(
            "ids",
            "too_many",
            "at most 200 records at once",
        ));
    }
    if let BulkAction::AddTag(t) = action {
        if t.trim().is_empty() {
            return Err(AppError::invalid("tag", "required", "type a tag"));
        }
        if t.chars().count() > 50 {
            return Err(AppError::invalid(
                "tag",
                "too_long",
                "a tag has at most 50 characters",
            ));
        }
    }
    let names = match kind {
        ListKind::Opportunities => titles::<Opportunity>(db, ctx, ids).await,
        ListKind::Accounts => titles::<Account>(db, ctx, ids).await,
        ListKind::Contacts => titles::<Contact>(db, ctx, ids).await,
        ListKind::Leads => titles::<Lead>(db, ctx, ids).await,
        ListKind::Activities => titles::<Activity>(db, ctx, ids).await,
        ListKind::Tasks => titles::<Task>(db, ctx, ids).await,
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let result = one(db, ctx, kind, *id, action).await;
        out.push(BulkOutcome {
            id: *id,
            title: names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
            result,
        });
    }
    Ok(out)
}

// ---- Search. ----

/// A record found by the search box.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: i64,
    pub title: String,
    /// What else identifies it (mobile, email, credit code, amount…).
    pub detail: String,
    pub url: String,
}

/// What the search box found, by kind (at most 10 of each).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub q: String,
    pub accounts: Vec<Hit>,
    pub contacts: Vec<Hit>,
    pub opportunities: Vec<Hit>,
    pub leads: Vec<Hit>,
}

impl SearchResults {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.contacts.is_empty()
            && self.opportunities.is_empty()
            && self.leads.is_empty()
    }
}

/// How the box's text is looked up: a number is a mobile (prefix, on its index); text with
/// `@` an email (equality, on its index); 18 letters and digits a credit code (equality, on
/// its index); anything else a part of a name or title (a scan, fine at tens of thousands
/// of records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Mobile(String),
    Email(String),
    CreditCode(String),
    Name(String),
}

pub fn lookup(q: &str) -> Lookup {
    let q = q.trim();
    let digits: String = q
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect::<String>()
        .trim_start_matches("+86")
        .to_string();
    if digits.len() >= 3 && digits.chars().all(|c| c.is_ascii_digit()) {
        return Lookup::Mobile(digits);
    }
    if q.contains('@') && !q.contains(' ') {
        return Lookup::Email(q.to_string());
    }
    if q.len() == 18
        && q.chars().all(|c| c.is_ascii_alphanumeric())
        && q.chars().any(|c| c.is_ascii_digit())
    {
        return Lookup::CreditCode(q.to_ascii_uppercase());
    }
    Lookup::Name(q.to_string())
}

/// `[prefix, the next prefix of as many digits or fewer)`: every text that starts with the
/// digits (`138` → `[138, 139)`, `139` → `[139, 14)`). Only digits are compared, which sort
/// the same in every collation.
fn digit_range(col: &'static str, prefix: &str) -> Match {
    let mut upper: Vec<u8> = prefix.bytes().collect();
    while upper.last() == Some(&b'9') {
        upper.pop();
    }
    let upper = match upper.last_mut() {
        Some(d) => {
            *d += 1;
            String::from_utf8(upper).unwrap_or_default()
        }
        // All nines: nothing starts higher.
        None => "9".repeat(40),
    };
    Match::Range(col, prefix.to_string(), upper)
}

/// Finds accounts, contacts, opportunities and leads within the caller's scope.
pub async fn search(db: &Db, ctx: &Ctx, tr: Tr, q: &str) -> Result<SearchResults, AppError> {
    let q = q.trim();
    let mut out = SearchResults {
        q: q.to_string(),
        ..Default::default()
    };
    if q.is_empty() {
        return Ok(out);
    }
    if q.chars().count() > 100 {
        return Err(AppError::bad_request(
            "q",
            "too_long",
            "at most 100 characters",
        ));
    }
    let (accounts, contacts, opps, leads) = match lookup(q) {
        Lookup::Mobile(m) => (
            vec![],
            vec![digit_range("mobile", &m)],
            vec![],
            vec![digit_range("mobile", &m)],
        ),
        Lookup::Email(e) => {
            let mut eq = vec![Match::Eq("email", e.clone())];
            if e.to_lowercase() != e {
                eq.push(Match::Eq("email", e.to_lowercase()));
            }
            (vec![], eq.clone(), vec![], eq)
        }
        Lookup::CreditCode(c) => (vec![Match::Eq("credit_code", c)], vec![], vec![], vec![]),
        Lookup::Name(n) => (
            vec![Match::Contains("name", n.clone())],
            vec![Match::Contains("name", n.clone())],
            vec![Match::Contains("title", n.clone())],
            vec![
                Match::Contains("company_name", n.clone()),
                Match::Contains("contact_name", n),
            ],
        ),
    };
    const LIMIT: i64 = 10;
    let join = |parts: Vec<Option<String>>| {
        parts
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")
    };
    for a in db.search::<Account>(&ctx.scope, &accounts, LIMIT).await? {
        out.accounts.push(Hit {
            id: a.id,
            url: a.href(),
            detail: join(vec![
                a.credit_code.clone(),
                a.region.clone(),
                a.industry.clone(),
            ]),
            title: a.name,
        });
    }
    for c in db.search::<Contact>(&ctx.scope, &contacts, LIMIT).await? {
        out.contacts.push(Hit {
            id: c.id,
            url: c.href(),
            detail: join(vec![c.mobile.clone(), c.email.clone(), c.title.clone()]),
            title: c.name,
        });
    }
    for o in db.search::<Opportunity>(&ctx.scope, &opps, LIMIT).await? {
        let stage = ctx
            .dir
            .pipelines
            .iter()
            .find_map(|p| p.stage(o.stage_id))
            .map(|s| s.name(tr.lang).to_string());
        out.opportunities.push(Hit {
            id: o.id,
            url: o.href(),
            detail: join(vec![Some(tr.money(&o.amount)), stage]),
            title: o.title,
        });
    }
    for l in db.search::<Lead>(&ctx.scope, &leads, LIMIT).await? {
        let status = tr
            .get(&format!("lists.lead.{}", l.status.as_str()))
            .map(str::to_string);
        out.leads.push(Hit {
            id: l.id,
            url: l.href(),
            detail: join(vec![
                l.contact_name.clone(),
                l.mobile.clone(),
                l.email.clone(),
                status,
            ]),
            title: l.title(),
        });
    }
    Ok(out)
}

// ---- Working a lead. ----

/// An opportunity created with a lead's qualification.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertOpportunity {
    pub title: String,
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// Default CNY.
    #[serde(default)]
    pub currency: Option<String>,
    /// Default: the default pipeline.
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub close_date: Option<Date>,
}

/// Qualifying a lead: the account (an existing one by `account_id`, else a new one named
/// `account_name` or the lead's company), the contact (`contact_name` or the lead's contact,
/// with the lead's mobile, email, WeChat and title) and optionally an opportunity.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub account_id: Option<AccountId>,
    #[serde(default)]
    pub account_name: Option<String>,
    #[serde(default)]
    pub credit_code: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub opportunity: Option<ConvertOpportunity>,
}

/// What a qualification wrote.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Converted {
    pub lead: Lead,
    pub account: Account,
    /// False when an existing account was linked.
    pub account_created: bool,
    pub contact: Contact,
    pub opportunity: Option<Opportunity>,
}

/// Disqualifying a lead: the reason is required.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisqualifyInput {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Names an error of one of the new records by the form field it comes from.
fn prefixed(e: AppError, map: &[(&str, &str)], prefix: &str) -> AppError {
    let rename = |mut f: FieldError| {
        f.field = map
            .iter()
            .find(|(from, _)| *from == f.field)
            .map_or_else(|| format!("{prefix}.{}", f.field), |(_, to)| to.to_string());
        f
    };
    match e {
        AppError::Invalid(f) => AppError::Invalid(rename(f)),
        AppError::BadRequest(f) => AppError::BadRequest(rename(f)),
        e => e,
    }
}

fn input_of<I: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<I, AppError> {
    serde_json::from_value(v).map_err(|e| AppError::invalid("", "invalid_value", e.to_string()))
}

/// A lead still being worked (new or working) may be qualified or disqualified.
async fn open_lead(db: &Db, ctx: &Ctx, id: LeadId, version: Option<i64>) -> Result<Lead, AppError> {
    let lead = for_update::<Lead>(db, ctx, id).await?;
    check_version(lead.version, version)?;
    if !matches!(lead.status, LeadStatus::New | LeadStatus::Working) {
        return Err(AppError::invalid(
            "status",
            "lead_closed",
            format!("the lead is already {}", lead.status.as_str()),
        ));
    }
    Ok(lead)
}

/// Accounts in the caller's scope that a lead may be the same company as: the same credit
/// code, or the same name.
pub async fn matching_accounts(
    db: &Db,
    ctx: &Ctx,
    name: Option<&str>,
    credit_code: Option<&str>,
) -> Result<Vec<Account>, AppError> {
    let mut m = Vec::new();
    if let Some(c) = credit_code.map(str::trim).filter(|c| !c.is_empty()) {
        m.push(Match::Eq("credit_code", c.to_ascii_uppercase()));
    }
    if let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) {
        m.push(Match::Eq("name", n.to_string()));
    }
    Ok(db.search::<Account>(&ctx.scope, &m, 5).await?)
}

/// Qualifies a lead: checks every new record as its own create would, then writes the
/// account (unless an existing one is linked), the contact, the opportunity with its
/// history, the lead (now qualified) and the outcome linking them — in one transaction.
pub async fn convert_lead(
    db: &Db,
    ctx: &Ctx,
    id: LeadId,
    input: ConvertInput,
) -> Result<Converted, AppError> {
    let mut lead = open_lead(db, ctx, id, input.version).await?;
    let owner = lead.owner_id.unwrap_or(ctx.actor.user_id);
    check_owner(db, ctx, "owner_id", Some(owner), Some(ctx.actor.user_id)).await?;
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };

    // The account: linked, or new.
    let (account, account_changes, created) = match input.account_id {
        Some(account_id) => {
            let a = db
                .get::<Account>(account_id, &ctx.scope, shangji_store::Access::Read)
                .await?
                .ok_or_else(|| {
                    AppError::invalid(
                        "account_id",
                        "unknown_reference",
                        format!("account {account_id} does not exist"),
                    )
                })?;
            (a, vec![], false)
        }
        None => {
            let name = clean(&input.account_name).or_else(|| clean(&lead.company_name));
            let Some(name) = name else {
                return Err(AppError::invalid(
                    "account_name",
                    "required",
                    "name the account",
                ));
            };
            let mut a = Account::blank(ctx);
            let body = serde_json::json!({
                "name": name,
                "credit_code": clean(&input.credit_code),
                "region": lead.region,
                "industry": lead.industry,
                "source": lead.source,
                "owner_id": owner,
            });
            let map = [("name", "account_name"), ("credit_code", "credit_code")];
            a.apply(input_of::<AccountInput>(body)?, true, ctx.now)
                .map_err(|e| prefixed(e.into(), &map, "account"))?;
            let changes = apply_custom(db, ctx, &mut a, None, true)
                .await
                .map_err(|e| prefixed(e, &map, "account"))?;
            (a, changes, true)
        }
    };

    // The contact.
    let Some(contact_name) = clean(&input.contact_name).or_else(|| clean(&lead.contact_name))
    else {
        return Err(AppError::invalid(
            "contact_name",
            "required",
            "name the contact",
        ));
    };
    let mut contact = Contact::blank(ctx);
    let body = serde_json::json!({
        "name": contact_name,
        "mobile": lead.mobile,
        "email": lead.email,
        "wechat": lead.wechat,
        "title": lead.title,
        "owner_id": owner,
    });
    let map = [("name", "contact_name")];
    contact
        .apply(input_of::<ContactInput>(body)?, true, ctx.now)
        .map_err(|e| prefixed(e.into(), &map, "contact"))?;
    let contact_changes = apply_custom(db, ctx, &mut contact, None, true)
        .await
        .map_err(|e| prefixed(e, &map, "contact"))?;

    // The opportunity, if asked for.
    let mut opportunity = None;
    if let Some(o) = &input.opportunity {
        let map: [(&str, &str); 0] = [];
        let pipeline =
            pipeline_for(ctx, o.pipeline_id).map_err(|e| prefixed(e, &map, "opportunity"))?;
        let mut body = serde_json::json!({
            "title": o.title,
            // The account's id is known once it is written; the store sets it.
            "account_id": account.id,
            "owner_id": owner,
            "source": lead.source,
        });
        if let Some(a) = o.amount_minor {
            body["amount_minor"] = a.into();
        }
        if let Some(c) = &o.currency {
            body["currency"] = c.clone().into();
        }
        if let Some(d) = o.close_date {
            body["close_date"] = d.to_string().into();
        }
        let opp_input: OpportunityInput = input_of(body)?;
        let (mut opp, mut events) = opportunity::create(opp_input, pipeline, &ctx.actor, ctx.now)
            .map_err(|e| prefixed(e.into(), &map, "opportunity"))?;
        let changes = apply_custom(db, ctx, &mut opp, None, true)
            .await
            .map_err(|e| prefixed(e, &map, "opportunity"))?;
        opportunity::note_custom_values(&mut events, &opp.custom);
        opportunity = Some((opp, events, changes));
    }

    let before = lead.version;
    lead.status = LeadStatus::Qualified;
    lead.updated_at = ctx.now;
    let ids = db
        .save_lead_outcome(&LeadOutcome {
            lead: &lead,
            expected_version: before,
            outcome: "qualified",
            reason: None,
            new_account: created.then_some(NewAccount {
                account: &account,
                custom: &account_changes,
            }),
            account_id: (!created).then_some(account.id),
            contact: Some(NewContact {
                contact: &contact,
                custom: &contact_changes,
            }),
            opportunity: opportunity
                .as_ref()
                .map(|(opp, events, custom)| NewOpportunity {
                    opp,
                    events,
                    custom,
                }),
            actor_id: ctx.actor.user_id,
            at: ctx.now,
        })
        .await?;
    let account_id = ids.account_id.unwrap_or(account.id);
    let contact_id = ids.contact_id.unwrap_or_default();
    let account = if created {
        account.stored(account_id, 1)
    } else {
        account
    };
    contact.account_id = Some(account_id);
    let opportunity = opportunity.map(|(mut o, _, _)| {
        o.account_id = account_id;
        o.primary_contact_id = Some(contact_id);
        o.stored(ids.opportunity_id.unwrap_or_default(), 1)
    });
    if let Some(o) = &opportunity {
        super::automation::after_opportunity_write(db, ctx, None, o).await;
    }
    Ok(Converted {
        lead: lead.stored(id, before + 1),
        account,
        account_created: created,
        contact: contact.stored(contact_id, 1),
        opportunity,
    })
}

/// Disqualifies a lead with the reason, kept with the lead's outcomes.
pub async fn disqualify_lead(
    db: &Db,
    ctx: &Ctx,
    id: LeadId,
    input: DisqualifyInput,
) -> Result<Lead, AppError> {
    let reason = input.reason.trim().to_string();
    if reason.is_empty() {
        return Err(AppError::invalid(
            "reason",
            "required",
            "say why the lead is disqualified",
        ));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::invalid(
            "reason",
            "too_long",
            "a reason has at most 500 characters",
        ));
    }
    let mut lead = open_lead(db, ctx, id, input.version).await?;
    let before = lead.version;
    lead.status = LeadStatus::Disqualified;
    lead.updated_at = ctx.now;
    db.save_lead_outcome(&LeadOutcome {
        lead: &lead,
        expected_version: before,
        outcome: "disqualified",
        reason: Some(reason),
        new_account: None,
        account_id: None,
        contact: None,
        opportunity: None,
        actor_id: ctx.actor.user_id,
        at: ctx.now,
    })
    .await?;
    Ok(lead.stored(id, before + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_text_chooses_the_lookup() {
        assert_eq!(lookup(" 138 1234 "), Lookup::Mobile("1381234".into()));
        assert_eq!(
            lookup("+8613812345678"),
            Lookup::Mobile("13812345678".into())
        );
        assert_eq!(lookup("a@b.cn"), Lookup::Email("a@b.cn".into()));
        assert_eq!(
            lookup("91110000802100433b"),
            Lookup::CreditCode("91110000802100433B".into())
        );
        assert_eq!(lookup("华为"), Lookup::Name("华为".into()));
        assert_eq!(lookup("12"), Lookup::Name("12".into()));
    }

    #[test]
    fn a_digit_prefix_is_a_range_of_digits() {
        let bounds = |p: &str| match digit_range("mobile", p) {
            Match::Range(_, from, to) => (from, to),
            other => panic!("{other:?}"),
        };
        assert_eq!(bounds("138"), ("138".into(), "139".into()));
        assert_eq!(bounds("1399"), ("1399".into(), "14".into()));
        assert_eq!(bounds("999").1, "9".repeat(40));
    }

    #[test]
    fn a_query_string_round_trips() {
        let pairs = vec![
            ("q".to_string(), "华为 云".to_string()),
            ("cf.region".to_string(), "a&b=c".to_string()),
        ];
        assert_eq!(parse_query(&encode_query(&pairs)), pairs);
        assert_eq!(
            parse_query("?a=1+2&b=%E5%8D%8E&c"),
            vec![
                ("a".to_string(), "1 2".to_string()),
                ("b".to_string(), "华".to_string()),
                ("c".to_string(), String::new())
            ]
        );
    }
}
