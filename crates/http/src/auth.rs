//! Bearer-token authentication and per-endpoint scope checks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use callvault_core::Scope;
use callvault_services::audit::Actor;
use callvault_services::auth::Principal;

use crate::error::ApiError;
use crate::AppState;

/// An authenticated caller. Handlers must call [`Authed::require`] with their scope.
pub struct Authed(pub Principal, pub Caller);

/// Where a request came from, for the audit trail: the peer address, the user agent and
/// the request id (set by the request-id layer when the client sent none).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    pub fn of(parts: &Parts) -> Self {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect::<String>())
        };
        Self {
            source: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            user_agent: header("user-agent"),
            request_id: header("x-request-id"),
        }
    }

    /// The actor a principal is when it calls this operation of this dialect.
    pub fn actor(&self, p: &Principal, dialect: &'static str, operation: &'static str) -> Actor {
        Actor {
            tenant: p.tenant,
            principal: principal_name(p),
            source: self.source.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            dialect,
            operation,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller::of(parts))
    }
}

/// How a principal is named in records: the signed-in user or the API client.
pub fn principal_name(p: &Principal) -> String {
    match &p.user {
        Some(u) => format!("user:{}", u.login),
        None => format!("client:{}", p.client_id),
    }
}

impl Authed {
    /// The actor for this request, once its scope is checked.
    pub fn actor(&self, dialect: &'static str, operation: &'static str) -> Actor {
        self.1.actor(&self.0, dialect, operation)
    }
}

impl Authed {
    /// The caller, if its token has `scope`. The APIs that check this have no users of
    /// their own and apply no role: they take an API client's token, or an admin's, who
    /// may do all a client may. A reviewer's or an agent's token (it carries the content
    /// scopes) is for the Call Recording API and the console, which apply its role.
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        if !self.0.scopes.contains(scope) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("The access token lacks the required scope {scope}"),
            ));
        }
        match &self.0.user {
            Some(u) if !u.is_admin() => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "A {}'s token is for the Call Recording API and the console; this API takes an API client's token",
                    u.role
                ),
            )),
            _ => Ok(&self.0),
        }
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("The Authorization header is missing"))?;
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("The Authorization header is malformed"))?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::unauthorized(
                    "The Authorization header must be 'Bearer <token>'",
                ))
            }
        };
        let principal = state.vault.auth.authenticate(token).await?;
        Ok(Authed(principal, Caller::of(parts)))
    }
}
