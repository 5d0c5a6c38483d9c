use callvault_core::Invalid;
use callvault_storage::StoreError;
use thiserror::Error;

/// What a use case can answer besides success; each dialect renders these in its own
/// error format with the matching status code.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// Bad input, naming the field (400).
    #[error("{0}")]
    Invalid(Invalid),
    /// Bytes that do not match what the client declared (415 for media, 400 for digests).
    #[error("{message}")]
    UnsupportedMedia { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Missing, unknown, revoked or expired credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated but lacking the scope (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client went away or its body broke off mid-stream.
    #[error("request body failed: {0}")]
    BodyAborted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
