//! The Recordings files API of the virtual contact center (`003`):
//! `GET /api/recordings/files[.xml|.csv]` and the audio of a listed file at
//! `GET /api/recordings/files/{filename}`. HTTP Basic with the tenant name and the
//! tenant's API token.

pub mod dates;
mod params;
pub mod record;
pub mod render;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use callvault_core::{ContentType, Interaction, InteractionQuery, Tenant};
use callvault_services::paging::Scanned;
use callvault_services::ServiceError;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::range::serve_content;
use crate::AppState;
use callvault_services::audit::Actor;
use params::{FilesQuery, PAGE};
use record::{record, Record};

/// Most interactions one request may read to apply field filters, so no query can hold
/// a reader connection for long.
const MAX_SCANNED: u64 = 100_000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_xml))
        .routes(routes!(list_xml_slash))
        .routes(routes!(list_xml_named))
        .routes(routes!(list_csv))
        .routes(routes!(download))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xml,
    Csv,
}

/// An error in the format the client asked for: XML by default, JSON for CSV requests.
struct FilesError {
    format: Format,
    inner: ApiError,
}

impl FilesError {
    fn new(format: Format, inner: impl Into<ApiError>) -> Self {
        Self {
            format,
            inner: inner.into(),
        }
    }
}

impl IntoResponse for FilesError {
    fn into_response(self) -> Response {
        let status = self.inner.status;
        let mut resp = match self.format {
            Format::Csv => self.inner.clone().into_response(),
            Format::Xml => {
                let body = render::xml_error(
                    status.as_u16(),
                    self.inner.field.as_deref(),
                    &self.inner.message,
                );
                (
                    status,
                    [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                    body,
                )
                    .into_response()
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Recordings API\""),
            );
        }
        resp
    }
}

/// Basic credentials: a missing header asks for them (401, so a browser prompts, as the
/// seed describes); wrong ones are refused with 403, as the seed's table says.
/// The Recordings files API's callers are tenants (HTTP Basic with the tenant's token).
fn actor(caller: &Caller, tenant: &Tenant, operation: &'static str) -> Actor {
    Actor {
        tenant: tenant.id,
        principal: format!("tenant-token:{}", tenant.name),
        source: caller.source.clone(),
        user_agent: caller.user_agent.clone(),
        request_id: caller.request_id.clone(),
        dialect: "recordings-files",
        operation,
    }
}

async fn tenant_of(state: &AppState, headers: &HeaderMap) -> Result<Tenant, ApiError> {
    let ask =
        || ApiError::unauthorized("Basic credentials are required: tenant name and API token");
    let value = headers.get(header::AUTHORIZATION).ok_or_else(ask)?;
    let creds = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some(creds) = creds else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "The Authorization header is not valid Basic credentials",
        ));
    };
    let (name, token) = creds.split_once(':').unwrap_or((&creds, ""));
    state
        .vault
        .auth
        .authenticate_tenant(name, token)
        .await
        .map_err(|e| match e {
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            other => other.into(),
        })
}

/// The query variables of every listing, for the document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, non_snake_case)]
struct FilesParams {
    /// A date or a comma-separated range: 2007-08-05, 2007-08-05 13:15Z, 20070805T1315Z,
    /// today, today-7d
    d: Option<String>,
    /// IANA time zone for dates without one; default the tenant's
    tz: Option<String>,
    /// 1-based position of the first record; 50 records per response
    n: Option<u64>,
    /// Recordings that started within 5 seconds of this
    #[param(rename = "start-date")]
    start_date: Option<String>,
    /// Recordings that ended within 5 seconds of this (ignored with start-date)
    #[param(rename = "finish-date")]
    finish_date: Option<String>,
    /// Any output field filters by exact value, e.g. agentID, phoneNumber, channel,
    /// queueName, wrapUpCode
    agentID: Option<String>,
}

fn tenant_tz(t: &Tenant) -> Tz {
    t.time_zone.parse().unwrap_or(chrono_tz::UTC)
}

#[utoipa::path(
    get,
    path = "/api/recordings/files",
    tag = "Recordings files",
    description = "Recording files as XML.",
    params(FilesParams),
    responses(
        (status = 200, description = "`<recordings><file>...</file></recordings>`", content_type = "application/xml"),
        (status = 400, description = "A malformed or unknown query variable, named in `<field>`"),
        (status = 401, description = "No credentials: HTTP Basic with tenant name and API token"),
        (status = 403, description = "Wrong tenant name or API token"),
    ),
    security(("basic" = []))
)]
pub async fn list_xml(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Response {
    list(state, caller, headers, query, Format::Xml).await
}

/// `/api/recordings/files` with a trailing slash, as some clients send it.
#[utoipa::path(get, path = "/api/recordings/files/", tag = "Recordings files",
    description = "The XML listing of /api/recordings/files, under the path with a trailing slash.",
    params(FilesParams),
    responses(
        (status = 200, description = "As /api/recordings/files", content_type = "application/xml"),
        (status = 400, description = "A malformed or unknown query variable, named in `<field>`"),
    ),
    security(("basic" = [])))]
