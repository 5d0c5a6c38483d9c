//! WAL checkpoints on a thread of their own, beside the writer.
//!
//! SQLite checkpoints by itself when a COMMIT leaves 1,000 pages or more in the
//! write-ahead log: on the committing connection, before the COMMIT returns. Here that
//! connection is the one writer (`group_commit.rs`), so each checkpoint (copying the
//! log's pages into the database file and syncing it) held every writer behind it, and
//! every upload of the batch waited for it. Rows that add to every upload (three webhook
//! subscriptions' outbox) bring the checkpoints more often, and the uploads waited for
//! each (docs/benchmarks.md, "Checkpoints beside the writer").
//!
//! Instead, the writer's commit hook (`sqlite3_wal_hook`, which replaces the automatic
//! checkpoint) wakes a thread whose own connection runs the same PASSIVE checkpoint at
//! the same threshold. A passive checkpoint waits for no lock and holds none that a
//! writer or reader needs, and once every page is copied back SQLite restarts the log
//! from its start at the next write, so the log stays as small as before. Should the
//! thread not start or its connection not open, the hook checkpoints on the writer, as
//! SQLite would.

use std::ffi::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::{ffi, Connection, OpenFlags};

/// SQLite's own threshold for its automatic checkpoint, in pages.
const CHECKPOINT_AT: c_int = 1000;
/// Past this many pages the writer finishes the checkpoint itself, after its COMMIT.
///
/// The log restarts from its start only once every page is copied back, and under a
/// steady stream of writes the thread never quite gets there: the writer appends while
/// it copies. The log then only grew, and a log that grows is slower to write and sync
/// than one overwritten in place (every sync also writes the file's new size). Here the
/// thread copies most of the log beside the writer, and the writer copies what is left,
/// with no one appending meanwhile, so the next write restarts the log.
const FINISH_AT: c_int = 2 * CHECKPOINT_AT;

/// What the writer's commit hook wakes: the checkpoint thread, started at the first
/// wake-up so that a vault that is never written holds no thread or connection for it.
pub(crate) struct Checkpointer {
    path: PathBuf,
    wake: OnceLock<Option<SyncSender<()>>>,
    /// Set when the thread cannot checkpoint: the hook then does it on the writer.
    inline: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Installs the commit hook on `writer`, the connection to the database at `path`;
    /// from then on that connection no longer checkpoints by itself. The writer must
    /// keep the answer and call [`Checkpointer::uninstall`] before dropping it.
    pub(crate) fn install(writer: &Connection, path: &Path) -> Arc<Checkpointer> {
        let c = Arc::new(Checkpointer {
            path: path.to_path_buf(),
            wake: OnceLock::new(),
            inline: Arc::new(AtomicBool::new(false)),
        });
        // SAFETY: `handle` is the writer's open connection. The context pointer is the
        // Checkpointer, which the writer keeps alive for as long as the hook is installed
        // (`WriterConn` holds the Arc and uninstalls the hook when dropped).
        unsafe {
            ffi::sqlite3_wal_hook(
                writer.handle(),
                Some(on_commit),
                Arc::as_ptr(&c) as *mut c_void,
            );
        }
        c
    }

    /// Removes the commit hook from `writer`.
    pub(crate) fn uninstall(writer: &Connection) {
        // SAFETY: `handle` is the writer's open connection; no hook means no context.
        unsafe {
            ffi::sqlite3_wal_hook(writer.handle(), None, std::ptr::null_mut());
        }
    }

    /// Wakes the thread (a wake-up already pending covers this one too); answers
    /// whether the thread will checkpoint.
    fn wake(&self) -> bool {
        if self.inline.load(Ordering::Relaxed) {
            return false;
        }
        let wake = self
            .wake
            .get_or_init(|| start(self.path.clone(), self.inline.clone()));
        match wake {
            Some(w) => {
                let _ = w.try_send(());
                true
            }
            None => false,
        }
    }
}

