//! Bulk download: a Call Recording API export job of N distinct 10 MiB recordings,
//! downloaded whole as the ZIP the server writes while it sends it, against Info-ZIP's
//! `zip -0` storing the very same blob files on the same machine, once into a file on the
//! same disk and once to stdout redirected to `/dev/null` (the fairer streaming peer).
//!
//! The recordings go to their own tenant, so that the export holds exactly them and none
//! of the search data set. They are uploaded through the ingest API (each a copy of one
//! random WAV with its own id in the first samples, so nothing is deduplicated); the
//! export is requested by an account admin signed in with the password grant at `/token`,
//! as a Call Recording client would. The blobs were just written, so every side reads them
//! from the page cache.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use futures::StreamExt;
use rand::rngs::StdRng;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::rss::{mib, Memory};
use crate::server::{admin, create_admin_user, Api, Server};
use crate::wav;

/// The export's tenant, apart from the search data set's.
pub const TENANT: &str = "bulk";
pub const FILE_LEN: usize = 10 * 1024 * 1024;
/// Measured rounds; each side's median round is reported.
pub const ROUNDS: usize = 3;
/// Target: callvault's MB/s at least this multiple of `zip -0`'s.
pub const MIN_RATIO: f64 = 1.0;
/// Target: the server's peak resident set during the download below this.
pub const MAX_PEAK_MIB: f64 = 100.0;

const LOGIN: &str = "boss";
const PASSWORD: &str = "boss-password";
const INGEST_CLIENTS: usize = 4;
const RSS_EVERY: Duration = Duration::from_millis(50);
/// Bytes of the end of the ZIP kept to read its central directory (~120 bytes an entry).
const TAIL: usize = 4 * 1024 * 1024;
const INGEST_TIMEOUT: Duration = Duration::from_secs(1800);
const JOB_TIMEOUT: Duration = Duration::from_secs(600);
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(900);
const API_PREFIX: &str = "/call_recording/v1/api";

pub struct Config {
    /// Recording bytes to export (rounded up to whole recordings).
    pub bytes: u64,
    /// The `zip` binary.
    pub zip: PathBuf,
}

/// One timed production of a whole archive.
#[derive(Debug, Clone)]
pub struct Run {
    /// Archive bytes, when they can be counted (not for `zip` to `/dev/null`).
    pub archive_bytes: Option<u64>,
    pub secs: f64,
    /// CPU seconds of the producer: the server process, or the `zip` child.
    pub cpu_secs: f64,
    /// CPU seconds of the bench process itself (the HTTP client), for callvault.
    pub client_cpu_secs: Option<f64>,
    /// Largest `VmRSS` sampled every 50 ms during the download, for callvault.
    pub sampled_peak_kb: Option<u64>,
}

impl Run {
    fn json(&self, payload: u64) -> Value {
        json!({
            "archiveBytes": self.archive_bytes,
            "secs": self.secs,
            "mbPerSec": payload as f64 / 1e6 / self.secs,
            "cpuSecs": self.cpu_secs,
            "cpuSecsPerGb": self.cpu_secs / (payload as f64 / 1e9),
            "clientCpuSecs": self.client_cpu_secs,
            "sampledPeakRssMiB": self.sampled_peak_kb.map(mib),
        })
    }
}

/// What the callvault ZIP's central directory says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipCheck {
    pub entries: u64,
    pub wav_entries: u64,
    pub wav_bytes: u64,
    pub zip64: bool,
}

pub struct BulkResult {
    pub recordings: usize,
    /// Bytes of recordings in every archive (the MB/s numerator of every side).
    pub payload_bytes: u64,
    pub ingest_secs: f64,
    /// From creating the export job to reading `"status":"complete"`.
    pub job_secs: f64,
    pub check: ZipCheck,
    pub callvault: Vec<Run>,
    pub zip_file: Vec<Run>,
    pub zip_stdout: Vec<Run>,
    /// The same files read once with `read()` into a 1 MiB buffer by one thread of the
    /// bench: the copy out of the page cache that any user-space streamer pays, with no
    /// CRC, no ZIP and no socket.
    pub read_floor: Vec<Run>,
    pub rss_before_kb: u64,
    /// `VmHWM` after the downloads, reset just before them; `None` if the reset failed
    /// (then only the sampled peak is known).
    pub hwm_kb: Option<u64>,
    pub zip_version: String,
}

