//! The audit trail's records: appended in chained batches, read back in order.

use async_trait::async_trait;
use callvault_core::{AuditAction, AuditEvent, AuditRecord, TenantId};
use chrono::{DateTime, Utc};

use crate::error::StoreResult;

/// Which of a tenant's records to read; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub principal: Option<String>,
    pub interaction: Option<String>,
    pub action: Option<AuditAction>,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends the events, each chained to its tenant's last record, in one transaction.
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Whether [`append_audit`](Self::append_audit) may be driven from a runtime other
    /// than the one that opened the store, on a thread of its own. True for SQLite, whose
    /// connections are file handles; not for PostgreSQL, whose pooled connections are
    /// sockets served by the reactor of the runtime that opened them: one opened on a
    /// background thread would then wait on that thread for every later request using it.
    fn appends_off_runtime(&self) -> bool;
    /// The tenant's records after `after_seq`, in order, at most `limit`.
    async fn audit_page(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>>;
    /// The tenant's records before `before_seq` (all, with `None`), newest first, at
    /// most `limit`: the console reads a trail from its latest entries back.
    async fn audit_page_newest(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>>;
    /// The tenant's chain head: how many records it has and the last one's hash.
    async fn audit_head(&self, tenant: TenantId) -> StoreResult<Option<(i64, String)>>;
}
