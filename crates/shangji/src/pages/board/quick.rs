//! The board's quick create: title, account, amount and close date into the pipeline's first
//! stage (a customer not yet entered is created with the deal when asked), and the accounts
//! its form offers.

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use shangji_core::model::Account;
use shangji_core::opportunity::OpportunityInput;
use shangji_core::Field;

use super::{chosen_pipeline, iso_date, page, Filters, Mode};
use crate::error::AppError;
use crate::ops;
use crate::pages::opportunity::yuan_to_fen;
use crate::pages::{error_text, render, shown_in_form, Errors, Viewer};
use crate::state::AppState;

/// The quick-create form as typed, with its errors.
#[derive(Default)]
pub(super) struct Quick {
    pub(super) title: String,
    pub(super) account: String,
    pub(super) amount: String,
    pub(super) close_date: String,
    pub(super) errors: Errors,
    /// Opened from elsewhere (an account page's "new deal"), its account filled in.
    pub(super) open: bool,
    /// The account is not one the user can see: offer to create it with the deal (the
    /// offer's words).
    pub(super) offer_new: Option<String>,
    /// The close date is far from today: asked to confirm (the box's words).
    pub(super) confirm_date: Option<String>,
}

/// Quick create: title, account, amount, close date; into the pipeline's first stage.
pub(super) async fn quick_create(
    State(s): State<AppState>,
    v: Viewer,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let tr = v.tr;
    let f = match v.posted(f, "/board") {
        Ok(f) => f,
        Err(page) => return page,
    };
    let view = f.get("view").to_string();
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&view).unwrap_or_default();
    let filters = Filters::read(&params);
    let mut quick = Quick {
        title: f.text("title"),
        account: f.text("account"),
        amount: f.text("amount"),
        close_date: f.text("close_date"),
        errors: Errors::default(),
        open: true,
        offer_new: None,
        confirm_date: None,
    };
    let mut input = OpportunityInput {
        title: Field::Value(quick.title.clone()),
        pipeline_id: chosen_pipeline(&v, &filters).map_or(Field::Absent, |p| Field::Value(p.id)),
        ..Default::default()
    };
    if !quick.amount.is_empty() {
        match yuan_to_fen(&quick.amount) {
            Some(fen) => input.amount_minor = Field::Value(fen),
            None => quick.errors.add(
                "amount",
                crate::pages::field_text(tr, "amount", "invalid_amount"),
            ),
        }
    }
    if !quick.close_date.is_empty() {
        match iso_date(&quick.close_date) {
            Some(d) => input.close_date = Field::Value(d),
            None => quick.errors.add(
                "close_date",
                crate::pages::field_text(tr, "close_date", "invalid_date"),
            ),
        }
    }
    // The account by its exact name, among those the user can see.
    if quick.account.is_empty() {
        quick.errors.add(
            "account",
            crate::pages::field_text(tr, "account", "required"),
        );
    } else {
        let params = [
            ("q".to_string(), quick.account.clone()),
            ("per_page".to_string(), "50".to_string()),
        ];
        match ops::list::<Account>(&s.db, &v.ctx, &params).await {
            Ok(found) => match found.items.iter().find(|a| a.name == quick.account) {
                Some(a) => input.account_id = Field::Value(a.id),
                // Asked for: the customer is created with the deal.
                None if f.get("new_account") == "1" => {}
                None => {
                    quick.errors.add("account", tr.t("board.unknown_account"));
                    quick.offer_new =
                        Some(tr.fmt("board.create_account", &[("name", quick.account.as_str())]));
                }
            },
            Err(e) => return v.error("/board", e),
        }
    }
    // A close date far from today is asked about once before it is saved.
    if let Some(w) = ops::input_warnings(&v.ctx, &input)
        .into_iter()
        .next()
        .filter(|_| f.get("date_ok") != "1")
    {
        quick.errors.add(
            "close_date",
            crate::pages::warning_text(tr, &w, &quick.close_date),
        );
        quick.confirm_date = Some(tr.t("ux.warn.confirm").to_string());
    }
    if quick.errors.is_empty() {
        let created = if input.account_id.is_absent() {
            let account = shangji_core::records::AccountInput {
                name: Field::Value(quick.account.clone()),
                ..Default::default()
            };
            ops::create_opportunity_with_account(&s.db, &v.ctx, account, input).await
        } else {
            ops::create_opportunity(&s.db, &v.ctx, input, None).await
        };
        match created {
            Ok(_) => {
                let sep = if view.is_empty() { "" } else { "?" };
                return Redirect::to(&format!("/board{sep}{view}#board")).into_response();
            }
            Err(e) if shown_in_form(&e) => {
                let (field, text) = error_text(tr, &e);
                let at = match field.as_str() {
                    "title" => "title",
                    "amount_minor" | "currency" => "amount",
                    "close_date" => "close_date",
                    "account_id" | "name" | "credit_code" => "account",
                    _ if matches!(e, AppError::Duplicate { .. }) => "account",
                    _ => "form",
                };
                quick.errors.add(at, text);
            }
            Err(e) => return v.error("/board", e),
        }
    }
    match page(&s, &v, &filters, Mode::Board, quick).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, render(p)).into_response(),
        Err(e) => v.error("/board", e),
    }
}

/// The accounts offered by the quick-create form (loaded when it is opened): the 50 the
/// user's scope changed most recently.
#[derive(Template)]
#[template(path = "board_accounts.html")]
struct AccountOptions {
    names: Vec<String>,
}

pub(super) async fn account_options(State(s): State<AppState>, v: Viewer) -> Response {
    let params = [("per_page".to_string(), "50".to_string())];
    match ops::list::<Account>(&s.db, &v.ctx, &params).await {
        Ok(page) => render(AccountOptions {
            names: page.items.into_iter().map(|a| a.name).collect(),
        }),
        Err(e) => v.error("/board", e),
    }
}
