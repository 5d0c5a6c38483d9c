//! Persistence of the Export API: external storage targets, export jobs and the ledger of
//! exported items. Kept apart from [`crate::Store`] because only the export
//! services use it.

use async_trait::async_trait;
use callvault_core::{
    ContentType, Direction, ExportJob, ExportStatus, ExportWatermark, ExternalStorage, TenantId,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreResult;

/// Which content a run of a job looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateQuery<'a> {
    pub tenant: TenantId,
    /// Interactions that started within `[start, end]` (inclusive).
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// Content stored at or before this (recurring jobs: the run time minus 12 hours).
    pub stored_before: Option<DateTime<Utc>>,
    /// Empty: every type. Filtering in SQL keeps pages full.
    pub content_types: &'a [ContentType],
    pub directions: &'a [Direction],
    /// Resume strictly after this position.
    pub after: Option<&'a ExportWatermark>,
    pub limit: u32,
}

/// A content item due for export, in walk order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub interaction_id: i64,
    pub content_key: String,
    pub sha256: String,
    pub stored_us: i64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub status: ExportStatus,
    pub next_run: Option<DateTime<Utc>>,
    pub failures: u32,
    pub error: Option<String>,
}

#[async_trait]
pub trait ExportStore: Send + Sync + 'static {
    async fn create_storage(&self, storage: &ExternalStorage) -> StoreResult<()>;
    async fn storage(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ExternalStorage>>;
    async fn list_storages(&self, tenant: TenantId) -> StoreResult<Vec<ExternalStorage>>;
    /// Answers whether it existed; `Conflict` while a job that can still run uses it.
    async fn delete_storage(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;

    async fn create_export(&self, job: &ExportJob) -> StoreResult<()>;
    async fn export_job(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ExportJob>>;
    /// A tenant's jobs, newest first, with the total.
    async fn list_exports(
        &self,
        tenant: TenantId,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(u64, Vec<ExportJob>)>;
    /// Moves a job from `from` to `to` if it is still in `from` (a runner may have moved
    /// it meanwhile); a restart also clears failures and schedules the next run.
    async fn transition_export(
        &self,
        tenant: TenantId,
        id: Uuid,
        from: ExportStatus,
        to: ExportStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Takes a scheduled job that is due, or a running one whose runner's lease lapsed,
    /// marks it running and leases it.
    async fn claim_export(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<ExportJob>>;
    async fn export_candidates(&self, q: &CandidateQuery<'_>) -> StoreResult<Vec<Candidate>>;
    /// Whether the job already wrote this exact item.
    async fn exported(&self, job: Uuid, item: &Candidate) -> StoreResult<bool>;
    /// Records a written item in one transaction: its ledger row, the watermark, the
    /// counters (only for an item not in the ledger yet) and a longer lease. Answers
    /// `false` (recording nothing) when the job is no longer running, so a paused or
    /// cancelled job stops at the next item.
    async fn record_export(
        &self,
        job: Uuid,
        item: &Candidate,
        bytes: u64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends a run if the job is still running (a pause or cancel during the run wins).
    async fn finish_export_run(
        &self,
        job: Uuid,
        outcome: &RunOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
