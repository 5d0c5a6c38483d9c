//! Background jobs: creation and the runner. A runner leases one job at a time; a runner
//! that dies leaves its lease to lapse and the job is taken over and started again from
//! scratch (every step is idempotent), up to `MAX_ATTEMPTS` tries.

use std::time::Duration;

use callvault_core::{InteractionQuery, Job, JobKind, JobStatus, TenantId};
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
        kind: JobKind,
        owner: &str,
        query: &InteractionQuery,
    ) -> ServiceResult<Job> {
        let params = serde_json::to_string(query).map_err(|e| {
            ServiceError::Conflict(format!("cannot record the export's filter: {e}"))
        })?;
        let job = Job {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant,
            kind,
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
        self.store.create_job(&job).await?;
        Ok(job)
    }

    /// Runs the next runnable job, if any; answers whether there was one.
    pub async fn run_next_job(&self) -> ServiceResult<bool> {
        let Some(job) = self.store.claim_job(Utc::now(), later(LEASE)).await? else {
            return Ok(false);
        };
        if job.attempts > MAX_ATTEMPTS {
            let why = format!("gave up after {MAX_ATTEMPTS} attempts");
            self.store
                .finish_job(&job.id, JobStatus::Failed, Some(&why), None)
                .await?;
            return Ok(true);
        }
        match self.run_export(&job).await {
            Ok(()) => {
                self.store
                    .finish_job(&job.id, JobStatus::Complete, None, Some(later(VALIDITY)))
                    .await?;
            }
            Err(e) if job.attempts >= MAX_ATTEMPTS => {
                tracing::warn!(job = %job.id, error = %e, "export job failed");
                self.store
                    .finish_job(&job.id, JobStatus::Failed, Some(&e.to_string()), None)
                    .await?;
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, attempt = job.attempts, "export job will be retried");
                self.store
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
        self.store.reset_job_items(&job.id).await?;
        let total = self.store.count(job.tenant_id, &query).await?;
        let mut walk = self.search_walk(job.tenant_id, &query, BATCH);
        let mut seq = 0u64;
        while let Some(batch) = walk.next_batch().await? {
            let ids: Vec<i64> = batch.iter().map(|i| i.id).collect();
            let total = total.max(seq + ids.len() as u64);
            self.store
                .add_job_items(&job.id, seq, &ids, total, later(LEASE))
                .await?;
            seq += ids.len() as u64;
        }
        // An empty result still records its (zero) progress and renews the lease.
        if seq == 0 {
            self.store
                .add_job_items(&job.id, 0, &[], total, later(LEASE))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ContentUpload;
    use crate::VaultConfig;
    use callvault_core::{Attributes, ContentKey, ContentType, Direction, Guid, InteractionMeta};

    async fn vault_with_calls(n: u32) -> (tempfile::TempDir, std::sync::Arc<Vault>, TenantId) {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_embedded(VaultConfig::embedded(dir.path()))
            .await
            .unwrap();
        let tenant = vault.store.create_tenant("acme", "UTC").await.unwrap().id;
        for i in 0..n {
            let meta = InteractionMeta {
                guid: Guid::parse("g", &format!("{i:08x}-0000-4000-8000-000000000000")).unwrap(),
                start: Utc::now() - chrono::Duration::minutes(i64::from(i)),
                end: None,
                direction: Direction::Inbound,
                connect_from: "1".into(),
                connect_to: "2".into(),
                caller_name: None,
                handling_agents: vec![],
                extensions: vec![],
                queue_id: None,
                queue_name: None,
                channel: None,
                attributes: Attributes::default(),
            };
            vault.upsert_interaction(tenant, &meta).await.unwrap();
            let wav = crate::audio::synth_wav(100 + i, 8000, 440.0);
            let upload = ContentUpload {
                media_type: "audio/wav".into(),
                ..Default::default()
            };
            let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(wav))]);
            let key = ContentKey::Type(ContentType::CallRecording);
            vault
                .put_content(tenant, &meta.guid, &key, upload, body)
                .await
                .unwrap();
        }
        (dir, vault, tenant)
    }

    #[tokio::test]
    async fn a_dead_runners_job_is_taken_over() {
        let (_dir, vault, tenant) = vault_with_calls(3).await;
        let q = InteractionQuery {
            with_content: Some(ContentType::CallRecording),
            ..Default::default()
        };
        let job = vault
            .create_export_job(tenant, JobKind::Recordings, "u1", &q)
            .await
            .unwrap();
        // A runner claims it and dies at once: its lease is already over.
        let claimed = vault
            .store
            .claim_job(Utc::now(), Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, job.id);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            vault.run_next_job().await.unwrap(),
            "the lapsed lease lets another runner take it"
        );
        let done = vault.store.job(tenant, &job.id).await.unwrap().unwrap();
        assert_eq!(
            (
                done.status,
                done.attempts,
                done.files_total,
                done.files_completed
            ),
            (JobStatus::Complete, 2, 3, 3)
        );
        assert_eq!(
            vault.store.job_items(&job.id, -1, 10).await.unwrap().len(),
            3,
            "no duplicate items from the first try"
        );
        assert!(!vault.run_next_job().await.unwrap(), "nothing left to run");
    }

    #[tokio::test]
    async fn a_job_that_keeps_failing_ends_failed() {
        let (_dir, vault, tenant) = vault_with_calls(1).await;
        let mut job = vault
            .create_export_job(
                tenant,
                JobKind::Recordings,
                "u1",
                &InteractionQuery::default(),
            )
            .await
            .unwrap();
        job.id = uuid::Uuid::new_v4().to_string();
        job.params = "not json".into();
        vault.store.create_job(&job).await.unwrap();
        while vault.run_next_job().await.unwrap() {}
        let failed = vault.store.job(tenant, &job.id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.attempts, MAX_ATTEMPTS);
        assert!(failed.error.unwrap().contains("unreadable"));
    }
}
