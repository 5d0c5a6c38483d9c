//! The webhook outbox on both backends: events written with their change, claimed in
//! order per subscription, settled, pruned.

use callvault_core::webhook::{DeliveryState, EventType, Subscription};
use callvault_storage::webhook::Sent;
use uuid::Uuid;

use super::*;

fn subscription(tenant: TenantId, name: &str, events: Vec<EventType>) -> Subscription {
    Subscription {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        name: name.into(),
        url: "https://example.com/hook".into(),
        events,
        enabled: true,
        sealed_key: vec![1, 2, 3],
        created_at: ts(0),
        updated_at: ts(0),
    }
}

async fn outbox_follows_changes_in_order_per_subscription(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("globex", "UTC").await.unwrap().id;
    let created = subscription(t, "created", vec![EventType::ContentCreated]);
    let deleted = subscription(t, "deleted", vec![EventType::InteractionDeleted]);
    let theirs = subscription(other, "created", vec![EventType::ContentCreated]);
    for s in [&created, &deleted, &theirs] {
        store.create_subscription(s).await.unwrap();
    }
    assert!(matches!(
        store
            .create_subscription(&subscription(t, "created", vec![]))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let mut guids = Vec::new();
    for n in 0..3 {
        let m = meta(n);
        store.upsert_interaction(t, &m).await.unwrap();
        let rec = item(
            "callRecording",
            ContentType::CallRecording,
            &format!("r{n}"),
        );
        store.put_content(t, &m.guid, &rec).await.unwrap();
        guids.push(m.guid);
    }
    store
        .delete_interaction(t, &guids[0], DeleteCause::Request, &audit_event(t))
        .await
        .unwrap();
    let pending = store
        .deliveries(t, created.id, Some(DeliveryState::Pending), 10)
        .await
        .unwrap();
    assert_eq!(
        pending.len(),
        3,
        "one per upload, none of the other tenant's"
    );
    assert!(store
        .deliveries(other, created.id, None, 10)
        .await
        .unwrap()
        .is_empty());

    // Each subscription has one batch out at a time, oldest first.
    let now = Utc::now();
    let lease = now + chrono::Duration::seconds(15);
    let (sa, first) = store
        .claim_deliveries(now, lease, 1)
        .await
        .unwrap()
        .unwrap();
    let (sb, del) = store
        .claim_deliveries(now, lease, 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sa.id, sb.id), (created.id, deleted.id));
    let (a, b) = (&first[0], &del[0]);
    assert_eq!((first.len(), del.len()), (1, 1));
    assert_eq!(a.subject.as_deref(), Some(guids[0].as_str()));
    assert_eq!(b.event_type, EventType::InteractionDeleted);
    assert!(
        store
            .claim_deliveries(now, lease, 5)
            .await
            .unwrap()
            .is_none(),
        "the heads are out, and what follows them waits"
    );
    // A failed try keeps the ones after it waiting behind it; untried leases come back.
    let retry = Sent::Retry {
        error: "HTTP 500".into(),
        next: now + chrono::Duration::seconds(60),
    };
    store
        .settle_deliveries(&[(a.seq, retry)], &[], now)
        .await
        .unwrap();
    assert!(store
        .claim_deliveries(now, lease, 5)
        .await
        .unwrap()
        .is_none());
    let later = now + chrono::Duration::seconds(61);
    let (_, batch) = store
        .claim_deliveries(later, later + chrono::Duration::seconds(15), 10)
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<i64> = batch.iter().map(|d| d.seq).collect();
    assert_eq!(batch.len(), 3, "the whole due front of the queue, in order");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!((batch[0].seq, batch[0].attempts), (a.seq, 1));
    assert_eq!(batch[0].last_error.as_deref(), Some("HTTP 500"));
    store
        .settle_deliveries(&[(a.seq, Sent::Delivered)], &seqs[1..], later)
        .await
        .unwrap();
    let gone = Sent::Failed {
        error: "gone".into(),
    };
    store
        .settle_deliveries(&[(b.seq, gone)], &[], later)
        .await
        .unwrap();
    let (_, next) = store
        .claim_deliveries(later, later, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next[0].subject.as_deref(),
        Some(guids[1].as_str()),
        "then the second upload, its lease given back"
    );

    // A failed one can be sent again, keeping its id; a delivered one cannot.
    assert!(!store
        .redeliver(t, created.id, &a.event_id, later)
        .await
        .unwrap());
    assert!(!store
        .redeliver(other, deleted.id, &b.event_id, later)
        .await
        .unwrap());
    assert!(store
        .redeliver(t, deleted.id, &b.event_id, later)
        .await
        .unwrap());
    let (_, again) = store
        .claim_deliveries(later, later, 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again[0].event_id.as_str(), again[0].attempts),
        (b.event_id.as_str(), 1)
    );
    store
        .settle_deliveries(
            &[(
                again[0].seq,
                Sent::Failed {
                    error: "still gone".into(),
                },
            )],
            &[],
            later,
        )
        .await
        .unwrap();

    // Done deliveries are pruned once old enough; pending ones never are.
    assert_eq!(store.prune_deliveries(ts(0)).await.unwrap(), 0);
    assert_eq!(
        store
            .prune_deliveries(later + chrono::Duration::days(8))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .deliveries(t, created.id, None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(store.delete_subscription(t, created.id).await.unwrap());
    assert!(
        !store.delete_subscription(other, deleted.id).await.unwrap(),
        "not theirs to delete"
    );
}

on_both!(outbox_follows_changes_in_order_per_subscription,);
