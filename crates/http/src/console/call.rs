//! The interaction page and what its player fetches: the recording's bytes (through the
//! same `serve_content` as every dialect's download, with the console user as the
//! principal: the player's route records every read as a play, the download links' route
//! a ranged read of part of an item as a play and any other read as a download) and its
//! waveform. Every route answers 404 for a call the viewer may not see, as for one that
//! does not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use callvault_core::content::{extension_for, MediaFamily};
use callvault_core::transcript::indexed_text;
use callvault_core::{CompactString, ContentItem, ContentType, Guid, Interaction};
use callvault_services::content::resolve_key;
use callvault_services::ServiceError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::find::{clock, duration_ms};
use super::govern::{self, CallGovernance};
use super::holds::time_zone;
use super::page::{self, Nav};
use super::session::Viewer;
use crate::range::{serve_read, Reading};
use crate::AppState;

/// Largest transcript, chat or summary shown in the page (larger ones are downloads).
const MAX_SHOWN: u64 = 2 * 1024 * 1024;

/// A line of a transcript or chat: when, who, what.
pub struct Line {
    pub start_ms: u64,
    pub at: String,
    pub speaker: String,
    pub text: String,
}

pub struct ItemView {
    pub key: String,
    pub kind: &'static str,
    pub media_type: String,
    pub size: String,
    pub duration: String,
    pub href: String,
    pub lines: Vec<Line>,
    pub text: Option<String>,
    pub actions: Vec<String>,
    /// A JSON document without a form of its own (sentiment, categorisation) as
    /// labelled values.
    pub facts: Vec<(String, String)>,
    /// A screen or video recording's player source: the audited, ranged play route.
    pub video: Option<String>,
}

pub struct Player {
    pub src: String,
    pub download: String,
    pub peaks: String,
}

#[derive(Template)]
#[template(path = "console/call.html")]
struct CallPage {
    nav: Option<Nav>,
    guid: String,
    when: String,
    meta: Vec<(&'static str, String)>,
    player: Option<Player>,
    transcript: Vec<Line>,
    items: Vec<ItemView>,
    can_delete: bool,
    csrf: String,
    refusal: Option<String>,
    /// Holds, retention and the audit trail, for admins.
    govern: Option<CallGovernance>,
}

/// The interaction page's query: which page of its audit trail to show.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CallParams {
    audit_before: Option<i64>,
}

/// The interaction if it exists and the viewer may see it; else the not-found page.
pub async fn visible(
    state: &AppState,
    viewer: &Viewer,
    guid: &str,
) -> Result<Interaction, Response> {
    let guid = Guid::parse("guid", guid).map_err(|_| page::not_found(viewer.nav()))?;
    match state
        .vault
        .interaction(viewer.principal.tenant, &guid)
        .await
    {
        Ok(i) if viewer.access().sees(&i) => Ok(i),
        Ok(_) | Err(ServiceError::NotFound(_)) => Err(page::not_found(viewer.nav())),
        Err(e) => Err(page::service_error(viewer.nav(), e)),
    }
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(guid): Path<String>,
    Query(p): Query<CallParams>,
) -> Response {
    let i = match visible(&state, &viewer, &guid).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    state.vault.viewed(&viewer.actor("view"), &i).await;
    render(&state, &viewer, &i, None, p.audit_before).await
}