/// The writer's commit hook: called by SQLite after each commit with the number of
/// pages in the log.
unsafe extern "C" fn on_commit(
    ctx: *mut c_void,
    db: *mut ffi::sqlite3,
    name: *const c_char,
    pages: c_int,
) -> c_int {
    if pages < CHECKPOINT_AT {
        return ffi::SQLITE_OK;
    }
    // SAFETY: `ctx` is the Checkpointer given to `install`, alive while the hook is.
    let checkpointer = unsafe { &*(ctx as *const Checkpointer) };
    if pages >= FINISH_AT || !checkpointer.wake() {
        // SAFETY: `db` and `name` are what SQLite passed to this hook; a checkpoint from
        // the hook is what SQLite's own automatic checkpoint does. Its failure (busy while
        // the thread checkpoints, a full disk) is not the commit's: the next commit
        // tries again.
        unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                db,
                name,
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
        }
    }
    ffi::SQLITE_OK
}

/// Starts the checkpoint thread; `None` if it cannot start.
fn start(path: PathBuf, inline: Arc<AtomicBool>) -> Option<SyncSender<()>> {
    let (wake, woken) = sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || run(&path, &woken, &inline));
    match spawned {
        Ok(_) => Some(wake),
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoints run on the writer: no thread");
            None
        }
    }
}

/// Checkpoints at each wake-up until the writer is gone.
fn run(path: &Path, woken: &Receiver<()>, inline: &AtomicBool) {
    let conn = match open(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoints run on the writer: no connection");
            inline.store(true, Ordering::Relaxed);
            return;
        }
    };
    let mut warned: Option<Instant> = None;
    while woken.recv().is_ok() {
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => metrics::counter!("callvault_sqlite_checkpoints_total").increment(1),
            // A full disk or an I/O error: the log keeps the pages and the next wake-up
            // tries again. Said once a minute, not at every commit.
            Err(e) => {
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                    warned = Some(Instant::now());
                }
            }
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The database file is synced before the log may restart over the pages copied.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database with the hook on its writer, and a table to fill.
    fn writer(dir: &Path) -> (Connection, Arc<Checkpointer>, PathBuf) {
        let path = dir.join("db.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        let c = Checkpointer::install(&conn, &path);
        (conn, c, path)
    }

    /// Commits about `pages` pages of new rows in one transaction.
    fn fill(conn: &Connection, pages: usize) {
        let tx = conn.unchecked_transaction().unwrap();
        for _ in 0..pages {
            tx.execute("INSERT INTO t (b) VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    fn db_pages(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len() / 4096
    }

    #[test]
    fn the_log_is_copied_back_by_the_thread_not_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, c, path) = writer(dir.path());
        fill(&conn, 100);
        assert!(c.wake.get().is_none(), "no thread below the threshold");
        fill(&conn, 1100);
        assert!(c.wake.get().is_some_and(Option::is_some), "woken");
        let deadline = Instant::now() + Duration::from_secs(20);
        while db_pages(&path) < 1200 {
            assert!(Instant::now() < deadline, "the log was never copied back");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!c.inline.load(Ordering::Relaxed));
        Checkpointer::uninstall(&conn);
    }

    #[test]
    fn a_log_past_twice_the_threshold_is_finished_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, c, path) = writer(dir.path());
        fill(&conn, 2100);
        assert!(
            db_pages(&path) >= 2100,
            "copied back before the commit returned"
        );
        assert!(c.wake.get().is_none(), "no thread needed");
        Checkpointer::uninstall(&conn);
    }

    #[test]
    fn without_the_thread_the_writer_checkpoints_as_sqlite_would() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, c, path) = writer(dir.path());
        c.inline.store(true, Ordering::Relaxed);
        fill(&conn, 1100);
        assert!(c.wake.get().is_none(), "no thread started");
        assert!(
            db_pages(&path) >= 1100,
            "copied back before the commit returned"
        );
        Checkpointer::uninstall(&conn);
    }
}
