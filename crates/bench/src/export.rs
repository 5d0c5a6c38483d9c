//! Export to S3: a batch job of the Interaction Content Export API, which copies N
//! distinct 10 MB recordings from the vault (embedded backend: SQLite + local files) to a
//! bucket of an S3-compatible server, against `rclone copy` of the very same files from a
//! local directory to another bucket of the same server.
//!
//! Both sides read their source from the page cache (the files were just written) and
//! send to the same moto server on loopback, so the ratio compares the two transfer
//! engines: callvault's runner (8 items in flight, one PUT per item, plus a small metadata
//! JSON per item) against rclone with its defaults (4 transfers, one PUT per file below
//! its 200 MiB multipart cutoff, an MD5 of each file). Rounds alternate which side goes
//! first; each round uses fresh buckets, purged afterwards (moto keeps objects in RAM).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::rss::{mib, Memory};
use crate::server::{admin, Api, Server};
use crate::wav;

/// The export's tenant, apart from every other phase's data.
pub const TENANT: &str = "export";
/// Decimal 10 MB: 200 recordings make 2 GB.
pub const FILE_LEN: usize = 10_000_000;
pub const ROUNDS: usize = 3;
/// Target: callvault's MB/s at least this multiple of rclone's.
pub const MIN_RATIO: f64 = 1.0;
/// rclone's remote name in the generated config file.
const REMOTE: &str = "cvbench";
const INGEST_CLIENTS: usize = 4;
const POLL: Duration = Duration::from_millis(100);
const RSS_EVERY: Duration = Duration::from_millis(50);
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(1800);

pub struct Config {
    /// Recording bytes to export (rounded up to whole recordings).
    pub bytes: u64,
    pub rclone: PathBuf,
    /// The S3-compatible server, e.g. http://127.0.0.1:9123.
    pub endpoint: String,
}

/// One timed transfer of every recording.
#[derive(Debug, Clone)]
pub struct Run {
    pub secs: f64,
    /// CPU seconds of the sender: the server process, or the rclone child.
    pub cpu_secs: f64,
}

pub struct ExportResult {
    pub recordings: usize,
    pub payload_bytes: u64,
    pub ingest_secs: f64,
    pub callvault: Vec<Run>,
    pub rclone: Vec<Run>,
    pub rss_before_kb: u64,
    /// Largest `VmRSS` sampled every 50 ms during the exports.
    pub sampled_peak_kb: u64,
    /// `VmHWM` after the rounds, reset before the first; `None` if the reset failed.
    pub hwm_kb: Option<u64>,
    pub rclone_version: String,
    pub rclone_command: String,
    /// Objects and bytes in the last round's buckets, as `rclone size` counted them.
    pub callvault_objects: (u64, u64),
    pub rclone_objects: (u64, u64),
}

fn median(runs: &[Run]) -> &Run {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    sorted[sorted.len() / 2]
}

impl ExportResult {
    pub fn mb_per_sec(&self, runs: &[Run]) -> f64 {
        self.payload_bytes as f64 / 1e6 / median(runs).secs
    }

    pub fn cpu_secs_per_gb(&self, runs: &[Run]) -> f64 {
        median(runs).cpu_secs / (self.payload_bytes as f64 / 1e9)
    }

    /// callvault's MB/s over rclone's.
    pub fn ratio(&self) -> f64 {
        self.mb_per_sec(&self.callvault) / self.mb_per_sec(&self.rclone)
    }

    pub fn peak_kb(&self) -> u64 {
        self.sampled_peak_kb.max(self.hwm_kb.unwrap_or(0))
    }

