//! The shangji application: command line, HTTP router (JSON API and pages) and the
//! operations they share. Contains no SQL.

pub mod api;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod state;

use axum::Router;
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router())
        .merge(pages::router())
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
