//! Importing accounts (with their contacts), contacts, leads, opportunities (with their past:
//! see [`deals`]), follow-ups and tasks (see [`activities`]) from a spreadsheet: which
//! column is which field (recognised from Chinese and English headers and their synonyms,
//! custom fields by label), which cell value is which choice ("华东区" → the region 华东,
//! "官网" → source website), and each row turned into the same inputs the API takes — every
//! problem with its row and column. Pure: the sheet, the users, the regions and the choices'
//! labels come in; checking the inputs against the records' rules, matching duplicates and
//! saving are the caller's, through the same paths as any other write.
//!
//! Row numbers count the header as row 1, as a spreadsheet does.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Date, OffsetDateTime, PrimitiveDateTime};
use utoipa::ToSchema;

use crate::custom_fields::CustomFieldDef;
use crate::model::*;
use crate::process::LossReason;

text_enum!(
    /// What a file holds, one record (or an account and its contact) per row.
    ImportKind {
        Accounts => "accounts",
        Contacts => "contacts",
        Leads => "leads",
        Opportunities => "opportunities",
        Activities => "activities",
        Tasks => "tasks",
    }
);

text_enum!(
    /// What kind of record an import wrote (the record kinds, and follow-ups and tasks).
    ImportedKind {
        Account => "account",
        Contact => "contact",
        Lead => "lead",
        Opportunity => "opportunity",
        Activity => "activity",
        Task => "task",
    }
);

impl From<RecordKind> for ImportedKind {
    fn from(k: RecordKind) -> Self {
        match k {
            RecordKind::Account => ImportedKind::Account,
            RecordKind::Contact => ImportedKind::Contact,
            RecordKind::Lead => ImportedKind::Lead,
            RecordKind::Opportunity => ImportedKind::Opportunity,
        }
    }
}

text_enum!(
    /// Where an import is: uploaded (being mapped and previewed), running, done, failed (and
    /// undone: nothing of it stays), rolled back.
    ImportStatus {
        Uploaded => "uploaded",
        Running => "running",
        Done => "done",
        Failed => "failed",
        RolledBack => "rolled_back",
    }
);

text_enum!(
    /// What a row that matches a stored record does: creates a record all the same, updates
    /// the match with the row's values, skips, or merges (fills only the match's empty fields).
    OnDuplicate { Create => "create", Update => "update", Skip => "skip", Merge => "merge" }
);

// `text_enum!` cannot mark a variant `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for OnDuplicate {
    fn default() -> Self {
        OnDuplicate::Skip
    }
}

/// How an import runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportOptions {
    /// For rows that match a stored record, unless `rows` says otherwise.
    #[serde(default)]
    pub on_duplicate: OnDuplicate,
    /// Per row (its number in the file): what that row does if it matches.
    #[serde(default)]
    pub rows: BTreeMap<usize, OnDuplicate>,
    /// Imports the valid rows and reports the others; otherwise any problem refuses the file.
    #[serde(default)]
    pub valid_only: bool,
}

impl ImportOptions {
    pub fn decision(&self, row: usize) -> OnDuplicate {
        self.rows.get(&row).copied().unwrap_or(self.on_duplicate)
    }
}

/// What an import did (or, in a preview, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportSummary {
    /// Rows, each counted once by what happens to its record (an accounts file's contact
    /// goes with its account): created, updated (or merged), skipped, failed.
    pub created: u32,
    pub updated: u32,
    pub skipped: u32,
    /// Rows not imported for their problems.
    pub failed: u32,
    /// The problems (the first thousand).
    pub problems: Vec<Problem>,
}

/// The most problems an import keeps.
pub const MAX_PROBLEMS: usize = 1000;

/// An import: the file's name and kind, how it maps, how far it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportBatch {
    pub id: Id,
    pub kind: ImportKind,
    pub file_name: String,
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub status: ImportStatus,
    pub mapping: Mapping,
    pub options: ImportOptions,
    /// Data rows in the file, and how many the run has been through.
    pub total_rows: u32,
    pub done_rows: u32,
    pub summary: ImportSummary,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rolled_back_at: Option<OffsetDateTime>,
    /// An opportunities import's stage-history file, when one was added.
    #[serde(default)]
    pub history_name: Option<String>,
    /// The import whose mapping this one started from: the last one of the same kind, with
    /// the same headers, that ran (a saved mapping).
    #[serde(default)]
    pub mapping_from: Option<Id>,
}

