//! The Interaction Content API (`001`, `004`) under `/interaction-content`, plus
//! callvault's own ingest endpoints (scope `interaction-content:write`) beside them.

mod content;
mod ingest;
mod interactions;
mod search;
mod upload;
pub mod version;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub(crate) use ingest::parse_json;

/// The dialect's routes; `timed` is the shared request-timeout layer, applied to all but
/// streamed uploads (which have an idle timeout on their body instead).
pub(crate) const DIALECT: &str = "interaction-content";

pub fn routes<L>(timed: L) -> OpenApiRouter<AppState>
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
    let timed = OpenApiRouter::new()
        .routes(routes!(search::search))
        .routes(routes!(
            interactions::get_interaction,
            interactions::delete_interaction,
            ingest::put_interaction
        ))
        .routes(routes!(interactions::delete_batch))
        .routes(routes!(content::download, content::delete_content))
        .layer(timed);
    let uploads = OpenApiRouter::new()
        .routes(routes!(ingest::put_content))
        .routes(routes!(upload::put_with_content))
        .layer(DefaultBodyLimit::disable());
    timed.merge(uploads)
}
