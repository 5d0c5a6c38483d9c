//! Search by what was said over a million transcripts on SQLite: `GET
//! /transcripts/search` against the same three statements run through SQLite's C library
//! (the page through the FTS5 index, its content rows, its highlighted hits), one client.
//!
//! Setup writes one transcript item and three segments per interaction of the search data
//! set straight into the file (the FTS5 triggers index them as the server's writes
//! would); every measured callvault figure goes through the HTTP API. Two kinds of query:
//! a rare word (about 100 interactions say it) and a common one (about 2%).

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use anyhow::{ensure, Context};
use rand::rngs::StdRng;
use rand::Rng;
use rusqlite::Connection;
use serde_json::{json, Value};

use crate::data::DataSet;
use crate::load::{self, Bounds, Summary};
use crate::server::Api;

const LIMIT: u32 = 25;
const RARE: usize = 10_000;
const COMMON: [&str; 50] = [
    "invoice",
    "refund",
    "router",
    "engineer",
    "contract",
    "upgrade",
    "broadband",
    "handset",
    "password",
    "payment",
    "balance",
    "discount",
    "cancel",
    "transfer",
    "voicemail",
    "signal",
    "outage",
    "billing",
    "address",
    "delivery",
    "warranty",
    "replacement",
    "installation",
    "appointment",
    "complaint",
    "manager",
    "credit",
    "debit",
    "direct",
    "charge",
    "overdue",
    "reminder",
    "statement",
    "quote",
    "tariff",
    "roaming",
    "international",
    "mobile",
    "landline",
    "fibre",
    "speed",
    "connection",
    "modem",
    "login",
    "account",
    "security",
    "verification",
    "callback",
    "escalation",
    "feedback",
];

pub struct TextResult {
    pub kind: &'static str,
    pub api: Summary,
    pub raw: Summary,
    pub build_secs: f64,
}

impl TextResult {
    pub fn p50_ratio(&self) -> f64 {
        self.api.p50.as_secs_f64() / self.raw.p50.as_secs_f64()
    }

    pub fn p99_ratio(&self) -> f64 {
        self.api.p99.as_secs_f64() / self.raw.p99.as_secs_f64()
    }

    pub fn json(&self) -> Value {
        json!({
            "query": self.kind, "limit": LIMIT, "api": self.api.json(), "raw": self.raw.json(),
            "p50Ratio": self.p50_ratio(), "p99Ratio": self.p99_ratio(),
            "indexBuildSecs": self.build_secs,
        })
    }
}

/// Adds the transcripts; answers the seconds it took.
pub fn build(data: &DataSet, rng: &mut StdRng) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut c = Connection::open(&data.db)?;
    c.pragma_update(None, "synchronous", "OFF")?;
    c.pragma_update(None, "foreign_keys", "OFF")?;
    let ids: Vec<i64> = c
        .prepare("SELECT id FROM interactions WHERE tenant_id = ?1 ORDER BY id")?
        .query_map([data.tenant_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for chunk in ids.chunks(50_000) {
        let tx = c.transaction()?;
        {
            let mut item = tx.prepare(
                "INSERT INTO content_items (interaction_id, tenant_id, content_key, content_type, \
                 media_type, length, sha256, blob_key, last_modified_us) VALUES \
                 (?1, ?2, 'transcript', 'transcript', 'application/json', 100, ?3, ?4, 0)",
            )?;
            let mut seg = tx.prepare(
                "INSERT INTO transcript_segments (tenant_id, interaction_id, content_key, \
                 start_ms, end_ms, speaker, body) VALUES (?1, ?2, 'transcript', ?3, ?4, ?5, ?6)",
            )?;
            for &id in chunk {
                let sha = format!("{id:064x}");
                item.execute(rusqlite::params![
                    id,
                    data.tenant_id,
                    sha,
                    format!("t/{sha}")
                ])?;
                let topic = COMMON[rng.gen_range(0..COMMON.len())];
                let lines = [
                    (
                        "agent",
                        "thank you for calling how can i help you today".to_string(),
                    ),
                    (
                        "customer",
                        format!(
                            "i am calling about my {topic} reference ref{}",
                            id as usize % RARE
                        ),
                    ),
                    (
                        "agent",
                        "let me check that for you one moment please".to_string(),
                    ),
                ];
                for (n, (speaker, text)) in lines.iter().enumerate() {
                    let at = n as i64 * 4000;
                    seg.execute(rusqlite::params![
                        data.tenant_id,
                        id,
                        at,
                        at + 3500,
                        speaker,
                        text
                    ])?;
                }
            }
        }
        tx.commit()?;
    }
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(started.elapsed().as_secs_f64())
}

/// Copied from the storage crate: the columns and statements of `TranscriptionStore`.
const INTERACTION_COLUMNS: &str = "i.id, i.tenant_id, i.guid, i.number, i.start_us, i.end_us, \
     i.direction, i.connect_from, i.connect_to, i.caller_name, i.agents, i.extensions, \
     i.queue_id, i.queue_name, i.channel, i.attributes, i.created_us, i.updated_us";
static PAGE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {INTERACTION_COLUMNS} FROM interactions i WHERE +i.tenant_id = ?1 \
         AND i.content_count > 0 AND i.id IN (SELECT s.interaction_id FROM transcript_fts \
         JOIN transcript_segments s ON s.id = transcript_fts.rowid WHERE transcript_fts MATCH ?2 \
         AND s.tenant_id = ?1) ORDER BY i.start_us DESC, i.id DESC LIMIT ?3"
    )
});
const CONTENT_SQL: &str = "SELECT interaction_id, content_key, content_type, media_type, \
     length, sha256, blob_key, last_modified_us, duration_ms, version, owning_agent, owning_plan \
     FROM content_items WHERE interaction_id IN (SELECT value FROM json_each(?1)) \
     ORDER BY interaction_id, rowid";
