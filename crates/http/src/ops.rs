//! Operational endpoints: liveness, readiness, metrics and the OpenAPI document.

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
async fn openapi_json(Extension(doc): Extension<crate::openapi::Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0).into_response()
}

/// Readiness: the metadata store answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses(
        (status = 200, description = "`{\"status\": \"ready\", \"transcription\": {\"engine\": ..., \"state\": \"on\" or \"off\", \"reason\": ...}}`; with `\"storage\": \"full\"` while uploads are refused for lack of space, `\"unreachable\"` while the content store does not answer"),
        (status = 503, description = "The metadata store is unreachable"),
    ))]
async fn readyz(State(state): State<AppState>) -> Response {
    // Transcription off is not unreadiness (everything else works), but it is said.
    let transcription = match state.vault.transcription.default_engine() {
        (engine, None) => json!({ "engine": engine.as_str(), "state": "on" }),
        (engine, Some(why)) => json!({ "engine": engine.as_str(), "state": "off", "reason": why }),
    };
    if let Err(e) = state.vault.ping().await {
        tracing::warn!(error = %e, "readiness check failed");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "message": "metadata store unreachable" })),
        )
            .into_response();
    }
    // Still ready while content cannot be stored or read (search, metadata and deletions
    // work), but saying so, for monitoring.
    let storage = if let Err(e) = state.vault.ping_content().await {
        tracing::warn!(error = %e, "content store unreachable");
        Some((
            "unreachable",
            "content cannot be stored or read until the content store answers",
        ))
    } else if state.vault.blobs.low_on_space() {
        Some(("full", "uploads are refused until space is freed"))
    } else {
        None
    };
    let mut body = json!({ "status": "ready", "transcription": transcription });
    if let Some((state, message)) = storage {
        body["storage"] = json!(state);
        body["message"] = json!(message);
    }
    Json(body).into_response()
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
