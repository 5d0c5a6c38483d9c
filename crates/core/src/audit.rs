//! The audit trail: one append-only record per access to content and per governance
//! action, each chained to the one before it by a SHA-256 hash, per tenant, so that a
//! changed, removed or reordered record breaks the chain (docs/governance.md).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Invalid, TenantId};

/// The hash a tenant's first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What was done. Reads are told apart: a search, metadata viewed, a ranged read (play),
/// a whole download, an item of a bulk ZIP, an item sent to external storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditAction {
    Search,
    View,
    Play,
    Download,
    BulkDownload,
    Export,
    Delete,
    HoldPlaced,
    HoldReleased,
    PolicyChanged,
    PolicyRemoved,
    Erasure,
    AuthFailure,
}

impl AuditAction {
    pub const ALL: [AuditAction; 13] = [
        AuditAction::Search,
        AuditAction::View,
        AuditAction::Play,
        AuditAction::Download,
        AuditAction::BulkDownload,
        AuditAction::Export,
        AuditAction::Delete,
        AuditAction::HoldPlaced,
        AuditAction::HoldReleased,
        AuditAction::PolicyChanged,
        AuditAction::PolicyRemoved,
        AuditAction::Erasure,
        AuditAction::AuthFailure,
    ];

    /// Reads of content or metadata, as opposed to changes and sign-in failures.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            AuditAction::Search
                | AuditAction::View
                | AuditAction::Play
                | AuditAction::Download
                | AuditAction::BulkDownload
                | AuditAction::Export
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Search => "search",
            AuditAction::View => "view",
            AuditAction::Play => "play",
            AuditAction::Download => "download",
            AuditAction::BulkDownload => "bulkDownload",
            AuditAction::Export => "export",
            AuditAction::Delete => "delete",
            AuditAction::HoldPlaced => "holdPlaced",
            AuditAction::HoldReleased => "holdReleased",
            AuditAction::PolicyChanged => "policyChanged",
            AuditAction::PolicyRemoved => "policyRemoved",
            AuditAction::Erasure => "erasure",
            AuditAction::AuthFailure => "authFailure",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = Self::ALL.iter().map(|a| a.as_str()).collect();
                Invalid::new(
                    field,
                    format!(
                        "{field} '{s}' is not valid; valid values: {}",
                        all.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// `TenantId(0)` for failures that name no known tenant.
    pub tenant_id: TenantId,
    pub at: DateTime<Utc>,
    /// `client:<id>`, `user:<login>`, `policy:<name>` (retention), `cli`, or what a
    /// failed sign-in claimed to be.
    pub principal: String,
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// `interaction-content`, `call-recording`, `recordings-files`, `export`,
    /// `governance`, `auth`, `cli`, `retention`.
    pub dialect: String,
    pub operation: String,
    pub action: AuditAction,
    pub interaction: Option<String>,
    pub content_key: Option<String>,
    /// `ok`, `refused`, `failed`.
    pub outcome: String,
    /// What else is worth keeping: result counts, the parameters a search used (their
    /// names, not their values, so that erasure leaves no number behind), a hold's id.
    pub detail: Option<String>,
}

/// A stored record: the event, its place in the tenant's chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// The record's hash: SHA-256 over the previous hash and every field, each
    /// length-prefixed so that no two different records hash alike.
    pub fn chain(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        // A missing value is a length no string has.
        let mut put = |s: Option<&str>| match s {
            Some(s) => {
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            None => h.update(u64::MAX.to_be_bytes()),
        };
        put(Some(prev_hash));
        put(Some(&self.tenant_id.0.to_string()));
        put(Some(&self.at.timestamp_micros().to_string()));
        put(Some(&self.principal));
        put(self.source.as_deref());
        put(self.user_agent.as_deref());
        put(self.request_id.as_deref());
        put(Some(&self.dialect));
        put(Some(&self.operation));
        put(Some(self.action.as_str()));
        put(self.interaction.as_deref());
        put(self.content_key.as_deref());
        put(Some(&self.outcome));
        put(self.detail.as_deref());
        hex(&h.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// Checks a run of one tenant's records, in order, continuing from `prev_hash` (the
/// last good hash before them, [`GENESIS`] at the start).
pub fn verify_run(prev_hash: &mut String, records: &[AuditRecord]) -> Result<(), BrokenLink> {
    for r in records {
        if r.prev_hash != *prev_hash {
            return Err(BrokenLink {
                seq: r.seq,
                reason:
                    "it does not follow the record before it (one was removed, added or reordered)"
                        .into(),
            });
        }
        if r.event.chain(prev_hash) != r.hash {
            return Err(BrokenLink {
                seq: r.seq,
                reason: "its contents do not match its hash (it was changed)".into(),
            });
        }
        prev_hash.clone_from(&r.hash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> AuditEvent {
        AuditEvent {
            tenant_id: TenantId(1),
            at: DateTime::from_timestamp(1_700_000_000 + n, 0).unwrap(),
            principal: "client:c1".into(),
            source: Some("10.0.0.1".into()),
            user_agent: None,
            request_id: Some(format!("r{n}")),
            dialect: "interaction-content".into(),
            operation: "download".into(),
            action: AuditAction::Download,
            interaction: Some("g".into()),
            content_key: Some("callRecording".into()),
            outcome: "ok".into(),
            detail: None,
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let e = event(seq);
                let hash = e.chain(&prev);
                let r = AuditRecord {
                    seq,
                    event: e,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_run(&mut GENESIS.to_string(), &chain(5)), Ok(()));
    }

    #[test]
    fn a_changed_field_is_the_first_broken_link() {
        let mut c = chain(5);
        c[2].event.principal = "client:someone-else".into();
        let broken = verify_run(&mut GENESIS.to_string(), &c).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("changed"));
    }

    #[test]
    fn a_removed_record_breaks_the_next() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify_run(&mut GENESIS.to_string(), &c).unwrap_err().seq, 3);
    }

    #[test]
    fn a_missing_value_and_an_empty_one_hash_differently() {
        let mut a = event(1);
        let mut b = event(1);
        a.user_agent = None;
        b.user_agent = Some(String::new());
        assert_ne!(a.chain(GENESIS), b.chain(GENESIS));
    }
}
