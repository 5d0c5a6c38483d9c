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
        guids.push(recorded(&store, t, n, &format!("r{n}")).await);
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
        .settle_deliveries(sa.id, lease, &[(a.seq, retry)], now)
        .await
        .unwrap();
    assert!(store
        .claim_deliveries(now, lease, 5)
        .await
        .unwrap()
        .is_none());
    let later = now + chrono::Duration::seconds(61);
    let later_lease = later + chrono::Duration::seconds(15);
    let (_, batch) = store
        .claim_deliveries(later, later_lease, 10)
        .await
        .unwrap()
        .unwrap();
    let seqs: Vec<i64> = batch.iter().map(|d| d.seq).collect();
    assert_eq!(batch.len(), 3, "the whole due front of the queue, in order");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!((batch[0].seq, batch[0].attempts), (a.seq, 1));
    assert_eq!(batch[0].last_error.as_deref(), Some("HTTP 500"));
    // A lease that ran out lets another sender claim the subscription; the first
    // sender's late settle records its outcome but cannot give back the new lease.
    let (_, del_again) = store
        .claim_deliveries(later, later_lease, 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(del_again[0].seq, b.seq);
    let gone = Sent::Failed {
        error: "gone".into(),
    };
    store
        .settle_deliveries(sb.id, lease, &[(b.seq, gone)], later)
        .await
        .unwrap();
    assert!(
        store
            .claim_deliveries(later, later, 5)
            .await
            .unwrap()
            .is_none(),
        "both subscriptions are held by their second claims"
    );
    store
        .settle_deliveries(sa.id, later_lease, &[(a.seq, Sent::Delivered)], later)
        .await
        .unwrap();
    store
        .settle_deliveries(sb.id, later_lease, &[], later)
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

    // Settled ones are listed by their outcome, with the event they carried.
    let failed = store
        .deliveries(t, deleted.id, Some(DeliveryState::Failed), 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (&failed[0].event_id, failed[0].last_error.as_deref()),
        (&b.event_id, Some("gone"))
    );
    assert_eq!((failed[0].attempts, failed[0].delivered_at), (1, None));
    let delivered = store
        .deliveries(t, created.id, Some(DeliveryState::Delivered), 10)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        (
            &delivered[0].data,
            delivered[0].delivered_at.map(|t| t.timestamp_micros())
        ),
        (&a.data, Some(later.timestamp_micros()))
    );
    assert_eq!(
        store
            .deliveries(t, created.id, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| d.state)
            .collect::<Vec<_>>(),
        [
            DeliveryState::Pending,
            DeliveryState::Pending,
            DeliveryState::Delivered
        ],
        "newest first, queued and settled together"
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
            deleted.id,
            later,
            &[(
                again[0].seq,
                Sent::Failed {
                    error: "still gone".into(),
                },
            )],
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

/// An outbox written before events were stored once (one row per event and
/// subscription): the migration keeps every delivery, its state and its event.
async fn the_events_migration_keeps_the_old_outbox(db: TestDb) {
    const A: &str = "00000000-0000-0000-0000-00000000000a";
    const B: &str = "00000000-0000-0000-0000-00000000000b";
    let sub = |id: &str, name: &str| {
        format!(
            "INSERT INTO webhook_subscriptions (id, tenant_id, name, url, events, enabled, \
             sealed_key, created_us, updated_us) SELECT '{id}', id, '{name}', \
             'https://example.com/{name}', '[\"content.created\"]', TRUE, '', 0, 0 FROM tenants"
        )
    };
    let delivery = |sub: &str, event: &str, state: &str, attempts: i64, error: &str| {
        format!(
            "INSERT INTO webhook_deliveries (subscription_id, tenant_id, event_id, event_type, \
             subject, data, event_us, status, attempts, next_us, last_error, delivered_us) \
             SELECT '{sub}', id, '{event}', 'content.created', 'g-{event}', '{{\"of\":\"{event}\"}}', \
             1000000, '{state}', {attempts}, 5000000, {error}, \
             CASE WHEN '{state}' = 'delivered' THEN 7000000 END FROM tenants"
        )
    };
    let rows = [
        "INSERT INTO tenants (name, time_zone, created_us) VALUES ('acme', 'UTC', 0)".to_string(),
        sub(A, "a"),
        sub(B, "b"),
        delivery(A, "e1", "pending", 2, "'HTTP 500'"),
        delivery(B, "e1", "delivered", 1, "NULL"),
        delivery(A, "e2", "failed", 9, "'gone'"),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    db.made_before("0012_webhook_events.sql", "0010_webhook_events.sql", &rows)
        .await;
    let store = db.store().await;
    let t = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    let (a, b) = (Uuid::parse_str(A).unwrap(), Uuid::parse_str(B).unwrap());
    let of_a = store.deliveries(t, a, None, 10).await.unwrap();
    let seen: Vec<_> = of_a
        .iter()
        .map(|d| {
            (
                d.event_id.as_str(),
                d.state,
                d.attempts,
                d.last_error.as_deref(),
                d.data.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "e2",
                DeliveryState::Failed,
                9,
                Some("gone"),
                r#"{"of":"e2"}"#
            ),
            (
                "e1",
                DeliveryState::Pending,
                2,
                Some("HTTP 500"),
                r#"{"of":"e1"}"#
            ),
        ]
    );
    assert_eq!(of_a[1].next_at.timestamp(), 5);
    assert_eq!(of_a[1].subject.as_deref(), Some("g-e1"));
    let of_b = store.deliveries(t, b, None, 10).await.unwrap();
    assert_eq!(of_b.len(), 1);
    assert_eq!(of_b[0].seq, of_a[1].seq, "one event, delivered to both");
    assert_eq!(
        (of_b[0].state, of_b[0].delivered_at.map(|t| t.timestamp())),
        (DeliveryState::Delivered, Some(7))
    );
    assert!(store.redeliver(t, a, "e2", Utc::now()).await.unwrap());
    store.close().await;
}

on_both!(the_events_migration_keeps_the_old_outbox);

/// `callvault migrate` reads each SQLite table in pages in key order: by `rowid`, or by a
/// `WITHOUT ROWID` table's primary key (the queue's is two columns), so every row
/// arrives once when pages end inside one subscription's rows and between two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_move_to_postgres_pages_the_queue_by_its_two_column_key() {
    const A: &str = "00000000-0000-0000-0000-00000000000a";
    const B: &str = "00000000-0000-0000-0000-00000000000b";
    const PER_SUBSCRIPTION: i64 = 1_500;
    let series = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
         WHERE i < {PER_SUBSCRIPTION})"
    );
    let sub = |id: &str, name: &str| {
        format!(
            "INSERT INTO webhook_subscriptions (id, tenant_id, name, url, events, enabled, \
             sealed_key, created_us, updated_us) SELECT '{id}', id, '{name}', \
             'https://example.com/{name}', '[\"content.created\"]', TRUE, X'00', 0, 0 \
             FROM tenants"
        )
    };
    let queue = |id: &str| {
        format!(
            "{series} INSERT INTO webhook_queue (subscription_id, event_seq, attempts, next_us, \
             window_us) SELECT '{id}', i, 0, i, i FROM n"
        )
    };
    let rows = [
        "INSERT INTO tenants (name, time_zone, created_us) VALUES ('acme', 'UTC', 0)".into(),
        sub(A, "a"),
        sub(B, "b"),
        format!(
            "{series} INSERT INTO webhook_events (seq, tenant_id, event_id, event_type, data, \
             event_us) SELECT i, (SELECT id FROM tenants), 'e' || i, 'content.created', '{{}}', i \
             FROM n"
        ),
        queue(A),
        queue(B),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let embedded = TestDb::sqlite();
    embedded.made_before("9999", "9999", &rows).await;
    let from = embedded.store().await;
    let scaled = TestDb::postgres().await;
    let to = scaled.store().await;

    let reports = callvault_storage::migrate::copy_metadata(&from, &to)
        .await
        .unwrap();
    let queue = reports.iter().find(|r| r.table == "webhook_queue").unwrap();
    assert_eq!((queue.source, queue.target), (3_000, 3_000));
    let t = to.tenant_by_name("acme").await.unwrap().unwrap().id;
    for id in [A, B] {
        let pending = to
            .deliveries(t, Uuid::parse_str(id).unwrap(), None, 5_000)
            .await
            .unwrap();
        let seqs: Vec<i64> = pending.iter().rev().map(|d| d.seq).collect();
        assert_eq!(seqs, (1..=PER_SUBSCRIPTION).collect::<Vec<_>>(), "{id}");
    }
    from.close().await;
    to.close().await;
}

