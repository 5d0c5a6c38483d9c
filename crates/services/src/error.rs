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
    /// The store cannot take the request now (busy writer, no free connection, full
    /// disk); the client may retry later (503).
    #[error("{0}")]
    Unavailable(String),
    /// The vault's disk is down to its reserve: uploads are refused until space is freed
    /// (507); reads and deletions go on.
    #[error("{0}")]
    StorageFull(String),
    /// The store failed; logged with its cause, shown to clients only as an internal
    /// error (500).
    #[error("storage failure: {0}")]
    Internal(#[source] StoreError),
}

/// A store's answer in the use cases' terms: only messages the store wrote for clients
/// (what was not found, what conflicts) pass through; a driver's text never does.
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ServiceError::NotFound(format!("{m} not found")),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::Busy(m) => ServiceError::Unavailable(m),
            StoreError::Unavailable { message, source } => {
                // Operators need the driver's reason; clients get only the store's words.
                tracing::warn!(error = %message, cause = ?source, "store unavailable");
                metrics::counter!("callvault_store_unavailable_total").increment(1);
                ServiceError::Unavailable(message)
            }
            StoreError::Refused(r) => ServiceError::Conflict(r.message()),
            StoreError::Full => ServiceError::StorageFull(
                "the vault's storage is full: nothing more can be stored until space is freed \
                 (deleting content frees it)"
                    .into(),
            ),
            other => ServiceError::Internal(other),
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
