//! Download: a 10 MB recording streamed by callvault (`GET .../content/callRecording`)
//! against nginx serving the very same blob file with `sendfile`, whole and as 1 MB
//! ranges, under the same client load.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use futures::StreamExt;
use rand::rngs::StdRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cpu::{self, Probe};
use crate::load::{self, Bounds, Summary};
use crate::nginx::{Nginx, FILE_PATH};
use crate::server::Api;
use crate::wav;

pub const FILE_LEN: usize = 10 * 1024 * 1024;
const RANGE_LEN: u64 = 1024 * 1024;
pub const CLIENTS: [usize; 2] = [4, 16];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Whole,
    Range,
}

impl Mode {
    /// The target: callvault's throughput at least this fraction of nginx's (issue 13:
    /// whole files at least as fast, ranges within a tenth).
    pub fn min_ratio(self) -> f64 {
        match self {
            Mode::Whole => 1.0,
            Mode::Range => 0.9,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Whole => "whole file",
            Mode::Range => "1 MiB ranges",
        }
    }
}

/// One load shape measured on both servers.
pub struct DownloadResult {
    pub mode: Mode,
    pub clients: usize,
    pub callvault: Summary,
    pub nginx: Summary,
}

impl DownloadResult {
    /// callvault's MB/s over nginx's; the target is [`Mode::min_ratio`].
    pub fn ratio(&self) -> f64 {
        self.callvault.mb_per_sec() / self.nginx.mb_per_sec()
    }

    pub fn json(&self) -> Value {
        json!({
            "mode": self.mode.name(),
            "clients": self.clients,
            "callvault": self.callvault.json(),
            "nginx": self.nginx.json(),
            "ratio": self.ratio(),
        })
    }
}

/// One target of the download load: where to GET and with what credentials.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    cpu: Probe,
}

pub async fn run(
    api: &Api,
    data_dir: &Path,
    tenant_id: i64,
    nginx_bin: &Path,
    nginx_prefix: &Path,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<DownloadResult>> {
    let guid = uuid::Uuid::new_v4().hyphenated().to_string();
    let wav = wav::random_wav(FILE_LEN, rng);
    let sha = hex::encode(Sha256::digest(&wav));
    crate::ingest::put_recording(api, &guid, wav).await?;
    let blob = data_dir
        .join("content/blobs")
        .join(format!("t{tenant_id}"))
        .join(&sha[..2])
        .join(&sha);
    ensure!(
        blob.is_file(),
        "the uploaded blob is not at {}",
        blob.display()
    );

    let nginx = Nginx::start(nginx_bin, nginx_prefix, &blob).await?;
    let peer = Target {
        http: api.http.clone(),
        url: format!("{}{FILE_PATH}", nginx.base),
        token: None,
        cpu: Probe::Tree(nginx.pid),
    };
    let warm = Bounds {
        duration: Duration::from_secs(1),
        per_client: 20,
    };
    let mut out = Vec::new();
    let measured = async {
        for mode in [Mode::Whole, Mode::Range] {
            for clients in CLIENTS {
                api_load(api, &guid, mode, clients, warm).await?;
                let cv = api_load(api, &guid, mode, clients, bounds).await?;
                load_target(&peer, mode, clients, warm).await?;
                let ng = load_target(&peer, mode, clients, bounds).await?;
                out.push(DownloadResult {
                    mode,
                    clients,
                    callvault: cv,
                    nginx: ng,
                });
            }
        }
        anyhow::Ok(())
    }
    .await;
    nginx.stop().await?;
    measured?;
    Ok(out)
}

/// The download load of `mode` against callvault alone, on a recording already stored
/// under `guid` (the audit phase compares two servers this way).
pub async fn api_load(
    api: &Api,
    guid: &str,
    mode: Mode,
    clients: usize,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let target = Target {
        http: api.http.clone(),
        url: api.url(&format!(
            "/interaction-content/interactions/{guid}/content/callRecording"
        )),
        token: Some(api.token.clone()),
        cpu: Probe::Process(api.pid),
    };
    load_target(&target, mode, clients, bounds).await
}

async fn load_target(
    target: &Target,
    mode: Mode,
    clients: usize,
    bounds: Bounds,
) -> anyhow::Result<Summary> {
    let probe = target.cpu;
    let target = Arc::new(target.clone());
    let load = load::run(clients, bounds, move |c, i| {
        let target = target.clone();
        async move { fetch(&target, mode, c, i).await }
    });
    cpu::measure(probe, load).await
}

/// One GET, streamed to the end and counted (never buffered whole); answers the bytes.
async fn fetch(target: &Target, mode: Mode, client: usize, i: usize) -> anyhow::Result<u64> {
    let mut req = target.http.get(&target.url);
    if let Some(t) = &target.token {
        req = req.bearer_auth(t);
    }
    let expected = match mode {
        Mode::Whole => FILE_LEN as u64,
        Mode::Range => {
            let a = range_start(client, i);
            req = req.header("Range", format!("bytes={a}-{}", a + RANGE_LEN - 1));
            RANGE_LEN
        }
    };
    let resp = req.send().await?;
    let want = if mode == Mode::Range { 206 } else { 200 };
    ensure!(
        resp.status().as_u16() == want,
        "{} answered {} instead of {want}",
        target.url,
        resp.status()
    );
    let mut body = resp.bytes_stream();
    let mut got = 0u64;
    while let Some(chunk) = body.next().await {
        got += chunk.context("reading the download")?.len() as u64;
    }
    ensure!(
        got == expected,
        "{} sent {got} bytes, not {expected}",
        target.url
    );
    Ok(got)
}

/// A spread of range starts that both servers get in the same order.
fn range_start(client: usize, i: usize) -> u64 {
    let slots = FILE_LEN as u64 - RANGE_LEN;
    (client as u64 * 7_919 + i as u64 * 104_729).wrapping_mul(2_654_435_761) % slots
}
