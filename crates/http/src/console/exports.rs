//! Exports in the console. Anyone signed in exports the calls the find page's filters
//! match as a ZIP: the form sends the filters back, the find page's own code turns them
//! into the search (narrowed to what the viewer sees), and an export job of the Call
//! Recording API's kind is queued for the runner that serves the API's jobs. The Exports
//! page lists the user's jobs (theirs only, whatever their role) and downloads a complete
//! one through the same streamed, audited ZIP as `/bulkDownload/retrieve`. For admins, a
//! read-only page shows the Export API's external storages (never their credentials) and
//! its jobs.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use callvault_core::{
    ExportJob, ExportKind, ExternalStorage, Job, JobKind, JobStatus, StorageTarget,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::call::size;
use super::find::{self, FindParams};
use super::holds::{admin_time_zone, time_zone};
use super::page::{self, Nav};
use super::session::Viewer;
use crate::call_recording::{is_expired, public_base, zip_response, LINK_PREFIX};
use crate::AppState;

/// A time in the tables, to the minute; their captions name the zone.
fn local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Jobs per page of the Exports page.
const JOB_ROWS: u32 = 25;
/// Export API jobs per page.
const EXPORT_ROWS: u32 = 50;

/// The page of a list, 1-based, as its links send it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListParams {
    page: String,
    started: String,
}

impl ListParams {
    fn page(&self) -> u64 {
        self.page.parse::<u64>().unwrap_or(1).max(1)
    }
}

/// Links to the newer and older pages of a list shown newest first.
pub struct Pager {
    pub newer: Option<String>,
    pub older: Option<String>,
}

fn pager(path: &str, page: u64, rows: u32, total: u64) -> Pager {
    let at = |p: u64| match p {
        1 => path.to_string(),
        p => format!("{path}?page={p}"),
    };
    Pager {
        newer: (page > 1).then(|| at(page - 1)),
        older: (page.saturating_mul(u64::from(rows)) < total).then(|| at(page + 1)),
    }
}

pub struct JobRow {
    pub id: String,
    /// The job's status as the Call Recording API names it.
    pub status: &'static str,
    pub state: String,
    pub what: &'static str,
    pub files: String,
    pub created: String,
    pub valid_until: String,
    pub download: Option<String>,
}

#[derive(Template)]
#[template(path = "console/exports.html")]
struct ExportsPage {
    nav: Option<Nav>,
    admin: bool,
    current: &'static str,
    started: bool,
    jobs: Vec<JobRow>,
    total: u64,
    pager: Pager,
    tz: String,
}

fn job_row(j: Job, tz: Tz) -> JobRow {
    let expired = is_expired(&j);
    let state = match j.status {
        _ if expired => "Expired".to_string(),
        JobStatus::Pending if j.error.is_some() => "Queued again after an error".into(),
        JobStatus::Pending => "Queued".into(),
        JobStatus::InProgress => "Running".into(),
        JobStatus::Complete => "Ready".into(),
        JobStatus::Failed => format!(
            "Failed: {}",
            j.error.as_deref().unwrap_or("no reason was recorded")
        ),
        JobStatus::Expired => "Expired".into(),
    };
    let files = match j.status {
        JobStatus::Pending | JobStatus::InProgress if j.files_total == 0 => "–".to_string(),
        _ => format!("{} of {}", j.files_completed, j.files_total),
    };
    JobRow {
        download: (j.status == JobStatus::Complete && !expired)
            .then(|| format!("/exports/{}/zip", j.id)),
        status: if expired {
            JobStatus::Expired.as_str()
        } else {
            j.status.as_str()
        },
        state,
        what: match j.kind {
            JobKind::Recordings => "Recordings",
            JobKind::RecordingsWithTranscriptions => "Recordings and transcripts",
        },
        files,
        created: local(tz, j.created_at),
        valid_until: j.valid_until.map_or_else(|| "–".into(), |t| local(tz, t)),
        id: j.id,
    }
}