pub async fn list_xml_slash(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Response {
    list(state, caller, headers, query, Format::Xml).await
}

/// The XML listing under its explicit name.
#[utoipa::path(get, path = "/api/recordings/files.xml", tag = "Recordings files",
    description = "The XML listing of /api/recordings/files, under its explicit name.",
    params(FilesParams),
    responses(
        (status = 200, description = "As /api/recordings/files", content_type = "application/xml"),
        (status = 400, description = "A malformed or unknown query variable, named in `<field>`"),
    ),
    security(("basic" = [])))]
pub async fn list_xml_named(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Response {
    list(state, caller, headers, query, Format::Xml).await
}

#[utoipa::path(
    get,
    path = "/api/recordings/files.csv",
    tag = "Recordings files",
    description = "Recording files as CSV with a header row.",
    params(FilesParams),
    responses(
        (status = 200, description = "CSV, fields in the order of the XML elements", content_type = "text/csv"),
        (status = 400, description = "A malformed or unknown query variable, named in `field`"),
        (status = 403, description = "Wrong tenant name or API token"),
    ),
    security(("basic" = []))
)]
pub async fn list_csv(
    state: State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Response {
    list(state, caller, headers, query, Format::Csv).await
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    format: Format,
) -> Response {
    let result = async {
        let tenant = tenant_of(&state, &headers).await?;
        let pairs = crate::params::pairs(raw.as_deref().unwrap_or_default());
        let query = params::parse(&pairs, tenant_tz(&tenant), Utc::now())?;
        scan(&state, &actor(&caller, &tenant, "list files"), &query).await
    }
    .await;
    match result {
        Ok(records) => match format {
            Format::Xml => (
                [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                render::xml(&records),
            )
                .into_response(),
            Format::Csv => (
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                render::csv(&records),
            )
                .into_response(),
        },
        Err(e) => FilesError::new(format, e).into_response(),
    }
}

fn intersect(
    a: Option<(DateTime<Utc>, DateTime<Utc>)>,
    b: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match (a, b) {
        (Some(x), Some(y)) => Some((x.0.max(y.0), x.1.min(y.1))),
        (x, None) | (None, x) => x,
    }
}

/// Pushes the time windows and the agent down to the store, filters the other fields on
/// the records as they stream by, and stops once the page is full.
async fn scan(state: &AppState, actor: &Actor, q: &FilesQuery) -> Result<Vec<Record>, ApiError> {
    let range = q
        .range
        .map(|r| (r.start, r.end - Duration::microseconds(1)));
    let start = intersect(range, q.start_window);
    if start.is_some_and(|(a, b)| a > b) {
        return Ok(Vec::new());
    }
    let agent = q
        .filters
        .iter()
        .find(|(i, _)| record::FIELDS[*i] == "agentID")
        .map(|(_, v)| v.clone());
    let query = InteractionQuery {
        start,
        end: q.finish_window,
        handling_agent: agent,
        with_content: Some(ContentType::CallRecording),
        ..Default::default()
    };
    if q.filters.is_empty() {
        // Nothing to check on the records: the store pages directly.
        let page = state
            .vault
            .search_from(actor, &query, q.skip, PAGE as u32)
            .await?;
        return Ok(page.iter().filter_map(|i| record(i, q.tz)).collect());
    }
    let keep = |i: &Interaction| {
        record(i, q.tz).filter(|r| q.filters.iter().all(|(f, v)| r.values[*f] == *v))
    };
    match state
        .vault
        .search_scan(actor, &query, (q.skip, PAGE), MAX_SCANNED, keep)
        .await?
    {
        Scanned::Page(records) => Ok(records),
        Scanned::TooWide => Err(ApiError::bad_request(
            "d",
            format!(
                "the filters would scan more than {MAX_SCANNED} recordings; narrow the query with d, start-date, finish-date or agentID"
            ),
        )),
    }
}

/// The audio of a listed file. The name is parsed strictly (`S{date}/R{stamp}{n}.{ext}`)
/// and must equal the listed name of that tenant's interaction, so no request can reach
/// anything but a recording the tenant owns.
#[utoipa::path(
    get,
    path = "/api/recordings/files/{*filename}",
    tag = "Recordings files",
    params(("filename" = String, Path, description = "A listed file name, e.g. S20071220/R2007122003163601000.wav")),
    responses(
        (status = 200, description = "The audio; Range requests answer 206"),
        (status = 404, description = "No such file for this tenant"),
    ),
    security(("basic" = []))
)]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let result = async {
        let tenant = tenant_of(&state, &headers).await?;
        let not_found = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No recording file named '{name}'"),
            )
        };
        let (number, _) = record::parse_filename(&name).ok_or_else(not_found)?;
        let interaction = state
            .vault
            .interaction_by_number(tenant.id, number)
            .await?
            .ok_or_else(not_found)?;
        let rec = record(&interaction, tenant_tz(&tenant)).ok_or_else(not_found)?;
        if rec.get("filename") != Some(name.as_str()) {
            return Err(not_found());
        }
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        let actor = actor(&caller, &tenant, "download file");
        serve_content(
            &state.vault,
            &actor,
            &interaction.meta.guid,
            &rec.recording,
            &headers,
            &base,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| FilesError::new(Format::Xml, e).into_response())
}
