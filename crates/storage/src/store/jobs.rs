//! Bulk-export jobs of the Call Recording API and their frozen item lists.

use async_trait::async_trait;
use callvault_core::{Job, JobKind, JobStatus, TenantId};
use chrono::{DateTime, Utc};

use super::decode::{bulk_job, BULK_JOB_COLUMNS};
use super::outbox::emit_in;
use super::SqlStore;
use crate::error::StoreResult;
use crate::meta::JobStore;
use crate::sql::{Lock, Param, Query};
use callvault_core::webhook::{Event, EventType};

/// Items per insert: three values each, well under SQLite's 32,766 bound values.
const ITEMS_PER_INSERT: usize = 1000;

#[async_trait]
impl JobStore for SqlStore {
    async fn create_job(&self, j: &Job) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO jobs (id, tenant_id, kind, owner, params, status, created_us, updated_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&j.id)
        .bind(j.tenant_id.0)
        .bind(j.kind.as_str())
        .bind(&j.owner)
        .bind(&j.params)
        .bind(j.status.as_str())
        .bind(j.created_at);
        self.execute(q).await.map(drop)
    }

    async fn job(&self, tenant: TenantId, id: &str) -> StoreResult<Option<Job>> {
        let q = Query::new(format!(
            "SELECT {BULK_JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id);
        self.fetch_optional(q).await?.map(bulk_job).transpose()
    }

    /// Newest first; the id breaks ties bytewise.
    async fn list_jobs(
        &self,
        tenant: TenantId,
        kinds: &[JobKind],
        owner: &str,
        status: Option<JobStatus>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Job>)> {
        let kinds: Vec<String> = kinds.iter().map(|k| k.as_str().to_string()).collect();
        let filter = |q: &mut Query| {
            q.push(" WHERE tenant_id = ").push_bind(tenant.0);
            q.push(" AND owner = ").push_bind(owner).push(" AND ");
            self.dialect.push_in(q, "kind", Param::Texts(kinds.clone()));
            if let Some(s) = status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
        };
        let mut count = Query::new("SELECT COUNT(*) FROM jobs");
        filter(&mut count);
        let mut q = Query::new(format!("SELECT {BULK_JOB_COLUMNS} FROM jobs"));
        filter(&mut q);
        q.push(&format!(
            " ORDER BY created_us DESC, id{} LIMIT ",
            self.dialect.bytewise()
        ))
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
        let mut conn = self.read().await?;
        let total = conn.scalar_i64(count).await?.max(0) as u64;
        let jobs = conn
            .fetch(q)
            .await?
            .into_iter()
            .map(bulk_job)
            .collect::<StoreResult<_>>()?;
        Ok((total, jobs))
    }

    /// Leases the oldest runnable job: pending, or in progress with a lapsed lease (its
    /// runner died). On PostgreSQL `SKIP LOCKED` makes racing nodes pass over a job
    /// another is claiming right now and take the next one, so no job is claimed twice
    /// and none waits; SQLite's one writer claims one at a time.
    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let next = Query::new(format!(
            "SELECT id FROM jobs WHERE status = 'pending' \
             OR (status = 'in_progress' AND lease_until_us < $1) \
             ORDER BY created_us, id{} LIMIT 1{}",
            self.dialect.bytewise(),
            self.dialect.lock(Lock::UpdateSkipLocked)
        ))
        .bind(now);
        let take = |id: String| {
            Query::new(format!(
                "UPDATE jobs SET status = 'in_progress', lease_until_us = $1, \
                 attempts = attempts + 1, updated_us = $2 WHERE id = $3 \
                 RETURNING {BULK_JOB_COLUMNS}"
            ))
            .bind(lease_until)
            .bind(now)
            .bind(id)
        };
        self.claim(next, take, bulk_job).await
    }

    async fn reset_job_items(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        tx.execute(Query::new("DELETE FROM job_items WHERE job_id = $1").bind(id))
            .await?;
        tx.execute(Query::new("UPDATE jobs SET files_completed = 0 WHERE id = $1").bind(id))
            .await?;
        tx.commit().await
    }

    /// Item `i` gets sequence number `first_seq + i`.
    async fn add_job_items(
        &self,
        id: &str,
        first_seq: u64,
        interaction_ids: &[i64],
        files_total: u64,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for (n, chunk) in interaction_ids.chunks(ITEMS_PER_INSERT).enumerate() {
            // `$1` is the job id; each row adds its sequence number and interaction.
            let mut q =
                Query::new("INSERT INTO job_items (job_id, seq, interaction_id) VALUES ").bind(id);
            for (i, iid) in chunk.iter().enumerate() {
                let seq = first_seq + (n * ITEMS_PER_INSERT + i) as u64;
                q.push(if i == 0 { "($1, " } else { ", ($1, " })
                    .push_bind(seq)
                    .push(", ")
                    .push_bind(*iid)
                    .push(")");
            }
            tx.execute(q).await?;
        }
        tx.execute(
            Query::new(
                "UPDATE jobs SET files_completed = $1, files_total = $2, lease_until_us = $3, \
                 updated_us = $4 WHERE id = $5",
            )
            .bind(first_seq + interaction_ids.len() as u64)
            .bind(files_total)
            .bind(lease_until)
            .bind(Utc::now())
            .bind(id),
        )
        .await?;
        tx.commit().await
    }

    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        error: Option<&str>,
        valid_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let now = Utc::now();
        let q = Query::new(
            "UPDATE jobs SET status = $1, error = $2, valid_until_us = $3, lease_until_us = NULL, \
             updated_us = $4 WHERE id = $5 RETURNING tenant_id, kind, files_total",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(valid_until)
        .bind(now)
        .bind(id);
        let mut tx = self.write().await?;
        let row = tx.fetch_optional(q).await?;
        let event_type = match status {
            JobStatus::Complete => Some(EventType::BulkDownloadCompleted),
            JobStatus::Failed => Some(EventType::BulkDownloadFailed),
            _ => None,
        };
        if let (Some(row), Some(event_type)) = (row, event_type) {
            // The columns are read before the next await: a row's reader is not `Send`.
            let (tenant, data) = {
                let mut c = row.cols();
                let tenant = TenantId(c.i64()?);
                let kind = c.str()?;
                let data = serde_json::json!({
                    "jobId": id, "kind": kind, "status": status.as_str(), "filesTotal": c.i64()?,
                    "error": error,
                    "validUntil": valid_until.map(|v| v.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                });
                (tenant, data)
            };
            let event = Event {
                tenant_id: tenant,
                event_type,
                subject: None,
                data: data.to_string(),
                at: now,
            };
            emit_in(self.dialect, tx.as_mut(), &event).await?;
        }
        tx.commit().await
    }

    async fn job_items(
        &self,
        id: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, i64)>> {
        let q = Query::new(
            "SELECT seq, interaction_id FROM job_items WHERE job_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(id)
        .bind(after_seq)
        .bind(limit);
        self.fetch(q)
            .await?
            .into_iter()
            .map(|r| {
                let mut c = r.cols();
                Ok((c.i64()?, c.i64()?))
            })
            .collect()
    }

    /// Takes the expiring jobs' rows first, so that each is either expired with its items
    /// dropped or left alone, never marked expired with its items kept.
    async fn expire_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let due = Query::new(format!(
            "SELECT id FROM jobs WHERE status = 'complete' AND valid_until_us < $1{}",
            self.dialect.lock(Lock::Update)
        ))
        .bind(now);
        let ids = tx
            .fetch(due)
            .await?
            .into_iter()
            .map(|r| r.cols().text())
            .collect::<StoreResult<Vec<_>>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        for (sql, column) in [
            ("DELETE FROM job_items WHERE ", "job_id"),
            ("UPDATE jobs SET status = 'expired' WHERE ", "id"),
        ] {
            let mut q = Query::new(sql);
            self.dialect
                .push_in(&mut q, column, Param::Texts(ids.clone()));
            tx.execute(q).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}
