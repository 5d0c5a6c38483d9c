//! The metadata store, written once: every statement below runs on SQLite and on
//! PostgreSQL through [`crate::sql::Backend`], and asks [`Dialect`] for the few fragments
//! in which the two differ. One file per concern; each implements one trait of
//! [`crate::meta`].

mod audit;
mod auth;
mod content;
pub(crate) mod decode;
mod deletes;
mod exports;
#[cfg(test)]
mod faults;
mod governance;
mod interactions;
mod jobs;
mod leases;
mod outbox;
mod search;
mod tenants;
mod text;
mod transcription;
mod users;
mod webhooks;

use std::path::Path;

use crate::error::StoreResult;
use crate::sql::{
    postgres::PgBackend, sqlite::SqliteBackend, Backend, Conn, Dialect, Query, Row, Tx,
};

/// The metadata store over either database.
pub struct SqlStore {
    db: Box<dyn Backend>,
    dialect: Dialect,
}

impl SqlStore {
    /// The embedded store: opens (creating if needed) the SQLite file and migrates it.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Self> {
        Ok(Self::with_backend(Box::new(
            SqliteBackend::open(path).await?,
        )))
    }

    /// The scale-out store: connects to PostgreSQL and migrates it.
    pub async fn open_postgres(url: &str) -> StoreResult<Self> {
        Ok(Self::with_backend(Box::new(PgBackend::open(url).await?)))
    }

    fn with_backend(db: Box<dyn Backend>) -> Self {
        let dialect = db.dialect();
        Self { db, dialect }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes every connection (on SQLite, checkpointing the WAL).
    pub async fn close(&self) {
        self.db.close().await;
    }

    pub(crate) async fn read(&self) -> StoreResult<Box<dyn Conn>> {
        self.db.read().await
    }

    pub(crate) async fn write(&self) -> StoreResult<Box<dyn Tx>> {
        self.db.write().await
    }

    /// Rows of one read statement.
    pub(crate) async fn fetch(&self, q: Query) -> StoreResult<Vec<Row>> {
        self.read().await?.fetch(q).await
    }

    pub(crate) async fn fetch_optional(&self, q: Query) -> StoreResult<Option<Row>> {
        self.read().await?.fetch_optional(q).await
    }

    /// One write statement in a transaction of its own; answers the rows changed.
    pub(crate) async fn execute(&self, q: Query) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let n = tx.execute(q).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Takes one row for a runner: `next` selects the id of the row to take (holding it,
    /// on PostgreSQL, with `SKIP LOCKED`), `take(id)` updates it and answers it, decoded by
    /// `decode`; both in one transaction.
    pub(crate) async fn claim<T>(
        &self,
        next: Query,
        take: impl FnOnce(String) -> Query + Send,
        decode: fn(Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut tx = self.write().await?;
        let Some(row) = tx.fetch_optional(next).await? else {
            return Ok(None);
        };
        let id = row.cols().text()?;
        let taken = tx.fetch_one(take(id)).await.and_then(decode)?;
        tx.commit().await?;
        Ok(Some(taken))
    }

    /// One write statement that answers rows, in a transaction of its own.
    pub(crate) async fn write_fetch(&self, q: Query) -> StoreResult<Vec<Row>> {
        let mut tx = self.write().await?;
        let rows = tx.fetch(q).await?;
        tx.commit().await?;
        Ok(rows)
    }
}
