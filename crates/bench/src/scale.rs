//! Search at scale on PostgreSQL: for each size, a fresh database holding that many
//! interactions of one tenant over two years (each with one call recording), then
//! `GET /interaction-content/interactions` over random 7-day windows in the middle of
//! the range, beside the two statements the store runs for that page, issued directly
//! through sqlx with the same concurrency over the same windows.
//!
//! Every size is loaded first (each database with a server of its own), then measured in
//! interleaved rounds, so that a change in the speed of a shared VM falls on every size
//! alike instead of on whichever size ran at the time. The databases are dropped at the
//! end.
//!
//! `callvault serve` creates the schema (its migrations) on the empty database, and the
//! tenant and API client come from the CLI with the same `--config`. The rows are then
//! bulk-loaded with `INSERT ... SELECT FROM generate_series`, because ten million
//! interactions through the ingest API would take days; only setup takes this shortcut.
//! The blobs the rows name are never read (search does not touch content).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use chrono::{DurationRound, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};
use tokio::process::{Child, Command};

use crate::cpu::{self, Probe};
use crate::load::{self, ms, Bounds, Summary};
use crate::rss::{mib, Memory};
use crate::server::{admin, free_port, signal, wait_started, Api, V3};

pub const TENANT: &str = "scale";
/// Target: API p99 at the largest size at most this multiple of the smallest's.
pub const MAX_GROWTH: f64 = 1.5;
const SPAN_DAYS: i64 = 730;
const WINDOW_DAYS: i64 = 7;
const LIMIT: u32 = 100;
/// Measured rounds per size and side, API and SQL alternating; the median p99 is reported.
const ROUNDS: usize = 5;
const WINDOWS: usize = 4096;
/// Rows per INSERT statement while loading.
const CHUNK: i64 = 1_000_000;
/// Base64 of 32 bytes (the PostgreSQL backend needs an explicit master key).
const MASTER_KEY: &str = "Y2FsbHZhdWx0LWJlbmNoLXNjYWxlLW1hc3Rlci1rZXk=";
/// The recording every row names (30 s of 8 kHz 16-bit mono; never read).
const BLOB_LEN: i64 = 480_044;
const BLOB_SHA: &str = "5f2b9e0c3f7d4a1b8e6c2d9a0b7f3e4c1d8a5b2e9f6c3d0a7b4e1f8c5d2a9b6e";

/// The store's page statement (`search_impl` with only the window), as its
/// `QueryBuilder` renders it; columns from `rows::INTERACTION_COLUMNS`.
const PAGE_SQL: &str =
    "SELECT i.id, i.tenant_id, i.guid, i.number, i.start_us, i.end_us, i.direction, \
     i.connect_from, i.connect_to, i.caller_name, i.agents::text AS agents, \
     i.extensions::text AS extensions, i.queue_id, i.queue_name, i.channel, \
     i.attributes::text AS attributes, i.created_us, i.updated_us FROM interactions i \
     WHERE i.tenant_id = $1 AND i.content_count > 0 AND i.start_us >= $2 AND i.start_us <= $3 \
     ORDER BY i.start_us ASC, i.id ASC LIMIT $4";
/// The store's content statement (`attach_content`).
const CONTENT_SQL: &str = "SELECT interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan \
     FROM content_items WHERE interaction_id = ANY($1) ORDER BY interaction_id, seq";

pub struct Config {
    pub sizes: Vec<u64>,
    pub requests: usize,
    pub clients: usize,
    /// A maintenance database URL of the PostgreSQL server (databases are created beside it).
    pub postgres_url: String,
    pub s3_endpoint: String,
    pub s3_bucket: String,
}

pub struct SizeResult {
    pub size: u64,
    /// The INSERTs.
    pub load_secs: f64,
    /// VACUUM ANALYZE and a checkpoint after them.
    pub settle_secs: f64,
    pub db_bytes: i64,
    pub window_rows: i64,
    pub plan: String,
    /// One summary per round, alternating API and SQL rounds.
    pub api_rounds: Vec<Summary>,
    pub raw_rounds: Vec<Summary>,
    pub server_rss_kb: u64,
}

/// The round with the median p99.
fn median(rounds: &[Summary]) -> &Summary {
    let mut sorted: Vec<&Summary> = rounds.iter().collect();
    sorted.sort_by_key(|s| s.p99);
    sorted[sorted.len() / 2]
}

