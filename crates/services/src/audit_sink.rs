//! Who acts ([`Actor`]) and the sink that writes read records within a bounded delay.
//! Apart from the vault, which holds a sink, so that nothing here depends on it.

use std::sync::Arc;
use std::time::Duration;

use callvault_core::{AuditAction, AuditEvent, Guid, TenantId};
use callvault_storage::Store;
use tokio::sync::{mpsc, oneshot};

/// Records waiting to be written, at most; a full queue makes readers wait rather than
/// lose a record.
const QUEUE: usize = 65_536;
/// Records per write, at most, and how long the first of them waits for company.
const BATCH: usize = 1000;
const LINGER: Duration = Duration::from_millis(50);

/// The dialect names of the server's own deleters: an actor under one of them deletes
/// with that cause (see [`Actor::cause`]).
pub const RETENTION: &str = "retention";
pub const ERASURE: &str = "erasure";

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
            RETENTION => callvault_core::DeleteCause::Retention,
            ERASURE => callvault_core::DeleteCause::Erasure,
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
            at: crate::clock::micros(chrono::Utc::now()),
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
