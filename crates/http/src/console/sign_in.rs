//! Signing in and out of the console. Failed sign-ins are budgeted like the token
//! endpoint's (per tenant and login, and per source address) and recorded in the audit
//! trail; every failure answers the same words after the same argon2 check.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use callvault_services::console::console_client_id;
use callvault_services::ServiceError;
use serde::Deserialize;

use super::page::{self, Nav};
use super::session::{self, Viewer};
use crate::auth::Caller;
use crate::AppState;

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    nav: Option<Nav>,
    error: Option<String>,
    tenant: String,
    login: String,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

fn form_page(status: StatusCode, error: Option<&str>, tenant: &str, login: &str) -> Response {
    page::render(
        status,
        &SignInPage {
            nav: None,
            error: error.map(str::to_string),
            tenant: tenant.into(),
            login: login.into(),
        },
    )
}

/// The form; someone already signed in goes to finding calls.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session::session_token(&headers) {
        if state.vault.auth.authenticate(&token).await.is_ok() {
            return Redirect::to("/").into_response();
        }
    }
    form_page(StatusCode::OK, None, "", "")
}

pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    caller: Caller,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    if let Some(refused) = session::cross_origin(&state, &headers) {
        return refused;
    }
    let auth = &state.vault.auth;
    let principal = format!("console\u{0}{}\u{0}{}", f.tenant, f.login);
    let source = peer.ip().to_string();
    if let Some(wait) = auth.sign_in.refused(&principal, &source) {
        metrics::counter!("callvault_sign_in_refused_total").increment(1);
        let secs = wait.as_secs().max(1);
        let text = format!("Too many failed sign-ins. Try again in {secs} seconds.");
        let mut resp = form_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&text),
            &f.tenant,
            &f.login,
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    match auth.console_sign_in(&f.tenant, &f.login, &f.password).await {
        Ok(s) => {
            let mut resp = Redirect::to("/").into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                session::session_cookie(&state, &s.token, s.expires_in),
            );
            resp
        }
        Err(ServiceError::Unauthenticated(_)) => {
            auth.sign_in.failed(&principal, &source);
            let client = match state.vault.tenant_by_name(&f.tenant).await {
                Ok(Some(t)) => console_client_id(t.id),
                _ => String::new(),
            };
            state
                .vault
                .sign_in_failed(
                    &client,
                    format!("user:{} via console", f.login),
                    caller.source,
                    caller.user_agent,
                    caller.request_id,
                    "console",
                )
                .await;
            form_page(
                StatusCode::UNAUTHORIZED,
                Some("Wrong tenant, login or password."),
                &f.tenant,
                &f.login,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            form_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Signing in is not possible at the moment. Try again shortly."),
                &f.tenant,
                &f.login,
            )
        }
    }
}

/// Deletes the session's token, so the cookie is useless even if it was kept.
pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = viewer.form_refusal(&state, &headers, f.csrf.as_deref()) {
        return refused;
    }
    if let Err(e) = state.vault.auth.sign_out(&viewer.token).await {
        return page::service_error(viewer.nav(), e);
    }
    let mut resp = Redirect::to("/sign-in").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::cleared_cookie(&state));
    resp
}