/// The round with the median time.
fn median(runs: &[Run]) -> &Run {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    sorted[sorted.len() / 2]
}

impl BulkResult {
    pub fn mb_per_sec(&self, runs: &[Run]) -> f64 {
        self.payload_bytes as f64 / 1e6 / median(runs).secs
    }

    pub fn cpu_secs_per_gb(&self, runs: &[Run]) -> f64 {
        median(runs).cpu_secs / (self.payload_bytes as f64 / 1e9)
    }

    pub fn median<'a>(&self, runs: &'a [Run]) -> &'a Run {
        median(runs)
    }

    /// callvault's MB/s over a peer's.
    pub fn ratio(&self, peer: &[Run]) -> f64 {
        self.mb_per_sec(&self.callvault) / self.mb_per_sec(peer)
    }

    /// The server's peak RSS during the downloads: the larger of the sampled peak and
    /// `VmHWM` since the reset.
    pub fn peak_kb(&self) -> u64 {
        self.sampled_peak_kb().max(self.hwm_kb.unwrap_or(0))
    }

    pub fn sampled_peak_kb(&self) -> u64 {
        self.callvault
            .iter()
            .filter_map(|r| r.sampled_peak_kb)
            .max()
            .unwrap_or(0)
    }

    pub fn json(&self) -> Value {
        let runs = |v: &[Run]| {
            v.iter()
                .map(|r| r.json(self.payload_bytes))
                .collect::<Vec<_>>()
        };
        json!({
            "recordings": self.recordings,
            "recordingBytes": FILE_LEN,
            "payloadBytes": self.payload_bytes,
            "ingestSecs": self.ingest_secs,
            "jobSecs": self.job_secs,
            "zipEntries": self.check.entries,
            "zip64": self.check.zip64,
            "zipVersion": self.zip_version,
            "callvault": {
                "mbPerSec": self.mb_per_sec(&self.callvault),
                "cpuSecsPerGb": self.cpu_secs_per_gb(&self.callvault),
                "runs": runs(&self.callvault),
            },
            "zipToFile": {
                "mbPerSec": self.mb_per_sec(&self.zip_file),
                "cpuSecsPerGb": self.cpu_secs_per_gb(&self.zip_file),
                "ratio": self.ratio(&self.zip_file),
                "runs": runs(&self.zip_file),
            },
            "zipToStdout": {
                "mbPerSec": self.mb_per_sec(&self.zip_stdout),
                "cpuSecsPerGb": self.cpu_secs_per_gb(&self.zip_stdout),
                "ratio": self.ratio(&self.zip_stdout),
                "runs": runs(&self.zip_stdout),
            },
            "readFloor": {
                "mbPerSec": self.mb_per_sec(&self.read_floor),
                "cpuSecsPerGb": self.cpu_secs_per_gb(&self.read_floor),
                "ratio": self.ratio(&self.read_floor),
                "runs": runs(&self.read_floor),
            },
            "serverRssBeforeMiB": mib(self.rss_before_kb),
            "serverSampledPeakRssMiB": mib(self.sampled_peak_kb()),
            "serverHwmMiB": self.hwm_kb.map(mib),
            "serverPeakRssMiB": mib(self.peak_kb()),
        })
    }
}

