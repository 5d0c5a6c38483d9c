//! Reading and deleting content: key resolution, downloads, deletions that really remove
//! the bytes.

use callvault_core::{ContentItem, ContentKey, Guid, Interaction, Invalid, TenantId};
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

    pub async fn open_content(
        &self,
        item: &ContentItem,
        range: Option<Range<u64>>,
    ) -> ServiceResult<BlobRead> {
        // A blob removed by a concurrent delete is that content being gone; its key (tenant
        // and hash) is not for the client.
        self.blobs
            .open(&item.blob_key, range)
            .await
            .map_err(|e| match e {
                callvault_storage::StoreError::NotFound(_) => {
                    ServiceError::NotFound(format!("Content {} was not found", item.key))
                }
                other => other.into(),
            })
    }

    pub async fn delete_content(
        &self,
        tenant: TenantId,
        guid: &Guid,
        raw_key: &str,
    ) -> ServiceResult<ContentItem> {
        let (_, item) = self.content_item(tenant, guid, raw_key).await?;
        let removed = self
            .store
            .delete_content(tenant, guid, &item.key)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("Content {raw_key} was not found")))?;
        self.release_blobs(&removed.released_blobs).await?;
        Ok(item)
    }

    pub async fn delete_interaction(
        &self,
        tenant: TenantId,
        guid: &Guid,
    ) -> ServiceResult<Removed> {
        let removed = self
            .store
            .delete_interaction(tenant, guid)
            .await?
            .ok_or_else(|| not_found(guid))?;
        self.release_blobs(&removed.released_blobs).await?;
        Ok(removed)
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
