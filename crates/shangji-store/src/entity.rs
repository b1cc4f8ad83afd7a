//! How each record maps to its table, and the visibility scope as SQL — in one place.

use shangji_core::duplicates::{company_key, name_stem};
use shangji_core::model::*;
use shangji_core::opportunity::OpportunityEvent;
use shangji_core::visibility::PoolRegions;
use shangji_core::{Money, Scope};

use crate::db::{Arg, RowExt, Sql};
use crate::error::StoreError;

/// Whether a query reads or is about to change a record: some records are readable
/// through a relation but only editable by their owner's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The type of a filter column, so that each dialect gets a typed argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Id,
    Text,
    Bool,
    /// Text that must be one of these values.
    OneOf(&'static [&'static str]),
}

/// A record kind stored in its own table.
pub trait Entity: Sized + Send + Unpin + 'static {
    const TABLE: &'static str;
    /// Columns searched by the free-text `q` filter.
    const SEARCH: &'static [&'static str];
    /// Columns a list may be sorted by.
    const SORT: &'static [&'static str];
    /// Columns a list may be filtered on by equality (query-parameter name = column name).
    const FILTERS: &'static [(&'static str, FilterKind)];
    /// A date column filtered by `<prefix>_from` / `<prefix>_to`: (prefix, column).
    const DATE_RANGE: Option<(&'static str, &'static str)> = None;
    /// The column holding the owner (for owner/team filters and visibility).
    const OWNER: &'static str;
    /// The record kind whose custom fields this record has, if any.
    const CUSTOM: Option<RecordKind> = None;
    /// Whether the record has a `tags` column (a JSON array of text).
    const TAGS: bool = false;

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError>;
    /// Every stored column but `id` and `version`, with its value.
    fn columns(&self) -> Vec<(&'static str, Arg)>;
    fn id(&self) -> i64;
    fn version(&self) -> i64;
    /// The custom values, for a record kind with custom fields (filled by `get` and `list`).
    fn custom_mut(&mut self) -> Option<&mut CustomValues> {
        None
    }
    /// Appends the visibility condition for `scope` (a boolean SQL expression).
    fn scope_sql(scope: &Scope, access: Access, sql: &mut Sql) {
        owner_in_scope(Self::OWNER, scope, sql);
        let _ = access;
    }
}

/// `col` is the actor or a user on one of the scope's teams (a literal list of user ids, so
/// that the database can use an owner index). The one translation of a [`Scope`] into SQL;
/// every record kind builds on it.
pub fn owner_in_scope(col: &str, scope: &Scope, sql: &mut Sql) {
    match scope {
        Scope::All => {
            sql.push("1 = 1");
        }
        Scope::Own { user_id, .. } => {
            sql.push(&format!("{col} = ")).bind(*user_id);
        }
        Scope::Teams { members, .. } => {
            sql.push(&format!("{col} IN "));
            sql.bind_list(members);
        }
    }
}

/// ` OR` the `table`'s record waits in the public pool (no owner) and its region is in
/// sight of the scope (`visibility::PoolRegions`): readable by everyone who sees its
/// region, editable by managers who do. The one translation of pool regions into SQL.
fn pool_in_sight(table: &str, scope: &Scope, access: Access, sql: &mut Sql) {
    if access == Access::Write && !scope.is_manager() {
        return;
    }
    sql.push(&format!(" OR ({table}.owner_id IS NULL"));
    if let PoolRegions::Only { mine, covered } = scope.pool() {
        let region = format!("COALESCE(TRIM({table}.region), '')");
        let mine: Vec<&str> = mine.iter().map(String::as_str).collect();
        let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
        sql.push(&format!(" AND ({region} = '' OR {region} IN "));
        sql.bind_text_list(&mine);
        sql.push(&format!(" OR {region} NOT IN "));
        sql.bind_text_list(&covered);
        sql.push(")");
    }
    sql.push(")");
}

/// A list of strings as JSON text.
pub(crate) fn tags_json(tags: &[String]) -> Arg {
    Arg::Text(Some(
        serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()),
    ))
}

fn text_of<T: std::fmt::Display>(v: Option<T>) -> Arg {
    Arg::Text(v.map(|v| v.to_string()))
}

