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

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Every prefix a real client may use.
pub(crate) use bulk::{__path_retrieve, __path_retrieve_with_transcriptions};
pub(crate) use jobs::{
    __path_create_company, __path_create_company_transcriptions, __path_create_user,
    __path_get_recordings, __path_get_with_transcriptions, __path_list_recordings,
    __path_list_with_transcriptions,
};
pub(crate) use recordings::{
    __path_audio, __path_delete_company, __path_delete_user, __path_get_company, __path_get_user,
    __path_list_company, __path_list_user,
};
pub(crate) use transcriptions::{
    __path_get as __path_get_transcription, __path_list as __path_list_transcriptions,
};

pub const PREFIXES: [&str; 4] = [
    "/t/vbc.prod/call_recording/api",
    "/t/vbc.prod/call_recording/v1/api",
    "/call_recording/api",
    "/call_recording/v1/api",
];

fn api() -> Router<AppState> {
    Router::new()
        .route(
            "/accounts/{account}/company_call_recordings",
            get(recordings::list_company),
        )
        .route(
            "/accounts/{account}/company_call_recordings/transcriptions",
            get(transcriptions::list),
        )
        .route(
            "/accounts/{account}/company_call_recordings/{id}",
            get(recordings::get_company).delete(recordings::delete_company),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings",
            get(recordings::list_user),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings/{id}",
            get(recordings::get_user).delete(recordings::delete_user),
        )
        .route(
            "/accounts/{account}/company_call_recordings/export",
            post(jobs::create_company),
        )
        .route(
            "/accounts/{account}/company_call_recordings/recordings_transcriptions/export",
            post(jobs::create_company_transcriptions),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings/export",
            post(jobs::create_user),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings/jobs",
            get(jobs::list_recordings),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings/jobs/{id}",
            get(jobs::get_recordings),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings/recordings_transcriptions/jobs",
            get(jobs::list_with_transcriptions),
        )
        .route(
            "/accounts/{account}/users/{user}/call_recordings/recordings_transcriptions/jobs/{id}",
            get(jobs::get_with_transcriptions),
        )
        .route("/bulkDownload/retrieve", get(bulk::retrieve))
        .route(
            "/bulkDownload/recordings_transcriptions/retrieve",
            get(bulk::retrieve_with_transcriptions),
        )
        .route("/audio/recording/{id}", get(recordings::audio))
        .route("/transcription/{recording_id}", get(transcriptions::get))
}

pub fn routes() -> Router<AppState> {
    PREFIXES.iter().fold(Router::new(), |r, p| r.nest(p, api()))
}
