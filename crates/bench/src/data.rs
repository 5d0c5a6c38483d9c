//! The search data set: one tenant with N interactions spread over 90 days, each with one
//! call recording.
//!
//! The tenant and schema come from the real binary (`callvault tenant create`, which runs
//! the migrations); the rows are then bulk-inserted with raw SQL in large transactions,
//! because a million interactions through the HTTP ingest API would take longer than the
//! whole benchmark. Only setup takes this shortcut: every measured callvault figure goes
//! through the HTTP API. Every row points at the same recording (same SHA-256, same blob
//! key), as deduplicated content really does, and that blob is put on disk where the blob
//! store looks for it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, DurationRound, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use crate::server::admin;
use crate::wav;

pub const TENANT: &str = "bench";
/// How far back the interactions reach; a 7-day search window then holds 7/90 of them.
pub const SPAN_DAYS: i64 = 90;
/// Rows per multi-row INSERT: 19 columns x 1000 rows stays under SQLite's 32766 variables.
const BATCH: usize = 1000;
/// Rows per transaction.
const TX_ROWS: usize = 100_000;
/// The shared recording: 30 s of 8 kHz 16-bit mono.
const BLOB_LEN: usize = 480_044;
const AGENTS: usize = 200;

/// What was generated, for the search windows and the report.
pub struct DataSet {
    pub tenant_id: i64,
    pub db: PathBuf,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interactions: usize,
    pub build_secs: f64,
}

pub async fn build(
    bin: &Path,
    data_dir: &Path,
    n: usize,
    rng: &mut StdRng,
) -> anyhow::Result<DataSet> {
    let started = Instant::now();
    let tenant = admin(bin, data_dir, &["tenant", "create", TENANT]).await?;
    let tenant_id = tenant["id"]
        .as_i64()
        .context("tenant create printed no id")?;
    let blob = wav::random_wav(BLOB_LEN, rng);
    let sha = hex::encode(Sha256::digest(&blob));
    let blob_key = format!("t{tenant_id}/{}/{sha}", &sha[..2]);
    let blob_path = data_dir.join("content/blobs").join(&blob_key);
    std::fs::create_dir_all(blob_path.parent().context("blob path has no parent")?)?;
    std::fs::write(&blob_path, &blob)?;

    let db = data_dir.join("callvault.db");
    // Setup only: no fsync per commit and no foreign-key checks (the rows are consistent
    // by construction). The server reopens the file with its own settings.
    let opts = SqliteConnectOptions::new()
        .filename(&db)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(false)
        .pragma("cache_size", "-1048576");
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    let to = Utc::now().duration_trunc(Duration::hours(1))?;
    let from = to - Duration::days(SPAN_DAYS);
    let rows = Rows {
        tenant_id,
        from_us: from.timestamp_micros(),
        step_us: (to - from).num_microseconds().context("span overflow")? / n.max(1) as i64,
        blob_key,
        sha,
        now_us: Utc::now().timestamp_micros(),
    };
    insert_agents(&mut conn, tenant_id).await?;
    let first_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM interactions")
        .fetch_one(&mut conn)
        .await?;
    let first_number: i64 = sqlx::query_scalar("SELECT next_number FROM tenants WHERE id = ?")
        .bind(tenant_id)
        .fetch_one(&mut conn)
        .await?;
    let mut done = 0;
    while done < n {
        let mut tx = conn.begin().await?;
        let tx_end = (done + TX_ROWS).min(n);
        while done < tx_end {
            let batch: Vec<Row> = (done..(done + BATCH).min(tx_end))
                .map(|i| rows.row(i, first_id + i as i64, first_number + i as i64, rng))
                .collect();
            rows.insert(&mut tx, &batch).await?;
            done += batch.len();
        }
        tx.commit().await?;
    }
    sqlx::query("UPDATE tenants SET next_number = ? WHERE id = ?")
        .bind(first_number + n as i64)
        .bind(tenant_id)
        .execute(&mut conn)
        .await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(DataSet {
        tenant_id,
        db,
        from,
        to,
        interactions: n,
        build_secs: started.elapsed().as_secs_f64(),
    })
}

