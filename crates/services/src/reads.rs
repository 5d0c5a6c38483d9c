//! Lookups the dialects need besides search, each scoped by tenant. The HTTP crate reads
//! through these, never the store itself, so every read passes the services layer (where
//! audit and retention rules apply to all dialects alike).

use callvault_core::{Interaction, Job, JobKind, JobStatus, Tenant, TenantId, User};

use crate::error::ServiceResult;
use crate::Vault;

impl Vault {
    /// Whether the metadata store answers, for readiness checks.
    pub async fn ping(&self) -> ServiceResult<()> {
        Ok(self.store.ping().await?)
    }

    /// Whether the content store answers, for readiness checks. Its outage is reported,
    /// not made unreadiness: searches and metadata go on without it.
    pub async fn ping_content(&self) -> ServiceResult<()> {
        Ok(self.blobs.ping().await?)
    }

    pub async fn tenant(&self, id: TenantId) -> ServiceResult<Option<Tenant>> {
        Ok(self.store.tenant_by_id(id).await?)
    }

    /// The interaction with a per-tenant number (the integer ids of some dialects).
    pub async fn interaction_by_number(
        &self,
        tenant: TenantId,
        number: i64,
    ) -> ServiceResult<Option<Interaction>> {
        Ok(self.store.interaction_by_number(tenant, number).await?)
    }

    /// A user who can sign in, by id.
    pub async fn user(&self, tenant: TenantId, id: &str) -> ServiceResult<Option<User>> {
        Ok(self.store.user_by_id(tenant, id).await?)
    }

    pub async fn job(&self, tenant: TenantId, id: &str) -> ServiceResult<Option<Job>> {
        Ok(self.store.job(tenant, id).await?)
    }

    /// A creator's jobs of one kind, newest first, with the total.
    pub async fn list_jobs(
        &self,
        tenant: TenantId,
        kind: JobKind,
        owner: &str,
        status: Option<JobStatus>,
        (offset, limit): (u64, u32),
    ) -> ServiceResult<(u64, Vec<Job>)> {
        Ok(self
            .store
            .list_jobs(tenant, &[kind], owner, status, offset, limit)
            .await?)
    }

    /// A creator's jobs of every kind, newest first, with the total (the console's list
    /// of a user's exports).
    pub async fn jobs_of(
        &self,
        tenant: TenantId,
        owner: &str,
        (offset, limit): (u64, u32),
    ) -> ServiceResult<(u64, Vec<Job>)> {
        Ok(self
            .store
            .list_jobs(tenant, &JobKind::ALL, owner, None, offset, limit)
            .await?)
    }

    /// A finished job's interactions in the order the job froze them, `batch` at a time;
    /// those deleted since are left out.
    pub fn job_walk<'a>(&'a self, job: &'a Job, batch: u32) -> JobWalk<'a> {
        JobWalk {
            vault: self,
            job,
            batch: batch.max(1),
            after: -1,
        }
    }
}

/// See [`Vault::job_walk`].
pub struct JobWalk<'a> {
    vault: &'a Vault,
    job: &'a Job,
    batch: u32,
    after: i64,
}

impl JobWalk<'_> {
    /// The next batch, or `None` at the end.
    pub async fn next_batch(&mut self) -> ServiceResult<Option<Vec<Interaction>>> {
        let store = &self.vault.store;
        loop {
            let items = store
                .job_items(&self.job.id, self.after, self.batch)
                .await?;
            let Some(&(last, _)) = items.last() else {
                return Ok(None);
            };
            self.after = last;
            let ids: Vec<i64> = items.iter().map(|(_, i)| *i).collect();
            let mut found = store.interactions_by_ids(self.job.tenant_id, &ids).await?;
            // Back into the job's order (the store answers in id order).
            let rank: std::collections::HashMap<i64, usize> =
                ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
            found.sort_by_key(|i| rank.get(&i.id).copied().unwrap_or(usize::MAX));
            if !found.is_empty() {
                return Ok(Some(found));
            }
        }
    }
}