/// "median (min–max)" of the rounds' p99 in ms.
fn p99_spread(rounds: &[Summary]) -> String {
    let p99 = |s: &Summary| ms(s.p99);
    let min = rounds.iter().map(p99).fold(f64::INFINITY, f64::min);
    let max = rounds.iter().map(p99).fold(0.0, f64::max);
    format!("{:.2} ({min:.1}–{max:.1})", p99(median(rounds)))
}

impl SizeResult {
    pub fn api(&self) -> &Summary {
        median(&self.api_rounds)
    }

    pub fn raw(&self) -> &Summary {
        median(&self.raw_rounds)
    }

    pub fn p99_ratio(&self) -> f64 {
        self.api().p99.as_secs_f64() / self.raw().p99.as_secs_f64()
    }
}

pub struct ScaleResult {
    pub clients: usize,
    /// Requests per round and side.
    pub requests: usize,
    /// Share of the machine's CPU time (both cores) spent while measuring by anything but
    /// the bench, the servers and PostgreSQL: other processes, and steal by the hypervisor.
    pub others_pct: f64,
    pub sizes: Vec<SizeResult>,
}

impl ScaleResult {
    /// API p99 at the largest size over the smallest's (sizes run in rising order).
    pub fn growth(&self) -> Option<f64> {
        let (first, last) = (self.sizes.first()?, self.sizes.last()?);
        (self.sizes.len() > 1).then(|| last.api().p99.as_secs_f64() / first.api().p99.as_secs_f64())
    }

