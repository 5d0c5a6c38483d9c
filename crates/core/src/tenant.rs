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
    pub role: Role,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What a user may see and do (issue 17). An agent sees their own on-demand recordings
/// and the interactions they handled; a reviewer sees all the tenant's recordings but
/// changes nothing; an admin also deletes, governs and manages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Agent,
    Reviewer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Agent, Role::Reviewer, Role::Admin];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Role, crate::Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                crate::Invalid::new(
                    field,
                    format!("{field} '{s}' is not a role; roles: agent, reviewer, admin"),
                )
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_parses_from_the_name_it_is_stored_under() {
        for r in Role::ALL {
            assert_eq!(Role::parse("role", r.as_str()), Ok(r));
        }
        assert!(Role::parse("role", "Admin").is_err());
        assert!(Role::parse("role", "").is_err());
    }
}
