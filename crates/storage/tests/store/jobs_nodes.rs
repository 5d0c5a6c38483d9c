//! Jobs, and what several nodes on one database must not do to each other.

use super::*;

async fn jobs_create_list_items_and_expiry(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    for (i, kind) in [
        JobKind::Recordings,
        JobKind::Recordings,
        JobKind::RecordingsWithTranscriptions,
        JobKind::Recordings,
    ]
    .into_iter()
    .enumerate()
    {
        store
            .create_job(&job(&format!("j{i}"), t, kind, "u1", i as i64))
            .await
            .unwrap();
    }
    store
        .create_job(&job("other", t, JobKind::Recordings, "u2", 9))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_job(&job("j0", t, JobKind::Recordings, "u1", 0))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let stored = store.job(t, "j0").await.unwrap().unwrap();
    assert_eq!(
        stored,
        job("j0", t, JobKind::Recordings, "u1", 0),
        "params kept byte for byte"
    );

    let (total, page) = store
        .list_jobs(
            t,
            &[JobKind::Recordings, JobKind::RecordingsWithTranscriptions],
            "u1",
            None,
            1,
            2,
        )
        .await
        .unwrap();
    assert_eq!(total, 4);
    let ids: Vec<_> = page.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["j2", "j1"], "newest first");
    let (total, _) = store
        .list_jobs(
            t,
            &[JobKind::Recordings],
            "u1",
            Some(JobStatus::Pending),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(total, 3);

    store
        .add_job_items("j0", 0, &[10, 11, 12], 3, ts(100))
        .await
        .unwrap();
    store
        .add_job_items("j0", 3, &[13], 4, ts(100))
        .await
        .unwrap();
    assert_eq!(
        store.job_items("j0", 0, 2).await.unwrap(),
        vec![(1, 11), (2, 12)]
    );
    assert!(matches!(
        store.add_job_items("j0", 3, &[99], 4, ts(100)).await,
        Err(StoreError::Conflict(_))
    ));
    let j = store.job(t, "j0").await.unwrap().unwrap();
    assert_eq!((j.files_completed, j.files_total), (4, 4));
    store.reset_job_items("j0").await.unwrap();
    assert!(store.job_items("j0", -1, 10).await.unwrap().is_empty());
    store
        .add_job_items("j0", 0, &[10], 1, ts(100))
        .await
        .unwrap();

    store
        .finish_job("j0", JobStatus::Complete, None, Some(ts(500)))
        .await
        .unwrap();
    store
        .finish_job("j1", JobStatus::Failed, Some("boom"), None)
        .await
        .unwrap();
    assert_eq!(store.expire_jobs(ts(400)).await.unwrap(), 0);
    assert_eq!(store.expire_jobs(ts(600)).await.unwrap(), 1);
    let j = store.job(t, "j0").await.unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Expired);
    assert!(store.job_items("j0", -1, 10).await.unwrap().is_empty());
    let failed = store.job(t, "j1").await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (JobStatus::Failed, Some("boom"))
    );

    let mut a = meta(0);
    let b = meta(10);
    a.handling_agents = vec!["x".into()];
    let (ia, _) = store.upsert_interaction(t, &a).await.unwrap();
    let (ib, _) = store.upsert_interaction(t, &b).await.unwrap();
    let rec = item("callRecording", ContentType::CallRecording, "aa");
    store.put_content(t, &a.guid, &rec).await.unwrap();
    let other = store.create_tenant("globex", "UTC").await.unwrap().id;
    let found = store
        .interactions_by_ids(t, &[ib.id, ia.id, 999_999])
        .await
        .unwrap();
    assert_eq!(guids(&found), [a.guid.to_string(), b.guid.to_string()]);
    assert_eq!(found[0].content, vec![rec]);
    assert!(store
        .interactions_by_ids(other, &[ia.id])
        .await
        .unwrap()
        .is_empty());
    store.close().await;
}

/// Claims jobs until none is left; answers their ids.
pub(crate) async fn claim_all(
    store: &SqlStore,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(j) = store.claim_job(now, lease).await.unwrap() {
        assert_eq!((j.status, j.attempts), (JobStatus::InProgress, 1));
        got.push(j.id);
    }
    got
}

