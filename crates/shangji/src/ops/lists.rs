//! Lists of every record kind as people read them: one column table per kind (built-in
//! columns and the kind's custom fields), the table of a page of any list, exports of a list
//! as CSV and XLSX with the chosen columns, saved views, bulk changes (each record through
//! the same operation as a single change), the search box, and working a lead (qualify into
//! account, contact and opportunity in one transaction, or disqualify with a reason).
//!
//! The list's parameters are read by [`super::list_query`], as for the API, so a filter means
//! the same on every path; the page's own parameters (`cols`, `view`) are taken out first.
//!
//! Each part is a submodule, re-exported here; this module keeps what they share.

mod bulk;
mod columns;
mod exports;
mod leads;
mod search;
mod table;
mod views;

use crate::error::AppError;

pub use bulk::{bulk, BulkAction, BulkOutcome};
pub use columns::{columns, Cell, Column, ColumnDef, Env, Listed};
pub use exports::{export, Format};
pub use leads::{
    convert_lead, disqualify_lead, matching_accounts, ConvertInput, ConvertOpportunity, Converted,
    DisqualifyInput,
};
pub use search::{lookup, search, Hit, Lookup, SearchResults};
pub use table::{chosen, split_params, table, PageParams, Row, Table};
pub use views::{
    check_params, create_view, delete_view, encode_query, parse_query, view, views, ViewInput,
};

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

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}
