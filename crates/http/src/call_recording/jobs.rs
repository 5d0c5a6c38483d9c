//! Export jobs (`002`): create for company, on-demand, and recordings with transcriptions;
//! list and get them per user. The runner in `serve` does the work; see `bulk.rs` for the
//! download.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use callvault_core::interaction::RecordingKind;
use callvault_core::{Job, JobKind, JobStatus, Scope};
use serde_json::{json, Value};

use super::context::Ctx;
use super::{filters, hal, wire};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Who a job belongs to: the signed-in user, or the API client for client tokens.
pub fn creator(ctx: &Ctx) -> String {
    match &ctx.principal.user {
        Some(u) => u.id.clone(),
        None => format!("client:{}", ctx.principal.client_id),
    }
}

/// The `{user}` of a job path: `self` is the caller (user or client); another id needs
/// account access.
async fn job_owner(state: &AppState, ctx: &Ctx, user: &str) -> ApiResult<String> {
    if user == "self" {
        Ok(creator(ctx))
    } else {
        ctx.user(state, user).await
    }
}

fn jobs_path(user: &str, kind: JobKind) -> String {
    match kind {
        JobKind::RecordingsWithTranscriptions => {
            format!("/users/{user}/call_recordings/recordings_transcriptions/jobs")
        }
        JobKind::Recordings => format!("/users/{user}/call_recordings/jobs"),
    }
}

pub fn render(ctx: &Ctx, account: &str, user: &str, job: &Job) -> Value {
    let download = match job.kind {
        JobKind::RecordingsWithTranscriptions => ctx.url(&format!(
            "/bulkDownload/recordings_transcriptions/retrieve?jobId={}",
            job.id
        )),
        JobKind::Recordings => ctx.url(&format!("/bulkDownload/retrieve?jobId={}", job.id)),
    };
    let mut v = json!({
        "_links": { "self": { "href": ctx.url(&format!("/accounts/{account}{}/{}", jobs_path(user, job.kind), job.id)) } },
        "download_url": download,
        "files_completed": job.files_completed,
        "files_total": job.files_total,
        "id": job.id,
        "status": job.status.as_str(),
    });
    // The vendor's schema types these as strings: absent until they have a value.
    if let Some(t) = job.valid_until {
        v["valid_until"] = wire::time(t).into();
    }
    if let Some(e) = &job.error {
        v["error"] = e.as_str().into();
    }
    v
}

/// The seed's filter body: the listing's filter names with string or number values.
fn body_pairs(body: &[u8]) -> ApiResult<Vec<(String, String)>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("body", format!("the body is not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| {
        ApiError::bad_request("body", "the body must be a JSON object of filters")
    })?;
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            Value::Number(n) => Ok((k.clone(), n.to_string())),
            _ => Err(ApiError::bad_request(
                k,
                format!("{k} must be a string or a number"),
            )),
        })
        .collect()
}

async fn create(
    state: &AppState,
    ctx: &Ctx,
    account: &str,
    kind: JobKind,
    owner: Option<String>,
    body: &[u8],
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Scope::ContentRead)?;
    let mut listing = filters::parse(&body_pairs(body)?)?;
    match &owner {
        Some(u) => {
            listing.query.recording_kind = Some(RecordingKind::OnDemand);
            listing.query.owning_user = Some(u.clone());
        }
        None => listing.query.recording_kind = Some(RecordingKind::Company),
    }
    ctx.access().narrow(&mut listing.query);
    let me = creator(ctx);
    let job = state
        .vault
        .create_export_job(ctx.principal.tenant, kind, &me, &listing.query)
        .await?;
    let path_user = if ctx.principal.user.is_some() {
        me
    } else {
        "self".to_string()
    };
    // The vendor's `CreateExportJobHalResponse` is `{"job_ids": [...]}`; the job itself
    // comes along, so clients that read the job object find it too.
    let mut body = render(ctx, account, &path_user, &job);
    body["job_ids"] = json!([job.id]);
    Ok((StatusCode::ACCEPTED, Json(body)))
}

