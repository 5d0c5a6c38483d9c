//! Webhooks: events per second delivered to a local receiver, and ingest throughput
//! with and without three subscriptions to every upload (target: within 5 %), measured
//! in turns on one server, in an order that gives each kind the same share of the drift
//! ([`PALINDROME`]). The held turns subscribe to a receiver that never answers, which parts
//! the outbox rows' cost from the sending's.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::cpu;
use crate::ingest::{self, put_recording};
use crate::load::{self, Bounds, Summary};
use crate::server::{admin, Api, Server};
use crate::wav;

const TENANT: &str = "hooks";
const SUBSCRIPTIONS: usize = 3;
const CLIENTS: usize = 8;
/// The server's timeout of a webhook request (`services::webhooks::SEND_TIMEOUT`).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The kinds of turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// No subscription.
    Without,
    /// Three subscriptions whose receiver never answers: the outbox rows only.
    Held,
    /// Three subscriptions delivered to the local receiver.
    With,
}

/// The turns in the order they run: a palindrome, run [`ROUNDS`] times, so that each
/// kind's turns sit on average at the same place in the run, and the ratio of each round
/// can be compared with the other's. This VM's ingest drifts within a run, in steps more
/// than in a line (the first turns after a run that deleted many files pay for ext4's
/// search past recently deleted inodes; later ones for page-cache memory the VM had not
/// touched before): with the kinds in a repeated order (without, held, with, twice) the drift
/// fell most on the turns with delivery, which always came last (docs/benchmarks.md,
/// "Webhook turns in palindromes").
const PALINDROME: [Turn; 6] = [
    Turn::Without,
    Turn::Held,
    Turn::With,
    Turn::With,
    Turn::Held,
    Turn::Without,
];
const ROUNDS: usize = 2;

/// How many turns of `kind` one round holds.
fn per_round(kind: Turn) -> usize {
    PALINDROME.iter().filter(|t| **t == kind).count().max(1)
}

/// Every turn of the run, in order.
fn order() -> impl Iterator<Item = Turn> {
    PALINDROME
        .into_iter()
        .cycle()
        .take(PALINDROME.len() * ROUNDS)
}

pub struct HooksResult {
    pub without: Vec<Summary>,
    pub with: Vec<Summary>,
    /// Turns with three subscriptions whose receiver never answers: the outbox rows'
    /// cost to ingest, with next to no sending.
    pub held: Vec<Summary>,
    pub events: u64,
    pub events_per_sec: f64,
    /// What the server wrote during each turn, in the order the turns ran.
    pub written: Vec<Written>,
}

/// The server's group-commit counters (`/metrics`) and the bytes it has sent to the
/// disk (`/proc/PID/io`: recordings, the write-ahead log, checkpoints), or their growth
/// over a turn. The outbox's cost shows here as bytes, which the turns' throughput on a
/// noisy machine cannot show.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Written {
    pub commits: f64,
    /// Write transactions, each a member of one commit.
    pub transactions: f64,
    pub disk_bytes: f64,
}

impl Written {
    async fn read(api: &Api) -> anyhow::Result<Written> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", api.pid))?;
        let disk_bytes = io
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes:")?.trim().parse().ok())
            .context("no write_bytes in /proc/PID/io")?;
        let text = api
            .http
            .get(format!("{}/metrics", api.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0.0)
        };
        Ok(Written {
            commits: value("callvault_sqlite_commits_total"),
            transactions: value("callvault_sqlite_committed_writes_total"),
            disk_bytes,
        })
    }

    fn since(self, before: Written) -> Written {
        Written {
            commits: self.commits - before.commits,
            transactions: self.transactions - before.transactions,
            disk_bytes: self.disk_bytes - before.disk_bytes,
        }
    }
}

impl HooksResult {
    fn rate(v: &[Summary]) -> f64 {
        v.iter().map(Summary::per_sec).sum::<f64>() / v.len().max(1) as f64
    }

