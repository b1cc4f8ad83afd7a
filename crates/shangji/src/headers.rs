//! The security headers of every response. Pages load only this server's scripts (no inline
//! script, no `eval`); styles may be inline (a few `style` attributes, and htmx adds its
//! indicator style). Pages are never framed, except the public web-to-lead form, which is made
//! to be embedded in other sites' pages. Strict-Transport-Security is added by
//! `client::identify` to answers that went over HTTPS.

use axum::http::header::{self, HeaderName};

/// What a page may load: its own scripts, styles and images (ECharts may draw to `data:`
/// images), no plugins, forms only to this server, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The same for the public web-to-lead form, which any site may frame.
pub const CSP_FRAMEABLE: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors *";

/// Browser features no page uses, turned off for the pages and anything they embed.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), \
geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()";

/// A year of HTTPS only, once a browser has seen an answer over HTTPS.
pub const HSTS: &str = "max-age=31536000";

/// Headers on every response unless a handler set its own: customer data is not cached
/// by browsers or proxies, not framed by other sites, not sniffed as another type, and pages
/// run only this server's scripts.
pub const RESPONSE_HEADERS: &[(HeaderName, &str)] = &[
    (header::CACHE_CONTROL, "no-store"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::CONTENT_SECURITY_POLICY, CSP),
];

/// Added to every response, whatever the handler set.
pub const PERMISSIONS_POLICY_HEADER: &str = "permissions-policy";
