//! The list pages of every record kind (one implementation, driven by each kind's column
//! table in `ops::lists`): filters, sort, columns and page in the address, refreshed in place
//! with htmx; saved views; bulk changes with a report per record; exports of the view as CSV
//! and XLSX. Also the search page and the lead page, where a lead is qualified into account,
//! contact and opportunity, or disqualified with a reason.
//!
//! This module holds the helpers of a list's address and the routes; each part is a submodule.

mod bulk;
mod exports;
mod filters;
mod lead;
mod page;
mod search;
mod views;

use axum::routing::{get, post};
use axum::Router;
use shangji_core::model::*;

use crate::i18n::Tr;
use crate::ops::lists::{encode_query, ListKind, Listed};
use crate::state::AppState;

use bulk::bulk_submit;
use exports::{export_csv, export_xlsx};
use lead::{convert_submit, disqualify_submit, lead_show};
use page::list_page;
use search::search_page;
use views::{delete_view, save_view};

fn kind_title(tr: Tr, kind: ListKind) -> String {
    tr.t(&format!("nav.{}", kind.path())).to_string()
}

/// The pairs of a list's address, without blanks and the page's own keys.
fn clean(params: &[(String, String)], drop: &[&str]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, v)| !v.trim().is_empty() && !drop.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect()
}

fn with(pairs: &[(String, String)], key: &str, value: &str) -> String {
    let mut p: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != key).cloned().collect();
    p.push((key.to_string(), value.to_string()));
    encode_query(&p)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

fn list_routes<T: Listed>() -> Router<AppState> {
    let base = format!("/{}", T::KIND.path());
    Router::new()
        .route(&base, get(list_page::<T>))
        .route(&format!("{base}/export.csv"), get(export_csv::<T>))
        .route(&format!("{base}/export.xlsx"), get(export_xlsx::<T>))
        .route(&format!("{base}/bulk"), post(bulk_submit::<T>))
        .route(&format!("{base}/views"), post(save_view::<T>))
        .route(
            &format!("{base}/views/{{id}}/delete"),
            post(delete_view::<T>),
        )
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(list_routes::<Opportunity>())
        .merge(list_routes::<Account>())
        .merge(list_routes::<Contact>())
        .merge(list_routes::<Lead>())
        .merge(list_routes::<Activity>())
        .merge(list_routes::<Task>())
        .route("/search", get(search_page))
        .route("/leads/{id}", get(lead_show))
        .route("/leads/{id}/convert", post(convert_submit))
        .route("/leads/{id}/disqualify", post(disqualify_submit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::lists::Column;

    /// Labels made from keys at run time (columns, filters, closed sets) exist in both
    /// languages.
    #[test]
    fn every_generated_label_is_translated() {
        let columns: [&[Column]; 6] = [
            <Opportunity as Listed>::COLUMNS,
            <Account as Listed>::COLUMNS,
            <Contact as Listed>::COLUMNS,
            <Lead as Listed>::COLUMNS,
            <Activity as Listed>::COLUMNS,
            <Task as Listed>::COLUMNS,
        ];
        let filters = [
            "q",
            "owner_id",
            "author_id",
            "assignee_id",
            "pipeline_id",
            "stage_id",
            "status",
            "grade",
            "source",
            "tag",
            "close_from",
            "close_to",
            "size",
            "region",
            "industry",
            "buying_role",
            "kind",
            "customer_facing",
            "done",
            "due_from",
            "due_to",
            "created_from",
            "created_to",
        ];
        let sets: [(&str, &[&str]); 8] = [
            ("lists.size", AccountSize::NAMES),
            ("lists.role", BuyingRole::NAMES),
            ("lists.lead", LeadStatus::NAMES),
            ("lists.activity", ActivityType::NAMES),
            ("lists.kind", RecordKind::NAMES),
            ("source", Source::NAMES),
            ("kind", StageKind::NAMES),
            ("forecast", ForecastCategory::NAMES),
        ];
        for lang in [Language::ZhCn, Language::En] {
            let tr = Tr::new(lang);
            for c in columns.iter().flat_map(|c| c.iter()) {
                assert!(
                    tr.get(&format!("lists.col.{}", c.label)).is_some(),
                    "{}",
                    c.label
                );
            }
            for f in filters {
                assert!(tr.get(&format!("lists.f.{f}")).is_some(), "{f}");
            }
            for (prefix, names) in sets {
                for n in names {
                    assert!(tr.get(&format!("{prefix}.{n}")).is_some(), "{prefix}.{n}");
                }
            }
            for k in ListKind::ALL {
                assert!(tr.get(&format!("nav.{}", k.path())).is_some());
            }
        }
    }

    #[test]
    fn a_sort_link_replaces_the_sort_and_keeps_the_filters() {
        let pairs = vec![
            ("status".to_string(), "open".to_string()),
            ("sort".to_string(), "title".to_string()),
        ];
        assert_eq!(with(&pairs, "sort", "-title"), "status=open&sort=-title");
        let cleaned = clean(
            &[
                ("q".into(), " ".into()),
                ("page".into(), "2".into()),
                ("owner_id".into(), "3".into()),
            ],
            &["page"],
        );
        assert_eq!(cleaned, vec![("owner_id".to_string(), "3".to_string())]);
    }
}
