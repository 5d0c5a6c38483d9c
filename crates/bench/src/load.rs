//! A closed-loop load driver: `clients` workers each issue one operation after another
//! until a deadline or a per-worker count, whichever comes first. Every figure of the
//! benchmark, callvault's and its peer's alike, comes from this one driver so that both
//! sides are measured the same way.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

/// When a load phase stops.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub duration: Duration,
    pub per_client: usize,
}

/// What one load phase measured.
#[derive(Debug, Clone)]
pub struct Summary {
    pub clients: usize,
    pub requests: usize,
    pub bytes: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// CPU seconds the server under test spent, when the phase was run through
    /// [`crate::cpu::measure`].
    pub server_cpu_secs: Option<f64>,
}

impl Summary {
    pub fn per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Decimal megabytes (10^6 bytes) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    /// Server CPU milliseconds per request.
    pub fn cpu_ms_per_request(&self) -> Option<f64> {
        self.server_cpu_secs
            .map(|c| c * 1000.0 / self.requests as f64)
    }

    /// Server CPU seconds per decimal gigabyte moved.
    pub fn cpu_secs_per_gb(&self) -> Option<f64> {
        self.server_cpu_secs.map(|c| c / (self.bytes as f64 / 1e9))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "clients": self.clients,
            "requests": self.requests,
            "bytes": self.bytes,
            "elapsedSecs": self.elapsed.as_secs_f64(),
            "perSec": self.per_sec(),
            "mbPerSec": self.mb_per_sec(),
            "p50Ms": ms(self.p50),
            "p99Ms": ms(self.p99),
            "serverCpuSecs": self.server_cpu_secs,
            "serverCpuMsPerRequest": self.cpu_ms_per_request(),
            "serverCpuSecsPerGb": self.cpu_secs_per_gb(),
        })
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `op(client, iteration)` from `clients` concurrent tasks. `op` answers the number of
/// payload bytes it moved. Any failed operation fails the phase: a benchmark that counted
/// errors as fast responses would flatter whoever produced them.
pub async fn run<F, Fut>(clients: usize, bounds: Bounds, op: F) -> anyhow::Result<Summary>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0u64;
            for i in 0..bounds.per_client {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                bytes += op(client, i).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok((latencies, bytes))
        }));
    }
    let mut latencies = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        let (l, b) = task.await.context("load worker panicked")??;
        latencies.extend(l);
        bytes += b;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    anyhow::ensure!(
        !latencies.is_empty(),
        "the load phase completed no operation"
    );
    Ok(Summary {
        clients,
        requests: latencies.len(),
        bytes,
        elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        server_cpu_secs: None,
    })
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&v[..1], 0.99), Duration::from_millis(1));
    }
}