const HITS_SQL: &str = "SELECT s.interaction_id, s.content_key, s.start_ms, s.end_ms, s.speaker, \
     highlight(transcript_fts, 0, char(1), char(2)) FROM transcript_fts JOIN transcript_segments s \
     ON s.id = transcript_fts.rowid WHERE transcript_fts MATCH ?1 AND s.tenant_id = ?2 \
     AND s.interaction_id IN (SELECT value FROM json_each(?3)) ORDER BY s.interaction_id, s.start_ms, s.id";

fn raw_page(c: &Connection, tenant: i64, word: &str) -> anyhow::Result<u64> {
    let fts = format!("\"{word}\"");
    let mut ids = Vec::new();
    let mut touched = 0usize;
    let mut page = c.prepare_cached(&PAGE_SQL)?;
    let mut rows = page.query(rusqlite::params![tenant, fts, i64::from(LIMIT) + 1])?;
    while let Some(r) = rows.next()? {
        ids.push(r.get::<_, i64>(0)?);
        for i in 0..18 {
            touched += r.get_ref(i)?.as_bytes().map_or(8, <[u8]>::len);
        }
    }
    ids.truncate(LIMIT as usize);
    let json = serde_json::to_string(&ids)?;
    let mut content = c.prepare_cached(CONTENT_SQL)?;
    let mut rows = content.query([&json])?;
    while let Some(r) = rows.next()? {
        touched += r.get_ref(1)?.as_bytes().map_or(0, <[u8]>::len);
    }
    let mut hits = c.prepare_cached(HITS_SQL)?;
    let mut rows = hits.query(rusqlite::params![fts, tenant, json])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        n += 1;
        touched += r.get_ref(5)?.as_bytes().map_or(0, <[u8]>::len);
    }
    ensure!(n >= ids.len() && touched > 0, "hits missing for a page");
    Ok(ids.len() as u64)
}

fn words(kind: &str, rng: &mut StdRng) -> Vec<String> {
    (0..1024)
        .map(|_| match kind {
            "rare word" => format!("ref{}", rng.gen_range(0..RARE)),
            _ => COMMON[rng.gen_range(0..COMMON.len())].to_string(),
        })
        .collect()
}

pub async fn run(
    api: &Api,
    data: &DataSet,
    build_secs: f64,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<TextResult>> {
    let mut out = Vec::new();
    for kind in ["rare word", "common word"] {
        let words = Arc::new(words(kind, rng));
        let body = api_page(api, &words[0]).await?;
        let n = serde_json::from_slice::<Value>(&body)?["items"]
            .as_array()
            .map_or(0, Vec::len);
        ensure!(n > 0, "text search found nothing for {}", words[0]);
        let api_summary = {
            let (api, words) = (api.clone(), words.clone());
            load::run(1, bounds, move |_, i| {
                let (api, words) = (api.clone(), words.clone());
                async move { Ok(api_page(&api, &words[i % words.len()]).await?.len() as u64) }
            })
            .await?
        };
        let raw_summary = raw(&data.db, data.tenant_id, words, bounds).await?;
        out.push(TextResult {
            kind,
            api: api_summary,
            raw: raw_summary,
            build_secs,
        });
    }
    Ok(out)
}

async fn api_page(api: &Api, word: &str) -> anyhow::Result<bytes::Bytes> {
    let resp = api
        .http
        .get(api.url(&format!("/transcripts/search?q={word}&limit={LIMIT}")))
        .bearer_auth(&api.token)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    ensure!(
        status.is_success(),
        "text search failed with {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(body)
}

async fn raw(
    db: &Path,
    tenant: i64,
    words: Arc<Vec<String>>,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let c = Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.pragma_update(None, "cache_size", -4096)?; // the server's value
    let c = Arc::new(std::sync::Mutex::new(c));
    load::run(1, bounds, move |_, i| {
        let (c, words) = (c.clone(), words.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let c = c.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                raw_page(&c, tenant, &words[i % words.len()])
            })
            .await
            .context("raw query thread")?
        }
    })
    .await
}
