//! The Interaction Content Export API (`000`) under `/interaction-content-export`:
//! external storage targets and export jobs. Every endpoint takes the
//! `interaction-content:read` scope, as the seed documents: whoever may read content may
//! already copy it anywhere, so exporting grants nothing more (docs/decisions.md).

mod jobs;
mod storage;
mod wire;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub(crate) use jobs::{
    __path_get_job, __path_job_action, __path_list_jobs, __path_schedule_batch,
    __path_schedule_recurring,
};
pub(crate) use storage::{
    __path_create_storage, __path_delete_storage, __path_get_storage, __path_list_storages,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/external-storage",
            post(storage::create_storage).get(storage::list_storages),
        )
        .route(
            "/external-storage/{id}",
            get(storage::get_storage).delete(storage::delete_storage),
        )
        .route(
            "/interactions/jobs/schedule-recurring-export",
            post(jobs::schedule_recurring),
        )
        // The spelling the seed's own example request uses.
        .route(
            "/interactions/jobs/schedule-recurring-job",
            post(jobs::schedule_recurring),
        )
        .route(
            "/interactions/jobs/schedule-batch-export",
            post(jobs::schedule_batch),
        )
        .route("/interactions/jobs", get(jobs::list_jobs))
        .route("/interactions/jobs/{id}", get(jobs::get_job))
        .route("/interactions/jobs/{id}/{action}", post(jobs::job_action))
}
