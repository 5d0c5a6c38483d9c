//! The Export API's use cases: external storage targets and export jobs (creation,
//! validation, the state machine). The transfer itself is in [`runner`].

pub mod runner;
pub mod target;

use std::time::Duration;

use bytes::Bytes;
use callvault_core::export::EXPORT_AGE;
use callvault_core::{
    ExportAction, ExportFilters, ExportJob, ExportKind, ExportStatus, ExternalStorage, Invalid,
    StorageTarget, TenantId,
};
use callvault_storage::StoreError;
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::vault::Vault;
pub use target::Credentials;

/// A validation write that takes longer than this counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_STORAGE_NAME: usize = 200;

#[derive(Debug, Clone)]
pub struct NewStorage {
    pub name: String,
    pub target: StorageTarget,
    pub credentials: Credentials,
}

#[derive(Debug, Clone)]
pub struct NewExport {
    pub kind: ExportKind,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub filters: ExportFilters,
    pub storage_id: Uuid,
}

impl Vault {
    /// Creates a target after proving it works: a zero-byte object is written and removed.
    pub async fn create_external_storage(
        &self,
        tenant: TenantId,
        new: NewStorage,
    ) -> ServiceResult<ExternalStorage> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > MAX_STORAGE_NAME {
            return Err(Invalid::new("name", "name must be 1 to 200 characters").into());
        }
        if name.chars().any(char::is_control) {
            return Err(Invalid::new("name", "name must not contain control characters").into());
        }
        if let Some(endpoint) = new.target.endpoint() {
            self.config
                .egress
                .check_url("configuration.endpoint", endpoint)
                .await?;
        }
        let store = target::connect(
            &new.target,
            &new.credentials,
            &self.config.export_root,
            &self.config.egress,
        )?;
        let probe = ObjectPath::from(format!(".callvault-check-{}", Uuid::new_v4().simple()));
        let check = async {
            store.put(&probe, Bytes::new().into()).await?;
            store.delete(&probe).await
        };
        match tokio::time::timeout(PROBE_TIMEOUT, check).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(Invalid::new(
                    "configuration",
                    format!("the storage refused a test write: {e}"),
                )
                .into())
            }
            Err(_) => {
                return Err(Invalid::new(
                    "configuration",
                    "the storage did not answer a test write within 30 seconds",
                )
                .into())
            }
        }
        let id = Uuid::new_v4();
        let creds = serde_json::to_vec(&new.credentials)
            .map_err(|e| ServiceError::Conflict(format!("cannot record credentials: {e}")))?;
        let storage = ExternalStorage {
            id,
            tenant_id: tenant,
            name: name.to_string(),
            target: new.target,
            sealed_credentials: self.sealer.seal(&creds, id.as_bytes()),
            created_at: self.clock.now(),
        };
        self.store.create_storage(&storage).await?;
        Ok(storage)
    }

    pub async fn external_storages(&self, tenant: TenantId) -> ServiceResult<Vec<ExternalStorage>> {
        Ok(self.store.list_storages(tenant).await?)
    }

    pub async fn external_storage(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> ServiceResult<ExternalStorage> {
        self.store
            .storage(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("external storage not found".into()))
    }

    pub async fn delete_external_storage(&self, tenant: TenantId, id: Uuid) -> ServiceResult<()> {
        match self.store.delete_storage(tenant, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ServiceError::NotFound("external storage not found".into())),
            Err(StoreError::Conflict(m)) => Err(ServiceError::Conflict(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// Validates and stores a job; it first runs as soon as a runner is free.
    pub async fn schedule_export(
        &self,
        tenant: TenantId,
        new: NewExport,
        created_by: &str,
    ) -> ServiceResult<ExportJob> {
        let now = self.clock.now();
        let latest = now - EXPORT_AGE;
        if new.start > latest {
            return Err(Invalid::new(
                "startDate",
                "startDate must be at least 12 hours in the past",
            )
            .into());
        }
        if new.kind == ExportKind::Batch {
            let end = new
                .end
                .ok_or_else(|| Invalid::new("endDate", "endDate is required"))?;
            if end < new.start {
                return Err(Invalid::new("endDate", "endDate must not be before startDate").into());
            }
            if end > latest {
                return Err(Invalid::new(
                    "endDate",
                    "endDate must be at least 12 hours in the past",
                )
                .into());
            }
        }
        if self.store.storage(tenant, new.storage_id).await?.is_none() {
            return Err(Invalid::new(
                "externalStorageId",
                "no external storage with this id exists for the tenant",
            )
            .into());
        }
        let job = ExportJob {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            kind: new.kind,
            status: ExportStatus::Scheduled,
            start: new.start,
            end: new.end,
            filters: new.filters,
            storage_id: new.storage_id,
            created_by: created_by.to_string(),
            created_at: now,
            updated_at: now,
            next_run: Some(now),
            last_run: None,
            watermark: None,
            items_exported: 0,
            bytes_exported: 0,
            failures: 0,
            error: None,
        };
        self.store.create_export(&job).await?;
        Ok(job)
    }

    pub async fn export_jobs(
        &self,
        tenant: TenantId,
        offset: u64,
        limit: u32,
    ) -> ServiceResult<(u64, Vec<ExportJob>)> {
        Ok(self.store.list_exports(tenant, offset, limit).await?)
    }

    pub async fn export_job(&self, tenant: TenantId, id: Uuid) -> ServiceResult<ExportJob> {
        self.store
            .export_job(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("export job not found".into()))
    }

    /// Cancels, pauses or restarts a job; a transition the state machine does not allow
    /// is a conflict. A runner moving the job at the same moment is retried against.
    pub async fn export_action(
        &self,
        tenant: TenantId,
        id: Uuid,
        action: ExportAction,
    ) -> ServiceResult<ExportJob> {
        for _ in 0..3 {
            let job = self.export_job(tenant, id).await?;
            let to = job.status.apply(action).map_err(ServiceError::Conflict)?;
            let moved = self
                .store
                .transition_export(tenant, id, job.status, to, self.clock.now())
                .await?;
            if moved {
                return self.export_job(tenant, id).await;
            }
        }
        Err(ServiceError::Conflict(
            "the job changed state while being updated; try again".into(),
        ))
    }
}
