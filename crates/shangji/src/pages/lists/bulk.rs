//! Bulk changes from a list, with a report line per record.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::i18n::Tr;
use crate::ops::lists::{self, BulkAction, Listed};
use crate::pages::{error_text, shown_in_form, Viewer};
use crate::state::AppState;

use super::page::{page, wants_fragment, ReportLine};

/// The text of a refused change of one record, in the user's language (a refused move
/// names what its stage still needs).
fn refusal(tr: Tr, e: &AppError) -> String {
    match e {
        AppError::Unmet { missing, .. } => {
            let items: Vec<&str> = missing
                .iter()
                .map(|m| {
                    if tr.is_zh() {
                        m.label_zh.as_str()
                    } else {
                        m.label_en.as_str()
                    }
                })
                .collect();
            format!("{}: {}", error_text(tr, e).1, items.join(tr.t("list.sep")))
        }
        AppError::AwaitingApproval(_) => tr.t("lists.bulk.awaiting").to_string(),
        e => error_text(tr, e).1,
    }
}

pub(super) async fn bulk_submit<T: Listed>(
    State(s): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let kind = T::KIND;
    let here = format!("/{}", kind.path());
    let f = match v.posted(f, &here) {
        Ok(f) => f,
        Err(page) => return page,
    };
    let params = lists::parse_query(f.get("query"));
    let ids: Vec<i64> = f.all("ids").iter().filter_map(|i| i.parse().ok()).collect();
    let tr = v.tr;
    let action = match f.get("action") {
        "reassign" => f.text("to_owner").parse().ok().map(BulkAction::Reassign),
        "tag" => Some(BulkAction::AddTag(f.text("tag"))),
        "move" => f.text("to_stage").parse().ok().map(BulkAction::Move),
        _ => None,
    };
    let outcome = match action {
        None => Err(AppError::invalid("action", "required", "choose what to do")),
        Some(a) => lists::bulk(&s.db, &v.ctx, kind, &ids, &a).await,
    };
    let (report, error, status) = match outcome {
        Ok(done) => {
            let refused = done
                .iter()
                .filter(|o| matches!(o.result, Err(ref e) if !matches!(e, AppError::AwaitingApproval(_))))
                .count();
            let lines = done
                .iter()
                .map(|o| ReportLine {
                    // A move now waiting for approval went as far as it can.
                    ok: matches!(o.result, Ok(()) | Err(AppError::AwaitingApproval(_))),
                    title: o.title.clone(),
                    text: match &o.result {
                        Ok(()) => tr.t("lists.bulk.done").to_string(),
                        Err(e) => refusal(tr, e),
                    },
                })
                .collect();
            let status = if refused > 0 && refused == done.len() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (lines, None, status)
        }
        Err(e) if shown_in_form(&e) => {
            let text = match &e {
                AppError::Invalid(fe) if fe.field == "action" => {
                    tr.t("lists.bulk.choose").to_string()
                }
                AppError::Invalid(fe) if fe.field == "ids" && fe.code == "required" => {
                    tr.t("lists.bulk.none").to_string()
                }
                e => error_text(tr, e).1,
            };
            (vec![], Some(text), e.status())
        }
        Err(e) => return v.error(&here, e),
    };
    match page::<T>(&s, &v, &params, wants_fragment(&headers), |r| {
        r.report = report;
        r.bulk_error = error;
    })
    .await
    {
        Ok(r) => (status, r).into_response(),
        Err(e) => v.error(&here, e),
    }
}