#[utoipa::path(
    post,
    path = "/accounts/{account}/company_call_recordings/export",
    tag = "Call Recording",
    description = "Export company recordings.",
    params(
        ("account" = String, Path, description = "self or the account id"),
    ),
    request_body(content = Option<Object>, description = "Filters as in the listings: call_direction, call_id, caller_id, cnam, dnis, duration:gte, duration:lte, extension, start:gte, start:lte; optional (no body exports everything)"),
    responses(
        (status = 202, description = "The job: job_ids (the vendor's CreateExportJobHalResponse), id, status, files_completed, files_total, download_url; valid_until once complete"),
        (status = 400, description = "A malformed filter, named in `field`"),
        (status = 403, description = "Not allowed for this user"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn create_company(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(account): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.account(&account)?;
    create(&state, &ctx, &account, JobKind::Recordings, None, &body).await
}

#[utoipa::path(
    post,
    path = "/accounts/{account}/company_call_recordings/recordings_transcriptions/export",
    tag = "Call Recording",
    description = "Export company recordings with their transcriptions.",
    params(
        ("account" = String, Path, description = "self or the account id"),
    ),
    request_body(content = Option<Object>, description = "Filters as in the listings: call_direction, call_id, caller_id, cnam, dnis, duration:gte, duration:lte, extension, start:gte, start:lte; optional (no body exports everything)"),
    responses(
        (status = 202, description = "The job: job_ids (the vendor's CreateExportJobHalResponse), id, status, files_completed, files_total, download_url; valid_until once complete"),
        (status = 400, description = "A malformed filter, named in `field`"),
        (status = 403, description = "Not allowed for this user"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn create_company_transcriptions(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(account): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.account(&account)?;
    create(
        &state,
        &ctx,
        &account,
        JobKind::RecordingsWithTranscriptions,
        None,
        &body,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/accounts/{account}/users/{user}/call_recordings/export",
    tag = "Call Recording",
    description = "Export a user's on-demand recordings.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
    ),
    request_body(content = Option<Object>, description = "Filters as in the listings: call_direction, call_id, caller_id, cnam, dnis, duration:gte, duration:lte, extension, start:gte, start:lte; optional (no body exports everything)"),
    responses(
        (status = 202, description = "The job: job_ids (the vendor's CreateExportJobHalResponse), id, status, files_completed, files_total, download_url; valid_until once complete"),
        (status = 400, description = "A malformed filter, named in `field`"),
        (status = 403, description = "Not allowed for this user"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn create_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.account(&account)?;
    let user = ctx.user(&state, &user).await?;
    create(
        &state,
        &ctx,
        &account,
        JobKind::Recordings,
        Some(user),
        &body,
    )
    .await
}

async fn list(
    state: &AppState,
    ctx: &Ctx,
    account: &str,
    user: &str,
    kind: JobKind,
    raw: Option<String>,
) -> ApiResult<Json<Value>> {
    ctx.require(Scope::ContentRead)?;
    ctx.account(account)?;
    let owner = job_owner(state, ctx, user).await?;
    let pairs = crate::params::given_pairs(raw.as_deref().unwrap_or_default());
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let status = get("status")
        .map(|s| JobStatus::parse(s).ok_or_else(|| ApiError::bad_request("status", format!("status '{s}' is not one of pending, in_progress, complete, failed, expired"))))
        .transpose()?;
    let listing = filters::parse(
        &pairs
            .iter()
            .filter(|(k, _)| k == "page" || k == "page_size")
            .cloned()
            .collect::<Vec<_>>(),
    )?;
    let offset = (listing.page - 1).saturating_mul(listing.page_size);
    let limit = u32::try_from(listing.page_size).unwrap_or(u32::MAX);
    let (total, jobs) = state
        .vault
        .list_jobs(ctx.principal.tenant, kind, &owner, status, (offset, limit))
        .await?;
    let items = jobs.iter().map(|j| render(ctx, account, user, j)).collect();
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k == "status")
        .cloned()
        .collect();
    let base = ctx.url(&format!("/accounts/{account}{}", jobs_path(user, kind)));
    Ok(Json(hal::page(
        "jobs",
        items,
        &base,
        &kept,
        listing.page,
        listing.page_size,
        total,
    )))
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/users/{user}/call_recordings/jobs",
    tag = "Call Recording",
    description = "A user's recording export jobs.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("status" = Option<String>, Query, description = "pending, in_progress, complete, failed or expired"),
        ("page" = Option<u64>, Query, minimum = 1, description = "1-based page"),
        ("page_size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1..100"),
    ),
    responses(
        (status = 200, description = "HAL page: _embedded.jobs"),
        (status = 400, description = "Unknown status or bad paging"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list_recordings(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    list(&state, &ctx, &account, &user, JobKind::Recordings, raw).await
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/users/{user}/call_recordings/recordings_transcriptions/jobs",
    tag = "Call Recording",
    description = "A user's recording-and-transcription export jobs.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("status" = Option<String>, Query, description = "pending, in_progress, complete, failed or expired"),
        ("page" = Option<u64>, Query, minimum = 1, description = "1-based page"),
        ("page_size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1..100"),
    ),
    responses(
        (status = 200, description = "HAL page: _embedded.jobs"),
        (status = 400, description = "Unknown status or bad paging"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list_with_transcriptions(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    list(
        &state,
        &ctx,
        &account,
        &user,
        JobKind::RecordingsWithTranscriptions,
        raw,
    )
    .await
}

async fn get(
    state: &AppState,
    ctx: &Ctx,
    account: &str,
    user: &str,
    id: &str,
    kind: JobKind,
) -> ApiResult<Json<Value>> {
    ctx.require(Scope::ContentRead)?;
    ctx.account(account)?;
    let owner = job_owner(state, ctx, user).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("Job {id} was not found"));
    let job = state
        .vault
        .job(ctx.principal.tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if job.owner != owner || job.kind != kind {
        return Err(not_found());
    }
    Ok(Json(render(ctx, account, user, &job)))
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/users/{user}/call_recordings/jobs/{id}",
    tag = "Call Recording",
    description = "One recording export job.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("id" = String, Path, format = Uuid, description = "Job id"),
    ),
    responses(
        (status = 200, description = "The job"),
        (status = 404, description = "No such job of this user"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_recordings(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    get(&state, &ctx, &account, &user, &id, JobKind::Recordings).await
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/users/{user}/call_recordings/recordings_transcriptions/jobs/{id}",
    tag = "Call Recording",
    description = "One recording-and-transcription export job.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("user" = String, Path, description = "self or a user id"),
        ("id" = String, Path, format = Uuid, description = "Job id"),
    ),
    responses(
        (status = 200, description = "The job"),
        (status = 404, description = "No such job of this user"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get_with_transcriptions(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((account, user, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    get(
        &state,
        &ctx,
        &account,
        &user,
        &id,
        JobKind::RecordingsWithTranscriptions,
    )
    .await
}
