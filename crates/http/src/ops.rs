//! Operational endpoints: liveness, readiness, metrics and the OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "Operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// This document, built from the routers that serve the API.
#[utoipa::path(get, path = "/openapi.json", tag = "Operations",
    responses((status = 200, description = "The OpenAPI 3.1 document")))]
async fn openapi_json(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Response {
    Json(doc.as_ref().clone()).into_response()
}

/// Readiness: the metadata store answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses(
        (status = 200, description = "`{\"status\": \"ready\", \"transcription\": {\"engine\": ..., \"state\": \"on\" or \"off\", \"reason\": ...}}`; with `\"storage\": \"full\"` while uploads are refused for lack of space"),
        (status = 503, description = "The metadata store is unreachable"),
    ))]
async fn readyz(State(state): State<AppState>) -> Response {
    // Transcription off is not unreadiness (everything else works), but it is said.
    let transcription = match state.vault.transcription.default_engine() {
        (engine, None) => json!({ "engine": engine.as_str(), "state": "on" }),
        (engine, Some(why)) => json!({ "engine": engine.as_str(), "state": "off", "reason": why }),
    };
    match state.vault.ping().await {
        // Still ready (reads and deletions work) when the disk is down to its reserve, but
        // saying so, for monitoring.
        Ok(()) if state.vault.blobs.low_on_space() => Json(json!({
            "status": "ready",
            "storage": "full",
            "message": "uploads are refused until space is freed",
            "transcription": transcription,
        }))
        .into_response(),
        Ok(()) => {
            Json(json!({ "status": "ready", "transcription": transcription })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "message": "metadata store unreachable" })),
            )
                .into_response()
        }
    }
}

/// Prometheus metrics, when enabled.
#[utoipa::path(get, path = "/metrics", tag = "Operations",
    responses(
        (status = 200, description = "Prometheus text exposition format"),
        (status = 404, description = "Metrics are disabled"),
    ))]
async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "metrics are disabled" })),
        )
            .into_response(),
    }
}