/// A change marks its event as still to be queued, and the next claim queues it for the
/// subscriptions that want it and existed when it happened: the listing shows the same
/// pending delivery before and after, once, and pruning keeps an event not yet queued.
async fn an_event_is_the_same_pending_delivery_before_and_after_it_is_queued(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let hook = subscription(t, "created", vec![EventType::ContentCreated]);
    store.create_subscription(&hook).await.unwrap();
    let pending = || async {
        store
            .deliveries(t, hook.id, Some(DeliveryState::Pending), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.seq, d.event_id, d.attempts, d.data))
            .collect::<Vec<_>>()
    };
    recorded(&store, t, 1, "r1").await;
    let before = pending().await;
    assert_eq!(before.len(), 1);
    // A subscription made after the change does not get its event, queued or not.
    let late = Subscription {
        created_at: Utc::now(),
        ..subscription(t, "late", vec![EventType::ContentCreated])
    };
    store.create_subscription(&late).await.unwrap();
    let of_late = || async { store.deliveries(t, late.id, None, 10).await.unwrap() };
    assert!(of_late().await.is_empty());
    // A claim before the event is due queues it and sends nothing.
    let early = ts(0);
    assert!(store
        .claim_deliveries(early, early, 5)
        .await
        .unwrap()
        .is_none());
    assert_eq!(pending().await, before);
    assert!(of_late().await.is_empty());
    recorded(&store, t, 2, "r2").await;
    assert_eq!(
        store
            .prune_deliveries(Utc::now() + chrono::Duration::days(30))
            .await
            .unwrap(),
        0
    );
    let both = pending().await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1], before[0]);
    let now = Utc::now();
    let (_, batch) = store.claim_deliveries(now, now, 5).await.unwrap().unwrap();
    assert_eq!(
        batch.iter().map(|d| d.seq).collect::<Vec<_>>(),
        [both[1].0, both[0].0],
        "both, oldest first"
    );
    store.close().await;
}

