//! The JSON shapes of `001`: interactions and content items.

use callvault_core::time::format_utc_seconds;
use callvault_core::{ContentItem, ContentType, Interaction};
use serde_json::{json, Map, Value};

/// `001` shows phone numbers as JSON numbers (`"connectFrom": 14154204204`). Addresses that
/// are plain numbers without a leading zero and fit a double exactly are written that way;
/// anything else (leading zeros, `+`, e-mail, chat handles) stays a string so no digit is
/// lost.
pub fn address(s: &str) -> Value {
    let numeric = !s.is_empty()
        && s.len() <= 15
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    match numeric.then(|| s.parse::<u64>().ok()).flatten() {
        Some(n) => Value::from(n),
        None => Value::from(s),
    }
}

pub fn content_item(c: &ContentItem) -> Value {
    let mut o = Map::new();
    o.insert("contentKey".into(), c.key.clone().into());
    o.insert("type".into(), c.content_type.as_str().into());
    o.insert("contentType".into(), c.media_type.clone().into());
    o.insert("contentLength".into(), c.length.into());
    if c.content_type == ContentType::Voicemail {
        if let Some(agent) = &c.owning_agent {
            o.insert("owningAgent".into(), json!({ "id": agent }));
        }
    }
    if c.content_type == ContentType::IvrAudioRecording {
        if let Some(plan) = &c.owning_interaction_plan {
            o.insert("owningInteractionPlan".into(), json!({ "id": plan }));
        }
    }
    o.insert(
        "lastModified".into(),
        format_utc_seconds(c.last_modified).into(),
    );
    let mut props = Map::new();
    if let Some(v) = c.version {
        props.insert("version".into(), json!({ "value": v }));
    }
    if c.content_type.has_duration() {
        if let Some(d) = c.duration_ms {
            props.insert("duration".into(), json!({ "value": d }));
        }
    }
    o.insert("properties".into(), Value::Object(props));
    Value::Object(o)
}

pub fn interaction(i: &Interaction) -> Value {
    let m = &i.meta;
    json!({
        "guid": m.guid.as_str(),
        "start": format_utc_seconds(m.start),
        "connectFrom": address(&m.connect_from),
        "connectTo": address(&m.connect_to),
        "direction": m.direction.as_str(),
        "handlingAgents": m.handling_agents.iter().map(|a| json!({ "id": a })).collect::<Vec<_>>(),
        "content": i.content.iter().map(content_item).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address("14154204204"), json!(14154204204u64));
        assert_eq!(address("01473123456"), json!("01473123456"));
        assert_eq!(address("+441473"), json!("+441473"));
        assert_eq!(address("a@b.c"), json!("a@b.c"));
        assert_eq!(address("0"), json!(0));
        assert_eq!(address("1234567890123456"), json!("1234567890123456"));
    }
}
