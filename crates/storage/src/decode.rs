//! Row decoding shared by the SQLite and PostgreSQL stores: both hand these columns back
//! with the same types (PostgreSQL's JSON columns are selected as text), so one decoder
//! serves both.

use callvault_core::{
    Attributes, ContentItem, ContentType, Direction, ExportFilters, ExportJob, ExportKind,
    ExportStatus, ExportWatermark, ExternalStorage, Guid, Interaction, InteractionMeta, Job,
    JobStatus, StorageTarget, Tenant, TenantId,
};
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};

/// Times are stored as microseconds since the Unix epoch on every backend.
pub(crate) fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {e}"))
}

pub(crate) fn uuid_of<'r, R>(row: &'r R, col: &str) -> StoreResult<Uuid>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|e| corrupt(col, e))
}

pub(crate) fn storage<'r, R>(row: &'r R) -> StoreResult<ExternalStorage>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let target: String = row.try_get("target")?;
    Ok(ExternalStorage {
        id: uuid_of(row, "id")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        target: serde_json::from_str::<StorageTarget>(&target).map_err(|e| corrupt("target", e))?,
        sealed_credentials: row.try_get("credentials")?,
        created_at: from_us(row.try_get("created_us")?),
    })
}

pub(crate) const JOB_COLUMNS: &str =
    "id, tenant_id, kind, status, start_us, end_us, filters, storage_id, \
     created_by, created_us, updated_us, next_run_us, last_run_us, watermark, items_exported, \
     bytes_exported, failures, error";

pub(crate) fn job<'r, R>(row: &'r R) -> StoreResult<ExportJob>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let filters: String = row.try_get("filters")?;
    let watermark: Option<String> = row.try_get("watermark")?;
    let opt_us = |col: &str| -> StoreResult<Option<DateTime<Utc>>> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(from_us))
    };
    Ok(ExportJob {
        id: uuid_of(row, "id")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        kind: ExportKind::parse(&kind).ok_or_else(|| corrupt("export kind", &kind))?,
        status: ExportStatus::parse(&status).ok_or_else(|| corrupt("export status", &status))?,
        start: from_us(row.try_get("start_us")?),
        end: opt_us("end_us")?,
        filters: serde_json::from_str::<ExportFilters>(&filters)
            .map_err(|e| corrupt("filters", e))?,
        storage_id: uuid_of(row, "storage_id")?,
        created_by: row.try_get("created_by")?,
        created_at: from_us(row.try_get("created_us")?),
        updated_at: from_us(row.try_get("updated_us")?),
        next_run: opt_us("next_run_us")?,
        last_run: opt_us("last_run_us")?,
        watermark: watermark
            .map(|w| serde_json::from_str::<ExportWatermark>(&w))
            .transpose()
            .map_err(|e| corrupt("watermark", e))?,
        items_exported: row.try_get::<i64, _>("items_exported")?.max(0) as u64,
        bytes_exported: row.try_get::<i64, _>("bytes_exported")?.max(0) as u64,
        failures: row
            .try_get::<i64, _>("failures")?
            .clamp(0, i64::from(u32::MAX)) as u32,
        error: row.try_get("error")?,
    })
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(crate) fn tenant<'r, R>(row: &'r R) -> StoreResult<Tenant>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Tenant {
        id: TenantId(row.try_get("id")?),
        name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        created_at: from_us(row.try_get("created_us")?),
    })
}

pub(crate) fn interaction<'r, R>(row: &'r R) -> StoreResult<Interaction>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let guid: String = row.try_get("guid")?;
    let direction: String = row.try_get("direction")?;
    let agents: String = row.try_get("agents")?;
    let extensions: String = row.try_get("extensions")?;
    let attributes: String = row.try_get("attributes")?;
    let end_us: Option<i64> = row.try_get("end_us")?;
    Ok(Interaction {
        id: row.try_get("id")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        number: row.try_get("number")?,
        meta: InteractionMeta {
            guid: Guid::parse("guid", &guid).map_err(|e| corrupt("guid", e))?,
            start: from_us(row.try_get("start_us")?),
            end: end_us.map(from_us),
            direction: Direction::parse("direction", &direction)
                .map_err(|e| corrupt("direction", e))?,
            connect_from: row.try_get("connect_from")?,
            connect_to: row.try_get("connect_to")?,
            caller_name: row.try_get("caller_name")?,
            handling_agents: serde_json::from_str(&agents).map_err(|e| corrupt("agents", e))?,
            extensions: serde_json::from_str(&extensions).map_err(|e| corrupt("extensions", e))?,
            queue_id: row.try_get("queue_id")?,
            queue_name: row.try_get("queue_name")?,
            channel: row.try_get("channel")?,
            attributes: serde_json::from_str::<Attributes>(&attributes)
                .map_err(|e| corrupt("attributes", e))?,
        },
        content: Vec::new(),
        created_at: from_us(row.try_get("created_us")?),
        updated_at: from_us(row.try_get("updated_us")?),
    })
}

pub(crate) fn content<'r, R>(row: &'r R) -> StoreResult<(i64, ContentItem)>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let t: String = row.try_get("content_type")?;
    let length: i64 = row.try_get("length")?;
    let duration: Option<i64> = row.try_get("duration_ms")?;
    let version: Option<i64> = row.try_get("version")?;
    Ok((
        row.try_get("interaction_id")?,
        ContentItem {
            key: row.try_get("content_key")?,
            content_type: ContentType::parse(&t).ok_or_else(|| corrupt("content type", &t))?,
            media_type: row.try_get("media_type")?,
            length: length.max(0) as u64,
            sha256: row.try_get("sha256")?,
            last_modified: from_us(row.try_get("last_modified_us")?),
            duration_ms: duration.map(|d| d.max(0) as u64),
            version: version.map(|v| v.clamp(0, u32::MAX as i64) as u32),
            owning_agent: row.try_get("owning_agent")?,
            owning_interaction_plan: row.try_get("owning_plan")?,
            blob_key: row.try_get("blob_key")?,
        },
    ))
}

/// Columns `bulk_job` decodes.
pub(crate) const BULK_JOB_COLUMNS: &str =
    "id, tenant_id, kind, owner, params, status, files_total, files_completed, \
     error, attempts, valid_until_us, created_us";

/// A bulk-export job (`jobs`).
pub(crate) fn bulk_job<'r, R>(row: &'r R) -> StoreResult<Job>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let status: String = row.try_get("status")?;
    let valid: Option<i64> = row.try_get("valid_until_us")?;
    Ok(Job {
        id: row.try_get("id")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        kind: row.try_get("kind")?,
        owner: row.try_get("owner")?,
        params: row.try_get("params")?,
        status: JobStatus::parse(&status).ok_or_else(|| {
            StoreError::Backend(format!("stored job status {status:?} is unknown"))
        })?,
        files_total: row.try_get::<i64, _>("files_total")?.max(0) as u64,
        files_completed: row.try_get::<i64, _>("files_completed")?.max(0) as u64,
        error: row.try_get("error")?,
        attempts: row
            .try_get::<i64, _>("attempts")?
            .clamp(0, i64::from(u32::MAX)) as u32,
        created_at: from_us(row.try_get("created_us")?),
        valid_until: valid.map(from_us),
    })
}
