//! The audit trail's service half: who acts ([`Actor`]), the sink that records reads
//! within a bounded delay, the query and export of a tenant's records, and the chain
//! check. Deletions and governance changes are not sent here: the store appends their
//! records in the transaction that makes the change.

use std::sync::Arc;
use std::time::Duration;

use callvault_core::audit::{verify_run, BrokenLink, GENESIS};
use callvault_core::{AuditAction, AuditEvent, AuditRecord, Guid, TenantId};
pub use callvault_storage::AuditFilter;
use callvault_storage::Store;
use tokio::sync::{mpsc, oneshot};

use crate::error::ServiceResult;
use crate::vault::Vault;

/// Records waiting to be written, at most; a full queue makes readers wait rather than
/// lose a record.
const QUEUE: usize = 65_536;
/// Records per write, at most, and how long the first of them waits for company.
const BATCH: usize = 1000;
const LINGER: Duration = Duration::from_millis(50);
const VERIFY_PAGE: u32 = 5000;

/// Who does something, from where, through which dialect and operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub tenant: TenantId,
    pub principal: String,
    pub source: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub dialect: &'static str,
    pub operation: &'static str,
}

impl Actor {
    /// Work the server does of itself (retention, exports) or an operator at the CLI.
    pub fn system(
        tenant: TenantId,
        principal: String,
        dialect: &'static str,
        operation: &'static str,
    ) -> Self {
        Self {
            tenant,
            principal,
            source: None,
            user_agent: None,
            request_id: None,
            dialect,
            operation,
        }
    }

    /// Why this actor deletes: retention and erasure run as themselves, everyone else
    /// asks.
    pub fn cause(&self) -> callvault_core::DeleteCause {
        match self.dialect {
            "retention" => callvault_core::DeleteCause::Retention,
            "erasure" => callvault_core::DeleteCause::Erasure,
            _ => callvault_core::DeleteCause::Request,
        }
    }

    pub fn event(
        &self,
        action: AuditAction,
        interaction: Option<&Guid>,
        content_key: Option<&str>,
        outcome: &str,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            tenant_id: self.tenant,
            at: micros(chrono::Utc::now()),
            principal: self.principal.clone(),
            source: self.source.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            dialect: self.dialect.to_string(),
            operation: self.operation.to_string(),
            action,
            interaction: interaction.map(|g| g.as_str().to_string()),
            content_key: content_key.map(str::to_string),
            outcome: outcome.to_string(),
            detail,
        }
    }
}

fn micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

enum Msg {
    Record(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// Writes read records in batches, off the request path: each within about
/// [`LINGER`] of its read, all of them before a clean shutdown ends ([`AuditSink::flush`]).
/// A failed write is retried until it succeeds; nothing queued is dropped.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Msg>,
}

impl AuditSink {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, rx));
        Self { tx }
    }

    pub async fn record(&self, e: AuditEvent) {
        metrics::counter!("callvault_audit_records_total", "action" => e.action.as_str())
            .increment(1);
        // The writer lives as long as any sink; a send fails only at process exit.
        let _ = self.tx.send(Msg::Record(Box::new(e))).await;
    }

    /// Waits until everything recorded before the call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>) {
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut waiters = Vec::new();
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(e) => batch.push(*e),
                // A flush is answered once what came before it is written.
                Msg::Flush(w) => {
                    waiters.push(w);
                    break;
                }
            }
            if batch.len() >= BATCH {
                break;
            }
            next = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .unwrap_or_default();
        }
        let mut backoff = Duration::from_millis(100);
        while let Err(e) = store.append_audit(&batch).await {
            metrics::counter!("callvault_audit_write_failures_total").increment(1);
            tracing::warn!(error = %e, records = batch.len(), "audit write failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

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
