//! The audit trail's cost on the hot path: the same search load against two servers on
//! the same data, one recording every read (the default) and one started with
//! `CALLVAULT_AUDIT_READS=off`, measured in turns (with, without, with, without) so that
//! drift of the machine falls on both. Target: throughput with audit at least 0.95x.

use std::path::Path;
use std::sync::Arc;

use rand::rngs::StdRng;
use serde_json::{json, Value};

use crate::data::DataSet;
use crate::load::{Bounds, Summary};
use crate::search::{api_load, windows};
use crate::server::{Api, Server};

/// Page size and clients of the comparison: the API's common case under load.
const LIMIT: u32 = 100;
const CLIENTS: usize = 16;
const ROUNDS: usize = 2;

pub struct AuditResult {
    pub with: Vec<Summary>,
    pub without: Vec<Summary>,
}

fn rate(s: &[Summary]) -> f64 {
    s.iter().map(Summary::per_sec).sum::<f64>() / s.len().max(1) as f64
}

impl AuditResult {
    pub fn ratio(&self) -> f64 {
        rate(&self.with) / rate(&self.without).max(f64::MIN_POSITIVE)
    }

    pub fn json(&self) -> Value {
        json!({
            "limit": LIMIT,
            "clients": CLIENTS,
            "withAuditPerSec": rate(&self.with),
            "withoutAuditPerSec": rate(&self.without),
            "ratio": self.ratio(),
        })
    }

    pub fn markdown(&self) -> String {
        format!(
            "| search, limit {LIMIT}, {CLIENTS} clients | {:.0} req/s | {:.0} req/s | {:.3} | >= 0.95 |\n",
            rate(&self.with),
            rate(&self.without),
            self.ratio()
        )
    }
}

pub async fn run(
    api: &Api,
    bin: &Path,
    data_dir: &Path,
    data: &DataSet,
    log: &Path,
    bounds: Bounds,
    rng: &mut StdRng,
) -> anyhow::Result<AuditResult> {
    let windows = Arc::new(windows(data, rng));
    let quiet =
        Server::start_with_env(bin, data_dir, log, &[("CALLVAULT_AUDIT_READS", "off")]).await?;
    let unaudited = Api::connect(bin, data_dir, &quiet, crate::data::TENANT).await?;
    let warm = Bounds {
        duration: std::time::Duration::from_secs(2),
        per_client: 50,
    };
    api_load(api, &windows, LIMIT, CLIENTS, warm).await?;
    api_load(&unaudited, &windows, LIMIT, CLIENTS, warm).await?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        with.push(api_load(api, &windows, LIMIT, CLIENTS, bounds).await?);
        without.push(api_load(&unaudited, &windows, LIMIT, CLIENTS, bounds).await?);
    }
    quiet.stop().await?;
    Ok(AuditResult { with, without })
}
