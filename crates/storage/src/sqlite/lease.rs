//! Named leases on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rows::to_us;
use super::SqliteStore;
use crate::error::StoreResult;
use crate::lease::LeaseStore;

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO leases (name, holder, until_us) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             until_us = excluded.until_us \
             WHERE leases.until_us < ? OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(to_us(until))
        .bind(to_us(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
