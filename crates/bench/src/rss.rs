//! The server's memory as the kernel accounts it: current resident set (`VmRSS`) and its
//! high-water mark (`VmHWM`) from `/proc/PID/status`.

use anyhow::Context;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

impl Memory {
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok(Self {
            rss_kb: field("VmRSS:")?,
            hwm_kb: field("VmHWM:")?,
        })
    }

    pub fn json(&self) -> Value {
        json!({ "rssMiB": mib(self.rss_kb), "peakMiB": mib(self.hwm_kb) })
    }
}

pub fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Total memory of the machine, from `/proc/meminfo`, for the report.
pub fn machine_total_kb() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    })
}
