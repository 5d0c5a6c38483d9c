//! The Export API's tables on PostgreSQL.

use async_trait::async_trait;
use callvault_core::{ExportJob, ExportStatus, ExportWatermark, ExternalStorage, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::rows::to_us;
use super::PgStore;
use crate::decode::{job, storage, to_json, JOB_COLUMNS};
use crate::error::{StoreError, StoreResult};
use crate::export::{Candidate, CandidateQuery, ExportStore, RunOutcome};

/// Statuses in which a job may still write to its storage.
const LIVE: &str = "('Scheduled', 'Running', 'Paused', 'Failed')";

#[async_trait]
impl ExportStore for PgStore {
    async fn create_storage(&self, s: &ExternalStorage) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO external_storages (id, tenant_id, name, target, credentials, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.to_string())
        .bind(s.tenant_id.0)
        .bind(&s.name)
        .bind(to_json(&s.target))
        .bind(&s.sealed_credentials)
        .bind(to_us(s.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn storage(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ExternalStorage>> {
        let row = sqlx::query("SELECT * FROM external_storages WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(storage).transpose()
    }

    async fn list_storages(&self, tenant: TenantId) -> StoreResult<Vec<ExternalStorage>> {
        let rows = sqlx::query(
            "SELECT * FROM external_storages WHERE tenant_id = $1 ORDER BY created_us, id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(storage).collect()
    }

    async fn delete_storage(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let sql =
            format!("SELECT COUNT(*) FROM export_jobs WHERE storage_id = $1 AND status IN {LIVE}");
        let live: i64 = sqlx::query_scalar(&sql)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if live > 0 {
            return Err(StoreError::Conflict(format!(
                "{live} export job(s) that can still run use this storage; cancel them first"
            )));
        }
        sqlx::query(
            "DELETE FROM export_ledger WHERE job_id IN (SELECT id FROM export_jobs \
             WHERE storage_id = $1 AND tenant_id = $2)",
        )
        .bind(id.to_string())
        .bind(tenant.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM export_jobs WHERE storage_id = $1 AND tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM external_storages WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone > 0)
    }

    async fn create_export(&self, j: &ExportJob) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO export_jobs (id, tenant_id, kind, status, start_us, end_us, filters, \
             storage_id, created_by, created_us, updated_us, next_run_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(j.id.to_string())
        .bind(j.tenant_id.0)
        .bind(j.kind.as_str())
        .bind(j.status.as_str())
        .bind(to_us(j.start))
        .bind(j.end.map(to_us))
        .bind(to_json(&j.filters))
        .bind(j.storage_id.to_string())
        .bind(&j.created_by)
        .bind(to_us(j.created_at))
        .bind(to_us(j.updated_at))
        .bind(j.next_run.map(to_us))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn export_job(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ExportJob>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM export_jobs WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job).transpose()
    }

    async fn list_exports(
        &self,
        tenant: TenantId,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<ExportJob>)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM export_jobs WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_one(&self.pool)
                .await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM export_jobs WHERE tenant_id = $1 \
             ORDER BY created_us DESC, id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(i64::from(limit))
            .bind(offset.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok((
            total.max(0) as u64,
            rows.iter().map(job).collect::<StoreResult<_>>()?,
        ))
    }

    async fn transition_export(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: ExportStatus,
        to: ExportStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let restart = to == ExportStatus::Scheduled;
        let n = sqlx::query(
            "UPDATE export_jobs SET status = $1, updated_us = $2, lease_until_us = NULL, \
             next_run_us = CASE WHEN $3 THEN $4 ELSE next_run_us END, \
             failures = CASE WHEN $5 THEN 0 ELSE failures END, \
             error = CASE WHEN $6 THEN NULL ELSE error END \
             WHERE tenant_id = $7 AND id = $8 AND status = $9",
        )
        .bind(to.as_str())
        .bind(to_us(now))
        .bind(restart)
        .bind(to_us(now))
        .bind(restart)
        .bind(restart)
        .bind(tenant.0)
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn claim_export(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<ExportJob>> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE export_jobs SET status = 'Running', lease_until_us = $1, last_run_us = $2, \
             updated_us = $3 WHERE id = (SELECT id FROM export_jobs \
             WHERE (status = 'Scheduled' AND next_run_us <= $4) \
             OR (status = 'Running' AND lease_until_us < $5) \
             ORDER BY next_run_us LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(to_us(lease_until))
            .bind(to_us(now))
            .bind(to_us(now))
            .bind(to_us(now))
            .bind(to_us(now))
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.as_ref().map(job).transpose()
    }

    async fn export_candidates(&self, q: &CandidateQuery<'_>) -> StoreResult<Vec<Candidate>> {
        let mut b = QueryBuilder::<Postgres>::new(
            "SELECT c.interaction_id, c.content_key, c.sha256, c.last_modified_us \
             FROM content_items c JOIN interactions i ON i.id = c.interaction_id \
             WHERE c.tenant_id = ",
        );
        b.push_bind(q.tenant.0);
        b.push(" AND i.start_us >= ").push_bind(to_us(q.start));
        if let Some(end) = q.end {
            b.push(" AND i.start_us <= ").push_bind(to_us(end));
        }
        if let Some(cut) = q.stored_before {
            b.push(" AND c.last_modified_us <= ").push_bind(to_us(cut));
        }
        if !q.content_types.is_empty() {
            b.push(" AND c.content_type IN (");
            let mut sep = b.separated(", ");
            for t in q.content_types {
                sep.push_bind(t.as_str());
            }
            b.push(")");
        }
        if !q.directions.is_empty() {
            b.push(" AND i.direction IN (");
            let mut sep = b.separated(", ");
            for d in q.directions {
                sep.push_bind(d.as_str());
            }
            b.push(")");
        }
        if let Some(w) = q.after {
            b.push(" AND (c.last_modified_us, c.interaction_id, c.content_key COLLATE \"C\") > (")
                .push_bind(w.stored_us)
                .push(", ")
                .push_bind(w.interaction_id)
                .push(", ")
                .push_bind(w.content_key.clone())
                .push(")");
        }
        b.push(
            " ORDER BY c.last_modified_us, c.interaction_id, c.content_key COLLATE \"C\" LIMIT ",
        )
        .push_bind(i64::from(q.limit));
        let rows = b.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Candidate {
                    interaction_id: r.try_get(0)?,
                    content_key: r.try_get(1)?,
                    sha256: r.try_get(2)?,
                    stored_us: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn exported(&self, job: Uuid, item: &Candidate) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM export_ledger WHERE job_id = $1 AND interaction_id = $2 \
             AND content_key = $3 AND sha256 = $4",
        )
        .bind(job.to_string())
        .bind(item.interaction_id)
        .bind(&item.content_key)
        .bind(&item.sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn record_export(
        &self,
        job: Uuid,
        item: &Candidate,
        bytes: u64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let watermark = ExportWatermark {
            stored_us: item.stored_us,
            interaction_id: item.interaction_id,
            content_key: item.content_key.clone(),
        };
        let n = sqlx::query(
            "UPDATE export_jobs SET watermark = $1, lease_until_us = $2, updated_us = $3, \
             items_exported = items_exported + 1, bytes_exported = bytes_exported + $4 \
             WHERE id = $5 AND status = 'Running'",
        )
        .bind(to_json(&watermark))
        .bind(to_us(lease_until))
        .bind(to_us(now))
        .bind(bytes.min(i64::MAX as u64) as i64)
        .bind(job.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO export_ledger (job_id, interaction_id, content_key, sha256, \
             exported_us) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(job.to_string())
        .bind(item.interaction_id)
        .bind(&item.content_key)
        .bind(&item.sha256)
        .bind(to_us(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_export_run(
        &self,
        job: Uuid,
        o: &RunOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE export_jobs SET status = $1, next_run_us = $2, failures = $3, error = $4, \
             lease_until_us = NULL, updated_us = $5 WHERE id = $6 AND status = 'Running'",
        )
        .bind(o.status.as_str())
        .bind(o.next_run.map(to_us))
        .bind(i64::from(o.failures))
        .bind(&o.error)
        .bind(to_us(now))
        .bind(job.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