/// `/exports`: the viewer's own export jobs, newest first.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ListParams>,
) -> Response {
    let tz = match time_zone(&state, &viewer).await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let page = p.page();
    let offset = (page - 1).saturating_mul(u64::from(JOB_ROWS));
    let (total, jobs) = match state
        .vault
        .jobs_of(viewer.principal.tenant, &viewer.user.id, (offset, JOB_ROWS))
        .await
    {
        Ok(found) => found,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    let page = ExportsPage {
        nav: Some(viewer.nav()),
        admin: viewer.is_admin(),
        current: "zip",
        started: !p.started.is_empty(),
        jobs: jobs.into_iter().map(|j| job_row(j, tz)).collect(),
        total,
        pager: pager("/exports", page, JOB_ROWS, total),
        tz: tz.name().to_string(),
    };
    page::render(StatusCode::OK, &page)
}

/// The export form: the find page's filters and the form token.
#[derive(Deserialize)]
pub struct StartForm {
    csrf: Option<String>,
    #[serde(flatten)]
    filters: FindParams,
}

/// Queues an export of what the filters match, as the find page searches it (so narrowed
/// to what the viewer sees), and shows the Exports page.
pub async fn start(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    if let Some(refused) = viewer.form_refusal(&state, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let cannot = |viewer: &Viewer, why: &str| {
        page::message(
            StatusCode::BAD_REQUEST,
            Some(viewer.nav()),
            "Cannot export",
            why,
        )
    };
    let mut f = form.filters;
    if !f.q.trim().is_empty() {
        return cannot(
            &viewer,
            "An export follows the filters, not the words said: clear Words said and export again.",
        );
    }
    let tz = match time_zone(&state, &viewer).await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let query = match find::query(&mut f, tz, find::today(tz), &viewer) {
        Ok(q) => q,
        Err(why) => return cannot(&viewer, &why),
    };
    match state
        .vault
        .create_export_job(
            viewer.principal.tenant,
            JobKind::Recordings,
            &viewer.user.id,
            &query,
        )
        .await
    {
        Ok(_) => Redirect::to("/exports?started=1").into_response(),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}

/// The one answer for a job that does not exist, is another tenant's or another user's.
fn no_export(viewer: &Viewer) -> Response {
    page::message(
        StatusCode::NOT_FOUND,
        Some(viewer.nav()),
        "Not found",
        "There is no such export, or it is not yours.",
    )
}

/// `/exports/{id}/zip`: the ZIP of one of the viewer's complete exports, streamed as the
/// API's bulk download streams it and audited as it is (a bulk download of each file, by
/// the console user); calls the viewer no longer sees are left out.
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let job = match state.vault.job(viewer.principal.tenant, &id).await {
        Ok(Some(j)) if j.owner == viewer.user.id => j,
        Ok(_) => return no_export(&viewer),
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    if is_expired(&job) {
        return page::message(
            StatusCode::GONE,
            Some(viewer.nav()),
            "Export expired",
            "This export can no longer be downloaded. Start a new one from Find calls.",
        );
    }
    if job.status != JobStatus::Complete {
        let row = job_row(job, Tz::UTC);
        return page::message(
            StatusCode::CONFLICT,
            Some(viewer.nav()),
            "Export not ready",
            &format!(
                "This export cannot be downloaded yet ({}). The Exports page shows when it is ready.",
                row.state
            ),
        );
    }
    let links = format!("{}{LINK_PREFIX}", public_base(&state, &headers));
    zip_response(
        state.vault.clone(),
        viewer.actor("bulk download"),
        job,
        links,
        Some(viewer.access()),
    )
}

pub struct StorageRow {
    pub name: String,
    pub provider: &'static str,
    pub location: String,
    pub created: String,
}

pub struct ExportRow {
    pub id: String,
    pub status: &'static str,
    pub schedule: String,
    pub content: String,
    pub storage: String,
    pub last_run: String,
    pub next_run: String,
    pub items: u64,
    pub bytes: String,
    pub failures: u32,
    pub error: Option<String>,
    pub created: String,
    pub created_by: String,
}

#[derive(Template)]
#[template(path = "console/export_api.html")]
struct ExportApiPage {
    nav: Option<Nav>,
    admin: bool,
    current: &'static str,
    storages: Vec<StorageRow>,
    jobs: Vec<ExportRow>,
    total: u64,
    pager: Pager,
    tz: String,
}

/// Where a target writes, without its endpoint or credentials: the bucket, account and
/// container, or directory, and the prefix.
fn storage_row(s: &ExternalStorage, tz: Tz) -> StorageRow {
    let (provider, place) = match &s.target {
        StorageTarget::S3 { bucket, .. } => ("Amazon S3 or compatible", format!("bucket {bucket}")),
        StorageTarget::AzureBlob {
            account, container, ..
        } => ("Azure Blob Storage", format!("{account} / {container}")),
        StorageTarget::Local { path, .. } => ("Directory on the server", path.clone()),
    };
    let location = match s.target.prefix() {
        "" => place,
        prefix => format!("{place}, under {prefix}"),
    };
    StorageRow {
        name: s.name.clone(),
        provider,
        location,
        created: local(tz, s.created_at),
    }
}

fn export_row(j: ExportJob, storages: &[ExternalStorage], tz: Tz) -> ExportRow {
    let schedule = match (j.kind, j.end) {
        (ExportKind::Batch, Some(end)) => {
            format!(
                "Once: calls from {} to {}",
                local(tz, j.start),
                local(tz, end)
            )
        }
        _ => format!("Every hour: calls from {} on", local(tz, j.start)),
    };
    let list = |names: Vec<&str>, all: &str| {
        if names.is_empty() {
            all.to_string()
        } else {
            names.join(", ")
        }
    };
    let content = format!(
        "{}; {}",
        list(
            j.filters.content_types.iter().map(|c| c.as_str()).collect(),
            "all content"
        ),
        list(
            j.filters
                .initial_direction
                .iter()
                .map(|d| d.as_str())
                .collect(),
            "any direction"
        )
    );
    let when = |t: Option<DateTime<Utc>>| t.map_or_else(|| "–".into(), |t| local(tz, t));
    ExportRow {
        id: j.id.to_string(),
        status: j.status.as_str(),
        schedule,
        content,
        storage: storages
            .iter()
            .find(|s| s.id == j.storage_id)
            .map_or_else(|| "(removed)".to_string(), |s| s.name.clone()),
        last_run: when(j.last_run),
        next_run: when(j.next_run),
        items: j.items_exported,
        bytes: size(j.bytes_exported),
        failures: j.failures,
        error: j.error,
        created: local(tz, j.created_at),
        created_by: j.created_by,
    }
}

/// `/export-api`: the Export API's storages and jobs, for admins; read only.
pub async fn export_api(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ListParams>,
) -> Response {
    let tz = match admin_time_zone(&state, &viewer, "see the Export API's storages and jobs").await
    {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let tenant = viewer.principal.tenant;
    let storages = match state.vault.external_storages(tenant).await {
        Ok(s) => s,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    let page = p.page();
    let offset = (page - 1).saturating_mul(u64::from(EXPORT_ROWS));
    let (total, jobs) = match state.vault.export_jobs(tenant, offset, EXPORT_ROWS).await {
        Ok(found) => found,
        Err(e) => return page::service_error(viewer.nav(), e),
    };
    let page = ExportApiPage {
        nav: Some(viewer.nav()),
        admin: true,
        current: "api",
        jobs: jobs
            .into_iter()
            .map(|j| export_row(j, &storages, tz))
            .collect(),
        storages: storages.iter().map(|s| storage_row(s, tz)).collect(),
        total,
        pager: pager("/export-api", page, EXPORT_ROWS, total),
        tz: tz.name().to_string(),
    };
    page::render(StatusCode::OK, &page)
}