    pub fn json(&self) -> Value {
        let runs = |runs: &[Run]| {
            runs.iter()
                .map(|r| json!({ "secs": r.secs, "cpuSecs": r.cpu_secs }))
                .collect::<Vec<_>>()
        };
        json!({
            "recordings": self.recordings,
            "payloadBytes": self.payload_bytes,
            "ingestSecs": self.ingest_secs,
            "callvault": { "runs": runs(&self.callvault), "mbPerSec": self.mb_per_sec(&self.callvault),
                           "cpuSecsPerGb": self.cpu_secs_per_gb(&self.callvault),
                           "objects": self.callvault_objects.0, "objectBytes": self.callvault_objects.1 },
            "rclone": { "runs": runs(&self.rclone), "mbPerSec": self.mb_per_sec(&self.rclone),
                        "cpuSecsPerGb": self.cpu_secs_per_gb(&self.rclone),
                        "objects": self.rclone_objects.0, "objectBytes": self.rclone_objects.1,
                        "version": self.rclone_version, "command": self.rclone_command },
            "ratio": self.ratio(),
            "minRatio": MIN_RATIO,
            "rssBeforeMiB": mib(self.rss_before_kb),
            "peakRssMiB": mib(self.peak_kb()),
            "sampledPeakRssMiB": mib(self.sampled_peak_kb),
            "hwmMiB": self.hwm_kb.map(mib),
        })
    }

    pub fn markdown(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            s,
            "Export to S3 (moto): {} distinct {} MB recordings ({:.2} GB), median of {} rounds:\n",
            self.recordings,
            FILE_LEN / 1_000_000,
            self.payload_bytes as f64 / 1e9,
            self.callvault.len()
        );
        let _ = writeln!(
            s,
            "| sender | wall s | MB/s | CPU s/GB | callvault/rclone | target ≥ {MIN_RATIO} |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
        let ratio = self.ratio();
        let _ = writeln!(
            s,
            "| callvault batch export job (schedule → Completed) | {:.2} | {:.0} | {:.2} | {ratio:.2} | {} |",
            median(&self.callvault).secs,
            self.mb_per_sec(&self.callvault),
            self.cpu_secs_per_gb(&self.callvault),
            if ratio >= MIN_RATIO { "met" } else { "**missed**" }
        );
        let _ = writeln!(
            s,
            "| `{}` ({}) | {:.2} | {:.0} | {:.2} | - |  |",
            self.rclone_command,
            self.rclone_version,
            median(&self.rclone).secs,
            self.mb_per_sec(&self.rclone),
            self.cpu_secs_per_gb(&self.rclone)
        );
        let peak = mib(self.peak_kb());
        let before = mib(self.rss_before_kb);
        let _ = writeln!(
            s,
            "\nServer RSS during the exports: {before:.1} MiB before, peak {peak:.1} MiB (+{:.1}; sampled every 50 ms: {:.1}; VmHWM since reset: {}). Buckets after the last round: callvault {} objects / {:.1} MB (recordings + metadata JSON), rclone {} objects / {:.1} MB.\n",
            peak - before,
            mib(self.sampled_peak_kb),
            self.hwm_kb.map_or_else(|| "-".into(), |k| format!("{:.1}", mib(k))),
            self.callvault_objects.0,
            self.callvault_objects.1 as f64 / 1e6,
            self.rclone_objects.0,
            self.rclone_objects.1 as f64 / 1e6,
        );
    }
}

