//! The web console at `/`: server-rendered pages (askama templates, escaped by default)
//! with a little script, for the people who use recordings. It talks only to the services,
//! with the same rules as the APIs: a session is a user's access token in an `HttpOnly`
//! cookie, roles come from `Access`, reads and deletes are audited with the console user
//! as the principal. Anyone exports the calls they find as a ZIP (an export job, as the
//! Call Recording API's). An account admin also manages the tenant's API clients, users
//! and Recordings API token, and sees the Export API's jobs. Its assets are compiled
//! into the binary, so nothing but the server is needed to run it.

mod api_token;
mod assets;
mod audit;
mod call;
mod clients;
mod delete;
mod exports;
mod facts;
mod find;
mod govern;
mod holds;
mod page;
mod session;
mod sign_in;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Largest form the console accepts (its forms hold a few short fields).
const MAX_FORM: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(find::find))
        .route("/sign-in", get(sign_in::show).post(sign_in::sign_in))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/calls/{guid}", get(call::show))
        .route("/calls/{guid}/content/{key}", get(call::content))
        .route("/calls/{guid}/play/{key}", get(call::play))
        .route("/calls/{guid}/peaks/{key}", get(call::peaks))
        .route("/calls/{guid}/delete", post(delete::delete))
        .route("/calls/{guid}/holds", post(holds::place))
        .route("/exports", get(exports::list).post(exports::start))
        .route("/exports/{id}/zip", get(exports::download))
        .route("/export-api", get(exports::export_api))
        .route("/holds", get(holds::list))
        .route("/holds/{id}/release", post(holds::release))
        .route("/audit", get(audit::trail))
        .route("/audit.csv", get(audit::csv))
        .route("/clients", get(clients::list).post(clients::create))
        .route("/clients/{id}/rotate", post(clients::rotate))
        .route("/clients/{id}/revoke", post(clients::revoke))
        .route("/users", get(users::list).post(users::create))
        .route("/api-token", get(api_token::show).post(api_token::generate))
        .merge(assets::routes())
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::middleware::from_fn(page::security_headers))
}