/// The page, with the reason a delete was refused if it was (then answered as 409), and
/// for admins the page of the call's audit trail before `audit_before`.
pub async fn render(
    state: &AppState,
    viewer: &Viewer,
    i: &Interaction,
    refusal: Option<String>,
    audit_before: Option<i64>,
) -> Response {
    let tz = match time_zone(state, viewer).await {
        Ok(tz) => tz,
        Err(resp) => return resp,
    };
    let govern = if viewer.is_admin() {
        match govern::of(state, viewer, i, tz, audit_before).await {
            Ok(g) => Some(g),
            Err(e) => return page::service_error(viewer.nav(), e),
        }
    } else {
        None
    };
    let guid = i.meta.guid.to_string();
    let href = |c: &ContentItem| format!("/calls/{guid}/content/{}", c.key);
    let audio = [
        ContentType::CallRecording,
        ContentType::Voicemail,
        ContentType::IvrAudioRecording,
    ]
    .iter()
    .find_map(|t| i.content.iter().find(|c| c.content_type == *t));
    let player = audio.map(|c| Player {
        src: format!("/calls/{guid}/play/{}", c.key),
        download: href(c),
        peaks: format!("/calls/{guid}/peaks/{}", c.key),
    });
    let actor = viewer.actor("show content");
    let mut transcript = Vec::new();
    let mut items = Vec::new();
    for c in &i.content {
        let mut view = ItemView {
            key: c.key.to_string(),
            kind: c.content_type.as_str(),
            media_type: c.media_type.to_string(),
            size: size(c.length),
            duration: c.duration_ms.map(clock).unwrap_or_default(),
            href: href(c),
            lines: Vec::new(),
            text: None,
            actions: Vec::new(),
            facts: Vec::new(),
            video: (c.content_type.media_family() == MediaFamily::Video)
                .then(|| format!("/calls/{guid}/play/{}", c.key)),
        };
        let shown = matches!(
            c.content_type,
            ContentType::Transcript
                | ContentType::ChatTranscript
                | ContentType::ConversationSummary
                | ContentType::SentimentSummary
                | ContentType::CategorizationResult
        );
        if shown && c.content_type.media_family() == MediaFamily::Json && c.length <= MAX_SHOWN {
            let bytes = match state
                .vault
                .read_document(&actor, &i.meta.guid, c, MAX_SHOWN)
                .await
            {
                Ok(b) => b,
                Err(e) => return page::service_error(viewer.nav(), e),
            };
            match c.content_type {
                ContentType::Transcript if transcript.is_empty() => {
                    transcript = lines(c.content_type, &bytes);
                }
                ContentType::ChatTranscript => view.lines = lines(c.content_type, &bytes),
                ContentType::ConversationSummary => {
                    let doc: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                    view.text = doc["summary"].as_str().map(str::to_string);
                    view.actions = doc["actionItems"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                }
                ContentType::SentimentSummary | ContentType::CategorizationResult => {
                    let doc: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                    view.facts = super::facts::of(&doc);
                }
                _ => {}
            }
        }
        items.push(view);
    }
    let m = &i.meta;
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    };
    let mut meta = vec![
        ("Start", local(m.start)),
        ("End", m.end.map(local).unwrap_or_default()),
        ("Duration", duration_ms(i).map(clock).unwrap_or_default()),
        ("Direction", m.direction.as_str().to_string()),
        ("From", m.connect_from.to_string()),
        ("To", m.connect_to.to_string()),
        ("Caller name", text(m.caller_name.as_ref())),
        ("Agents", m.handling_agents.join(", ")),
        ("Queue", text(m.queue_name.as_ref().or(m.queue_id.as_ref()))),
        ("Channel", text(m.channel.as_ref())),
        ("Interaction id", guid.clone()),
    ];
    meta.retain(|(_, v)| !v.is_empty());
    let status = if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let page = CallPage {
        nav: Some(viewer.nav()),
        when: local(m.start),
        guid,
        meta,
        player,
        transcript,
        items,
        can_delete: viewer.is_admin(),
        csrf: viewer.csrf(),
        refusal,
        govern,
    };
    page::render(status, &page)
}

fn lines(t: ContentType, bytes: &[u8]) -> Vec<Line> {
    indexed_text(t, bytes)
        .into_iter()
        .map(|s| Line {
            start_ms: s.start_ms,
            at: clock(s.start_ms),
            speaker: s.speaker.unwrap_or_default(),
            text: s.text,
        })
        .collect()
}

pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} kB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// An item's bytes for a download link.
pub async fn content(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((guid, key)): Path<(String, String)>,
) -> Response {
    read(&state, &viewer, &headers, (&guid, &key), Reading::ByRange).await
}

/// An item's bytes for the player.
pub async fn play(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((guid, key)): Path<(String, String)>,
) -> Response {
    read(&state, &viewer, &headers, (&guid, &key), Reading::Playback).await
}

async fn read(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    (guid, key): (&str, &str),
    reading: Reading,
) -> Response {
    let i = match visible(state, viewer, guid).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let Ok(item) = resolve_key(&i, key) else {
        return page::not_found(viewer.nav());
    };
    let name = format!(
        "{}-{}.{}",
        i.meta.guid,
        item.key,
        extension_for(&item.media_type)
    );
    let actor = viewer.actor("read content");
    serve_read(
        &state.vault,
        &actor,
        (&i.meta.guid, item),
        headers,
        &name,
        reading,
    )
    .await
    .unwrap_or_else(|e| e.into_response())
}

/// A waveform as the player takes it; serialized from `f32`, so each value is as short
/// as it prints (`0.57`, not its `f64` widening).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PeaksWire<'a> {
    duration_ms: u64,
    peaks: &'a [f32],
}

/// An audio item's waveform for the player: `{durationMs, peaks}`.
pub async fn peaks(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((guid, key)): Path<(String, String)>,
) -> Response {
    let i = match visible(&state, &viewer, &guid).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let item = match resolve_key(&i, &key) {
        Ok(c) if c.content_type.media_family() == MediaFamily::Audio => c,
        _ => return page::not_found(viewer.nav()),
    };
    match state.vault.peaks(item).await {
        Ok(p) => Json(PeaksWire {
            duration_ms: p.duration_ms,
            peaks: &p.values,
        })
        .into_response(),
        Err(e) => page::service_error(viewer.nav(), e),
    }
}

/// A short field as shown, empty when absent.
fn text(v: Option<&CompactString>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}