pub async fn run(
    bin: &Path,
    data_dir: &Path,
    server: &Server,
    work: &Path,
    cfg: &Config,
    rng: &mut StdRng,
) -> anyhow::Result<ExportResult> {
    let rclone_version = rclone_version(&cfg.rclone).await?;
    admin(bin, data_dir, &["tenant", "create", TENANT]).await?;
    let api = Api::connect(bin, data_dir, server, TENANT).await?;
    let files = work.join("export-files");
    std::fs::create_dir_all(&files)?;
    let conf = work.join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[{REMOTE}]\ntype = s3\nprovider = Other\nendpoint = {}\nregion = us-east-1\n\
             access_key_id = test\nsecret_access_key = test\n",
            cfg.endpoint
        ),
    )?;

    let recordings = cfg.bytes.div_ceil(FILE_LEN as u64).max(1) as usize;
    let payload_bytes = (recordings * FILE_LEN) as u64;
    // Interactions two days ago: batch exports cover starts at least 12 hours old.
    let first_start = Utc::now() - chrono::Duration::days(2);
    eprintln!(
        "  uploading {recordings} recordings of {FILE_LEN} bytes (and writing them to {}) ...",
        files.display()
    );
    let started = Instant::now();
    ingest(&api, &files, recordings, first_start, rng).await?;
    let ingest_secs = started.elapsed().as_secs_f64();
    eprintln!("  uploaded in {ingest_secs:.1} s");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let pid = server.pid;
    let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let rss_before_kb = Memory::of(pid)?.rss_kb;
    let window = (
        first_start - chrono::Duration::hours(1),
        first_start + chrono::Duration::seconds(recordings as i64) + chrono::Duration::hours(1),
    );
    let rclone_command = format!("rclone copy --config rclone.conf DIR {REMOTE}:BUCKET");
    let (mut callvault, mut rclone, mut sampled_peak_kb) = (Vec::new(), Vec::new(), 0);
    let mut objects = ((0, 0), (0, 0));
    let tag: u32 = rng.gen();
    for round in 1..=ROUNDS {
        let (a, b) = (
            format!("cvbench-cv-{tag:08x}-{round}"),
            format!("cvbench-rc-{tag:08x}-{round}"),
        );
        for bucket in [&a, &b] {
            let r = http
                .put(format!("{}/{bucket}", cfg.endpoint))
                .send()
                .await?;
            ensure!(
                r.status().is_success(),
                "creating bucket {bucket}: {}",
                r.status()
            );
        }
        // Alternate which side goes first, so that neither always meets a fresher moto.
        let callvault_first = round % 2 == 1;
        let rclone_dest = format!("{REMOTE}:{b}");
        let mut rc = None;
        if !callvault_first {
            rc = Some(rclone_copy(&cfg.rclone, &conf, &files, &rclone_dest).await?);
        }
        let (cv, peak) = export_once(
            &http,
            &api,
            &cfg.endpoint,
            &a,
            window,
            recordings,
            payload_bytes,
        )
        .await?;
        sampled_peak_kb = sampled_peak_kb.max(peak);
        let rc = match rc {
            Some(rc) => rc,
            None => rclone_copy(&cfg.rclone, &conf, &files, &rclone_dest).await?,
        };
        eprintln!(
            "  round {round}: callvault {:.2} s, rclone {:.2} s",
            cv.secs, rc.secs
        );
        objects = (
            rclone_size(&cfg.rclone, &conf, &format!("{REMOTE}:{a}")).await?,
            rclone_size(&cfg.rclone, &conf, &format!("{REMOTE}:{b}")).await?,
        );
        ensure!(
            objects.1 == (recordings as u64, payload_bytes),
            "rclone's bucket holds {:?}, not {recordings} files of {payload_bytes} bytes",
            objects.1
        );
        ensure!(
            objects.0 .0 == 2 * recordings as u64 && objects.0 .1 > payload_bytes,
            "callvault's bucket holds {:?}, not {recordings} recordings and their metadata",
            objects.0
        );
        for bucket in [&a, &b] {
            rclone_cmd(
                &cfg.rclone,
                &conf,
                &["purge", &format!("{REMOTE}:{bucket}")],
            )
            .await?;
        }
        callvault.push(cv);
        rclone.push(rc);
    }
    let hwm_kb = hwm_reset
        .then(|| Memory::of(pid))
        .transpose()?
        .map(|m| m.hwm_kb);
    std::fs::remove_dir_all(&files)?;
    Ok(ExportResult {
        recordings,
        payload_bytes,
        ingest_secs,
        callvault,
        rclone,
        rss_before_kb,
        sampled_peak_kb,
        hwm_kb,
        rclone_version,
        rclone_command,
        callvault_objects: objects.0,
        rclone_objects: objects.1,
    })
}

