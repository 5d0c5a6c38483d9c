//! Fault injection under the store: a backend that fails the Nth statement (or commit)
//! once. Every write path is run with a failure at each of its statements in turn; after
//! each, the store's invariants must hold, so a failed write never leaves half its work
//! behind, and the store must go on working.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use callvault_core::{
    Attributes, ContentItem, ContentType, DeleteCause, Direction, ExportFilters, ExportJob,
    ExportKind, ExportStatus, ExternalStorage, Guid, InteractionMeta, Job, JobKind, JobStatus,
    StorageTarget, TenantId,
};
use chrono::{Duration, Utc};
use uuid::Uuid;

use super::SqlStore;
use crate::audit::AuditStore;
use crate::error::{StoreError, StoreResult};
use crate::export::{Candidate, ExportStore};
use crate::locks::KeyGuard;
use crate::meta::{ContentStore, InteractionStore, JobStore, TenantStore};
use crate::sql::sqlite::SqliteBackend;
use crate::sql::{Backend, Conn, Dialect, Query, Row, Tx};

/// Statements left before the injected failure; negative: none.
type Countdown = Arc<AtomicI64>;

fn tick(left: &Countdown) -> StoreResult<()> {
    if left.fetch_sub(1, Ordering::SeqCst) == 0 {
        Err(StoreError::backend("injected fault"))
    } else {
        Ok(())
    }
}

struct Faulty {
    inner: SqliteBackend,
    left: Countdown,
}

struct FaultyConn<C: ?Sized>(Box<C>, Countdown);

#[async_trait]
impl<C: Conn + ?Sized> Conn for FaultyConn<C> {
    async fn fetch(&mut self, q: Query) -> StoreResult<Vec<Row>> {
        tick(&self.1)?;
        self.0.fetch(q).await
    }

    async fn execute(&mut self, q: Query) -> StoreResult<u64> {
        tick(&self.1)?;
        self.0.execute(q).await
    }
}

#[async_trait]
impl Tx for FaultyConn<dyn Tx> {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        tick(&self.1)?;
        self.0.commit().await
    }
}

#[async_trait]
impl Backend for Faulty {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn read(&self) -> StoreResult<Box<dyn Conn>> {
        Ok(Box::new(FaultyConn(
            self.inner.read().await?,
            self.left.clone(),
        )))
    }

