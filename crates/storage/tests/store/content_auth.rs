//! Content items, API clients, tokens and users.

use super::*;

async fn content_put_replace_delete_and_released_blobs(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let (m1, m2) = (meta(0), meta(10));
    store.upsert_interaction(t, &m1).await.unwrap();
    store.upsert_interaction(t, &m2).await.unwrap();
    let only_with_content = |n| {
        let store = &store;
        async move {
            let q = InteractionQuery::default();
            assert_eq!(store.count(t, &q).await.unwrap(), n);
        }
    };
    only_with_content(0).await;
    assert_eq!(
        store
            .put_content(
                t,
                &Guid::new_random(),
                &item("k", ContentType::Attachment, "a")
            )
            .await
            .unwrap(),
        None
    );

    let rec = item("callRecording", ContentType::CallRecording, "aa");
    let out = store.put_content(t, &m1.guid, &rec).await.unwrap().unwrap();
    assert!(out.created && out.released_blob.is_none());
    let tr = item("transcript", ContentType::Transcript, "bb");
    store.put_content(t, &m1.guid, &tr).await.unwrap().unwrap();
    // The same bytes under another interaction.
    store.put_content(t, &m2.guid, &rec).await.unwrap().unwrap();
    only_with_content(2).await;
    assert!(store.blob_referenced("t1/aa").await.unwrap());
    assert!(!store.blob_referenced("t1/zz").await.unwrap());

    // Replacing with the same bytes releases nothing; with other bytes, the old blob is
    // released only once nothing references it.
    let again = store.put_content(t, &m1.guid, &rec).await.unwrap().unwrap();
    assert!(!again.created && again.released_blob.is_none());
    let rec2 = item("callRecording", ContentType::CallRecording, "cc");
    let replaced = store
        .put_content(t, &m1.guid, &rec2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.released_blob, None, "m2 still uses t1/aa");
    let got = store.get_interaction(t, &m1.guid).await.unwrap().unwrap();
    assert_eq!(
        got.content,
        vec![rec2.clone(), tr.clone()],
        "a replaced item keeps its place"
    );
    let tr2 = item("transcript", ContentType::Transcript, "dd");
    let replaced = store.put_content(t, &m1.guid, &tr2).await.unwrap().unwrap();
    assert_eq!(replaced.released_blob, Some("t1/bb".into()));

    assert_eq!(
        store
            .delete_content(t, &m1.guid, "nope", DeleteCause::Request, &audit_event(t))
            .await
            .unwrap(),
        None
    );
    let removed = store
        .delete_content(
            t,
            &m2.guid,
            "callRecording",
            DeleteCause::Request,
            &audit_event(t),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.items, vec![rec.clone()]);
    assert_eq!(removed.released_blobs, vec!["t1/aa".to_string()]);
    only_with_content(1).await;
    assert!(store.get_interaction(t, &m2.guid).await.unwrap().is_some());

    let removed = store
        .delete_interaction(t, &m1.guid, DeleteCause::Request, &audit_event(t))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.items, vec![rec2, tr2]);
    assert_eq!(
        removed.released_blobs,
        vec!["t1/cc".to_string(), "t1/dd".to_string()]
    );
    assert_eq!(store.get_interaction(t, &m1.guid).await.unwrap(), None);
    assert_eq!(
        store
            .delete_interaction(t, &m1.guid, DeleteCause::Request, &audit_event(t))
            .await
            .unwrap(),
        None
    );
    only_with_content(0).await;
    store.close().await;
}

pub(crate) fn client(id: &str, tenant: TenantId) -> ApiClient {
    ApiClient {
        client_id: id.into(),
        tenant_id: tenant,
        name: format!("client {id}"),
        secret_hash: vec![1, 2, 3],
        scopes: "read write".into(),
        created_at: ts(0),
        revoked_at: None,
    }
}

pub(crate) fn token(
    hash: &[u8],
    tenant: TenantId,
    client: &str,
    user: Option<&str>,
    exp: i64,
) -> AccessToken {
    AccessToken {
        token_hash: hash.to_vec(),
        tenant_id: tenant,
        client_id: client.into(),
        user_id: user.map(str::to_string),
        scopes: "read".into(),
        expires_at: ts(exp),
    }
}

