//! CPU time a server spends during a load phase, from `/proc/PID/stat`. On this 2-core
//! machine the load generator competes with the server for the same cores, so throughput
//! alone can hide how much work each server does; CPU per request or per GB does not.

use std::future::Future;

use anyhow::Context;

use crate::load::Summary;

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on x86-64 and arm64 Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Whose CPU time to count.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// One process, all its threads (callvault).
    Process(u32),
    /// A process and its direct children (the nginx master and its workers).
    Tree(u32),
}

impl Probe {
    pub fn seconds(self) -> anyhow::Result<f64> {
        let ticks = match self {
            Probe::Process(pid) => stat(pid)?.ticks,
            Probe::Tree(root) => {
                let mut ticks = stat(root)?.ticks;
                for entry in std::fs::read_dir("/proc")? {
                    let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) else {
                        continue;
                    };
                    // A process may exit between listing and reading; skip it.
                    if let Ok(s) = stat(pid) {
                        if s.ppid == root {
                            ticks += s.ticks;
                        }
                    }
                }
                ticks
            }
        };
        Ok(ticks as f64 / TICKS_PER_SEC)
    }
}

/// Runs a load phase and records the CPU seconds `probe` spent during it.
pub async fn measure(
    probe: Probe,
    phase: impl Future<Output = anyhow::Result<Summary>>,
) -> anyhow::Result<Summary> {
    let before = probe.seconds()?;
    let mut summary = phase.await?;
    summary.server_cpu_secs = Some(probe.seconds()? - before);
    Ok(summary)
}

struct Stat {
    ppid: u32,
    ticks: u64,
}

fn stat(pid: u32) -> anyhow::Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is parenthesised and may hold spaces: split after it.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name start at 3 (state): ppid is 4, utime 14, stime 15.
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no field {n} in /proc/{pid}/stat"))
    };
    Ok(Stat {
        ppid: field(4)? as u32,
        ticks: field(14)? + field(15)?,
    })
}
