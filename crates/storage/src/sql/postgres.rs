//! The scale-out backend: PostgreSQL shared by several stateless `callvault serve` nodes,
//! through sqlx. What SQLite gets from having a single writer, the statements get here
//! from row locks ([`super::Lock`]), `ON CONFLICT` and `FOR UPDATE SKIP LOCKED`, and blob
//! keys from advisory locks, so that nodes never hand out the same number, job or
//! refresh token.
//!
//! Transactions run at PostgreSQL's default READ COMMITTED: every write that reads before
//! it writes first locks the row it depends on (the tenant for new interactions and users,
//! the interaction for its content), so each statement after the lock sees the winner of
//! any race.

use std::future::Future;
use std::ops::DerefMut;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{
    Column, ConnectOptions, Connection, Executor, PgConnection, PgPool, Postgres, Row as _,
    TypeInfo,
};

use super::pg_lock::BlobLocks;
use super::{Backend, CellRef, Cells, Cols, Conn, Dialect, Param, Query, Row, RowSink, Tx};
use crate::error::{StoreError, StoreResult};
use crate::locks::KeyGuard;

/// Connections for queries, per node.
const POOL_CONNECTIONS: u32 = 16;
/// How long a query waits for a free connection before failing with 503. It is also how
/// long the first request waits once the database goes down (sqlx keeps retrying a
/// refused connection until this deadline), so it is kept well under the request timeout.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a query waits for a connection once one has not been had in
/// [`ACQUIRE_TIMEOUT`]: while the database is down, each request is answered 503 within
/// this, not after ten seconds, so clients are not held and do not pile up. A pool
/// exhausted for ten seconds by load alone counts the same, which sheds that load sooner.
/// The first connection had again ends it.
const ACQUIRE_WHILE_DOWN: Duration = Duration::from_secs(1);

pub(crate) struct PgBackend {
    pool: PgPool,
    locks: BlobLocks,
    reach: Arc<Reachability>,
}

impl PgBackend {
    /// Connects and brings the schema up to date. Several nodes may start at once: sqlx's
    /// migrator holds a session advisory lock on the database while it checks and applies
    /// migrations, so the others wait and then find nothing left to do.
    pub(crate) async fn open(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(StoreError::from_sqlx)?
            .application_name("callvault");
        // The migrator runs on a connection of its own that is always closed afterwards:
        // a failed migration leaves the migrator's session lock held, and only closing the
        // session releases it for the other nodes.
        let migrator = super::migrations::POSTGRES_MIGRATIONS.migrator().await?;
        let mut conn = opts.connect().await.map_err(StoreError::from_sqlx)?;
        let migrated = migrator.run(&mut conn).await;
        let closed = conn.close().await;
        migrated?;
        closed.map_err(StoreError::from_sqlx)?;
        let reach = Arc::new(Reachability::default());
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts.clone())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(Self {
            pool,
            locks: BlobLocks::new(opts, reach.clone()),
            reach,
        })
    }
}

/// Whether the last attempt to get a connection, from the query pool or the blob-lock
/// pool, timed out (see [`ACQUIRE_WHILE_DOWN`]).
#[derive(Default)]
pub(crate) struct Reachability {
    down: AtomicBool,
}

impl Reachability {
    /// Gets a connection (or a transaction on one) from a pool, within the shorter
    /// deadline while the database is known to be down.
    pub(crate) async fn connection<T>(
        &self,
        get: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> StoreResult<T> {
        let got = if self.down.load(Ordering::Relaxed) {
            tokio::time::timeout(ACQUIRE_WHILE_DOWN, get)
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        } else {
            get.await
        };
        let timed_out = matches!(got, Err(sqlx::Error::PoolTimedOut));
        if timed_out != self.down.swap(timed_out, Ordering::Relaxed) {
            if timed_out {
                tracing::warn!(
                    "no PostgreSQL connection could be had: answering 503 quickly until one is"
                );
            } else {
                tracing::info!("PostgreSQL connections are had again");
            }
        }
        got.map_err(StoreError::from_sqlx)
    }
}

#[async_trait]
impl Backend for PgBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn read(&self) -> StoreResult<Box<dyn Conn>> {
        let conn = self.reach.connection(self.pool.acquire()).await?;
        Ok(Box::new(Pg(conn)))
    }

    async fn write(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.reach.connection(self.pool.begin()).await?;
        Ok(Box::new(Pg(tx)))
    }

    async fn lock_key(&self, key: &str) -> KeyGuard {
        self.locks.lock(key).await
    }

    async fn forget_deleted(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Closes every connection, releasing any advisory lock still held.
    async fn close(&self) {
        self.locks.close().await;
        self.pool.close().await;
    }
}

/// A pooled connection or an open transaction; both are a `PgConnection` underneath.
struct Pg<C>(C);

#[async_trait]
impl<C: DerefMut<Target = PgConnection> + Send> Conn for Pg<C> {
    async fn fetch(&mut self, q: Query) -> StoreResult<Vec<Row>> {
        fetch(&mut self.0, q).await
    }

