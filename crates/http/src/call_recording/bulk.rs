//! Bulk download of a completed export job: a ZIP written while it is sent. Entries are
//! STORED (recordings are already compressed or not worth compressing) and copied from
//! the blob store chunk by chunk into a bounded pipe that feeds the response, so memory
//! stays flat whatever the export's size and nothing is written to disk.
//!
//! Layout, per recording `{id}.{call_id}`: `{id}.{call_id}.{ext}` (the audio),
//! `{id}.{call_id}.json` (its metadata, the listing's recording object), and for
//! recordings-with-transcriptions jobs `{id}.{call_id}.transcript.json` when it has one.

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use callvault_core::{ContentItem, ContentType, Job, JobKind, JobStatus, Scope};
use callvault_services::access::Access;
use callvault_services::audit::Actor;
use callvault_services::Vault;
use chrono::Utc;
use futures::{AsyncWriteExt, StreamExt};
use std::sync::Arc;
use tokio_util::io::ReaderStream;

use super::context::Ctx;
use super::jobs::creator;
use super::wire;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use callvault_core::content::extension_for;

/// Bytes buffered between the ZIP writer and the socket.
const PIPE: usize = 256 * 1024;
const ITEMS_PER_READ: u32 = 100;

#[utoipa::path(
    get,
    path = "/bulkDownload/retrieve",
    tag = "Call Recording",
    description = "Download a completed recording export as a ZIP.",
    params(
        ("jobId" = String, Query, description = "The job id (job_id is accepted too)"),
    ),
    responses(
        (status = 200, description = "application/zip, streamed", content_type = "application/zip"),
        (status = 404, description = "No such job for this caller"),
        (status = 409, description = "The job is not complete"),
        (status = 410, description = "The job has expired"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn retrieve(state: State<AppState>, ctx: Ctx, raw: RawQuery) -> ApiResult<Response> {
    retrieve_kind(state, ctx, raw, JobKind::Recordings).await
}

#[utoipa::path(
    get,
    path = "/bulkDownload/recordings_transcriptions/retrieve",
    tag = "Call Recording",
    description = "Download a completed recording-and-transcription export as a ZIP.",
    params(
        ("jobId" = String, Query, description = "The job id (job_id is accepted too)"),
    ),
    responses(
        (status = 200, description = "application/zip, streamed", content_type = "application/zip"),
        (status = 404, description = "No such job for this caller"),
        (status = 409, description = "The job is not complete"),
        (status = 410, description = "The job has expired"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn retrieve_with_transcriptions(
    state: State<AppState>,
    ctx: Ctx,
    raw: RawQuery,
) -> ApiResult<Response> {
    retrieve_kind(state, ctx, raw, JobKind::RecordingsWithTranscriptions).await
}

async fn retrieve_kind(
    State(state): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
    kind: JobKind,
) -> ApiResult<Response> {
    ctx.require(Scope::ContentRead)?;
    let pairs = crate::params::given_pairs(raw.as_deref().unwrap_or_default());
    // Real clients send `jobId` or `job_id`, and `login_name` or `userName`, which the
    // token already settles.
    let id = pairs
        .iter()
        .find(|(k, _)| k == "jobId" || k == "job_id")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("jobId", "jobId is required"))?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("Job {id} was not found"));
    let job = state
        .vault
        .job(ctx.principal.tenant, &id)
        .await?
        .ok_or_else(not_found)?;
    let mine = job.owner == creator(&ctx) || ctx.access().sees_all();
    if job.kind != kind || !mine {
        return Err(not_found());
    }
    downloadable(&job).map_err(|(status, why)| ApiError::new(status, why))?;
    let links = ctx.url("");
    Ok(zip_response(
        state.vault.clone(),
        ctx.actor("bulk download"),
        job,
        links,
        None,
    ))
}

/// Whether a job's ZIP can be downloaded now: 410 for an expired job, 409 for one that
/// is not complete, each with the reason.
fn downloadable(job: &Job) -> Result<(), (StatusCode, String)> {
    let id = &job.id;
    if is_expired(job) {
        return Err((
            StatusCode::GONE,
            format!("Job {id} has expired; create a new export"),
        ));
    }
    if job.status != JobStatus::Complete {
        let why = job.error.clone().unwrap_or_default();
        return Err((
            StatusCode::CONFLICT,
            format!(
                "Job {id} is {} ({} of {} files) {why}",
                job.status.as_str(),
                job.files_completed,
                job.files_total
            ),
        ));
    }
    Ok(())
}

/// Whether a job is past its validity (marked so by the sweeper, or not yet).
pub(crate) fn is_expired(job: &Job) -> bool {
    job.status == JobStatus::Expired || job.valid_until.is_some_and(|v| v < Utc::now())
}

/// The ZIP of a complete job (which the caller has checked is the requester's, complete
/// and valid), streamed as it is written; every file in it is read, and audited, as an
/// item of a bulk download by `actor`. With `only`, interactions that access does not
/// see are left out (the console passes its viewer's, so that a download never shows
/// more than its user sees now). `links` is the Call Recording API's base URL, for the
/// metadata's links.
pub(crate) fn zip_response(
    vault: Arc<Vault>,
    actor: Actor,
    job: Job,
    links: String,
    only: Option<Access>,
) -> Response {
    let (writer, reader) = tokio::io::duplex(PIPE);
    let id = job.id.clone();
    let with_transcripts = job.kind == JobKind::RecordingsWithTranscriptions;
    tokio::spawn(async move {
        let zip = Zip {
            links,
            with_transcripts,
            only,
        };
        if let Err(e) = write_zip(vault, &actor, job, zip, writer).await {
            // The client sees the download end early; the ZIP has no central directory.
            tracing::warn!(error = %e, "bulk download stopped");
        }
    });
    let headers = [
        (header::CONTENT_TYPE, "application/zip".to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"recordings-{id}.zip\""),
        ),
    ];
    // Chunks as large as the pipe: the default 4 KiB would cost CPU per piece on both ends.
    (
        headers,
        Body::from_stream(ReaderStream::with_capacity(reader, PIPE)),
    )
        .into_response()
}

/// What goes into a ZIP besides the job's recordings.
struct Zip {
    links: String,
    with_transcripts: bool,
    only: Option<Access>,
}

async fn write_zip(
    vault: Arc<Vault>,
    actor: &Actor,
    job: Job,
    Zip {
        links,
        with_transcripts,
        only,
    }: Zip,
    out: tokio::io::DuplexStream,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut zip = ZipFileWriter::with_tokio(out);
    let mut walk = vault.job_walk(&job, ITEMS_PER_READ);
    while let Some(found) = walk.next_batch().await.map_err(|e| err(&e))? {
        for i in &found {
            if only.as_ref().is_some_and(|a| !a.sees(i)) {
                continue;
            }
            let Some(rec) = wire::recording_item(i) else {
                continue;
            };
            let stem = format!("{}.{}", i.number, i.meta.guid);
            copy_item(
                &vault,
                actor,
                i,
                &mut zip,
                &format!("{stem}.{}", extension_for(&rec.media_type)),
                rec,
            )
            .await?;
            let meta = wire::recording(
                i,
                rec,
                format!("{links}/accounts/self/company_call_recordings/{}", i.number),
                format!("{links}/audio/recording/{}", i.number),
            );
            let bytes = serde_json::to_vec_pretty(&meta).map_err(|e| err(&e))?;
            zip.write_entry_whole(
                ZipEntryBuilder::new(format!("{stem}.json").into(), Compression::Stored)
                    .last_modification_date(zip_time(i.meta.start)),
                &bytes,
            )
            .await
            .map_err(|e| err(&e))?;
            if with_transcripts {
                if let Some(t) = i
                    .content
                    .iter()
                    .find(|c| c.content_type == ContentType::Transcript)
                {
                    copy_item(
                        &vault,
                        actor,
                        i,
                        &mut zip,
                        &format!("{stem}.transcript.json"),
                        t,
                    )
                    .await?;
                }
            }
        }
    }
    zip.close().await.map_err(|e| err(&e))?;
    Ok(())
}

/// The call's start as an entry's time, so that a file manager lists the recordings by
/// when the calls were made (without it every entry reads 1980-00-00). ZIP times are
/// local times without a zone; UTC is the one that means the same everywhere, and the
/// format holds the years 1980 to 2107 only.
fn zip_time(t: chrono::DateTime<chrono::Utc>) -> async_zip::ZipDateTime {
    use chrono::{Datelike, Timelike};
    async_zip::ZipDateTimeBuilder::new()
        .year(t.year().clamp(1980, 2107))
        .month(t.month())
        .day(t.day())
        .hour(t.hour())
        .minute(t.minute())
        .second(t.second())
        .build()
}

/// One item into the ZIP, read (and recorded) as an item of a bulk download.
async fn copy_item(
    vault: &Vault,
    actor: &Actor,
    i: &callvault_core::Interaction,
    zip: &mut ZipFileWriter<tokio_util::compat::Compat<tokio::io::DuplexStream>>,
    name: &str,
    item: &ContentItem,
) -> Result<(), String> {
    let mut read = vault
        .open_bulk_item(actor, &i.meta.guid, item)
        .await
        .map_err(|e| e.to_string())?;
    let entry = ZipEntryBuilder::new(name.to_string().into(), Compression::Stored)
        .last_modification_date(zip_time(i.meta.start));
    let mut w = zip
        .write_entry_stream(entry)
        .await
        .map_err(|e| e.to_string())?;
    while let Some(chunk) = read.stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        w.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    w.close().await.map_err(|e| e.to_string())
}
