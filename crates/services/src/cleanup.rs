//! Background housekeeping: staging leftovers, orphaned blobs and expired tokens.
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
}

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
        Ok(SweepReport {
            staging_removed,
            orphans_removed,
            tokens_removed,
            jobs_expired,
        })
    }
}
