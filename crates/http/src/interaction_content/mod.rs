//! The Interaction Content API (`001`, `004`) under `/interaction-content`, plus
//! callvault's own ingest endpoints (scope `interaction-content:write`) beside them.

mod content;
mod ingest;
mod interactions;
mod search;
pub mod version;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;

use crate::AppState;

pub(crate) use content::__path_delete_content;
pub(crate) use content::__path_download;
pub(crate) use ingest::{__path_put_content, __path_put_interaction, parse_json};
pub(crate) use interactions::{
    __path_delete_batch, __path_delete_interaction, __path_get_interaction,
};
pub(crate) use search::__path_search;

/// The dialect's routes; `timed` is the shared request-timeout layer, applied to all but
/// streamed uploads (which have an idle timeout on their body instead).
pub fn routes<L>(timed: L) -> Router<AppState>
where
    L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Response:
        axum::response::IntoResponse + 'static,
    <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
{
    let timed = Router::new()
        .route("/interactions", get(search::search))
        .route(
            "/interactions/{guid}",
            get(interactions::get_interaction)
                .delete(interactions::delete_interaction)
                .put(ingest::put_interaction),
        )
        .route(
            "/interactions/delete-batch",
            post(interactions::delete_batch),
        )
        .route(
            "/interactions/{guid}/content/{content_key}",
            get(content::download).delete(content::delete_content),
        )
        .layer(timed);
    let uploads = Router::new()
        .route(
            "/interactions/{guid}/content/{content_key}",
            put(ingest::put_content),
        )
        .layer(DefaultBodyLimit::disable());
    timed.merge(uploads)
}
