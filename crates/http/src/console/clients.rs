//! API clients in the console, for admins only: the tenant's clients (without the
//! console's own, which signs its sessions and nobody holds a secret of), creating one
//! with a name and scopes, a new secret for one, and revoking one. A secret is shown once,
//! as the answer to the form that made it; the services keep only its hash.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use callvault_core::{Scope, ScopeSet};
use callvault_services::auth::ClientCredentials;
use callvault_services::console::console_client_id;
use callvault_services::ServiceError;
use chrono_tz::Tz;

use super::govern::local;
use super::holds::{admin_time_zone, time_zone};
use super::page::{self, Nav};
use super::session::Viewer;
use super::sign_in::CsrfForm;
use crate::AppState;

const WHAT: &str = "manage API clients";

/// What a scope lets a client do, as the form offers it. The match is exhaustive, so a
/// new scope cannot be added without saying what it is for.
fn scope_use(s: Scope) -> &'static str {
    match s {
        Scope::ContentRead => "search, get and download recordings",
        Scope::ContentDelete => "delete recordings",
        Scope::ContentWrite => "ingest recordings (callvault's ingest API)",
        Scope::TenantAdmin => "tenant settings, such as the Recordings API token",
        Scope::Governance => "legal holds, retention policies and erasure",
        Scope::Audit => "read the audit trail",
        Scope::Webhooks => "manage webhook subscriptions",
    }
}

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    /// "Active", or when it was revoked.
    pub state: String,
    pub active: bool,
}

pub struct ScopeChoice {
    pub name: &'static str,
    pub what: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ClientsPage {
    nav: Option<Nav>,
    current: &'static str,
    clients: Vec<ClientRow>,
    csrf: String,
    error: Option<String>,
    name: String,
    scopes: Vec<ScopeChoice>,
}

/// The answer to creating a client or rotating its secret: the one time the secret is
/// shown.
#[derive(Template)]
#[template(path = "console/client_secret.html")]
struct SecretPage {
    nav: Option<Nav>,
    current: &'static str,
    rotated: bool,
    name: String,
    client_id: String,
    secret: String,
    scopes: String,
}

/// The page with the tenant's clients and the form, which shows `error` and keeps what
/// was typed and ticked.
async fn page_with(
    state: &AppState,
    viewer: &Viewer,
    tz: Tz,
    status: StatusCode,
    error: Option<String>,
    name: &str,
    chosen: &ScopeSet,
) -> Response {
    let tenant = viewer.principal.tenant;
    let clients = match state.vault.list_clients(tenant).await {
        Ok(c) => c,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    let console = console_client_id(tenant);
    let page = ClientsPage {
        nav: Some(viewer.nav()),
        current: "clients",
        clients: clients
            .into_iter()
            .filter(|c| c.client_id != console)
            .map(|c| ClientRow {
                state: match c.revoked_at {
                    Some(at) => format!("Revoked {}", local(tz, at)),
                    None => "Active".into(),
                },
                active: c.revoked_at.is_none(),
                created: local(tz, c.created_at),
                id: c.client_id,
                name: c.name,
                scopes: c.scopes,
            })
            .collect(),
        csrf: viewer.csrf(),
        error,
        name: name.into(),
        scopes: Scope::ALL
            .into_iter()
            .map(|s| ScopeChoice {
                name: s.as_str(),
                what: scope_use(s),
                checked: chosen.contains(s),
            })
            .collect(),
    };
    page::render(status, &page)
}

/// `/clients`: the tenant's clients, oldest first, and the form for a new one.
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let tz = match admin_time_zone(&state, &viewer, WHAT).await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let none = ScopeSet::default();
    page_with(&state, &viewer, tz, StatusCode::OK, None, "", &none).await
}

/// Creates a client from the form (`name`, a `scope` per ticked box, `csrf`) and shows
/// its secret. A form the services refuse comes back with the reason, as typed.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(refused) = viewer.admin_form(&state, &headers, field("csrf"), WHAT) {
        return refused;
    }
    let name = field("name").unwrap_or_default().trim().to_string();
    let ticked: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let scopes = ScopeSet::parse("scopes", &ticked.join(" "));
    let created = match scopes {
        Ok(scopes) => {
            state
                .vault
                .auth
                .create_client(viewer.principal.tenant, &name, scopes)
                .await
        }
        Err(invalid) => Err(invalid.into()),
    };
    match created {
        Ok(c) => secret_page(&viewer, c, false),
        Err(ServiceError::Invalid(i)) => {
            let tz = match time_zone(&state, &viewer).await {
                Ok(tz) => tz,
                Err(resp) => return resp,
            };
            let kept = ScopeSet::from_scopes(ticked.iter().filter_map(|s| Scope::parse(s)));
            let status = StatusCode::BAD_REQUEST;
            page_with(&state, &viewer, tz, status, Some(i.message), &name, &kept).await
        }
        Err(e) => page::service_error(viewer.nav(), e),
    }
}

fn secret_page(viewer: &Viewer, c: ClientCredentials, rotated: bool) -> Response {
    page::shown_once(&SecretPage {
        nav: Some(viewer.nav()),
        current: "clients",
        rotated,
        name: c.name,
        client_id: c.client_id,
        secret: c.client_secret,
        scopes: c.scopes.to_string(),
    })
}

/// The one answer for a client that does not exist, is another tenant's, is revoked, or
/// is the console's own.
fn no_client(viewer: &Viewer) -> Response {
    page::message(
        StatusCode::NOT_FOUND,
        Some(viewer.nav()),
        "Not found",
        "There is no such active API client.",
    )
}

/// The refusal of a rotate or revoke form: its form checks and the admin's role, then
/// the console's own client, which answers as an unknown one here (the services refuse
/// it too, with the reason, for the CLI).
fn refused(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    f: &CsrfForm,
    id: &str,
) -> Option<Response> {
    viewer
        .admin_form(state, headers, f.csrf.as_deref(), WHAT)
        .or_else(|| (id == console_client_id(viewer.principal.tenant)).then(|| no_client(viewer)))
}

/// Gives a client a new secret and shows it; the old one gets no more tokens.
pub async fn rotate(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = refused(&state, &viewer, &headers, &f, &id) {
        return r;
    }
    match state
        .vault
        .auth
        .rotate_secret(viewer.principal.tenant, &id)
        .await
    {
        Ok(c) => secret_page(&viewer, c, true),
        Err(ServiceError::NotFound(_)) => no_client(&viewer),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}

/// Revokes a client and every token it holds, then lists the clients again.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = refused(&state, &viewer, &headers, &f, &id) {
        return r;
    }
    match state.vault.auth.revoke(viewer.principal.tenant, &id).await {
        Ok(()) => Redirect::to("/clients").into_response(),
        Err(ServiceError::NotFound(_)) => no_client(&viewer),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}
