//! Content item writes and deletions, each in one transaction with the interaction's
//! content count so that search never sees a half-applied change. Each first holds the
//! interaction's row, so concurrent writers on other nodes take turns and the count
//! stays exact.

use async_trait::async_trait;
use callvault_core::{
    AuditEvent, ContentItem, ContentType, DeleteCause, Guid, Interaction, InteractionMeta, Refusal,
    TenantId,
};
use chrono::Utc;

use super::audit::append;
use super::interactions::{load_where, Lookup};
use super::outbox::emit_in;
use super::text::index_in;
use super::transcription::{queue_in, ready_in};
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::locks::KeyGuard;
use crate::meta::{ContentStore, Expiring, PutContentOutcome, Removed};
use crate::sql::{Conn, Lock, Query};
use crate::transcription::Derived;
use callvault_core::webhook::{Event, EventType};

impl SqlStore {
    /// The interaction's row id for a GUID, held for the rest of the transaction: for a
    /// content change (`NoKeyUpdate`, which does not block foreign-key checks) or for its
    /// deletion (`Update`).
    pub(super) async fn held_interaction(
        &self,
        conn: &mut dyn Conn,
        tenant: TenantId,
        guid: &Guid,
        lock: Lock,
    ) -> StoreResult<Option<i64>> {
        let q = Query::new(format!(
            "SELECT id FROM interactions WHERE tenant_id = $1 AND guid = $2{}",
            self.dialect.lock(lock)
        ))
        .bind(tenant.0)
        .bind(guid.as_str());
        conn.fetch_optional(q)
            .await?
            .map(|r| r.cols().i64())
            .transpose()
    }

    /// The held interaction with its content, for a governance decision.
    pub(super) async fn loaded(
        &self,
        conn: &mut dyn Conn,
        tenant: TenantId,
        guid: &Guid,
    ) -> StoreResult<Interaction> {
        load_where(self.dialect, conn, tenant, Lookup::Guid(guid))
            .await?
            .ok_or_else(|| StoreError::backend("interaction vanished inside its transaction"))
    }
}

impl SqlStore {
    async fn put_content_in(
        &self,
        tx: &mut dyn Conn,
        tenant: TenantId,
        guid: &Guid,
        item: &ContentItem,
        derived: &Derived,
    ) -> StoreResult<Option<PutContentOutcome>> {
        let Some(iid) = self
            .held_interaction(tx, tenant, guid, Lock::NoKeyUpdate)
            .await?
        else {
            return Ok(None);
        };
        let old = tx
            .fetch_optional(
                Query::new(
                    "SELECT blob_key FROM content_items WHERE interaction_id = $1 \
                     AND content_key = $2",
                )
                .bind(iid)
                .bind(&item.key),
            )
            .await?
            .map(|r| r.cols().text())
            .transpose()?;
        tx.execute(
            Query::new(
                "INSERT INTO content_items (interaction_id, tenant_id, content_key, \
                 content_type, media_type, length, sha256, blob_key, last_modified_us, \
                 duration_ms, version, owning_agent, owning_plan) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (interaction_id, content_key) DO UPDATE SET \
                 content_type = excluded.content_type, media_type = excluded.media_type, \
                 length = excluded.length, sha256 = excluded.sha256, \
                 blob_key = excluded.blob_key, last_modified_us = excluded.last_modified_us, \
                 duration_ms = excluded.duration_ms, version = excluded.version, \
                 owning_agent = excluded.owning_agent, owning_plan = excluded.owning_plan",
            )
            .bind(iid)
            .bind(tenant.0)
            .bind(&item.key)
            .bind(item.content_type.as_str())
            .bind(&item.media_type)
            .bind(item.length)
            .bind(&item.sha256)
            .bind(&item.blob_key)
            .bind(item.last_modified)
            .bind(item.duration_ms)
            .bind(item.version)
            .bind(&item.owning_agent)
            .bind(&item.owning_interaction_plan),
        )
        .await?;
        let created = old.is_none();
        let now = Utc::now();
        if !created {
            tx.execute(
                Query::new(
                    "DELETE FROM transcript_segments WHERE interaction_id = $1 \
                     AND content_key = $2",
                )
                .bind(iid)
                .bind(&item.key),
            )
            .await?;
        }
        index_in(tx, tenant, iid, &item.key, &derived.text).await?;
        let event = |event_type, data: serde_json::Value| Event {
            tenant_id: tenant,
            event_type,
            subject: Some(guid.to_string()),
            data: data.to_string(),
            at: now,
        };
        let about = serde_json::json!({
            "interactionId": guid.as_str(), "contentKey": item.key,
            "contentType": item.content_type.as_str(), "mediaType": item.media_type,
            "length": item.length, "sha256": item.sha256, "replaced": !created,
        });
        emit_in(self.dialect, tx, &event(EventType::ContentCreated, about)).await?;
        if item.content_type == ContentType::Transcript {
            let ready = serde_json::json!({"interactionId": guid.as_str(), "contentKey": item.key});
            emit_in(
                self.dialect,
                tx,
                &event(EventType::TranscriptionReady, ready),
            )
            .await?;
        }
        if item.content_type == ContentType::Transcript {
            ready_in(tx, iid, now).await?;
        } else if derived.transcribe {
            queue_in(tx, tenant, iid, &item.key, now).await?;
        }
        tx.execute(
            Query::new(
                "UPDATE interactions SET content_count = content_count + $1, updated_us = $2 \
                 WHERE id = $3",
            )
            .bind(i64::from(created))
            .bind(now)
            .bind(iid),
        )
        .await?;
        let released_blob = match old {
            Some(old_key) if old_key != item.blob_key => {
                if referenced(tx, &old_key).await? {
                    None
                } else {
                    Some(old_key)
                }
            }
            _ => None,
        };
        Ok(Some(PutContentOutcome {
            created,
            released_blob,
        }))
    }
}