/// Uploads `n` distinct recordings (one second apart from `first`) and writes each to
/// `dir/{guid}.wav` as well.
async fn ingest(
    api: &Api,
    dir: &Path,
    n: usize,
    first: DateTime<Utc>,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let base = Arc::new(wav::random_wav(FILE_LEN, rng));
    let ids: Vec<uuid::Uuid> = (0..n)
        .map(|_| uuid::Builder::from_random_bytes(rng.gen()).into_uuid())
        .collect();
    let mut uploads = futures::stream::iter(ids.into_iter().enumerate())
        .map(|(k, id)| {
            let base = base.clone();
            async move {
                let guid = id.hyphenated().to_string();
                // The id over the first samples: its own SHA-256, header intact.
                let mut wav = base.to_vec();
                wav[44..60].copy_from_slice(id.as_bytes());
                tokio::fs::write(dir.join(format!("{guid}.wav")), &wav).await?;
                let start = first + chrono::Duration::seconds(k as i64);
                put_recording(api, &guid, start, wav).await
            }
        })
        .buffer_unordered(INGEST_CLIENTS);
    while let Some(done) = uploads.next().await {
        done?;
    }
    Ok(())
}

async fn put_recording(
    api: &Api,
    guid: &str,
    start: DateTime<Utc>,
    wav: Vec<u8>,
) -> anyhow::Result<()> {
    let url = api.url(&format!("/interaction-content/interactions/{guid}"));
    let body = json!({
        "start": start.to_rfc3339_opts(SecondsFormat::Secs, true),
        "direction": "inbound",
        "connectFrom": "1",
        "connectTo": "2",
    });
    let r = api
        .http
        .put(&url)
        .bearer_auth(&api.token)
        .json(&body)
        .send()
        .await?;
    ensure!(
        r.status().is_success(),
        "interaction upsert: {}: {}",
        r.status(),
        r.text().await?
    );
    let r = api
        .http
        .put(format!("{url}/content/callRecording"))
        .bearer_auth(&api.token)
        .header("Content-Type", "audio/wav")
        .body(wav)
        .send()
        .await?;
    ensure!(
        r.status().as_u16() == 201,
        "content upload: {}: {}",
        r.status(),
        r.text().await?
    );
    Ok(())
}

