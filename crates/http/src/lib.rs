//! The HTTP face of callvault. Each vendor API is a dialect module that maps the shared
//! services to its own paths, parameters, wire format and error shape; the plumbing here
//! (auth, ranges, metrics, errors) is shared by all of them.

pub mod auth;
pub mod error;
pub mod interaction_content;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod range;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use callvault_services::Vault;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub vault: Arc<Vault>,
    pub metrics: Option<PrometheusHandle>,
}

/// Limits applied to the whole API.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest JSON or form body; content uploads stream and are limited by the vault.
    pub max_json_body: usize,
    /// Time allowed to produce response headers (downloads stream after that).
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self { max_json_body: 1024 * 1024, request_timeout: Duration::from_secs(60) }
    }
}

pub fn router(state: AppState, limits: HttpLimits) -> Router {
    let api = Router::new()
        .nest("/interaction-content", interaction_content::routes(limits))
        .merge(oauth::routes())
        .merge(ops::routes())
        .layer(DefaultBodyLimit::max(limits.max_json_body));
    api.layer(axum::middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([http::header::AUTHORIZATION]))
        .with_state(state)
}
