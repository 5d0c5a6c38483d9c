//! The JSON shapes of `001`: interactions and content items.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use callvault_core::time::UtcSeconds;
use callvault_core::{ContentItem, ContentType, Interaction};

/// `001` shows phone numbers as JSON numbers (`"connectFrom": 14154204204`). Addresses that
/// are plain numbers without a leading zero and fit a double exactly are written that way;
/// anything else (leading zeros, `+`, e-mail, chat handles) stays a string so no digit is
/// lost.
#[derive(Debug, PartialEq)]
pub enum Address<'a> {
    Number(u64),
    Text(&'a str),
}

pub fn address(s: &str) -> Address<'_> {
    let numeric = !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    match numeric.then(|| s.parse::<u64>().ok()).flatten() {
        Some(n) => Address::Number(n),
        None => Address::Text(s),
    }
}

// The shapes are written as JSON bytes straight from the model, in wire order: a search
// page of a thousand interactions is most of the server's CPU beyond SQLite's, and
// through serde every key of every item went through JSON escaping again
// (docs/benchmarks.md). Keys and the values callvault itself produces (GUIDs, enum names,
// numbers, timestamps) are written as they are; every text that came from a client goes
// through serde_json's escaping.

/// A JSON body written by this module, answered as `application/json`.
pub struct JsonBody(pub Vec<u8>);

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        let json = HeaderValue::from_static("application/json");
        ([(header::CONTENT_TYPE, json)], self.0).into_response()
    }
}

/// One interaction as its own body.
pub fn interaction_body(i: &Interaction) -> JsonBody {
    let mut out = Vec::with_capacity(page_size_hint(1));
    write_interaction(&mut out, i);
    JsonBody(out)
}

/// One content item as its own body.
pub fn content_body(c: &ContentItem) -> JsonBody {
    let mut out = Vec::with_capacity(256);
    write_content(&mut out, c);
    JsonBody(out)
}

/// A buffer size that holds a page of `items` interactions in one allocation: one with
/// a recording, a caller name, one agent and no attributes takes about 370 bytes.
pub fn page_size_hint(items: usize) -> usize {
    256 + items * 512
}

/// `[...]` of a page's interactions.
pub fn write_interactions(out: &mut Vec<u8>, items: &[Interaction]) {
    out.push(b'[');
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_interaction(out, i);
    }
    out.push(b']');
}

pub fn write_interaction(out: &mut Vec<u8>, i: &Interaction) {
    let m = &i.meta;
    out.extend_from_slice(b"{\"guid\":\"");
    out.extend_from_slice(m.guid.as_str().as_bytes());
    out.extend_from_slice(b"\",\"start\":");
    time(out, m.start);
    out.extend_from_slice(b",\"connectFrom\":");
    write_address(out, &m.connect_from);
    out.extend_from_slice(b",\"connectTo\":");
    write_address(out, &m.connect_to);
    out.extend_from_slice(b",\"direction\":\"");
    out.extend_from_slice(m.direction.as_str().as_bytes());
    out.extend_from_slice(b"\",\"handlingAgents\":[");
    for (n, id) in m.handling_agents.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_id(out, id);
    }
    out.extend_from_slice(b"],\"content\":[");
    for (n, c) in i.content.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_content(out, c);
    }
    out.extend_from_slice(b"]}");
}

pub fn write_content(out: &mut Vec<u8>, c: &ContentItem) {
    out.extend_from_slice(b"{\"contentKey\":");
    text(out, &c.key);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(c.content_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"contentType\":");
    text(out, &c.media_type);
    out.extend_from_slice(b",\"contentLength\":");
    number(out, c.length);
    // Owners are shown only on the types they belong to, durations only where they mean one.
    if let Some(id) = c
        .owning_agent
        .as_deref()
        .filter(|_| c.content_type == ContentType::Voicemail)
    {
        out.extend_from_slice(b",\"owningAgent\":");
        write_id(out, id);
    }
    if let Some(id) = c
        .owning_interaction_plan
        .as_deref()
        .filter(|_| c.content_type == ContentType::IvrAudioRecording)
    {
        out.extend_from_slice(b",\"owningInteractionPlan\":");
        write_id(out, id);
    }
    out.extend_from_slice(b",\"lastModified\":");
    time(out, c.last_modified);
    out.extend_from_slice(b",\"properties\":{");
    let duration = c.duration_ms.filter(|_| c.content_type.has_duration());
    if let Some(v) = c.version {
        out.extend_from_slice(b"\"version\":{\"value\":");
        number(out, u64::from(v));
        out.push(b'}');
    }
    if let Some(v) = duration {
        if c.version.is_some() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"duration\":{\"value\":");
        number(out, v);
        out.push(b'}');
    }
    out.extend_from_slice(b"}}");
}

