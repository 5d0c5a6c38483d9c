//! Named leases: which node runs a singleton background task (the sweeper) right now.
//! A lease is taken when free or lapsed, and renewed by its holder; a node that dies
//! simply stops renewing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreResult;

#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes or renews `name` for `holder` until `until`; answers whether `holder` has it.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
