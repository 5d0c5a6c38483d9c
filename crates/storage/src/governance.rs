//! Legal holds and retention policies (docs/governance.md). The rules themselves are
//! core's; this is where they are kept, and the delete statements of
//! [`crate::meta::ContentStore`] read them inside their own transactions. Every change
//! appends its audit record in its own transaction.

use async_trait::async_trait;
use callvault_core::query::SearchCursor;
use callvault_core::{AuditEvent, Interaction, LegalHold, RetentionPolicy, Rules, TenantId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreResult;

#[async_trait]
pub trait GovernanceStore: Send + Sync + 'static {
    async fn create_hold(&self, hold: &LegalHold, audit: &AuditEvent) -> StoreResult<()>;
    /// Every hold of the tenant, newest first, released ones included.
    async fn holds(&self, tenant: TenantId) -> StoreResult<Vec<LegalHold>>;
    async fn hold(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<LegalHold>>;
    /// Releases an active hold; answers it as released, or `None` when there is no such
    /// hold. Releasing a released hold changes nothing.
    async fn release_hold(
        &self,
        tenant: TenantId,
        id: Uuid,
        by: &str,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<LegalHold>>;

    /// Stores a new policy or replaces the one with its id; a name taken by another of
    /// the tenant's policies is a conflict.
    async fn put_policy(&self, policy: &RetentionPolicy, audit: &AuditEvent) -> StoreResult<()>;
    async fn policies(&self, tenant: TenantId) -> StoreResult<Vec<RetentionPolicy>>;
    async fn policy(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<RetentionPolicy>>;
    async fn delete_policy(
        &self,
        tenant: TenantId,
        id: Uuid,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;

    /// The rules a delete obeys now: active holds and enabled policies.
    async fn rules(&self, tenant: TenantId) -> StoreResult<Rules>;

    /// Erasure: the tenant's interactions where `address` is the caller or the called
    /// party, started in `[from, to)` when given, with their content, oldest first.
    async fn with_address(
        &self,
        tenant: TenantId,
        address: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Interaction>>;

    /// After an erasure: leaves no copy of deleted rows where the database keeps old
    /// versions of pages (see [`crate::sql::Backend::forget_deleted`]).
    async fn forget_deleted(&self) -> StoreResult<()>;

    /// The retention scan: interactions (with their content, if any) that started before
    /// `before`, ordered by `(start, id)`, after `after`.
    async fn started_before(
        &self,
        tenant: TenantId,
        before: DateTime<Utc>,
        after: Option<SearchCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>>;
}