async fn insert_agents(conn: &mut SqliteConnection, tenant_id: i64) -> anyhow::Result<()> {
    let mut q = QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO agents (tenant_id, agent_id) ");
    q.push_values(0..AGENTS, |mut b, k| {
        b.push_bind(tenant_id).push_bind(agent(k));
    });
    q.build().execute(conn).await?;
    Ok(())
}

fn agent(k: usize) -> String {
    format!("{}", 1000 + k)
}

/// What every generated row shares.
struct Rows {
    tenant_id: i64,
    from_us: i64,
    step_us: i64,
    blob_key: String,
    sha: String,
    now_us: i64,
}

/// One interaction with its call recording.
struct Row {
    id: i64,
    number: i64,
    guid: String,
    start_us: i64,
    end_us: i64,
    direction: &'static str,
    from: String,
    to: String,
    caller: Option<String>,
    agent: String,
    queue: usize,
}

impl Rows {
    /// Interaction `i`: start times rise with the row id (as they do when calls are
    /// ingested as they end) with jitter inside each step.
    fn row(&self, i: usize, id: i64, number: i64, rng: &mut StdRng) -> Row {
        let start_us =
            self.from_us + i as i64 * self.step_us + rng.gen_range(0..self.step_us.max(1));
        Row {
            id,
            number,
            guid: uuid::Builder::from_random_bytes(rng.gen())
                .into_uuid()
                .hyphenated()
                .to_string(),
            start_us,
            end_us: start_us + rng.gen_range(20_000_000..900_000_000),
            direction: ["inbound", "outbound", "internal"][i % 3],
            from: format!("44{}", rng.gen_range(1_000_000_000u64..9_999_999_999)),
            to: format!("{}", rng.gen_range(10_000_000u64..99_999_999)),
            caller: rng.gen_bool(0.5).then(|| format!("Caller {}", i % 977)),
            agent: agent(rng.gen_range(0..AGENTS)),
            queue: i % 12,
        }
    }

    async fn insert(&self, conn: &mut SqliteConnection, batch: &[Row]) -> anyhow::Result<()> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO interactions (id, tenant_id, guid, number, start_us, end_us, direction, \
             connect_from, connect_to, caller_name, agents, extensions, queue_id, queue_name, \
             channel, attributes, content_count, created_us, updated_us) ",
        );
        q.push_values(batch, |mut b, r| {
            b.push_bind(r.id)
                .push_bind(self.tenant_id)
                .push_bind(&r.guid)
                .push_bind(r.number)
                .push_bind(r.start_us)
                .push_bind(r.end_us)
                .push_bind(r.direction)
                .push_bind(&r.from)
                .push_bind(&r.to)
                .push_bind(&r.caller)
                .push_bind(format!("[\"{}\"]", r.agent))
                .push_bind("[]")
                .push_bind(format!("q{}", r.queue))
                .push_bind(format!("Queue {}", r.queue))
                .push_bind("call")
                .push_bind("{}")
                .push_bind(1)
                .push_bind(self.now_us)
                .push_bind(self.now_us);
        });
        q.build().execute(&mut *conn).await?;

        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO interaction_agents (interaction_id, tenant_id, agent_id) ",
        );
        q.push_values(batch, |mut b, r| {
            b.push_bind(r.id)
                .push_bind(self.tenant_id)
                .push_bind(&r.agent);
        });
        q.build().execute(&mut *conn).await?;

        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO content_items (interaction_id, tenant_id, content_key, content_type, \
             media_type, length, sha256, blob_key, last_modified_us, duration_ms) ",
        );
        q.push_values(batch, |mut b, r| {
            b.push_bind(r.id)
                .push_bind(self.tenant_id)
                .push_bind("callRecording")
                .push_bind("callRecording")
                .push_bind("audio/wav")
                .push_bind(BLOB_LEN as i64)
                .push_bind(&self.sha)
                .push_bind(&self.blob_key)
                .push_bind(r.end_us)
                .push_bind(wav::duration_ms(BLOB_LEN) as i64);
        });
        q.build().execute(&mut *conn).await?;
        Ok(())
    }
}
