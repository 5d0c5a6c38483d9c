//! Content item writes and deletions, each in one transaction with the interaction's
//! content count so that search never sees a half-applied change. Each first locks the
//! interaction's row, so concurrent writers on other nodes take turns and the count
//! stays exact.

use callvault_core::{ContentItem, Guid, TenantId};
use sqlx::PgConnection;

use super::interactions::{locked_interaction_id, RowLock};
use super::rows::{self, now_us, to_us, CONTENT_COLUMNS};
use super::PgStore;
use crate::error::StoreResult;
use crate::meta::{PutContentOutcome, Removed};

impl PgStore {
    pub(super) async fn put_content_impl(
        &self,
        tenant: TenantId,
        guid: &Guid,
        item: &ContentItem,
    ) -> StoreResult<Option<PutContentOutcome>> {
        let mut tx = self.pool.begin().await?;
        let Some(iid) = locked_interaction_id(&mut tx, tenant, guid, RowLock::Content).await?
        else {
            return Ok(None);
        };
        let old: Option<String> = sqlx::query_scalar(
            "SELECT blob_key FROM content_items WHERE interaction_id = $1 AND content_key = $2",
        )
        .bind(iid)
        .bind(&item.key)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO content_items (interaction_id, tenant_id, content_key, content_type, \
             media_type, length, sha256, blob_key, last_modified_us, duration_ms, version, \
             owning_agent, owning_plan) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (interaction_id, content_key) DO UPDATE SET \
             content_type = excluded.content_type, media_type = excluded.media_type, \
             length = excluded.length, sha256 = excluded.sha256, blob_key = excluded.blob_key, \
             last_modified_us = excluded.last_modified_us, duration_ms = excluded.duration_ms, \
             version = excluded.version, owning_agent = excluded.owning_agent, \
             owning_plan = excluded.owning_plan",
        )
        .bind(iid)
        .bind(tenant.0)
        .bind(&item.key)
        .bind(item.content_type.as_str())
        .bind(&item.media_type)
        .bind(item.length as i64)
        .bind(&item.sha256)
        .bind(&item.blob_key)
        .bind(to_us(item.last_modified))
        .bind(item.duration_ms.map(|d| d as i64))
        .bind(item.version.map(i64::from))
        .bind(&item.owning_agent)
        .bind(&item.owning_interaction_plan)
        .execute(&mut *tx)
        .await?;
        let delta: i64 = if old.is_none() { 1 } else { 0 };
        sqlx::query(
            "UPDATE interactions SET content_count = content_count + $1, updated_us = $2 \
             WHERE id = $3",
        )
        .bind(delta)
        .bind(now_us())
        .bind(iid)
        .execute(&mut *tx)
        .await?;
        let released_blob = match old {
            Some(old_key) if old_key != item.blob_key => {
                if referenced(&mut tx, &old_key).await? {
                    None
                } else {
                    Some(old_key)
                }
            }
            _ => None,
        };
        tx.commit().await?;
        Ok(Some(PutContentOutcome {
            created: delta == 1,
            released_blob,
        }))
    }

    pub(super) async fn delete_content_impl(
        &self,
        tenant: TenantId,
        guid: &Guid,
        key: &str,
    ) -> StoreResult<Option<Removed>> {
        if !rows::storable(key) {
            return Ok(None);
        }
        let mut tx = self.pool.begin().await?;
        let Some(iid) = locked_interaction_id(&mut tx, tenant, guid, RowLock::Content).await?
        else {
            return Ok(None);
        };
        let sql = format!(
            "DELETE FROM content_items WHERE interaction_id = $1 AND content_key = $2 \
             RETURNING {CONTENT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(iid)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (_, item) = rows::content(&row)?;
        sqlx::query(
            "UPDATE interactions SET content_count = content_count - 1, updated_us = $1 \
             WHERE id = $2",
        )
        .bind(now_us())
        .bind(iid)
        .execute(&mut *tx)
        .await?;
        let removed = released(&mut tx, vec![item]).await?;
        tx.commit().await?;
        Ok(Some(removed))
    }

    pub(super) async fn delete_interaction_impl(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Option<Removed>> {
        let mut tx = self.pool.begin().await?;
        let Some(iid) = locked_interaction_id(&mut tx, tenant, guid, RowLock::Delete).await? else {
            return Ok(None);
        };
        // RETURNING has no order of its own; report the items in stored order.
        let sql = format!(
            "WITH gone AS (DELETE FROM content_items WHERE interaction_id = $1 \
             RETURNING seq, {CONTENT_COLUMNS}) \
             SELECT {CONTENT_COLUMNS} FROM gone ORDER BY seq"
        );
        let rows = sqlx::query(&sql).bind(iid).fetch_all(&mut *tx).await?;
        let items = rows
            .iter()
            .map(|r| rows::content(r).map(|(_, c)| c))
            .collect::<StoreResult<Vec<_>>>()?;
        sqlx::query("DELETE FROM interactions WHERE id = $1")
            .bind(iid)
            .execute(&mut *tx)
            .await?;
        let removed = released(&mut tx, items).await?;
        tx.commit().await?;
        Ok(Some(removed))
    }

    pub(super) async fn blob_referenced_impl(&self, blob_key: &str) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        referenced(&mut conn, blob_key).await
    }
}

async fn referenced(conn: &mut PgConnection, blob_key: &str) -> StoreResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM content_items WHERE blob_key = $1)")
            .bind(blob_key)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// The removed items and those of their blobs that nothing references any more.
async fn released(conn: &mut PgConnection, items: Vec<ContentItem>) -> StoreResult<Removed> {
    let mut released_blobs = Vec::new();
    for item in &items {
        if !released_blobs.contains(&item.blob_key) && !referenced(conn, &item.blob_key).await? {
            released_blobs.push(item.blob_key.clone());
        }
    }
    Ok(Removed {
        items,
        released_blobs,
    })
}