/// A record an import created or changed: what rolling it back undoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedRecord {
    pub import_id: Id,
    pub row: usize,
    pub record_kind: ImportedKind,
    pub record_id: Id,
    /// `None`: created; else updated, and these are the fields it wrote as they were (JSON
    /// of the record's input).
    pub before: Option<String>,
    /// Its version once imported: rolling back leaves a record changed since alone.
    pub version_after: i64,
}

/// One cell as the file has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A spreadsheet number (amounts, codes typed as numbers, dates as serial numbers).
    Number(f64),
    Bool(bool),
    DateTime(PrimitiveDateTime),
}

impl Cell {
    /// The cell as text, trimmed: numbers without a needless `.0`, dates as `YYYY-MM-DD`.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_string(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Cell::Number(n) => format!("{n}"),
            Cell::Bool(b) => b.to_string(),
            Cell::DateTime(d) if d.time() == time::Time::MIDNIGHT => d.date().to_string(),
            Cell::DateTime(d) => format!("{} {}", d.date(), d.time()),
        }
    }
}

/// A sheet: the header row's texts and the data rows below it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sheet {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Where an imported value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Account,
    Contact,
    Lead,
    Deal,
    Activity,
    Task,
}

/// What a field's cells hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// One of the codes of a choice list (`Choices` says which labels name which code).
    Choice,
    /// A user, named by name, login or mobile.
    Owner,
    /// One of the company's regions.
    Region,
    /// Texts separated by `,`, `，`, `;`, `；`, `、` or `|`.
    Tags,
    /// The account a contact or deal belongs to, named by name or credit code.
    Account,
    /// One of the company's pipelines, by name.
    Pipeline,
    /// A stage of the row's pipeline, by its Chinese or English name.
    Stage,
    /// A loss reason of the company's taxonomy, by its key or name.
    LossReason,
    /// An amount in yuan as people write it (`¥1,234.50`, `12.5万`), stored in fen.
    Amount,
    /// A date (`2026-03-05`, `2026/3/5`, `2026年3月5日`, a spreadsheet date).
    Date,
    /// A time (a date, or a date and a time of day, China time).
    Time,
    /// Yes or no (是/否, yes/no, √/×…).
    YesNo,
    /// Another record the row is about (a contact, an opportunity, a lead), by its name or
    /// external id: kept as written in [`RowInputs::refs`], found by the caller.
    Reference,
}

/// A field a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key a mapping names it by: the input's field, prefixed `contact.` for the contact
    /// of an accounts file, `account` for a contact's account.
    pub key: &'static str,
    pub part: Part,
    pub kind: Kind,
    pub required: bool,
    /// Headers that name it (compared after `normalise`): the Chinese label first, then the
    /// English one, then synonyms.
    pub names: &'static [&'static str],
}

pub(crate) const fn f(
    key: &'static str,
    part: Part,
    kind: Kind,
    required: bool,
    names: &'static [&'static str],
) -> FieldSpec {
    FieldSpec {
        key,
        part,
        kind,
        required,
        names,
    }
}

const ACCOUNT_NAME: &[&str] = &[
    "客户名称",
    "company",
    "公司名称",
    "公司",
    "企业名称",
    "单位名称",
    "客户",
    "客户全称",
    "公司全称",
    "account",
    "account name",
    "company name",
    "name",
];
const CONTACT_NAME: &[&str] = &[
    "联系人",
    "contact",
    "联系人姓名",
    "姓名",
    "客户联系人",
    "contact name",
    "full name",
];
const MOBILE: &[&str] = &[
    "手机",
    "mobile",
    "手机号",
    "手机号码",
    "移动电话",
    "联系手机",
    "mobile phone",
    "cell",
    "cell phone",
];
const PHONE: &[&str] = &[
    "电话",
    "phone",
    "座机",
    "固定电话",
    "办公电话",
    "tel",
    "telephone",
];
const EMAIL: &[&str] = &[
    "邮箱",
    "email",
    "电子邮箱",
    "邮件",
    "e-mail",
    "email address",
];
const WECHAT: &[&str] = &["微信", "wechat", "微信号"];
const TITLE: &[&str] = &["职位", "title", "职务", "岗位", "job title", "position"];
const OWNER: &[&str] = &[
    "负责人",
    "owner",
    "销售",
    "销售员",
    "业务员",
    "归属销售",
    "客户经理",
    "跟进人",
    "sales rep",
    "salesperson",
];
const REGION: &[&str] = &["地区", "region", "区域", "大区", "所属区域", "省份", "area"];
const INDUSTRY: &[&str] = &["行业", "industry", "所属行业"];
const SOURCE: &[&str] = &[
    "来源",
    "source",
    "客户来源",
    "线索来源",
    "渠道",
    "lead source",
];
const NOTES: &[&str] = &[
    "备注", "notes", "说明", "描述", "remarks", "comments", "note",
];

