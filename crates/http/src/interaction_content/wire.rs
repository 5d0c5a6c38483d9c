//! The JSON shapes of `001`: interactions and content items.

use callvault_core::time::UtcSeconds;
use callvault_core::{CompactString, ContentItem, ContentType, Interaction};
use serde::{Serialize, Serializer};

/// `001` shows phone numbers as JSON numbers (`"connectFrom": 14154204204`). Addresses that
/// are plain numbers without a leading zero and fit a double exactly are written that way;
/// anything else (leading zeros, `+`, e-mail, chat handles) stays a string so no digit is
/// lost.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
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

// The wire shapes borrow from the model and serialize straight into the response body:
// a search page is written without building a `serde_json::Value` tree per item, which
// was most of the server's CPU per page (docs/benchmarks.md). Field order is wire order.

#[derive(Serialize)]
pub struct Id<'a> {
    id: &'a str,
}

#[derive(Serialize)]
pub struct Measure<T> {
    value: T,
}

#[derive(Serialize)]
pub struct Properties {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Measure<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<Measure<u64>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireContent<'a> {
    content_key: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    content_type: &'a str,
    content_length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    owning_agent: Option<Id<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owning_interaction_plan: Option<Id<'a>>,
    last_modified: UtcSeconds,
    properties: Properties,
}

pub fn content_item(c: &ContentItem) -> WireContent<'_> {
    // Owners are shown only on the types they belong to, durations only where they mean one.
    let owning_agent = c
        .owning_agent
        .as_deref()
        .filter(|_| c.content_type == ContentType::Voicemail)
        .map(|id| Id { id });
    let owning_interaction_plan = c
        .owning_interaction_plan
        .as_deref()
        .filter(|_| c.content_type == ContentType::IvrAudioRecording)
        .map(|id| Id { id });
    let duration = c
        .duration_ms
        .filter(|_| c.content_type.has_duration())
        .map(|value| Measure { value });
    WireContent {
        content_key: &c.key,
        kind: c.content_type.as_str(),
        content_type: &c.media_type,
        content_length: c.length,
        owning_agent,
        owning_interaction_plan,
        last_modified: UtcSeconds(c.last_modified),
        properties: Properties {
            version: c.version.map(|value| Measure { value }),
            duration,
        },
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireInteraction<'a> {
    guid: &'a str,
    start: UtcSeconds,
    connect_from: Address<'a>,
    connect_to: Address<'a>,
    direction: &'static str,
    handling_agents: Agents<'a>,
    content: Contents<'a>,
}

/// `[{"id": ...}]` of each agent, written from the model's list without collecting it.
pub struct Agents<'a>(&'a [CompactString]);

impl Serialize for Agents<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|id| Id { id }))
    }
}

/// An interaction's content items, each mapped as it is written.
pub struct Contents<'a>(&'a [ContentItem]);

impl Serialize for Contents<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(content_item))
    }
}

/// A page's interactions, each mapped as it is written.
pub struct Interactions<'a>(pub &'a [Interaction]);

impl Serialize for Interactions<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(interaction))
    }
}

/// A buffer size that holds a page of `items` interactions in one allocation: one with
/// a recording, a caller name, one agent and no attributes takes about 370 bytes.
pub fn page_size_hint(items: usize) -> usize {
    256 + items * 512
}

pub fn interaction(i: &Interaction) -> WireInteraction<'_> {
    let m = &i.meta;
    WireInteraction {
        guid: m.guid.as_str(),
        start: UtcSeconds(m.start),
        connect_from: address(&m.connect_from),
        connect_to: address(&m.connect_to),
        direction: m.direction.as_str(),
        handling_agents: Agents(&m.handling_agents),
        content: Contents(&i.content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let json = |s| serde_json::to_value(address(s)).unwrap();
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
}