#[async_trait]
impl ContentStore for SqlStore {
    async fn put_content_derived(
        &self,
        tenant: TenantId,
        guid: &Guid,
        item: &ContentItem,
        derived: &Derived,
    ) -> StoreResult<Option<PutContentOutcome>> {
        let mut tx = self.write().await?;
        let outcome = self
            .put_content_in(tx.as_mut(), tenant, guid, item, derived)
            .await?;
        if outcome.is_some() {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    async fn upsert_with_content(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
        item: &ContentItem,
        derived: &Derived,
    ) -> StoreResult<(Interaction, bool, PutContentOutcome)> {
        let mut tx = self.write().await?;
        let (_, created) = self.upsert_in(tx.as_mut(), tenant, meta).await?;
        let outcome = self
            .put_content_in(tx.as_mut(), tenant, &meta.guid, item, derived)
            .await?
            .ok_or_else(|| StoreError::backend("interaction vanished inside its transaction"))?;
        let interaction = self.loaded(tx.as_mut(), tenant, &meta.guid).await?;
        tx.commit().await?;
        Ok((interaction, created, outcome))
    }

    async fn delete_content(
        &self,
        tenant: TenantId,
        guid: &Guid,
        key: &str,
        cause: DeleteCause,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Removed>> {
        let mut tx = self.write().await?;
        let rules = self.rules_locked(tx.as_mut(), tenant, Lock::Share).await?;
        let removed = self
            .delete_item_in(tx.as_mut(), &rules, tenant, guid, key, cause)
            .await?;
        if removed.is_some() {
            append(self.dialect, tx.as_mut(), std::slice::from_ref(audit)).await?;
            tx.commit().await?;
        }
        Ok(removed)
    }

    async fn delete_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
        cause: DeleteCause,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Removed>> {
        let mut tx = self.write().await?;
        let rules = self.rules_locked(tx.as_mut(), tenant, Lock::Share).await?;
        let removed = self
            .delete_interaction_in(tx.as_mut(), &rules, tenant, guid, cause)
            .await?;
        if removed.is_some() {
            append(self.dialect, tx.as_mut(), std::slice::from_ref(audit)).await?;
            tx.commit().await?;
        }
        Ok(removed)
    }

    async fn delete_expired(
        &self,
        tenant: TenantId,
        batch: &[Expiring],
    ) -> StoreResult<Vec<Result<Option<Removed>, Refusal>>> {
        self.delete_batch(tenant, batch).await
    }

    async fn blob_referenced(&self, blob_key: &str) -> StoreResult<bool> {
        let mut conn = self.read().await?;
        referenced(conn.as_mut(), blob_key).await
    }

    async fn lock_blob(&self, blob_key: &str) -> KeyGuard {
        self.db.lock_key(blob_key).await
    }
}

async fn referenced(conn: &mut dyn Conn, blob_key: &str) -> StoreResult<bool> {
    let q = Query::new("SELECT EXISTS (SELECT 1 FROM content_items WHERE blob_key = $1)")
        .bind(blob_key);
    Ok(conn.scalar_i64(q).await? != 0)
}

/// The removed items and those of their blobs that nothing references any more.
pub(super) async fn released(conn: &mut dyn Conn, items: Vec<ContentItem>) -> StoreResult<Removed> {
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
