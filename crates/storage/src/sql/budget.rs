//! Statements on the async worker that asks for them, within a time budget.
//!
//! A search page is two short statements over rows in the page cache. Sending each to
//! the blocking pool cost the server about a third of its CPU per page: two thread
//! hand-offs, and every cell allocated on the pool's thread and freed on the worker's
//! (docs/benchmarks.md, "Reads on the worker"). So a read first runs where it is asked
//! for, with SQLite's progress handler watching the clock. A statement that outruns the
//! budget (a long count, a scan, a stall on the disk) is interrupted and runs again from
//! the start on the blocking pool, where it may take as long as it needs. Reads have no
//! side effects, so the second run answers exactly what the first would have; the
//! worker loses at most the budget, about what serializing a page of 1000 costs. A write
//! cannot be re-run; one that outruns the budget leaves the worker instead
//! ([`Overrun::LeaveWorker`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long a statement may hold the async worker before it leaves it.
pub(crate) const INLINE_BUDGET: Duration = Duration::from_millis(4);

/// SQLite virtual-machine steps between two looks at the clock: tens of microseconds.
const STEPS_PER_CHECK: i32 = 1000;

/// What a statement that outruns the budget does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overrun {
    /// A read is interrupted, to run again on the blocking pool.
    Interrupt,
    /// A write cannot be interrupted and run again: SQLite would roll back the whole
    /// transaction, and with it every write of its group commit (`group_commit.rs`). It
    /// hands the worker's other tasks to another thread (`block_in_place`) and finishes
    /// where it is. Statements inside an open transaction are short and touch cached
    /// pages; what waits for locks or fsync (`BEGIN IMMEDIATE`, `COMMIT`) still runs on
    /// the blocking pool.
    LeaveWorker,
}

/// One connection's budget, shared with its progress handler.
pub(crate) struct Budget {
    overrun: Overrun,
    /// Nanoseconds since [`epoch`] after which the statement overruns; 0 when the
    /// statement runs on the blocking pool, unbounded.
    deadline_ns: AtomicU64,
    /// Whether the handler interrupted the statement (as opposed to any other error).
    tripped: AtomicBool,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

impl Budget {
    /// A budget for `conn`, whose progress handler enforces it.
    pub(crate) fn install(conn: &Connection, overrun: Overrun) -> Arc<Self> {
        let budget = Arc::new(Self {
            overrun,
            deadline_ns: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
        });
        let b = budget.clone();
        conn.progress_handler(STEPS_PER_CHECK, Some(move || b.exceeded()));
        budget
    }

    /// Whether to interrupt the statement.
    fn exceeded(&self) -> bool {
        let deadline = self.deadline_ns.load(Ordering::Relaxed);
        if deadline == 0 || now_ns() <= deadline {
            return false;
        }
        match self.overrun {
            Overrun::Interrupt => {
                self.tripped.store(true, Ordering::Relaxed);
                true
            }
            Overrun::LeaveWorker => {
                self.deadline_ns.store(0, Ordering::Relaxed);
                leave_worker();
                false
            }
        }
    }

    /// Runs `f` on this thread within the budget: `None` when the budget ran out and
    /// `f`'s answer (an interruption) is to be thrown away. With
    /// [`Overrun::LeaveWorker`] it is always `Some`.
    pub(crate) fn within<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        self.tripped.store(false, Ordering::Relaxed);
        let deadline = now_ns() + INLINE_BUDGET.as_nanos() as u64;
        self.deadline_ns.store(deadline.max(1), Ordering::Relaxed);
        let out = f();
        self.deadline_ns.store(0, Ordering::Relaxed);
        (!self.tripped.swap(false, Ordering::Relaxed)).then_some(out)
    }
}

/// Hands the current worker's tasks to another thread, on tokio's multi-threaded runtime
/// (the server's); elsewhere (single-threaded tests) the statement simply finishes.
///
/// `block_in_place` hands the worker's core to a thread it wakes, and takes it back when
/// its closure returns if that thread has not picked it up yet: an empty closure would
/// hand nothing over. So the closure waits until a task spawned just before, which only
/// a thread holding a core runs, has run: the other thread has taken over. Waiting a fixed
/// millisecond instead failed on a loaded machine, where waking a thread took longer, and
/// the write then kept the worker for all its run. After [`HANDOVER_MAX`] it gives up.
fn leave_worker() {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        let taken = Arc::new(AtomicBool::new(false));
        let t = taken.clone();
        tokio::spawn(async move { t.store(true, Ordering::Release) });
        tokio::task::block_in_place(|| {
            let started = Instant::now();
            while !taken.load(Ordering::Acquire) && started.elapsed() < HANDOVER_MAX {
                std::thread::sleep(Duration::from_micros(50));
            }
        });
        // How often writes outrun the budget: if this grows with every ingest, a
        // statement needs a look.
        metrics::counter!("callvault_sqlite_writes_moved_total").increment(1);
    }
}

