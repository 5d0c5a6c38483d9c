//! The one execution layer under the metadata store: statements are written once, with
//! `$N` placeholders, and run on SQLite (rusqlite: reads on the asking worker within a
//! budget, everything else on blocking threads) or PostgreSQL
//! (sqlx). Each backend hands its rows' cells over in one backend-neutral form
//! ([`Cols`]), either where it holds them ([`Conn::fetch_each`]) or copied into owned
//! [`Row`]s ([`Conn::fetch`]), decoded once by the store; the few places where the two
//! SQL dialects really differ ask [`Dialect`] for their fragment.

mod budget;
mod dialect;
mod group_commit;
mod migrations;
pub(crate) mod pg_lock;
pub(crate) mod postgres;
mod query;
mod row;
pub(crate) mod sqlite;
mod sqlite_migrations;
mod sqlite_writer;

use async_trait::async_trait;

pub use dialect::{Dialect, Lock};
pub use query::{Param, Query};
pub(crate) use row::{CellRef, Cells};
pub use row::{Cols, Row, Value};

use crate::error::{StoreError, StoreResult};
use crate::locks::KeyGuard;

/// Takes a statement's rows one at a time, as the backend holds them.
pub trait RowSink: Send {
    /// Forgets every row taken so far: the statement runs again from its start (a read
    /// that outran its budget on the worker, `budget.rs`).
    fn reset(&mut self);
    fn row(&mut self, c: &mut Cols<'_>) -> StoreResult<()>;
}

/// A sink that decodes each row into a list.
pub struct Collect<T, F> {
    pub items: Vec<T>,
    decode: F,
}

impl<T, F: FnMut(&mut Cols<'_>) -> StoreResult<T>> Collect<T, F> {
    pub fn new(decode: F) -> Self {
        Self::with_capacity(decode, 0)
    }

    /// With room for `rows` items, when the statement's LIMIT tells how many may come.
    pub fn with_capacity(decode: F, rows: usize) -> Self {
        Collect {
            items: Vec::with_capacity(rows),
            decode,
        }
    }
}

impl<T: Send, F: FnMut(&mut Cols<'_>) -> StoreResult<T> + Send> RowSink for Collect<T, F> {
    fn reset(&mut self) {
        self.items.clear();
    }

    fn row(&mut self, c: &mut Cols<'_>) -> StoreResult<()> {
        let item = (self.decode)(c)?;
        self.items.push(item);
        Ok(())
    }
}

/// A connection or an open transaction: runs one statement at a time.
#[async_trait]
pub trait Conn: Send {
    async fn fetch(&mut self, q: Query) -> StoreResult<Vec<Row>>;

    /// Runs a read and hands each row to `sink` where the backend holds it, with no
    /// owned copy of its cells: the path of a search page's rows, which are many and
    /// mostly parsed or copied once into the domain values anyway.
    async fn fetch_each(&mut self, q: Query, sink: &mut dyn RowSink) -> StoreResult<()> {
        for row in self.fetch(q).await? {
            sink.row(&mut row.cols())?;
        }
        Ok(())
    }
    /// Answers the number of rows changed.
    async fn execute(&mut self, q: Query) -> StoreResult<u64>;

    async fn fetch_optional(&mut self, q: Query) -> StoreResult<Option<Row>> {
        Ok(self.fetch(q).await?.into_iter().next())
    }

    async fn fetch_one(&mut self, q: Query) -> StoreResult<Row> {
        self.fetch_optional(q).await?.ok_or_else(|| {
            StoreError::backend("a statement that always answers a row answered none")
        })
    }

    /// The first column of the only row, as an integer (`COUNT(*)`, `EXISTS`).
    async fn scalar_i64(&mut self, q: Query) -> StoreResult<i64> {
        self.fetch_one(q).await?.cols().i64()
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
#[async_trait]
pub trait Tx: Conn {
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// What differs between the databases below the statements: connections, transactions,
/// locks that span processes, and closing.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// A connection for reads (on SQLite, one of the read-only connections).
    async fn read(&self) -> StoreResult<Box<dyn Conn>>;
    /// A write transaction (on SQLite, `BEGIN IMMEDIATE` on the one writer connection).
    async fn write(&self) -> StoreResult<Box<dyn Tx>>;
    /// Held while a blob is committed and referenced, or checked and removed, by every
    /// process sharing the database.
    async fn lock_key(&self, key: &str) -> KeyGuard;
    /// After an erasure: moves what the write-ahead log still holds of deleted rows into
    /// the database file, where secure deletion has zeroed them (SQLite); nothing to do
    /// on PostgreSQL, whose deleted row versions are not readable through SQL.
    async fn forget_deleted(&self) -> StoreResult<()>;
    async fn close(&self);
}
