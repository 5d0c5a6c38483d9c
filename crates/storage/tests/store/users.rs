//! Listing a tenant's users: only agents with a login, by login bytewise, never another
//! tenant's.

use super::*;

async fn users_are_listed_by_login_within_their_tenant(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let other = store.create_tenant("globex", "UTC").await.unwrap().id;
    assert_eq!(store.list_users(t).await.unwrap(), vec![]);

    // An agent whom only an interaction names has no login and is no user.
    let mut m = meta(0);
    m.handling_agents = vec!["agent-x".into(), "7".into()];
    store.upsert_interaction(t, &m).await.unwrap();
    assert_eq!(store.list_users(t).await.unwrap(), vec![]);

    // Bytewise: upper case before lower, "Zed" before "ann"; PostgreSQL's locale
    // collation would put them the other way.
    let zed = store
        .create_user(t, None, "Zed", "$argon2id$z", Role::Agent)
        .await
        .unwrap();
    let boss = store
        .create_user(t, Some("agent-x"), "boss", "$argon2id$b", Role::Admin)
        .await
        .unwrap();
    let ann = store
        .create_user(t, None, "ann", "$argon2id$a", Role::Reviewer)
        .await
        .unwrap();
    // The same logins in another tenant, and one of its own.
    let their_ann = store
        .create_user(other, None, "ann", "$argon2id$o", Role::Admin)
        .await
        .unwrap();
    let cy = store
        .create_user(other, None, "cy", "$argon2id$c", Role::Agent)
        .await
        .unwrap();

    let listed = store.list_users(t).await.unwrap();
    assert_eq!(listed, vec![zed, ann, boss.clone()]);
    assert!(listed.iter().all(|u| u.tenant_id == t));
    assert_eq!((boss.role, listed[2].role), (Role::Admin, Role::Admin));
    assert_eq!(listed[1].role, Role::Reviewer);
    assert_eq!(listed[2].id, "agent-x", "the agent who got a login");
    assert_eq!(store.list_users(other).await.unwrap(), vec![their_ann, cy]);
    assert_eq!(store.list_users(TenantId(999)).await.unwrap(), vec![]);
    store.close().await;
}

on_both!(users_are_listed_by_login_within_their_tenant);