/// The longest a statement waits for another thread to take over its worker's tasks.
const HANDOVER_MAX: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::sqlite::SqliteBackend;
    use crate::sql::{Backend, Collect, Cols, Query, Value};

    /// Counts to `n` in SQLite's virtual machine: well past the budget for millions.
    fn count_to(n: u64) -> String {
        format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
             SELECT count(*) FROM c"
        )
    }

    fn count(conn: &Connection, n: u64) -> rusqlite::Result<i64> {
        conn.query_row(&count_to(n), [], |r| r.get(0))
    }

    #[test]
    fn a_short_read_answers_within_the_budget() {
        let conn = Connection::open_in_memory().unwrap();
        let budget = Budget::install(&conn, Overrun::Interrupt);
        assert_eq!(budget.within(|| count(&conn, 10).unwrap()), Some(10));
    }

    #[test]
    fn a_read_past_the_budget_is_interrupted_and_the_next_one_runs_normally() {
        let conn = Connection::open_in_memory().unwrap();
        let budget = Budget::install(&conn, Overrun::Interrupt);
        assert!(budget.within(|| count(&conn, 50_000_000)).is_none());
        assert_eq!(budget.within(|| count(&conn, 10).unwrap()), Some(10));
        // Outside `within` there is no deadline at all.
        assert_eq!(count(&conn, 2_000_000).unwrap(), 2_000_000);
    }

    /// With one worker thread, a ticking task runs during a long write only if the write
    /// left the worker. (The write runs in a spawned task: the test's own body runs on
    /// the test's thread, not on the worker.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_write_that_outruns_the_budget_leaves_the_worker_to_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("v.db")).await.unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let t = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                t.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let t = ticks.clone();
        let (took, during) = tokio::spawn(async move {
            let mut tx = backend.write().await.unwrap();
            let before = t.load(Ordering::Relaxed);
            let started = Instant::now();
            let q = format!("CREATE TABLE t AS {}", count_to(3_000_000));
            tx.execute(Query::new(q)).await.unwrap();
            let out = (started.elapsed(), t.load(Ordering::Relaxed) - before);
            tx.commit().await.unwrap();
            out
        })
        .await
        .unwrap();
        ticker.abort();
        assert!(
            took > INLINE_BUDGET * 5,
            "the statement must outrun the budget"
        );
        assert!(during >= 3, "{during} ticks in {took:?}");
    }

    #[tokio::test]
    async fn a_read_that_outruns_the_budget_answers_in_full_from_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("v.db")).await.unwrap();
        let mut conn = backend.read().await.unwrap();
        let started = Instant::now();
        let rows = conn.fetch(Query::new(count_to(3_000_000))).await.unwrap();
        assert!(
            started.elapsed() > INLINE_BUDGET,
            "the statement must outrun the budget"
        );
        assert_eq!(rows[0].clone().into_values(), [Value::Int(3_000_000)]);
    }

    #[tokio::test]
    async fn rows_taken_before_a_read_outran_the_budget_are_not_taken_twice() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("v.db")).await.unwrap();
        let mut conn = backend.read().await.unwrap();
        let n = 300_000;
        let q = format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
             SELECT x FROM c"
        );
        let mut sink = Collect::new(|c: &mut Cols<'_>| c.i64());
        let started = Instant::now();
        conn.fetch_each(Query::new(q), &mut sink).await.unwrap();
        assert!(
            started.elapsed() > INLINE_BUDGET,
            "the statement must outrun the budget"
        );
        assert_eq!(sink.items.len(), n);
        assert!(sink.items.iter().zip(1..).all(|(x, want)| *x == want));
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_an_error_naming_its_column() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("v.db")).await.unwrap();
        let mut conn = backend.read().await.unwrap();
        let q = Query::new("SELECT 'ok', CAST(x'ff' AS TEXT)");
        let mut sink = Collect::new(|c: &mut Cols<'_>| Ok((c.text()?, c.text()?)));
        let e = conn.fetch_each(q, &mut sink).await.unwrap_err().to_string();
        assert!(
            e.contains("column 2") && e.contains("text was expected"),
            "{e}"
        );
    }
}
