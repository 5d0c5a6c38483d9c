//! Ingest: durable uploads of distinct 100 KB recordings through the API (interaction
//! upsert, then the content stream), against the floor of writing and fsyncing 100 KB
//! files in the same file system. The server acknowledges an upload only once it is
//! durable (file renamed into place, then it and its directory fsynced, rows committed
//! with `synchronous=FULL`), so the fsync floor bounds what any durable store could do
//! here. The device's flushes are counted beside each (where the kernel reports them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::ensure;
use chrono::{SecondsFormat, Utc};
use rand::rngs::StdRng;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::cpu::{self, Probe};
use crate::disk::{Device, Io};
use crate::load::{self, Bounds, Summary};
use crate::server::Api;
use crate::wav;

pub const FILE_LEN: usize = 100 * 1000;
pub const CLIENTS: [usize; 2] = [1, 8];

/// One concurrency level and way of sending: the API and the fsync floor.
pub struct IngestResult {
    pub clients: usize,
    /// Requests per recording: 2 (interaction, then content) or 1 (a form with both).
    pub requests: u8,
    pub api: Summary,
    pub floor: Summary,
    /// The device's writes and flushes during each, where the kernel counts them.
    pub api_io: Option<Io>,
    pub floor_io: Option<Io>,
}

impl IngestResult {
    /// API recordings/s over floor files/s (no target; the floor shows what is left).
    pub fn ratio(&self) -> f64 {
        self.api.per_sec() / self.floor.per_sec()
    }

    pub fn json(&self) -> Value {
        json!({
            "clients": self.clients,
            "requestsPerRecording": self.requests,
            "api": self.api.json(),
            "fsyncFloor": self.floor.json(),
            "ratio": self.ratio(),
            "apiDisk": self.api_io.map(|io| io.json(self.api.requests)),
            "floorDisk": self.floor_io.map(|io| io.json(self.floor.requests)),
        })
    }
}

/// The interaction of every upload: an inbound call that starts now.
fn interaction() -> Value {
    json!({
        "start": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "direction": "inbound",
        "connectFrom": "1",
        "connectTo": "2",
    })
}

/// Creates interaction `guid` and uploads `wav` as its call recording.
pub async fn put_recording(api: &Api, guid: &str, wav: Vec<u8>) -> anyhow::Result<()> {
    put_call(api, guid, "audio/wav", wav).await
}

/// Creates interaction `guid` and uploads `audio` of `media_type` as its call recording.
pub async fn put_call(
    api: &Api,
    guid: &str,
    media_type: &str,
    audio: Vec<u8>,
) -> anyhow::Result<()> {
    let url = api.url(&format!("/interaction-content/interactions/{guid}"));
    let body = interaction();
    let resp = api
        .http
        .put(&url)
        .bearer_auth(&api.token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    ensure!(
        status.is_success(),
        "interaction upsert failed with {status}: {}",
        resp.text().await?
    );
    let resp = api
        .http
        .put(format!("{url}/content/callRecording"))
        .bearer_auth(&api.token)
        .header("Content-Type", media_type)
        .body(audio)
        .send()
        .await?;
    created(resp, "content upload").await
}

/// Creates interaction `guid` with `wav` as its call recording in one request, a
/// multipart form (`PUT .../with-content/callRecording`).
pub async fn put_form(api: &Api, guid: &str, wav: Vec<u8>) -> anyhow::Result<()> {
    let url = api.url(&format!(
        "/interaction-content/interactions/{guid}/with-content/callRecording"
    ));
    let form = Form::new()
        .part(
            "interaction",
            Part::text(interaction().to_string()).mime_str("application/json")?,
        )
        .part("content", Part::bytes(wav).mime_str("audio/wav")?);
    let resp = api
        .http
        .put(&url)
        .bearer_auth(&api.token)
        .multipart(form)
        .send()
        .await?;
    created(resp, "one-request upload").await
}

/// Whether an upload answered 201; its body otherwise.
async fn created(resp: reqwest::Response, what: &str) -> anyhow::Result<()> {
    let status = resp.status();
    ensure!(
        status.as_u16() == 201,
        "{what} answered {status}: {}",
        resp.text().await?
    );
    Ok(())
}

pub async fn run(
    api: &Api,
    floor_dir: &Path,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<IngestResult>> {
    let base = Arc::new(wav::random_wav(FILE_LEN, rng));
    let pid = api.pid;
    std::fs::create_dir_all(floor_dir)?;
    // The floor's directory is beside the vault, on the same device.
    let device = Device::of(floor_dir);
    let mut out = Vec::new();
    for clients in CLIENTS {
        let mut apis = Vec::new();
        for requests in [2u8, 1] {
            let api = api.clone();
            let base = base.clone();
            let load = load::run(clients, bounds, move |_, _| {
                let api = api.clone();
                let base = base.clone();
                async move {
                    let id = uuid::Uuid::new_v4();
                    let (guid, wav) = (id.hyphenated().to_string(), distinct(&base, &id));
                    if requests == 2 {
                        put_recording(&api, &guid, wav).await?;
                    } else {
                        put_form(&api, &guid, wav).await?;
                    }
                    Ok(base.len() as u64)
                }
            });
            let before = read(&device);
            let summary = cpu::measure(Probe::Process(pid), load).await?;
            apis.push((requests, summary, since(&device, before)));
        }
        let before = read(&device);
        let floor = fsync_floor(floor_dir, clients, bounds, base.clone()).await?;
        let floor_io = since(&device, before);
        for (requests, api, api_io) in apis {
            out.push(IngestResult {
                clients,
                requests,
                api,
                floor: floor.clone(),
                api_io,
                floor_io,
            });
        }
    }
    // Only now: ext4 without a journal walks past recently deleted inodes when it
    // creates a file, so removing thousands of files between two measurements slowed
    // whichever ran next (the server's staging files, or the floor's).
    std::fs::remove_dir_all(floor_dir)?;
    Ok(out)
}

fn read(device: &Option<Device>) -> Option<Io> {
    device.as_ref()?.read()
}

/// What the device did since `before`.
fn since(device: &Option<Device>, before: Option<Io>) -> Option<Io> {
    Some(read(device)?.since(before?))
}

/// A copy of the base recording whose first samples carry `id`, so that every upload has
/// its own SHA-256 and nothing is deduplicated.
pub fn distinct(base: &[u8], id: &uuid::Uuid) -> Vec<u8> {
    let mut v = base.to_vec();
    v[44..60].copy_from_slice(id.as_bytes());
    v
}

/// Writes and fsyncs one new file per operation, from `clients` blocking threads.
async fn fsync_floor(
    dir: &Path,
    clients: usize,
    bounds: Bounds,
    base: Arc<Vec<u8>>,
) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(dir)?;
    let dir: Arc<PathBuf> = Arc::new(dir.to_path_buf());
    let summary = {
        let dir = dir.clone();
        load::run(clients, bounds, move |c, i| {
            let dir = dir.clone();
            let base = base.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut f = std::fs::File::create(dir.join(format!("{clients}-{c}-{i}")))?;
                    f.write_all(&base)?;
                    f.sync_all()?;
                    anyhow::Ok(base.len() as u64)
                })
                .await?
            }
        })
        .await?
    };
    Ok(summary)
}
