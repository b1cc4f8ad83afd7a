//! The shangji application: command line, HTTP router (JSON API and pages) and the
//! operations they share. Contains no SQL.

pub mod api;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod download;
pub mod error;
pub mod headers;
pub mod health;
pub mod i18n;
pub mod jobs;
pub mod metrics;
pub mod notices;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod state;

use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .nest("/api/v1", api::router())
        .merge(pages::router())
        .merge(health::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY));
    for (name, value) in headers::RESPONSE_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name.clone(),
            HeaderValue::from_static(value),
        ));
    }
    router = router.layer(SetResponseHeaderLayer::overriding(
        header::HeaderName::from_static(headers::PERMISSIONS_POLICY_HEADER),
        HeaderValue::from_static(headers::PERMISSIONS_POLICY),
    ));
    // Text compresses well: pages, JSON and the embedded scripts travel gzipped when the
    // client accepts it.
    router
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client::identify,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
