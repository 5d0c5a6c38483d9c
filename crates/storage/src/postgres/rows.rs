//! Mapping between PostgreSQL rows and domain types; decodes exactly what the SQLite
//! store's rows decode (JSON columns are selected as text and parsed the same way).

use callvault_core::{
    Attributes, ContentItem, ContentType, Direction, Guid, Interaction, InteractionMeta, Tenant,
    TenantId,
};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::error::{StoreError, StoreResult};
use crate::meta::AccessToken;

pub fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn now_us() -> i64 {
    to_us(Utc::now())
}

/// PostgreSQL text cannot hold U+0000, so no stored value contains it: a lookup or filter
/// value that does cannot match anything. Checking first answers "nothing" as SQLite
/// does, instead of the server's encoding error.
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {detail}"))
}

pub const TENANT_COLUMNS: &str = "id, name, time_zone, created_us";

pub fn tenant(row: &PgRow) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: TenantId(row.try_get("id")?),
        name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        created_at: from_us(row.try_get("created_us")?),
    })
}

pub const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, \
     i.end_us, i.direction, i.connect_from, i.connect_to, i.caller_name, \
     i.agents::text AS agents, i.extensions::text AS extensions, i.queue_id, i.queue_name, \
     i.channel, i.attributes::text AS attributes, i.created_us, i.updated_us";

pub fn interaction(row: &PgRow) -> StoreResult<Interaction> {
    let guid: String = row.try_get("guid")?;
    let direction: String = row.try_get("direction")?;
    let agents: String = row.try_get("agents")?;
    let extensions: String = row.try_get("extensions")?;
    let attributes: String = row.try_get("attributes")?;
    let end_us: Option<i64> = row.try_get("end_us")?;
    Ok(Interaction {
        id: row.try_get("id")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        number: row.try_get("number")?,
        meta: InteractionMeta {
            guid: Guid::parse("guid", &guid).map_err(|e| corrupt("guid", e))?,
            start: from_us(row.try_get("start_us")?),
            end: end_us.map(from_us),
            direction: Direction::parse("direction", &direction)
                .map_err(|e| corrupt("direction", e))?,
            connect_from: row.try_get("connect_from")?,
            connect_to: row.try_get("connect_to")?,
            caller_name: row.try_get("caller_name")?,
            handling_agents: serde_json::from_str(&agents).map_err(|e| corrupt("agents", e))?,
            extensions: serde_json::from_str(&extensions).map_err(|e| corrupt("extensions", e))?,
            queue_id: row.try_get("queue_id")?,
            queue_name: row.try_get("queue_name")?,
            channel: row.try_get("channel")?,
            attributes: serde_json::from_str::<Attributes>(&attributes)
                .map_err(|e| corrupt("attributes", e))?,
        },
        content: Vec::new(),
        created_at: from_us(row.try_get("created_us")?),
        updated_at: from_us(row.try_get("updated_us")?),
    })
}

pub const CONTENT_COLUMNS: &str = "interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan";

/// `CONTENT_COLUMNS` qualified by the alias `c`, for joins.
pub const C_CONTENT_COLUMNS: &str = "c.interaction_id, c.content_key, c.content_type, \
     c.media_type, c.length, c.sha256, c.blob_key, c.last_modified_us, c.duration_ms, \
     c.version, c.owning_agent, c.owning_plan";

pub fn content(row: &PgRow) -> StoreResult<(i64, ContentItem)> {
    let t: String = row.try_get("content_type")?;
    let length: i64 = row.try_get("length")?;
    let duration: Option<i64> = row.try_get("duration_ms")?;
    let version: Option<i64> = row.try_get("version")?;
    Ok((
        row.try_get("interaction_id")?,
        ContentItem {
            key: row.try_get("content_key")?,
            content_type: ContentType::parse(&t).ok_or_else(|| corrupt("content type", &t))?,
            media_type: row.try_get("media_type")?,
            length: length.max(0) as u64,
            sha256: row.try_get("sha256")?,
            last_modified: from_us(row.try_get("last_modified_us")?),
            duration_ms: duration.map(|d| d.max(0) as u64),
            version: version.map(|v| v.clamp(0, u32::MAX as i64) as u32),
            owning_agent: row.try_get("owning_agent")?,
            owning_interaction_plan: row.try_get("owning_plan")?,
            blob_key: row.try_get("blob_key")?,
        },
    ))
}

pub const TOKEN_COLUMNS: &str = "token_hash, tenant_id, client_id, user_id, scopes, expires_us";

/// An access or refresh token row (refresh tokens always name a user).
pub fn token(row: &PgRow) -> StoreResult<AccessToken> {
    Ok(AccessToken {
        token_hash: row.try_get("token_hash")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        scopes: row.try_get("scopes")?,
        expires_at: from_us(row.try_get("expires_us")?),
    })
}

pub fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
