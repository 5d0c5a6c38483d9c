//! Users in the console, for admins only: the tenant's users (those with a login) and a
//! form for a new one, with the services' rules for logins and passwords (the CLI's
//! `user create`). A user signs in to this console and to the Call Recording API.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use callvault_core::{Role, User};
use callvault_services::ServiceError;
use serde::Deserialize;

use super::page::{self, Nav};
use super::session::Viewer;
use crate::AppState;

const WHAT: &str = "manage users";

pub struct UserRow {
    pub login: String,
    pub id: String,
    pub role: &'static str,
}

/// The form's fields; the password is never echoed back.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewUser {
    csrf: Option<String>,
    login: String,
    password: String,
    id: String,
    /// `agent`, `reviewer` or `admin`; empty is an agent, as the CLI's default.
    role: String,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    nav: Option<Nav>,
    current: &'static str,
    users: Vec<UserRow>,
    csrf: String,
    /// The user just created, named by the redirect after the form.
    created: Option<UserRow>,
    error: Option<String>,
    f: NewUser,
    roles: [Role; 3],
}

fn row(u: &User) -> UserRow {
    UserRow {
        login: u.login.clone(),
        id: u.id.clone(),
        role: page::role(u),
    }
}

async fn page_with(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    created: Option<&str>,
    error: Option<String>,
    f: NewUser,
) -> Response {
    let users = match state.vault.list_users(viewer.principal.tenant).await {
        Ok(u) => u,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    let page = UsersPage {
        nav: Some(viewer.nav()),
        current: "users",
        created: created.and_then(|id| users.iter().find(|u| u.id == id).map(row)),
        users: users.iter().map(row).collect(),
        csrf: viewer.csrf(),
        error,
        f,
        roles: Role::ALL,
    };
    page::render(status, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UsersParams {
    /// The id of a user just created, to say so (only a user of the list is named).
    created: String,
}

/// `/users`: the tenant's users by login, and the form for a new one.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<UsersParams>,
) -> Response {
    if let Some(refused) = viewer.admin_only(WHAT) {
        return refused;
    }
    let created = Some(p.created.as_str()).filter(|c| !c.is_empty());
    page_with(
        &state,
        &viewer,
        StatusCode::OK,
        created,
        None,
        NewUser::default(),
    )
    .await
}

/// Creates a user, then lists the users again saying so; a refused form comes back with
/// the reason and what was typed, but not the password.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(mut f): Form<NewUser>,
) -> Response {
    if let Some(refused) = viewer.admin_form(&state, &headers, f.csrf.as_deref(), WHAT) {
        return refused;
    }
    f.login = f.login.trim().to_string();
    f.id = f.id.trim().to_string();
    let id = Some(f.id.as_str()).filter(|id| !id.is_empty());
    let role = match f.role.as_str() {
        "" => Role::Agent,
        r => match Role::parse("Role", r) {
            Ok(r) => r,
            Err(e) => {
                f.password.clear();
                return page_with(
                    &state,
                    &viewer,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some(e.message),
                    f,
                )
                .await;
            }
        },
    };
    let created = state
        .vault
        .auth
        .create_user(viewer.principal.tenant, id, &f.login, &f.password, role)
        .await;
    f.password.clear();
    let (status, why) = match created {
        Ok(u) => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("created", &u.id);
            return Redirect::to(&format!("/users?{}", q.finish())).into_response();
        }
        Err(ServiceError::Invalid(i)) => (StatusCode::BAD_REQUEST, i.message),
        Err(ServiceError::Conflict(m)) => (StatusCode::CONFLICT, m),
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    page_with(&state, &viewer, status, None, Some(why), f).await
}
