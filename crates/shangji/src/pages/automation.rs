//! Settings for admins: automation rules (the list with its switches, a rule's form with
//! selects and rows for its trigger, conditions and actions — JSON for what rows cannot
//! show — its dry run and its firing log) and the working
//! calendar (the year's holidays and make-up days, and the JSON editor). Also how a rule's
//! reasons read in the user's language, for these pages and the notifications.
//!
//! This module holds the routes; each part is a submodule.

mod calendar;
mod choices;
mod form;
mod list;
mod reasons;
mod rule;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub(super) use reasons::{comparison_text, reasons_text};
pub(super) use rule::errors_of;

use calendar::{calendar, save_calendar};
use list::{rules_page, toggle};
use rule::{create, new_rule, rule_page, update};

const RULES: &str = "/admin/rules";
const CALENDAR: &str = "/admin/calendar";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/rules", get(rules_page).post(create))
        .route("/admin/rules/new", get(new_rule))
        .route("/admin/rules/{id}", get(rule_page).post(update))
        .route("/admin/rules/{id}/toggle", post(toggle))
        .route("/admin/calendar", get(calendar).post(save_calendar))
}
