//! Mapping between SQLite rows and domain types.

pub(crate) use crate::decode::{content, from_us, interaction, tenant, to_us};

pub const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, i.end_us, \
     i.direction, i.connect_from, i.connect_to, i.caller_name, i.agents, i.extensions, \
     i.queue_id, i.queue_name, i.channel, i.attributes, i.created_us, i.updated_us";

pub const CONTENT_COLUMNS: &str = "interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan";

pub fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