    pub fn json(&self) -> Value {
        json!({
            "clients": self.clients,
            "requestsPerRound": self.requests,
            "rounds": ROUNDS,
            "othersCpuPct": self.others_pct,
            "limit": LIMIT,
            "windowDays": WINDOW_DAYS,
            "spanDays": SPAN_DAYS,
            "p99GrowthLargestOverSmallest": self.growth(),
            "maxGrowth": MAX_GROWTH,
            "sizes": self.sizes.iter().map(|r| json!({
                "interactions": r.size,
                "loadSecs": r.load_secs,
                "vacuumAnalyzeCheckpointSecs": r.settle_secs,
                "databaseBytes": r.db_bytes,
                "rowsInFirstWindow": r.window_rows,
                "plan": r.plan,
                "api": r.api().json(),
                "rawSql": r.raw().json(),
                "apiRounds": r.api_rounds.iter().map(Summary::json).collect::<Vec<_>>(),
                "rawSqlRounds": r.raw_rounds.iter().map(Summary::json).collect::<Vec<_>>(),
                "p99ApiOverSql": r.p99_ratio(),
                "serverRssMiB": mib(r.server_rss_kb),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn markdown(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            s,
            "Search at scale (PostgreSQL): {} clients, limit {LIMIT}, random {WINDOW_DAYS}-day windows in the middle of {SPAN_DAYS} days; \
             {ROUNDS} rounds of {} requests per side, sizes interleaved, API then SQL; each side's median round by p99, with the rounds' p99 range. \
             CPU used by other processes and steal while measuring: {:.1} % of the machine.\n",
            self.clients, self.requests, self.others_pct
        );
        let _ = writeln!(s, "| interactions | DB GB | load s | VACUUM ANALYZE s | API req/s | API p50 ms | API p99 ms | server CPU ms/req | SQL req/s | SQL p50 ms | SQL p99 ms | p99 API/SQL |");
        let _ = writeln!(
            s,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.sizes {
            let (api, raw) = (r.api(), r.raw());
            let cpu = api.cpu_ms_per_request().unwrap_or(f64::NAN);
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.2} | {} | {cpu:.2} | {:.0} | {:.2} | {} | {:.2} |",
                r.size,
                r.db_bytes as f64 / 1e9,
                r.load_secs,
                r.settle_secs,
                api.per_sec(),
                ms(api.p50),
                p99_spread(&r.api_rounds),
                raw.per_sec(),
                ms(raw.p50),
                p99_spread(&r.raw_rounds),
                r.p99_ratio(),
            );
        }
        if let Some(g) = self.growth() {
            let (a, b) = (&self.sizes[0], &self.sizes[self.sizes.len() - 1]);
            let _ = writeln!(
                s,
                "\nAPI p99 at {} over {}: {g:.2} (target ≤ {MAX_GROWTH}: {}).",
                b.size,
                a.size,
                if g <= MAX_GROWTH { "met" } else { "**missed**" }
            );
        }
        let _ = writeln!(s);
    }
}

/// One window, in the API's and the database's terms.
#[derive(Clone)]
struct Window {
    query: String,
    start_us: i64,
    end_us: i64,
}

pub async fn run(
    bin: &Path,
    work: &Path,
    out: &Path,
    cfg: &Config,
    rng: &mut StdRng,
) -> anyhow::Result<ScaleResult> {
    let mut wanted = cfg.sizes.clone();
    wanted.sort_unstable();
    wanted.dedup();
    let mut admin_conn = PgConnection::connect(&cfg.postgres_url).await?;
    let mut prepared = Vec::new();
    let result = async {
        for &size in &wanted {
            eprintln!("  loading {size} interactions ...");
            let p = prepare(bin, work, out, cfg, size, &mut admin_conn, rng).await?;
            eprintln!(
                "  {size}: loaded in {:.0} s, VACUUM ANALYZE and CHECKPOINT {:.0} s",
                p.load_secs, p.settle_secs
            );
            prepared.push(p);
        }
        eprintln!("  measuring, sizes interleaved ...");
        measure(&prepared, cfg).await
    }
    .await;
    for p in &mut prepared {
        p.pool.close().await;
        p.node.stop().await?;
    }
    for size in &wanted {
        admin_conn
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db_name(*size)).as_str())
            .await?;
        let _ = std::fs::remove_dir_all(work.join(db_name(*size)));
    }
    admin_conn.close().await?;
    let (sizes, others_pct) = result?;
    Ok(ScaleResult {
        clients: cfg.clients,
        requests: cfg.requests.div_ceil(cfg.clients) * cfg.clients,
        others_pct,
        sizes,
    })
}

fn db_name(size: u64) -> String {
    format!("cvbench_scale_{size}")
}

/// A database URL on the same server as `base`, naming `db`.
fn db_url(base: &str, db: &str) -> String {
    let (head, _) = base.rsplit_once('/').unwrap_or((base, ""));
    format!("{head}/{db}")
}

/// A loaded database with its own server, ready to be measured.
struct Prepared {
    size: u64,
    node: Node,
    api: Api,
    pool: PgPool,
    tenant: i64,
    windows: Vec<Window>,
    load_secs: f64,
    settle_secs: f64,
    db_bytes: i64,
    window_rows: i64,
    plan: String,
}

/// A fresh database, `callvault serve` on it (which runs the migrations), the tenant and
/// an API client from the CLI, then the rows.
async fn prepare(
    bin: &Path,
    work: &Path,
    out: &Path,
    cfg: &Config,
    size: u64,
    admin_conn: &mut PgConnection,
    rng: &mut StdRng,
) -> anyhow::Result<Prepared> {
    let db = db_name(size);
    admin_conn
        .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
        .await?;
    admin_conn
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await?;
    let url = db_url(&cfg.postgres_url, &db);
    let dir = work.join(&db);
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("callvault.toml");
    std::fs::write(
        &conf,
        format!(
            "data_dir = \"{}\"\ndatabase_url = \"{url}\"\nblob_url = \"s3://{}/bench-{db}\"\n\
             master_key = \"{MASTER_KEY}\"\n[s3]\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
             access_key_id = \"test\"\nsecret_access_key = \"test\"\nallow_http = true\n",
            dir.display(),
            cfg.s3_bucket,
            cfg.s3_endpoint
        ),
    )?;
    let node = Node::start(bin, &conf, &out.join(format!("callvault-{db}.log"))).await?;
    let c = conf.to_str().context("config path is not UTF-8")?;
    let tenant = admin(bin, &dir, &["--config", c, "tenant", "create", TENANT]).await?;
    let tenant = tenant["id"]
        .as_i64()
        .context("tenant create printed no id")?;
    let api = connect(bin, &dir, c, &node).await?;

    let to = Utc::now().duration_trunc(chrono::Duration::hours(1))? - chrono::Duration::days(1);
    let from = to - chrono::Duration::days(SPAN_DAYS);
    let started = Instant::now();
    load(
        &url,
        tenant,
        size,
        from.timestamp_micros(),
        to.timestamp_micros(),
    )
    .await?;
    let load_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    settle(&url).await?;
    let settle_secs = started.elapsed().as_secs_f64();

    // Random 7-day windows starting in the middle half of the range.
    let span = (to - from).num_seconds();
    let iso = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let windows: Vec<Window> = (0..WINDOWS)
        .map(|_| {
            let start = from + chrono::Duration::seconds(rng.gen_range(span / 4..span * 3 / 4));
            let end = start + chrono::Duration::days(WINDOW_DAYS);
            Window {
                query: format!("start={}&end={}&limit={LIMIT}", iso(start), iso(end)),
                start_us: start.timestamp_micros(),
                end_us: end.timestamp_micros(),
            }
        })
        .collect();
    let pool = PgPoolOptions::new()
        .max_connections(cfg.clients as u32)
        .connect(&url)
        .await?;
    let (db_bytes, window_rows, plan) = inspect(&pool, tenant, &windows[0]).await?;
    let body = get_page(&api, &windows[0]).await?;
    let items: Value = serde_json::from_slice(&body)?;
    ensure!(
        items["items"].as_array().map(Vec::len) == Some(LIMIT as usize),
        "search answered no full page at {size} interactions (too few for a {WINDOW_DAYS}-day window?)"
    );
    Ok(Prepared {
        size,
        node,
        api,
        pool,
        tenant,
        windows,
        load_secs,
        settle_secs,
        db_bytes,
        window_rows,
        plan,
    })
}

/// Warms every size up, then runs the rounds: in each, every size in turn, API then SQL,
/// so that a change in the machine's speed during the run (a VM's neighbours) falls on
/// every size alike. Answers the results and the share of CPU used by others meanwhile.
async fn measure(prepared: &[Prepared], cfg: &Config) -> anyhow::Result<(Vec<SizeResult>, f64)> {
    let per_client = cfg.requests.div_ceil(cfg.clients);
    let bounds = Bounds {
        duration: Duration::from_secs(600),
        per_client,
    };
    let warm = Bounds {
        duration: Duration::from_secs(10),
        per_client: per_client / 5,
    };
    for p in prepared {
        let w = Arc::new(p.windows.clone());
        api_load(&p.api, &w, cfg.clients, warm).await?;
        raw_load(&p.pool, p.tenant, &w, cfg.clients, warm).await?;
    }
    let pids: Vec<u32> = prepared.iter().map(|p| p.api.pid).collect();
    let cpu_before = cpu_sample(&pids)?;
    let mut rounds: Vec<(Vec<Summary>, Vec<Summary>)> =
        prepared.iter().map(|_| Default::default()).collect();
    for round in 1..=ROUNDS {
        for (p, (api_rounds, raw_rounds)) in prepared.iter().zip(&mut rounds) {
            // Each round walks other windows; a round's API and SQL sides the same ones.
            let w: Arc<Vec<Window>> = Arc::new(
                p.windows
                    .iter()
                    .skip(round * 409)
                    .chain(&p.windows)
                    .take(WINDOWS)
                    .cloned()
                    .collect(),
            );
            let api = api_load(&p.api, &w, cfg.clients, bounds);
            api_rounds.push(cpu::measure(Probe::Process(p.api.pid), api).await?);
            raw_rounds.push(raw_load(&p.pool, p.tenant, &w, cfg.clients, bounds).await?);
        }
        eprintln!("    round {round} of {ROUNDS} done");
    }
    let cpu_after = cpu_sample(&pids)?;
    let others_pct = 100.0
        * (cpu_after.busy - cpu_before.busy).saturating_sub(cpu_after.ours - cpu_before.ours)
            as f64
        / (cpu_after.total - cpu_before.total).max(1) as f64;
    let mut out = Vec::new();
    for (p, (api_rounds, raw_rounds)) in prepared.iter().zip(rounds) {
        out.push(SizeResult {
            size: p.size,
            load_secs: p.load_secs,
            settle_secs: p.settle_secs,
            db_bytes: p.db_bytes,
            window_rows: p.window_rows,
            plan: p.plan.clone(),
            api_rounds,
            raw_rounds,
            server_rss_kb: Memory::of(p.api.pid)?.rss_kb,
        });
    }
    Ok((out, others_pct))
}

/// Fills the tenant with `n` interactions evenly over [from, to) (start times rising with
/// the id, jittered inside each step), each with one call recording; then the tenant's
/// next number and the identity sequence are moved past them.
async fn load(url: &str, tenant: i64, n: u64, from_us: i64, to_us: i64) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    // Setup only: no foreign-key triggers (rows are consistent by construction) and no
    // wait for WAL flushes.
    conn.execute("SET session_replication_role = replica; SET synchronous_commit = off")
        .await?;
    let n = n as i64;
    let step = ((to_us - from_us) / n.max(1)).max(1);
    let now = Utc::now().timestamp_micros();
    let blob_key = format!("t{tenant}/{}/{BLOB_SHA}", &BLOB_SHA[..2]);
    let duration_ms = (BLOB_LEN - 44) / 2 * 1000 / 8000;
    let mut done = 0i64;
    while done < n {
        let (lo, hi) = (done + 1, (done + CHUNK).min(n));
        let t = Instant::now();
        sqlx::query(
            "INSERT INTO interactions (id, tenant_id, guid, number, start_us, end_us, direction, \
             connect_from, connect_to, caller_name, agents, extensions, queue_id, queue_name, \
             channel, attributes, content_count, created_us, updated_us) \
             SELECT g, $1, md5($1::text || '-' || g::text)::uuid::text, g, s, \
               s + 20000000 + (g * 40503 % 880) * 1000000, \
               (ARRAY['inbound', 'outbound', 'internal'])[1 + g % 3], \
               '44' || (1000000000 + g * 7919 % 8999999999)::text, \
               (10000000 + g * 104729 % 89999999)::text, \
               CASE WHEN g % 2 = 0 THEN 'Caller ' || (g % 977)::text END, \
               '[]', '[]', 'q' || (g % 12)::text, 'Queue ' || (g % 12)::text, 'call', '{}', 1, $5, $5 \
             FROM (SELECT g, $4 + (g - 1) * $6 + (g * 2654435761) % $6 AS s \
                   FROM generate_series($2::bigint, $3::bigint) g) x",
        )
        .bind(tenant)
        .bind(lo)
        .bind(hi)
        .bind(from_us)
        .bind(now)
        .bind(step)
        .execute(&mut conn)
        .await?;
        sqlx::query(
            "INSERT INTO content_items (interaction_id, tenant_id, content_key, content_type, \
             media_type, length, sha256, blob_key, last_modified_us, duration_ms) \
             SELECT id, tenant_id, 'callRecording', 'callRecording', 'audio/wav', $3, $4, $5, end_us, $6 \
             FROM interactions WHERE id BETWEEN $1 AND $2 ORDER BY id",
        )
        .bind(lo)
        .bind(hi)
        .bind(BLOB_LEN)
        .bind(BLOB_SHA)
        .bind(&blob_key)
        .bind(duration_ms)
        .execute(&mut conn)
        .await?;
        done = hi;
        eprintln!(
            "    {done} rows ({:.1} s for this chunk)",
            t.elapsed().as_secs_f64()
        );
    }
    sqlx::query("UPDATE tenants SET next_number = $1 WHERE id = $2")
        .bind(n + 1)
        .bind(tenant)
        .execute(&mut conn)
        .await?;
    conn.execute("SELECT setval(pg_get_serial_sequence('interactions', 'id'), (SELECT max(id) FROM interactions))").await?;
    conn.close().await?;
    Ok(())
}

/// Brings the fresh tables to a steady state before measuring: planner statistics, the
/// visibility map and hint bits (so autovacuum does not start on the new rows in the
/// middle of the measurement), and the dirty pages written out.
async fn settle(url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    conn.execute("SET maintenance_work_mem = '1GB'").await?;
    conn.execute("VACUUM (ANALYZE) interactions").await?;
    conn.execute("VACUUM (ANALYZE) content_items").await?;
    conn.execute("ANALYZE").await?;
    conn.execute("CHECKPOINT").await?;
    conn.close().await?;
    Ok(())
}

/// The database's size, the rows in a window, and the plan of the page statement.
async fn inspect(pool: &PgPool, tenant: i64, w: &Window) -> anyhow::Result<(i64, i64, String)> {
    let db_bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await?;
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM interactions WHERE tenant_id = $1 AND content_count > 0 AND start_us >= $2 AND start_us <= $3",
    )
    .bind(tenant)
    .bind(w.start_us)
    .bind(w.end_us)
    .fetch_one(pool)
    .await?;
    let explain = format!(
        "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {}",
        PAGE_SQL
            .replacen("$1", &tenant.to_string(), 1)
            .replacen("$2", &w.start_us.to_string(), 1)
            .replacen("$3", &w.end_us.to_string(), 1)
            .replacen("$4", &(LIMIT + 1).to_string(), 1)
    );
    let plan: Vec<String> = sqlx::query(&explain)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    let plan = plan.join("\n");
    eprintln!("    page plan:\n      {}", plan.replace('\n', "\n      "));
    Ok((db_bytes, rows, plan))
}

