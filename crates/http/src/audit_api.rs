//! The audit trail over HTTP (scope `callvault:audit`): a tenant's records, filtered and
//! paged, as JSON, CSV or JSON lines, and the check of its hash chain.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use callvault_core::time::parse_instant;
use callvault_core::{AuditAction, AuditRecord, Scope};
use callvault_services::audit::AuditFilter;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::params::{NoParams, Params};
use crate::recordings_files::render::csv_cell;
use crate::AppState;

const MAX_LIMIT: u32 = 10_000;
const DEFAULT_LIMIT: u32 = 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(verify))
}

/// A page of records; `next` is the `after` of the next page, absent on the last.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Records {
    #[schema(value_type = Vec<Object>)]
    records: Vec<AuditRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    records: u64,
    intact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_broken_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "Audit",
    params(
        ("from" = Option<String>, Query, description = "Records at or after this time (ISO 8601)"),
        ("to" = Option<String>, Query, description = "Records before this time (ISO 8601)"),
        ("principal" = Option<String>, Query, description = "`client:<id>`, `user:<login>`, `policy:<name>`, ..."),
        ("interaction" = Option<String>, Query, description = "Interaction GUID"),
        ("action" = Option<String>, Query, description = "search, view, play, download, bulkDownload, export, delete, holdPlaced, holdReleased, policyChanged, policyRemoved, erasure, authFailure"),
        ("after" = Option<i64>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Records per page (default 1000)"),
        ("format" = Option<String>, Query, description = "json (default), csv or jsonl"),
    ),
    responses(
        (status = 200, body = Records, description = "The tenant's records, oldest first; reads appear within a fraction of a second"),
        (status = 400, description = "A bad parameter, named in `field`"),
        (status = 403, description = "Token lacks callvault:audit"),
    ),
    security(("bearer" = ["callvault:audit"]))
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Response> {
    let tenant = auth.require(Scope::Audit)?.tenant;
    params.only(&[
        "from",
        "to",
        "principal",
        "interaction",
        "action",
        "after",
        "limit",
        "format",
    ])?;
    let filter = AuditFilter {
        from: params
            .get("from")
            .map(|v| parse_instant("from", v))
            .transpose()?,
        to: params
            .get("to")
            .map(|v| parse_instant("to", v))
            .transpose()?,
        principal: params.get("principal").map(str::to_string),
        interaction: params.get("interaction").map(|g| g.trim().to_lowercase()),
        action: params
            .get("action")
            .map(|a| AuditAction::parse("action", a.trim()))
            .transpose()?,
    };
    let after = match params.get("after") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|a| *a >= 0)
            .ok_or_else(|| ApiError::bad_request("after", "after must be a record's seq"))?,
    };
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let records = state
        .vault
        .audit_records(tenant, &filter, after, limit)
        .await?;
    let next = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    match params.get("format").unwrap_or("json") {
        "json" => Ok(Json(Records { records, next }).into_response()),
        "jsonl" => {
            let mut out = String::new();
            for r in &records {
                out.push_str(&serde_json::to_string(r).unwrap_or_default());
                out.push('\n');
            }
            Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response())
        }
        "csv" => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&records, true),
        )
            .into_response()),
        _ => Err(ApiError::bad_request(
            "format",
            "format must be json, csv or jsonl",
        )),
    }
}

const CSV_HEADER: [&str; 16] = [
    "seq",
    "at",
    "tenantId",
    "principal",
    "source",
    "userAgent",
    "requestId",
    "dialect",
    "operation",
    "action",
    "interaction",
    "contentKey",
    "outcome",
    "detail",
    "prevHash",
    "hash",
];

/// Records as CSV (cells neutralised against formula injection), with the header row
/// when `header`: the API's `format=csv` and `callvault audit export --format csv`.
pub fn csv(records: &[AuditRecord], header: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    if header {
        let _ = w.write_record(CSV_HEADER);
    }
    for r in records {
        let e = &r.event;
        let opt = |o: &Option<String>| csv_cell(o.as_deref().unwrap_or(""));
        let _ = w.write_record([
            r.seq.to_string(),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.tenant_id.0.to_string(),
            csv_cell(&e.principal),
            opt(&e.source),
            opt(&e.user_agent),
            opt(&e.request_id),
            csv_cell(&e.dialect),
            csv_cell(&e.operation),
            e.action.as_str().to_string(),
            opt(&e.interaction),
            opt(&e.content_key),
            csv_cell(&e.outcome),
            opt(&e.detail),
            r.prev_hash.clone(),
            r.hash.clone(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

#[utoipa::path(
    get,
    path = "/admin/audit/verify",
    tag = "Audit",
    responses(
        (status = 200, body = Verification, description = "Whether the tenant's chain is intact, and where it first breaks"),
        (status = 403, description = "Token lacks callvault:audit"),
    ),
    security(("bearer" = ["callvault:audit"]))
)]
pub async fn verify(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
) -> ApiResult<Json<Verification>> {
    let tenant = auth.require(Scope::Audit)?.tenant;
    let v = state.vault.verify_audit(tenant).await?;
    Ok(Json(Verification {
        records: v.records,
        intact: v.broken.is_none(),
        first_broken_seq: v.broken.as_ref().map(|b| b.seq),
        reason: v.broken.map(|b| b.reason),
    }))
}