    /// The server's CPU milliseconds per upload over a kind of turn (the senders' work
    /// that lags past a turn's end is not in it).
    fn cpu_ms(v: &[Summary]) -> f64 {
        v.iter()
            .filter_map(Summary::cpu_ms_per_request)
            .sum::<f64>()
            / v.len().max(1) as f64
    }

    /// Each turn in the order it ran: its kind and its summary.
    fn turns(&self) -> Vec<(&'static str, &Summary)> {
        let (mut without, mut held, mut with) =
            (self.without.iter(), self.held.iter(), self.with.iter());
        order()
            .filter_map(|kind| match kind {
                Turn::Without => without.next().map(|s| ("without", s)),
                Turn::Held => held.next().map(|s| ("held", s)),
                Turn::With => with.next().map(|s| ("with", s)),
            })
            .collect()
    }

    /// Commits per upload, write transactions per commit and kB sent to the disk per
    /// upload over the turns of `kind`.
    fn written_per_upload(&self, kind: &str) -> (f64, f64, f64) {
        let (mut sum, mut uploads) = (Written::default(), 0.0);
        for ((k, s), w) in self.turns().into_iter().zip(&self.written) {
            if k == kind {
                sum.commits += w.commits;
                sum.transactions += w.transactions;
                sum.disk_bytes += w.disk_bytes;
                uploads += s.requests as f64;
            }
        }
        let uploads = uploads.max(1.0);
        (
            sum.commits / uploads,
            sum.transactions / sum.commits.max(1.0),
            sum.disk_bytes / uploads / 1e3,
        )
    }

    pub fn ratio(&self) -> f64 {
        Self::rate(&self.with) / Self::rate(&self.without)
    }

    /// The with / without ratio of each round of [`PALINDROME`] by itself.
    fn rounds(&self) -> Vec<f64> {
        self.with
            .chunks(per_round(Turn::With))
            .zip(self.without.chunks(per_round(Turn::Without)))
            .map(|(with, without)| Self::rate(with) / Self::rate(without))
            .collect()
    }

    pub fn markdown(&self) -> String {
        format!(
            "| ingest, {CLIENTS} clients | {:.0} uploads/s | {:.0} uploads/s | {:.3} | ≥ 0.95: {} |\n\
             | the same, the receiver holding every request (outbox rows only) | {:.0} uploads/s | {:.0} uploads/s | {:.3} | (diagnosis) |\n\n\
             Each round's own ratio (with / without): {}.\n\n\
             Server CPU per upload during the turns: {:.2} ms without subscriptions, {:.2} ms with the outbox rows only, {:.2} ms with delivery.\n\n\
             Per upload, SQLite commits (write transactions per commit) and kB sent to the disk: {}.\n\n\
             Turns in the order they ran (uploads/s, server CPU ms per upload, p50 ms of an upload): {}.\n\n\
             {} events delivered to the local receiver at {:.0} events/s (each turn's events over the time from its first upload to its last event).\n",
            Self::rate(&self.with),
            Self::rate(&self.without),
            self.ratio(),
            if self.ratio() >= 0.95 { "met" } else { "**missed**" },
            Self::rate(&self.held),
            Self::rate(&self.without),
            Self::rate(&self.held) / Self::rate(&self.without),
            self.rounds()
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            Self::cpu_ms(&self.without),
            Self::cpu_ms(&self.held),
            Self::cpu_ms(&self.with),
            ["without", "held", "with"]
                .map(|k| {
                    let (per_upload, per_commit, kb) = self.written_per_upload(k);
                    format!("{k} {per_upload:.3} ({per_commit:.1}) {kb:.1} kB")
                })
                .join(", "),
            self.turns()
                .iter()
                .map(|(kind, s)| format!(
                    "{kind} {:.0} ({:.2}, {:.1})",
                    s.per_sec(),
                    s.cpu_ms_per_request().unwrap_or(f64::NAN),
                    s.p50.as_secs_f64() * 1e3
                ))
                .collect::<Vec<_>>()
                .join(", "),
            self.events,
            self.events_per_sec
        )
    }

