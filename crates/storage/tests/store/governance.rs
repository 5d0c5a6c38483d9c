//! Legal holds and retention policies, and the delete gate that obeys them.

use callvault_core::governance::Selector;
use callvault_core::{LegalHold, Refusal, RetentionPolicy};
use uuid::Uuid;

use super::*;

fn hold(tenant: TenantId, selector: Selector) -> LegalHold {
    LegalHold {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        case_name: "Doe v. Acme".into(),
        reason: "litigation".into(),
        selector,
        created_by: "client-1".into(),
        created_at: Utc::now(),
        released_at: None,
        released_by: None,
    }
}

fn policy(tenant: TenantId, name: &str, min: Option<u32>, max: Option<u32>) -> RetentionPolicy {
    RetentionPolicy {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        name: name.into(),
        selector: Selector::default(),
        min_days: min,
        max_days: max,
        enabled: true,
        created_at: now_us(),
        updated_at: now_us(),
    }
}

fn is_held(r: StoreResult<Option<callvault_storage::meta::Removed>>) -> bool {
    matches!(r, Err(StoreError::Refused(Refusal::Held { .. })))
}

type StoreResult<T> = Result<T, StoreError>;

/// Now, at the microseconds the stores keep.
fn now_us() -> DateTime<Utc> {
    Utc.timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

async fn a_hold_refuses_every_delete_until_released(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("other", "UTC").await.unwrap().id;
    let m = meta(0);
    store.upsert_interaction(t, &m).await.unwrap();
    let rec = item("callRecording", ContentType::CallRecording, "aa");
    store.put_content(t, &m.guid, &rec).await.unwrap().unwrap();
    // Held by number: the caller.
    let h = hold(
        t,
        Selector {
            number: Some(m.connect_from.to_string()),
            ..Selector::default()
        },
    );
    store.create_hold(&h, &audit_event(t)).await.unwrap();
    // Another tenant's hold is no business of this tenant's, and the reverse.
    assert!(store.holds(other).await.unwrap().is_empty());
    assert_eq!(store.hold(other, h.id).await.unwrap(), None);

    for cause in [
        DeleteCause::Request,
        DeleteCause::Retention,
        DeleteCause::Erasure,
    ] {
        assert!(is_held(
            store
                .delete_content(t, &m.guid, "callRecording", cause, &audit_event(t))
                .await
        ));
        assert!(is_held(
            store
                .delete_interaction(t, &m.guid, cause, &audit_event(t))
                .await
        ));
    }
    // Content ingested after the hold that matches its query is held too.
    let later = meta(100);
    store.upsert_interaction(t, &later).await.unwrap();
    assert!(is_held(
        store
            .delete_interaction(t, &later.guid, DeleteCause::Request, &audit_event(t))
            .await
    ));
    assert_eq!(
        store
            .get_interaction(t, &m.guid)
            .await
            .unwrap()
            .unwrap()
            .content,
        vec![rec]
    );

    let released = store
        .release_hold(t, h.id, "admin", Utc::now(), &audit_event(t))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(released.released_by.as_deref(), Some("admin"));
    assert!(store.rules(t).await.unwrap().holds.is_empty());
    assert_eq!(store.holds(t).await.unwrap(), vec![released]);
    let removed = store
        .delete_interaction(t, &m.guid, DeleteCause::Request, &audit_event(t))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.released_blobs, vec!["t1/aa".to_string()]);
}

async fn a_minimum_refuses_requests_and_retention_waits_for_the_maximum(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    // Started long ago (ts is in 2023): a year's minimum has passed, a century's not.
    let m = meta(0);
    store.upsert_interaction(t, &m).await.unwrap();
    let keep = policy(t, "keep a century", Some(36_500), None);
    store.put_policy(&keep, &audit_event(t)).await.unwrap();
    let refused = store
        .delete_interaction(t, &m.guid, DeleteCause::Request, &audit_event(t))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Refused(Refusal::Retained { policy, .. })) if policy == "keep a century"),
        "{refused:?}"
    );
    let refused = store
        .delete_interaction(t, &m.guid, DeleteCause::Retention, &audit_event(t))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );

    // Disabled, it protects nothing; a one-day maximum lets retention delete it.
    store
        .put_policy(
            &RetentionPolicy {
                enabled: false,
                ..keep.clone()
            },
            &audit_event(t),
        )
        .await
        .unwrap();
    store
        .put_policy(&policy(t, "a day", None, Some(1)), &audit_event(t))
        .await
        .unwrap();
    assert_eq!(store.policies(t).await.unwrap().len(), 2);
    assert_eq!(store.rules(t).await.unwrap().policies.len(), 1);
    assert!(store
        .delete_interaction(t, &m.guid, DeleteCause::Retention, &audit_event(t))
        .await
        .unwrap()
        .is_some());
}