/// `{"id": ...}`.
fn write_id(out: &mut Vec<u8>, id: &str) {
    out.extend_from_slice(b"{\"id\":");
    text(out, id);
    out.push(b'}');
}

fn write_address(out: &mut Vec<u8>, s: &str) {
    match address(s) {
        Address::Number(n) => number(out, n),
        Address::Text(t) => text(out, t),
    }
}

/// A client's text as a JSON string, escaped by serde_json.
fn text(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn time(out: &mut Vec<u8>, t: chrono::DateTime<chrono::Utc>) {
    out.push(b'"');
    match UtcSeconds(t).fixed() {
        Some(b) => out.extend_from_slice(&b),
        None => out.extend_from_slice(UtcSeconds(t).to_string().as_bytes()),
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use callvault_core::{Direction, Guid, InteractionMeta, TenantId};
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn addresses() {
        let json = |s| {
            let mut out = Vec::new();
            write_address(&mut out, s);
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()
        };
        assert_eq!(json("14154204204"), serde_json::json!(14154204204u64));
        assert_eq!(json("01473123456"), serde_json::json!("01473123456"));
        assert_eq!(json("+441473"), serde_json::json!("+441473"));
        assert_eq!(json("a@b.c"), serde_json::json!("a@b.c"));
        assert_eq!(json("0"), serde_json::json!(0));
        assert_eq!(
            json("1234567890123456"),
            serde_json::json!("1234567890123456")
        );
    }

    fn voicemail(text: &str) -> Interaction {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 8, 9, 10).unwrap();
        Interaction {
            id: 1,
            tenant_id: TenantId(1),
            number: 1,
            meta: InteractionMeta {
                guid: Guid::parse("g", "6f1c1b3e-9b7a-4c2e-8f7d-0a1b2c3d4e5f").unwrap(),
                start: at,
                end: None,
                direction: Direction::Inbound,
                connect_from: text.into(),
                connect_to: "14155550100".into(),
                caller_name: None,
                handling_agents: vec![text.into(), "7".into()],
                extensions: vec![],
                queue_id: None,
                queue_name: None,
                channel: None,
                attributes: Default::default(),
            },
            content: vec![ContentItem {
                key: "voicemail-1".into(),
                content_type: ContentType::Voicemail,
                media_type: text.into(),
                length: 42,
                sha256: String::new(),
                last_modified: at,
                duration_ms: Some(1500),
                version: Some(2),
                owning_agent: Some(text.into()),
                owning_interaction_plan: Some("plan".into()),
                blob_key: String::new(),
            }],
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn an_interaction_is_written_in_wire_order_with_owners_only_where_they_belong() {
        let mut out = Vec::new();
        write_interaction(&mut out, &voicemail("+44"));
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"guid":"6f1c1b3e-9b7a-4c2e-8f7d-0a1b2c3d4e5f","start":"2026-12-07T08:09:10Z","connectFrom":"+44","connectTo":14155550100,"direction":"inbound","handlingAgents":[{"id":"+44"},{"id":"7"}],"content":[{"contentKey":"voicemail-1","type":"voicemail","contentType":"+44","contentLength":42,"owningAgent":{"id":"+44"},"lastModified":"2026-12-07T08:09:10Z","properties":{"version":{"value":2},"duration":{"value":1500}}}]}"#
        );
    }

    #[test]
    fn a_clients_text_is_escaped_and_reads_back_as_it_was() {
        let text = "q\"b\\s\u{1}\n\u{e9}</script>";
        let mut out = Vec::new();
        write_interactions(&mut out, &[voicemail(text), voicemail("1")]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["connectFrom"], text);
        assert_eq!(v[0]["handlingAgents"][0]["id"], text);
        assert_eq!(v[0]["content"][0]["contentType"], text);
        assert_eq!(v[0]["content"][0]["owningAgent"]["id"], text);
        assert_eq!(v[1]["connectFrom"], 1);
    }
}