mod specs {
    use super::Kind::*;
    use super::Part::{Account as A, Contact as C, Lead as L};
    use super::*;

    pub const ACCOUNTS: &[FieldSpec] = &[
        f("name", A, Text, true, ACCOUNT_NAME),
        f(
            "credit_code",
            A,
            Text,
            false,
            &[
                "统一社会信用代码",
                "credit code",
                "信用代码",
                "社会信用代码",
                "税号",
                "uscc",
            ],
        ),
        f("industry", A, Text, false, INDUSTRY),
        f("region", A, Region, false, REGION),
        f(
            "size",
            A,
            Choice,
            false,
            &[
                "规模",
                "size",
                "企业规模",
                "公司规模",
                "人员规模",
                "company size",
            ],
        ),
        f("source", A, Choice, false, SOURCE),
        f("owner_id", A, Owner, false, OWNER),
        f("tags", A, Tags, false, &["标签", "tags", "客户标签"]),
        f(
            "address",
            A,
            Text,
            false,
            &["地址", "address", "公司地址", "详细地址", "办公地址"],
        ),
        f("notes", A, Text, false, NOTES),
        f("contact.name", C, Text, false, CONTACT_NAME),
        f("contact.mobile", C, Text, false, MOBILE),
        f("contact.phone", C, Text, false, PHONE),
        f("contact.email", C, Text, false, EMAIL),
        f("contact.wechat", C, Text, false, WECHAT),
        f("contact.title", C, Text, false, TITLE),
    ];
    pub const CONTACTS: &[FieldSpec] = &[
        f("name", C, Text, true, CONTACT_NAME),
        f("account", C, Account, false, ACCOUNT_NAME),
        f("mobile", C, Text, false, MOBILE),
        f("phone", C, Text, false, PHONE),
        f("email", C, Text, false, EMAIL),
        f("wechat", C, Text, false, WECHAT),
        f("title", C, Text, false, TITLE),
        f(
            "buying_role",
            C,
            Choice,
            false,
            &["角色", "buying role", "采购角色", "决策角色"],
        ),
        f("owner_id", C, Owner, false, OWNER),
    ];
    pub const LEADS: &[FieldSpec] = &[
        f("company_name", L, Text, false, ACCOUNT_NAME),
        f("contact_name", L, Text, false, CONTACT_NAME),
        f("mobile", L, Text, false, MOBILE),
        f("email", L, Text, false, EMAIL),
        f("wechat", L, Text, false, WECHAT),
        f("title", L, Text, false, TITLE),
        f("region", L, Region, false, REGION),
        f("industry", L, Text, false, INDUSTRY),
        f("source", L, Choice, false, SOURCE),
        f(
            "status",
            L,
            Choice,
            false,
            &["状态", "status", "线索状态", "lead status"],
        ),
        f("notes", L, Text, false, NOTES),
        f("owner_id", L, Owner, false, OWNER),
    ];
}

/// The fields of a kind of file, in the order a template lists them.
pub fn fields(kind: ImportKind) -> &'static [FieldSpec] {
    match kind {
        ImportKind::Accounts => specs::ACCOUNTS,
        ImportKind::Contacts => specs::CONTACTS,
        ImportKind::Leads => specs::LEADS,
        ImportKind::Opportunities => deals::FIELDS,
        ImportKind::Activities => activities::FOLLOW_UPS,
        ImportKind::Tasks => activities::TASKS,
    }
}

/// The codes of a choice field and the words naming each (its labels in both languages),
/// from the caller — the labels live with the translations.
pub type Choices = BTreeMap<&'static str, Vec<(&'static str, Vec<String>)>>;

/// The codes each choice field takes.
pub fn choice_codes(key: &str) -> &'static [&'static str] {
    match key.trim_start_matches("contact.") {
        "size" => AccountSize::NAMES,
        "source" => Source::NAMES,
        "status" => LeadStatus::NAMES,
        "buying_role" => BuyingRole::NAMES,
        "kind" => ActivityType::NAMES,
        _ => &[],
    }
}

