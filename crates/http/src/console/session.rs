//! Who is using the console: the session cookie (an access token, see
//! `callvault_services::console`), checked like a bearer token on every page, fragment and
//! media request, and the two checks every state-changing form passes: its form token and
//! the request's origin.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use callvault_core::User;
use callvault_services::access::Access;
use callvault_services::audit::Actor;
use callvault_services::auth::Principal;
use callvault_services::console::{form_token, form_token_matches};

use super::page::{self, Nav};
use crate::auth::Caller;
use crate::AppState;

/// The cookie that holds the session's token.
pub const COOKIE: &str = "cv_session";
pub const DIALECT: &str = "console";

/// A signed-in console user.
pub struct Viewer {
    pub principal: Principal,
    pub user: User,
    pub token: String,
    pub caller: Caller,
}

impl Viewer {
    pub fn access(&self) -> Access {
        Access::of(Some(&self.user))
    }

    /// Whether the viewer may change what the tenant holds (delete, holds, governance):
    /// an admin; a reviewer sees what an admin sees but changes nothing.
    pub fn is_admin(&self) -> bool {
        self.access().may_change()
    }

    pub fn actor(&self, operation: &'static str) -> Actor {
        self.caller.actor(&self.principal, DIALECT, operation)
    }

    /// The refusal of a page or form that only an account admin may use; `None` for an
    /// admin. Checked by every governance route, whatever the page showed.
    pub fn admin_only(&self, what: &str) -> Option<Response> {
        (!self.is_admin()).then(|| {
            page::message(
                StatusCode::FORBIDDEN,
                Some(self.nav()),
                "Not allowed",
                &format!("Only an account admin can {what}."),
            )
        })
    }

    /// The refusal of a state-changing form only admins may send: the form checks first
    /// (a forged form learns nothing of roles), then the role.
    pub fn admin_form(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        csrf: Option<&str>,
        what: &str,
    ) -> Option<Response> {
        self.form_refusal(state, headers, csrf)
            .or_else(|| self.admin_only(what))
    }

    /// The form token of this session, for the hidden field of every form.
    pub fn csrf(&self) -> String {
        form_token(&self.token)
    }

    pub fn nav(&self) -> Nav {
        Nav {
            login: self.user.login.clone(),
            role: page::role(&self.user),
            csrf: self.csrf(),
        }
    }

    /// The refusal of a state-changing form that was not rendered for this session or
    /// that comes from another site; `None` when it may go ahead.
    pub fn form_refusal(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        csrf: Option<&str>,
    ) -> Option<Response> {
        if let Some(refused) = cross_origin(state, headers) {
            return Some(refused);
        }
        match csrf {
            Some(t) if form_token_matches(&self.token, t) => None,
            _ => Some(page::forbidden(
                "This form has expired or did not come from this console. Go back, reload the page and try again.",
            )),
        }
    }
}

/// The session token a request's cookie carries, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    /// Without a live session every console route sends the browser to sign in.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let sign_in = || Redirect::to("/sign-in").into_response();
        let token = session_token(&parts.headers).ok_or_else(sign_in)?;
        let principal = state
            .vault
            .auth
            .authenticate(&token)
            .await
            .map_err(|_| sign_in())?;
        let user = principal.user.clone().ok_or_else(sign_in)?;
        Ok(Viewer {
            principal,
            user,
            token,
            caller: Caller::of(parts),
        })
    }
}

/// Whether the console is reached over TLS, so its cookie must be `Secure`.
fn secure(state: &AppState) -> bool {
    state.tls
        || state
            .public_base_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

/// The `Set-Cookie` value that starts a session of `max_age` seconds.
pub fn session_cookie(state: &AppState, token: &str, max_age: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let value =
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn cleared_cookie(state: &AppState) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The origin this console is served from: the configured public base URL, else the
/// scheme this server speaks and the request's Host.
fn own_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(base) = &state.public_base_url {
        let url = url_origin(base.trim_end_matches('/'))?;
        return Some(url);
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if state.tls { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

/// `scheme://host[:port]` of an absolute URL.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// The refusal of a state-changing request that does not name this console as its
/// origin (`Origin`, or failing that `Referer`); one that names neither is refused too.
pub fn cross_origin(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let refused =
        || page::forbidden("This request came from another site, so it was not carried out.");
    let Some(own) = own_origin(state, headers) else {
        return Some(refused());
    };
    let named = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => Some(origin.to_string()),
        None => headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(url_origin),
    };
    match named {
        Some(o) if o.eq_ignore_ascii_case(&own) => None,
        _ => Some(refused()),
    }
}
