//! The audit trail's cost on the hot path: the same loads against two servers on the
//! same data, one recording every read (the default) and one started with
//! `CALLVAULT_AUDIT_READS=off`, measured in turns (with, without, with, without) so that
//! drift of the machine falls on both. The loads: search pages (a "search" record each),
//! 1 MiB ranges of a 10 MiB recording (a "play" record each, the most records per byte)
//! and the whole recording (a "download" record each). Target: throughput with audit at
//! least 0.95x.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use serde_json::{json, Value};

use crate::data::DataSet;
use crate::download::{self, Mode};
use crate::load::{Bounds, Summary};
use crate::search::{api_load, windows};
use crate::server::{Api, Server};

/// Page size and clients of the search comparison: the API's common case under load.
const LIMIT: u32 = 100;
const CLIENTS: usize = 16;
const ROUNDS: usize = 2;

/// One load measured with and without the trail.
pub struct Row {
    pub load: String,
    pub with: Vec<Summary>,
    pub without: Vec<Summary>,
    /// Bytes per second rather than requests per second.
    pub bytes: bool,
}

pub struct AuditResult {
    pub rows: Vec<Row>,
}

impl Row {
    fn rate(&self, s: &[Summary]) -> f64 {
        let each = |x: &Summary| {
            if self.bytes {
                x.mb_per_sec()
            } else {
                x.per_sec()
            }
        };
        s.iter().map(each).sum::<f64>() / s.len().max(1) as f64
    }

    pub fn ratio(&self) -> f64 {
        self.rate(&self.with) / self.rate(&self.without).max(f64::MIN_POSITIVE)
    }

    fn unit(&self) -> &'static str {
        if self.bytes {
            "MB/s"
        } else {
            "req/s"
        }
    }
}

impl AuditResult {
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "load": r.load, "unit": r.unit(),
                    "withAudit": r.rate(&r.with), "withoutAudit": r.rate(&r.without),
                    "ratio": r.ratio(),
                })
            })
            .collect();
        json!({ "clients": CLIENTS, "rows": rows })
    }

    pub fn markdown(&self) -> String {
        self.rows
            .iter()
            .map(|r| {
                format!(
                    "| {} | {:.0} {u} | {:.0} {u} | {:.3} | >= 0.95 |\n",
                    r.load,
                    r.rate(&r.with),
                    r.rate(&r.without),
                    r.ratio(),
                    u = r.unit()
                )
            })
            .collect()
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
    // One recording for the download loads, stored before the second server starts so
    // that both serve it.
    let guid = uuid::Uuid::new_v4().hyphenated().to_string();
    let wav = crate::wav::random_wav(download::FILE_LEN, rng);
    crate::ingest::put_recording(api, &guid, wav).await?;
    let quiet =
        Server::start_with_env(bin, data_dir, log, &[("CALLVAULT_AUDIT_READS", "off")]).await?;
    let unaudited = Api::connect(bin, data_dir, &quiet, crate::data::TENANT).await?;
    let warm = Bounds {
        duration: Duration::from_secs(2),
        per_client: 50,
    };
    let mut rows = Vec::new();
    // `None` is the search load, `Some(mode)` a download load.
    for mode in [None, Some(Mode::Range), Some(Mode::Whole)] {
        let once = |target: &Api, b: Bounds| {
            let (target, windows, guid) = (target.clone(), windows.clone(), guid.clone());
            async move {
                match mode {
                    None => api_load(&target, &windows, LIMIT, CLIENTS, b).await,
                    Some(m) => download::api_load(&target, &guid, m, CLIENTS, b).await,
                }
            }
        };
        once(api, warm).await?;
        once(&unaudited, warm).await?;
        let mut row = Row {
            load: match mode {
                None => format!("search, limit {LIMIT}, {CLIENTS} clients"),
                Some(m) => format!("{}, {CLIENTS} clients", m.name()),
            },
            with: Vec::new(),
            without: Vec::new(),
            bytes: mode.is_some(),
        };
        for _ in 0..ROUNDS {
            row.with.push(once(api, bounds).await?);
            row.without.push(once(&unaudited, bounds).await?);
        }
        rows.push(row);
    }
    quiet.stop().await?;
    Ok(AuditResult { rows })
}
