//! The embedded backend: SQLite in WAL mode with `synchronous=FULL`, so that a committed
//! write survives a crash or power loss, through SQLite's C library (rusqlite).
//!
//! Writes go through the one writer connection and start with `BEGIN IMMEDIATE`, so that
//! writers queue in the process instead of failing with `SQLITE_BUSY`; concurrent write
//! transactions share one COMMIT and its fsync (`group_commit.rs`). Reads use a pool of
//! read-only connections and run beside the writer. Reads, and the writer's statements
//! inside a transaction, run on the worker that asks for them within a time budget
//! (`budget.rs`); `BEGIN` and `COMMIT`, which wait for locks and fsync, and reads that
//! outrun the budget, run on a blocking thread with the connection moved there and back.
//! Either way a statement's rows are read out in one go, with no hand-off per row.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::budget::{Budget, Overrun};
use super::group_commit::WriterConn;
use super::query::numbered_for_sqlite;
use super::sqlite_migrations as migrations;
use super::sqlite_writer::{Queued, Writing};
use super::{Backend, CellRef, Cells, Cols, Conn, Dialect, Param, Query, Row, RowSink, Tx};
use crate::error::{StoreError, StoreResult};
use crate::locks::{KeyGuard, StripedLocks};

/// Read connections; each holds up to 8 MiB of page cache, so nine stay under 80 MiB and
/// the kernel's page cache holds the rest of a hot database.
const READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a write waits for the writer connection before answering busy.
const WRITE_WAIT: Duration = Duration::from_secs(60);

pub(crate) struct SqliteBackend {
    path: PathBuf,
    pub(super) writer: Arc<tokio::sync::Mutex<WriterConn>>,
    /// Writers waiting for the writer connection: a transaction that ends while some
    /// wait leaves the commit to them (`group_commit.rs`).
    pub(super) waiting: Arc<AtomicUsize>,
    /// Idle read connections. They are opened on first need, up to `READERS`, so that an
    /// idle server holds one connection's schema and page cache, not nine.
    readers: Arc<Mutex<Vec<Reader>>>,
    free: Arc<Semaphore>,
    locks: StripedLocks,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file and brings its schema up to date with
    /// sqlx's migrator, which earlier versions used, so existing files migrate as before.
    pub(crate) async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let p = path.to_path_buf();
        if !blocking(move || migrations::up_to_date(&p, BUSY_TIMEOUT)).await?? {
            migrations::migrate(path, BUSY_TIMEOUT).await?;
        }
        let p = path.to_path_buf();
        let writer = blocking(move || -> StoreResult<_> {
            let writer = connect(&p, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            writer.pragma_update(None, "foreign_keys", "ON")?;
            // Deleted rows are overwritten, not left in free pages: erasure must leave no
            // trace of a data subject in the file (docs/governance.md).
            writer.pragma_update(None, "secure_delete", "ON")?;
            Ok(writer)
        })
        .await??;
        let lock_dir = path.parent().map(|d| d.join("locks"));
        if let Some(d) = &lock_dir {
            tokio::fs::create_dir_all(d).await?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            writer: Arc::new(tokio::sync::Mutex::new(WriterConn::new(writer))),
            waiting: Arc::new(AtomicUsize::new(0)),
            readers: Arc::new(Mutex::new(Vec::with_capacity(READERS))),
            free: Arc::new(Semaphore::new(READERS)),
            locks: StripedLocks::new(64, lock_dir),
        })
    }
}

fn connect(path: &Path, flags: OpenFlags) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // 4 MiB of pages per connection, nine connections at most: the kernel's page cache
    // holds the file anyway, and 8 MiB each let a search load's peak reach 100 MiB
    // (docs/benchmarks.md). The benchmark's floor uses the same value.
    conn.pragma_update(None, "cache_size", -4096)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::backend(format!("database task failed: {e}")))
}

