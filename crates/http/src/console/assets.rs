//! The console's static files, compiled into the binary. The vendored waveform player
//! is re-fetched at its pinned version by `scripts/vendor-assets.sh`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

const CSS: &[u8] = include_bytes!("../../assets/console.css");
const JS: &[u8] = include_bytes!("../../assets/console.js");
const WAVESURFER: &[u8] = include_bytes!("../../assets/vendor/wavesurfer.min.js");

/// Assets change only with the binary; an hour of caching keeps page loads small without
/// keeping a fixed file past an upgrade for long.
fn asset(bytes: &'static [u8], media_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/console.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/assets/console.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/vendor/wavesurfer.min.js",
            get(|| async { asset(WAVESURFER, "text/javascript; charset=utf-8") }),
        )
}
