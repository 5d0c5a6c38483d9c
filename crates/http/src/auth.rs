//! Bearer-token authentication and per-endpoint scope checks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use callvault_core::Scope;
use callvault_services::auth::Principal;

use crate::error::ApiError;
use crate::AppState;

/// An authenticated caller. Handlers must call [`Authed::require`] with their scope.
pub struct Authed(pub Principal);

impl Authed {
    pub fn require(&self, scope: Scope) -> Result<&Principal, ApiError> {
        if self.0.scopes.contains(scope) {
            Ok(&self.0)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("The access token lacks the required scope {scope}"),
            ))
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
        Ok(Authed(principal))
    }
}
