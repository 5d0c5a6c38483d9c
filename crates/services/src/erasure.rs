//! Erasure by data subject (docs/governance.md): every interaction a phone number or
//! address took part in, previewed, then erased with its content, transcripts and
//! metadata. Holds and minimum retention keep what they cover, and say so. What remains
//! is one audit record holding a keyed hash of the identifier, so that "was this person
//! recorded, and when were they erased?" can be answered without keeping the number.

use callvault_core::{AuditAction, Interaction, Invalid, TenantId};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::audit::{Actor, AuditFilter};
use crate::error::ServiceResult;
use crate::vault::Vault;

/// The server secret that keys subject hashes, the same on every node.
const KEY_NAME: &str = "erasure-subject-key";
const MAX_SUBJECT: usize = 256;

/// Which subject, and optionally which period.
#[derive(Debug, Clone)]
pub struct Subject {
    pub address: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Subject {
    pub fn validate(&self) -> Result<(), Invalid> {
        let a = self.address.trim();
        if a.is_empty() || a.chars().count() > MAX_SUBJECT || a.chars().any(char::is_control) {
            return Err(Invalid::new(
                "subject",
                format!("subject must be 1 to {MAX_SUBJECT} printable characters"),
            ));
        }
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if t <= f {
                return Err(Invalid::new("to", "to must be after from"));
            }
        }
        Ok(())
    }
}

/// One interaction a hold or a minimum keeps, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub guid: String,
    pub reason: String,
}

/// What an erasure found (preview) or did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasureReport {
    /// The keyed hash the trail keeps instead of the identifier.
    pub subject_hash: String,
    /// Interactions erased (or, in a preview, that would be).
    pub erased: Vec<String>,
    pub items: u64,
    /// Interactions kept by a hold or a minimum retention.
    pub kept: Vec<Kept>,
}

/// A past erasure of a subject, as the trail remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PastErasure {
    pub at: DateTime<Utc>,
    pub principal: String,
    pub detail: String,
}

impl Vault {
    /// The subject's keyed hash: HMAC-SHA256 under a server secret, so that the hash of a
    /// number cannot be found by hashing every possible number.
    async fn subject_hash(&self, address: &str) -> ServiceResult<String> {
        let init: [u8; 32] = rand::random();
        let key = self.store.secret(KEY_NAME, &init).await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
        mac.update(address.trim().as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    async fn subject_interactions(
        &self,
        tenant: TenantId,
        s: &Subject,
    ) -> ServiceResult<Vec<Interaction>> {
        s.validate()?;
        Ok(self
            .store
            .with_address(tenant, s.address.trim(), s.from, s.to)
            .await?)
    }

    /// What erasing the subject would do, deleting nothing.
    pub async fn erasure_preview(
        &self,
        tenant: TenantId,
        s: &Subject,
    ) -> ServiceResult<ErasureReport> {
        let found = self.subject_interactions(tenant, s).await?;
        let rules = self.store.rules(tenant).await?;
        let now = self.clock.now();
        let mut report = ErasureReport {
            subject_hash: self.subject_hash(&s.address).await?,
            ..ErasureReport::default()
        };
        for i in found {
            match rules.may_delete_interaction(&i, callvault_core::DeleteCause::Erasure, now) {
                Ok(()) => {
                    report.items += i.content.len() as u64;
                    report.erased.push(i.meta.guid.to_string());
                }
                Err(why) => report.kept.push(Kept {
                    guid: i.meta.guid.to_string(),
                    reason: why.message(),
                }),
            }
        }
        Ok(report)
    }

    /// Erases the subject's interactions (each through the store's delete gate, with its
    /// own delete record) and records the erasure under the subject's keyed hash.
    pub async fn erase(&self, actor: &Actor, s: &Subject) -> ServiceResult<ErasureReport> {
        let found = self.subject_interactions(actor.tenant, s).await?;
        let mut erasing = actor.clone();
        erasing.dialect = crate::audit_sink::ERASURE;
        let mut report = ErasureReport {
            subject_hash: self.subject_hash(&s.address).await?,
            ..ErasureReport::default()
        };
        for i in found {
            match self.delete_interaction(&erasing, &i.meta.guid).await {
                Ok(removed) => {
                    report.items += removed.items.len() as u64;
                    report.erased.push(i.meta.guid.to_string());
                }
                Err(crate::ServiceError::Conflict(reason)) => report.kept.push(Kept {
                    guid: i.meta.guid.to_string(),
                    reason,
                }),
                // Deleted meanwhile by someone else: erased all the same.
                Err(crate::ServiceError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let detail = format!(
            "subject={} erased={} items={} kept={}",
            report.subject_hash,
            report.erased.len(),
            report.items,
            report.kept.len()
        );
        let e = erasing.event(AuditAction::Erasure, None, None, "ok", Some(detail));
        self.store.append_audit(&[e]).await?;
        if let Err(e) = self.store.forget_deleted().await {
            // The rows are gone from every query; only old page copies wait for the next
            // checkpoint, which SQLite runs on its own.
            tracing::warn!(error = %e, "checkpoint after erasure failed");
        }
        metrics::counter!("callvault_erasures_total").increment(1);
        Ok(report)
    }

    /// Every recorded erasure of the subject in the tenant.
    pub async fn erasures_of(
        &self,
        tenant: TenantId,
        address: &str,
    ) -> ServiceResult<Vec<PastErasure>> {
        let needle = format!("subject={} ", self.subject_hash(address).await?);
        let filter = AuditFilter {
            action: Some(AuditAction::Erasure),
            ..AuditFilter::default()
        };
        let (mut after, mut out) = (0, Vec::new());
        loop {
            let page = self.store.audit_page(tenant, &filter, after, 1000).await?;
            for r in &page {
                if let Some(d) = r.event.detail.as_deref().filter(|d| d.starts_with(&needle)) {
                    out.push(PastErasure {
                        at: r.event.at,
                        principal: r.event.principal.clone(),
                        detail: d.to_string(),
                    });
                }
            }
            match page.last() {
                Some(last) if page.len() == 1000 => after = last.seq,
                _ => return Ok(out),
            }
        }
    }
}