on_both!(an_event_is_the_same_pending_delivery_before_and_after_it_is_queued);

/// Events whose subscription was deleted before they were queued are taken by nobody. A
/// claim that queues such events and then finds nothing to send must still keep what it
/// did: undone, the same oldest marks came back to every claim, and once a claim's worth
/// of them (a receiver held every sender's lease while a burst of uploads went by, and
/// then its subscriptions were deleted) stood at the head, no event of any tenant was
/// ever queued again.
async fn events_nobody_takes_any_more_do_not_hold_up_the_queue(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let gone = subscription(t, "gone", vec![EventType::ContentCreated]);
    store.create_subscription(&gone).await.unwrap();
    for n in 0..1_001 {
        recorded(&store, t, n, &format!("r{n}")).await;
    }
    assert!(store.delete_subscription(t, gone.id).await.unwrap());
    let kept = Subscription {
        created_at: Utc::now(),
        ..subscription(t, "kept", vec![EventType::ContentCreated])
    };
    store.create_subscription(&kept).await.unwrap();
    let last = recorded(&store, t, 2_000, "last").await;
    let now = Utc::now();
    let mut claimed = None;
    for _ in 0..3 {
        claimed = store.claim_deliveries(now, now, 5).await.unwrap();
        if claimed.is_some() {
            break;
        }
    }
    let (sub, batch) = claimed.expect("the kept subscription's event is never claimed");
    assert_eq!(sub.id, kept.id);
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].subject.as_deref(), Some(last.as_str()));
    store.close().await;
}

on_both!(events_nobody_takes_any_more_do_not_hold_up_the_queue);
