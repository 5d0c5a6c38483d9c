//! The JSON shapes of `002`.

use callvault_core::{ContentItem, ContentType, Direction, Interaction};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use callvault_core::content::extension_for;

/// `2019-01-01T00:00:00+0000`, as the seed writes every timestamp.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

pub fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "INBOUND",
        Direction::Outbound => "OUTBOUND",
        Direction::Internal => "INTRA_PBX",
    }
}

/// The seed shows extensions and rule ids as integers; values that are not integers stay
/// strings rather than being lost.
fn numbers(values: &[String]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| {
                v.parse::<i64>()
                    .map_or_else(|_| Value::from(v.as_str()), Value::from)
            })
            .collect(),
    )
}

pub fn recording_item(i: &Interaction) -> Option<&ContentItem> {
    i.content
        .iter()
        .find(|c| c.content_type == ContentType::CallRecording)
}

pub fn duration_ms(i: &Interaction, rec: &ContentItem) -> u64 {
    rec.duration_ms.unwrap_or_else(|| {
        i.meta
            .end
            .map_or(0, |e| (e - i.meta.start).num_milliseconds().max(0) as u64)
    })
}

/// A recording object; `self_href` differs between company and on-demand listings.
pub fn recording(
    i: &Interaction,
    rec: &ContentItem,
    self_href: String,
    download_url: String,
) -> Value {
    let m = &i.meta;
    let duration = duration_ms(i, rec);
    let end = m
        .end
        .unwrap_or(m.start + Duration::milliseconds(duration.min(i64::MAX as u64) as i64));
    json!({
        "_links": { "self": { "href": self_href } },
        "call_direction": direction(m.direction),
        "call_id": m.guid.as_str(),
        "caller_id": m.connect_from,
        "cnam": m.caller_name.clone().unwrap_or_default(),
        "dnis": m.connect_to,
        "download_url": download_url,
        "duration": duration,
        "end": time(end),
        "extensions": numbers(&m.extensions),
        "file_name": format!("{}.{}.{}", i.number, m.guid, extension_for(&rec.media_type)),
        "file_size_in_bytes": rec.length,
        "id": i.number,
        "rule_ids": numbers(&m.attributes.recording_rule_ids),
        "start": time(m.start),
    })
}