/// POSTs `body` to the Export API and answers the JSON with the expected status.
async fn post(
    api: &Api,
    http: &reqwest::Client,
    path: &str,
    body: Value,
    want: u16,
) -> anyhow::Result<Value> {
    let r = http
        .post(api.url(path))
        .bearer_auth(&api.token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    ensure!(
        status.as_u16() == want,
        "POST {path} answered {status}: {text}"
    );
    Ok(serde_json::from_str(&text)?)
}

/// One batch export of every recording to `bucket`: from scheduling the job to reading
/// `Completed` (polled every 100 ms); answers the run and the RSS peak sampled meanwhile.
async fn export_once(
    http: &reqwest::Client,
    api: &Api,
    endpoint: &str,
    bucket: &str,
    window: (DateTime<Utc>, DateTime<Utc>),
    recordings: usize,
    payload: u64,
) -> anyhow::Result<(Run, u64)> {
    let storage = post(
        api,
        http,
        "/interaction-content-export/external-storage",
        json!({
            "name": bucket,
            "storageProvider": "s3",
            "configuration": { "bucket": bucket, "endpoint": endpoint, "region": "us-east-1" },
            "credentials": { "accessKeyId": "test", "secretAccessKey": "test" },
        }),
        201,
    )
    .await?;
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let body = json!({
        "startDate": iso(window.0),
        "endDate": iso(window.1),
        "filters": { "contentTypes": [], "initialDirection": [] },
        "externalStorageId": storage["id"],
    });
    let pid = api.pid;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            loop {
                if let Ok(m) = Memory::of(pid) {
                    peak = peak.max(m.rss_kb);
                }
                if stop.load(Ordering::Relaxed) {
                    return peak;
                }
                tokio::time::sleep(RSS_EVERY).await;
            }
        })
    };
    let cpu_before = proc_cpu_secs(&pid.to_string(), 14)?;
    let started = Instant::now();
    let job = post(
        api,
        http,
        "/interaction-content-export/interactions/jobs/schedule-batch-export",
        body,
        200,
    )
    .await?;
    let id = job["jobId"].as_str().context("no jobId")?.to_string();
    let job = loop {
        ensure!(
            started.elapsed() < TRANSFER_TIMEOUT,
            "the export job did not complete in time"
        );
        tokio::time::sleep(POLL).await;
        let r = http
            .get(api.url(&format!(
                "/interaction-content-export/interactions/jobs/{id}"
            )))
            .bearer_auth(&api.token)
            .send()
            .await?;
        ensure!(r.status().is_success(), "job status: {}", r.status());
        let job: Value = r.json().await?;
        match job["status"].as_str() {
            Some("Completed") => break job,
            Some("Scheduled" | "Running")
                if job["consecutiveFailures"].as_u64().unwrap_or(0) == 0 => {}
            _ => bail!("the export job failed: {job}"),
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = proc_cpu_secs(&pid.to_string(), 14)? - cpu_before;
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    ensure!(
        job["itemsExported"].as_u64() == Some(recordings as u64)
            && job["bytesExported"].as_u64() == Some(payload),
        "the job exported {} items / {} bytes, not {recordings} / {payload}",
        job["itemsExported"],
        job["bytesExported"]
    );
    Ok((Run { secs, cpu_secs }, peak))
}

/// rclone with the generated config. `AWS_CA_BUNDLE` is dropped: with it set, rclone
/// 1.60's S3 client fails before any request ("LoadCustomCABundleError"); the endpoint is
/// plain HTTP on loopback anyway.
fn rclone_with(rclone: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new(rclone);
    cmd.env_remove("AWS_CA_BUNDLE")
        .arg("--config")
        .arg(conf)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// `rclone copy` of the directory with rclone's defaults; CPU is the reaped child's.
async fn rclone_copy(rclone: &Path, conf: &Path, dir: &Path, dest: &str) -> anyhow::Result<Run> {
    let before = proc_cpu_secs("self", 16)?;
    let started = Instant::now();
    let mut child = rclone_with(rclone, conf)
        .arg("copy")
        .arg(dir)
        .arg(dest)
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", rclone.display()))?;
    let status = tokio::time::timeout(TRANSFER_TIMEOUT, child.wait())
        .await
        .context("rclone did not finish in time")??;
    let secs = started.elapsed().as_secs_f64();
    ensure!(status.success(), "rclone copy failed: {status}");
    let cpu_secs = proc_cpu_secs("self", 16)? - before;
    Ok(Run { secs, cpu_secs })
}

async fn rclone_cmd(rclone: &Path, conf: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = rclone_with(rclone, conf)
        .args(args)
        .output()
        .await
        .with_context(|| format!("running {} (apt-get install rclone)", rclone.display()))?;
    ensure!(
        out.status.success(),
        "rclone {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Objects and bytes under a remote path.
async fn rclone_size(rclone: &Path, conf: &Path, remote: &str) -> anyhow::Result<(u64, u64)> {
    let v: Value =
        serde_json::from_str(&rclone_cmd(rclone, conf, &["size", "--json", remote]).await?)?;
    Ok((
        v["count"].as_u64().unwrap_or(0),
        v["bytes"].as_u64().unwrap_or(0),
    ))
}

async fn rclone_version(rclone: &Path) -> anyhow::Result<String> {
    let v = rclone_cmd(rclone, Path::new("/dev/null"), &["version"]).await?;
    Ok(v.lines().next().unwrap_or("rclone").trim().to_string())
}

/// CPU seconds from `/proc/{who}/stat`: fields `first` and `first + 1` (14/15: the
/// process's own user and system time; 16/17: those of its reaped children).
fn proc_cpu_secs(who: &str, first: usize) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(format!("/proc/{who}/stat"))?;
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no field {n} in /proc/{who}/stat"))
    };
    // USER_HZ is 100 on x86-64 and arm64 Linux.
    Ok((field(first)? + field(first + 1)?) as f64 / 100.0)
}
