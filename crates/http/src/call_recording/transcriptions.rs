//! Company recording transcriptions: the list with its states, and one transcript. A
//! recording's transcript is its `transcript` content item; while there is none, its
//! transcription job says whether it is pending, in progress or failed, and why.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use std::collections::BTreeMap;

use callvault_core::interaction::RecordingKind;
use callvault_core::query::TranscriptionFilter;
use callvault_core::transcription::TranscriptionState;
use callvault_core::{ContentType, Interaction, Invalid, Scope};
use serde_json::{json, Value};

use super::context::Ctx;
use super::{filters, hal, wire};
use crate::error::{ApiError, ApiResult};
use crate::range::serve_content;
use crate::AppState;

fn status_filter(pairs: &[(String, String)]) -> Result<TranscriptionFilter, Invalid> {
    let given = pairs
        .iter()
        .find(|(k, _)| k == "transcription_status" || k == "status");
    let Some((name, v)) = given else {
        return Ok(TranscriptionFilter::Any);
    };
    match v.to_ascii_uppercase().as_str() {
        "READY" | "COMPLETE" | "COMPLETED" => Ok(TranscriptionFilter::Ready),
        "PENDING" | "IN_PROGRESS" => Ok(TranscriptionFilter::Pending),
        "FAILED" | "ERROR" => Ok(TranscriptionFilter::Failed),
        _ => Err(Invalid::new(
            name,
            format!("{name} '{v}' is not one of READY, PENDING, FAILED"),
        )),
    }
}

fn transcript(i: &Interaction) -> Option<&callvault_core::ContentItem> {
    i.content
        .iter()
        .find(|c| c.content_type == ContentType::Transcript)
}

/// Each listed recording's job state and error.
type States = BTreeMap<i64, (TranscriptionState, Option<String>)>;

fn render(ctx: &Ctx, i: &Interaction, states: &States) -> Option<Value> {
    let rec = wire::recording_item(i)?;
    let m = &i.meta;
    let ready = transcript(i).is_some();
    let mut v = json!({
        "recording_id": i.number,
        "call_id": m.guid.as_str(),
        "caller_id": m.connect_from,
        "call_date": wire::time(m.start),
        "duration": wire::duration_ms(i, rec),
        "direction": wire::direction(m.direction),
        "cnam": m.caller_name.clone().unwrap_or_default(),
        "dnis": m.connect_to,
        "transcription_ready": ready,
    });
    if ready {
        v["transcription_url"] = json!(format!(
            "{}{}/transcription/{}",
            ctx.base,
            v1_prefix(&ctx.prefix),
            i.number
        ));
    } else if let Some((TranscriptionState::Failed, error)) = states.get(&i.id) {
        v["transcription_error"] = json!(error
            .clone()
            .unwrap_or_else(|| "Transcription job failed".into()));
    }
    Some(v)
}

/// The seed serves transcripts under `/v1/api`; keep the client's prefix but make sure of it.
fn v1_prefix(prefix: &str) -> String {
    if prefix.ends_with("/v1/api") {
        prefix.to_string()
    } else {
        prefix.trim_end_matches("/api").to_string() + "/v1/api"
    }
}

#[utoipa::path(
    get,
    path = "/accounts/{account}/company_call_recordings/transcriptions",
    tag = "Call Recording",
    description = "Company recording transcriptions and their states.",
    params(
        ("account" = String, Path, description = "self or the account id"),
        ("call_direction" = Option<String>, Query, description = "INBOUND, OUTBOUND or INTRA_PBX"),
        ("call_id" = Option<String>, Query, description = "Call id (the interaction GUID)"),
        ("caller_id" = Option<String>, Query, description = "Caller id, exact"),
        ("cnam" = Option<String>, Query, description = "Caller name, exact"),
        ("dnis" = Option<String>, Query, description = "Dialled number, exact"),
        ("duration:gte" = Option<u64>, Query, description = "Duration in ms, at least"),
        ("duration:lte" = Option<u64>, Query, description = "Duration in ms, at most"),
        ("extension" = Option<String>, Query, description = "Extension number"),
        ("start:gte" = Option<String>, Query, description = "Start at or after, e.g. 2019-01-01T00:00:00+0000"),
        ("start:lte" = Option<String>, Query, description = "Start at or before"),
        ("order" = Option<String>, Query, description = "start:DESC (default) or start:ASC"),
        ("page" = Option<u64>, Query, minimum = 1, description = "1-based page, default 1"),
        ("page_size" = Option<u64>, Query, minimum = 1, maximum = 100, description = "1..100, default 10"),
        ("transcription_status" = Option<String>, Query, description = "READY, PENDING or FAILED"),
    ),
    responses(
        (status = 200, description = "HAL page: _embedded.transcriptions"),
        (status = 400, description = "A malformed filter, named in `field`"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    ctx.require(Scope::ContentRead)?;
    ctx.account(&account)?;
    let pairs = crate::params::given_pairs(raw.as_deref().unwrap_or_default());
    let mut listing = filters::parse(&pairs)?;
    listing.query.recording_kind = Some(RecordingKind::Company);
    ctx.access().narrow(&mut listing.query);
    listing.query.transcription = Some(status_filter(&pairs)?);
    listing.kept.extend(
        pairs
            .iter()
            .filter(|(k, _)| k == "transcription_status" || k == "status")
            .cloned(),
    );
    let (total, items) = listing
        .fetch(&state, &ctx.actor("list transcriptions"))
        .await?;
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let states = state
        .vault
        .transcription_states(ctx.principal.tenant, &ids)
        .await?;
    let rendered = items
        .iter()
        .filter_map(|i| render(&ctx, i, &states))
        .collect();
    let base = ctx.url(&format!(
        "/accounts/{account}/company_call_recordings/transcriptions"
    ));
    Ok(Json(hal::page(
        "transcriptions",
        rendered,
        &base,
        &listing.kept,
        listing.page,
        listing.page_size,
        total,
    )))
}

/// `GET /v1/api/transcription/{recording_id}`: the transcript document.
#[utoipa::path(
    get,
    path = "/transcription/{recording_id}",
    tag = "Call Recording",
    description = "The transcript of a recording.",
    params(
        ("recording_id" = i64, Path, description = "Recording id"),
    ),
    responses(
        (status = 200, description = "The transcript document (JSON)"),
        (status = 404, description = "No transcript for that recording"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ctx.require(Scope::ContentRead)?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No transcription for recording {id}"),
        )
    };
    let number: i64 = id.parse().map_err(|_| not_found())?;
    let i = state
        .vault
        .interaction_by_number(ctx.principal.tenant, number)
        .await?
        .ok_or_else(not_found)?;
    if !ctx.access().sees(&i) {
        return Err(not_found());
    }
    let t = transcript(&i).ok_or_else(not_found)?;
    serve_content(
        &state.vault,
        &ctx.actor("download transcription"),
        &i.meta.guid,
        t,
        &headers,
        &format!("{number}.transcript.json"),
    )
    .await
}
