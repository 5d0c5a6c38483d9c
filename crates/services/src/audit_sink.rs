//! Who acts ([`Actor`]) and the sink that writes read records within a bounded delay.
//! Apart from the vault, which holds a sink, so that nothing here depends on it.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use callvault_core::{AuditAction, AuditEvent, Guid, TenantId};
use callvault_storage::Store;
use tokio::sync::{mpsc, oneshot, Notify};

/// Records waiting to be written, at most; a full queue makes readers wait rather than
/// lose a record.
const QUEUE: usize = 65_536;
/// Records per write, at most, and how long the first of them waits for company.
const BATCH: usize = 1000;
const LINGER: Duration = Duration::from_millis(50);
/// The name of the writer's thread, where it has one.
const THREAD_NAME: &str = "audit-write";

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
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// The writer's queue, once the first record has started it.
    tx: OnceLock<mpsc::Sender<Msg>>,
    /// Wakes the writer before its linger is out, for a flush.
    hurry: Arc<Notify>,
}

impl AuditSink {
    /// A sink whose writer starts with the first record, so that a node that has served
    /// nothing spends no thread on it.
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                tx: OnceLock::new(),
                hurry: Arc::new(Notify::new()),
            }),
        }
    }

    /// The writer's queue, starting the writer first if need be: where the store allows
    /// it, on a thread below the request threads' priority ([`crate::background`]), so
    /// that a batch's inserts do not hold up the reads they record; otherwise, or if no
    /// thread can be had, on the runtime.
    fn queue(&self) -> &mpsc::Sender<Msg> {
        self.inner.tx.get_or_init(|| {
            let (store, hurry) = (self.inner.store.clone(), self.inner.hurry.clone());
            if store.appends_off_runtime() {
                let (tx, rx) = mpsc::channel(QUEUE);
                let (writer, woken) = (store.clone(), hurry.clone());
                match crate::background::spawn_below_requests(THREAD_NAME, move || {
                    write_loop(writer, rx, woken)
                }) {
                    Ok(()) => return tx,
                    Err(e) => {
                        tracing::warn!(error = %e, "audit records are written on the request runtime")
                    }
                }
            }
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write_loop(store, rx, hurry));
            tx
        })
    }

    pub async fn record(&self, e: AuditEvent) {
        metrics::counter!("callvault_audit_records_total", "action" => e.action.as_str())
            .increment(1);
        // The writer lives as long as any sink; a send fails only at process exit.
        let _ = self.queue().send(Msg::Record(Box::new(e))).await;
    }

    /// Waits until everything recorded before the call is written.
    pub async fn flush(&self) {
        // Without a writer nothing was ever recorded.
        let Some(tx) = self.inner.tx.get() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if tx.send(Msg::Flush(done)).await.is_ok() {
            self.inner.hurry.notify_one();
            let _ = wait.await;
        }
    }
}

/// Writes what comes in batches: the first record of a batch waits out [`LINGER`] (or
/// a flush) for company, and then everything queued meanwhile is taken at once. The
/// writer does not listen while it lingers, so the readers' sends wake nobody: woken per
/// record, a writer on a thread of its own cost each read a thread wake-up (12 % more
/// CPU for a page of one interaction).
async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>, hurry: Arc<Notify>) {
    let mut queued = VecDeque::new();
    loop {
        if queued.is_empty() {
            let Some(first) = rx.recv().await else {
                return;
            };
            let flush = matches!(first, Msg::Flush(_));
            queued.push_back(first);
            if !flush {
                tokio::select! {
                    () = tokio::time::sleep(LINGER) => {}
                    () = hurry.notified() => {}
                }
            }
        }
        // No more than a batch in hand: the rest waits in the bounded queue, whose being
        // full is what holds readers back when the writes cannot keep up.
        while queued.len() <= BATCH {
            match rx.try_recv() {
                Ok(msg) => queued.push_back(msg),
                Err(_) => break,
            }
        }
        let mut batch = Vec::new();
        let mut waiters = Vec::new();
        while let Some(msg) = queued.pop_front() {
            match msg {
                Msg::Record(e) => {
                    batch.push(*e);
                    if batch.len() >= BATCH {
                        break;
                    }
                }
                // A flush is answered once what came before it is written.
                Msg::Flush(w) => waiters.push(w),
            }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::background::{below_this_thread, niceness_of};
    use crate::{Vault, VaultConfig};

    /// A vault on the embedded store in a new directory, and one tenant.
    async fn embedded_vault() -> (tempfile::TempDir, Arc<Vault>, TenantId) {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_embedded(VaultConfig::embedded(dir.path()))
            .await
            .unwrap();
        let tenant = vault.store.create_tenant("acme", "UTC").await.unwrap().id;
        (dir, vault, tenant)
    }

    /// On the embedded store the writer has a thread of its own below the request
    /// threads' priority, started by the first record, and a flush does not wait out the
    /// linger: what was recorded is in the trail when it returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_embedded_vault_writes_its_trail_from_a_thread_below_the_requests() {
        let (_dir, vault, tenant) = embedded_vault().await;
        assert_eq!(
            niceness_of(THREAD_NAME),
            Vec::<i32>::new(),
            "a thread before any record"
        );
        let actor = Actor::system(tenant, "tester".into(), "test", "read");
        for _ in 0..3 {
            let event = actor.event(AuditAction::Search, None, None, "ok", None);
            vault.audit.record(event).await;
        }
        // The thread lowers its own priority as it starts.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let lowered = || {
            let found = niceness_of(THREAD_NAME);
            !found.is_empty() && found.iter().all(|&n| n == below_this_thread())
        };
        while !lowered() {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                niceness_of(THREAD_NAME)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = std::time::Instant::now();
        vault.audit.flush().await;
        assert!(
            started.elapsed() < LINGER,
            "the flush waited out the linger"
        );
        let f = callvault_storage::AuditFilter::default();
        let page = vault.store.audit_page(tenant, &f, 0, 10).await.unwrap();
        assert_eq!(page.len(), 3);
    }

    /// More records than a batch holds, queued before the writer has taken any, are all
    /// written, in order, by the time a flush behind them returns.
    #[tokio::test]
    async fn a_flush_behind_several_batches_finds_them_all_written() {
        let (_dir, vault, tenant) = embedded_vault().await;
        let actor = Actor::system(tenant, "tester".into(), "test", "read");
        let total = 2 * BATCH + 500;
        for n in 0..total {
            let detail = Some(n.to_string());
            vault
                .audit
                .record(actor.event(AuditAction::Search, None, None, "ok", detail))
                .await;
        }
        vault.audit.flush().await;
        let (f, mut after, mut seen) = (callvault_storage::AuditFilter::default(), 0, 0);
        loop {
            let page = vault
                .store
                .audit_page(tenant, &f, after, 1000)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            for r in &page {
                assert_eq!(r.event.detail.as_deref(), Some(seen.to_string().as_str()));
                seen += 1;
            }
            after = last.seq;
        }
        assert_eq!(seen, total);
    }
}
