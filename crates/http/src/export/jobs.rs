//! `/interactions/jobs`: scheduling export jobs, listing them, and the state machine's
//! cancel, pause and restart.

use axum::extract::{Path, State};
use axum::Json;
use callvault_core::time::parse_instant;
use callvault_core::{ExportAction, ExportFilters, ExportKind, Scope};
use callvault_services::export::NewExport;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::wire;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::interaction_content::parse_json;
use crate::params::Params;
use crate::AppState;

pub const MAX_LIMIT: u32 = 1000;
const DEFAULT_LIMIT: u32 = 100;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FiltersBody {
    /// Empty: every content type.
    #[serde(default)]
    content_types: Vec<String>,
    /// Empty: every direction.
    #[serde(default)]
    initial_direction: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecurringBody {
    /// ISO 8601, inclusive; at least 12 hours in the past.
    start_date: String,
    filters: FiltersBody,
    /// UUID of one of the tenant's external storages.
    external_storage_id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchBody {
    /// ISO 8601, inclusive; at least 12 hours in the past.
    start_date: String,
    /// ISO 8601, inclusive; not before startDate, at least 12 hours in the past.
    end_date: String,
    filters: FiltersBody,
    external_storage_id: String,
}

fn new_export(
    kind: ExportKind,
    start: &str,
    end: Option<&str>,
    filters: FiltersBody,
    storage: &str,
) -> ApiResult<NewExport> {
    let start = parse_instant("startDate", start)?;
    let end = end.map(|e| parse_instant("endDate", e)).transpose()?;
    let filters = ExportFilters::parse(&filters.content_types, &filters.initial_direction)?;
    let storage_id = Uuid::parse_str(storage.trim()).map_err(|_| {
        ApiError::bad_request("externalStorageId", "externalStorageId must be a UUID")
    })?;
    Ok(NewExport {
        kind,
        start,
        end,
        filters,
        storage_id,
    })
}

fn creator(auth: &Authed) -> String {
    match &auth.0.user {
        Some(u) => u.id.clone(),
        None => format!("client:{}", auth.0.client_id),
    }
}

#[utoipa::path(
    post,
    path = "",
    tag = "Interaction Content Export",
    request_body = RecurringBody,
    responses(
        (status = 200, description = "`{\"jobId\": ...}`; the job runs every hour, exporting content stored more than 12 hours before each run."),
        (status = 400, description = "A bad body field, named in `field`"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn schedule_recurring(
    State(state): State<AppState>,
    auth: Authed,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let b: RecurringBody = parse_json(&body)?;
    let new = new_export(
        ExportKind::Recurring,
        &b.start_date,
        None,
        b.filters,
        &b.external_storage_id,
    )?;
    let job = state
        .vault
        .schedule_export(tenant, new, &creator(&auth))
        .await?;
    Ok(Json(json!({ "jobId": job.id.to_string() })))
}

#[utoipa::path(
    post,
    path = "/interactions/jobs/schedule-batch-export",
    tag = "Interaction Content Export",
    request_body = BatchBody,
    responses(
        (status = 200, description = "`{\"jobId\": ...}`; the job exports the interactions that started between startDate and endDate once"),
        (status = 400, description = "A bad body field, named in `field`"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn schedule_batch(
    State(state): State<AppState>,
    auth: Authed,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let b: BatchBody = parse_json(&body)?;
    let new = new_export(
        ExportKind::Batch,
        &b.start_date,
        Some(&b.end_date),
        b.filters,
        &b.external_storage_id,
    )?;
    let job = state
        .vault
        .schedule_export(tenant, new, &creator(&auth))
        .await?;
    Ok(Json(json!({ "jobId": job.id.to_string() })))
}

#[utoipa::path(
    get,
    path = "/interactions/jobs",
    tag = "Interaction Content Export",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 2147483647, description = "1-based page (default 1)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Jobs per page, 1..1000 (default 100)"),
    ),
    responses(
        (status = 200, description = "`{page, limit, total, items}`, newest first"),
        (status = 400, description = "page or limit out of range"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    params.only(&["page", "limit"])?;
    let page = match params.get("page") {
        None => 1,
        Some(p) => p
            .trim()
            // The document declares an int32, as the seed's clients expect.
            .parse::<i32>()
            .ok()
            .filter(|p| *p >= 1)
            .map(i32::unsigned_abs)
            .ok_or_else(|| {
                ApiError::bad_request("page", "page must be a whole number from 1 to 2147483647")
            })?,
    };
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request("limit", format!("limit must be from 1 to {MAX_LIMIT}"))
            })?,
    };
    let offset = u64::from(page - 1) * u64::from(limit);
    let (total, jobs) = state.vault.export_jobs(tenant, offset, limit).await?;
    Ok(Json(json!({
        "page": page,
        "limit": limit,
        "total": total,
        "items": jobs.iter().map(wire::job).collect::<Vec<_>>(),
    })))
}

fn job_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request("id", "the job id must be a UUID"))
}

#[utoipa::path(
    get,
    path = "/interactions/jobs/{id}",
    tag = "Interaction Content Export",
    params(("id" = String, Path, format = Uuid, description = "Job UUID")),
    responses(
        (status = 200, description = "The job with its progress and last error"),
        (status = 404, description = "No such job in this tenant"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_job(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let job = state.vault.export_job(tenant, job_id(&id)?).await?;
    Ok(Json(wire::job(&job)))
}

#[utoipa::path(
    post,
    path = "/interactions/jobs/{id}/{action}",
    tag = "Interaction Content Export",
    params(
        ("id" = String, Path, format = Uuid, description = "Job UUID"),
        ("action" = String, Path, description = "cancel (from Scheduled, Running, Paused), pause (from Scheduled, Running) or restart (from Failed, Paused)"),
    ),
    responses(
        (status = 200, description = "The job in its new state"),
        (status = 404, description = "No such job in this tenant, or no such action"),
        (status = 409, description = "The job's state does not allow the action; `message` says why"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn job_action(
    State(state): State<AppState>,
    auth: Authed,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let action = match action.as_str() {
        "cancel" => ExportAction::Cancel,
        "pause" => ExportAction::Pause,
        "restart" => ExportAction::Restart,
        _ => {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no such action; use cancel, pause or restart",
            ))
        }
    };
    let job = state
        .vault
        .export_action(tenant, job_id(&id)?, action)
        .await?;
    Ok(Json(wire::job(&job)))
}
