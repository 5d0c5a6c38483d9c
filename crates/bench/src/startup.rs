//! Start-up: from spawning `callvault serve` on the search data set to the first search
//! it answers, and the process's memory at that moment. Every start is a new process on
//! the same vault, with the database in the kernel's page cache (a restart, not a boot);
//! the target is under 100 ms and under 20 MiB of RSS at 1M interactions.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use serde_json::{json, Value};

use crate::data::{DataSet, TENANT};
use crate::rss::{mib, Memory};
use crate::search;
use crate::server::{Api, Server, V3};

/// How often a start is polled for its first answer: well under the figure measured.
const POLL: Duration = Duration::from_millis(2);

pub struct StartupResult {
    /// Milliseconds from spawn to the first 200 answer to a search, one per start.
    pub first_search_ms: Vec<f64>,
    /// Resident memory right after that answer, one per start.
    pub rss: Vec<Memory>,
}

pub async fn run(
    bin: &Path,
    data: &DataSet,
    data_dir: &Path,
    log: &Path,
    starts: usize,
    rng: &mut StdRng,
) -> anyhow::Result<StartupResult> {
    // A token for the timed starts: tokens are stored, so every later process accepts it.
    let server = Server::start(bin, data_dir, log).await?;
    let token = Api::connect(bin, data_dir, &server, TENANT).await?.token;
    server.stop().await?;
    let window = search::windows(data, rng).swap_remove(0);
    let mut out = StartupResult {
        first_search_ms: Vec::new(),
        rss: Vec::new(),
    };
    for _ in 0..starts {
        let began = Instant::now();
        let mut server = Server::spawn(bin, data_dir, log, &[])?;
        let url = format!(
            "{}/interaction-content/interactions?{}&limit=100",
            server.base,
            window.query()
        );
        // A new client per start: no connection of the previous process is reused.
        let http = reqwest::Client::new();
        loop {
            let answered = http
                .get(&url)
                .bearer_auth(&token)
                .header("Accept", V3)
                .send()
                .await;
            if let Ok(resp) = answered {
                let status = resp.status();
                let body = resp.bytes().await?;
                if !status.is_success() {
                    bail!("the first search answered {status}: {body:?}");
                }
                break;
            }
            if let Some(status) = server.exited()? {
                bail!(
                    "callvault exited while starting ({status}); see {}",
                    log.display()
                );
            }
            if began.elapsed() > Duration::from_secs(60) {
                bail!("no search answered within 60 s of the start");
            }
            tokio::time::sleep(POLL).await;
        }
        out.first_search_ms
            .push(began.elapsed().as_secs_f64() * 1000.0);
        out.rss
            .push(Memory::of(server.pid).context("reading the new process's memory")?);
        server.stop().await?;
    }
    Ok(out)
}

impl StartupResult {
    fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    pub fn median_ms(&self) -> f64 {
        Self::median(&self.first_search_ms)
    }

    pub fn median_rss_mib(&self) -> f64 {
        let v: Vec<f64> = self.rss.iter().map(|m| mib(m.rss_kb)).collect();
        Self::median(&v)
    }

    pub fn markdown(&self, interactions: usize) -> String {
        let ms = self.median_ms();
        let rss = self.median_rss_mib();
        let all: Vec<String> = self
            .first_search_ms
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect();
        format!(
            "Start-up on {interactions} interactions ({} starts, the database in the page cache):\n\n\
             | first answered search, median ms | every start ms | target | RSS then, median MiB | target |\n\
             |---:|---|---|---:|---|\n\
             | {ms:.1} | {} | < 100: {} | {rss:.1} | < 20: {} |\n",
            self.first_search_ms.len(),
            all.join(", "),
            if ms < 100.0 { "met" } else { "**missed**" },
            if rss < 20.0 { "met" } else { "**missed**" },
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "firstSearchMs": self.first_search_ms,
            "medianFirstSearchMs": self.median_ms(),
            "medianRssMiB": self.median_rss_mib(),
        })
    }
}
