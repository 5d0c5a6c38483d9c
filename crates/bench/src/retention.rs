//! Retention at scale: a copy of the search data set, a policy that expires the older
//! half of it, and `callvault governance retention` deleting it while clients search the
//! same tenant on a server over the same copy. Reports items deleted per second and the
//! search latency during the run beside the same load before it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use serde_json::{json, Value};

use crate::data::{DataSet, SPAN_DAYS, TENANT};
use crate::load::{ms, Bounds, Summary};
use crate::search::{api_load, windows};
use crate::server::{admin, Api, Server};

const LIMIT: u32 = 100;
const CLIENTS: usize = 4;

pub struct RetentionResult {
    pub deleted: u64,
    pub secs: f64,
    pub idle: Summary,
    pub during: Summary,
}

impl RetentionResult {
    pub fn per_sec(&self) -> f64 {
        self.deleted as f64 / self.secs.max(f64::MIN_POSITIVE)
    }

    pub fn json(&self) -> Value {
        json!({
            "deleted": self.deleted,
            "secs": self.secs,
            "deletedPerSec": self.per_sec(),
            "searchIdle": self.idle.json(),
            "searchDuring": self.during.json(),
        })
    }

    pub fn markdown(&self) -> String {
        format!(
            "| {} | {:.1} s | {:.0} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.2} / {:.2} |\n",
            self.deleted,
            self.secs,
            self.per_sec(),
            ms(self.idle.p50),
            ms(self.idle.p99),
            ms(self.during.p50),
            ms(self.during.p99),
            ms(self.during.p50) / ms(self.idle.p50).max(f64::MIN_POSITIVE),
            ms(self.during.p99) / ms(self.idle.p99).max(f64::MIN_POSITIVE),
        )
    }
}

pub async fn run(
    bin: &Path,
    data: &DataSet,
    work: &Path,
    log: &Path,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<RetentionResult> {
    // A consistent copy of the live database, so the other phases keep their data.
    let dir = work.join("retention");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("callvault.db");
    {
        let src = rusqlite::Connection::open(&data.db)?;
        src.execute("VACUUM INTO ?1", [copy.to_string_lossy()])
            .context("copying the data set")?;
    }
    let half = (SPAN_DAYS / 2).to_string();
    admin(
        bin,
        &dir,
        &[
            "governance",
            "policy",
            "--tenant",
            TENANT,
            "--name",
            "half",
            "--max-days",
            &half,
            "--enabled",
        ],
    )
    .await?;
    let server = Server::start(bin, &dir, log).await?;
    let api = Api::connect(bin, &dir, &server, TENANT).await?;
    let windows = Arc::new(windows(data, rng));
    let idle = api_load(&api, &windows, LIMIT, CLIENTS, bounds).await?;

    let started = Instant::now();
    let retention = tokio::spawn({
        let (bin, dir) = (bin.to_path_buf(), dir.clone());
        async move {
            admin(
                &bin,
                &dir,
                &["governance", "retention", "--budget-secs", "86400"],
            )
            .await
        }
    });
    // Searches while it deletes: short enough to end before it does on any data set the
    // benchmark builds.
    let during = api_load(
        &api,
        &windows,
        LIMIT,
        CLIENTS,
        Bounds {
            duration: bounds.duration.min(Duration::from_secs(5)),
            ..bounds
        },
    )
    .await?;
    let report = retention.await??;
    let secs = started.elapsed().as_secs_f64();
    server.stop().await?;
    let deleted = report["interactions"].as_u64().unwrap_or(0);
    anyhow::ensure!(deleted > 0, "retention deleted nothing: {report}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(RetentionResult {
        deleted,
        secs,
        idle,
        during,
    })
}
