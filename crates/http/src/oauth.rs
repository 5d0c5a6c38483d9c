//! The OAuth2 token endpoint of the platform, `/Auth/connect/token`, client credentials
//! grant (RFC 6749 section 4.4). Client credentials come by HTTP Basic or form fields.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use callvault_core::ScopeSet;
use callvault_services::ServiceError;
use serde_json::json;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::params::Params;
use crate::AppState;

/// The same endpoint under the platform's path, its lower-case spelling, and the Call
/// Recording API's `/token`; each is documented (the handler's path is the empty one it
/// is nested at).
pub fn routes() -> OpenApiRouter<AppState> {
    ["/Auth/connect/token", "/auth/connect/token", "/token"]
        .into_iter()
        .fold(OpenApiRouter::new(), |r, at| {
            r.nest(at, OpenApiRouter::new().routes(routes!(token)))
        })
}

/// An RFC 6749 section 5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"callvault\""),
        );
    }
    resp
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[utoipa::path(
    post,
    path = "",
    tag = "Auth",
    request_body(
        content_type = "application/x-www-form-urlencoded",
        description = "grant_type=client_credentials, password (username, password) or refresh_token (refresh_token); client_id and client_secret as form fields or HTTP Basic; scope (space-separated)"
    ),
    responses(
        (status = 200, description = "`{access_token, token_type: Bearer, expires_in, scope}`"),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope"),
        (status = 401, description = "invalid_client"),
        (status = 429, description = "Too many failed sign-ins for this client, login or source address; `Retry-After` says when to try again"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    caller: crate::auth::Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be form-encoded UTF-8",
        );
    };
    let form = Params::parse(text);
    let grant = match form.get("grant_type") {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
        Some(g @ ("client_credentials" | "password" | "refresh_token")) => g,
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be client_credentials, password or refresh_token",
            )
        }
    };
    let creds = basic_credentials(&headers).or_else(|| {
        Some((
            form.get("client_id")?.to_string(),
            form.get("client_secret")?.to_string(),
        ))
    });
    let Some((client_id, client_secret)) = creds else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id and client_secret are required",
        );
    };
    let requested = match ScopeSet::parse("scope", form.get("scope").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e.message),
    };
    let auth = &state.vault.auth;
    // Failed sign-ins are budgeted per client (or per login through a client) and per
    // source address; over budget, every attempt is refused until it refills.
    let principal = match (grant, form.get("username")) {
        ("password", Some(user)) => format!("{client_id}\u{0}{user}"),
        _ => client_id.clone(),
    };
    let source = peer.ip().to_string();
    if let Some(wait) = auth.sign_in.refused(&principal, &source) {
        metrics::counter!("callvault_sign_in_refused_total").increment(1);
        let secs = wait.as_secs().max(1);
        let mut resp = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request",
            &format!("too many failed sign-ins; retry in {secs} s"),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    let issued = match grant {
        "password" => {
            let (Some(user), Some(password)) = (form.get("username"), form.get("password")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "username and password are required",
                );
            };
            auth.password_grant(&client_id, &client_secret, user, password, &requested)
                .await
        }
        "refresh_token" => {
            let Some(refresh) = form.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            auth.refresh_grant(&client_id, &client_secret, refresh)
                .await
        }
        _ => {
            auth.issue_token(&client_id, &client_secret, &requested)
                .await
        }
    };
    if matches!(issued, Err(ServiceError::Unauthenticated(_))) {
        auth.sign_in.failed(&principal, &source);
        let claimed = match (grant, form.get("username")) {
            ("password", Some(user)) => format!("user:{user} via client:{client_id}"),
            _ => format!("client:{client_id}"),
        };
        state
            .vault
            .sign_in_failed(
                &client_id,
                claimed,
                caller.source,
                caller.user_agent,
                caller.request_id,
                grant,
            )
            .await;
    }
    match issued {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
                "scope": t.scopes.to_string(),
            });
            if let Some(r) = t.refresh_token {
                body["refresh_token"] = json!(r);
            }
            let mut resp = Json(body).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(ServiceError::Unauthenticated(m)) if m == "invalid_grant" => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "wrong username or password, or an unknown, used or expired refresh token",
        ),
        Err(ServiceError::Unauthenticated(_)) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ),
        Err(ServiceError::Forbidden(_)) | Err(ServiceError::Invalid(_)) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the requested scope exceeds the scopes granted to the client",
        ),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
