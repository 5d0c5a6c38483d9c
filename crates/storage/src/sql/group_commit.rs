//! Group commit on SQLite's one writer connection.
//!
//! With `synchronous=FULL` a COMMIT waits for an fsync of the write-ahead log, and the
//! writer is held through it, so concurrent writes were acknowledged one fsync apart:
//! durable ingest ran at 9–15 % of a write-and-fsync floor with the machine half idle
//! (docs/benchmarks.md, "Group commit"). Here each write transaction of the store is a
//! savepoint (a *member*) inside a *batch*, one SQLite transaction:
//! - a member that ends while other writers wait for the connection releases its
//!   savepoint into the batch and hands the connection on with the batch still open;
//! - the member that ends with nobody waiting, or with the batch full or old, commits:
//!   one fsync for every member, and each member then learns the outcome.
//!
//! No member is acknowledged before the COMMIT that holds it, so an acknowledged write
//! survives `kill -9` and power loss exactly as before. A failed COMMIT, or a statement
//! failure after which SQLite rolled the whole transaction back (a full disk, an I/O
//! error), fails every member of the batch; none of them had been acknowledged. A member
//! that rolls back (an error, a dropped transaction) undoes only its own savepoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::watch;

use super::budget::{Budget, Overrun};
use crate::error::{StoreError, StoreResult};

/// At most this many members share one COMMIT, so that a steady stream of writers cannot
/// keep the first one waiting for long.
const MAX_MEMBERS: usize = 64;
/// A batch this old commits at its next member's end, whatever is waiting.
const MAX_AGE: Duration = Duration::from_millis(10);

/// The writer connection and the batch open on it, if any.
pub(crate) struct WriterConn {
    pub(crate) conn: Connection,
    pub(crate) budget: Arc<Budget>,
    /// [`MAX_AGE`]; longer in tests that count commits, so that a slow machine cannot
    /// split their batches.
    pub(crate) max_age: Duration,
    batch: Option<Batch>,
    /// A member's savepoint is open: set by [`WriterConn::begin`], cleared by
    /// [`WriterConn::end`]. Still set when the connection is next used, the member was
    /// abandoned without ending (its rollback task never ran, at shutdown).
    member: bool,
}

struct Batch {
    members: usize,
    opened: Instant,
    done: watch::Sender<Option<Outcome>>,
}

/// What a member learns once its batch is settled.
pub(crate) type Settled = watch::Receiver<Option<Outcome>>;

#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Committed,
    Full,
    Busy,
    Failed(String),
}

impl Outcome {
    fn of(e: &StoreError) -> Self {
        match e {
            StoreError::Full => Outcome::Full,
            StoreError::Busy(_) => Outcome::Busy,
            e => Outcome::Failed(e.to_string()),
        }
    }

    pub(crate) fn result(&self) -> StoreResult<()> {
        match self {
            Outcome::Committed => Ok(()),
            Outcome::Full => Err(StoreError::Full),
            Outcome::Busy => Err(StoreError::Busy("the database is busy; try again".into())),
            Outcome::Failed(why) => Err(StoreError::backend(format!(
                "the write was not committed: {why}"
            ))),
        }
    }
}

impl Drop for Batch {
    /// A batch dropped unsettled (the connection closing) fails its members rather than
    /// leaving them waiting.
    fn drop(&mut self) {
        self.done.send_if_modified(|o| {
            let unsettled = o.is_none();
            if unsettled {
                *o = Some(Outcome::Failed("the database closed".into()));
            }
            unsettled
        });
    }
}

impl WriterConn {
    pub(crate) fn new(conn: Connection) -> Self {
        let budget = Budget::install(&conn, Overrun::LeaveWorker);
        Self {
            conn,
            budget,
            max_age: MAX_AGE,
            batch: None,
            member: false,
        }
    }