    async fn write(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(FaultyConn(
            self.inner.write().await?,
            self.left.clone(),
        )))
    }

    async fn lock_key(&self, key: &str) -> KeyGuard {
        self.inner.lock_key(key).await
    }

    async fn forget_deleted(&self) -> StoreResult<()> {
        self.inner.forget_deleted().await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

fn meta(guid: &Guid) -> InteractionMeta {
    InteractionMeta {
        guid: guid.clone(),
        start: Utc::now() - Duration::days(1),
        end: None,
        direction: Direction::Inbound,
        connect_from: "100".into(),
        connect_to: "200".into(),
        caller_name: None,
        handling_agents: vec!["a1".into(), "a2".into()],
        extensions: vec!["7".into()],
        queue_id: None,
        queue_name: None,
        channel: None,
        attributes: Attributes::default(),
    }
}

fn item(key: &str, t: ContentType, sha: &str) -> ContentItem {
    ContentItem {
        key: key.into(),
        content_type: t,
        media_type: "audio/wav".into(),
        length: 10,
        sha256: sha.into(),
        last_modified: Utc::now() - Duration::hours(13),
        duration_ms: Some(1000),
        version: None,
        owning_agent: None,
        owning_interaction_plan: None,
        blob_key: format!("t1/{sha}"),
    }
}

/// Every write path, in order; each step's error is ignored (the fault is expected).
async fn write_paths(s: &SqlStore, t: TenantId) {
    let g = Guid::new_random();
    let _ = s.upsert_interaction(t, &meta(&g)).await;
    let _ = s
        .put_content(
            t,
            &g,
            &item("callRecording", ContentType::CallRecording, "aa"),
        )
        .await;
    let _ = s
        .put_content(t, &g, &item("transcript", ContentType::Transcript, "bb"))
        .await;
    let _ = s
        .put_content(
            t,
            &g,
            &item("callRecording", ContentType::CallRecording, "cc"),
        )
        .await;
    let _ = s
        .delete_content(t, &g, "transcript", DeleteCause::Request, &audit_event(t))
        .await;
    let job = Job {
        id: Uuid::new_v4().to_string(),
        tenant_id: t,
        kind: JobKind::Recordings,
        owner: "u".into(),
        params: "{}".into(),
        status: JobStatus::Pending,
        files_total: 0,
        files_completed: 0,
        error: None,
        attempts: 0,
        created_at: Utc::now(),
        valid_until: None,
    };
    let _ = s.create_job(&job).await;
    let later = Utc::now() + Duration::minutes(5);
    let _ = s.claim_job(Utc::now(), later).await;
    let _ = s.add_job_items(&job.id, 0, &[1, 2, 3], 3, later).await;
    let _ = s
        .finish_job(&job.id, JobStatus::Complete, None, Some(Utc::now()))
        .await;
    let _ = s.expire_jobs(Utc::now() + Duration::days(1)).await;
    let storage = ExternalStorage {
        id: Uuid::new_v4(),
        tenant_id: t,
        name: "s".into(),
        target: StorageTarget::Local {
            path: "x".into(),
            prefix: None,
        },
        sealed_credentials: vec![1],
        created_at: Utc::now(),
    };
    let _ = s.create_storage(&storage).await;
    let export = ExportJob {
        id: Uuid::new_v4(),
        tenant_id: t,
        kind: ExportKind::Batch,
        status: ExportStatus::Scheduled,
        start: Utc::now() - Duration::days(2),
        end: None,
        filters: ExportFilters::default(),
        storage_id: storage.id,
        created_by: "c".into(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
        next_run: Some(Utc::now() - Duration::minutes(1)),
        last_run: None,
        watermark: None,
        items_exported: 0,
        bytes_exported: 0,
        failures: 0,
        error: None,
    };
    let _ = s.create_export(&export).await;
    let _ = s.claim_export(Utc::now(), later).await;
    let item = Candidate {
        interaction_id: 1,
        content_key: "callRecording".into(),
        sha256: "cc".into(),
        stored_us: 1,
    };
    let _ = s
        .record_export(export.id, &item, 10, later, Utc::now())
        .await;
    // The same item recorded again, as by a second runner after a lapsed lease.
    let _ = s
        .record_export(export.id, &item, 10, later, Utc::now())
        .await;
    let _ = s.append_audit(&[audit_event(t), audit_event(t)]).await;
    // Deleted on a second interaction, so the first keeps whatever the steps above left.
    let g2 = Guid::new_random();
    let _ = s.upsert_interaction(t, &meta(&g2)).await;
    let _ = s.put_content(t, &g2, &item_of("aa")).await;
    let _ = s
        .delete_interaction(t, &g2, DeleteCause::Request, &audit_event(t))
        .await;
}

fn item_of(sha: &str) -> ContentItem {
    item("callRecording", ContentType::CallRecording, sha)
}

/// What must hold whatever failed: each interaction's content count is its number of
/// content rows, a job's progress is its item rows (unless it expired, which drops them),
/// an export's count is its ledger rows, an audit chain's head counts its records.
async fn check_invariants(s: &SqlStore) {
    let count = |sql: &'static str| async move {
        s.read()
            .await
            .unwrap()
            .scalar_i64(Query::new(sql))
            .await
            .unwrap()
    };
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM interactions i WHERE content_count <> \
             (SELECT COUNT(*) FROM content_items c WHERE c.interaction_id = i.id)"
        )
        .await,
        0,
        "a content count that does not match its rows"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM jobs j WHERE status <> 'expired' AND files_completed <> \
             (SELECT COUNT(*) FROM job_items x WHERE x.job_id = j.id)"
        )
        .await,
        0,
        "a job whose progress does not match its items"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM export_jobs e WHERE items_exported <> \
             (SELECT COUNT(*) FROM export_ledger l WHERE l.job_id = e.id)"
        )
        .await,
        0,
        "an export whose count does not match its ledger"
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM audit_heads h WHERE seq <> \
             (SELECT COUNT(*) FROM audit_log l WHERE l.tenant_id = h.tenant_id)"
        )
        .await,
        0,
        "an audit chain head that does not match its records"
    );
}

#[tokio::test]
async fn a_failure_at_any_statement_leaves_no_half_written_state() {
    let mut failed_somewhere = 0;
    for n in 0..80 {
        let dir = tempfile::tempdir().unwrap();
        let left: Countdown = Arc::new(AtomicI64::new(-1));
        let backend = Faulty {
            inner: SqliteBackend::open(&dir.path().join("meta.db"))
                .await
                .unwrap(),
            left: left.clone(),
        };
        let store = SqlStore::with_backend(Box::new(backend));
        let t = store.create_tenant("acme", "UTC").await.unwrap().id;
        left.store(n, Ordering::SeqCst);
        write_paths(&store, t).await;
        let fired = left.load(Ordering::SeqCst) < 0;
        left.store(-1, Ordering::SeqCst);
        check_invariants(&store).await;
        // And the store goes on working after the failure.
        let g = Guid::new_random();
        store.upsert_interaction(t, &meta(&g)).await.unwrap();
        failed_somewhere += usize::from(fired);
        store.close().await;
    }
    assert!(
        failed_somewhere > 40,
        "the fault fired in only {failed_somewhere} runs"
    );
}

fn audit_event(tenant: TenantId) -> callvault_core::AuditEvent {
    callvault_core::AuditEvent {
        tenant_id: tenant,
        at: Utc::now(),
        principal: "client:test".into(),
        source: None,
        user_agent: None,
        request_id: None,
        dialect: "test".into(),
        operation: "test".into(),
        action: callvault_core::AuditAction::Delete,
        interaction: None,
        content_key: None,
        outcome: "ok".into(),
        detail: None,
    }
}
