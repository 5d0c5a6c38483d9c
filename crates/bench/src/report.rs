//! The results: Markdown tables on stdout (pasted as-is into `docs/benchmarks.md`) and the
//! same figures as JSON in `results.json`.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::bulk::{self, BulkResult};
use crate::download::{DownloadResult, Mode};
use crate::export::ExportResult;
use crate::ingest::IngestResult;
use crate::load::ms;
use crate::rss::{mib, Memory};
use crate::scale::ScaleResult;
use crate::search::SearchResult;

/// Search target: API p99 at most this multiple of the SQLite floor's p99.
pub const SEARCH_MAX_P99_RATIO: f64 = 2.0;

pub struct Results {
    pub cores: usize,
    pub mem_total_kb: Option<u64>,
    pub quick: bool,
    pub interactions: usize,
    pub window_interactions: usize,
    pub data_build_secs: f64,
    pub search: Vec<SearchResult>,
    pub text: Vec<crate::text::TextResult>,
    pub hooks: Option<crate::hooks::HooksResult>,
    pub audit: Option<crate::audit::AuditResult>,
    pub retention: Option<crate::retention::RetentionResult>,
    pub download: Vec<DownloadResult>,
    pub ingest: Vec<IngestResult>,
    pub startup: Option<crate::startup::StartupResult>,
    pub bulk: Option<BulkResult>,
    pub export: Option<ExportResult>,
    pub scale: Option<ScaleResult>,
    pub words: Option<crate::words::WordsResult>,
    pub console: Option<crate::console::ConsoleResult>,
    pub memory: Vec<(&'static str, Memory)>,
}

/// An optional figure, or a dash.
fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

impl Results {
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let mem = self
            .mem_total_kb
            .map(|kb| format!(", {:.1} GiB RAM", mib(kb) / 1024.0))
            .unwrap_or_default();
        let quick = if self.quick { ", quick run" } else { "" };
        if self.interactions > 0 {
            let _ = writeln!(
                s,
                "{} interactions (~{} per 7-day window), {} cores{mem}{quick}; data set built in {:.0} s.\n",
                self.interactions, self.window_interactions, self.cores, self.data_build_secs
            );
        } else {
            let _ = writeln!(s, "{} cores{mem}{quick}.\n", self.cores);
        }
        if !self.search.is_empty() {
            self.search_table(&mut s);
        }
        if let Some(a) = &self.audit {
            let _ = writeln!(s, "Audit trail on the hot path (reads recorded vs. `CALLVAULT_AUDIT_READS=off`, same data, measured in turns):\n");
            let _ = writeln!(s, "| load | with audit | without | ratio | target |");
            let _ = writeln!(s, "|---|---:|---:|---:|---|");
            let _ = writeln!(s, "{}", a.markdown());
        }
        if !self.text.is_empty() {
            let _ = writeln!(s, "Search by what was said (`/transcripts/search`, limit 25, newest first, one client) over a transcript of three segments per interaction, against the same three statements through SQLite's C library:\n");
            let _ = writeln!(s, "| query | API p50 / p99 ms | raw FTS5 p50 / p99 ms | p50 ratio | p99 ratio | target p99 |");
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
            for t in &self.text {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} | {:.2} | ≤ 2: {} |",
                    t.kind,
                    ms(t.api.p50),
                    ms(t.api.p99),
                    ms(t.raw.p50),
                    ms(t.raw.p99),
                    t.p50_ratio(),
                    t.p99_ratio(),
                    verdict(t.p99_ratio() <= 2.0)
                );
            }
            let _ = writeln!(s);
        }
        if let Some(h) = &self.hooks {
            let _ = writeln!(s, "Webhooks: ingest with three subscriptions to every upload (`content.created`, a local receiver) against none, in turns:\n");
            let _ = writeln!(s, "| load | with | without | ratio | target |");
            let _ = writeln!(s, "|---|---:|---:|---:|---|");
            let _ = writeln!(s, "{}", h.markdown());
        }
        if let Some(w) = &self.words {
            let _ = writeln!(s, "Transcription with the built-in engine (PocketSphinx 5prealpha, Debian's en-us model), end to end through the server; WER is word edits over reference words:\n");
            let _ = writeln!(s, "{}", w.markdown());
        }
        if let Some(c) = &self.console {
            let _ = writeln!(s, "{}", c.markdown());
        }
        if let Some(r) = &self.retention {
            let _ = writeln!(s, "Retention deleting the older half of a copy of the data set (`callvault governance retention`), {} search clients at limit 100 on the same tenant:\n", 4);
            let _ = writeln!(s, "| deleted | took | deleted/s | search p50 / p99 before | during | during/before p50 / p99 |");
            let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
            let _ = writeln!(s, "{}", r.markdown());
        }
        if !self.download.is_empty() {
            self.download_table(&mut s);
        }
        if !self.ingest.is_empty() {
            self.ingest_table(&mut s);
        }
        if let Some(st) = &self.startup {
            let _ = writeln!(s, "{}", st.markdown(self.interactions));
        }
        if let Some(b) = &self.bulk {
            bulk_table(&mut s, b);
        }
        if let Some(e) = &self.export {
            e.markdown(&mut s);
        }
        if let Some(sc) = &self.scale {
            sc.markdown(&mut s);
        }
        let _ = writeln!(s, "Server memory:\n");
        let _ = writeln!(s, "| when | RSS MiB | peak RSS (VmHWM) MiB |");
        let _ = writeln!(s, "|---|---:|---:|");
        for (when, m) in &self.memory {
            let _ = writeln!(
                s,
                "| {when} | {:.1} | {:.1} |",
                mib(m.rss_kb),
                mib(m.hwm_kb)
            );
        }
        s
    }

    fn search_table(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "Search, random 7-day windows; the floor is the same statements through SQLite's C library:\n"
        );
        let _ = writeln!(
            s,
            "| limit | clients | API req/s | API p50 ms | API p99 ms | server CPU ms/req | floor req/s | floor p50 ms | floor p99 ms | p50 API/floor | p99 API/floor | target ≤ {SEARCH_MAX_P99_RATIO} |"
        );
        let _ = writeln!(
            s,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for r in &self.search {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                r.limit,
                r.clients,
                r.api.per_sec(),
                ms(r.api.p50),
                ms(r.api.p99),
                opt(r.api.cpu_ms_per_request(), 2),
                r.raw.per_sec(),
                ms(r.raw.p50),
                ms(r.raw.p99),
                r.p50_ratio(),
                r.p99_ratio(),
                verdict(r.p50_ratio().max(r.p99_ratio()) <= SEARCH_MAX_P99_RATIO)
            );
        }
        let _ = writeln!(s);
    }

    fn download_table(&self, s: &mut String) {
        let _ = writeln!(s, "Download of a 10 MiB WAV:\n");
        let _ = writeln!(
            s,
            "| request | clients | callvault MB/s | p99 ms | CPU s/GB | nginx MB/s | p99 ms | CPU s/GB | callvault/nginx | target |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for r in &self.download {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.1} | {} | {:.0} | {:.1} | {} | {:.2} | ≥ {}: {} |",
                r.mode.name(),
                r.clients,
                r.callvault.mb_per_sec(),
                ms(r.callvault.p99),
                opt(r.callvault.cpu_secs_per_gb(), 2),
                r.nginx.mb_per_sec(),
                ms(r.nginx.p99),
                opt(r.nginx.cpu_secs_per_gb(), 2),
                r.ratio(),
                r.mode.min_ratio(),
                verdict(r.ratio() >= r.mode.min_ratio())
            );
        }
        let _ = writeln!(s);
    }

    fn ingest_table(&self, s: &mut String) {
        let _ = writeln!(s, "Durable ingest of distinct 100 kB WAVs:\n");
        let _ = writeln!(
            s,
            "| clients | requests/rec | recordings/s | MB/s | p50 ms | p99 ms | server CPU ms/rec | write+fsync files/s | API/floor | disk flushes per rec / per floor file |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &self.ingest {
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.2} | {} |",
                r.clients,
                r.requests,
                r.api.per_sec(),
                r.api.mb_per_sec(),
                ms(r.api.p50),
                ms(r.api.p99),
                opt(r.api.cpu_ms_per_request(), 2),
                r.floor.per_sec(),
                r.ratio(),
                match (r.api_io, r.floor_io) {
                    (Some(api), Some(floor)) => format!(
                        "{:.2} / {:.2}",
                        api.per(r.api.requests).1,
                        floor.per(r.floor.requests).1
                    ),
                    _ => "n/a".to_string(),
                }
            );
        }
        let _ = writeln!(s);
    }

    pub fn json(&self) -> Value {
        json!({
            "machine": { "cores": self.cores, "memTotalKiB": self.mem_total_kb },
            "quick": self.quick,
            "interactions": self.interactions,
            "windowInteractions": self.window_interactions,
            "dataBuildSecs": self.data_build_secs,
            "targets": {
                "searchMaxP99Ratio": SEARCH_MAX_P99_RATIO,
                "downloadMinRatio": { "whole": Mode::Whole.min_ratio(), "ranges": Mode::Range.min_ratio() },
                "bulkMinRatio": bulk::MIN_RATIO,
                "bulkMaxPeakMiB": bulk::MAX_PEAK_MIB,
            },
            "search": self.search.iter().map(SearchResult::json).collect::<Vec<_>>(),
            "text": self.text.iter().map(crate::text::TextResult::json).collect::<Vec<_>>(),
            "webhooks": self.hooks.as_ref().map(crate::hooks::HooksResult::json),
            "audit": self.audit.as_ref().map(crate::audit::AuditResult::json),
            "retention": self.retention.as_ref().map(crate::retention::RetentionResult::json),
            "download": self.download.iter().map(DownloadResult::json).collect::<Vec<_>>(),
            "ingest": self.ingest.iter().map(IngestResult::json).collect::<Vec<_>>(),
            "startup": self.startup.as_ref().map(crate::startup::StartupResult::json),
            "bulk": self.bulk.as_ref().map(BulkResult::json),
            "export": self.export.as_ref().map(ExportResult::json),
            "scale": self.scale.as_ref().map(ScaleResult::json),
            "transcription": self.words.as_ref().map(crate::words::WordsResult::json),
            "console": self.console.as_ref().map(crate::console::ConsoleResult::json),
            "memory": self.memory.iter().map(|(when, m)| {
                let mut v = m.json();
                v["when"] = Value::from(*when);
                v
            }).collect::<Vec<_>>(),
        })
    }
}