    /// Starts a member: joins the open batch, or opens one with `BEGIN IMMEDIATE`.
    pub(crate) fn begin(&mut self) -> StoreResult<()> {
        self.drop_abandoned()?;
        if self.batch.is_some() && self.conn.is_autocommit() {
            self.abandon(&StoreError::backend("the transaction was rolled back"));
        }
        if self.batch.is_none() {
            // A transaction left open by a failed commit (a full disk) is rolled back
            // here, so the writer is usable whatever happened to the last one.
            if !self.conn.is_autocommit() {
                self.conn.execute_batch("ROLLBACK")?;
            }
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let (done, _) = watch::channel(None);
            self.batch = Some(Batch {
                members: 0,
                opened: Instant::now(),
                done,
            });
        }
        if let Err(e) = self.conn.execute_batch("SAVEPOINT member") {
            let e = StoreError::from(e);
            self.abandon(&e);
            return Err(e);
        }
        self.member = true;
        Ok(())
    }

    /// Rolls back the savepoint of a member that was abandoned without ending.
    fn drop_abandoned(&mut self) -> StoreResult<()> {
        if std::mem::take(&mut self.member) && !self.conn.is_autocommit() {
            if let Err(e) = self
                .conn
                .execute_batch("ROLLBACK TO member; RELEASE member")
            {
                let e = StoreError::from(e);
                self.abandon(&e);
                return Err(e);
            }
        }
        Ok(())
    }

    /// After a member's statement failed: if SQLite rolled the whole transaction back,
    /// the batch is gone and its members are told why.
    pub(crate) fn failed(&mut self, e: &StoreError) {
        if self.batch.is_some() && self.conn.is_autocommit() {
            self.abandon(e);
        }
    }

    /// Ends a member: `keep` releases its savepoint into the batch (and answers where to
    /// learn the batch's outcome), otherwise rolls it back. Then commits the batch unless
    /// `waiting` writers can join it.
    pub(crate) fn end(&mut self, keep: bool, waiting: bool) -> StoreResult<Option<Settled>> {
        self.member = false;
        if self.batch.is_none() || self.conn.is_autocommit() {
            self.abandon(&StoreError::backend("the transaction was rolled back"));
            return if keep {
                Err(StoreError::backend(
                    "the transaction was rolled back before its commit",
                ))
            } else {
                Ok(None)
            };
        }
        let step = if keep {
            "RELEASE member"
        } else {
            "ROLLBACK TO member; RELEASE member"
        };
        if let Err(e) = self.conn.execute_batch(step) {
            let e = StoreError::from(e);
            self.abandon(&e);
            return Err(e);
        }
        let Some(batch) = self.batch.as_mut() else {
            return Err(StoreError::backend("the batch was lost"));
        };
        let settled = keep.then(|| {
            batch.members += 1;
            batch.done.subscribe()
        });
        if batch.members == 0 {
            // Nothing kept yet: no reason to hold the database's write lock.
            self.abandon(&StoreError::backend("nothing to commit"));
        } else if !waiting || batch.members >= MAX_MEMBERS || batch.opened.elapsed() >= self.max_age
        {
            self.commit();
        }
        Ok(settled)
    }