pub async fn run(
    bin: &Path,
    data_dir: &Path,
    server: &Server,
    work: &Path,
    cfg: &Config,
    rng: &mut StdRng,
) -> anyhow::Result<BulkResult> {
    let zip_version = zip_version(&cfg.zip).await?;
    let tenant = admin(bin, data_dir, &["tenant", "create", TENANT]).await?;
    let tenant_id = tenant["id"]
        .as_i64()
        .context("tenant create printed no id")?;
    let ingest_api = Api::connect(bin, data_dir, server, TENANT).await?;
    let token = sign_in(bin, data_dir, &ingest_api).await?;

    let recordings = cfg.bytes.div_ceil(FILE_LEN as u64).max(1) as usize;
    let payload_bytes = (recordings * FILE_LEN) as u64;
    eprintln!(
        "  uploading {recordings} recordings of {} MiB ...",
        FILE_LEN >> 20
    );
    let started = Instant::now();
    tokio::time::timeout(INGEST_TIMEOUT, ingest(&ingest_api, recordings, rng))
        .await
        .context("the bulk ingest did not finish in time")??;
    let ingest_secs = started.elapsed().as_secs_f64();
    eprintln!("  uploaded in {ingest_secs:.1} s");
    let blobs_root = data_dir.join("content/blobs").join(format!("t{tenant_id}"));
    let blobs = blob_files(&blobs_root)?;
    ensure!(
        blobs.len() == recordings,
        "{} blob files under {}, not {recordings}",
        blobs.len(),
        blobs_root.display()
    );

    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let started = Instant::now();
    let download_url = export(&http, &ingest_api.base, &token, recordings).await?;
    let job_secs = started.elapsed().as_secs_f64();
    eprintln!("  export job complete in {job_secs:.1} s");

    let pid = server.pid;
    // Linux resets VmHWM to the current RSS when 5 is written to clear_refs (since 4.0).
    let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let rss_before_kb = Memory::of(pid)?.rss_kb;
    let out_zip = work.join("bulk-peer.zip");
    let (mut callvault, mut zip_file, mut zip_stdout, mut read_floor) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut check = None;
    for round in 1..=ROUNDS {
        let (run, c) = download(&http, &download_url, &token, pid).await?;
        ensure!(
            c.wav_entries == recordings as u64 && c.wav_bytes == payload_bytes,
            "the ZIP holds {} recordings of {} bytes, not {recordings} of {payload_bytes}",
            c.wav_entries,
            c.wav_bytes
        );
        ensure!(
            check.is_none_or(|p| p == c),
            "the ZIP changed between downloads"
        );
        check = Some(c);
        let stdout = peer_run(&cfg.zip, &blobs_root, &blobs, Peer::ZipStdout).await?;
        let read = read_all(&blobs_root, &blobs).await?;
        // Last: it leaves 2 GB of dirty pages for the kernel to write back.
        let file = peer_run(&cfg.zip, &blobs_root, &blobs, Peer::ZipFile(&out_zip)).await?;
        eprintln!(
            "  round {round}: callvault {:.2} s, zip to stdout {:.2} s, read floor {:.2} s, zip to a file {:.2} s",
            run.secs, stdout.secs, read.secs, file.secs
        );
        callvault.push(run);
        zip_stdout.push(stdout);
        read_floor.push(read);
        zip_file.push(file);
    }
    let hwm_kb = hwm_reset
        .then(|| Memory::of(pid))
        .transpose()?
        .map(|m| m.hwm_kb);
    Ok(BulkResult {
        recordings,
        payload_bytes,
        ingest_secs,
        job_secs,
        check: check.context("no round ran")?,
        callvault,
        zip_file,
        zip_stdout,
        read_floor,
        rss_before_kb,
        hwm_kb,
        zip_version,
    })
}

