//! Search: `GET /interaction-content/interactions` over random 7-day windows against the
//! same statements run directly on the SQLite file through its C library (`floor.rs`, the
//! floor no HTTP server can beat), by one client and by sixteen.
//!
//! The floor runs the SQL of `crates/storage/src/store/search.rs` verbatim: the
//! interaction page by a range of the partial search index (with `LIMIT limit + 1`, as the
//! v3 handler asks for one extra row to know whether a next page exists), then the content
//! rows of the page's ids through `json_each`. What the API adds on top is the work a
//! client actually pays for: HTTP, token check, row mapping, JSON.

use std::sync::Arc;
use std::time::Duration;

use crate::cpu::{self, Probe};
use crate::data::DataSet;
use crate::floor::Floor;
use crate::load::{self, Bounds, Summary};
use crate::server::{Api, V3};
use anyhow::{ensure, Context};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// One client (latency alone) and sixteen (under load, on a 2-core machine).
pub const CLIENTS: [usize; 2] = [1, 16];
pub const LIMITS: [u32; 2] = [100, 1000];
const WINDOWS: usize = 4096;
const WINDOW_DAYS: i64 = 7;

/// One search window, in both the API's and the database's terms.
#[derive(Clone)]
pub(crate) struct Window {
    query: String,
    start_us: i64,
    end_us: i64,
}

impl Window {
    /// The window as the search's query string (`start=..&end=..`).
    pub(crate) fn query(&self) -> &str {
        &self.query
    }
}

/// The API and floor figures for one page size.
pub struct SearchResult {
    pub limit: u32,
    pub clients: usize,
    pub api: Summary,
    pub raw: Summary,
}

impl SearchResult {
    /// API p50 over floor p50; the target is at most 2.
    pub fn p50_ratio(&self) -> f64 {
        self.api.p50.as_secs_f64() / self.raw.p50.as_secs_f64()
    }

    /// API p99 over floor p99; the target is at most 2.
    pub fn p99_ratio(&self) -> f64 {
        self.api.p99.as_secs_f64() / self.raw.p99.as_secs_f64()
    }

    pub fn json(&self) -> Value {
        json!({
            "limit": self.limit,
            "clients": self.clients,
            "api": self.api.json(),
            "raw": self.raw.json(),
            "p50Ratio": self.p50_ratio(),
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
    let floor = Floor::open(&data.db)?;
    let warm = Bounds {
        duration: Duration::from_secs(2),
        per_client: 50,
    };
    let mut out = Vec::new();
    for limit in LIMITS {
        check_page(api, &windows[0], limit).await?;
        for clients in CLIENTS {
            api_load(api, &windows, limit, clients, warm).await?;
            let api_summary = cpu::measure(
                Probe::Process(api.pid),
                api_load(api, &windows, limit, clients, bounds),
            )
            .await?;
            raw_load(&floor, data.tenant_id, &windows, limit, clients, warm).await?;
            let raw_summary =
                raw_load(&floor, data.tenant_id, &windows, limit, clients, bounds).await?;
            out.push(SearchResult {
                limit,
                clients,
                api: api_summary,
                raw: raw_summary,
            });
        }
    }
    Ok(out)
}

/// Random 7-day windows lying wholly inside the data, shared by the API and the floor.
pub(crate) fn windows(data: &DataSet, rng: &mut StdRng) -> Vec<Window> {
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

pub(crate) async fn api_load(
    api: &Api,
    windows: &Arc<Vec<Window>>,
    limit: u32,
    clients: usize,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let api = api.clone();
    let windows = windows.clone();
    load::run(clients, bounds, move |c, i| {
        let api = api.clone();
        let windows = windows.clone();
        async move {
            let body = get_page(&api, pick(&windows, c, i), limit).await?;
            Ok(body.len() as u64)
        }
    })
    .await
}

async fn raw_load(
    floor: &Floor,
    tenant: i64,
    windows: &Arc<Vec<Window>>,
    limit: u32,
    clients: usize,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let floor = floor.clone();
    let windows = windows.clone();
    load::run(clients, bounds, move |c, i| {
        let floor = floor.clone();
        let windows = windows.clone();
        async move {
            let w = pick(&windows, c, i);
            floor.page(tenant, w.start_us, w.end_us, limit).await
        }
    })
    .await
}
