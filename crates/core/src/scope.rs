use std::fmt;

use crate::Invalid;

/// OAuth scopes. The first two are the platform's own; `interaction-content:write` (the
/// ingest API), `callvault:tenant-admin` (tenant settings such as the Recordings API
/// token) and `callvault:governance` (holds and retention) are callvault's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    ContentRead,
    ContentDelete,
    ContentWrite,
    TenantAdmin,
    /// Legal holds and retention policies (docs/governance.md).
    Governance,
    /// Reading the audit trail.
    Audit,
    /// Managing webhook subscriptions (docs/webhooks.md).
    Webhooks,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::ContentRead,
        Scope::ContentDelete,
        Scope::ContentWrite,
        Scope::TenantAdmin,
        Scope::Governance,
        Scope::Audit,
        Scope::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ContentRead => "interaction-content:read",
            Scope::ContentDelete => "interaction-content:delete",
            Scope::ContentWrite => "interaction-content:write",
            Scope::TenantAdmin => "callvault:tenant-admin",
            Scope::Governance => "callvault:governance",
            Scope::Audit => "callvault:audit",
            Scope::Webhooks => "callvault:webhooks",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, written on the wire as a space-separated list (RFC 6749 section 3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        let mut scopes = Vec::new();
        for word in s.split_whitespace() {
            let scope = Scope::parse(word)
                .ok_or_else(|| Invalid::new(field, format!("unknown scope '{word}'")))?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(Self(scopes))
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(*s))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_separated() {
        let s = ScopeSet::parse(
            "scope",
            " interaction-content:delete  interaction-content:read ",
        )
        .unwrap();
        assert_eq!(
            s.to_string(),
            "interaction-content:read interaction-content:delete"
        );
        assert!(ScopeSet::parse("scope", "admin").is_err());
    }
}
