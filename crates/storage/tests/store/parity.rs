//! The same script on SQLite and PostgreSQL, answer for answer.

use super::*;
use crate::content_auth::*;
use crate::search::*;

/// An answer with the times a store takes from its own clock blanked, and errors
/// reduced to their kind (the backends' messages differ).
pub(crate) fn shown<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => ["created_at: ", "updated_at: ", "revoked_at: "]
            .into_iter()
            .fold(format!("{v:?}"), |text, label| blank(&text, label)),
        Err(StoreError::Conflict(_)) => "Conflict".into(),
        Err(StoreError::NotFound(_)) => "NotFound".into(),
        Err(StoreError::Busy(_)) => "Busy".into(),
        Err(StoreError::Full) => "Full".into(),
        Err(StoreError::Refused(r)) => format!("Refused({r:?})"),
        Err(StoreError::Backend { .. }) => "Backend".into(),
        Err(StoreError::Io(_)) => "Io".into(),
        Err(StoreError::Unavailable { .. }) => "Unavailable".into(),
    }
}

/// Replaces every value following `label` (up to the next `,` or `}`) with `_`.
pub(crate) fn blank(text: &str, label: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(label) {
        let (head, tail) = rest.split_at(at + label.len());
        out.push_str(head);
        out.push('_');
        rest = &tail[tail.find([',', '}']).unwrap_or(tail.len())..];
    }
    out.push_str(rest);
    out
}

