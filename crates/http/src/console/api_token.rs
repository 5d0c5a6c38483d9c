//! The tenant's Recordings API token in the console, for admins only: what it is for,
//! and a button that generates a new one (what `POST /admin/tenant/api-token` and the
//! CLI's `tenant token` do). Only its hash is kept, so the new token is shown once, and
//! the one before it stops working at once.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;

use super::page::{self, Nav};
use super::session::Viewer;
use super::sign_in::CsrfForm;
use crate::AppState;

const WHAT: &str = "manage the Recordings API token";

#[derive(Template)]
#[template(path = "console/api_token.html")]
struct TokenPage {
    nav: Option<Nav>,
    current: &'static str,
    csrf: String,
    tenant: String,
    /// Whether the tenant has a token now, which a new one would replace.
    has_token: bool,
    /// The token just generated: the one time it is shown.
    token: Option<String>,
}

/// The tenant's name, for the HTTP Basic user name the page shows.
async fn tenant_name(state: &AppState, viewer: &Viewer) -> Result<String, Response> {
    match state.vault.tenant(viewer.principal.tenant).await {
        Ok(Some(t)) => Ok(t.name),
        Ok(None) => Err(page::message(
            StatusCode::NOT_FOUND,
            Some(viewer.nav()),
            "Not found",
            "This tenant no longer exists.",
        )),
        Err(e) => Err(page::service_error(viewer.nav(), e)),
    }
}

/// `/api-token`: what the token is for, and the button for a new one.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Some(refused) = viewer.admin_only(WHAT) {
        return refused;
    }
    let tenant = match tenant_name(&state, &viewer).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let auth = &state.vault.auth;
    let has_token = match auth.has_tenant_api_token(viewer.principal.tenant).await {
        Ok(has) => has,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    let page = TokenPage {
        nav: Some(viewer.nav()),
        current: "api-token",
        csrf: viewer.csrf(),
        tenant,
        has_token,
        token: None,
    };
    page::render(StatusCode::OK, &page)
}

/// Generates a new token, which replaces the old one, and shows it once.
pub async fn generate(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = viewer.admin_form(&state, &headers, f.csrf.as_deref(), WHAT) {
        return refused;
    }
    let tenant = match tenant_name(&state, &viewer).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let auth = &state.vault.auth;
    match auth.new_tenant_api_token(viewer.principal.tenant).await {
        Ok(token) => page::shown_once(&TokenPage {
            nav: Some(viewer.nav()),
            current: "api-token",
            csrf: viewer.csrf(),
            tenant,
            has_token: true,
            token: Some(token),
        }),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}
