//! Background housekeeping: staging leftovers, orphaned blobs, expired tokens and jobs,
//! and the retention pass (crate::governance).
//!
//! Orphans appear when a process dies between committing a blob and committing the row
//! that references it. They are removed once older than a grace period, long enough that
//! no upload can still be between those two steps.

use std::time::{Duration, SystemTime};

use chrono::Utc;

use crate::error::ServiceResult;
use crate::vault::Vault;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub staging_removed: usize,
    pub orphans_removed: usize,
    pub tokens_removed: u64,
    pub jobs_expired: u64,
    /// Webhook deliveries done for longer than they are kept.
    pub deliveries_pruned: u64,
    /// Interactions and content items retention deleted.
    pub retention_interactions: u64,
    pub retention_items: u64,
}

/// How long one sweep may spend on retention: well inside the housekeeping lease, so a
/// large backlog is worked off over several sweeps and never by two nodes at once.
const RETENTION_BUDGET: Duration = Duration::from_secs(240);

impl Vault {
    pub async fn sweep(&self, grace: Duration) -> ServiceResult<SweepReport> {
        let cutoff = SystemTime::now() - grace;
        let staging_removed = self.blobs.clean_staging(cutoff).await?;
        let mut orphans_removed = 0;
        for blob in self.blobs.list().await? {
            if blob.modified >= cutoff {
                continue;
            }
            let _guard = self.store.lock_blob(&blob.key).await;
            if !self.store.blob_referenced(&blob.key).await? {
                self.blobs.delete(&blob.key).await?;
                orphans_removed += 1;
            }
        }
        let tokens_removed = self.store.delete_expired_tokens(Utc::now()).await?;
        let jobs_expired = self.store.expire_jobs(Utc::now()).await?;
        let retention = self.run_retention(RETENTION_BUDGET).await?;
        let deliveries_pruned = self
            .store
            .prune_deliveries(Utc::now() - callvault_core::webhook::KEEP_DELIVERIES)
            .await?;
        Ok(SweepReport {
            deliveries_pruned,
            retention_interactions: retention.interactions,
            retention_items: retention.items,
            staging_removed,
            orphans_removed,
            tokens_removed,
            jobs_expired,
        })
    }
}