/// The bulk download: callvault's export ZIP against `zip -0` over the same files.
fn bulk_table(s: &mut String, b: &BulkResult) {
    let _ = writeln!(
        s,
        "Bulk download: export ZIP of {} distinct {} MiB recordings ({:.2} GB), median of {} rounds; export job ready in {:.1} s:\n",
        b.recordings,
        bulk::FILE_LEN >> 20,
        b.payload_bytes as f64 / 1e9,
        b.callvault.len(),
        b.job_secs
    );
    let _ = writeln!(
        s,
        "| producer | archive MB | wall s | MB/s | CPU s/GB | callvault/peer | target ≥ {} |",
        bulk::MIN_RATIO
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|");
    let rows = [
        ("callvault `GET download_url`", &b.callvault, None),
        (
            "`zip -0` to stdout > /dev/null",
            &b.zip_stdout,
            Some(b.ratio(&b.zip_stdout)),
        ),
        (
            "`zip -0` to a file",
            &b.zip_file,
            Some(b.ratio(&b.zip_file)),
        ),
        (
            "read floor: `read()` into 1 MiB",
            &b.read_floor,
            Some(b.ratio(&b.read_floor)),
        ),
    ];
    for (i, (name, runs, ratio)) in rows.into_iter().enumerate() {
        let m = b.median(runs);
        let _ = writeln!(
            s,
            "| {name} | {} | {:.2} | {:.0} | {:.2} | {} | {} |",
            m.archive_bytes
                .map_or_else(|| "-".into(), |v| format!("{:.1}", v as f64 / 1e6)),
            m.secs,
            b.mb_per_sec(runs),
            b.cpu_secs_per_gb(runs),
            opt(ratio, 2),
            match ratio {
                Some(r) if i < 3 => verdict(r >= bulk::MIN_RATIO),
                Some(_) => "(context)",
                None => "",
            }
        );
    }
    let peak = mib(b.peak_kb());
    let before = mib(b.rss_before_kb);
    // After the other phases the server already holds their caches; the target is about
    // what the download itself needs, which a `--only bulk` run shows.
    let note = if before >= bulk::MAX_PEAK_MIB {
        " (the RSS was already above it before the download, from the earlier phases; `--only bulk` measures the download alone)"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "\nServer RSS during the downloads: {before:.1} MiB before, peak {peak:.1} MiB (+{:.1}; sampled every 50 ms: {:.1}; VmHWM since reset: {}); target < {} MiB: {}{note}. {} entries in the ZIP{}.\n",
        peak - before,
        mib(b.sampled_peak_kb()),
        opt(b.hwm_kb.map(mib), 1),
        bulk::MAX_PEAK_MIB,
        verdict(peak < bulk::MAX_PEAK_MIB),
        b.check.entries,
        if b.check.zip64 { " (zip64)" } else { "" }
    );
}
