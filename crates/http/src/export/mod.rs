//! The Interaction Content Export API (`000`) under `/interaction-content-export`:
//! external storage targets and export jobs. Every endpoint takes the
//! `interaction-content:read` scope, as the seed documents: whoever may read content may
//! already copy it anywhere, so exporting grants nothing more (docs/decisions.md).

mod jobs;
mod storage;
mod wire;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    // The seed's own example request spells the recurring export `schedule-recurring-job`:
    // both paths are served, and documented.
    let recurring = [
        "/interactions/jobs/schedule-recurring-export",
        "/interactions/jobs/schedule-recurring-job",
    ]
    .into_iter()
    .fold(OpenApiRouter::new(), |r, at| {
        r.nest(
            at,
            OpenApiRouter::new().routes(routes!(jobs::schedule_recurring)),
        )
    });
    OpenApiRouter::new()
        .routes(routes!(storage::create_storage, storage::list_storages))
        .routes(routes!(storage::get_storage, storage::delete_storage))
        .routes(routes!(jobs::schedule_batch))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::job_action))
        .merge(recurring)
}
