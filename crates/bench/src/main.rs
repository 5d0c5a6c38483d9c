//! callvault-bench: the figures the project promises, each printed as a ratio against a
//! peer measured in the same run on the same machine (raw SQLite for search, nginx for
//! downloads, write+fsync for ingest), because absolute numbers from one machine say
//! nothing about another while ratios carry over. See `docs/benchmarks.md`.

mod audit;
mod browser;
mod bulk;
mod console;
mod cpu;
mod data;
mod disk;
mod download;
mod export;
mod floor;
mod hooks;
mod ingest;
mod load;
mod mp3;
mod nginx;
mod report;
mod retention;
mod rss;
mod scale;
mod search;
mod server;
mod startup;
mod text;
mod wav;
mod words;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::load::Bounds;
use crate::report::Results;
use crate::rss::Memory;
use crate::server::{Api, Server};

#[derive(Parser)]
#[command(
    name = "callvault-bench",
    about = "Benchmarks callvault against same-run peers"
)]
struct Args {
    /// Interactions in the search data set.
    #[arg(long, default_value_t = 1_000_000)]
    interactions: usize,
    /// Short phases (3 s each) for a smoke run.
    #[arg(long)]
    quick: bool,
    /// The callvault binary; by default the one next to this executable.
    #[arg(long)]
    callvault: Option<PathBuf>,
    /// The nginx binary.
    #[arg(long, default_value = "nginx")]
    nginx: PathBuf,
    /// Output directory: results.json, the server log, and scratch space (removed after).
    #[arg(long, default_value = "bench/out")]
    out: PathBuf,
    /// Decimal GB of distinct 10 MiB recordings in the bulk download (export ZIP); default
    /// 2, or 0.2 with --quick.
    #[arg(long)]
    bulk_gb: Option<f64>,
    /// The zip binary (the bulk download's peer).
    #[arg(long, default_value = "zip")]
    zip: PathBuf,
    /// Run only these phases (comma-separated); by default search, download, ingest and
    /// bulk (export and scale need PostgreSQL and an S3 server: `scripts/services.sh`).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Phase>,
    /// Decimal GB of distinct 10 MB recordings in the export to S3; default 2, or 0.2 with
    /// --quick.
    #[arg(long)]
    export_gb: Option<f64>,
    /// The rclone binary (the export's peer).
    #[arg(long, default_value = "rclone")]
    rclone: PathBuf,
    /// The S3-compatible server for the export and scale phases.
    #[arg(
        long,
        env = "CALLVAULT_TEST_S3_ENDPOINT",
        default_value = "http://127.0.0.1:9123"
    )]
    s3_endpoint: String,
    /// An existing bucket there for the scale phase's (unused) content store.
    #[arg(
        long,
        env = "CALLVAULT_TEST_S3_BUCKET",
        default_value = "callvault-test"
    )]
    s3_bucket: String,
    /// PostgreSQL for the scale phase; it creates and drops a database per size beside it.
    #[arg(
        long,
        env = "CALLVAULT_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Interactions per database in the scale phase (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000,10000000")]
    scale_sizes: Vec<u64>,
    /// Measured search requests per size and side in the scale phase.
    #[arg(long, default_value_t = 2000)]
    scale_requests: usize,
    /// Concurrent clients in the scale phase.
    #[arg(long, default_value_t = 4)]
    scale_clients: usize,
    /// chromedriver, for the console phase.
    #[arg(long, default_value = "chromedriver")]
    chromedriver: PathBuf,
    /// The Chromium binary chromedriver starts; by default Debian's.
    #[arg(long)]
    chromium: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    Search,
    /// Search with and without recording reads in the audit trail.
    Audit,
    /// Retention deleting the older half of a copy of the data set, with searches meanwhile.
    Retention,
    Download,
    Ingest,
    /// From spawning the server on the search data set to its first answered search.
    Startup,
    Bulk,
    Export,
    Scale,
    /// Webhook deliveries per second, and ingest with and without subscriptions.
    Webhooks,
    /// Search by what was said over a transcript per interaction, against raw FTS5.
    Text,
    /// Transcription's word error rate and speed (needs PocketSphinx and
    /// pocketsphinx-testdata from Debian).
    Transcription,
    /// The console's page bytes and time to playback of an hour-long call in headless
    /// Chromium (needs Debian's chromium and chromium-driver).
    Console,
}

