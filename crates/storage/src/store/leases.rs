//! Named leases: one upsert, so two nodes asking at once get one answer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqlStore;
use crate::error::StoreResult;
use crate::lease::LeaseStore;
use crate::sql::Query;

#[async_trait]
impl LeaseStore for SqlStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let q = Query::new(
            "INSERT INTO leases (name, holder, until_us) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             until_us = excluded.until_us \
             WHERE leases.until_us < $4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now);
        Ok(self.execute(q).await? > 0)
    }
}
