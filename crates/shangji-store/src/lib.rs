//! Persistence for shangji: SQLite and PostgreSQL behind one [`Db`] enum. Returns
//! shangji-core types; knows nothing of HTTP.

pub mod analytics;
pub mod archive;
pub mod assignment;
pub mod audit;
pub mod automation;
pub mod backups;
pub mod board;
pub mod crud;
pub mod custom;
pub mod db;
pub mod delivery;
pub mod directory;
pub mod duplicates;
pub mod entity;
pub mod error;
pub mod forecast;
pub mod handover;
pub mod health;
pub mod imports;
pub mod lists;
pub mod merge;
pub mod projection;
pub mod records;
pub mod review;
pub mod scoring;
pub mod sign_in;
pub mod snapshots;
pub mod web_forms;
mod writer;

pub use analytics::{HistoryFilter, LeadFact};
pub use archive::{ArchiveError, Manifest, Restored, TableSum};
pub use assignment::{AssignedRow, StoredAssignmentRule};
pub use automation::{FiringRow, RuleFactRows, RulePrefs, StoredRule};
pub use backups::Backup;
pub use board::{Card, Column, ColumnTotal, Columns};
pub use crud::{IdemKey, IdemRecord, ImportMark, ListQuery, Page, Save, Write, APPROVAL_PENDING};
pub use custom::{Compare, CustomFilter};
pub use db::{Arg, Db};
pub use delivery::{Attempt, Channel, Delivery, NewDelivery, NotificationPrefs};
pub use directory::{ApiToken, Authenticated, Directory};
pub use duplicates::{Candidate, Probe};
pub use entity::{Access, Entity, FilterKind};
pub use error::StoreError;
pub use handover::{InheritedDeal, PendingChain};
pub use imports::ImportedDeal;
pub use lists::{
    LeadOutcome, LeadOutcomeRow, Match, NewAccount, NewContact, NewOpportunity, OutcomeIds,
    SavedView,
};
pub use records::{FollowUpIds, FOLLOW_UP_TASK_KEY};
pub use review::ImportedHistory;
pub use sign_in::ThrottleKeys;
pub use snapshots::{Snapshot, SnapshotRow, TakenRow};