/// A header or a value as it is compared: lower case, without spaces, marks of a required
/// column (`*`, `（必填）`) or a trailing colon.
pub fn normalise(s: &str) -> String {
    let s: String = s
        .trim()
        .trim_end_matches([':', '：'])
        .replace("（必填）", "")
        .replace("(必填)", "")
        .replace("(required)", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '_' && *c != '\u{3000}')
        .collect();
    s.to_lowercase()
}

/// Which column fills which field: `columns[i]` is the key of column `i`'s field (`custom.KEY`
/// for a custom field), `None` for a column left out; `values` maps a cell's text to a
/// choice's code or a region, per field, where the text is not a code or label already.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mapping {
    pub columns: Vec<Option<String>>,
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// What tells a file's headers apart (normalised, in order): a saved mapping is reused for a
/// file whose headers are the same.
pub fn headers_key(headers: &[String]) -> String {
    headers
        .iter()
        .map(|h| normalise(h))
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// A saved mapping fitted to a file of `columns` columns, leaving out the fields the kind no
/// longer has (an archived custom field).
pub fn fitted(
    kind: ImportKind,
    mut saved: Mapping,
    columns: usize,
    defs: &[CustomFieldDef],
) -> Mapping {
    let customs = custom_defs(kind, defs);
    saved.columns.resize(columns, None);
    for c in saved.columns.iter_mut() {
        let known = c
            .as_deref()
            .is_some_and(|k| match k.strip_prefix("custom.") {
                Some(key) => customs.iter().any(|d| d.key == key),
                None => fields(kind).iter().any(|s| s.key == k),
            });
        if !known {
            *c = None;
        }
    }
    saved
}

/// The custom fields a kind of file can fill: those of its records (an accounts file fills
/// the account's; follow-ups and tasks have none).
pub fn custom_defs(kind: ImportKind, defs: &[CustomFieldDef]) -> Vec<&CustomFieldDef> {
    let record = record_kind(kind);
    defs.iter()
        .filter(|d| Some(d.record_kind) == record && !d.archived)
        .collect()
}

/// The kind of record with custom fields a file's rows make (an accounts file's contacts go
/// with them); none for follow-ups and tasks.
pub fn record_kind(kind: ImportKind) -> Option<RecordKind> {
    match kind {
        ImportKind::Accounts => Some(RecordKind::Account),
        ImportKind::Contacts => Some(RecordKind::Contact),
        ImportKind::Leads => Some(RecordKind::Lead),
        ImportKind::Opportunities => Some(RecordKind::Opportunity),
        ImportKind::Activities | ImportKind::Tasks => None,
    }
}

/// The kind of record each of a file's rows makes (an accounts file's contacts go with them).
pub fn imported_kind(kind: ImportKind) -> ImportedKind {
    match kind {
        ImportKind::Activities => ImportedKind::Activity,
        ImportKind::Tasks => ImportedKind::Task,
        k => record_kind(k).map_or(ImportedKind::Account, ImportedKind::from),
    }
}

/// Recognises the columns: each header against the fields' names, then the custom fields'
/// labels and keys; a field is taken by the first column that names it.
pub fn auto_map(kind: ImportKind, headers: &[String], defs: &[CustomFieldDef]) -> Mapping {
    let customs = custom_defs(kind, defs);
    let mut taken = BTreeSet::new();
    let columns = headers
        .iter()
        .map(|h| {
            let h = normalise(h);
            if h.is_empty() {
                return None;
            }
            let key = fields(kind)
                .iter()
                .find(|s| s.names.iter().any(|n| normalise(n) == h))
                .map(|s| s.key.to_string())
                .or_else(|| {
                    customs
                        .iter()
                        .find(|d| {
                            [&d.label_zh, &d.label_en, &d.key]
                                .iter()
                                .any(|l| normalise(l) == h)
                        })
                        .map(|d| format!("custom.{}", d.key))
                })?;
            taken.insert(key.clone()).then_some(key)
        })
        .collect();
    Mapping {
        columns,
        values: BTreeMap::new(),
    }
}

use crate::history_import::problem;
/// One problem of a file, as a history import's: where (row, column) and what. The codes of
/// this import: `required`, `unknown_owner`, `unknown_choice`, `unknown_region`,
/// `unknown_account` (and, of follow-ups and tasks, `unknown_contact`, `unknown_deal`,
/// `unknown_lead`, `ambiguous_reference`, `reference_mismatch`), `invalid_value`, `duplicate_column`, `missing_column`, or a record rule's
/// code (`invalid_credit_code`…); the row is 0 for the file as a whole.
pub use crate::history_import::Problem;

/// What the conversion needs to know about the company.
#[derive(Debug, Clone, Default)]
pub struct Lookups<'a> {
    pub users: &'a [User],
    pub regions: &'a [String],
    pub choices: Choices,
    pub custom: &'a [CustomFieldDef],
    pub pipelines: &'a [Pipeline],
    pub loss_reasons: &'a [LossReason],
}

