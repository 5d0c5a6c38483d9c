//! What every Call Recording handler needs: the caller, the account and user the path
//! names (`self` or an id), who may see what, and absolute URLs in the prefix the client
//! used.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use callvault_core::Scope;
use callvault_services::auth::Principal;

use crate::auth::Authed;
use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller plus how to build links back to this API.
pub struct Ctx {
    pub principal: Principal,
    pub caller: crate::auth::Caller,
    /// `scheme://host`, or the configured public base URL.
    pub base: String,
    /// The path up to and including `/api` as the client wrote it, e.g.
    /// `/t/vbc.prod/call_recording/v1/api`.
    pub prefix: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authed(principal, caller) = Authed::from_request_parts(parts, state).await?;
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_string(), |u| u.0.path().to_string());
        let prefix = path.find("/api/").map_or_else(
            || "/call_recording/api".to_string(),
            |i| path[..i + 4].to_string(),
        );
        Ok(Self {
            principal,
            caller,
            base: public_base(state, &parts.headers),
            prefix,
        })
    }
}

/// `scheme://host` of links back to this server: the configured public base URL, else
/// the request's `Host` (when it is a plain host name) and forwarded scheme.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    match &state.public_base_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
                })
                .unwrap_or("localhost");
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .filter(|p| *p == "https" || *p == "http")
                .unwrap_or(if state.tls { "https" } else { "http" });
            format!("{proto}://{host}")
        }
    }
}

pub use callvault_services::access::{Access, Owner};

impl Ctx {
    /// The actor for this request in the Call Recording API.
    pub fn actor(&self, operation: &'static str) -> callvault_services::audit::Actor {
        self.caller
            .actor(&self.principal, "call-recording", operation)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.base, self.prefix, path)
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.principal.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("The access token lacks the required scope {scope}"),
            ))
        }
    }

    pub fn access(&self) -> Access {
        Access::of(self.principal.user.as_ref())
    }

    /// Checks the `{account_id}` path segment: `self` or this tenant's id.
    pub fn account(&self, account: &str) -> Result<i64, ApiError> {
        let id = self.principal.tenant.0;
        if account == "self" || account == id.to_string() {
            Ok(id)
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Account {account} was not found"),
            ))
        }
    }

    /// Resolves the `{user_id}` path segment and checks the caller may act for that user.
    pub async fn user(&self, state: &AppState, user: &str) -> Result<String, ApiError> {
        let me = self.principal.user.as_ref();
        let id = match (user, me) {
            ("self", Some(u)) => return Ok(u.id.clone()),
            ("self", None) => return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "'self' needs a user's token (password grant); this token belongs to an API client",
            )),
            (id, _) => id,
        };
        if let Access::Agent(u) = self.access() {
            if u.id != id {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "An agent may only name themselves here (self or their own user id)",
                ));
            }
        }
        match state.vault.user(self.principal.tenant, id).await? {
            Some(u) => Ok(u.id),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("User {id} was not found"),
            )),
        }
    }

    /// Refuses a delete of `owner`'s recording that the caller's role does not allow
    /// (before looking the recording up): a reviewer deletes nothing, an agent only their
    /// own on-demand recordings.
    pub fn may_delete(&self, owner: &Owner) -> Result<(), ApiError> {
        let access = self.access();
        if access.may_delete(owner) {
            return Ok(());
        }
        let why = match access {
            Access::Reviewer(_) => "Reviewers may see recordings but not delete them",
            _ => "Company call recordings can be deleted by account admins only",
        };
        Err(ApiError::new(StatusCode::FORBIDDEN, why))
    }
}