/// Creates the account admin and signs in with the password grant at `/token`, through a
/// client of its own with read scope only.
async fn sign_in(bin: &Path, data_dir: &Path, api: &Api) -> anyhow::Result<String> {
    create_admin_user(bin, data_dir, TENANT, LOGIN, PASSWORD).await?;
    let creds = admin(
        bin,
        data_dir,
        &[
            "client",
            "create",
            "--tenant",
            TENANT,
            "--scopes",
            "interaction-content:read",
            "--name",
            "bulk-download",
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
    let resp = api
        .http
        .post(api.url("/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", LOGIN),
            ("password", PASSWORD),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await?;
    let status = resp.status();
    ensure!(
        status.is_success(),
        "password grant answered {status}: {}",
        resp.text().await?
    );
    let body: Value = resp.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .context("no access_token in the password grant's response")
}

/// Uploads `n` distinct recordings from a few concurrent clients.
async fn ingest(api: &Api, n: usize, rng: &mut StdRng) -> anyhow::Result<()> {
    let base = Arc::new(wav::random_wav(FILE_LEN, rng));
    let mut uploads = futures::stream::iter(0..n)
        .map(|_| {
            let base = base.clone();
            async move {
                let id = uuid::Uuid::new_v4();
                // Copying 10 MiB and stamping the id keeps each file distinct (its own
                // SHA-256, no deduplication) at memcpy speed, header intact.
                let mut wav = base.to_vec();
                wav[44..60].copy_from_slice(id.as_bytes());
                crate::ingest::put_recording(api, &id.hyphenated().to_string(), wav).await
            }
        })
        .buffer_unordered(INGEST_CLIENTS);
    while let Some(done) = uploads.next().await {
        done?;
    }
    Ok(())
}

/// The tenant's blob files, relative to `root` (`ab/abcdef...`), sorted.
fn blob_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).with_context(|| format!("listing {}", root.display()))? {
        let dir = dir?;
        if !dir.file_type()?.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir.path())? {
            let f = f?;
            if f.file_type()?.is_file() {
                ensure!(
                    f.metadata()?.len() == FILE_LEN as u64,
                    "{} is not {FILE_LEN} bytes",
                    f.path().display()
                );
                out.push(PathBuf::from(dir.file_name()).join(f.file_name()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Creates the company export job, waits for it to complete, and answers its download URL.
async fn export(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    recordings: usize,
) -> anyhow::Result<String> {
    let resp = http
        .post(format!(
            "{base}{API_PREFIX}/accounts/self/company_call_recordings/export"
        ))
        .bearer_auth(token)
        .json(&json!({}))
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let status = resp.status();
    ensure!(
        status.as_u16() == 202,
        "creating the export answered {status}: {}",
        resp.text().await?
    );
    let job: Value = resp.json().await?;
    let href = job["_links"]["self"]["href"]
        .as_str()
        .context("the export job has no self link")?
        .to_string();
    let deadline = Instant::now() + JOB_TIMEOUT;
    let mut job = job;
    loop {
        match job["status"].as_str() {
            Some("complete") => break,
            Some("pending" | "in_progress") => {}
            other => bail!("the export job is {other:?}: {job}"),
        }
        ensure!(
            Instant::now() < deadline,
            "the export job did not complete within {} s: {job}",
            JOB_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let resp = http
            .get(&href)
            .bearer_auth(token)
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        let status = resp.status();
        ensure!(
            status.is_success(),
            "{href} answered {status}: {}",
            resp.text().await?
        );
        job = resp.json().await?;
    }
    ensure!(
        job["files_total"].as_u64() == Some(recordings as u64),
        "the export job covers {} files, not {recordings}: {job}",
        job["files_total"]
    );
    job["download_url"]
        .as_str()
        .map(str::to_string)
        .context("the export job has no download_url")
}

/// One whole download of the export, bytes counted and dropped (only the last few MiB are
/// kept, to read the central directory), with the server's RSS sampled meanwhile.
async fn download(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    pid: u32,
) -> anyhow::Result<(Run, ZipCheck)> {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(m) = Memory::of(pid) {
                    peak = peak.max(m.rss_kb);
                }
                tokio::time::sleep(RSS_EVERY).await;
            }
            if let Ok(m) = Memory::of(pid) {
                peak = peak.max(m.rss_kb);
            }
            peak
        })
    };
    let server_before = cpu_secs(&pid.to_string(), 14)?;
    let client_before = cpu_secs("self", 14)?;
    let started = Instant::now();
    // On a worker thread, beside the I/O driver: awaited from `main`'s thread, every chunk
    // would cost a cross-thread wake-up, and the client would become the bottleneck.
    let fetched = {
        let (http, url, token) = (http.clone(), url.to_string(), token.to_string());
        tokio::spawn(async move {
            tokio::time::timeout(TRANSFER_TIMEOUT, fetch(&http, &url, &token)).await
        })
        .await?
    };
    let secs = started.elapsed().as_secs_f64();
    let server_cpu = cpu_secs(&pid.to_string(), 14)? - server_before;
    let client_cpu = cpu_secs("self", 14)? - client_before;
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    let (total, tail) = fetched.context("the bulk download did not finish in time")??;
    let check = check_zip(&tail, total)?;
    Ok((
        Run {
            archive_bytes: Some(total),
            secs,
            cpu_secs: server_cpu,
            client_cpu_secs: Some(client_cpu),
            sampled_peak_kb: Some(peak),
        },
        check,
    ))
}

async fn fetch(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<(u64, Vec<u8>)> {
    let resp = http.get(url).bearer_auth(token).send().await?;
    let status = resp.status();
    ensure!(
        status.as_u16() == 200,
        "{url} answered {status}: {}",
        resp.text().await?
    );
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ensure!(
        ctype == "application/zip",
        "{url} sent {ctype}, not application/zip"
    );
    let mut body = resp.bytes_stream();
    let mut total = 0u64;
    let mut tail = Vec::with_capacity(2 * TAIL);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("reading the bulk download")?;
        total += chunk.len() as u64;
        tail.extend_from_slice(&chunk);
        if tail.len() > 2 * TAIL {
            tail.drain(..tail.len() - TAIL);
        }
    }
    Ok((total, tail))
}

/// What a peer run does with the blob files.
enum Peer<'a> {
    /// `zip -0 -q - FILES > /dev/null`.
    ZipStdout,
    /// `zip -0 -q OUT FILES`, `OUT` on the same disk (removed after).
    ZipFile(&'a Path),
}

/// Reads every file once into a 1 MiB buffer on a blocking thread; CPU is the bench
/// process's own (nothing else of it runs meanwhile).
async fn read_all(root: &Path, files: &[PathBuf]) -> anyhow::Result<Run> {
    let paths: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
    let before = cpu_secs("self", 14)?;
    let started = Instant::now();
    let bytes = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        for p in &paths {
            let mut f = std::fs::File::open(p)?;
            loop {
                let n = std::io::Read::read(&mut f, &mut buf)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
        anyhow::Ok(total)
    })
    .await??;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs("self", 14)? - before;
    ensure!(
        bytes == (files.len() * FILE_LEN) as u64,
        "read {bytes} bytes of blobs"
    );
    Ok(Run {
        archive_bytes: None,
        secs,
        cpu_secs: cpu,
        client_cpu_secs: None,
        sampled_peak_kb: None,
    })
}

/// One run of a peer over the blob files (given relative to `root`).
async fn peer_run(
    program: &Path,
    root: &Path,
    files: &[PathBuf],
    peer: Peer<'_>,
) -> anyhow::Result<Run> {
    let mut cmd = Command::new(program);
    match peer {
        Peer::ZipStdout => {
            cmd.args(["-0", "-q", "-"]);
        }
        Peer::ZipFile(out) => {
            let _ = std::fs::remove_file(out);
            cmd.args(["-0", "-q"]).arg(out);
        }
    }
    cmd.args(files)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // The child's CPU time reaches the parent's cutime/cstime when it is reaped, and no
    // other child of the bench ends meanwhile.
    let before = cpu_secs("self", 16)?;
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let status = tokio::time::timeout(TRANSFER_TIMEOUT, child.wait())
        .await
        .with_context(|| format!("{} did not finish in time", program.display()))??;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs("self", 16)? - before;
    ensure!(status.success(), "{} failed: {status}", program.display());
    let archive_bytes = match peer {
        Peer::ZipFile(p) => {
            let len = std::fs::metadata(p)?.len();
            std::fs::remove_file(p)?;
            Some(len)
        }
        _ => None,
    };
    Ok(Run {
        archive_bytes,
        secs,
        cpu_secs: cpu,
        client_cpu_secs: None,
        sampled_peak_kb: None,
    })
}

async fn zip_version(zip: &Path) -> anyhow::Result<String> {
    let out = Command::new(zip)
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| {
            format!(
                "running {} (install it with `apt-get install zip`)",
                zip.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .find(|l| l.starts_with("This is Zip"))
        .map_or_else(|| "zip".to_string(), |l| l.trim().to_string()))
}

/// CPU seconds from `/proc/{who}/stat`: fields `first` and `first + 1` (14/15: the
/// process's user and system time; 16/17: those of its reaped children).
fn cpu_secs(who: &str, first: usize) -> anyhow::Result<f64> {
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

fn le(b: &[u8], at: usize, len: usize) -> anyhow::Result<u64> {
    let bytes = b
        .get(at..at + len)
        .context("the ZIP's end records run past the data")?;
    Ok(bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Reads the end of a ZIP of `total` bytes whose last `tail.len()` bytes are `tail`: the
/// end-of-central-directory record (and its zip64 form when present), then every
/// central-directory entry, which must all be STORED. Checks that the directory ends where
/// the end records begin.
pub fn check_zip(tail: &[u8], total: u64) -> anyhow::Result<ZipCheck> {
    ensure!(tail.len() >= 22, "the ZIP is only {total} bytes long");
    let base = total - tail.len() as u64;
    let lowest = tail.len().saturating_sub(22 + 0xFFFF);
    let eocd = (lowest..=tail.len() - 22)
        .rev()
        .find(|&i| {
            tail[i..i + 4] == *b"PK\x05\x06"
                && le(tail, i + 20, 2).is_ok_and(|c| i + 22 + c as usize == tail.len())
        })
        .context("no end-of-central-directory record at the end of the ZIP")?;
    let locator = eocd
        .checked_sub(20)
        .filter(|&l| tail[l..l + 4] == *b"PK\x06\x07");
    let (entries, cd_size, cd_off, end_records) = match locator {
        Some(l) => {
            let at = le(tail, l + 8, 8)?
                .checked_sub(base)
                .context("the zip64 end record is not in the kept tail")?
                as usize;
            ensure!(
                tail.get(at..at + 4) == Some(b"PK\x06\x06"),
                "no zip64 end-of-central-directory record where its locator points"
            );
            (
                le(tail, at + 32, 8)?,
                le(tail, at + 40, 8)?,
                le(tail, at + 48, 8)?,
                at,
            )
        }
        None => (
            le(tail, eocd + 10, 2)?,
            le(tail, eocd + 12, 4)?,
            le(tail, eocd + 16, 4)?,
            eocd,
        ),
    };
    ensure!(
        cd_off + cd_size == base + end_records as u64,
        "the central directory ({cd_size} bytes at {cd_off}) does not end where the end records begin ({})",
        base + end_records as u64
    );
    let mut p = cd_off
        .checked_sub(base)
        .context("the central directory is larger than the kept tail")? as usize;
    let mut check = ZipCheck {
        entries,
        wav_entries: 0,
        wav_bytes: 0,
        zip64: locator.is_some(),
    };
    for k in 0..entries {
        ensure!(
            tail.get(p..p + 4) == Some(b"PK\x01\x02"),
            "central directory entry {k} has no signature"
        );
        let method = le(tail, p + 10, 2)?;
        let mut csize = le(tail, p + 20, 4)?;
        let mut usize_ = le(tail, p + 24, 4)?;
        let nlen = le(tail, p + 28, 2)? as usize;
        let xlen = le(tail, p + 30, 2)? as usize;
        let clen = le(tail, p + 32, 2)? as usize;
        let name = tail
            .get(p + 46..p + 46 + nlen)
            .context("an entry name runs past the data")?;
        // The zip64 extra field holds, in order, the sizes that read 0xFFFFFFFF.
        let mut x = p + 46 + nlen;
        let x_end = x + xlen;
        while x + 4 <= x_end {
            let (id, len) = (le(tail, x, 2)?, le(tail, x + 2, 2)? as usize);
            if id == 1 {
                let mut f = x + 4;
                if usize_ == 0xFFFF_FFFF {
                    usize_ = le(tail, f, 8)?;
                    f += 8;
                }
                if csize == 0xFFFF_FFFF {
                    csize = le(tail, f, 8)?;
                }
            }
            x += 4 + len;
        }
        ensure!(
            method == 0 && csize == usize_,
            "entry {} is not STORED (method {method}, {csize} of {usize_} bytes)",
            String::from_utf8_lossy(name)
        );
        if name.ends_with(b".wav") {
            check.wav_entries += 1;
            check.wav_bytes += usize_;
        }
        p = x_end + clen;
    }
    ensure!(
        p == end_records,
        "the central directory's entries do not fill it"
    );
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ZIP of STORED entries; with `zip64`, sizes and the directory's place go in zip64
    /// records the way streaming writers emit them.
    fn build(entries: &[(&str, &[u8])], zip64: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cd = Vec::new();
        for (name, data) in entries {
            let off = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[0; 22]);
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            cd.extend_from_slice(b"PK\x01\x02");
            cd.extend_from_slice(&[0; 6]); // versions, flags
            cd.extend_from_slice(&0u16.to_le_bytes()); // STORED
            cd.extend_from_slice(&[0; 8]); // time, date, crc
            let size = if zip64 {
                0xFFFF_FFFF
            } else {
                data.len() as u32
            };
            cd.extend_from_slice(&size.to_le_bytes());
            cd.extend_from_slice(&size.to_le_bytes());
            cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
            cd.extend_from_slice(&[0; 6]); // comment len, disk, internal attrs
            cd.extend_from_slice(&[0; 4]); // external attrs
            cd.extend_from_slice(&off.to_le_bytes());
            cd.extend_from_slice(name.as_bytes());
            if zip64 {
                cd.extend_from_slice(&1u16.to_le_bytes());
                cd.extend_from_slice(&16u16.to_le_bytes());
                cd.extend_from_slice(&(data.len() as u64).to_le_bytes());
                cd.extend_from_slice(&(data.len() as u64).to_le_bytes());
            }
        }
        let cd_off = out.len() as u64;
        out.extend_from_slice(&cd);
        let n = entries.len() as u64;
        if zip64 {
            let rec = out.len() as u64;
            out.extend_from_slice(b"PK\x06\x06");
            out.extend_from_slice(&44u64.to_le_bytes());
            out.extend_from_slice(&[0; 12]);
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&(cd.len() as u64).to_le_bytes());
            out.extend_from_slice(&cd_off.to_le_bytes());
            out.extend_from_slice(b"PK\x06\x07");
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&rec.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(n as u16).to_le_bytes());
        out.extend_from_slice(&(n as u16).to_le_bytes());
        out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        out.extend_from_slice(&(cd_off as u32).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_the_central_directory() {
        let entries: [(&str, &[u8]); 3] = [
            ("1.a.wav", b"RIFFdata"),
            ("1.a.json", b"{}"),
            ("2.b.wav", b"RIFF"),
        ];
        for zip64 in [false, true] {
            let z = build(&entries, zip64);
            let want = ZipCheck {
                entries: 3,
                wav_entries: 2,
                wav_bytes: 12,
                zip64,
            };
            assert_eq!(check_zip(&z, z.len() as u64).unwrap(), want);
            // Only the tail is kept: enough while it holds the directory.
            let cut = 2 * 30;
            assert_eq!(check_zip(&z[cut..], z.len() as u64).unwrap(), want);
            let end_only = z.len() - 30;
            assert!(check_zip(&z[end_only..], z.len() as u64).is_err());
        }
    }

    #[test]
    fn a_truncated_zip_fails() {
        let z = build(&[("1.a.wav", b"RIFF")], false);
        assert!(check_zip(&z[..z.len() - 1], z.len() as u64 - 1).is_err());
        assert!(check_zip(&z[..10], 10).is_err());
    }
}
