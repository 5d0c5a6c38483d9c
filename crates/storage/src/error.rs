use std::error::Error as StdError;

use thiserror::Error;

type Source = Box<dyn StdError + Send + Sync>;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (tenant name taken, client id reused). The message
    /// is the store's own, never a database driver's, so it may be shown to a client.
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The database cannot take the write now (another writer holds it too long); the
    /// caller may answer 503 with `Retry-After`.
    #[error("{0}")]
    Busy(String),
    /// The disk under the database is full: writes fail until space is freed, reads go on.
    /// A governance rule (a legal hold, a minimum retention) forbids the delete.
    #[error("{}", .0.message())]
    Refused(callvault_core::Refusal),
    #[error("the database's disk is full")]
    Full,
    /// The database or the object store cannot be reached now (refused or reset
    /// connections, a server shutting down or starting up, a timed-out request). It is
    /// passing: the next call reconnects, so the caller answers 503 with `Retry-After`.
    /// The driver's error is kept as the source for the log.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// The backend failed; the caller answers 500/503 and logs it, never shows it. The
    /// driver's error is kept as the source for the log.
    #[error("storage backend error: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Source>,
    },
    #[error("blob I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub fn backend(message: impl Into<String>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: None,
        }
    }

    fn with_source(message: &str, e: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Backend {
            message: format!("{message}: {e}"),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn from_sqlx(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict("it already exists".into());
            }
            // PostgreSQL's disk_full; a serialization failure (40001) or deadlock (40P01)
            // stays an internal error: retrying is the store's business, not the client's.
            if db.code().as_deref() == Some("53100") {
                return StoreError::Full;
            }
        }
        match &e {
            // Also what an unreachable server looks like: sqlx keeps retrying a refused
            // connection until the acquire deadline.
            sqlx::Error::PoolTimedOut => {
                return StoreError::Busy("no database connection could be had; try again".into())
            }
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
                return StoreError::unavailable("the database cannot be reached", e)
            }
            sqlx::Error::Database(db) if db.code().as_deref().is_some_and(is_outage) => {
                return StoreError::unavailable("the database cannot be reached", e)
            }
            _ => {}
        }
        StoreError::with_source("PostgreSQL", e)
    }
}

impl StoreError {
    pub(crate) fn unavailable(message: &str, e: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Unavailable {
            message: format!("{message}; try again shortly"),
            source: Some(Box::new(e)),
        }
    }
}

/// PostgreSQL's SQLSTATEs for a connection that broke (class 08), a server shutting down
/// or starting up (57P01 to 57P03) and too many connections (53300): each passes by
/// itself, unlike a bad statement.
fn is_outage(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            match f.code {
                ErrorCode::ConstraintViolation
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    return StoreError::Conflict("it already exists".into());
                }
                ErrorCode::DiskFull => return StoreError::Full,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    return StoreError::Busy("the database is busy; try again".into())
                }
                _ => {}
            }
        }
        StoreError::with_source("SQLite", e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::with_source("migration failed", e)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
