//! The Export API's tables: external storage targets, export jobs and the ledger of
//! exported items.

use async_trait::async_trait;
use callvault_core::{ExportJob, ExportStatus, ExportWatermark, ExternalStorage, TenantId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decode::{export_job, storage, to_json, EXPORT_COLUMNS, STORAGE_COLUMNS};
use super::outbox::emit_in;
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::export::{Candidate, CandidateQuery, ExportStore, RunOutcome};
use crate::sql::{Lock, Query};
use callvault_core::webhook::{Event, EventType};

/// Statuses in which a job may still write to its storage.
const LIVE: &str = "('Scheduled', 'Running', 'Paused', 'Failed')";

#[async_trait]
impl ExportStore for SqlStore {
    async fn create_storage(&self, s: &ExternalStorage) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO external_storages (id, tenant_id, name, target, credentials, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id)
        .bind(s.tenant_id.0)
        .bind(&s.name)
        .bind(to_json(&s.target))
        .bind(&s.sealed_credentials)
        .bind(s.created_at);
        self.execute(q).await.map(drop)
    }

    async fn storage(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ExternalStorage>> {
        let q = Query::new(format!(
            "SELECT {STORAGE_COLUMNS} FROM external_storages WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id);
        self.fetch_optional(q).await?.map(storage).transpose()
    }

    async fn list_storages(&self, tenant: TenantId) -> StoreResult<Vec<ExternalStorage>> {
        let q = Query::new(format!(
            "SELECT {STORAGE_COLUMNS} FROM external_storages WHERE tenant_id = $1 \
             ORDER BY created_us, id{}",
            self.dialect.bytewise()
        ))
        .bind(tenant.0);
        self.fetch(q).await?.into_iter().map(storage).collect()
    }

    /// Refused while a job that can still run writes to the storage; otherwise the
    /// storage goes with its finished jobs and their ledgers.
    async fn delete_storage(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let held = Query::new(format!(
            "SELECT 1 FROM external_storages WHERE tenant_id = $1 AND id = $2{}",
            self.dialect.lock(Lock::Update)
        ));
        tx.fetch(held.bind(tenant.0).bind(id)).await?;
        let live = Query::new(format!(
            "SELECT COUNT(*) FROM export_jobs WHERE storage_id = $1 AND status IN {LIVE}"
        ));
        let live = tx.scalar_i64(live.bind(id)).await?;
        if live > 0 {
            return Err(StoreError::Conflict(format!(
                "{live} export job(s) that can still run use this storage; cancel them first"
            )));
        }
        let mut gone = 0;
        for sql in [
            "DELETE FROM export_ledger WHERE job_id IN (SELECT id FROM export_jobs \
             WHERE storage_id = $1 AND tenant_id = $2)",
            "DELETE FROM export_jobs WHERE storage_id = $1 AND tenant_id = $2",
            "DELETE FROM external_storages WHERE id = $1 AND tenant_id = $2",
        ] {
            gone = tx.execute(Query::new(sql).bind(id).bind(tenant.0)).await?;
        }
        tx.commit().await?;
        Ok(gone > 0)
    }

    async fn create_export(&self, j: &ExportJob) -> StoreResult<()> {
        let q = Query::new(
            "INSERT INTO export_jobs (id, tenant_id, kind, status, start_us, end_us, filters, \
             storage_id, created_by, created_us, updated_us, next_run_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(j.id)
        .bind(j.tenant_id.0)
        .bind(j.kind.as_str())
        .bind(j.status.as_str())
        .bind(j.start)
        .bind(j.end)
        .bind(to_json(&j.filters))
        .bind(j.storage_id)
        .bind(&j.created_by)
        .bind(j.created_at)
        .bind(j.updated_at)
        .bind(j.next_run);
        self.execute(q).await.map(drop)
    }

    async fn export_job(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ExportJob>> {
        let q = Query::new(format!(
            "SELECT {EXPORT_COLUMNS} FROM export_jobs WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id);
        self.fetch_optional(q).await?.map(export_job).transpose()
    }

    async fn list_exports(
        &self,
        tenant: TenantId,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<ExportJob>)> {
        let mut conn = self.read().await?;
        let total = conn
            .scalar_i64(
                Query::new("SELECT COUNT(*) FROM export_jobs WHERE tenant_id = $1").bind(tenant.0),
            )
            .await?;
        let q = Query::new(format!(
            "SELECT {EXPORT_COLUMNS} FROM export_jobs WHERE tenant_id = $1 \
             ORDER BY created_us DESC, id{} LIMIT $2 OFFSET $3",
            self.dialect.bytewise()
        ))
        .bind(tenant.0)
        .bind(limit)
        .bind(offset);
        let jobs = conn
            .fetch(q)
            .await?
            .into_iter()
            .map(export_job)
            .collect::<StoreResult<_>>()?;
        Ok((total.max(0) as u64, jobs))
    }

    async fn transition_export(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: ExportStatus,
        to: ExportStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let restart = to == ExportStatus::Scheduled;
        let q = Query::new(
            "UPDATE export_jobs SET status = $1, updated_us = $2, lease_until_us = NULL, \
             next_run_us = CASE WHEN $3 THEN $2 ELSE next_run_us END, \
             failures = CASE WHEN $3 THEN 0 ELSE failures END, \
             error = CASE WHEN $3 THEN NULL ELSE error END \
             WHERE tenant_id = $4 AND id = $5 AND status = $6",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(restart)
        .bind(tenant.0)
        .bind(id)
        .bind(from.as_str());
        Ok(self.execute(q).await? > 0)
    }

    async fn claim_export(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<ExportJob>> {
        let next = Query::new(format!(
            "SELECT id FROM export_jobs WHERE (status = 'Scheduled' AND next_run_us <= $1) \
             OR (status = 'Running' AND lease_until_us < $1) \
             ORDER BY next_run_us, id{} LIMIT 1{}",
            self.dialect.bytewise(),
            self.dialect.lock(Lock::UpdateSkipLocked)
        ))
        .bind(now);
        let take = |id: String| {
            Query::new(format!(
                "UPDATE export_jobs SET status = 'Running', lease_until_us = $1, \
                 last_run_us = $2, updated_us = $2 WHERE id = $3 RETURNING {EXPORT_COLUMNS}"
            ))
            .bind(lease_until)
            .bind(now)
            .bind(id)
        };
        self.claim(next, take, export_job).await
    }

    async fn export_candidates(&self, q: &CandidateQuery<'_>) -> StoreResult<Vec<Candidate>> {
        let bytewise = self.dialect.bytewise();
        let mut b = Query::new(
            "SELECT c.interaction_id, c.content_key, c.sha256, c.last_modified_us \
             FROM content_items c JOIN interactions i ON i.id = c.interaction_id \
             WHERE c.tenant_id = ",
        );
        b.push_bind(q.tenant.0);
        b.push(" AND i.start_us >= ").push_bind(q.start);
        if let Some(end) = q.end {
            b.push(" AND i.start_us <= ").push_bind(end);
        }
        if let Some(cut) = q.stored_before {
            b.push(" AND c.last_modified_us <= ").push_bind(cut);
        }
        if !q.content_types.is_empty() {
            b.push(" AND c.content_type IN ")
                .push_tuple(q.content_types.iter().map(|t| t.as_str()));
        }
        if !q.directions.is_empty() {
            b.push(" AND i.direction IN ")
                .push_tuple(q.directions.iter().map(|d| d.as_str()));
        }
        if let Some(w) = q.after {
            b.push(&format!(
                " AND (c.last_modified_us, c.interaction_id, c.content_key{bytewise}) > ("
            ))
            .push_bind(w.stored_us)
            .push(", ")
            .push_bind(w.interaction_id)
            .push(", ")
            .push_bind(w.content_key.as_str())
            .push(")");
        }
        b.push(&format!(
            " ORDER BY c.last_modified_us, c.interaction_id, c.content_key{bytewise} LIMIT "
        ))
        .push_bind(q.limit);
        self.fetch(b)
            .await?
            .into_iter()
            .map(|r| {
                let mut c = r.cols();
                Ok(Candidate {
                    interaction_id: c.i64()?,
                    content_key: c.text()?,
                    sha256: c.text()?,
                    stored_us: c.i64()?,
                })
            })
            .collect()
    }

    async fn exported(&self, job: Uuid, item: &Candidate) -> StoreResult<bool> {
        let q = Query::new(
            "SELECT COUNT(*) FROM export_ledger WHERE job_id = $1 AND interaction_id = $2 \
             AND content_key = $3 AND sha256 = $4",
        )
        .bind(job)
        .bind(item.interaction_id)
        .bind(&item.content_key)
        .bind(&item.sha256);
        Ok(self.read().await?.scalar_i64(q).await? > 0)
    }

    async fn record_export(
        &self,
        job: Uuid,
        item: &Candidate,
        bytes: u64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let watermark = ExportWatermark {
            stored_us: item.stored_us,
            interaction_id: item.interaction_id,
            content_key: item.content_key.clone(),
        };
        let mut tx = self.write().await?;
        // The ledger row first: only a new one is counted, so two runners that both sent
        // an item (one whose lease lapsed while it was still writing) count it once.
        let new = tx
            .execute(
                Query::new(
                    "INSERT INTO export_ledger (job_id, interaction_id, content_key, sha256, \
                     exported_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(job)
                .bind(item.interaction_id)
                .bind(&item.content_key)
                .bind(&item.sha256)
                .bind(now),
            )
            .await?;
        let counted = i64::from(new > 0);
        let n = tx
            .execute(
                Query::new(
                    "UPDATE export_jobs SET watermark = $1, lease_until_us = $2, updated_us = $3, \
                     items_exported = items_exported + $4, \
                     bytes_exported = bytes_exported + $5 \
                     WHERE id = $6 AND status = 'Running'",
                )
                .bind(to_json(&watermark))
                .bind(lease_until)
                .bind(now)
                .bind(counted)
                .bind(bytes.saturating_mul(counted as u64))
                .bind(job),
            )
            .await?;
        if n == 0 {
            // Dropped uncommitted: a stopped job records nothing.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_export_run(
        &self,
        job: Uuid,
        o: &RunOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let q = Query::new(
            "UPDATE export_jobs SET status = $1, next_run_us = $2, failures = $3, error = $4, \
             lease_until_us = NULL, updated_us = $5 WHERE id = $6 AND status = 'Running' \
             RETURNING tenant_id, items_exported, bytes_exported",
        )
        .bind(o.status.as_str())
        .bind(o.next_run)
        .bind(o.failures)
        .bind(&o.error)
        .bind(now)
        .bind(job);
        let mut tx = self.write().await?;
        let Some(row) = tx.fetch_optional(q).await? else {
            return Ok(false);
        };
        let event_type = match o.status {
            ExportStatus::Completed => Some(EventType::ExportCompleted),
            ExportStatus::Failed => Some(EventType::ExportFailed),
            _ => None,
        };
        if let Some(event_type) = event_type {
            // The columns are read before the next await: a row's reader is not `Send`.
            let (tenant, data) = {
                let mut c = row.cols();
                let tenant = TenantId(c.i64()?);
                let data = serde_json::json!({
                    "jobId": job, "status": o.status.as_str(), "itemsExported": c.i64()?,
                    "bytesExported": c.i64()?, "error": o.error,
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
        tx.commit().await?;
        Ok(true)
    }
}