fn pick(windows: &[Window], client: usize, i: usize) -> &Window {
    &windows[(client * 7919 + i * 31) % windows.len()]
}

async fn get_page(api: &Api, w: &Window) -> anyhow::Result<bytes::Bytes> {
    let r = api
        .http
        .get(api.url(&format!("/interaction-content/interactions?{}", w.query)))
        .bearer_auth(&api.token)
        .header("Accept", V3)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    ensure!(
        status.is_success(),
        "search failed with {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(body)
}

async fn api_load(
    api: &Api,
    windows: &Arc<Vec<Window>>,
    clients: usize,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let (api, windows) = (api.clone(), windows.clone());
    load::run(clients, bounds, move |c, i| {
        let (api, windows) = (api.clone(), windows.clone());
        async move { Ok(get_page(&api, pick(&windows, c, i)).await?.len() as u64) }
    })
    .await
}

async fn raw_load(
    pool: &PgPool,
    tenant: i64,
    windows: &Arc<Vec<Window>>,
    clients: usize,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let (pool, windows) = (pool.clone(), windows.clone());
    load::run(clients, bounds, move |c, i| {
        let (pool, windows) = (pool.clone(), windows.clone());
        async move {
            let w = pick(&windows, c, i);
            let mut conn = pool.acquire().await?;
            let page = sqlx::query(PAGE_SQL)
                .bind(tenant)
                .bind(w.start_us)
                .bind(w.end_us)
                .bind(i64::from(LIMIT) + 1)
                .fetch_all(&mut *conn)
                .await?;
            let ids = page
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<Result<Vec<_>, _>>()?;
            let content = sqlx::query(CONTENT_SQL)
                .bind(&ids)
                .fetch_all(&mut *conn)
                .await?;
            ensure!(
                page.len() == LIMIT as usize + 1 && content.len() == ids.len(),
                "a window holds fewer than {} interactions, or content rows are missing",
                LIMIT + 1
            );
            Ok((page.len() + content.len()) as u64)
        }
    })
    .await
}

/// `callvault serve --config FILE` on a free loopback port.
struct Node {
    child: Child,
    pid: u32,
    base: String,
}

impl Node {
    async fn start(bin: &Path, conf: &Path, log: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(conf)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        wait_started(&mut child, &format!("{base}/healthz"))
            .await
            .with_context(|| format!("starting callvault (see {})", log.display()))?;
        Ok(Self { child, pid, base })
    }

    async fn stop(&mut self) -> anyhow::Result<()> {
        signal(self.pid, "TERM").await;
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// An API client from `callvault client create` and a token from the client
/// credentials grant.
async fn connect(bin: &Path, dir: &Path, conf: &str, node: &Node) -> anyhow::Result<Api> {
    let creds = admin(
        bin,
        dir,
        &[
            "--config",
            conf,
            "client",
            "create",
            "--tenant",
            TENANT,
            "--scopes",
            "interaction-content:read",
        ],
    )
    .await?;
    let field = |k: &str| {
        creds[k]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("client create printed no {k}"))
    };
    let (id, secret) = (field("clientId")?, field("clientSecret")?);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let r = http
        .post(format!("{}/Auth/connect/token", node.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await?;
    ensure!(
        r.status().is_success(),
        "token request failed: {}",
        r.text().await?
    );
    let body: Value = r.json().await?;
    let token = body["access_token"]
        .as_str()
        .context("no access_token")?
        .to_string();
    Ok(Api {
        http,
        base: node.base.clone(),
        token,
        pid: node.pid,
    })
}

/// CPU ticks (`USER_HZ`) of the machine (both cores) and of the processes measured.
struct CpuSample {
    total: u64,
    /// User, system and steal; not interrupts, which loopback traffic of the measured
    /// processes itself causes.
    busy: u64,
    /// This bench, the servers and every `postgres` process.
    ours: u64,
}

fn cpu_sample(servers: &[u32]) -> anyhow::Result<CpuSample> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let t: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .context("no cpu line in /proc/stat")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    ensure!(t.len() >= 8, "short cpu line in /proc/stat");
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = t[..8].iter().sum();
    let mut ours = proc_ticks("self").unwrap_or(0);
    for pid in servers {
        ours += proc_ticks(&pid.to_string()).unwrap_or(0);
    }
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() == "postgres" {
            // A process may exit between listing and reading.
            ours += proc_ticks(pid).unwrap_or(0);
        }
    }
    Ok(CpuSample {
        total,
        busy: t[0] + t[1] + t[2] + t[7],
        ours,
    })
}

/// User + system ticks of one process (all its threads).
fn proc_ticks(pid: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name start at 3 (state): utime is 14, stime 15.
    Ok(f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
}
