//! The writer connection as lent to a write transaction: a member of a group commit
//! (`group_commit.rs`), ended by [`Tx::commit`] or by being dropped.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::OwnedMutexGuard;

use super::budget::Budget;
use super::group_commit::{Settled, WriterConn};
use super::sqlite::{blocking, Held, Lent};
use super::Tx;
use crate::error::{StoreError, StoreResult};

#[async_trait]
impl Tx for Held<Writing> {
    /// Ends this transaction in its batch, hands the writer on, and answers once the
    /// batch is committed (`group_commit.rs`).
    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        let settled = self.run(|w| w.end(true)).await?;
        let writer = self.0.as_ref().and_then(Writing::mutex);
        drop(self);
        match (settled, writer) {
            (Some(s), Some(writer)) => settle(s, writer).await,
            _ => Err(StoreError::backend("the transaction was not kept")),
        }
    }
}

/// A member of a batch hears of its outcome from the member that commits it. If none
/// does within the grace (the writer was handed to a task that gave up waiting for it),
/// the member takes the writer and commits its batch itself.
async fn settle(
    mut settled: Settled,
    writer: Arc<tokio::sync::Mutex<WriterConn>>,
) -> StoreResult<()> {
    const GRACE: Duration = Duration::from_millis(200);
    let heard = tokio::time::timeout(GRACE, settled.wait_for(Option::is_some))
        .await
        .is_ok();
    if !heard {
        let guard = writer.lock_owned().await;
        // Holding the writer, nobody is inside a transaction: an unsettled batch of ours
        // is the one open on the connection.
        if settled.borrow().is_none() {
            blocking(move || {
                let mut w = guard;
                w.commit();
            })
            .await?;
        }
    }
    let outcome = settled
        .wait_for(Option::is_some)
        .await
        .map_err(|_| StoreError::backend("the commit's outcome was lost"))?
        .clone();
    outcome.map_or_else(|| Err(StoreError::backend("no outcome")), |o| o.result())
}

/// Counts a writer as waiting for the writer connection while it exists.
pub(super) struct Queued(Arc<AtomicUsize>);

impl Queued {
    pub(super) fn new(waiting: &Arc<AtomicUsize>) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Self(waiting.clone())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The writer connection during a transaction, a member of a batch. Dropped before it
/// ended (not committed, or its task cancelled), it rolls its savepoint back before the
/// next writer gets the connection, on a blocking thread spawned for it (or, if that never
/// runs because the runtime is shutting down, where it is dropped).
pub(super) struct Writing {
    guard: Option<OwnedMutexGuard<WriterConn>>,
    /// Whether the member has ended, kept or rolled back.
    ended: bool,
    waiting: Arc<AtomicUsize>,
}

impl Writing {
    pub(super) fn new(guard: OwnedMutexGuard<WriterConn>, waiting: Arc<AtomicUsize>) -> Self {
        Self {
            guard: Some(guard),
            ended: false,
            waiting,
        }
    }

    pub(super) fn writer(&mut self) -> &mut WriterConn {
        self.guard
            .as_mut()
            .expect("the writer is present until dropped")
    }

    fn mutex(&self) -> Option<Arc<tokio::sync::Mutex<WriterConn>>> {
        self.guard
            .as_ref()
            .map(|g| OwnedMutexGuard::mutex(g).clone())
    }

    /// Ends the member; the batch commits unless writers wait to join it.
    fn end(&mut self, keep: bool) -> StoreResult<Option<Settled>> {
        self.ended = true;
        let waiting = self.waiting.load(Ordering::SeqCst) > 0;
        self.writer().end(keep, waiting)
    }
}

impl Deref for Writing {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self
            .guard
            .as_ref()
            .expect("the writer is present until dropped")
            .conn
    }
}

impl DerefMut for Writing {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.writer().conn
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let waiting = self.waiting.clone();
        // The task owns the connection, not a `Writing`: dropped unrun (the runtime
        // shutting down), it only releases the connection, and the next use rolls the
        // abandoned member back (`WriterConn::begin`).
        let mut rollback = move || {
            let waiting = waiting.load(Ordering::SeqCst) > 0;
            if let Err(e) = guard.end(false, waiting) {
                tracing::warn!(error = %e, "rollback failed; the next write retries it");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(rollback)),
            Err(_) => rollback(),
        }
    }
}

impl Lent for Writing {
    /// The writer's budget leaves the worker rather than interrupt (`budget.rs`).
    fn budget(&self) -> Option<Arc<Budget>> {
        self.guard.as_ref().map(|g| g.budget.clone())
    }

    fn failed(&mut self, e: &StoreError) {
        self.writer().failed(e);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    use super::*;
    use crate::sql::sqlite::SqliteBackend;
    use crate::sql::{Backend, Query};

    async fn backend() -> (tempfile::TempDir, Arc<SqliteBackend>) {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(&dir.path().join("v.db")).await.unwrap();
        let mut tx = b.write().await.unwrap();
        tx.execute(Query::new("CREATE TABLE t (v INTEGER PRIMARY KEY)"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (dir, Arc::new(b))
    }

    async fn insert(b: &SqliteBackend, v: i64) -> StoreResult<Box<dyn Tx>> {
        let mut tx = b.write().await?;
        tx.execute(Query::new("INSERT INTO t (v) VALUES ($1)").bind(v))
            .await?;
        Ok(tx)
    }

    async fn count(b: &SqliteBackend) -> i64 {
        let mut c = b.read().await.unwrap();
        c.scalar_i64(Query::new("SELECT count(*) FROM t"))
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_that_queue_behind_one_another_share_a_commit() {
        let (_dir, b) = backend().await;
        let commits = Arc::new(AtomicU64::new(0));
        let c = commits.clone();
        {
            let mut w = b.writer.lock().await;
            w.max_age = Duration::from_secs(60);
            w.conn.commit_hook(Some(move || {
                c.fetch_add(1, Ordering::SeqCst);
                false
            }));
        }
        let first = insert(&b, 0).await.unwrap();
        let queued: Vec<_> = (1..=16)
            .map(|v| {
                let b = b.clone();
                tokio::spawn(async move { insert(&b, v).await?.commit().await })
            })
            .collect();
        while b.waiting.load(Ordering::SeqCst) < 16 {
            tokio::task::yield_now().await;
        }
        first.commit().await.unwrap();
        for q in queued {
            q.await.unwrap().unwrap();
        }
        assert_eq!(count(&b).await, 17);
        let n = commits.load(Ordering::SeqCst);
        assert_eq!(
            n, 1,
            "17 writes, each ending while the next waited, took {n} commits"
        );
    }

    #[tokio::test]
    async fn a_writer_handed_the_batch_that_never_comes_leaves_it_to_the_member() {
        let (_dir, b) = backend().await;
        let tx = insert(&b, 1).await.unwrap();
        // A writer counted as waiting that never takes the connection (cancelled).
        let phantom = Queued::new(&b.waiting);
        let started = Instant::now();
        tx.commit().await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(phantom);
        assert_eq!(count(&b).await, 1);
    }

    #[tokio::test]
    async fn a_dropped_transaction_leaves_the_writer_to_the_next() {
        let (_dir, b) = backend().await;
        drop(insert(&b, 1).await.unwrap());
        insert(&b, 2).await.unwrap().commit().await.unwrap();
        assert_eq!(count(&b).await, 1);
    }
}
