//! Reading and deleting content: key resolution, downloads, deletions that really remove
//! the bytes.

use callvault_core::{AuditAction, ContentItem, ContentKey, Guid, Interaction, Invalid, TenantId};

use crate::audit::Actor;
use callvault_storage::meta::Removed;
use callvault_storage::BlobRead;
use std::ops::Range;

use crate::error::{ServiceError, ServiceResult};
use crate::vault::Vault;

fn not_found(guid: &Guid) -> ServiceError {
    ServiceError::NotFound(format!("Interaction {guid} was not found"))
}

/// Finds the item a client's key names. A type name of a multi-instance type (say
/// `voicemail`) names the item when there is exactly one of that type; with several,
/// the client must use the unique identifier.
pub fn resolve_key<'a>(
    interaction: &'a Interaction,
    raw_key: &str,
) -> ServiceResult<&'a ContentItem> {
    let key = ContentKey::parse("contentKey", raw_key)?;
    let stored = key.stored_form();
    if let Some(item) = interaction.content.iter().find(|c| c.key == stored) {
        return Ok(item);
    }
    if let ContentKey::Type(t) = key {
        let of_type: Vec<&ContentItem> = interaction
            .content
            .iter()
            .filter(|c| c.content_type == t)
            .collect();
        if let [only] = of_type.as_slice() {
            return Ok(only);
        }
        if of_type.len() > 1 {
            return Err(Invalid::new(
                "contentKey",
                format!("the interaction has several {t} items; use the unique identifier as contentKey"),
            )
            .into());
        }
    }
    Err(ServiceError::NotFound(format!(
        "Content {raw_key} was not found for interaction {}",
        interaction.meta.guid
    )))
}

impl Vault {
    pub async fn interaction(&self, tenant: TenantId, guid: &Guid) -> ServiceResult<Interaction> {
        self.store
            .get_interaction(tenant, guid)
            .await?
            .ok_or_else(|| not_found(guid))
    }

    /// The interaction and the item a key names.
    /// Records that `actor` was shown the interaction's metadata (one interaction, not a
    /// listing, which is a search).
    pub async fn viewed(&self, actor: &Actor, i: &Interaction) {
        self.audit(actor.event(AuditAction::View, Some(&i.meta.guid), None, "ok", None))
            .await;
    }

    pub async fn content_item(
        &self,
        tenant: TenantId,
        guid: &Guid,
        raw_key: &str,
    ) -> ServiceResult<(Interaction, ContentItem)> {
        let interaction = self.interaction(tenant, guid).await?;
        let item = resolve_key(&interaction, raw_key)?.clone();
        Ok((interaction, item))
    }

    /// Opens content for `actor` and records the read: a ranged read of part of it is a
    /// play, anything else a download. Every dialect serves bytes through here.
    pub async fn open_content(
        &self,
        actor: &Actor,
        guid: &Guid,
        item: &ContentItem,
        range: Option<Range<u64>>,
    ) -> ServiceResult<BlobRead> {
        let partial = range
            .as_ref()
            .is_some_and(|r| r.start > 0 || r.end < item.length);
        let action = if partial {
            AuditAction::Play
        } else {
            AuditAction::Download
        };
        self.open_recorded(actor, guid, item, range, action).await
    }

    /// Opens content for a player, recorded as a play whatever the range: a media
    /// element's first request asks for `bytes=0-` and stops reading when it has enough.
    pub async fn open_playback(
        &self,
        actor: &Actor,
        guid: &Guid,
        item: &ContentItem,
        range: Option<Range<u64>>,
    ) -> ServiceResult<BlobRead> {
        self.open_recorded(actor, guid, item, range, AuditAction::Play)
            .await
    }

    /// Opens one item of a bulk download (a ZIP) for `actor`, recorded as such.
    pub async fn open_bulk_item(
        &self,
        actor: &Actor,
        guid: &Guid,
        item: &ContentItem,
    ) -> ServiceResult<BlobRead> {
        self.open_recorded(actor, guid, item, None, AuditAction::BulkDownload)
            .await
    }

    async fn open_recorded(
        &self,
        actor: &Actor,
        guid: &Guid,
        item: &ContentItem,
        range: Option<Range<u64>>,
        action: AuditAction,
    ) -> ServiceResult<BlobRead> {
        let detail = range
            .as_ref()
            .map(|r| format!("bytes={}-{}", r.start, r.end.saturating_sub(1)));
        // A blob removed by a concurrent delete is that content being gone; its key (tenant
        // and hash) is not for the client.
        let opened = self
            .blobs
            .open(&item.blob_key, range)
            .await
            .map_err(|e| match e {
                callvault_storage::StoreError::NotFound(_) => {
                    ServiceError::NotFound(format!("Content {} was not found", item.key))
                }
                other => other.into(),
            });
        let outcome = if opened.is_ok() { "ok" } else { "failed" };
        self.audit(actor.event(action, Some(guid), Some(&item.key), outcome, detail))
            .await;
        opened
    }

    /// Deletes one content item for `actor`, obeying holds and retention; the deletion
    /// and its audit record commit together, a refusal is recorded too.
    pub async fn delete_content(
        &self,
        actor: &Actor,
        guid: &Guid,
        raw_key: &str,
    ) -> ServiceResult<ContentItem> {
        let (_, item) = self.content_item(actor.tenant, guid, raw_key).await?;
        let event = actor.event(AuditAction::Delete, Some(guid), Some(&item.key), "ok", None);
        let removed = self
            .store
            .delete_content(actor.tenant, guid, &item.key, actor.cause(), &event)
            .await;
        let removed = self.refusal_recorded(removed, event).await?;
        let removed = removed
            .ok_or_else(|| ServiceError::NotFound(format!("Content {raw_key} was not found")))?;
        self.release_blobs(&removed.released_blobs).await?;
        Ok(item)
    }

    /// Deletes an interaction with all its content for `actor`, as
    /// [`Vault::delete_content`] does one item.
    pub async fn delete_interaction(&self, actor: &Actor, guid: &Guid) -> ServiceResult<Removed> {
        let event = actor.event(AuditAction::Delete, Some(guid), None, "ok", None);
        let removed = self
            .store
            .delete_interaction(actor.tenant, guid, actor.cause(), &event)
            .await;
        let removed = self
            .refusal_recorded(removed, event)
            .await?
            .ok_or_else(|| not_found(guid))?;
        self.release_blobs(&removed.released_blobs).await?;
        Ok(removed)
    }

    /// A refused delete leaves its own record (the refused change committed nothing).
    async fn refusal_recorded<T>(
        &self,
        r: Result<T, callvault_storage::StoreError>,
        mut event: callvault_core::AuditEvent,
    ) -> ServiceResult<T> {
        if let Err(callvault_storage::StoreError::Refused(why)) = &r {
            event.outcome = "refused".into();
            event.detail = Some(why.message());
            // Written now, so it stands in the trail where it happened; the sink (which
            // retries) only if the store cannot take it this moment.
            if self
                .store
                .append_audit(std::slice::from_ref(&event))
                .await
                .is_err()
            {
                self.audit(event).await;
            }
        }
        Ok(r?)
    }

    /// Deletes blobs that no item references, checking again under the blob lock so that
    /// a concurrent upload of the same bytes keeps them.
    pub async fn release_blobs(&self, keys: &[String]) -> ServiceResult<()> {
        for key in keys {
            let _guard = self.store.lock_blob(key).await;
            if !self.store.blob_referenced(key).await? {
                self.blobs.delete(key).await?;
            }
        }
        Ok(())
    }
}
