//! The embedded metadata store: SQLite in WAL mode with `synchronous=FULL`, so that a
//! committed write survives a crash or power loss.
//!
//! Writes go through a single-connection pool and start with `BEGIN IMMEDIATE`, so that
//! writers queue instead of failing with `SQLITE_BUSY`; reads use a separate pool and run
//! concurrently with the writer.

mod auth;
mod content;
mod export;
mod interactions;
mod jobs;
mod lease;
mod rows;
mod store;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::error::StoreResult;
use crate::locks::StripedLocks;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    locks: StripedLocks,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let url = format!("sqlite://{}", path.display());
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // 8 MiB of page cache per connection: nine connections stay under 80 MiB,
            // and the kernel's page cache holds the rest of a hot database anyway.
            .pragma("cache_size", "-8192")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await?;
        let lock_dir = path.parent().map(|d| d.join("locks"));
        if let Some(d) = &lock_dir {
            tokio::fs::create_dir_all(d).await?;
        }
        Ok(Self {
            writer,
            reader,
            locks: StripedLocks::new(64, lock_dir),
        })
    }

    async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// For `migrate`, which reads tables whole.
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