/// A row turned into inputs (JSON of `AccountInput`, `ContactInput`, `LeadInput`,
/// `ActivityInput`, `TaskInput`), with the records it names (the account's name or credit
/// code a contact names…), and the row's problems.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowInputs {
    pub row: usize,
    pub account: Option<Map<String, Value>>,
    pub contact: Option<Map<String, Value>>,
    pub lead: Option<Map<String, Value>>,
    /// An opportunities file's deal: an opportunity's input and its past (see [`deals`]).
    pub deal: Option<Map<String, Value>>,
    /// A follow-ups file's follow-up (`ActivityInput`, and `author_id`: see [`activities`]).
    pub activity: Option<Map<String, Value>>,
    /// A tasks file's task (`TaskInput`).
    pub task: Option<Map<String, Value>>,
    /// A contacts, opportunities, follow-ups or tasks file's account column, as written.
    pub account_ref: Option<String>,
    /// The other records a row names ([`Kind::Reference`]), by field key, as written.
    pub refs: BTreeMap<String, String>,
    pub problems: Vec<Problem>,
    /// The column each input field came from (`contact.mobile` → "手机"), to place the
    /// record rules' errors.
    pub columns: BTreeMap<String, String>,
}

/// The user a cell names: by login, name or mobile (the first match among active users, then
/// among all).
pub fn find_user<'a>(users: &'a [User], text: &str) -> Option<&'a User> {
    let t = normalise(text);
    let matches = |u: &&User| {
        normalise(&u.login) == t
            || normalise(&u.display_name) == t
            || u.mobile.as_deref().is_some_and(|m| normalise(m) == t)
    };
    users
        .iter()
        .filter(|u| u.active)
        .find(matches)
        .or_else(|| users.iter().find(matches))
}

/// The code a cell names for a choice field: the code itself, a label, or the mapping's
/// value for it.
fn choice_of(key: &str, text: &str, lookups: &Lookups, mapping: &Mapping) -> Option<String> {
    if let Some(v) = mapping.values.get(key).and_then(|m| m.get(text)) {
        return Some(v.clone());
    }
    let t = normalise(text);
    let codes = choice_codes(key);
    if let Some(c) = codes.iter().find(|c| normalise(c) == t) {
        return Some(c.to_string());
    }
    lookups
        .choices
        .get(key.trim_start_matches("contact."))
        .and_then(|labels| {
            labels
                .iter()
                .find(|(_, names)| names.iter().any(|n| normalise(n) == t))
        })
        .map(|(c, _)| c.to_string())
}

/// The region a cell names: a region, the mapping's value for it, or a region the text
/// starts with followed by 区, 市, 省… ("华东区" → 华东, "上海市" → 上海); any text when the
/// company has no regions.
fn region_of(text: &str, lookups: &Lookups, mapping: &Mapping, key: &str) -> Option<String> {
    if let Some(v) = mapping.values.get(key).and_then(|m| m.get(text)) {
        return Some(v.clone());
    }
    if lookups.regions.is_empty() {
        return Some(text.to_string());
    }
    let t = normalise(text);
    lookups
        .regions
        .iter()
        .find(|r| normalise(r) == t)
        .or_else(|| {
            lookups.regions.iter().find(|r| {
                let r = normalise(r);
                let rest = t.strip_prefix(&r).unwrap_or(&t);
                rest != t && ["区", "市", "省", "大区", "地区", "region"].contains(&rest)
            })
        })
        .cloned()
}

/// A choice or region column's texts that name nothing the company knows, for the importer to
/// map value by value (into [`Mapping::values`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnknownValues {
    /// The field's key (`size`, `contact.buying_role`, `region`…).
    pub key: String,
    pub column: String,
    /// The texts, in the order the file first has them (at most [`MAX_UNKNOWN_VALUES`]).
    pub values: Vec<String>,
}

/// The most texts of one column [`unknown_values`] lists.
pub const MAX_UNKNOWN_VALUES: usize = 50;

