//! The store conformance suite: every story here runs against SQLite (a file in a
//! temporary directory) and against PostgreSQL (a fresh database of its own, dropped
//! afterwards: `callvault_testkit::PgTestDb`), so that the two backends cannot drift in
//! ordering, locking or filter semantics. An unreachable PostgreSQL fails the tests: they
//! never skip silently.
//!
//! The multi-node properties are tested with two stores on one database, which is what
//! two `callvault serve` nodes are (on SQLite: two processes sharing the file).

mod audit;
mod content_auth;
mod governance;
mod jobs_nodes;
mod parity;
mod search;
mod transcription;
mod users;
mod webhooks;

use std::collections::HashSet;
use std::time::Duration;

use callvault_core::interaction::RecordingKind;
use callvault_core::query::TranscriptionFilter;
use callvault_core::{
    Attributes, ContentItem, ContentType, DeleteCause, Direction, Guid, Interaction,
    InteractionMeta, InteractionQuery, Job, JobKind, JobStatus, Role, TenantId,
};
use callvault_storage::meta::{AccessToken, ApiClient, PageStart, SearchCursor};
use callvault_storage::prelude::*;
use callvault_storage::{Derived, SqlStore, StoreError};
use callvault_testkit::PgTestDb;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Connection, PgConnection};

/// Runs each named story, `async fn story(db: TestDb)`, once per backend: as the tests
/// `story::sqlite` and `story::postgres`.
macro_rules! on_both {
    ($($story:ident),* $(,)?) => {$(
        mod $story {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$story($crate::TestDb::sqlite()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$story($crate::TestDb::postgres().await).await
            }
        }
    )*};
}
pub(crate) use on_both;

/// Where a test's stores live; every store opened from it shares one database.
pub(crate) enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres(PgTestDb),
}

impl TestDb {
    fn sqlite() -> Self {
        TestDb::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    async fn postgres() -> Self {
        TestDb::Postgres(PgTestDb::create().await)
    }

    fn pg(&self) -> &PgTestDb {
        match self {
            TestDb::Postgres(pg) => pg,
            TestDb::Sqlite(_) => panic!("a PostgreSQL-only test ran on SQLite"),
        }
    }

    fn url(&self) -> &str {
        self.pg().url()
    }

    fn name(&self) -> &str {
        self.pg().name()
    }

    async fn admin(&self, sql: &str) {
        self.pg().admin(sql).await
    }

    /// Migrates this database as far as the migration before `sqlite_file` (SQLite) or
    /// `postgres_file` (PostgreSQL), then runs `rows` on it: a database an earlier
    /// version made, which the next [`TestDb::store`] upgrades in place.
    async fn made_before(&self, sqlite_file: &str, postgres_file: &str, rows: &[&str]) {
        let (dir, first_new) = match self {
            TestDb::Sqlite(_) => ("sqlite", sqlite_file),
            TestDb::Postgres(_) => ("postgres", postgres_file),
        };
        let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        let before = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&all).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_str().unwrap() < first_new {
                std::fs::copy(entry.path(), before.path().join(entry.file_name())).unwrap();
            }
        }
        let migrator = sqlx::migrate::Migrator::new(before.path()).await.unwrap();
        assert!(migrator.iter().count() > 1);
        match self {
            TestDb::Sqlite(dir) => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                migrator.run(&mut c).await.unwrap();
                for q in rows {
                    sqlx::query(q).execute(&mut c).await.unwrap();
                }
                c.close().await.unwrap();
            }
            TestDb::Postgres(pg) => {
                let mut c = PgConnection::connect(pg.url()).await.unwrap();
                migrator.run(&mut c).await.unwrap();
                for q in rows {
                    sqlx::query(q).execute(&mut c).await.unwrap();
                }
                c.close().await.unwrap();
            }
        }
    }

    /// A store over this database, as a node would open it.
    async fn store(&self) -> SqlStore {
        match self {
            TestDb::Sqlite(dir) => SqlStore::open_sqlite(&dir.path().join("meta.db")).await,
            TestDb::Postgres(pg) => SqlStore::open_postgres(pg.url()).await,
        }
        .expect("open the store")
    }
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

