use serde::{Deserialize, Serialize};

/// Numeric tenant (account) identifier; every stored row carries one and every query is
/// scoped by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TenantId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// IANA time zone used by dialects that present local times.
    pub time_zone: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A user of a tenant: an agent who can sign in (password grant). The id is the agent id
/// that interactions name as handling agent or owning user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub tenant_id: TenantId,
    pub id: String,
    pub login: String,
    pub is_admin: bool,
}

/// Time zones are IANA names; dialects that show local times depend on them.
pub fn validate_time_zone(tz: &str) -> Result<(), crate::Invalid> {
    tz.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
        crate::Invalid::new(
            "timeZone",
            format!("'{tz}' is not an IANA time zone, e.g. Europe/London"),
        )
    })
}

/// Tenant names appear in Basic-auth user names and CLI arguments, so they are restricted
/// to a portable character set.
pub fn validate_tenant_name(name: &str) -> Result<(), crate::Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(crate::Invalid::new(
            "name",
            "tenant name must be 1 to 64 characters of letters, digits, '-', '_' or '.'",
        ))
    }
}