    /// Commits the open batch, if any, and tells its members the outcome.
    pub(crate) fn commit(&mut self) {
        if self.drop_abandoned().is_err() {
            return;
        }
        let Some(batch) = self.batch.take() else {
            return;
        };
        let outcome = match self.conn.execute_batch("COMMIT") {
            Ok(()) => Outcome::Committed,
            Err(e) => {
                let e = StoreError::from(e);
                if !self.conn.is_autocommit() {
                    if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                        tracing::warn!(error = %e, "rollback failed; the next write retries it");
                    }
                }
                Outcome::of(&e)
            }
        };
        metrics::counter!("callvault_sqlite_commits_total").increment(1);
        metrics::counter!("callvault_sqlite_committed_writes_total")
            .increment(batch.members as u64);
        batch.done.send_replace(Some(outcome));
    }

    /// Rolls the open batch back, if any, failing its members with `why`.
    fn abandon(&mut self, why: &StoreError) {
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback failed; the next write retries it");
            }
        }
        if let Some(batch) = self.batch.take() {
            batch.done.send_replace(Some(Outcome::of(why)));
        }
    }

    /// Whether a batch is open and unsettled.
    #[cfg(test)]
    pub(crate) fn open(&self) -> bool {
        self.batch.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> WriterConn {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .unwrap();
        WriterConn::new(conn)
    }

    fn insert(w: &WriterConn, v: i64) -> rusqlite::Result<usize> {
        w.conn.execute("INSERT INTO t (v) VALUES (?1)", [v])
    }

    fn rows(w: &WriterConn) -> Vec<i64> {
        let mut s = w.conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        let r = s.query_map([], |r| r.get(0)).unwrap();
        r.map(Result::unwrap).collect()
    }

    /// A member that inserts `v` and is kept, ending with writers `waiting` or not.
    fn kept(w: &mut WriterConn, v: i64, waiting: bool) -> Settled {
        w.begin().unwrap();
        insert(w, v).unwrap();
        w.end(true, waiting).unwrap().unwrap()
    }

    fn outcome(s: &Settled) -> Option<Outcome> {
        s.borrow().clone()
    }

    #[test]
    fn a_member_that_ends_with_writers_waiting_is_committed_by_the_last() {
        let mut w = writer();
        let first = kept(&mut w, 1, true);
        assert!(outcome(&first).is_none(), "handed on, not committed yet");
        assert!(w.open());
        let second = kept(&mut w, 2, false);
        assert!(matches!(outcome(&first), Some(Outcome::Committed)));
        assert!(matches!(outcome(&second), Some(Outcome::Committed)));
        assert!(!w.open() && w.conn.is_autocommit());
        assert_eq!(rows(&w), [1, 2]);
    }

    #[test]
    fn a_member_that_rolls_back_undoes_only_its_own_statements() {
        let mut w = writer();
        let kept = kept(&mut w, 1, true);
        w.begin().unwrap();
        insert(&w, 2).unwrap();
        assert!(w.end(false, false).unwrap().is_none());
        assert!(matches!(outcome(&kept), Some(Outcome::Committed)));
        assert_eq!(rows(&w), [1]);
    }

    #[test]
    fn a_batch_that_sqlite_rolled_back_fails_every_member() {
        let mut w = writer();
        let first = kept(&mut w, 1, true);
        w.begin().unwrap();
        // What SQLite does by itself after some failures (a full disk, an I/O error).
        w.conn.execute_batch("ROLLBACK").unwrap();
        w.failed(&StoreError::Full);
        assert!(matches!(outcome(&first), Some(Outcome::Full)));
        assert!(
            w.end(true, false).is_err(),
            "the last member is not kept either"
        );
        assert!(rows(&w).is_empty());
        // The writer goes on: the next member opens a new batch.
        let next = kept(&mut w, 3, false);
        assert!(matches!(outcome(&next), Some(Outcome::Committed)));
        assert_eq!(rows(&w), [3]);
    }

    #[test]
    fn a_failed_statement_that_sqlite_survives_leaves_the_batch_alone() {
        let mut w = writer();
        let first = kept(&mut w, 1, true);
        w.begin().unwrap();
        let e = StoreError::from(insert(&w, 1).unwrap_err());
        w.failed(&e);
        assert!(
            outcome(&first).is_none(),
            "a conflict fails one statement only"
        );
        w.end(false, false).unwrap();
        assert!(matches!(outcome(&first), Some(Outcome::Committed)));
        assert_eq!(rows(&w), [1]);
    }

    #[test]
    fn a_full_batch_commits_even_with_writers_waiting() {
        let mut w = writer();
        let mut settled = Vec::new();
        for v in 0..MAX_MEMBERS as i64 {
            settled.push(kept(&mut w, v, true));
        }
        assert!(!w.open());
        assert!(settled
            .iter()
            .all(|s| matches!(outcome(s), Some(Outcome::Committed))));
    }

    #[test]
    fn a_member_abandoned_without_ending_is_rolled_back_by_the_next_use() {
        let mut w = writer();
        let kept = kept(&mut w, 1, true);
        w.begin().unwrap();
        insert(&w, 2).unwrap();
        // Its rollback task never ran; the next member comes.
        w.begin().unwrap();
        insert(&w, 3).unwrap();
        w.end(true, false).unwrap();
        assert!(matches!(outcome(&kept), Some(Outcome::Committed)));
        assert_eq!(rows(&w), [1, 3]);
    }

    #[test]
    fn a_batch_dropped_unsettled_fails_its_members() {
        let mut w = writer();
        let first = kept(&mut w, 1, true);
        drop(w);
        assert!(matches!(outcome(&first), Some(Outcome::Failed(_))));
    }
}
