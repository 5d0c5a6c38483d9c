//! Background jobs: creation and the runner. A runner leases one job at a time; a runner
//! that dies leaves its lease to lapse and the job is taken over and started again from
//! scratch (every step is idempotent), up to `MAX_ATTEMPTS` tries.

use std::time::Duration;

use callvault_core::{InteractionQuery, Job, JobStatus, TenantId};
use callvault_storage::meta::{PageStart, SearchCursor};
use chrono::Utc;

use crate::error::{ServiceError, ServiceResult};
use crate::vault::Vault;

/// How long a runner owns a job without renewing; renewed after every batch.
pub const LEASE: Duration = Duration::from_secs(120);
/// How long a finished export can be downloaded.
pub const VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
pub const MAX_ATTEMPTS: u32 = 3;
const BATCH: u32 = 500;

fn later(d: Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()
}

impl Vault {
    /// Queues an export of the interactions `query` matches.
    pub async fn create_export_job(
        &self,
        tenant: TenantId,
        kind: &str,
        owner: &str,
        query: &InteractionQuery,
    ) -> ServiceResult<Job> {
        let params = serde_json::to_string(query).map_err(|e| {
            ServiceError::Conflict(format!("cannot record the export's filter: {e}"))
        })?;
        let job = Job {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant,
            kind: kind.to_string(),
            owner: owner.to_string(),
            params,
            status: JobStatus::Pending,
            files_total: 0,
            files_completed: 0,
            error: None,
            attempts: 0,
            created_at: Utc::now(),
            valid_until: None,
        };
        self.meta.create_job(&job).await?;
        Ok(job)
    }

    /// Runs the next runnable job, if any; answers whether there was one.
    pub async fn run_next_job(&self) -> ServiceResult<bool> {
        let Some(job) = self.meta.claim_job(Utc::now(), later(LEASE)).await? else {
            return Ok(false);
        };
        if job.attempts > MAX_ATTEMPTS {
            let why = format!("gave up after {MAX_ATTEMPTS} attempts");
            self.meta
                .finish_job(&job.id, JobStatus::Failed, Some(&why), None)
                .await?;
            return Ok(true);
        }
        match self.run_export(&job).await {
            Ok(()) => {
                self.meta
                    .finish_job(&job.id, JobStatus::Complete, None, Some(later(VALIDITY)))
                    .await?;
            }
            Err(e) if job.attempts >= MAX_ATTEMPTS => {
                tracing::warn!(job = %job.id, error = %e, "export job failed");
                self.meta
                    .finish_job(&job.id, JobStatus::Failed, Some(&e.to_string()), None)
                    .await?;
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, attempt = job.attempts, "export job will be retried");
                self.meta
                    .finish_job(&job.id, JobStatus::Pending, Some(&e.to_string()), None)
                    .await?;
            }
        }
        Ok(true)
    }

    /// Freezes the list of interactions the export covers, in start order.
    async fn run_export(&self, job: &Job) -> ServiceResult<()> {
        let mut query: InteractionQuery = serde_json::from_str(&job.params)
            .map_err(|e| ServiceError::Conflict(format!("the job's filter is unreadable: {e}")))?;
        query.newest_first = false;
        self.meta.reset_job_items(&job.id).await?;
        let total = self.meta.count(job.tenant_id, &query).await?;
        let mut after = None;
        let mut seq = 0u64;
        loop {
            let batch = self
                .meta
                .search(job.tenant_id, &query, PageStart::After(after), BATCH)
                .await?;
            let ids: Vec<i64> = batch.iter().map(|i| i.id).collect();
            self.meta
                .add_job_items(
                    &job.id,
                    seq,
                    &ids,
                    total.max(seq + ids.len() as u64),
                    later(LEASE),
                )
                .await?;
            seq += ids.len() as u64;
            match batch.last() {
                Some(last) if batch.len() == BATCH as usize => {
                    after = Some(SearchCursor {
                        start_us: last.meta.start.timestamp_micros(),
                        id: last.id,
                    });
                }
                _ => return Ok(()),
            }
        }
    }
}
