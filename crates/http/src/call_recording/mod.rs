//! The business-phone Call Recording API (`002`), served under `/t/vbc.prod/call_recording`
//! and `/call_recording`, each with `/api` and `/v1/api`. Tokens come from `/token`
//! (password and refresh_token grants); `self` is the token's account and user.

mod bulk;
mod context;
mod filters;
mod hal;
mod jobs;
mod recordings;
mod transcriptions;
mod wire;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub(crate) use bulk::{is_expired, zip_response};
pub(crate) use context::public_base;

/// The prefix of the links in what the console hands out (a ZIP's metadata).
pub(crate) const LINK_PREFIX: &str = "/call_recording/api";

/// Every prefix a real client may use.
pub const PREFIXES: [&str; 4] = [
    "/t/vbc.prod/call_recording/api",
    "/t/vbc.prod/call_recording/v1/api",
    "/call_recording/api",
    "/call_recording/v1/api",
];

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(recordings::list_company))
        .routes(routes!(transcriptions::list))
        .routes(routes!(recordings::get_company, recordings::delete_company))
        .routes(routes!(recordings::list_user))
        .routes(routes!(recordings::get_user, recordings::delete_user))
        .routes(routes!(jobs::create_company))
        .routes(routes!(jobs::create_company_transcriptions))
        .routes(routes!(jobs::create_user))
        .routes(routes!(jobs::list_recordings))
        .routes(routes!(jobs::get_recordings))
        .routes(routes!(jobs::list_with_transcriptions))
        .routes(routes!(jobs::get_with_transcriptions))
        .routes(routes!(bulk::retrieve))
        .routes(routes!(bulk::retrieve_with_transcriptions))
        .routes(routes!(recordings::audio))
        .routes(routes!(transcriptions::get))
}

/// The API under each prefix; each copy is documented (with its own operation ids).
pub fn routes() -> OpenApiRouter<AppState> {
    PREFIXES
        .iter()
        .fold(OpenApiRouter::new(), |r, p| r.nest(p, api()))
}
