//! Blob-key locks that exclude every node sharing the database: a session-level
//! `pg_advisory_lock` held on a connection of a small pool of its own, taken after an
//! in-process stripe so that one node's contending tasks queue in memory instead of each
//! tying up a connection.
//!
//! The lock pool has exactly as many connections as there are stripes, so a task holding
//! a stripe always gets a connection; and it is separate from the query pool, so holders
//! of blob locks (which go on to run queries) can never starve each other of
//! connections.

use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection, PgPool, Postgres};
use tokio::sync::OwnedMutexGuard;

use super::postgres::Reachability;
use crate::error::{StoreError, StoreResult};
use crate::locks::{KeyGuard, StripedLocks};

/// Blob locks a node holds at once; also the size of the lock pool.
const STRIPES: u32 = 16;
/// How long an unlock may take before the connection is closed instead (closing the
/// session releases the lock too).
const UNLOCK_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct BlobLocks {
    stripes: StripedLocks,
    pool: PgPool,
    reach: Arc<Reachability>,
}

impl BlobLocks {
    /// Connects lazily: a node that never locks a blob holds no lock connection, and idle
    /// ones are closed after a minute. Waiting for a lock is expected to be slow, so these
    /// sessions log no slow statements.
    pub(crate) fn new(opts: PgConnectOptions, reach: Arc<Reachability>) -> Self {
        Self {
            reach,
            stripes: StripedLocks::new(STRIPES as usize, None),
            pool: PgPoolOptions::new()
                .max_connections(STRIPES)
                .min_connections(0)
                .acquire_timeout(super::postgres::ACQUIRE_TIMEOUT)
                .idle_timeout(Duration::from_secs(60))
                .after_connect(|conn, _| Box::pin(async move { no_timeouts(conn).await }))
                .connect_lazy_with(opts.disable_statement_logging()),
        }
    }

    /// Waits for the key's stripe, then for the advisory lock. If the database cannot be
    /// reached, the guard holds only the stripe (as `StripedLocks` does when it cannot
    /// take its lock file): the work it guards needs the database too and fails there.
    pub(crate) async fn lock(&self, key: &str) -> KeyGuard {
        let stripe = self.stripes.lock_stripe(key).await;
        let id = lock_id(key);
        match self.advisory(id).await {
            Ok(conn) => KeyGuard::advisory(AdvisoryLock {
                conn: Some(conn),
                id,
                stripe: Some(stripe),
            }),
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "cannot take the blob's advisory lock; holding the in-process lock only"
                );
                KeyGuard::local(stripe)
            }
        }
    }

    async fn advisory(&self, id: i64) -> StoreResult<PoolConnection<Postgres>> {
        let mut conn = self.reach.connection(self.pool.acquire()).await?;
        let waiting = CloseUnlessLocked {
            conn: &mut conn,
            locked: false,
        };
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(id)
            .execute(&mut **waiting.conn)
            .await
            .map_err(StoreError::from_sqlx)?;
        waiting.locked();
        Ok(conn)
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Lifts the server's timeouts for a lock session, whatever the database or role sets:
/// a lock wait cut short would leave the guard without cross-node exclusion, and an idle
/// session ended while its guard is held would release the lock under the holder. Only
/// the settings the server knows are set (`idle_session_timeout` is PostgreSQL 14+).
async fn no_timeouts(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config(name, '0', false) FROM pg_settings \
         WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_session_timeout')",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Watches a lock connection between asking for the lock and getting it. If the caller
/// stops waiting (its future is dropped) or the query fails, the server may still grant
/// the lock later, to a session the pool would lend to someone else; so such a connection
/// is closed, and the lock dies with its session.
struct CloseUnlessLocked<'a> {
    conn: &'a mut PoolConnection<Postgres>,
    locked: bool,
}

impl CloseUnlessLocked<'_> {
    fn locked(mut self) {
        self.locked = true;
    }
}

impl Drop for CloseUnlessLocked<'_> {
    fn drop(&mut self) {
        if !self.locked {
            self.conn.close_on_drop();
        }
    }
}

/// A held advisory lock and the stripe taken before it. Dropping it unlocks on a spawned
/// task (a destructor cannot await), then returns the connection and frees the stripe.
pub(crate) struct AdvisoryLock {
    conn: Option<PoolConnection<Postgres>>,
    id: i64,
    stripe: Option<OwnedMutexGuard<()>>,
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let (Some(conn), stripe) = (self.conn.take(), self.stripe.take()) else {
            return;
        };
        let id = self.id;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(unlock(conn, id, stripe));
            }
            // Outside a runtime nothing can run the unlock: drop the session instead,
            // which the server notices at once on an idle connection.
            Err(_) => drop(conn.detach()),
        }
    }
}

async fn unlock(mut conn: PoolConnection<Postgres>, id: i64, stripe: Option<OwnedMutexGuard<()>>) {
    let unlocked = tokio::time::timeout(
        UNLOCK_TIMEOUT,
        sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(id)
            .fetch_one(&mut *conn),
    )
    .await;
    let problem = match unlocked {
        Ok(Ok(true)) => None,
        Ok(Ok(false)) => Some("the lock was not held".to_string()),
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("timed out".to_string()),
    };
    if let Some(problem) = problem {
        // A session that may still hold the lock must never go back to the pool.
        tracing::warn!(lock = id, %problem, "advisory unlock failed; closing the session");
        conn.close_on_drop();
    }
    drop(conn);
    drop(stripe);
}

/// The advisory lock id of a blob key: 64-bit FNV-1a of the key under a fixed domain
/// prefix. It must be the same in every process of every node and every build, which
/// `std`'s hashers do not promise; FNV-1a is fully specified and needs no dependency.
/// Collisions only make two keys wait for each other.
fn lock_id(key: &str) -> i64 {
    // Reinterpreting the bits is the point: advisory lock ids are signed.
    fnv1a(&[b"callvault-blob:", key.as_bytes()]) as i64
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ids_are_fnv1a_and_pinned() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        // Pinned: changing the function would let old and new nodes lock different ids
        // for the same blob during a rolling upgrade.
        assert_eq!(lock_id("t1/ab/abc"), -7_857_532_152_794_083_933);
    }
}
