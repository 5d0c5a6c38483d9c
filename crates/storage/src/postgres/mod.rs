//! The scale-out metadata store: PostgreSQL shared by several stateless `callvault serve`
//! nodes. It behaves like [`crate::SqliteStore`]; what SQLite gets from having a single
//! writer, this store gets from row locks, `ON CONFLICT`, `FOR UPDATE SKIP LOCKED` and
//! advisory locks, so that nodes never hand out the same number, job or refresh token.
//!
//! Transactions run at PostgreSQL's default READ COMMITTED: every write that reads before
//! it writes first locks the row it depends on (the tenant for new interactions and users,
//! the interaction for its content), so each statement after the lock sees the winner of
//! any race.

mod auth;
mod content;
mod export;
mod interactions;
mod jobs;
mod lease;
mod lock;
mod rows;
mod search;
mod store;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::error::StoreResult;
pub(crate) use lock::AdvisoryLock;
use lock::BlobLocks;

/// Connections for queries, per node.
const POOL_CONNECTIONS: u32 = 16;
/// How long a query waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct PgStore {
    pool: PgPool,
    locks: BlobLocks,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl PgStore {
    /// Connects and brings the schema up to date. Several nodes may start at once: sqlx's
    /// migrator holds a session advisory lock on the database while it checks and applies
    /// migrations, so the others wait and then find nothing left to do.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)?.application_name("callvault");
        // The migrator runs on a connection of its own that is always closed afterwards:
        // a failed migration leaves the migrator's session lock held, and only closing the
        // session releases it for the other nodes.
        let mut conn = opts.connect().await?;
        let migrated = MIGRATOR.run(&mut conn).await;
        let closed = conn.close().await;
        migrated?;
        closed?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts.clone())
            .await?;
        Ok(Self {
            pool,
            locks: BlobLocks::new(opts),
        })
    }

    /// For `migrate`, which writes tables whole.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection, releasing any advisory lock still held.
    pub async fn close(&self) {
        self.locks.close().await;
        self.pool.close().await;
    }
}