    async fn fetch_each(&mut self, q: Query, sink: &mut dyn RowSink) -> StoreResult<()> {
        let rows = fetch_pg(&mut self.0, q).await?;
        let kinds = rows.first().map(kinds).unwrap_or_default();
        for row in &rows {
            sink.row(&mut Cols::new(&PgCells { row, kinds: &kinds }))?;
        }
        Ok(())
    }

    async fn execute(&mut self, q: Query) -> StoreResult<u64> {
        execute(&mut self.0, q).await
    }
}

#[async_trait]
impl Tx for Pg<sqlx::Transaction<'static, Postgres>> {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.0.commit().await.map_err(StoreError::from_sqlx)
    }
}

/// PostgreSQL text cannot hold U+0000, so no stored value contains it (the store's field
/// rules refuse it too): a statement binding one could only fail, so it is refused here
/// with the same answer a lookup of a missing value gets from SQLite.
fn storable(q: &Query) -> bool {
    q.params.iter().all(|p| match p {
        Param::Text(Some(s)) => !s.contains('\0'),
        Param::Texts(v) => v.iter().all(|s| !s.contains('\0')),
        _ => true,
    })
}

fn arguments(q: &Query) -> StoreResult<PgArguments> {
    use sqlx::Arguments;
    let mut args = PgArguments::default();
    for p in &q.params {
        let added = match p {
            Param::Int(v) => args.add(*v),
            Param::Text(v) => args.add(v.clone()),
            Param::Bytes(v) => args.add(v.clone()),
            Param::Bool(v) => args.add(*v),
            Param::Ints(v) => args.add(v.clone()),
            Param::Texts(v) => args.add(v.clone()),
        };
        added.map_err(|e| StoreError::backend(format!("cannot bind a value: {e}")))?;
    }
    Ok(args)
}

async fn fetch(conn: &mut PgConnection, q: Query) -> StoreResult<Vec<Row>> {
    let rows = fetch_pg(conn, q).await?;
    let kinds = rows.first().map(kinds).unwrap_or_default();
    rows.iter()
        .map(|row| Row::copy_of(&PgCells { row, kinds: &kinds }, kinds.len(), 0))
        .collect()
}

async fn fetch_pg(conn: &mut PgConnection, q: Query) -> StoreResult<Vec<PgRow>> {
    if !storable(&q) {
        return Ok(Vec::new());
    }
    let args = arguments(&q)?;
    conn.fetch_all(sqlx::query_with(&q.sql, args))
        .await
        .map_err(StoreError::from_sqlx)
}

async fn execute(conn: &mut PgConnection, q: Query) -> StoreResult<u64> {
    if !storable(&q) {
        return Ok(0);
    }
    let args = arguments(&q)?;
    Ok(conn
        .execute(sqlx::query_with(&q.sql, args))
        .await
        .map_err(StoreError::from_sqlx)?
        .rows_affected())
}

/// How a column's values are read, from its type: the same for every row of a result,
/// so it is worked out once per statement, not once per cell.
#[derive(Clone, Copy)]
enum Kind {
    Int8,
    Int4,
    Int2,
    Bool,
    Bytes,
    Real,
    Text,
}

fn kinds(r: &PgRow) -> Vec<Kind> {
    r.columns()
        .iter()
        .map(|c| match c.type_info().name() {
            "INT8" => Kind::Int8,
            "INT4" => Kind::Int4,
            "INT2" => Kind::Int2,
            "BOOL" => Kind::Bool,
            "BYTEA" => Kind::Bytes,
            "FLOAT8" => Kind::Real,
            _ => Kind::Text,
        })
        .collect()
}

/// A PostgreSQL row's cells, read by the kinds of its statement's columns.
struct PgCells<'a> {
    row: &'a PgRow,
    kinds: &'a [Kind],
}

impl Cells for PgCells<'_> {
    fn cell(&self, i: usize) -> Option<CellRef<'_>> {
        fn get<'r, T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>>(
            r: &'r PgRow,
            i: usize,
            cell: impl FnOnce(T) -> CellRef<'r>,
        ) -> CellRef<'r> {
            match r.try_get::<Option<T>, _>(i) {
                Ok(v) => v.map_or(CellRef::Null, cell),
                // Never seen: the kinds come from the columns' own types. The reader
                // that wanted a value says it found none it could read.
                Err(_) => CellRef::Bytes(&[]),
            }
        }
        let r = self.row;
        Some(match self.kinds.get(i)? {
            Kind::Int8 => get::<i64>(r, i, CellRef::Int),
            Kind::Int4 => get::<i32>(r, i, |v| CellRef::Int(v.into())),
            Kind::Int2 => get::<i16>(r, i, |v| CellRef::Int(v.into())),
            Kind::Bool => get::<bool>(r, i, CellRef::Bool),
            Kind::Bytes => get::<&[u8]>(r, i, CellRef::Bytes),
            Kind::Real => get::<f64>(r, i, CellRef::Real),
            Kind::Text => get::<&str>(r, i, CellRef::Text),
        })
    }
}