/// Every mapped choice or region column's texts that neither name a choice or region nor are
/// mapped already.
pub fn unknown_values(
    kind: ImportKind,
    sheet: &Sheet,
    mapping: &Mapping,
    lookups: &Lookups,
) -> Vec<UnknownValues> {
    let mut out = Vec::new();
    for (i, key) in mapping.columns.iter().enumerate() {
        let Some(key) = key else { continue };
        let Some(spec) = fields(kind).iter().find(|s| s.key == key) else {
            continue;
        };
        let known = |text: &str| match spec.kind {
            Kind::Choice => choice_of(key, text, lookups, mapping).is_some(),
            Kind::Region => region_of(text, lookups, mapping, key).is_some(),
            Kind::Stage => deals::known_stage(lookups, mapping, text),
            k @ (Kind::Pipeline | Kind::LossReason) => {
                deals::known_name(k, key, lookups, mapping, text)
            }
            _ => true,
        };
        let mut values: Vec<String> = Vec::new();
        for cells in &sheet.rows {
            let text = cells.get(i).map(Cell::text).unwrap_or_default();
            if !text.is_empty() && !values.contains(&text) && !known(&text) {
                values.push(text);
                if values.len() == MAX_UNKNOWN_VALUES {
                    break;
                }
            }
        }
        if !values.is_empty() {
            out.push(UnknownValues {
                key: key.clone(),
                column: sheet.headers.get(i).cloned().unwrap_or_default(),
                values,
            });
        }
    }
    out
}

/// Problems of the mapping itself: a required field no column fills, a field two columns fill.
pub fn check_mapping(kind: ImportKind, headers: &[String], mapping: &Mapping) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, key) in mapping.columns.iter().enumerate() {
        let Some(key) = key else { continue };
        if let Some(first) = seen.insert(key, i) {
            out.push(problem(
                0,
                headers.get(i).map_or("", String::as_str),
                "duplicate_column",
                format!(
                    "this column and column {} both fill {key}",
                    headers.get(first).map_or("", String::as_str)
                ),
            ));
        }
    }
    for spec in fields(kind).iter().filter(|s| s.required) {
        if !seen.contains_key(spec.key) {
            out.push(problem(
                0,
                "",
                "missing_column",
                format!("no column fills {} ({})", spec.key, spec.names[0]),
            ));
        }
    }
    out
}