async fn two_nodes_never_claim_the_same_job_and_lapsed_leases_are_reclaimed(db: TestDb) {
    let (n1, n2) = (db.store().await, db.store().await);
    let t = n1.create_tenant("acme", "UTC").await.unwrap().id;
    for i in 0..40 {
        n1.create_job(&job(&format!("j{i:02}"), t, JobKind::Recordings, "u", i))
            .await
            .unwrap();
    }
    let now = ts(1000);
    let lease = ts(1060);
    let (a, b, c, d) = tokio::join!(
        claim_all(&n1, now, lease),
        claim_all(&n2, now, lease),
        claim_all(&n1, now, lease),
        claim_all(&n2, now, lease)
    );
    let all: Vec<String> = [a, b, c, d].into_iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 40, "every job claimed once: {all:?}");
    assert_eq!(unique.len(), 40);

    assert_eq!(
        n1.claim_job(ts(1059), ts(1100)).await.unwrap(),
        None,
        "leases hold"
    );
    n2.finish_job("j00", JobStatus::Complete, None, Some(ts(9999)))
        .await
        .unwrap();
    // The runners died: after the lease, the oldest unfinished job is taken again.
    let again = n2.claim_job(ts(1061), ts(1200)).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("j01", 2));
    let (x, y) = tokio::join!(
        n1.claim_job(ts(1061), ts(1200)),
        n2.claim_job(ts(1061), ts(1200))
    );
    let (x, y) = (x.unwrap().unwrap(), y.unwrap().unwrap());
    assert_ne!(x.id, y.id);
    assert!(x.id != "j01" && y.id != "j01" && x.id != "j00" && y.id != "j00");
    n1.close().await;
    n2.close().await;
}

async fn secret_is_shared_between_nodes(db: TestDb) {
    let (n1, n2) = (db.store().await, db.store().await);
    let (a, b) = tokio::join!(n1.secret("cursor", b"one"), n2.secret("cursor", b"two"));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == b"one" || a == b"two");
    assert_eq!(n2.secret("cursor", b"three").await.unwrap(), a);
    assert_eq!(n1.secret("other", b"x").await.unwrap(), b"x");
    n1.close().await;
    n2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_blob_excludes_another_node_until_the_guard_drops() {
    let db = TestDb::postgres().await;
    // A database-wide lock timeout must not cut a blob lock wait short.
    db.admin(&format!(
        "ALTER DATABASE {} SET lock_timeout = '50ms'",
        db.name()
    ))
    .await;
    let (n1, n2) = (db.store().await, db.store().await);
    let key = "t1/ab/abcdef";
    let held = n1.lock_blob(key).await;
    let waiting = tokio::time::timeout(Duration::from_millis(300), n2.lock_blob(key)).await;
    assert!(
        waiting.is_err(),
        "the other node waits while the lock is held"
    );
    // Other keys are free meanwhile.
    let other = tokio::time::timeout(Duration::from_secs(5), n2.lock_blob("t1/cd/other")).await;
    assert!(other.is_ok());
    drop(other);
    // The waiter given up above must not keep (or later take) the lock for good.
    drop(held);
    let got = tokio::time::timeout(Duration::from_secs(5), n2.lock_blob(key)).await;
    assert!(got.is_ok(), "and gets it once released");
    let back = tokio::time::timeout(Duration::from_millis(300), n1.lock_blob(key)).await;
    assert!(back.is_err(), "now the first node waits");
    drop(got);
    for _ in 0..3 {
        // Released connections go back to the pool without the lock.
        let g = tokio::time::timeout(Duration::from_secs(5), n1.lock_blob(key)).await;
        assert!(g.is_ok());
    }
    n1.close().await;
    n2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let db = TestDb::postgres().await;
    let opens = futures::future::join_all((0..4).map(|_| SqlStore::open_postgres(db.url()))).await;
    let stores: Vec<SqlStore> = opens
        .into_iter()
        .map(|s| s.expect("every node opens"))
        .collect();
    let t = stores[0].create_tenant("acme", "UTC").await.unwrap();
    assert_eq!(stores[3].tenant_by_id(t.id).await.unwrap(), Some(t));
    for s in &stores {
        s.ping().await.unwrap();
        s.close().await;
    }
}

on_both!(
    jobs_create_list_items_and_expiry,
    two_nodes_never_claim_the_same_job_and_lapsed_leases_are_reclaimed,
    secret_is_shared_between_nodes,
);
