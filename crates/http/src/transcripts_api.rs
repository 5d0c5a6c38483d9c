//! callvault's own transcription API under `/transcripts/`: search by what was said,
//! re-transcribe one recording, and where transcription stands. It changes no vendor
//! dialect; the transcripts it finds are the `transcript` items every dialect serves.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use callvault_core::time::{format_utc_millis as time, parse_instant};
use callvault_core::transcript::TextQuery;
use callvault_core::{Direction, Guid, InteractionQuery, Scope};
use callvault_services::transcription::{TextMatch, TextSearch};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::params::{NoParams, Params};
use crate::AppState;

const DIALECT: &str = "transcripts";
const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 25;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(status))
        .routes(routes!(retranscribe))
}

/// One interaction that matched, with its matching segments.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextResult {
    guid: String,
    start: String,
    direction: &'static str,
    connect_from: String,
    connect_to: String,
    handling_agents: Vec<String>,
    hits: Vec<HitWire>,
}

/// A segment that matched: where it is in the recording, who spoke, and its hits.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HitWire {
    content_key: String,
    start_ms: u64,
    end_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    speaker: Option<String>,
    /// The segment's text as stored (JSON-escaped only).
    text: String,
    /// `[start, end)` character offsets of each hit in `text`.
    highlights: Vec<[usize; 2]>,
    /// `text` HTML-escaped, each hit in `<mark>`.
    snippet: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextResults {
    items: Vec<TextResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
}

/// The text with each hit range in `<mark>`, everything escaped.
fn snippet(text: &str, hits: &[(usize, usize)]) -> String {
    use quick_xml::escape::escape;
    let chars: Vec<char> = text.chars().collect();
    let piece = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    let mut out = String::new();
    let mut at = 0;
    for &(s, e) in hits {
        let (s, e) = (s.min(chars.len()).max(at), e.min(chars.len()));
        if s >= e {
            continue;
        }
        out.push_str(&escape(piece(at, s)));
        out.push_str("<mark>");
        out.push_str(&escape(piece(s, e)));
        out.push_str("</mark>");
        at = e;
    }
    out.push_str(&escape(piece(at, chars.len())));
    out
}

fn hit(m: TextMatch) -> HitWire {
    HitWire {
        snippet: snippet(&m.text, &m.hits),
        highlights: m.hits.iter().map(|(s, e)| [*s, *e]).collect(),
        content_key: m.content_key,
        start_ms: m.start_ms,
        end_ms: m.end_ms,
        speaker: m.speaker,
        text: m.text,
    }
}

fn query(params: &Params) -> Result<InteractionQuery, ApiError> {
    let instant = |name: &str| params.get(name).map(|v| parse_instant(name, v)).transpose();
    let (from, to) = (instant("from")?, instant("to")?);
    let start = match (from, to) {
        (None, None) => None,
        (f, t) => Some((
            f.unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            t.unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        )),
    };
    if let Some((f, t)) = start {
        if f > t {
            return Err(ApiError::bad_request("from", "from must not be after to"));
        }
    }
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match params.get(name).map(str::trim) {
            None => Ok(None),
            Some("") => Err(ApiError::bad_request(
                name,
                format!("{name} must not be empty"),
            )),
            Some(v) => {
                callvault_core::interaction::check_identifier(name, v)?;
                Ok(Some(v.to_string()))
            }
        }
    };
    Ok(InteractionQuery {
        start,
        direction: params
            .get("direction")
            .map(|d| Direction::parse("direction", d.trim()))
            .transpose()?,
        handling_agent: text("agent")?,
        connect_from_prefix: text("fromNumber")?,
        connect_to_prefix: text("toNumber")?,
        newest_first: match params.get("order").unwrap_or("newest") {
            "newest" => true,
            "oldest" => false,
            _ => {
                return Err(ApiError::bad_request(
                    "order",
                    "order must be newest or oldest",
                ))
            }
        },
        ..Default::default()
    })
}