/// Turns one data row (`row` counts the header as 1) into inputs. Empty cells leave a field
/// out; a row whose cells are all empty gives no inputs and no problems.
pub fn read_row(
    kind: ImportKind,
    headers: &[String],
    mapping: &Mapping,
    lookups: &Lookups,
    row: usize,
    cells: &[Cell],
) -> RowInputs {
    let mut out = RowInputs {
        row,
        ..Default::default()
    };
    let (mut account, mut contact, mut lead, mut deal) =
        (Map::new(), Map::new(), Map::new(), Map::new());
    let (mut activity, mut task) = (Map::new(), Map::new());
    let customs = custom_defs(kind, lookups.custom);
    for (i, key) in mapping.columns.iter().enumerate() {
        let Some(key) = key else { continue };
        let text = cells.get(i).map(Cell::text).unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        let column = headers.get(i).cloned().unwrap_or_default();
        let spec = fields(kind).iter().find(|s| s.key == key);
        let (part, field) = match spec {
            Some(s) => (s.part, s.key.trim_start_matches("contact.")),
            None => (
                match kind {
                    ImportKind::Accounts => Part::Account,
                    ImportKind::Contacts => Part::Contact,
                    ImportKind::Leads => Part::Lead,
                    ImportKind::Opportunities => Part::Deal,
                    ImportKind::Activities => Part::Activity,
                    ImportKind::Tasks => Part::Task,
                },
                key.as_str(),
            ),
        };
        let value = match spec.map(|s| s.kind) {
            Some(Kind::Text) => Some(Value::String(text.clone())),
            Some(Kind::Choice) => match choice_of(key, &text, lookups, mapping) {
                Some(c) => Some(Value::String(c)),
                None => {
                    out.problems.push(problem(
                        row,
                        &column,
                        "unknown_choice",
                        format!("“{text}” is none of the choices of {field}"),
                    ));
                    None
                }
            },
            Some(Kind::Region) => match region_of(&text, lookups, mapping, key) {
                Some(r) => Some(Value::String(r)),
                None => {
                    out.problems.push(problem(
                        row,
                        &column,
                        "unknown_region",
                        format!("“{text}” is none of the company's regions"),
                    ));
                    None
                }
            },
            Some(Kind::Owner) => match find_user(lookups.users, &text) {
                Some(u) => Some(Value::from(u.id)),
                None => {
                    out.problems.push(problem(
                        row,
                        &column,
                        "unknown_owner",
                        format!("no user is called, signs in as or has the mobile “{text}”"),
                    ));
                    None
                }
            },
            Some(Kind::Tags) => Some(Value::from(
                split_list(&text).map(String::from).collect::<Vec<_>>(),
            )),
            Some(Kind::Account) => {
                out.account_ref = Some(text.clone());
                None
            }
            Some(Kind::Reference) => {
                out.refs.insert(key.clone(), text.clone());
                None
            }
            Some(Kind::YesNo) => match yes_no(&text) {
                Some(b) => Some(Value::Bool(b)),
                None => {
                    out.problems.push(problem(
                        row,
                        &column,
                        "invalid_value",
                        format!("“{text}” is not yes or no (是/否)"),
                    ));
                    None
                }
            },
            Some(k @ (Kind::Pipeline | Kind::Stage | Kind::LossReason)) => deals::named(
                k,
                key,
                &text,
                lookups,
                mapping,
                &column,
                row,
                &mut out.problems,
            ),
            Some(k @ (Kind::Amount | Kind::Date | Kind::Time)) => {
                deals::measured(k, &text, &column, row, &mut out.problems)
            }
            None => custom_value(key, &text, &customs, &column, row, &mut out.problems),
        };
        let Some(value) = value else { continue };
        let target = match part {
            Part::Account => &mut account,
            Part::Contact => &mut contact,
            Part::Lead => &mut lead,
            Part::Deal => &mut deal,
            Part::Activity => &mut activity,
            Part::Task => &mut task,
        };
        if let Some(custom) = field.strip_prefix("custom.") {
            target
                .entry("custom")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("an object")
                .insert(custom.to_string(), value);
        } else {
            target.insert(field.to_string(), value);
        }
        out.columns.insert(key.clone(), column);
    }
    let any = !(account.is_empty()
        && contact.is_empty()
        && lead.is_empty()
        && deal.is_empty()
        && activity.is_empty()
        && task.is_empty())
        || out.account_ref.is_some()
        || !out.refs.is_empty()
        || !out.problems.is_empty();
    for spec in fields(kind).iter().filter(|s| s.required) {
        let filled = match (spec.kind, spec.part) {
            (Kind::Account, _) => out.account_ref.is_some(),
            (Kind::Reference, _) => out.refs.contains_key(spec.key),
            (_, Part::Account) => account.contains_key(spec.key),
            (_, Part::Contact) => contact.contains_key(spec.key),
            (_, Part::Lead) => lead.contains_key(spec.key),
            (_, Part::Deal) => deal.contains_key(spec.key),
            (_, Part::Activity) => activity.contains_key(spec.key),
            (_, Part::Task) => task.contains_key(spec.key),
        };
        if !filled && any {
            let column = mapping
                .columns
                .iter()
                .position(|k| k.as_deref() == Some(spec.key))
                .and_then(|i| headers.get(i))
                .cloned()
                .unwrap_or_default();
            out.problems.push(problem(
                row,
                &column,
                "required",
                format!("{} is required", spec.names[0]),
            ));
        }
    }
    if kind == ImportKind::Leads && !lead.is_empty() && !lead.contains_key("source") {
        // Where the lead came from, when the file does not say: an import of existing data.
        lead.insert(
            "source".into(),
            Value::String(Source::Other.as_str().into()),
        );
    }
    if kind == ImportKind::Opportunities && any {
        deals::settle(&mut deal, lookups, mapping, headers, row, &mut out.problems);
    }
    if kind == ImportKind::Activities && any {
        activities::settle(&mut activity);
    }
    out.activity = (any && kind == ImportKind::Activities).then_some(activity);
    out.task = (any && kind == ImportKind::Tasks).then_some(task);
    out.account = (!account.is_empty()).then_some(account);
    out.deal = (any && kind == ImportKind::Opportunities).then_some(deal);
    out.contact = (!contact.is_empty()).then_some(contact);
    out.lead = (!lead.is_empty()).then_some(lead);
    out
}

