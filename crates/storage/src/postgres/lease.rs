//! Named leases on PostgreSQL: one upsert, so two nodes asking at once get one answer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::rows::to_us;
use super::PgStore;
use crate::error::StoreResult;
use crate::lease::LeaseStore;

#[async_trait]
impl LeaseStore for PgStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "INSERT INTO leases (name, holder, until_us) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             until_us = excluded.until_us \
             WHERE leases.until_us < $4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(to_us(until))
        .bind(to_us(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}
