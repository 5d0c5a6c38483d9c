//! The delete statements behind every delete path, each inside a transaction the caller
//! holds, after the gate: the tenant's rules (read under its governance lock) must let
//! it happen. One at a time for the APIs, a page at a time for retention.

use callvault_core::{DeleteCause, Guid, Refusal, Rules, TenantId};
use chrono::Utc;

use super::audit::append;
use super::content::released;
use super::decode::{content_row, CONTENT_COLUMNS};
use super::outbox::emit_in;
use super::transcription::forget_in;
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{Expiring, Removed};
use crate::sql::{Conn, Lock, Query};
use callvault_core::webhook::{Event, EventType};

impl SqlStore {
    pub(super) async fn delete_item_in(
        &self,
        conn: &mut dyn Conn,
        rules: &Rules,
        tenant: TenantId,
        guid: &Guid,
        key: &str,
        cause: DeleteCause,
    ) -> StoreResult<Option<Removed>> {
        let Some(iid) = self
            .held_interaction(conn, tenant, guid, Lock::NoKeyUpdate)
            .await?
        else {
            return Ok(None);
        };
        if !rules.is_empty() {
            let i = self.loaded(conn, tenant, guid).await?;
            if let Some(item) = i.content.iter().find(|c| c.key == key) {
                rules
                    .may_delete_item(&i, item, cause, Utc::now())
                    .map_err(StoreError::Refused)?;
            }
        }
        let q = Query::new(format!(
            "DELETE FROM content_items WHERE interaction_id = $1 AND content_key = $2 \
             RETURNING {CONTENT_COLUMNS}"
        ))
        .bind(iid)
        .bind(key);
        let Some(row) = conn.fetch_optional(q).await? else {
            return Ok(None);
        };
        let (_, item) = content_row(row)?;
        forget_in(conn, iid, Some((key, item.content_type))).await?;
        let data = serde_json::json!({
            "interactionId": guid.as_str(), "contentKey": item.key,
            "contentType": item.content_type.as_str(), "cause": cause.as_str(),
        });
        emit_in(
            self.dialect,
            conn,
            &deleted(tenant, guid, EventType::ContentDeleted, data),
        )
        .await?;
        conn.execute(
            Query::new(
                "UPDATE interactions SET content_count = content_count - 1, updated_us = $1 \
                 WHERE id = $2",
            )
            .bind(Utc::now())
            .bind(iid),
        )
        .await?;
        Ok(Some(released(conn, vec![item]).await?))
    }

    /// Reads the items in stored order before deleting them, because `RETURNING` has no
    /// order of its own; the interaction's row is held, so nothing changes between.
    pub(super) async fn delete_interaction_in(
        &self,
        conn: &mut dyn Conn,
        rules: &Rules,
        tenant: TenantId,
        guid: &Guid,
        cause: DeleteCause,
    ) -> StoreResult<Option<Removed>> {
        let Some(iid) = self
            .held_interaction(conn, tenant, guid, Lock::Update)
            .await?
        else {
            return Ok(None);
        };
        if !rules.is_empty() {
            let i = self.loaded(conn, tenant, guid).await?;
            rules
                .may_delete_interaction(&i, cause, Utc::now())
                .map_err(StoreError::Refused)?;
        }
        let q = Query::new(format!(
            "SELECT {CONTENT_COLUMNS} FROM content_items WHERE interaction_id = $1 ORDER BY {}",
            self.dialect.content_order()
        ));
        let items = conn
            .fetch(q.bind(iid))
            .await?
            .into_iter()
            .map(|r| content_row(r).map(|(_, c)| c))
            .collect::<StoreResult<Vec<_>>>()?;
        forget_in(conn, iid, None).await?;
        let keys: Vec<&str> = items.iter().map(|c| c.key.as_str()).collect();
        let data = serde_json::json!({
            "interactionId": guid.as_str(), "contentKeys": keys, "cause": cause.as_str(),
        });
        emit_in(
            self.dialect,
            conn,
            &deleted(tenant, guid, EventType::InteractionDeleted, data),
        )
        .await?;
        for table in [
            "content_items WHERE interaction_id",
            "interactions WHERE id",
        ] {
            let q = Query::new(format!("DELETE FROM {table} = $1"));
            conn.execute(q.bind(iid)).await?;
        }
        Ok(Some(released(conn, items).await?))
    }

    /// Retention's page of deletions in one transaction (one commit, one sync, for the
    /// lot), each still asking the gate: a refused one is answered as such and the rest
    /// go on. The audit records commit with them.
    pub(super) async fn delete_batch(
        &self,
        tenant: TenantId,
        batch: &[Expiring],
    ) -> StoreResult<Vec<Result<Option<Removed>, Refusal>>> {
        let mut tx = self.write().await?;
        let rules = self.rules_locked(tx.as_mut(), tenant, Lock::Share).await?;
        let mut out = Vec::with_capacity(batch.len());
        let mut records = Vec::new();
        for e in batch {
            let r = match &e.key {
                Some(k) => {
                    self.delete_item_in(
                        tx.as_mut(),
                        &rules,
                        tenant,
                        &e.guid,
                        k,
                        DeleteCause::Retention,
                    )
                    .await
                }
                None => {
                    self.delete_interaction_in(
                        tx.as_mut(),
                        &rules,
                        tenant,
                        &e.guid,
                        DeleteCause::Retention,
                    )
                    .await
                }
            };
            match r {
                Ok(removed) => {
                    if removed.is_some() {
                        records.push(e.audit.clone());
                    }
                    out.push(Ok(removed));
                }
                // Refused before anything was written: the transaction goes on.
                Err(StoreError::Refused(why)) => out.push(Err(why)),
                Err(other) => return Err(other),
            }
        }
        append(self.dialect, tx.as_mut(), &records).await?;
        tx.commit().await?;
        Ok(out)
    }
}

fn deleted(tenant: TenantId, guid: &Guid, event_type: EventType, data: serde_json::Value) -> Event {
    Event {
        tenant_id: tenant,
        event_type,
        subject: Some(guid.to_string()),
        data: data.to_string(),
        at: Utc::now(),
    }
}