async fn clients_tokens_and_refresh_tokens_used_once(db: TestDb) {
    let (n1, n2) = (db.store().await, db.store().await);
    let t = n1.create_tenant("acme", "UTC").await.unwrap().id;
    n1.create_client(&client("c1", t)).await.unwrap();
    n1.create_client(&client("c2", t)).await.unwrap();
    assert!(matches!(
        n1.create_client(&client("c1", t)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(n2.client_by_id("c1").await.unwrap(), Some(client("c1", t)));
    assert_eq!(n2.client_by_id("c\0").await.unwrap(), None);
    assert_eq!(
        n2.list_clients(t).await.unwrap(),
        vec![client("c1", t), client("c2", t)]
    );
    assert!(n1.set_client_secret("c1", b"new").await.unwrap());
    assert_eq!(
        n2.client_by_id("c1").await.unwrap().unwrap().secret_hash,
        b"new".to_vec()
    );

    let access = token(b"h1", t, "c1", Some("u1"), 100);
    n1.insert_token(&access).await.unwrap();
    assert!(matches!(
        n1.insert_token(&access).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        n1.insert_token(&token(b"h9", t, "nobody", None, 100)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(n2.token_by_hash(b"h1").await.unwrap(), Some(access));

    let refresh = token(b"r1", t, "c1", Some("u1"), 100);
    n1.insert_refresh_token(&refresh).await.unwrap();
    assert_eq!(
        n1.take_refresh_token(b"r1", "c2").await.unwrap(),
        None,
        "another client's presentation does not burn it"
    );
    let (a, b) = tokio::join!(
        n1.take_refresh_token(b"r1", "c1"),
        n2.take_refresh_token(b"r1", "c1")
    );
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken, vec![refresh], "exactly one node gets the token");

    n1.insert_token(&token(b"old", t, "c2", None, 10))
        .await
        .unwrap();
    n1.insert_refresh_token(&token(b"rold", t, "c2", Some("u"), 10))
        .await
        .unwrap();
    assert_eq!(n1.delete_expired_tokens(ts(50)).await.unwrap(), 2);
    assert_eq!(n1.token_by_hash(b"old").await.unwrap(), None);

    n1.insert_refresh_token(&token(b"r2", t, "c1", Some("u1"), 100))
        .await
        .unwrap();
    assert!(n2.revoke_client("c1").await.unwrap());
    assert!(!n2.revoke_client("c1").await.unwrap());
    assert_eq!(n1.token_by_hash(b"h1").await.unwrap(), None);
    assert_eq!(n1.take_refresh_token(b"r2", "c1").await.unwrap(), None);
    assert!(matches!(
        n1.insert_token(&token(b"h2", t, "c1", None, 100)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!n1.set_client_secret("c1", b"x").await.unwrap());
    n1.close().await;
    n2.close().await;
}

async fn users(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let mut m = meta(0);
    m.handling_agents = vec!["200".into(), "agent-x".into()];
    store.upsert_interaction(t, &m).await.unwrap();

    let first = store
        .create_user(t, None, "ann", "$argon2id$a", Role::Agent)
        .await
        .unwrap();
    assert_eq!(first.id, "201", "after the largest numeric agent id");
    let admin = store
        .create_user(t, Some("agent-x"), "boss", "$argon2id$b", Role::Admin)
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(matches!(
        store.create_user(t, None, "ann", "h", Role::Agent).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_user(t, Some("agent-x"), "other", "h", Role::Agent)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let next = store
        .create_user(t, None, "cy", "h", Role::Reviewer)
        .await
        .unwrap();
    assert_eq!((next.id.as_str(), next.role), ("202", Role::Reviewer));
    assert_eq!(store.user_by_id(t, "202").await.unwrap(), Some(next));

    let rec = store.user_by_login(t, "boss").await.unwrap().unwrap();
    assert_eq!(
        (rec.user, rec.password_hash.as_str()),
        (admin, "$argon2id$b")
    );
    assert_eq!(store.user_by_login(t, "BOSS").await.unwrap(), None);
    assert_eq!(store.user_by_id(t, "201").await.unwrap(), Some(first));
    assert_eq!(store.user_by_id(t, "200").await.unwrap(), None, "no login");

    let fresh = store.create_tenant("globex", "UTC").await.unwrap().id;
    let u = store
        .create_user(fresh, None, "ann", "h", Role::Agent)
        .await
        .unwrap();
    assert_eq!(u.id, "100001");
    store.close().await;
}

/// Items come back in the order they were first stored, not in key order, on every read
/// path; replacing an item keeps its place, and a deletion reports them in that order.
async fn content_keeps_the_order_it_was_first_stored_in(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let m = meta(0);
    store.upsert_interaction(t, &m).await.unwrap();
    let keys = [
        "transcript",
        "callRecording",
        "attachment-b",
        "attachment-a",
    ];
    for k in keys {
        let it = item(k, ContentType::Attachment, &format!("{k}-1"));
        store.put_content(t, &m.guid, &it).await.unwrap().unwrap();
    }
    let replaced = item("callRecording", ContentType::Attachment, "again");
    store
        .put_content(t, &m.guid, &replaced)
        .await
        .unwrap()
        .unwrap();
    let order = |i: &Interaction| i.content.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
    let got = store.get_interaction(t, &m.guid).await.unwrap().unwrap();
    assert_eq!(order(&got), keys);
    let listed = store
        .search(t, &InteractionQuery::default(), PageStart::Offset(0), 10)
        .await
        .unwrap();
    assert_eq!(
        order(&listed[0]),
        keys,
        "search attaches content in the same order"
    );
    let by_id = store.interactions_by_ids(t, &[got.id]).await.unwrap();
    assert_eq!(order(&by_id[0]), keys);
    let removed = store
        .delete_interaction(t, &m.guid, DeleteCause::Request, &audit_event(t))
        .await
        .unwrap()
        .unwrap();
    let removed: Vec<&str> = removed.items.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(removed, keys);
    store.close().await;
}

/// A database made before roles (with an agent that has no login, as ingest makes them):
/// the roles migration keeps its admins admins and makes every other user an agent.
async fn the_roles_migration_keeps_admins_and_makes_the_rest_agents(db: TestDb) {
    db.made_before(
        "0010_roles.sql",
        "0008_roles.sql",
        &[
            "INSERT INTO tenants (name, time_zone, created_us) VALUES ('acme', 'UTC', 0)",
            "INSERT INTO agents (tenant_id, agent_id, login, password_hash, is_admin) \
             SELECT id, '7', 'boss', 'h', TRUE FROM tenants",
            "INSERT INTO agents (tenant_id, agent_id, login, password_hash, is_admin) \
             SELECT id, '8', 'ann', 'h', FALSE FROM tenants",
            "INSERT INTO agents (tenant_id, agent_id) SELECT id, '9' FROM tenants",
        ],
    )
    .await;
    // Opening the store applies the rest, as a node upgraded in place does.
    let store = db.store().await;
    let t = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    let role = |login: &'static str| {
        let store = &store;
        async move {
            store
                .user_by_login(t, login)
                .await
                .unwrap()
                .unwrap()
                .user
                .role
        }
    };
    assert_eq!(role("boss").await, Role::Admin);
    assert_eq!(role("ann").await, Role::Agent);
    // A reviewer is new, and stored as such beside the migrated rows.
    let u = store
        .create_user(t, None, "rita", "h", Role::Reviewer)
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(t, &u.id).await.unwrap().unwrap().role,
        Role::Reviewer
    );
    store.close().await;
}

on_both!(
    content_keeps_the_order_it_was_first_stored_in,
    content_put_replace_delete_and_released_blobs,
    clients_tokens_and_refresh_tokens_used_once,
    users,
    the_roles_migration_keeps_admins_and_makes_the_rest_agents,
);
