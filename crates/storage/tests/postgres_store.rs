//! `PgStore` against a real PostgreSQL server (env `CALLVAULT_TEST_POSTGRES_URL`, default
//! the local trust-auth server). Each test works in a fresh database of its own, dropped
//! afterwards. An unreachable server fails the tests: they never skip silently.
//!
//! The multi-node properties are tested with two `PgStore`s on one database, which is
//! what two `callvault serve` nodes are.

use std::collections::HashSet;
use std::time::Duration;

use callvault_core::interaction::{RecordingKind, TranscriptionStatus};
use callvault_core::query::TranscriptionFilter;
use callvault_core::{
    Attributes, ContentItem, ContentType, Direction, Guid, Interaction, InteractionMeta,
    InteractionQuery, Job, JobStatus, TenantId,
};
use callvault_storage::meta::{AccessToken, ApiClient, PageStart, SearchCursor};
use callvault_storage::{MetadataStore, PgStore, SqliteStore, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A uniquely named database, dropped (best effort, even when the test panics) at the
/// end of the test.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn new() -> Self {
        let admin_url =
            std::env::var("CALLVAULT_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let name = format!("callvault_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin_url} is unreachable ({e}); start it or set \
                 CALLVAULT_TEST_POSTGRES_URL"
            )
        });
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the test database");
        admin.close().await.ok();
        Self {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        }
    }

    /// Runs a statement on the server's administrative database.
    async fn admin(&self, sql: &str) {
        let mut admin = PgConnection::connect(&self.admin_url).await.unwrap();
        admin.execute(sql).await.unwrap();
        admin.close().await.ok();
    }

    async fn store(&self) -> PgStore {
        PgStore::open(&self.url).await.expect("open PgStore")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own: the test's runtime may be the one blocked in this drop.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin.execute(sql.as_str()).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// The URL with its database replaced.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let authority = head.find("://").map_or(0, |i| i + 3);
    let path = head[authority..]
        .find('/')
        .map_or(head.len(), |i| authority + i);
    let mut out = format!("{}/{db}", &head[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn meta(start: i64) -> InteractionMeta {
    InteractionMeta {
        guid: Guid::new_random(),
        start: ts(start),
        end: Some(ts(start + 60)),
        direction: Direction::Inbound,
        connect_from: "+15550100".into(),
        connect_to: "2000".into(),
        caller_name: None,
        handling_agents: Vec::new(),
        extensions: Vec::new(),
        queue_id: None,
        queue_name: None,
        channel: None,
        attributes: Attributes::default(),
    }
}

fn item(key: &str, t: ContentType, blob: &str) -> ContentItem {
    ContentItem {
        key: key.into(),
        content_type: t,
        media_type: "audio/wav".into(),
        length: 42,
        sha256: blob.into(),
        last_modified: ts(0),
        duration_ms: Some(1000),
        version: Some(1),
        owning_agent: None,
        owning_interaction_plan: None,
        blob_key: format!("t1/{blob}"),
    }
}

fn job(id: &str, tenant: TenantId, kind: &str, owner: &str, created: i64) -> Job {
    Job {
        id: id.into(),
        tenant_id: tenant,
        kind: kind.into(),
        owner: owner.into(),
        params: r#"{"b": 1,  "a": [2]}"#.into(),
        status: JobStatus::Pending,
        files_total: 0,
        files_completed: 0,
        error: None,
        attempts: 0,
        created_at: ts(created),
        valid_until: None,
    }
}

fn guids(items: &[Interaction]) -> Vec<String> {
    items.iter().map(|i| i.meta.guid.to_string()).collect()
}

#[tokio::test]
async fn tenants() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let a = store.create_tenant("acme", "Europe/Berlin").await.unwrap();
    assert!(matches!(
        store.create_tenant("acme", "UTC").await,
        Err(StoreError::Conflict(_))
    ));
    let b = store.create_tenant("globex", "UTC").await.unwrap();
    assert_eq!(b.id.0, a.id.0 + 1, "a refused name uses up no id");
    assert_eq!(store.tenant_by_name("acme").await.unwrap(), Some(a.clone()));
    assert_eq!(store.tenant_by_name("ACME").await.unwrap(), None);
    assert_eq!(store.tenant_by_name("a\0b").await.unwrap(), None);
    assert_eq!(store.tenant_by_id(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.list_tenants().await.unwrap(), vec![a.clone(), b]);
    assert!(store.set_tenant_time_zone(a.id, "UTC").await.unwrap());
    assert!(!store
        .set_tenant_time_zone(TenantId(999), "UTC")
        .await
        .unwrap());
    assert_eq!(
        store.tenant_by_id(a.id).await.unwrap().unwrap().time_zone,
        "UTC"
    );
    store.set_tenant_api_token(a.id, b"one").await.unwrap();
    store.set_tenant_api_token(a.id, b"two").await.unwrap();
    assert_eq!(
        store.tenant_api_token(a.id).await.unwrap(),
        Some(b"two".to_vec())
    );
    store.close().await;
}

#[tokio::test]
async fn interactions_upsert_get_and_number() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let mut m = meta(0);
    m.handling_agents = vec!["a1".into(), "a2".into(), "a1".into()];
    m.extensions = vec!["100".into()];
    m.attributes.case_id = Some("case\u{0}zero".into());
    let (first, created) = store.upsert_interaction(t, &m).await.unwrap();
    assert!(created);
    assert_eq!(first.number, 1);
    assert_eq!(
        first.meta, m,
        "every field round-trips, U+0000 in attributes too"
    );
    let (second, _) = store.upsert_interaction(t, &meta(5)).await.unwrap();
    assert_eq!(second.number, 2);

    m.caller_name = Some("Ann".into());
    m.handling_agents = vec!["a3".into()];
    let (updated, created) = store.upsert_interaction(t, &m).await.unwrap();
    assert!(!created);
    assert_eq!((updated.id, updated.number), (first.id, 1));
    assert_eq!(updated.meta, m);
    assert_eq!(updated.created_at, first.created_at);

    let got = store.get_interaction(t, &m.guid).await.unwrap().unwrap();
    assert_eq!(got, updated);
    assert_eq!(
        store.interaction_by_number(t, 2).await.unwrap(),
        Some(second)
    );
    assert_eq!(store.interaction_by_number(t, 3).await.unwrap(), None);
    let other = store.create_tenant("globex", "UTC").await.unwrap().id;
    assert_eq!(store.get_interaction(other, &m.guid).await.unwrap(), None);
    assert!(matches!(
        store.upsert_interaction(TenantId(999), &meta(0)).await,
        Err(StoreError::NotFound(_))
    ));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upserts_on_two_nodes_insert_once_and_number_without_gaps() {
    let db = TestDb::new().await;
    let (n1, n2) = (db.store().await, db.store().await);
    let t = n1.create_tenant("acme", "UTC").await.unwrap().id;
    let metas: Vec<InteractionMeta> = (0..20).map(meta).collect();
    let (a, b) = tokio::join!(upsert_all(&n1, t, &metas), upsert_all(&n2, t, &metas));
    let mut numbers: Vec<i64> = a.into_iter().chain(b).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    n1.close().await;
    n2.close().await;
}

/// Upserts every interaction in turn; answers the numbers of those this node created.
async fn upsert_all(store: &PgStore, t: TenantId, metas: &[InteractionMeta]) -> Vec<i64> {
    let mut created = Vec::new();
    for m in metas {
        let (i, c) = store.upsert_interaction(t, m).await.unwrap();
        if c {
            created.push(i.number);
        }
    }
    created
}

/// The fixture of the search test: what each interaction is, so the expected answer of a
/// query is computed here rather than written out.
struct Fixture {
    stored: Vec<Interaction>,
}

impl Fixture {
    fn expect(&self, pred: impl Fn(&Interaction) -> bool, newest_first: bool) -> Vec<String> {
        let mut hits: Vec<&Interaction> = self
            .stored
            .iter()
            .filter(|i| !i.content.is_empty() && pred(i))
            .collect();
        hits.sort_by_key(|i| (i.meta.start, i.id));
        if newest_first {
            hits.reverse();
        }
        hits.iter().map(|i| i.meta.guid.to_string()).collect()
    }
}

async fn keyset_all(store: &PgStore, t: TenantId, q: &InteractionQuery) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search(t, q, PageStart::After(cursor), 4)
            .await
            .unwrap();
        seen.extend(guids(&page));
        match page.last() {
            Some(last) if page.len() == 4 => {
                cursor = Some(SearchCursor {
                    start_us: last.meta.start.timestamp_micros(),
                    id: last.id,
                })
            }
            _ => return seen,
        }
    }
}

async fn offset_all(store: &PgStore, t: TenantId, q: &InteractionQuery) -> Vec<String> {
    let mut seen = Vec::new();
    for page_no in 0.. {
        let page = store
            .search(t, q, PageStart::Offset(page_no * 3), 3)
            .await
            .unwrap();
        seen.extend(guids(&page));
        if page.len() < 3 {
            break;
        }
    }
    seen
}

/// The search test's interactions: varied in every filtered field, triples sharing a
/// start (so the id decides their order), the last one without content.
fn search_fixture() -> Vec<(InteractionMeta, Vec<ContentItem>)> {
    (0..30i64)
        .map(|i| {
            let mut m = meta((i / 3) * 10);
            m.direction = if i % 3 == 0 {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            m.handling_agents = if i % 2 == 0 {
                vec!["a1".into()]
            } else {
                vec!["a2".into(), "a1".into()]
            };
            m.connect_from = match i % 4 {
                0 => format!("+1555%_x{i}"),
                1 => format!("+1555Abc{i}"),
                _ => format!("+1666{i}"),
            };
            m.connect_to = format!("to{}", i % 2);
            m.caller_name = (i % 6 == 0).then(|| "Ann".to_string());
            m.extensions = if i % 3 == 1 {
                vec!["x1".into(), "ext7".into()]
            } else {
                vec![]
            };
            if i % 5 == 0 {
                m.attributes.recording_kind = Some(RecordingKind::OnDemand);
                m.attributes.owning_user_id = Some("u9".into());
            }
            if i % 5 == 1 {
                m.attributes.transcription_status = Some(TranscriptionStatus::Pending);
            }
            let mut content = Vec::new();
            if i != 29 {
                let mut rec = item(
                    "callRecording",
                    ContentType::CallRecording,
                    &format!("r{i}"),
                );
                rec.duration_ms = Some(i as u64 * 1000);
                content.push(rec);
            }
            if i % 7 == 0 {
                content.push(item(
                    "transcript",
                    ContentType::Transcript,
                    &format!("tr{i}"),
                ));
            }
            (m, content)
        })
        .collect()
}

/// Stores the fixture in `t` (and contentless noise in `noise`); answers what each
/// upsert and put answered, and the stored interactions.
async fn load_fixture(
    store: &dyn MetadataStore,
    t: TenantId,
    noise: TenantId,
    fixture: &[(InteractionMeta, Vec<ContentItem>)],
) -> (Vec<String>, Vec<Interaction>) {
    let mut answers = Vec::new();
    let mut stored = Vec::new();
    for (n, (m, content)) in fixture.iter().enumerate() {
        let (i, created) = store.upsert_interaction(t, m).await.unwrap();
        answers.push(format!("{} {created}", i.number));
        let mut other = meta(n as i64);
        other.guid = Guid::parse("g", &format!("00000000-0000-4000-8000-{n:012}")).unwrap();
        store.upsert_interaction(noise, &other).await.unwrap();
        for c in content {
            let out = store.put_content(t, &m.guid, c).await.unwrap();
            answers.push(format!("{out:?}"));
        }
        stored.push(store.get_interaction(t, &m.guid).await.unwrap().unwrap());
    }
    (answers, stored)
}

type Pred = Box<dyn Fn(&Interaction) -> bool>;

/// Every search filter, each with the predicate that says what it should find.
fn search_cases(stored: &[Interaction]) -> Vec<(&'static str, InteractionQuery, Pred)> {
    let all = InteractionQuery::default();
    let has = |i: &Interaction, t: ContentType| i.content.iter().any(|c| c.content_type == t);
    let rec_ms = |i: &Interaction| {
        i.content
            .iter()
            .find(|c| c.content_type == ContentType::CallRecording)
            .and_then(|c| c.duration_ms)
    };
    let sample = stored[4].meta.guid.clone();
    vec![
        ("everything", all.clone(), Box::new(|_| true)),
        (
            "start window",
            InteractionQuery {
                start: Some((ts(30), ts(70))),
                ..all.clone()
            },
            Box::new(|i| i.meta.start >= ts(30) && i.meta.start <= ts(70)),
        ),
        (
            "end window",
            InteractionQuery {
                end: Some((ts(100), ts(150))),
                ..all.clone()
            },
            Box::new(|i| i.meta.end.is_some_and(|e| e >= ts(100) && e <= ts(150))),
        ),
        (
            "direction",
            InteractionQuery {
                direction: Some(Direction::Outbound),
                ..all.clone()
            },
            Box::new(|i| i.meta.direction == Direction::Outbound),
        ),
        (
            "agent",
            InteractionQuery {
                handling_agent: Some("a2".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.handling_agents.contains(&"a2".to_string())),
        ),
        (
            "prefix with % and _ as plain characters",
            InteractionQuery {
                connect_from_prefix: Some("+1555%_".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_from.starts_with("+1555%_")),
        ),
        (
            "% is no wildcard",
            InteractionQuery {
                connect_from_prefix: Some("+1555%".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_from.starts_with("+1555%")),
        ),
        (
            "prefixes are case-sensitive",
            InteractionQuery {
                connect_from_prefix: Some("+1555abc".into()),
                ..all.clone()
            },
            Box::new(|_| false),
        ),
        (
            "prefix in its case",
            InteractionQuery {
                connect_from_prefix: Some("+1555Abc".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_from.starts_with("+1555Abc")),
        ),
        (
            "exact values are case-sensitive",
            InteractionQuery {
                caller_name: Some("ann".into()),
                ..all.clone()
            },
            Box::new(|_| false),
        ),
        (
            "to prefix",
            InteractionQuery {
                connect_to_prefix: Some("to1".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.connect_to == "to1"),
        ),
        (
            "exact caller name and to",
            InteractionQuery {
                caller_name: Some("Ann".into()),
                connect_to: Some("to0".into()),
                ..all.clone()
            },
            Box::new(|i| {
                i.meta.caller_name.as_deref() == Some("Ann") && i.meta.connect_to == "to0"
            }),
        ),
        (
            "guid",
            InteractionQuery {
                guid: Some(sample.clone()),
                ..all.clone()
            },
            Box::new(move |i| i.meta.guid == sample),
        ),
        (
            "extension",
            InteractionQuery {
                extension: Some("ext7".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.extensions.contains(&"ext7".to_string())),
        ),
        (
            "with content",
            InteractionQuery {
                with_content: Some(ContentType::Transcript),
                ..all.clone()
            },
            Box::new(move |i| has(i, ContentType::Transcript)),
        ),
        (
            "recording duration",
            InteractionQuery {
                recording_ms: (Some(5000), Some(12000)),
                ..all.clone()
            },
            Box::new(move |i| rec_ms(i).is_some_and(|d| (5000..=12000).contains(&d))),
        ),
        (
            "on demand",
            InteractionQuery {
                recording_kind: Some(RecordingKind::OnDemand),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.recording_kind == Some(RecordingKind::OnDemand)),
        ),
        (
            "company",
            InteractionQuery {
                recording_kind: Some(RecordingKind::Company),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.recording_kind != Some(RecordingKind::OnDemand)),
        ),
        (
            "owning user",
            InteractionQuery {
                owning_user: Some("u9".into()),
                ..all.clone()
            },
            Box::new(|i| i.meta.attributes.owning_user_id.as_deref() == Some("u9")),
        ),
        (
            "transcription pending",
            InteractionQuery {
                transcription: Some(TranscriptionFilter::Pending),
                ..all.clone()
            },
            Box::new(move |i| {
                !has(i, ContentType::Transcript)
                    && i.meta.attributes.transcription_status == Some(TranscriptionStatus::Pending)
            }),
        ),
        (
            "transcription any",
            InteractionQuery {
                transcription: Some(TranscriptionFilter::Any),
                ..all.clone()
            },
            Box::new(move |i| {
                has(i, ContentType::Transcript) || i.meta.attributes.transcription_status.is_some()
            }),
        ),
        (
            "a value PostgreSQL cannot hold matches nothing",
            InteractionQuery {
                caller_name: Some("A\0nn".into()),
                ..all.clone()
            },
            Box::new(|_| false),
        ),
    ]
}

#[tokio::test]
async fn search_filters_and_both_paging_modes() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let noise = store.create_tenant("globex", "UTC").await.unwrap().id;
    let (_, stored) = load_fixture(&store, t, noise, &search_fixture()).await;
    let cases = search_cases(&stored);
    let fx = Fixture { stored };
    let all = InteractionQuery::default();
    for (name, q, pred) in &cases {
        for newest_first in [false, true] {
            let q = InteractionQuery {
                newest_first,
                ..q.clone()
            };
            let want = fx.expect(pred, newest_first);
            assert_eq!(keyset_all(&store, t, &q).await, want, "{name}: keyset");
            assert_eq!(offset_all(&store, t, &q).await, want, "{name}: offset");
            assert_eq!(
                store.count(t, &q).await.unwrap(),
                want.len() as u64,
                "{name}: count"
            );
        }
    }
    assert_eq!(
        fx.expect(|_| true, false).len(),
        29,
        "no content, not found"
    );
    assert!(!fx
        .expect(|i| i.meta.connect_from.starts_with("+1555%_"), false)
        .is_empty());

    // Keyset paging neither skips nor repeats while interactions are added before the
    // cursor.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search(t, &all, PageStart::After(cursor), 5)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(SearchCursor {
            start_us: last.meta.start.timestamp_micros(),
            id: last.id,
        });
        seen.extend(guids(&page));
        let early = meta(-100);
        store.upsert_interaction(t, &early).await.unwrap();
        let rec = item("callRecording", ContentType::CallRecording, "early");
        store.put_content(t, &early.guid, &rec).await.unwrap();
    }
    assert_eq!(seen, fx.expect(|_| true, false));
    store.close().await;
}

#[tokio::test]
async fn content_put_replace_delete_and_released_blobs() {
    let db = TestDb::new().await;
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
        store.delete_content(t, &m1.guid, "nope").await.unwrap(),
        None
    );
    let removed = store
        .delete_content(t, &m2.guid, "callRecording")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.items, vec![rec.clone()]);
    assert_eq!(removed.released_blobs, vec!["t1/aa".to_string()]);
    only_with_content(1).await;
    assert!(store.get_interaction(t, &m2.guid).await.unwrap().is_some());

    let removed = store
        .delete_interaction(t, &m1.guid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.items, vec![rec2, tr2]);
    assert_eq!(
        removed.released_blobs,
        vec!["t1/cc".to_string(), "t1/dd".to_string()]
    );
    assert_eq!(store.get_interaction(t, &m1.guid).await.unwrap(), None);
    assert_eq!(store.delete_interaction(t, &m1.guid).await.unwrap(), None);
    only_with_content(0).await;
    store.close().await;
}

fn client(id: &str, tenant: TenantId) -> ApiClient {
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

fn token(hash: &[u8], tenant: TenantId, client: &str, user: Option<&str>, exp: i64) -> AccessToken {
    AccessToken {
        token_hash: hash.to_vec(),
        tenant_id: tenant,
        client_id: client.into(),
        user_id: user.map(str::to_string),
        scopes: "read".into(),
        expires_at: ts(exp),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_tokens_and_refresh_tokens_used_once() {
    let db = TestDb::new().await;
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
    let (a, b) = tokio::join!(n1.take_refresh_token(b"r1"), n2.take_refresh_token(b"r1"));
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
    assert_eq!(n1.take_refresh_token(b"r2").await.unwrap(), None);
    assert!(matches!(
        n1.insert_token(&token(b"h2", t, "c1", None, 100)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!n1.set_client_secret("c1", b"x").await.unwrap());
    n1.close().await;
    n2.close().await;
}

#[tokio::test]
async fn users() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let mut m = meta(0);
    m.handling_agents = vec!["200".into(), "agent-x".into()];
    store.upsert_interaction(t, &m).await.unwrap();

    let first = store
        .create_user(t, None, "ann", "$argon2id$a", false)
        .await
        .unwrap();
    assert_eq!(first.id, "201", "after the largest numeric agent id");
    let admin = store
        .create_user(t, Some("agent-x"), "boss", "$argon2id$b", true)
        .await
        .unwrap();
    assert!(admin.is_admin);
    assert!(matches!(
        store.create_user(t, None, "ann", "h", false).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_user(t, Some("agent-x"), "other", "h", false)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let next = store.create_user(t, None, "cy", "h", false).await.unwrap();
    assert_eq!(next.id, "202");

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
        .create_user(fresh, None, "ann", "h", false)
        .await
        .unwrap();
    assert_eq!(u.id, "100001");
    store.close().await;
}

#[tokio::test]
async fn jobs_create_list_items_and_expiry() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    for (i, kind) in ["rec", "rec", "tr", "rec"].iter().enumerate() {
        store
            .create_job(&job(&format!("j{i}"), t, kind, "u1", i as i64))
            .await
            .unwrap();
    }
    store
        .create_job(&job("other", t, "rec", "u2", 9))
        .await
        .unwrap();
    assert!(matches!(
        store.create_job(&job("j0", t, "rec", "u1", 0)).await,
        Err(StoreError::Conflict(_))
    ));
    let stored = store.job(t, "j0").await.unwrap().unwrap();
    assert_eq!(
        stored,
        job("j0", t, "rec", "u1", 0),
        "params kept byte for byte"
    );

    let (total, page) = store
        .list_jobs(t, &["rec", "tr"], "u1", None, 1, 2)
        .await
        .unwrap();
    assert_eq!(total, 4);
    let ids: Vec<_> = page.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["j2", "j1"], "newest first");
    let (total, _) = store
        .list_jobs(t, &["rec"], "u1", Some(JobStatus::Pending), 0, 10)
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
async fn claim_all(store: &PgStore, now: DateTime<Utc>, lease: DateTime<Utc>) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(j) = store.claim_job(now, lease).await.unwrap() {
        assert_eq!((j.status, j.attempts), (JobStatus::InProgress, 1));
        got.push(j.id);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_claim_the_same_job_and_lapsed_leases_are_reclaimed() {
    let db = TestDb::new().await;
    let (n1, n2) = (db.store().await, db.store().await);
    let t = n1.create_tenant("acme", "UTC").await.unwrap().id;
    for i in 0..40 {
        n1.create_job(&job(&format!("j{i:02}"), t, "rec", "u", i))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_is_shared_between_nodes() {
    let db = TestDb::new().await;
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
    let db = TestDb::new().await;
    // A database-wide lock timeout must not cut a blob lock wait short.
    db.admin(&format!(
        "ALTER DATABASE {} SET lock_timeout = '50ms'",
        db.name
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
    let db = TestDb::new().await;
    let opens = futures::future::join_all((0..4).map(|_| PgStore::open(&db.url))).await;
    let stores: Vec<PgStore> = opens
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

/// An answer with the times a store takes from its own clock blanked, and errors
/// reduced to their kind (the backends' messages differ).
fn shown<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => ["created_at: ", "updated_at: ", "revoked_at: "]
            .into_iter()
            .fold(format!("{v:?}"), |text, label| blank(&text, label)),
        Err(StoreError::Conflict(_)) => "Conflict".into(),
        Err(StoreError::NotFound(_)) => "NotFound".into(),
        Err(StoreError::Backend(_)) => "Backend".into(),
        Err(StoreError::Io(_)) => "Io".into(),
    }
}

/// Replaces every value following `label` (up to the next `,` or `}`) with `_`.
fn blank(text: &str, label: &str) -> String {
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
async fn transcript(
    s: &dyn MetadataStore,
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
    log!("delete", s.delete_content(t, g, "transcript").await);
    log!("delete", s.delete_content(t, g, "transcript").await);
    log!("referenced", s.blob_referenced("t1/new").await);
    log!("drop", s.delete_interaction(t, g).await);
    log!("drop", s.delete_interaction(t, &fixture[2].0.guid).await);
    log!("referenced", s.blob_referenced("t1/new").await);

    log!("user", s.create_user(t, None, "ann", "h1", false).await);
    log!(
        "user",
        s.create_user(t, Some("a2"), "bob", "h2", true).await
    );
    log!(
        "user",
        s.create_user(t, Some("a2"), "cy", "h3", false).await
    );
    log!("user", s.create_user(t, None, "bob", "h4", false).await);
    log!("user", s.create_user(t, None, "dee", "h5", false).await);
    log!("login", s.user_by_login(t, "bob").await);
    log!("id", s.user_by_id(t, "a1").await);
    log!("id", s.user_by_id(t, "100001").await);

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
    log!("take", s.take_refresh_token(b"r").await);
    log!("take", s.take_refresh_token(b"r").await);
    log!("expired", s.delete_expired_tokens(ts(50)).await);
    log!("revoke", s.revoke_client("c1").await);
    log!("revoke", s.revoke_client("c1").await);
    log!("get", s.token_by_hash(b"a").await);
    log!("api", s.set_tenant_api_token(t, b"x").await);
    log!("api", s.tenant_api_token(t).await);
    log!("api", s.tenant_api_token(noise).await);

    for (i, (kind, created)) in [("rec", 3), ("tr", 1), ("rec", 1), ("rec", 2)]
        .into_iter()
        .enumerate()
    {
        log!(
            "job",
            s.create_job(&job(&format!("j{i}"), t, kind, "u", created))
                .await
        );
    }
    log!("job", s.create_job(&job("j0", t, "rec", "u", 0)).await);
    log!(
        "list",
        s.list_jobs(t, &["rec", "tr"], "u", None, 0, 10).await
    );
    log!(
        "list",
        s.list_jobs(t, &["rec"], "u", Some(JobStatus::Pending), 1, 1)
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

/// The same calls on `SqliteStore` and `PgStore` answer the same, id for id and in the
/// same order (only the times a store takes from its own clock differ).
#[tokio::test]
async fn answers_exactly_like_the_sqlite_store() {
    let db = TestDb::new().await;
    let pg = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteStore::open(&dir.path().join("meta.db"))
        .await
        .unwrap();
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
