//! shangji's pure domain: records, their rules, opportunity history and visibility.
//!
//! Invariants: this crate does no I/O, never reads the clock (callers pass `now`), and has
//! no async code. Money is integer minor units.

pub mod alerts;
pub mod analytics;
pub mod approval;
pub mod assignment;
pub mod audit;
pub mod backups;
pub mod calendar;
pub mod credit_code;
pub mod custom_fields;
pub mod demo;
pub mod duplicates;
pub mod error;
pub mod follow_up;
pub mod handover;
pub mod history_import;
pub mod horizon;
pub mod import;
pub mod input;
pub mod keys;
pub mod merge;
pub mod model;
pub mod money;
pub mod opportunity;
pub mod process;
pub mod projection;
pub mod records;
pub mod report_extras;
pub mod review;
pub mod rollup;
pub mod rules;
pub mod scoring;
pub mod sign_in;
pub mod visibility;
pub mod web_forms;

pub use error::{FieldError, MoveError};

/// An instant as whole milliseconds since the Unix epoch, as instants are stored and compared.
pub fn unix_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub use input::Field;
pub use money::Money;
pub use visibility::{Actor, Scope};