impl Args {
    fn runs(&self, phase: Phase) -> bool {
        if self.only.is_empty() {
            // Export and scale need outside services, the console a browser, and
            // retention rewrites a copy of the whole data set: they run only when named.
            !matches!(
                phase,
                Phase::Export
                    | Phase::Scale
                    | Phase::Retention
                    | Phase::Transcription
                    | Phase::Text
                    | Phase::Webhooks
                    | Phase::Console
            )
        } else {
            self.only.contains(&phase)
        }
    }
}

/// How long each measured phase runs, and the per-client request cap that ends it early
/// on a machine fast enough to reach it.
struct Plan {
    search: Bounds,
    download: Bounds,
    ingest: Bounds,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let secs = |full: u64| Duration::from_secs(if quick { 3 } else { full });
        Self {
            search: Bounds {
                duration: secs(15),
                per_client: 20_000,
            },
            download: Bounds {
                duration: secs(10),
                per_client: 5_000,
            },
            ingest: Bounds {
                duration: secs(10),
                per_client: 20_000,
            },
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = match &args.callvault {
        Some(b) => b.clone(),
        None => server::default_binary()?,
    };
    anyhow::ensure!(
        bin.is_file(),
        "no callvault binary at {}; build it with `cargo build --release -p callvault`",
        bin.display()
    );
    std::fs::create_dir_all(&args.out)?;
    // Absolute, because nginx resolves relative paths against its prefix.
    let out = std::fs::canonicalize(&args.out)?;
    let work = out.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let results = run(&args, &bin, &out, &work).await;
    std::fs::remove_dir_all(&work)?;
    let results = results?;
    let table = results.markdown();
    println!("{table}");
    let path = out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results.json())?)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

