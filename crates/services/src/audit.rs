//! The audit trail's service half: the query and export of a tenant's records and the
//! chain check; [`crate::audit_sink`] has who acts and the sink that records reads.
//! Deletions and governance changes are not sent to the sink: the store appends their
//! records in the transaction that makes the change.

use callvault_core::audit::{verify_run, BrokenLink, GENESIS};
use callvault_core::{AuditAction, AuditEvent, AuditRecord, TenantId};
pub use callvault_storage::AuditFilter;

pub use crate::audit_sink::{Actor, AuditSink};
use crate::error::ServiceResult;
use crate::vault::Vault;

const VERIFY_PAGE: u32 = 5000;

/// A tenant's chain, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub broken: Option<BrokenLink>,
}

impl Vault {
    /// Records an access through the sink (reads, refusals, failures).
    pub async fn audit(&self, e: AuditEvent) {
        if self.config.audit_reads || !e.action.is_read() {
            self.audit.record(e).await;
        }
    }

    /// Records a failed sign-in: in the tenant of the client it named, or under tenant 0
    /// when no such client exists.
    pub async fn sign_in_failed(
        &self,
        client_id: &str,
        claimed: String,
        source: Option<String>,
        user_agent: Option<String>,
        request_id: Option<String>,
        grant: &str,
    ) {
        let tenant = match self.store.client_by_id(client_id).await {
            Ok(Some(c)) => c.tenant_id,
            _ => TenantId(0),
        };
        let actor = Actor {
            tenant,
            principal: claimed,
            source,
            user_agent,
            request_id,
            dialect: "auth",
            operation: "sign in",
        };
        let e = actor.event(
            AuditAction::AuthFailure,
            None,
            None,
            "refused",
            Some(format!("grant {grant}")),
        );
        self.audit(e).await;
    }

    /// The tenant's records after `after_seq`, oldest first.
    pub async fn audit_records(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        after_seq: i64,
        limit: u32,
    ) -> ServiceResult<Vec<AuditRecord>> {
        self.audit.flush().await;
        Ok(self
            .store
            .audit_page(tenant, filter, after_seq, limit)
            .await?)
    }

    /// Checks the tenant's whole chain: every record follows the one before it and
    /// matches its hash, and the last is the chain's head (so none was cut off the end).
    pub async fn verify_audit(&self, tenant: TenantId) -> ServiceResult<Verified> {
        self.audit.flush().await;
        let mut prev = GENESIS.to_string();
        let (mut after, mut records) = (0, 0u64);
        loop {
            let page = self
                .store
                .audit_page(tenant, &AuditFilter::default(), after, VERIFY_PAGE)
                .await?;
            if let Err(broken) = verify_run(&mut prev, &page) {
                return Ok(Verified {
                    records,
                    broken: Some(broken),
                });
            }
            records += page.len() as u64;
            match page.last() {
                Some(last) if page.len() == VERIFY_PAGE as usize => after = last.seq,
                _ => break,
            }
        }
        let head = self.store.audit_head(tenant).await?;
        let (count, hash) = head.unwrap_or((0, GENESIS.to_string()));
        let broken = (count != records as i64 || hash != prev).then(|| BrokenLink {
            seq: after,
            reason: format!(
                "the chain's head counts {count} records ending in {hash}, the log holds {records} ending in {prev} (records were removed from its end)"
            ),
        });
        Ok(Verified { records, broken })
    }
}