#[async_trait]
impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn read(&self) -> StoreResult<Box<dyn Conn>> {
        let permit = self
            .free
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::backend("the database is closed"))?;
        let idle = self
            .readers
            .lock()
            .map_err(|_| StoreError::backend("reader pool poisoned"))?
            .pop();
        // The permit bounds the open connections: one is opened only when every open one
        // is lent out and fewer than `READERS` exist.
        let conn = match idle {
            Some(c) => c,
            None => {
                let p = self.path.clone();
                blocking(move || Reader::open(&p)).await??
            }
        };
        Ok(Box::new(Held(Some(Pooled {
            conn: Some(conn),
            pool: self.readers.clone(),
            _permit: permit,
        }))))
    }

    async fn write(&self) -> StoreResult<Box<dyn Tx>> {
        let queued = Queued::new(&self.waiting);
        let guard = tokio::time::timeout(WRITE_WAIT, self.writer.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Busy("the database is busy; try again".into()))?;
        drop(queued);
        let mut w = Held(Some(Writing::new(guard, self.waiting.clone())));
        w.run(|w| w.writer().begin()).await?;
        Ok(Box::new(w))
    }

    async fn lock_key(&self, key: &str) -> KeyGuard {
        self.locks.lock(key).await
    }

    /// A rare, operator-driven step, so it runs on the writer where it stands: a
    /// checkpoint of a few pages.
    async fn forget_deleted(&self) -> StoreResult<()> {
        let mut w = self.writer.lock().await;
        w.commit();
        w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }

    /// Waits for the readers to come back and closes them, then checkpoints the WAL into
    /// the database file; the writer closes with the store.
    async fn close(&self) {
        if let Ok(all) = self.free.acquire_many(READERS as u32).await {
            all.forget();
            if let Ok(mut readers) = self.readers.lock() {
                readers.clear();
            }
        }
        let mut w = self.writer.lock().await;
        w.commit();
        if w.conn.is_autocommit() {
            if let Err(e) = w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                tracing::warn!(error = %e, "WAL checkpoint at close failed");
            }
        }
    }
}

/// A read connection and the budget its progress handler enforces.
struct Reader {
    conn: Connection,
    budget: Arc<Budget>,
}

impl Reader {
    fn open(path: &Path) -> StoreResult<Self> {
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let budget = Budget::install(&conn, Overrun::Interrupt);
        Ok(Self { conn, budget })
    }
}

/// A connection as lent out, with the budget for running its statements on the worker.
pub(super) trait Lent: DerefMut<Target = Connection> + Send + 'static {
    fn budget(&self) -> Option<Arc<Budget>>;
    /// After a statement failed.
    fn failed(&mut self, _e: &StoreError) {}
}

/// A connection lent out. Reads run first on the asking worker within the reader's
/// budget, and a writer's statements on the asking worker too (`budget.rs`); reads that
/// outrun the budget, and the writer's `BEGIN` and `COMMIT`, are moved onto a blocking
/// thread and back. If the task is cancelled meanwhile, the connection is
/// dropped where it is, on that thread, and its drop puts things right (see [`Pooled`]
/// and [`Writing`]).
pub(super) struct Held<C>(pub(super) Option<C>);

impl<C: Lent> Held<C> {
    pub(super) async fn run<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut C) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let mut conn = self
            .0
            .take()
            .ok_or_else(|| StoreError::backend("the connection was lost"))?;
        let (mut conn, out) = blocking(move || {
            let out = f(&mut conn);
            (conn, out)
        })
        .await?;
        if let Err(e) = &out {
            conn.failed(e);
        }
        self.0 = Some(conn);
        out
    }
}

#[async_trait]
impl<C: Lent> Conn for Held<C> {
    async fn fetch(&mut self, q: Query) -> StoreResult<Vec<Row>> {
        if let Some(rows) = self.here(|c| fetch(c, &q)) {
            return rows;
        }
        self.run(move |c| fetch(c, &q)).await
    }

    async fn fetch_each(&mut self, q: Query, sink: &mut dyn RowSink) -> StoreResult<()> {
        if let Some(done) = self.here(|c| each(c, &q, &mut *sink)) {
            return done;
        }
        sink.reset();
        for row in self.run(move |c| fetch(c, &q)).await? {
            sink.row(&mut row.cols())?;
        }
        Ok(())
    }