#[utoipa::path(
    get,
    path = "/transcripts/search",
    tag = "Transcripts",
    description = "Interactions whose transcript or chat transcript has a segment holding every word and quoted phrase of `q` (English stemming: `refunds` finds `refund`), with the usual filters, newest first.",
    params(
        ("q" = String, Query, description = "Words and \"quoted phrases\", at most 256 characters and 16 terms"),
        ("from" = Option<String>, Query, description = "Start at or after (ISO 8601)"),
        ("to" = Option<String>, Query, description = "Start at or before (ISO 8601)"),
        ("agent" = Option<String>, Query, description = "A handling agent's id"),
        ("direction" = Option<String>, Query, description = "inbound, outbound or internal"),
        ("fromNumber" = Option<String>, Query, description = "Calling number prefix"),
        ("toNumber" = Option<String>, Query, description = "Called number prefix"),
        ("order" = Option<String>, Query, description = "newest (default) or oldest"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Interactions per page (default 25)"),
        ("continuationToken" = Option<String>, Query, description = "From the previous page"),
    ),
    responses(
        (status = 200, body = TextResults, description = "A page of matches; `continuationToken` while more follow"),
        (status = 400, description = "A bad parameter, named in `field`"),
        (status = 403, description = "Token lacks interaction-content:read"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn search(
    State(state): State<AppState>,
    auth: Authed,
    params: Params,
) -> ApiResult<Json<TextResults>> {
    auth.require(Scope::ContentRead)?;
    params.only(&[
        "q",
        "from",
        "to",
        "agent",
        "direction",
        "fromNumber",
        "toNumber",
        "order",
        "limit",
        "continuationToken",
    ])?;
    let text = TextQuery::parse("q", params.required("q")?)?;
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let s = TextSearch {
        query: query(&params)?,
        text,
        token: params
            .get("continuationToken")
            .map(|t| ("continuationToken".to_string(), t.to_string())),
        limit,
    };
    let page = state
        .vault
        .search_text(&auth.actor(DIALECT, "search transcripts"), &s)
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|(i, hits)| TextResult {
            guid: i.meta.guid.to_string(),
            start: time(i.meta.start),
            direction: i.meta.direction.as_str(),
            connect_from: i.meta.connect_from.into_string(),
            connect_to: i.meta.connect_to.into_string(),
            handling_agents: i
                .meta
                .handling_agents
                .into_iter()
                .map(|a| a.into_string())
                .collect(),
            hits: hits.into_iter().map(hit).collect(),
        })
        .collect();
    Ok(Json(TextResults {
        items,
        continuation_token: page.next_token,
    }))
}

/// Where transcription stands for the tenant.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusWire {
    /// The default engine: pocketsphinx, openai or none.
    engine: &'static str,
    /// Whether new recordings of this tenant are transcribed.
    on: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    off_because: Option<String>,
    /// The tenant's jobs per state: pending, in_progress, ready, failed.
    #[schema(value_type = Object)]
    jobs: std::collections::BTreeMap<&'static str, u64>,
}

#[utoipa::path(
    get,
    path = "/transcripts/status",
    tag = "Transcripts",
    responses(
        (status = 200, body = StatusWire, description = "The engine, whether it is on, and the tenant's jobs per state"),
        (status = 403, description = "Token lacks interaction-content:read"),
    ),
    security(("bearer" = ["interaction-content:read"]))
)]
pub async fn status(
    State(state): State<AppState>,
    auth: Authed,
    _: NoParams,
) -> ApiResult<Json<StatusWire>> {
    let tenant = auth.require(Scope::ContentRead)?.tenant;
    let s = state.vault.transcription_status(Some(tenant)).await?;
    Ok(Json(StatusWire {
        engine: s.engine.as_str(),
        on: s.off_because.is_none(),
        off_because: s.off_because,
        jobs: s.jobs,
    }))
}

#[utoipa::path(
    post,
    path = "/transcripts/{guid}/retranscribe",
    tag = "Transcripts",
    description = "Queues the interaction's call recording (or first voicemail) for transcription from scratch; the current transcript stays until the new one replaces it.",
    params(("guid" = String, Path, description = "Interaction GUID")),
    responses(
        (status = 202, description = "Queued"),
        (status = 404, description = "No such interaction"),
        (status = 409, description = "The interaction has nothing to transcribe"),
        (status = 503, description = "Transcription is off for this tenant, with the reason"),
    ),
    security(("bearer" = ["interaction-content:write"]))
)]
pub async fn retranscribe(
    State(state): State<AppState>,
    auth: Authed,
    Path(guid): Path<String>,
    _: NoParams,
) -> ApiResult<StatusCode> {
    let tenant = auth.require(Scope::ContentWrite)?.tenant;
    let guid = Guid::parse("guid", &guid)?;
    let i = state.vault.interaction(tenant, &guid).await?;
    state.vault.retranscribe(tenant, &i).await?;
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_escape_everything_and_mark_only_hits() {
        assert_eq!(
            snippet("a <b> & \"refund\" now", &[(9, 15)]),
            "a &lt;b&gt; &amp; &quot;<mark>refund</mark>&quot; now"
        );
        assert_eq!(
            snippet("héllo wörld", &[(6, 11)]),
            "héllo <mark>wörld</mark>"
        );
        // Ranges past the end or overlapping are clipped, never a panic.
        assert_eq!(snippet("abc", &[(1, 9), (0, 2)]), "a<mark>bc</mark>");
    }
}
