//! What every console page shares: the navigation bar, rendering a template into a
//! response, the error pages, and the security headers every console response carries.

use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use callvault_core::User;
use callvault_services::ServiceError;

/// The signed-in user as the header shows them, with the form token of the sign-out form.
pub struct Nav {
    pub login: String,
    pub role: &'static str,
    pub csrf: String,
}

/// The role a user is shown with, in the header and on the users page: the one place
/// that names roles, so that a new one is added here.
pub fn role(user: &User) -> &'static str {
    user.role.as_str()
}

/// A page that is a message: not found, refused, failed.
#[derive(Template)]
#[template(path = "console/message.html")]
pub struct MessagePage {
    pub nav: Option<Nav>,
    pub title: String,
    pub message: String,
}

/// Renders a template with `status`; a template that fails to render is a 500.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

pub fn message(status: StatusCode, nav: Option<Nav>, title: &str, message: &str) -> Response {
    let page = MessagePage {
        nav,
        title: title.into(),
        message: message.into(),
    };
    render(status, &page)
}

/// A page that shows a secret once (a client secret, an API token): rendered as the
/// answer to the form that made it, never reached by a URL, and never stored by a cache
/// (said here as well as by [`security_headers`], so that it holds whatever that does).
pub fn shown_once(t: &impl Template) -> Response {
    let mut resp = render(StatusCode::OK, t);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn forbidden(why: &str) -> Response {
    message(StatusCode::FORBIDDEN, None, "Not allowed", why)
}

/// The one answer for an interaction that does not exist and for one the viewer may not
/// see, so that a typed URL tells nothing about other people's calls.
pub fn not_found(nav: Nav) -> Response {
    message(
        StatusCode::NOT_FOUND,
        Some(nav),
        "Not found",
        "There is no such call, or it is not yours to see.",
    )
}

/// A service error as a page: its message for what the user can act on, a generic one
/// (the cause is in the log) for failures.
pub fn service_error(nav: Nav, e: ServiceError) -> Response {
    let (status, title, text) = match e {
        ServiceError::NotFound(_) => return not_found(nav),
        ServiceError::Invalid(i) => (StatusCode::BAD_REQUEST, "Cannot do that", i.message),
        ServiceError::Conflict(m) => (StatusCode::CONFLICT, "Cannot do that", m),
        ServiceError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "Try again", m),
        other => {
            tracing::error!(error = %other, "console request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not do that; the cause is in its log.".to_string(),
            )
        }
    };
    message(status, Some(nav), title, &text)
}

/// No inline script or style anywhere; media, fetches and forms only to this origin;
/// never framed. The waveform library's shadow-DOM style element is refused by this
/// policy, so its parts are styled from console.css (`::part`).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; media-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every console response; pages (not the assets) are
/// per-user and never stored by caches.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_asset && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
