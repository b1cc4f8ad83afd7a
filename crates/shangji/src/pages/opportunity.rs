//! The opportunity page: its facts, where it stands in its pipeline (path, guidance,
//! checklist, standard actions), the move form and the history in words. A move the stage's
//! gate refuses comes back with exactly what is missing, each with an input to supply it in
//! the next submit; what the user typed stays.
//!
//! This module holds the labels and amounts other pages share and the routes; the page, the
//! move form and the history are submodules.

mod history;
mod move_form;
mod page;

use axum::routing::{get, post};
use axum::Router;
use shangji_core::model::{Pipeline, Source};

use crate::i18n::Tr;
pub(super) use crate::notices::{stage_name, user_name};
use crate::state::AppState;

pub(super) use history::{describe, Entry};
pub(super) use move_form::{panel, place, MoveForm, PanelItem};

use page::{move_submit, show, withdraw_submit};

/// Yuan as people type them (`120000`, `1,234.5`, `¥8,000.00`) to fen, without floats.
/// `None` when it is not an amount of at most two decimals.
pub(super) fn yuan_to_fen(typed: &str) -> Option<i64> {
    let cleaned: String = typed
        .trim()
        .trim_start_matches(['¥', '￥'])
        .chars()
        .filter(|c| *c != ',' && *c != '，' && !c.is_whitespace())
        .collect();
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

fn checklist_label(tr: Tr, p: &Pipeline, key: &str) -> String {
    p.stages
        .iter()
        .flat_map(|s| &s.gate.checklist)
        .find(|c| c.key == key)
        .map_or_else(
            || key.to_string(),
            |c| {
                if tr.is_zh() {
                    c.label_zh.clone()
                } else {
                    c.label_en.clone()
                }
            },
        )
}

fn action_label(tr: Tr, p: &Pipeline, key: &str) -> String {
    p.stages
        .iter()
        .flat_map(|s| &s.actions)
        .find(|a| a.key == key)
        .map_or_else(
            || key.to_string(),
            |a| {
                if tr.is_zh() {
                    a.name_zh.clone()
                } else {
                    a.name_en.clone()
                }
            },
        )
}

pub(super) fn source_label(tr: Tr, s: Source) -> &'static str {
    match s {
        Source::Website => tr.t("source.website"),
        Source::Referral => tr.t("source.referral"),
        Source::Exhibition => tr.t("source.exhibition"),
        Source::ColdCall => tr.t("source.cold_call"),
        Source::Partner => tr.t("source.partner"),
        Source::Advertising => tr.t("source.advertising"),
        Source::Wechat => tr.t("source.wechat"),
        Source::Tender => tr.t("source.tender"),
        Source::Existing => tr.t("source.existing"),
        Source::Other => tr.t("source.other"),
    }
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/opportunities/{id}", get(show))
        .route("/opportunities/{id}/move", post(move_submit))
        .route("/opportunities/{id}/withdraw", post(withdraw_submit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_become_fen_without_floats() {
        let cases = [
            ("120000", Some(12_000_000)),
            ("1,234.5", Some(123_450)),
            ("¥8,000.00", Some(800_000)),
            (" 0.07 ", Some(7)),
            ("12.345", None),
            ("-5", None),
            ("1e5", None),
            ("", None),
            (".5", None),
            ("99999999999999999999", None),
        ];
        for (typed, want) in cases {
            assert_eq!(yuan_to_fen(typed), want, "{typed}");
        }
    }
}
