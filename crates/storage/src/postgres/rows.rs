//! Mapping between PostgreSQL rows and domain types; decodes exactly what the SQLite
//! store's rows decode (JSON columns are selected as text and parsed the same way).

use callvault_core::TenantId;
use chrono::Utc;
use sqlx::postgres::PgRow;
use sqlx::Row;

pub(crate) use crate::decode::{content, from_us, interaction, tenant, to_us};
use crate::error::StoreResult;
use crate::meta::AccessToken;

pub fn now_us() -> i64 {
    to_us(Utc::now())
}

/// PostgreSQL text cannot hold U+0000, so no stored value contains it: a lookup or filter
/// value that does cannot match anything. Checking first answers "nothing" as SQLite
/// does, instead of the server's encoding error.
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

pub const TENANT_COLUMNS: &str = "id, name, time_zone, created_us";

pub const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, \
     i.end_us, i.direction, i.connect_from, i.connect_to, i.caller_name, \
     i.agents::text AS agents, i.extensions::text AS extensions, i.queue_id, i.queue_name, \
     i.channel, i.attributes::text AS attributes, i.created_us, i.updated_us";

pub const CONTENT_COLUMNS: &str = "interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan";

/// `CONTENT_COLUMNS` qualified by the alias `c`, for joins.
pub const C_CONTENT_COLUMNS: &str = "c.interaction_id, c.content_key, c.content_type, \
     c.media_type, c.length, c.sha256, c.blob_key, c.last_modified_us, c.duration_ms, \
     c.version, c.owning_agent, c.owning_plan";

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
