//! The HTTP face of callvault. Each vendor API is a dialect module that maps the shared
//! services to its own paths, parameters, wire format and error shape; the plumbing here
//! (auth, ranges, metrics, errors) is shared by all of them.

pub mod audit_api;
pub mod auth;
pub mod call_recording;
pub mod console;
pub mod erasure_api;
pub mod error;
pub mod export;
pub mod governance;
pub mod interaction_content;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod range;
pub mod recordings_files;
pub mod tenant_admin;
pub mod transcripts_api;
pub mod webhooks_api;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::Router;
use callvault_services::Vault;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub vault: Arc<Vault>,
    pub metrics: Option<PrometheusHandle>,
    /// Base of absolute URLs in responses (`https://recordings.example.com`); without it
    /// they are built from the request's Host header.
    pub public_base_url: Option<String>,
    /// Whether this server terminates TLS, for the scheme of absolute URLs.
    pub tls: bool,
}

/// Limits applied to the whole API.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest JSON or form body; content uploads stream and are limited by the vault.
    pub max_json_body: usize,
    /// Time allowed to produce response headers (downloads stream after that).
    pub request_timeout: Duration,
    /// Requests handled at once; more wait for a slot, so a burst cannot exhaust file
    /// descriptors or database connections.
    pub max_concurrent_requests: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_json_body: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_concurrent_requests: 1024,
        }
    }
}

pub fn router(state: AppState, limits: HttpLimits) -> Router {
    // Every route but streamed uploads must answer in time, so slow clients cannot hold
    // the concurrency slots; uploads have an idle timeout on their body instead.
    let timed = || {
        tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        )
    };
    let (api, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/interaction-content", interaction_content::routes(timed()))
        .nest(
            "/interaction-content-export",
            export::routes().layer(timed()),
        )
        .merge(recordings_files::routes().layer(timed()))
        .merge(call_recording::routes().layer(timed()))
        .merge(tenant_admin::routes().layer(timed()))
        .merge(governance::routes().layer(timed()))
        .merge(audit_api::routes().layer(timed()))
        .merge(erasure_api::routes().layer(timed()))
        .merge(transcripts_api::routes().layer(timed()))
        .merge(webhooks_api::routes().layer(timed()))
        .merge(oauth::routes().layer(timed()))
        .merge(ops::routes().layer(timed()))
        .split_for_parts();
    let api = api
        .layer(axum::Extension(openapi::Document::of(doc)))
        .layer(DefaultBodyLimit::max(limits.max_json_body))
        // The console is for people, not API clients: not in the API document.
        .merge(console::routes().layer(timed()));
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    });
    api.layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::map_response(error::retry_after))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            http::header::AUTHORIZATION,
        ]))
        .with_state(state)
}
