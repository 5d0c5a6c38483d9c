//! Background jobs and their items.

use callvault_core::{Interaction, Job, JobStatus, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Row};

use super::interactions::attach_content;
use super::rows::{self, now_us, storable, to_us, INTERACTION_COLUMNS};
use super::PgStore;
use crate::decode::{bulk_job, BULK_JOB_COLUMNS};
use crate::error::StoreResult;

impl PgStore {
    pub(super) async fn create_job_impl(&self, j: &Job) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO jobs (id, tenant_id, kind, owner, params, status, created_us, updated_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&j.id)
        .bind(j.tenant_id.0)
        .bind(&j.kind)
        .bind(&j.owner)
        .bind(&j.params)
        .bind(j.status.as_str())
        .bind(to_us(j.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn job_impl(&self, tenant: TenantId, id: &str) -> StoreResult<Option<Job>> {
        if !storable(id) {
            return Ok(None);
        }
        let sql = format!("SELECT {BULK_JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(bulk_job).transpose()
    }

    /// Newest first; the id breaks ties in byte order, as SQLite compares text.
    pub(super) async fn list_jobs_impl(
        &self,
        tenant: TenantId,
        kinds: &[&str],
        owner: &str,
        status: Option<JobStatus>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<Job>)> {
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let filter = |q: &mut QueryBuilder<'_, Postgres>| {
            q.push(" WHERE tenant_id = ").push_bind(tenant.0);
            q.push(" AND owner = ").push_bind(owner.to_string());
            q.push(" AND kind = ANY(")
                .push_bind(kinds.clone())
                .push(")");
            if let Some(s) = status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
        };
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM jobs");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut q = QueryBuilder::<Postgres>::new(format!("SELECT {BULK_JOB_COLUMNS} FROM jobs"));
        filter(&mut q);
        q.push(" ORDER BY created_us DESC, id COLLATE \"C\" LIMIT ")
            .push_bind(i64::from(limit));
        q.push(" OFFSET ")
            .push_bind(offset.min(i64::MAX as u64) as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok((
            total.max(0) as u64,
            rows.iter().map(bulk_job).collect::<StoreResult<_>>()?,
        ))
    }

    /// Leases the oldest runnable job: pending, or in progress with a lapsed lease (its
    /// runner died). `SKIP LOCKED` makes racing nodes pass over a job another is claiming
    /// right now and take the next one, so no job is claimed twice and none waits.
    pub(super) async fn claim_job_impl(
        &self,
        now: DateTime<Utc>,
        lease: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let sql = format!(
            "WITH next AS (SELECT id FROM jobs WHERE status = 'pending' \
             OR (status = 'in_progress' AND lease_until_us < $2) \
             ORDER BY created_us, id COLLATE \"C\" LIMIT 1 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs j SET status = 'in_progress', lease_until_us = $1, \
             attempts = j.attempts + 1, updated_us = $2 FROM next WHERE j.id = next.id \
             RETURNING {}",
            qualified(BULK_JOB_COLUMNS, "j")
        );
        let row = sqlx::query(&sql)
            .bind(to_us(lease))
            .bind(to_us(now))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(bulk_job).transpose()
    }

    pub(super) async fn reset_job_items_impl(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM job_items WHERE job_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE jobs SET files_completed = 0 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One insert from an array, whatever the number of items (no bind-parameter limit);
    /// item `i` gets sequence number `first_seq + i`.
    pub(super) async fn add_job_items_impl(
        &self,
        id: &str,
        first_seq: u64,
        ids: &[i64],
        files_total: u64,
        lease: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if !ids.is_empty() {
            sqlx::query(
                "INSERT INTO job_items (job_id, seq, interaction_id) \
                 SELECT $1, $2 + t.ord - 1, t.iid FROM unnest($3::bigint[]) WITH ORDINALITY \
                 AS t(iid, ord)",
            )
            .bind(id)
            .bind(first_seq as i64)
            .bind(ids)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE jobs SET files_completed = $1, files_total = $2, lease_until_us = $3, \
             updated_us = $4 WHERE id = $5",
        )
        .bind((first_seq + ids.len() as u64) as i64)
        .bind(files_total as i64)
        .bind(to_us(lease))
        .bind(now_us())
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
        sqlx::query(
            "UPDATE jobs SET status = $1, error = $2, valid_until_us = $3, lease_until_us = NULL, \
             updated_us = $4 WHERE id = $5",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(valid_until.map(to_us))
        .bind(now_us())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn job_items_impl(
        &self,
        id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT seq, interaction_id FROM job_items WHERE job_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("interaction_id")?)))
            .collect()
    }

    /// In id order, as SQLite's `IN` lookup yields them.
    pub(super) async fn interactions_by_ids_impl(
        &self,
        tenant: TenantId,
        ids: &[i64],
    ) -> StoreResult<Vec<Interaction>> {
        let sql = format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = $1 \
             AND i.id = ANY($2) ORDER BY i.id"
        );
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
        let mut items = rows
            .iter()
            .map(rows::interaction)
            .collect::<StoreResult<Vec<_>>>()?;
        attach_content(&mut conn, &mut items).await?;
        Ok(items)
    }

    /// One statement, so that a job finishing meanwhile is either expired with its items
    /// dropped or left alone, never marked expired with its items kept.
    pub(super) async fn expire_jobs_impl(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "WITH expired AS (UPDATE jobs SET status = 'expired' WHERE status = 'complete' \
             AND valid_until_us < $1 RETURNING id), \
             gone AS (DELETE FROM job_items WHERE job_id IN (SELECT id FROM expired)) \
             SELECT COUNT(*) FROM expired",
        )
        .bind(to_us(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }
}

/// A comma-separated column list with every column prefixed by `alias.`.
fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