async fn policy_names_are_unique_per_tenant_and_removal_is_scoped(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("other", "UTC").await.unwrap().id;
    let p = policy(t, "seven years", Some(2555), None);
    store.put_policy(&p, &audit_event(t)).await.unwrap();
    let clash = store
        .put_policy(&policy(t, "seven years", None, Some(9)), &audit_event(t))
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    store
        .put_policy(
            &policy(other, "seven years", None, Some(9)),
            &audit_event(t),
        )
        .await
        .unwrap();
    // Another tenant can neither read, replace nor remove it.
    assert_eq!(store.policy(other, p.id).await.unwrap(), None);
    assert!(!store
        .delete_policy(other, p.id, &audit_event(other))
        .await
        .unwrap());
    store
        .put_policy(
            &RetentionPolicy {
                tenant_id: other,
                name: "stolen".into(),
                ..p.clone()
            },
            &audit_event(t),
        )
        .await
        .unwrap();
    assert_eq!(store.policy(t, p.id).await.unwrap(), Some(p.clone()));
    assert!(store.delete_policy(t, p.id, &audit_event(t)).await.unwrap());
    assert_eq!(store.policies(t).await.unwrap(), vec![]);
}

async fn a_retention_batch_deletes_what_the_gate_allows_and_records_it(db: TestDb) {
    use callvault_storage::meta::Expiring;
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let (held, free) = (meta(0), meta(10));
    for m in [&held, &free] {
        store.upsert_interaction(t, m).await.unwrap();
        let rec = item(
            "callRecording",
            ContentType::CallRecording,
            &m.guid.as_str()[..8],
        );
        store.put_content(t, &m.guid, &rec).await.unwrap().unwrap();
    }
    store
        .create_hold(
            &hold(
                t,
                Selector {
                    guids: vec![held.guid.clone()],
                    ..Selector::default()
                },
            ),
            &audit_event(t),
        )
        .await
        .unwrap();
    store
        .put_policy(&policy(t, "a day", None, Some(1)), &audit_event(t))
        .await
        .unwrap();
    let entry = |g: &Guid, key: Option<&str>| Expiring {
        guid: g.clone(),
        key: key.map(str::to_string),
        audit: audit_event(t),
    };
    let before = store.audit_head(t).await.unwrap().unwrap().0;
    let out = store
        .delete_expired(
            t,
            &[
                entry(&held.guid, None),
                entry(&free.guid, Some("callRecording")),
                entry(&free.guid, None),
                entry(&Guid::new_random(), None),
            ],
        )
        .await
        .unwrap();
    assert!(matches!(out[0], Err(Refusal::Held { .. })), "{out:?}");
    assert_eq!(out[1].as_ref().unwrap().as_ref().unwrap().items.len(), 1);
    assert!(
        out[2].as_ref().unwrap().is_some(),
        "the emptied interaction goes too"
    );
    assert_eq!(out[3], Ok(None));
    assert!(store
        .get_interaction(t, &held.guid)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .get_interaction(t, &free.guid)
        .await
        .unwrap()
        .is_none());
    let after = store.audit_head(t).await.unwrap().unwrap().0;
    assert_eq!(
        after - before,
        2,
        "one record per deletion, none for the refused"
    );
}

on_both!(
    a_retention_batch_deletes_what_the_gate_allows_and_records_it,
    a_hold_refuses_every_delete_until_released,
    a_minimum_refuses_requests_and_retention_waits_for_the_maximum,
    policy_names_are_unique_per_tenant_and_removal_is_scoped,
);