/// Stores an interaction starting at `start` with one call recording (blob `blob`), as
/// an upload does; answers its GUID.
async fn recorded(store: &SqlStore, t: TenantId, start: i64, blob: &str) -> Guid {
    let m = meta(start);
    store.upsert_interaction(t, &m).await.unwrap();
    let rec = item("callRecording", ContentType::CallRecording, blob);
    store.put_content(t, &m.guid, &rec).await.unwrap();
    m.guid
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

fn job(id: &str, tenant: TenantId, kind: JobKind, owner: &str, created: i64) -> Job {
    Job {
        id: id.into(),
        tenant_id: tenant,
        kind,
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

async fn tenants(db: TestDb) {
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

async fn interactions_upsert_get_and_number(db: TestDb) {
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

async fn concurrent_upserts_on_two_nodes_insert_once_and_number_without_gaps(db: TestDb) {
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
async fn upsert_all(store: &SqlStore, t: TenantId, metas: &[InteractionMeta]) -> Vec<i64> {
    let mut created = Vec::new();
    for m in metas {
        let (i, c) = store.upsert_interaction(t, m).await.unwrap();
        if c {
            created.push(i.number);
        }
    }
    created
}

/// A request whose client goes away drops the store call mid-statement: the connection it
/// held must come back (reads) or roll back (writes), so the store stays usable after
/// many such cancellations, with nothing half-written.
async fn cancelled_calls_leave_the_store_usable(db: TestDb) {
    let store = db.store().await;
    let t = store.create_tenant("acme", "UTC").await.unwrap().id;
    let q = InteractionQuery::default();
    for i in 0..40i64 {
        // Polled once, then dropped: cancelled while the statement runs.
        use futures::FutureExt;
        let _ = store.search(t, &q, PageStart::Offset(0), 10).now_or_never();
        let _ = store.upsert_interaction(t, &meta(i)).now_or_never();
        let wait = Duration::from_micros(100 * (i as u64 % 8));
        let _ = tokio::time::timeout(wait, store.count(t, &q)).await;
    }
    let (_, created) = store.upsert_interaction(t, &meta(1000)).await.unwrap();
    assert!(created);
    let reads = futures::future::join_all((0..16).map(|_| store.count(t, &q))).await;
    assert!(
        reads.iter().all(Result::is_ok),
        "every read connection came back"
    );
    let all = store.list_tenants().await.unwrap();
    assert_eq!(all.len(), 1);
    store.close().await;
}

on_both!(
    cancelled_calls_leave_the_store_usable,
    tenants,
    interactions_upsert_get_and_number,
    concurrent_upserts_on_two_nodes_insert_once_and_number_without_gaps,
);

/// Both migrations describe the same tables with the same columns (PostgreSQL adds only
/// `content_items.seq`, the order SQLite keeps as its rowid): `migrate` copies what the
/// SQLite schema has, so a column added on one side only would be lost or refused.
#[tokio::test]
async fn both_schemas_have_the_same_tables_and_columns() {
    use sqlx::Row as _;
    let (lite, pg) = (TestDb::sqlite(), TestDb::postgres().await);
    lite.store().await.close().await;
    pg.store().await.close().await;
    let TestDb::Sqlite(dir) = &lite else {
        unreachable!()
    };
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    let mut sqlite = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
         AND m.name NOT LIKE 'transcript_fts%'",
    )
    .fetch_all(&mut sqlite)
    .await
    .unwrap();
    let lite_cols: HashSet<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut postgres = PgConnection::connect(pg.url()).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut postgres)
    .await
    .unwrap();
    let mut pg_cols: HashSet<(String, String)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    // Where the two keep what SQLite has in its rowid and its FTS5 index.
    assert!(pg_cols.remove(&("content_items".into(), "seq".into())));
    assert!(pg_cols.remove(&("transcript_segments".into(), "tsv".into())));
    assert_eq!(lite_cols, pg_cols);
}

/// An audit record of the kind a delete or rule change carries.
fn audit_event(tenant: TenantId) -> callvault_core::AuditEvent {
    callvault_core::AuditEvent {
        tenant_id: tenant,
        at: ts(0),
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