    pub fn json(&self) -> Value {
        let commits = ["without", "held", "with"].map(|k| {
            let (per_upload, per_commit, kb) = self.written_per_upload(k);
            json!({"kind": k, "perUpload": per_upload, "writesPerCommit": per_commit, "diskKbPerUpload": kb})
        });
        json!({
            "withPerSec": Self::rate(&self.with), "withoutPerSec": Self::rate(&self.without),
            "ratio": self.ratio(), "rounds": self.rounds(), "heldPerSec": Self::rate(&self.held),
            "heldRatio": Self::rate(&self.held) / Self::rate(&self.without),
            "cpuMsPerUpload": {"without": Self::cpu_ms(&self.without), "held": Self::cpu_ms(&self.held), "with": Self::cpu_ms(&self.with)},
            "events": self.events, "eventsPerSec": self.events_per_sec,
            "commitsPerUpload": commits,
            "turns": self.turns().iter().map(|(kind, s)| json!({
                "kind": kind, "perSec": s.per_sec(), "cpuMsPerUpload": s.cpu_ms_per_request(),
                "p50Ms": s.p50.as_secs_f64() * 1e3,
            })).collect::<Vec<_>>(),
        })
    }
}

/// A receiver that answers 204 to every request and counts them, with the first and last
/// arrival.
struct Receiver {
    count: AtomicU64,
    span: Mutex<Option<(Instant, Instant)>>,
}

