//! The audit trail: chained per tenant on both backends, from two nodes at once, and read
//! back with filters.

use callvault_core::audit::{verify_run, GENESIS};
use callvault_core::AuditAction;
use callvault_storage::AuditFilter;

use super::*;

async fn all(store: &SqlStore, t: TenantId) -> Vec<callvault_core::AuditRecord> {
    store
        .audit_page(t, &AuditFilter::default(), 0, 10_000)
        .await
        .unwrap()
}

async fn chains_per_tenant_and_reads_back_filtered(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("other", "UTC").await.unwrap().id;
    let mut events = Vec::new();
    for n in 0..5 {
        let mut e = audit_event(if n % 2 == 0 { t } else { other });
        e.action = AuditAction::Download;
        e.interaction = Some(format!("g{n}"));
        e.at = ts(n);
        events.push(e);
    }
    store.append_audit(&events).await.unwrap();
    store.append_audit(&events[..1]).await.unwrap();
    let mine = all(&store, t).await;
    assert_eq!(mine.len(), 4);
    assert!(mine.iter().all(|r| r.event.tenant_id == t));
    assert_eq!(mine[0].prev_hash, GENESIS);
    verify_run(&mut GENESIS.to_string(), &mine).unwrap();
    assert_eq!(
        store.audit_head(t).await.unwrap(),
        Some((4, mine[3].hash.clone()))
    );
    let by_interaction = AuditFilter {
        interaction: Some("g2".into()),
        ..AuditFilter::default()
    };
    let found = store.audit_page(t, &by_interaction, 0, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].event, events[2]);
    let in_time = AuditFilter {
        from: Some(ts(1)),
        to: Some(ts(4)),
        action: Some(AuditAction::Download),
        ..AuditFilter::default()
    };
    let found = store.audit_page(t, &in_time, 0, 10).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    // Paging by seq.
    let page = store
        .audit_page(t, &AuditFilter::default(), mine[1].seq, 2)
        .await
        .unwrap();
    assert_eq!(page, mine[2..4].to_vec());
}

async fn two_nodes_appending_at_once_keep_one_chain(db: TestDb) {
    let a = db.store().await;
    let b = db.store().await;
    let t = a.create_tenant("acme", "UTC").await.unwrap().id;
    let write = |s: SqlStore| async move {
        for n in 0..20 {
            let mut e = audit_event(t);
            e.request_id = Some(format!("{n}"));
            s.append_audit(&[e.clone(), e]).await.unwrap();
        }
        s
    };
    let (a, _b) = tokio::join!(tokio::spawn(write(a)), tokio::spawn(write(b)));
    let a = a.unwrap();
    let records = all(&a, t).await;
    assert_eq!(records.len(), 80);
    verify_run(&mut GENESIS.to_string(), &records).unwrap();
}

/// Newest first, paged back by seq, filtered, and within the tenant.
async fn reads_back_newest_first_in_pages(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("other", "UTC").await.unwrap().id;
    let mut events: Vec<_> = (0..5)
        .map(|n| {
            let mut e = audit_event(t);
            e.interaction = Some(format!("g{}", n % 2));
            e.at = ts(n);
            e
        })
        .collect();
    events.push(audit_event(other));
    store.append_audit(&events).await.unwrap();
    let mine = all(&store, t).await;
    let newest: Vec<_> = mine.iter().rev().cloned().collect();
    let everything = AuditFilter::default();
    let first = store
        .audit_page_newest(t, &everything, None, 2)
        .await
        .unwrap();
    assert_eq!(first, newest[..2].to_vec());
    let next = store
        .audit_page_newest(t, &everything, Some(first[1].seq), 10)
        .await
        .unwrap();
    assert_eq!(
        next,
        newest[2..].to_vec(),
        "the rest, without the other tenant's"
    );
    let g0 = AuditFilter {
        interaction: Some("g0".into()),
        ..AuditFilter::default()
    };
    let found = store.audit_page_newest(t, &g0, None, 10).await.unwrap();
    let at: Vec<_> = found.iter().map(|r| r.event.at).collect();
    assert_eq!(at, [ts(4), ts(2), ts(0)]);
}

on_both!(
    reads_back_newest_first_in_pages,
    chains_per_tenant_and_reads_back_filtered,
    two_nodes_appending_at_once_keep_one_chain,
);
