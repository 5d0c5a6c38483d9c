//! Search: `GET /interaction-content/interactions` over random 7-day windows against the
//! same query run directly on the SQLite file (the floor no HTTP server can beat).
//!
//! The floor runs the SQL of `crates/storage/src/store/search.rs` verbatim: the
//! interaction page by a range of the partial search index (with `LIMIT limit + 1`, as the
//! v3 handler asks for one extra row to know whether a next page exists), then the content
//! rows of the page's ids through `json_each`. It uses a read-only pool of eight
//! connections with the server's pragmas, like the server's reader pool. What the API adds
//! on top is the work a client actually pays for: HTTP, token check, row mapping, JSON.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::{ensure, Context};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::cpu::{self, Probe};
use crate::data::DataSet;
use crate::load::{self, Bounds, Summary};
use crate::server::{Api, V3};

pub const CLIENTS: usize = 16;
pub const LIMITS: [u32; 2] = [100, 1000];
const WINDOWS: usize = 4096;
const WINDOW_DAYS: i64 = 7;

/// Copied from `INTERACTION_COLUMNS` / `CONTENT_COLUMNS` in the storage crate.
const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, i.end_us, \
     i.direction, i.connect_from, i.connect_to, i.caller_name, i.agents, i.extensions, \
     i.queue_id, i.queue_name, i.channel, i.attributes, i.created_us, i.updated_us";
const CONTENT_COLUMNS: &str = "interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan";

/// The server's page statement (`SearchStore::search` with no filter beyond the window).
static PAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE i.tenant_id = ? \
         AND i.content_count > 0 AND i.start_us >= ? AND i.start_us <= ? \
         ORDER BY i.start_us, i.id LIMIT ?"
    )
});

/// The server's content statement (`attach_content`).
static CONTENT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CONTENT_COLUMNS} FROM content_items \
         WHERE interaction_id IN (SELECT value FROM json_each(?)) ORDER BY interaction_id, rowid"
    )
});

/// One search window, in both the API's and the database's terms.
#[derive(Clone)]
struct Window {
    query: String,
    start_us: i64,
    end_us: i64,
}

/// The API and floor figures for one page size.
pub struct SearchResult {
    pub limit: u32,
    pub api: Summary,
    pub raw: Summary,
}

impl SearchResult {
    /// API p99 over floor p99; the target is at most 2.
    pub fn p99_ratio(&self) -> f64 {
        self.api.p99.as_secs_f64() / self.raw.p99.as_secs_f64()
    }

    pub fn json(&self) -> Value {
        json!({
            "limit": self.limit,
            "api": self.api.json(),
            "raw": self.raw.json(),
            "p99Ratio": self.p99_ratio(),
        })
    }
}

pub async fn run(
    api: &Api,
    data: &DataSet,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<SearchResult>> {
    let windows = Arc::new(windows(data, rng));
    let pool = floor_pool(data).await?;
    let warm = Bounds {
        duration: Duration::from_secs(2),
        per_client: 50,
    };
    let mut out = Vec::new();
    for limit in LIMITS {
        check_page(api, &windows[0], limit).await?;
        api_load(api, &windows, limit, warm).await?;
        let api_summary = cpu::measure(
            Probe::Process(api.pid),
            api_load(api, &windows, limit, bounds),
        )
        .await?;
        raw_load(&pool, data.tenant_id, &windows, limit, warm).await?;
        let raw_summary = raw_load(&pool, data.tenant_id, &windows, limit, bounds).await?;
        out.push(SearchResult {
            limit,
            api: api_summary,
            raw: raw_summary,
        });
    }
    pool.close().await;
    Ok(out)
}

/// Random 7-day windows lying wholly inside the data, shared by the API and the floor.
fn windows(data: &DataSet, rng: &mut StdRng) -> Vec<Window> {
    let width = chrono::Duration::days(WINDOW_DAYS);
    let latest_start = (data.to - width - data.from).num_seconds().max(1);
    (0..WINDOWS)
        .map(|_| {
            let start = data.from + chrono::Duration::seconds(rng.gen_range(0..latest_start));
            let end = start + width;
            Window {
                query: format!("start={}&end={}", iso(start), iso(end)),
                start_us: start.timestamp_micros(),
                end_us: end.timestamp_micros(),
            }
        })
        .collect()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn pick(windows: &[Window], client: usize, i: usize) -> &Window {
    &windows[(client * 7919 + i * 31) % windows.len()]
}

/// Makes sure the API answers full pages, so the load below measures real work.
async fn check_page(api: &Api, w: &Window, limit: u32) -> anyhow::Result<()> {
    let resp = get_page(api, w, limit).await?;
    let body: Value = serde_json::from_slice(&resp)?;
    let items = body["items"]
        .as_array()
        .context("search answered no items")?;
    ensure!(
        items.len() == limit as usize,
        "search answered {} items for limit {limit}; the data set is too small",
        items.len()
    );
    Ok(())
}

async fn get_page(api: &Api, w: &Window, limit: u32) -> anyhow::Result<Bytes> {
    let resp = api
        .http
        .get(api.url(&format!(
            "/interaction-content/interactions?{}&limit={limit}",
            w.query
        )))
        .bearer_auth(&api.token)
        .header("Accept", V3)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
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
    limit: u32,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let api = api.clone();
    let windows = windows.clone();
    load::run(CLIENTS, bounds, move |c, i| {
        let api = api.clone();
        let windows = windows.clone();
        async move {
            let body = get_page(&api, pick(&windows, c, i), limit).await?;
            Ok(body.len() as u64)
        }
    })
    .await
}

/// A read-only pool shaped like the server's reader pool.
async fn floor_pool(data: &DataSet) -> anyhow::Result<SqlitePool> {
    let opts = SqliteConnectOptions::new()
        .filename(&data.db)
        .journal_mode(SqliteJournalMode::Wal)
        .read_only(true)
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory");
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await?)
}

async fn raw_load(
    pool: &SqlitePool,
    tenant: i64,
    windows: &Arc<Vec<Window>>,
    limit: u32,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let pool = pool.clone();
    let windows = windows.clone();
    load::run(CLIENTS, bounds, move |c, i| {
        let pool = pool.clone();
        let windows = windows.clone();
        async move { raw_page(&pool, tenant, pick(&windows, c, i), limit).await }
    })
    .await
}

/// The server's two statements for one v3 page; answers the rows read.
async fn raw_page(pool: &SqlitePool, tenant: i64, w: &Window, limit: u32) -> anyhow::Result<u64> {
    let mut conn = pool.acquire().await?;
    let page = sqlx::query(PAGE_SQL.as_str())
        .bind(tenant)
        .bind(w.start_us)
        .bind(w.end_us)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
    let ids = page
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    let content = sqlx::query(CONTENT_SQL.as_str())
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&mut *conn)
        .await?;
    ensure!(
        content.len() == ids.len(),
        "content rows missing for a page"
    );
    Ok((page.len() + content.len()) as u64)
}