/// The same calls, on any store; answers everything it answered.
pub(crate) async fn transcript(
    s: &dyn Store,
    fixture: &[(InteractionMeta, Vec<ContentItem>)],
) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! log {
        ($label:expr, $call:expr) => {
            out.push(format!("{}: {}", $label, shown($call)))
        };
    }
    log!("tenant", s.create_tenant("acme", "UTC").await);
    log!("dup tenant", s.create_tenant("acme", "UTC").await);
    log!("tenant", s.create_tenant("globex", "UTC").await);
    log!("tenants", s.list_tenants().await);
    log!(
        "tz",
        s.set_tenant_time_zone(TenantId(2), "Europe/Paris").await
    );
    log!("by name", s.tenant_by_name("globex").await);
    let (t, noise) = (TenantId(1), TenantId(2));
    let (answers, stored) = load_fixture(s, t, noise, fixture).await;
    out.extend(answers);
    for (name, q, _) in search_cases(&stored) {
        for newest_first in [false, true] {
            let q = InteractionQuery {
                newest_first,
                ..q.clone()
            };
            let mut cursor = None;
            loop {
                let page = s.search(t, &q, PageStart::After(cursor), 4).await.unwrap();
                out.push(format!("{name}: {}", shown(Ok::<_, StoreError>(&page))));
                match page.last() {
                    Some(l) => {
                        cursor = Some(SearchCursor {
                            start_us: l.meta.start.timestamp_micros(),
                            id: l.id,
                        })
                    }
                    None => break,
                }
            }
            log!(name, s.search(t, &q, PageStart::Offset(5), 7).await);
            log!(name, s.count(t, &q).await);
        }
    }
    log!("by number", s.interaction_by_number(t, 3).await);
    log!("by number", s.interaction_by_number(noise, 3).await);
    let mut changed = fixture[1].0.clone();
    changed.handling_agents = vec!["zz".into()];
    log!("update", s.upsert_interaction(t, &changed).await);

    let g = &fixture[0].0.guid;
    log!("same", s.put_content(t, g, &fixture[0].1[0]).await);
    let other = item("callRecording", ContentType::CallRecording, "new");
    log!("replace", s.put_content(t, g, &other).await);
    log!("shared", s.put_content(t, &fixture[2].0.guid, &other).await);
    log!("get", s.get_interaction(t, g).await);
    log!(
        "delete",
        s.delete_content(t, g, "transcript", DeleteCause::Request, &audit_event(t))
            .await
    );
    log!(
        "delete",
        s.delete_content(t, g, "transcript", DeleteCause::Request, &audit_event(t))
            .await
    );
    log!("referenced", s.blob_referenced("t1/new").await);
    log!(
        "drop",
        s.delete_interaction(t, g, DeleteCause::Request, &audit_event(t))
            .await
    );
    log!(
        "drop",
        s.delete_interaction(t, &fixture[2].0.guid, DeleteCause::Request, &audit_event(t))
            .await
    );
    log!("referenced", s.blob_referenced("t1/new").await);

    log!(
        "user",
        s.create_user(t, None, "ann", "h1", Role::Agent).await
    );
    log!(
        "user",
        s.create_user(t, Some("a2"), "bob", "h2", Role::Admin).await
    );
    log!(
        "user",
        s.create_user(t, Some("a2"), "cy", "h3", Role::Agent).await
    );
    log!(
        "user",
        s.create_user(t, None, "bob", "h4", Role::Agent).await
    );
    log!(
        "user",
        s.create_user(t, None, "dee", "h5", Role::Reviewer).await
    );
    log!("login", s.user_by_login(t, "bob").await);
    log!("id", s.user_by_id(t, "a1").await);
    log!("id", s.user_by_id(t, "100001").await);
    log!("users", s.list_users(t).await);

    for c in ["c1", "c2", "c1"] {
        log!("client", s.create_client(&client(c, t)).await);
    }
    log!("clients", s.list_clients(t).await);
    log!("secret", s.set_client_secret("c2", b"s").await);
    log!(
        "token",
        s.insert_token(&token(b"a", t, "c1", Some("u"), 100)).await
    );
    log!(
        "token",
        s.insert_token(&token(b"a", t, "c1", None, 100)).await
    );
    log!(
        "token",
        s.insert_token(&token(b"b", t, "nobody", None, 100)).await
    );
    log!(
        "token",
        s.insert_token(&token(b"c", t, "c2", None, 10)).await
    );
    log!("get", s.token_by_hash(b"a").await);
    log!(
        "refresh",
        s.insert_refresh_token(&token(b"r", t, "c1", Some("u"), 100))
            .await
    );
    log!(
        "refresh",
        s.insert_refresh_token(&token(b"q", t, "c1", None, 5)).await
    );
    log!("take", s.take_refresh_token(b"r", "c2").await);
    log!("take", s.take_refresh_token(b"r", "c1").await);
    log!("take", s.take_refresh_token(b"r", "c1").await);
    log!("expired", s.delete_expired_tokens(ts(50)).await);
    log!("revoke", s.revoke_client("c1").await);
    log!("revoke", s.revoke_client("c1").await);
    log!("get", s.token_by_hash(b"a").await);
    log!("api", s.set_tenant_api_token(t, b"x").await);
    log!("api", s.tenant_api_token(t).await);
    log!("api", s.tenant_api_token(noise).await);

    for (i, (kind, created)) in [
        (JobKind::Recordings, 3),
        (JobKind::RecordingsWithTranscriptions, 1),
        (JobKind::Recordings, 1),
        (JobKind::Recordings, 2),
    ]
    .into_iter()
    .enumerate()
    {
        log!(
            "job",
            s.create_job(&job(&format!("j{i}"), t, kind, "u", created))
                .await
        );
    }
    log!(
        "job",
        s.create_job(&job("j0", t, JobKind::Recordings, "u", 0))
            .await
    );
    log!(
        "list",
        s.list_jobs(
            t,
            &[JobKind::Recordings, JobKind::RecordingsWithTranscriptions],
            "u",
            None,
            0,
            10
        )
        .await
    );
    log!(
        "list",
        s.list_jobs(
            t,
            &[JobKind::Recordings],
            "u",
            Some(JobStatus::Pending),
            1,
            1
        )
        .await
    );
    log!("claim", s.claim_job(ts(100), ts(160)).await);
    log!("claim", s.claim_job(ts(100), ts(160)).await);
    log!(
        "items",
        s.add_job_items("j1", 0, &[5, 3, 4], 3, ts(200)).await
    );
    log!("items", s.add_job_items("j1", 2, &[9], 3, ts(200)).await);
    log!("items", s.job_items("j1", 0, 10).await);
    log!(
        "finish",
        s.finish_job("j1", JobStatus::Complete, None, Some(ts(300)))
            .await
    );
    log!("claim", s.claim_job(ts(170), ts(260)).await);
    log!("claim", s.claim_job(ts(170), ts(260)).await);
    log!("claim", s.claim_job(ts(170), ts(260)).await);
    log!("claim", s.claim_job(ts(170), ts(260)).await);
    log!("expire", s.expire_jobs(ts(400)).await);
    log!("job", s.job(t, "j1").await);
    log!("items", s.job_items("j1", -1, 10).await);
    let ids: Vec<i64> = stored.iter().rev().map(|i| i.id).take(5).collect();
    log!("by ids", s.interactions_by_ids(t, &ids).await);
    log!("secret", s.secret("k", b"one").await);
    log!("secret", s.secret("k", b"two").await);
    out
}

/// The same calls on SQLite and PostgreSQL answer the same, id for id and in the
/// same order (only the times a store takes from its own clock differ).
#[tokio::test]
async fn answers_exactly_like_the_sqlite_store() {
    let db = TestDb::postgres().await;
    let pg = db.store().await;
    let lite_db = TestDb::sqlite();
    let lite = lite_db.store().await;
    let fixture = search_fixture();
    let want = transcript(&lite, &fixture).await;
    let got = transcript(&pg, &fixture).await;
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    pg.close().await;
    lite.close().await;
}