impl Entity for Account {
    const TABLE: &'static str = "accounts";
    const SEARCH: &'static [&'static str] = &["name", "credit_code", "region", "industry"];
    const SORT: &'static [&'static str] =
        &["name", "created_at", "updated_at", "region", "industry"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[
        ("region", FilterKind::Text),
        ("industry", FilterKind::Text),
        ("size", FilterKind::OneOf(AccountSize::NAMES)),
        ("source", FilterKind::OneOf(Source::NAMES)),
        ("credit_code", FilterKind::Text),
    ];
    const CUSTOM: Option<RecordKind> = Some(RecordKind::Account);
    const TAGS: bool = true;
    const OWNER: &'static str = "owner_id";

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Account {
            id: r.i64("id")?,
            name: r.text("name")?,
            credit_code: r.opt_text("credit_code")?,
            industry: r.opt_text("industry")?,
            region: r.opt_text("region")?,
            size: r.opt_parse("size")?,
            source: r.opt_parse("source")?,
            owner_id: r.opt_i64("owner_id")?,
            pool_since: r.opt_ts("pool_since")?,
            tags: r.json("tags")?,
            address: r.opt_text("address")?,
            notes: r.opt_text("notes")?,
            // Filled from custom_values by `get` and `list`.
            custom: Default::default(),
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        // The key duplicates are matched on (`shangji_core::duplicates`).
        let key = company_key(&self.name);
        vec![
            ("name", self.name.clone().into()),
            ("name_stem", Some(name_stem(&key)).into()),
            ("name_key", Some(key).into()),
            ("credit_code", self.credit_code.clone().into()),
            ("industry", self.industry.clone().into()),
            ("region", self.region.clone().into()),
            ("size", text_of(self.size)),
            ("source", text_of(self.source)),
            ("owner_id", self.owner_id.into()),
            ("pool_since", self.pool_since.into()),
            ("tags", tags_json(&self.tags)),
            ("address", self.address.clone().into()),
            ("notes", self.notes.clone().into()),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
            ("updated_at", self.updated_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn custom_mut(&mut self) -> Option<&mut CustomValues> {
        Some(&mut self.custom)
    }

    /// Readable: owned in scope, carrying an opportunity owned in scope (a rep sees the
    /// accounts they sell to), or waiting in the public pool in sight
    /// ([`pool_in_sight`]). Editable: owned in scope, and pool accounts for managers.
    fn scope_sql(scope: &Scope, access: Access, sql: &mut Sql) {
        sql.push("(");
        owner_in_scope("accounts.owner_id", scope, sql);
        pool_in_sight("accounts", scope, access, sql);
        if access == Access::Read && *scope != Scope::All {
            sql.push(
                " OR EXISTS (SELECT 1 FROM opportunities so WHERE so.account_id = accounts.id AND ",
            );
            owner_in_scope("so.owner_id", scope, sql);
            sql.push(")");
        }
        sql.push(")");
    }
}

impl Entity for Contact {
    const TABLE: &'static str = "contacts";
    const SEARCH: &'static [&'static str] = &["name", "mobile", "email", "wechat", "phone"];
    const SORT: &'static [&'static str] = &["name", "created_at", "updated_at"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[
        ("account_id", FilterKind::Id),
        ("buying_role", FilterKind::OneOf(BuyingRole::NAMES)),
        ("mobile", FilterKind::Text),
        ("email", FilterKind::Text),
    ];
    const CUSTOM: Option<RecordKind> = Some(RecordKind::Contact);
    const OWNER: &'static str = "owner_id";

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Contact {
            id: r.i64("id")?,
            account_id: r.opt_i64("account_id")?,
            name: r.text("name")?,
            mobile: r.opt_text("mobile")?,
            phone: r.opt_text("phone")?,
            email: r.opt_text("email")?,
            wechat: r.opt_text("wechat")?,
            title: r.opt_text("title")?,
            buying_role: r.opt_parse("buying_role")?,
            owner_id: r.opt_i64("owner_id")?,
            // Filled from custom_values by `get` and `list`.
            custom: Default::default(),
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        vec![
            ("account_id", self.account_id.into()),
            ("name", self.name.clone().into()),
            ("mobile", self.mobile.clone().into()),
            ("phone", self.phone.clone().into()),
            ("email", self.email.clone().into()),
            ("wechat", self.wechat.clone().into()),
            ("title", self.title.clone().into()),
            ("buying_role", text_of(self.buying_role)),
            ("owner_id", self.owner_id.into()),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
            ("updated_at", self.updated_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn custom_mut(&mut self) -> Option<&mut CustomValues> {
        Some(&mut self.custom)
    }

    /// Follows the account: readable with a readable account, editable with an editable one
    /// (or when owned in scope).
    fn scope_sql(scope: &Scope, access: Access, sql: &mut Sql) {
        sql.push("(");
        owner_in_scope("contacts.owner_id", scope, sql);
        if *scope != Scope::All {
            sql.push(
                " OR EXISTS (SELECT 1 FROM accounts WHERE accounts.id = contacts.account_id AND ",
            );
            Account::scope_sql(scope, access, sql);
            sql.push(")");
        }
        sql.push(")");
    }
}

impl Entity for Lead {
    const TABLE: &'static str = "leads";
    const SEARCH: &'static [&'static str] = &["company_name", "contact_name", "mobile", "email"];
    const SORT: &'static [&'static str] = &["created_at", "updated_at", "company_name", "score"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[
        ("status", FilterKind::OneOf(LeadStatus::NAMES)),
        ("source", FilterKind::OneOf(Source::NAMES)),
        ("grade", FilterKind::OneOf(LeadGrade::NAMES)),
        ("region", FilterKind::Text),
        ("industry", FilterKind::Text),
        ("mobile", FilterKind::Text),
        ("email", FilterKind::Text),
    ];
    const CUSTOM: Option<RecordKind> = Some(RecordKind::Lead);
    const OWNER: &'static str = "owner_id";

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Lead {
            id: r.i64("id")?,
            source: r.opt_parse("source")?,
            status: r.parse("status")?,
            company_name: r.opt_text("company_name")?,
            contact_name: r.opt_text("contact_name")?,
            mobile: r.opt_text("mobile")?,
            email: r.opt_text("email")?,
            wechat: r.opt_text("wechat")?,
            title: r.opt_text("title")?,
            region: r.opt_text("region")?,
            industry: r.opt_text("industry")?,
            notes: r.opt_text("notes")?,
            owner_id: r.opt_i64("owner_id")?,
            pool_since: r.opt_ts("pool_since")?,
            score: r.opt_i32("score")?,
            grade: r.opt_parse("grade")?,
            // Filled from custom_values by `get` and `list`.
            custom: Default::default(),
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        // The key duplicates are matched on (`shangji_core::duplicates`).
        let key = self.company_name.as_deref().map(company_key);
        vec![
            ("source", text_of(self.source)),
            ("status", self.status.as_str().into()),
            ("company_name", self.company_name.clone().into()),
            ("company_stem", key.as_deref().map(name_stem).into()),
            ("company_key", key.into()),
            ("contact_name", self.contact_name.clone().into()),
            ("mobile", self.mobile.clone().into()),
            ("email", self.email.clone().into()),
            ("wechat", self.wechat.clone().into()),
            ("title", self.title.clone().into()),
            ("region", self.region.clone().into()),
            ("industry", self.industry.clone().into()),
            ("notes", self.notes.clone().into()),
            ("owner_id", self.owner_id.into()),
            ("pool_since", self.pool_since.into()),
            ("score", self.score.into()),
            ("grade", text_of(self.grade)),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
            ("updated_at", self.updated_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn custom_mut(&mut self) -> Option<&mut CustomValues> {
        Some(&mut self.custom)
    }

    /// Owned in scope, or waiting in the public pool (公海) in sight ([`pool_in_sight`]).
    fn scope_sql(scope: &Scope, access: Access, sql: &mut Sql) {
        sql.push("(");
        owner_in_scope("leads.owner_id", scope, sql);
        pool_in_sight("leads", scope, access, sql);
        sql.push(")");
    }
}

impl Entity for Opportunity {
    const TABLE: &'static str = "opportunities";
    const SEARCH: &'static [&'static str] = &["title", "next_step"];
    const SORT: &'static [&'static str] = &[
        "title",
        "amount_minor",
        "close_date",
        "created_at",
        "updated_at",
        "probability",
        "stage_entered_at",
    ];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[
        ("pipeline_id", FilterKind::Id),
        ("stage_id", FilterKind::Id),
        ("status", FilterKind::OneOf(StageKind::NAMES)),
        ("account_id", FilterKind::Id),
        ("grade", FilterKind::OneOf(Grade::NAMES)),
        ("source", FilterKind::OneOf(Source::NAMES)),
        (
            "forecast_category",
            FilterKind::OneOf(ForecastCategory::NAMES),
        ),
        ("currency", FilterKind::Text),
    ];
    const CUSTOM: Option<RecordKind> = Some(RecordKind::Opportunity);
    const TAGS: bool = true;
    const OWNER: &'static str = "owner_id";
    const DATE_RANGE: Option<(&'static str, &'static str)> = Some(("close", "close_date"));

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Opportunity {
            id: r.i64("id")?,
            title: r.text("title")?,
            account_id: r.i64("account_id")?,
            primary_contact_id: r.opt_i64("primary_contact_id")?,
            pipeline_id: r.i64("pipeline_id")?,
            stage_id: r.i64("stage_id")?,
            status: r.parse("status")?,
            amount: Money {
                amount_minor: r.i64("amount_minor")?,
                currency: r.text("currency")?,
            },
            close_date: r.opt_date("close_date")?,
            probability: r.i32("probability")?,
            probability_overridden: r.bool("probability_overridden")?,
            forecast_category: r.parse("forecast_category")?,
            grade: r.opt_parse("grade")?,
            source: r.opt_parse("source")?,
            owner_id: r.i64("owner_id")?,
            next_step: r.opt_text("next_step")?,
            next_step_date: r.opt_date("next_step_date")?,
            tags: r.json("tags")?,
            loss_reason: r.opt_text("loss_reason")?,
            loss_note: r.opt_text("loss_note")?,
            competitor: r.opt_text("competitor")?,
            checklist: r.json("checklist")?,
            actions_done: r.json("actions_done")?,
            // Filled from custom_values by `get` and `list`.
            custom: Default::default(),
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
            closed_at: r.opt_ts("closed_at")?,
            stage_entered_at: r.ts("stage_entered_at")?,
            pool_since: r.opt_ts("pool_since")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        vec![
            ("title", self.title.clone().into()),
            ("account_id", self.account_id.into()),
            ("primary_contact_id", self.primary_contact_id.into()),
            ("pipeline_id", self.pipeline_id.into()),
            ("stage_id", self.stage_id.into()),
            ("status", self.status.as_str().into()),
            ("amount_minor", self.amount.amount_minor.into()),
            ("currency", self.amount.currency.clone().into()),
            ("close_date", self.close_date.into()),
            ("probability", self.probability.into()),
            ("probability_overridden", self.probability_overridden.into()),
            ("forecast_category", self.forecast_category.as_str().into()),
            ("grade", text_of(self.grade)),
            ("source", text_of(self.source)),
            ("owner_id", self.owner_id.into()),
            ("next_step", self.next_step.clone().into()),
            ("next_step_date", self.next_step_date.into()),
            ("tags", tags_json(&self.tags)),
            ("loss_reason", self.loss_reason.clone().into()),
            ("loss_note", self.loss_note.clone().into()),
            ("competitor", self.competitor.clone().into()),
            ("checklist", tags_json(&self.checklist)),
            ("actions_done", tags_json(&self.actions_done)),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
            ("updated_at", self.updated_at.into()),
            ("closed_at", self.closed_at.into()),
            ("stage_entered_at", self.stage_entered_at.into()),
            ("pool_since", self.pool_since.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn custom_mut(&mut self) -> Option<&mut CustomValues> {
        Some(&mut self.custom)
    }
}

impl Entity for Activity {
    const TABLE: &'static str = "activities";
    const SEARCH: &'static [&'static str] = &["summary", "outcome", "next_step"];
    const SORT: &'static [&'static str] = &["occurred_at", "created_at", "updated_at"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[
        ("kind", FilterKind::OneOf(ActivityType::NAMES)),
        ("account_id", FilterKind::Id),
        ("contact_id", FilterKind::Id),
        ("opportunity_id", FilterKind::Id),
        ("lead_id", FilterKind::Id),
        ("customer_facing", FilterKind::Bool),
    ];
    const OWNER: &'static str = "author_id";

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Activity {
            id: r.i64("id")?,
            kind: r.parse("kind")?,
            occurred_at: r.ts("occurred_at")?,
            summary: r.text("summary")?,
            outcome: r.opt_text("outcome")?,
            next_step: r.opt_text("next_step")?,
            account_id: r.opt_i64("account_id")?,
            contact_id: r.opt_i64("contact_id")?,
            opportunity_id: r.opt_i64("opportunity_id")?,
            lead_id: r.opt_i64("lead_id")?,
            author_id: r.i64("author_id")?,
            customer_facing: r.bool("customer_facing")?,
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        vec![
            ("kind", self.kind.as_str().into()),
            ("occurred_at", self.occurred_at.into()),
            ("summary", self.summary.clone().into()),
            ("outcome", self.outcome.clone().into()),
            ("next_step", self.next_step.clone().into()),
            ("account_id", self.account_id.into()),
            ("contact_id", self.contact_id.into()),
            ("opportunity_id", self.opportunity_id.into()),
            ("lead_id", self.lead_id.into()),
            ("author_id", self.author_id.into()),
            ("customer_facing", self.customer_facing.into()),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
            ("updated_at", self.updated_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }

    /// Readable when written in scope or logged on an opportunity owned in scope; editable
    /// by its author's scope.
    fn scope_sql(scope: &Scope, access: Access, sql: &mut Sql) {
        sql.push("(");
        owner_in_scope("activities.author_id", scope, sql);
        if access == Access::Read && *scope != Scope::All {
            sql.push(" OR EXISTS (SELECT 1 FROM opportunities so WHERE so.id = activities.opportunity_id AND ");
            owner_in_scope("so.owner_id", scope, sql);
            sql.push(")");
        }
        sql.push(")");
    }
}

impl Entity for Task {
    const TABLE: &'static str = "tasks";
    const SEARCH: &'static [&'static str] = &["title"];
    const SORT: &'static [&'static str] = &["due_date", "created_at", "updated_at", "title"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[
        ("done", FilterKind::Bool),
        ("record_kind", FilterKind::OneOf(RecordKind::NAMES)),
        ("record_id", FilterKind::Id),
    ];
    const OWNER: &'static str = "assignee_id";
    const DATE_RANGE: Option<(&'static str, &'static str)> = Some(("due", "due_date"));

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Task {
            id: r.i64("id")?,
            title: r.text("title")?,
            due_date: r.opt_date("due_date")?,
            assignee_id: r.i64("assignee_id")?,
            done: r.bool("done")?,
            done_at: r.opt_ts("done_at")?,
            record_kind: r.opt_parse("record_kind")?,
            record_id: r.opt_i64("record_id")?,
            action_key: r.opt_text("action_key")?,
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        vec![
            ("title", self.title.clone().into()),
            ("due_date", self.due_date.into()),
            ("assignee_id", self.assignee_id.into()),
            ("done", self.done.into()),
            ("done_at", self.done_at.into()),
            ("record_kind", text_of(self.record_kind)),
            ("record_id", self.record_id.into()),
            ("action_key", self.action_key.clone().into()),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
            ("updated_at", self.updated_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
}

pub(crate) fn event_from_row<R: RowExt>(r: &R) -> Result<OpportunityEvent, StoreError> {
    let json = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
        r.opt_text(col)?
            .map(|v| {
                serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
            })
            .transpose()
    };
    Ok(OpportunityEvent {
        id: r.i64("id")?,
        opportunity_id: r.i64("opportunity_id")?,
        kind: r.parse("kind")?,
        actor_id: r.i64("actor_id")?,
        at: r.ts("at")?,
        from_stage_id: r.opt_i64("from_stage_id")?,
        to_stage_id: r.opt_i64("to_stage_id")?,
        old_value: json("old_value")?,
        new_value: json("new_value")?,
    })
}

pub(crate) fn user_from_row<R: RowExt>(r: &R) -> Result<User, StoreError> {
    Ok(User {
        id: r.i64("id")?,
        login: r.text("login")?,
        display_name: r.text("display_name")?,
        email: r.opt_text("email")?,
        mobile: r.opt_text("mobile")?,
        role: r.parse("role")?,
        team_id: r.opt_i64("team_id")?,
        active: r.bool("active")?,
        leaves: r.json("leaves")?,
        language: r.opt_parse("language")?,
        created_at: r.ts("created_at")?,
    })
}

pub(crate) fn user_columns(u: &User) -> Vec<(&'static str, Arg)> {
    vec![
        ("login", u.login.clone().into()),
        ("display_name", u.display_name.clone().into()),
        ("email", u.email.clone().into()),
        ("mobile", u.mobile.clone().into()),
        ("role", u.role.as_str().into()),
        ("team_id", u.team_id.into()),
        ("active", u.active.into()),
        (
            "leaves",
            Arg::Text(Some(
                serde_json::to_string(&u.leaves).unwrap_or_else(|_| "[]".into()),
            )),
        ),
        ("language", text_of(u.language)),
        ("created_at", u.created_at.into()),
    ]
}

pub(crate) fn team_from_row<R: RowExt>(r: &R) -> Result<Team, StoreError> {
    Ok(Team {
        id: r.i64("id")?,
        name: r.text("name")?,
        parent_id: r.opt_i64("parent_id")?,
        archived: r.bool("archived")?,
        regions: r.json("regions")?,
    })
}

pub(crate) fn stage_from_row<R: RowExt>(r: &R) -> Result<Stage, StoreError> {
    Ok(Stage {
        id: r.i64("id")?,
        pipeline_id: r.i64("pipeline_id")?,
        position: r.i32("position")?,
        name_zh: r.text("name_zh")?,
        name_en: r.text("name_en")?,
        kind: r.parse("kind")?,
        probability: r.i32("probability")?,
        forecast_category: r.parse("forecast_category")?,
        rotting_days: r.opt_i32("rotting_days")?,
        guidance: r.opt_text("guidance")?,
        gate: r.json("gate")?,
        actions: r.json("actions")?,
        archived: r.bool("archived")?,
    })
}

impl Entity for shangji_core::approval::ApprovalRequest {
    const TABLE: &'static str = "approval_requests";
    const SEARCH: &'static [&'static str] = &[];
    const SORT: &'static [&'static str] = &["created_at"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[];
    const OWNER: &'static str = "requester_id";

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(shangji_core::approval::ApprovalRequest {
            id: r.i64("id")?,
            opportunity_id: r.i64("opportunity_id")?,
            policy_id: r.opt_i64("policy_id")?,
            requester_id: r.i64("requester_id")?,
            from_stage_id: r.i64("from_stage_id")?,
            to_stage_id: r.i64("to_stage_id")?,
            move_input: r.json("move_input")?,
            approver_ids: r.json("approver_ids")?,
            step: r.i32("step")?,
            status: r.parse("status")?,
            decisions: r.json("decisions")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
            decided_at: r.opt_ts("decided_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        let json = |v: String| Arg::Text(Some(v));
        vec![
            ("opportunity_id", self.opportunity_id.into()),
            ("policy_id", self.policy_id.into()),
            ("requester_id", self.requester_id.into()),
            ("from_stage_id", self.from_stage_id.into()),
            ("to_stage_id", self.to_stage_id.into()),
            ("move_input", json(self.move_input.to_string())),
            (
                "approver_ids",
                json(serde_json::to_string(&self.approver_ids).unwrap_or_default()),
            ),
            ("step", (self.step as i64).into()),
            ("status", self.status.as_str().into()),
            ("current_approver_id", self.current_approver().into()),
            (
                "decisions",
                json(serde_json::to_string(&self.decisions).unwrap_or_default()),
            ),
            ("archived", false.into()),
            ("created_at", self.created_at.into()),
            ("decided_at", self.decided_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
}

impl Entity for Notification {
    const TABLE: &'static str = "notifications";
    const SEARCH: &'static [&'static str] = &[];
    const SORT: &'static [&'static str] = &["created_at"];
    const FILTERS: &'static [(&'static str, FilterKind)] = &[];
    const OWNER: &'static str = "user_id";

    fn from_row<R: RowExt>(r: &R) -> Result<Self, StoreError> {
        Ok(Notification {
            id: r.i64("id")?,
            user_id: r.i64("user_id")?,
            kind: r.text("kind")?,
            record_kind: r.opt_parse("record_kind")?,
            record_id: r.opt_i64("record_id")?,
            payload: r.json("payload")?,
            read_at: r.opt_ts("read_at")?,
            archived: r.bool("archived")?,
            version: r.i64("version")?,
            created_at: r.ts("created_at")?,
        })
    }

    fn columns(&self) -> Vec<(&'static str, Arg)> {
        vec![
            ("user_id", self.user_id.into()),
            ("kind", self.kind.clone().into()),
            ("record_kind", text_of(self.record_kind)),
            ("record_id", self.record_id.into()),
            ("payload", Arg::Text(Some(self.payload.to_string()))),
            ("read_at", self.read_at.into()),
            ("archived", self.archived.into()),
            ("created_at", self.created_at.into()),
        ]
    }

    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
}