    async fn execute(&mut self, q: Query) -> StoreResult<u64> {
        if let Some(n) = self.here(|c| execute(c, &q)) {
            return n;
        }
        self.run(move |c| execute(c, &q)).await
    }
}

impl<C: Lent> Held<C> {
    /// Runs a statement on this thread within the connection's budget; `None` when it
    /// is to run on the blocking pool instead (a read that outran the budget).
    fn here<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> Option<StoreResult<T>> {
        let conn = self.0.as_mut()?;
        let budget = conn.budget()?;
        let Some(out) = budget.within(|| f(conn)) else {
            // How often reads outrun the budget: if this grows with every search, the
            // budget or the statement needs a look.
            metrics::counter!("callvault_sqlite_reads_moved_total").increment(1);
            return None;
        };
        if let Err(e) = &out {
            conn.failed(e);
        }
        Some(out)
    }
}

/// A read connection; going back to the pool when dropped, wherever that happens.
struct Pooled {
    conn: Option<Reader>,
    pool: Arc<Mutex<Vec<Reader>>>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Pooled {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self
            .conn
            .as_ref()
            .expect("a pooled connection is present until dropped")
            .conn
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self
            .conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
            .conn
    }
}

impl Lent for Pooled {
    fn budget(&self) -> Option<Arc<Budget>> {
        self.conn.as_ref().map(|r| r.budget.clone())
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut pool)) = (self.conn.take(), self.pool.lock()) {
            pool.push(c);
        }
    }
}

fn prepare<'c>(c: &'c Connection, q: &Query) -> StoreResult<rusqlite::CachedStatement<'c>> {
    let mut stmt = c.prepare_cached(&numbered_for_sqlite(&q.sql))?;
    for (i, p) in q.params.iter().enumerate() {
        let at = i + 1;
        match p {
            Param::Int(v) => stmt.raw_bind_parameter(at, v)?,
            Param::Text(v) => stmt.raw_bind_parameter(at, v)?,
            Param::Bytes(v) => stmt.raw_bind_parameter(at, v)?,
            Param::Bool(v) => stmt.raw_bind_parameter(at, v.map(i64::from))?,
            Param::Ints(_) | Param::Texts(_) => {
                return Err(StoreError::backend(
                    "lists are bound through Dialect::push_in on SQLite",
                ))
            }
        }
    }
    Ok(stmt)
}

fn fetch(c: &mut Connection, q: &Query) -> StoreResult<Vec<Row>> {
    let mut stmt = prepare(c, q)?;
    let n = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    let mut text_hint = 0;
    while let Some(r) = rows.next()? {
        let row = Row::copy_of(r, n, text_hint)?;
        text_hint = row.text_len();
        out.push(row);
    }
    Ok(out)
}

fn each(c: &mut Connection, q: &Query, sink: &mut dyn RowSink) -> StoreResult<()> {
    let mut stmt = prepare(c, q)?;
    let mut rows = stmt.raw_query();
    while let Some(r) = rows.next()? {
        sink.row(&mut Cols::new(r))?;
    }
    Ok(())
}

/// SQLite's cells where the statement holds them, valid until its next step.
impl Cells for rusqlite::Row<'_> {
    fn cell(&self, i: usize) -> Option<CellRef<'_>> {
        Some(match self.get_ref(i).ok()? {
            ValueRef::Null => CellRef::Null,
            ValueRef::Integer(v) => CellRef::Int(v),
            ValueRef::Real(v) => CellRef::Real(v),
            ValueRef::Text(t) => match std::str::from_utf8(t) {
                Ok(t) => CellRef::Text(t),
                Err(_) => CellRef::Bytes(t),
            },
            ValueRef::Blob(b) => CellRef::Bytes(b),
        })
    }
}

fn execute(c: &mut Connection, q: &Query) -> StoreResult<u64> {
    let mut stmt = prepare(c, q)?;
    Ok(stmt.raw_execute()? as u64)
}
