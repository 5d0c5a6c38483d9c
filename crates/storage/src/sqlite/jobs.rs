//! Background jobs and their items.

use callvault_core::{Interaction, Job, JobStatus, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::interactions::attach_content;
use super::rows::{self, json, to_us, INTERACTION_COLUMNS};
use super::SqliteStore;
use crate::decode::{bulk_job, BULK_JOB_COLUMNS};
use crate::error::StoreResult;

impl SqliteStore {
    pub(super) async fn create_job_impl(&self, j: &Job) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO jobs (id, tenant_id, kind, owner, params, status, created_us, updated_us) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&j.id)
        .bind(j.tenant_id.0)
        .bind(&j.kind)
        .bind(&j.owner)
        .bind(&j.params)
        .bind(j.status.as_str())
        .bind(to_us(j.created_at))
        .bind(to_us(j.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn job_impl(&self, tenant: TenantId, id: &str) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {BULK_JOB_COLUMNS} FROM jobs WHERE tenant_id = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(bulk_job).transpose()
    }

    pub(super) async fn list_jobs_impl(
        &self,
        tenant: TenantId,
        kinds: &[&str],
        owner: &str,
        status: Option<JobStatus>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Job>)> {
        let filter = |q: &mut QueryBuilder<'_, Sqlite>| {
            q.push(" WHERE tenant_id = ").push_bind(tenant.0);
            q.push(" AND owner = ").push_bind(owner.to_string());
            q.push(" AND kind IN (SELECT value FROM json_each(")
                .push_bind(json(&kinds))
                .push("))");
            if let Some(s) = status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
        };
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM jobs");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.reader).await?;
        let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {BULK_JOB_COLUMNS} FROM jobs"));
        filter(&mut q);
        q.push(" ORDER BY created_us DESC, id LIMIT ")
            .push_bind(i64::from(limit));
        q.push(" OFFSET ")
            .push_bind(offset.min(i64::MAX as u64) as i64);
        let rows = q.build().fetch_all(&self.reader).await?;
        Ok((
            total.max(0) as u64,
            rows.iter().map(bulk_job).collect::<StoreResult<_>>()?,
        ))
    }

    pub(super) async fn claim_job_impl(
        &self,
        now: DateTime<Utc>,
        lease: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE jobs SET status = 'in_progress', lease_until_us = ?, attempts = attempts + 1, \
             updated_us = ? WHERE id = (SELECT id FROM jobs WHERE status = 'pending' \
             OR (status = 'in_progress' AND lease_until_us < ?) ORDER BY created_us LIMIT 1) \
             RETURNING {BULK_JOB_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(to_us(lease))
            .bind(to_us(now))
            .bind(to_us(now))
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        row.as_ref().map(bulk_job).transpose()
    }

    pub(super) async fn reset_job_items_impl(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM job_items WHERE job_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE jobs SET files_completed = 0 WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn add_job_items_impl(
        &self,
        id: &str,
        first_seq: u64,
        ids: &[i64],
        files_total: u64,
        lease: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        if !ids.is_empty() {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO job_items (job_id, seq, interaction_id) ");
            q.push_values(ids.iter().enumerate(), |mut b, (i, iid)| {
                b.push_bind(id.to_string())
                    .push_bind((first_seq + i as u64) as i64)
                    .push_bind(*iid);
            });
            q.build().execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE jobs SET files_completed = ?, files_total = ?, lease_until_us = ?, updated_us = ? \
             WHERE id = ?",
        )
        .bind((first_seq + ids.len() as u64) as i64)
        .bind(files_total as i64)
        .bind(to_us(lease))
        .bind(to_us(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn finish_job_impl(
        &self,
        id: &str,
        status: JobStatus,
        error: Option<&str>,
        valid_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE jobs SET status = ?, error = ?, valid_until_us = ?, lease_until_us = NULL, \
             updated_us = ? WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(valid_until.map(to_us))
        .bind(to_us(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn job_items_impl(
        &self,
        id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT seq, interaction_id FROM job_items WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("interaction_id")?)))
            .collect()
    }

    pub(super) async fn interactions_by_ids_impl(
        &self,
        tenant: TenantId,
        ids: &[i64],
    ) -> StoreResult<Vec<Interaction>> {
        let sql = format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = ? \
             AND i.id IN (SELECT value FROM json_each(?))"
        );
        let mut conn = self.reader.acquire().await?;
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(json(&ids))
            .fetch_all(&mut *conn)
            .await?;
        let mut items = rows
            .iter()
            .map(rows::interaction)
            .collect::<StoreResult<Vec<_>>>()?;
        attach_content(&mut conn, &mut items).await?;
        Ok(items)
    }

    pub(super) async fn expire_jobs_impl(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM job_items WHERE job_id IN (SELECT id FROM jobs WHERE status = 'complete' \
             AND valid_until_us < ?)",
        )
        .bind(to_us(now))
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(
            "UPDATE jobs SET status = 'expired' WHERE status = 'complete' AND valid_until_us < ?",
        )
        .bind(to_us(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