async fn serve(listener: tokio::net::TcpListener, r: Arc<Receiver>) {
    while let Ok((sock, _)) = listener.accept().await {
        let r = r.clone();
        tokio::spawn(async move {
            let (read, mut write) = sock.into_split();
            let mut read = BufReader::new(read);
            loop {
                let mut len = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if read.read_exact(&mut body).await.is_err() {
                    return;
                }
                r.count.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                {
                    let mut span = r.span.lock().unwrap_or_else(|p| p.into_inner());
                    *span = Some(span.map_or((now, now), |(first, _)| (first, now)));
                }
                let ok = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
                if write.write_all(ok).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn ingest(api: &Api, bounds: Bounds, base: &Arc<Vec<u8>>) -> anyhow::Result<Summary> {
    let (api, base) = (api.clone(), base.clone());
    load::run(CLIENTS, bounds, move |_, _| {
        let (api, base) = (api.clone(), base.clone());
        async move {
            let id = uuid::Uuid::new_v4();
            put_recording(
                &api,
                &id.hyphenated().to_string(),
                ingest::distinct(&base, &id),
            )
            .await?;
            Ok(base.len() as u64)
        }
    })
    .await
}

/// A receiver that accepts connections and never answers: each subscription's sender
/// then waits out its request timeout, so a turn against it costs ingest the outbox rows
/// and next to no sending.
/// One turn's ingest, with the server's CPU and what it wrote meanwhile.
async fn measured(
    api: &Api,
    probe: cpu::Probe,
    bounds: Bounds,
    base: &Arc<Vec<u8>>,
) -> anyhow::Result<(Summary, Written)> {
    let before = Written::read(api).await?;
    let summary = cpu::measure(probe, ingest(api, bounds, base)).await?;
    Ok((summary, Written::read(api).await?.since(before)))
}

async fn hold(listener: tokio::net::TcpListener) {
    while let Ok((mut sock, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut sink = [0u8; 4096];
            while sock.read(&mut sink).await.unwrap_or(0) > 0 {}
        });
    }
}

async fn subscribe(bin: &Path, data_dir: &Path, url: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for n in 0..SUBSCRIPTIONS {
        let name = format!("bench-{n}");
        let s = admin(
            bin,
            data_dir,
            &[
                "webhook",
                "create",
                "--tenant",
                TENANT,
                "--name",
                &name,
                "--url",
                url,
                "--event",
                "content.created",
            ],
        )
        .await?;
        ids.push(
            s["id"]
                .as_str()
                .context("webhook create printed no id")?
                .to_string(),
        );
    }
    Ok(ids)
}

async fn unsubscribe(bin: &Path, data_dir: &Path, ids: Vec<String>) -> anyhow::Result<()> {
    for id in ids {
        admin(
            bin,
            data_dir,
            &["webhook", "delete", "--tenant", TENANT, &id],
        )
        .await?;
    }
    Ok(())
}

pub async fn run(
    bin: &Path,
    work: &Path,
    log: &Path,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<HooksResult> {
    let data_dir = work.join("hooks");
    admin(bin, &data_dir, &["tenant", "create", TENANT]).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let holder = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let held_url = format!("http://{}/hook", holder.local_addr()?);
    tokio::spawn(hold(holder));
    let receiver = Arc::new(Receiver {
        count: AtomicU64::new(0),
        span: Mutex::new(None),
    });
    tokio::spawn(serve(listener, receiver.clone()));
    let server = Server::start(bin, &data_dir, log).await?;
    let result = async {
        let api = Api::connect(bin, &data_dir, &server, TENANT).await?;
        let probe = cpu::Probe::Process(server.pid);
        let base = Arc::new(wav::random_wav(ingest::FILE_LEN, rng));
        let (mut with, mut without, mut held, mut rates, mut written) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // A turn that is not counted: the first turn after start paid for the server's
        // warm-up (its heap and the WAL growing, the blob directories being made), at up
        // to 1.7 times the CPU per upload of the same turn later, and it was always a
        // turn without subscriptions.
        ingest(&api, bounds, &base).await?;
        // Half as long as the warm-up: twelve turns measure as long as six did before.
        let bounds = Bounds {
            duration: bounds.duration / 2,
            ..bounds
        };
        for kind in order() {
            // Every turn starts after the same pause: the held turn's senders are free
            // again once their requests time out, and the disk has written back what the
            // turn before left dirty (a turn writes hundreds of MB of recordings), so no
            // turn pays for the one before it.
            tokio::time::sleep(SEND_TIMEOUT + Duration::from_secs(1)).await;
            let turn_written = match kind {
                Turn::Without => {
                    let (summary, w) = measured(&api, probe, bounds, &base).await?;
                    without.push(summary);
                    w
                }
                Turn::Held => {
                    let ids = subscribe(bin, &data_dir, &held_url).await?;
                    let (summary, w) = measured(&api, probe, bounds, &base).await?;
                    held.push(summary);
                    unsubscribe(bin, &data_dir, ids).await?;
                    w
                }
                Turn::With => {
                    let ids = subscribe(bin, &data_dir, &url).await?;
                    let before = receiver.count.load(Ordering::Relaxed);
                    let began = Instant::now();
                    let (summary, w) = measured(&api, probe, bounds, &base).await?;
                    let want = summary.requests as u64 * SUBSCRIPTIONS as u64;
                    while receiver.count.load(Ordering::Relaxed) - before < want {
                        anyhow::ensure!(
                            began.elapsed() < Duration::from_secs(300),
                            "webhook deliveries stalled"
                        );
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let last = receiver
                        .span
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .map_or(began, |(_, l)| l);
                    rates.push(want as f64 / (last - began).as_secs_f64().max(0.001));
                    with.push(summary);
                    unsubscribe(bin, &data_dir, ids).await?;
                    w
                }
            };
            written.push(turn_written);
        }
        let events = receiver.count.load(Ordering::Relaxed);
        let events_per_sec = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
        anyhow::Ok(HooksResult {
            without,
            with,
            held,
            events,
            events_per_sec,
            written,
        })
    }
    .await;
    server.stop().await?;
    result
}