async fn run(args: &Args, bin: &Path, out: &Path, work: &Path) -> anyhow::Result<Results> {
    let plan = Plan::new(args.quick);
    let mut rng = StdRng::seed_from_u64(0x0ca1_1a17);
    let data_dir = work.join("data");

    // Search, download and ingest use the search data set's tenant; the bulk download
    // creates its own.
    let data = if [
        Phase::Search,
        Phase::Audit,
        Phase::Retention,
        Phase::Download,
        Phase::Ingest,
        Phase::Text,
        Phase::Startup,
    ]
    .iter()
    .any(|p| args.runs(*p))
    {
        eprintln!("building {} interactions ...", args.interactions);
        let data = data::build(bin, &data_dir, args.interactions, &mut rng).await?;
        eprintln!("  done in {:.1} s", data.build_secs);
        Some(data)
    } else {
        None
    };
    let text_build = if let (true, Some(d)) = (args.runs(Phase::Text), &data) {
        eprintln!("indexing a transcript per interaction ...");
        let secs = text::build(d, &mut rng)?;
        eprintln!("  done in {secs:.1} s");
        Some(secs)
    } else {
        None
    };

    // Before the main server: each start must be the only process on the vault.
    let startup = match (&data, args.runs(Phase::Startup)) {
        (Some(d), true) => {
            eprintln!("start-up ...");
            let log = out.join("callvault-startup.log");
            let starts = if args.quick { 3 } else { 9 };
            Some(startup::run(bin, d, &data_dir, &log, starts, &mut rng).await?)
        }
        _ => None,
    };
    let server = Server::start(bin, &data_dir, &out.join("callvault.log")).await?;
    let pid = server.pid;
    let measured = async {
        let mut memory = vec![("idle after start", Memory::of(pid)?)];
        let (mut search, mut download, mut ingest) = (Vec::new(), Vec::new(), Vec::new());
        let mut text = Vec::new();
        let mut audit = None;
        let mut retention = None;
        if let Some(data) = &data {
            let api = Api::connect(bin, &data_dir, &server, data::TENANT).await?;
            if args.runs(Phase::Search) {
                eprintln!("search ...");
                search = search::run(&api, data, plan.search, &mut rng).await?;
                memory.push(("after search load", Memory::of(pid)?));
            }
            if let Some(secs) = text_build {
                eprintln!("text search ...");
                text = text::run(&api, data, secs, plan.search, &mut rng).await?;
            }
            if args.runs(Phase::Audit) {
                eprintln!("audit overhead ...");
                let log = out.join("callvault-unaudited.log");
                audit = Some(
                    audit::run(&api, bin, &data_dir, data, &log, plan.search, &mut rng).await?,
                );
            }
            if args.runs(Phase::Retention) {
                eprintln!("retention ...");
                let log = out.join("callvault-retention.log");
                retention =
                    Some(retention::run(bin, data, work, &log, plan.search, &mut rng).await?);
            }
            if args.runs(Phase::Download) {
                eprintln!("download ...");
                download = download::run(
                    &api,
                    &data_dir,
                    data.tenant_id,
                    &args.nginx,
                    &work.join("nginx"),
                    plan.download,
                    &mut rng,
                )
                .await?;
                memory.push(("after download load", Memory::of(pid)?));
            }
            if args.runs(Phase::Ingest) {
                eprintln!("ingest ...");
                ingest =
                    ingest::run(&api, &data_dir.join("fsync-floor"), plan.ingest, &mut rng).await?;
                memory.push(("after ingest load", Memory::of(pid)?));
            }
        }
        let bulk = if args.runs(Phase::Bulk) {
            eprintln!("bulk download ...");
            let gb = args.bulk_gb.unwrap_or(if args.quick { 0.2 } else { 2.0 });
            let cfg = bulk::Config {
                bytes: (gb * 1e9) as u64,
                zip: args.zip.clone(),
            };
            let r = bulk::run(bin, &data_dir, &server, work, &cfg, &mut rng).await?;
            memory.push((
                "after bulk download (peak since its reset)",
                Memory::of(pid)?,
            ));
            Some(r)
        } else {
            None
        };
        let export = if args.runs(Phase::Export) {
            eprintln!("export to S3 ...");
            let gb = args.export_gb.unwrap_or(if args.quick { 0.2 } else { 2.0 });
            let cfg = export::Config {
                bytes: (gb * 1e9) as u64,
                rclone: args.rclone.clone(),
                endpoint: args.s3_endpoint.clone(),
            };
            let r = export::run(bin, &data_dir, &server, work, &cfg, &mut rng).await?;
            memory.push(("after export to S3", Memory::of(pid)?));
            Some(r)
        } else {
            None
        };
        let scale = if args.runs(Phase::Scale) {
            eprintln!("search at scale (PostgreSQL) ...");
            let cfg = scale::Config {
                sizes: args.scale_sizes.clone(),
                requests: args.scale_requests,
                clients: args.scale_clients,
                postgres_url: args.postgres_url.clone(),
                s3_endpoint: args.s3_endpoint.clone(),
                s3_bucket: args.s3_bucket.clone(),
            };
            Some(scale::run(bin, work, out, &cfg, &mut rng).await?)
        } else {
            None
        };
        let words = if args.runs(Phase::Transcription) {
            eprintln!("transcription ...");
            Some(words::run(bin, work, &out.join("callvault-words.log")).await?)
        } else {
            None
        };
        let hooks = if args.runs(Phase::Webhooks) {
            eprintln!("webhooks ...");
            let log = out.join("callvault-hooks.log");
            Some(hooks::run(bin, work, &log, plan.ingest, &mut rng).await?)
        } else {
            None
        };
        let console = if args.runs(Phase::Console) {
            eprintln!("console in Chromium ...");
            let cfg = console::Config {
                nginx: args.nginx.clone(),
                chromedriver: args.chromedriver.clone(),
                chromium: args
                    .chromium
                    .clone()
                    .unwrap_or_else(callvault_testkit::chromium::binary),
                rounds: if args.quick { 1 } else { 7 },
            };
            let log = out.join("callvault-console.log");
            Some(console::run(bin, work, &log, &cfg).await?)
        } else {
            None
        };
        anyhow::Ok((
            search, text, hooks, audit, retention, download, ingest, bulk, export, scale, words,
            console, memory,
        ))
    }
    .await;
    server.stop().await.context("stopping the server")?;
    let (
        search,
        text,
        hooks,
        audit,
        retention,
        download,
        ingest,
        bulk,
        export,
        scale,
        words,
        console,
        memory,
    ) = measured?;
    let interactions = data.as_ref().map_or(0, |d| d.interactions);
    Ok(Results {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_total_kb: rss::machine_total_kb(),
        quick: args.quick,
        interactions,
        window_interactions: interactions * 7 / data::SPAN_DAYS as usize,
        data_build_secs: data.as_ref().map_or(0.0, |d| d.build_secs),
        search,
        text,
        hooks,
        audit,
        retention,
        download,
        ingest,
        startup,
        bulk,
        export,
        scale,
        words,
        console,
        memory,
    })
}