/// A custom field's value from a cell, in the form its definition checks: integers and
/// decimals as written (without thousands separators), amounts in minor units (`¥1,234.5`,
/// `12.5万`), yes/no as booleans, dates as `YYYY-MM-DD`, options by value or label; whether
/// the value fits the field is the definition's to say when the record is checked.
fn custom_value(
    key: &str,
    text: &str,
    defs: &[&CustomFieldDef],
    column: &str,
    row: usize,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    use crate::custom_fields::CustomFieldType as T;
    let k = key.strip_prefix("custom.")?;
    let def = defs.iter().find(|d| d.key == k)?;
    let bad = |problems: &mut Vec<Problem>, what: &str| {
        problems.push(problem(
            row,
            column,
            "invalid_value",
            format!("“{text}” is not {what}"),
        ));
        None
    };
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .collect();
    let option = |t: &str| {
        let t = normalise(t);
        def.options
            .iter()
            .find(|o| {
                normalise(&o.value) == t || o.label_en.as_deref().is_some_and(|l| normalise(l) == t)
            })
            .map(|o| Value::String(o.value.clone()))
    };
    match def.field_type {
        T::Integer | T::User => match plain.parse::<i64>() {
            Ok(n) => Some(Value::from(n)),
            Err(_) => bad(problems, "a whole number"),
        },
        T::Decimal => Some(Value::String(plain)),
        T::Money => match amount_minor(text) {
            Some(minor) => Some(serde_json::json!({"amount_minor": minor, "currency": "CNY"})),
            None => bad(problems, "an amount such as 12,345.60 or 1.5万"),
        },
        T::Boolean => match yes_no(text) {
            Some(b) => Some(Value::Bool(b)),
            None => bad(problems, "yes or no (是/否)"),
        },
        T::Date => match parse_date(text) {
            Some(d) => Some(Value::String(d.to_string())),
            None => bad(problems, "a date such as 2026-03-05"),
        },
        T::SingleSelect => match option(text) {
            Some(v) => Some(v),
            None => bad(problems, "one of the field's options"),
        },
        T::MultiSelect => {
            let picked: Option<Vec<Value>> = split_list(text).map(option).collect();
            match picked {
                Some(v) => Some(Value::Array(v)),
                None => bad(problems, "a list of the field's options"),
            }
        }
        _ => Some(Value::String(text.to_string())),
    }
}

/// A yes-or-no cell: 是/否, yes/no, true/false, y/n, 1/0, 有/无, √/×, 已完成/未完成.
pub fn yes_no(text: &str) -> Option<bool> {
    match normalise(text).as_str() {
        "是" | "yes" | "true" | "y" | "1" | "有" | "√" | "已完成" | "完成" | "done" => {
            Some(true)
        }
        "否" | "no" | "false" | "n" | "0" | "无" | "×" | "未完成" | "open" => Some(false),
        _ => None,
    }
}

/// The items of a list cell, split at `,`, `，`, `;`, `；`, `、` or `|`.
fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', '，', ';', '；', '、', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// An amount in yuan as people write it — `1234.5`, `¥1,234.50`, `1234元`, `12.5万`, `1.2亿` —
/// in minor units (fen), decimal arithmetic only.
pub fn amount_minor(text: &str) -> Option<i64> {
    let plain: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '¥' | '￥'))
        .collect();
    let plain = plain
        .strip_prefix("RMB")
        .or_else(|| plain.strip_prefix("CNY"))
        .unwrap_or(&plain);
    let plain = plain.strip_suffix('元').unwrap_or(plain);
    // Minor units are yuan × 100: a number of 万 (10⁴ yuan) read with 6 decimal places is
    // already in fen, one of 亿 (10⁸ yuan) with 10.
    let (digits, places) = if let Some(d) = plain.strip_suffix('万') {
        (d, 6)
    } else if let Some(d) = plain.strip_suffix('亿') {
        (d, 10)
    } else {
        (plain, 2)
    };
    crate::custom_fields::parse_decimal(digits, places).ok()
}

/// A date as spreadsheets write it: `2026-03-05`, `2026/3/5`, `2026.3.5`, `2026年3月5日`, or
/// with a time after it (ignored).
pub fn parse_date(text: &str) -> Option<Date> {
    let t = text.trim();
    let t = t.split([' ', 'T']).next()?;
    let t = t.replace(['年', '月', '/', '.'], "-").replace('日', "");
    let mut parts = t.split('-').map(|p| p.parse::<i32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(
        y,
        time::Month::try_from(u8::try_from(m).ok()?).ok()?,
        u8::try_from(d).ok()?,
    )
    .ok()
    .filter(|d| crate::input::date_in_range(*d))
}

pub mod activities;
pub mod deals;
#[cfg(test)]
mod tests;
