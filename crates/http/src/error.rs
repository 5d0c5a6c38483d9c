//! The JSON error shape `{"message": ..., "field": ...}` and the mapping from service
//! errors to status codes. A bug answers 500 with a generic message; bad input never does.

use std::any::Any;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use callvault_core::Invalid;
use callvault_services::ServiceError;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::bad_request(&e.field, e.message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(i) => i.into(),
            ServiceError::UnsupportedMedia { field, message } => Self {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message,
                field: Some(field),
            },
            ServiceError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            ServiceError::Unauthenticated(m) => Self::unauthorized(m),
            ServiceError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m),
            ServiceError::PayloadTooLarge(m) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, m),
            ServiceError::BodyAborted(m) => Self::bad_request("body", m),
            ServiceError::Unavailable(m) => Self::new(StatusCode::SERVICE_UNAVAILABLE, m),
            ServiceError::StorageFull(m) => {
                metrics::counter!("callvault_storage_full_total").increment(1);
                Self::new(StatusCode::INSUFFICIENT_STORAGE, m)
            }
            ServiceError::Internal(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "storage failure");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(f) => json!({ "message": self.message, "field": f }),
            None => json!({ "message": self.message }),
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Seconds a client is asked to wait after a 503 (a store outage, a busy writer, a
/// request that ran out of time): every dialect's 503 says when to come back.
const RETRY_AFTER_SECS: &str = "5";

/// Adds `Retry-After` to every 503 that does not carry one yet, whichever dialect or layer
/// answered it.
pub async fn retry_after(mut resp: Response) -> Response {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && !resp.headers().contains_key(header::RETRY_AFTER)
    {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    resp
}

pub fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

pub type ApiResult<T> = Result<T, ApiError>;
