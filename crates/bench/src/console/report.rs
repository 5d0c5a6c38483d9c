//! The console phase's tables and JSON.

use serde_json::{json, Value};

use super::{ConsoleResult, PageLoad, Play, MAX_PAGE_BYTES};

fn median(v: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1000.0
}

/// The rows of the playback table: a name, the figure of one playback, and whether the
/// two sides' ratio means anything.
type Row = (&'static str, fn(&Play) -> f64, bool);

/// Chromium hands media data to the player in blocks of up to 1 MiB, so the audio
/// received by `playing` is its first block or two on either side: a ratio of the two
/// would measure that granularity, not the servers.
const ROWS: [Row; 6] = [
    ("`play()` called (DOM loaded), ms", |p| p.called_ms, true),
    ("audio requested, ms", |p| p.requested_ms, true),
    ("`playing` event, ms", |p| p.playing_ms, true),
    (
        "**`currentTime` above 0 (first playback)**, ms",
        |p| p.advanced_ms,
        true,
    ),
    (
        "audio received by `playing`, kB",
        |p| kb(p.audio_bytes),
        false,
    ),
    ("everything else fetched, kB", |p| kb(p.page_bytes), true),
];

impl PageLoad {
    fn json(&self) -> Value {
        json!({
            "page": self.page, "transferBytes": self.transfer(),
            "encodedBodyBytes": self.sum("encoded"), "decodedBodyBytes": self.sum("decoded"),
            "entries": self.entries,
        })
    }
}

impl Play {
    fn json(&self) -> Value {
        json!({
            "calledMs": self.called_ms, "requestedMs": self.requested_ms,
            "playingMs": self.playing_ms, "advancedMs": self.advanced_ms,
            "audioBytesByPlaying": self.audio_bytes, "pageBytes": self.page_bytes,
            "waveformMs": self.waveform_ms,
        })
    }
}

impl ConsoleResult {
    fn median_of(runs: &[Play], f: fn(&Play) -> f64) -> f64 {
        median(runs.iter().map(f))
    }

    fn waveform_ms(&self) -> f64 {
        median(self.callvault.iter().filter_map(|p| p.waveform_ms))
    }

    pub fn markdown(&self) -> String {
        let mut s = format!(
            "Console page loads in {} (headless), each in a fresh profile; bytes are Resource Timing's (`transferSize`: the body as sent and 300 bytes that Chromium counts for the headers) of the navigation and every resource but the audio stream:\n\n\
             | page | requests | transferred kB | bodies as sent kB | bodies decoded kB | target < {} kB |\n|---|---:|---:|---:|---:|---|\n",
            self.browser,
            MAX_PAGE_BYTES / 1000
        );
        for p in &self.pages {
            s += &format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {} |\n",
                p.page,
                p.entries.len(),
                kb(p.transfer()),
                kb(p.sum("encoded")),
                kb(p.sum("decoded")),
                if p.transfer() < MAX_PAGE_BYTES {
                    "met"
                } else {
                    "**missed**"
                }
            );
        }
        s += &format!(
            "\nPlayback of a {}-minute MP3 ({:.1} MB, {} kbit/s) in ms from navigation start, the page starting the player as soon as its DOM is loaded; median of {} runs a side, each in a fresh profile, after the call's first view. The peer is nginx serving the same file to a bare page with the same `<audio preload=\"metadata\">`:\n\n\
             | figure | callvault console | nginx bare page | callvault/nginx |\n|---|---:|---:|---:|\n",
            self.recording_ms / 60_000,
            self.recording_bytes as f64 / 1e6,
            self.kbps,
            self.callvault.len()
        );
        for (name, f, ratio) in ROWS {
            let (cv, ng) = (
                Self::median_of(&self.callvault, f),
                Self::median_of(&self.nginx, f),
            );
            let ratio = if ratio {
                format!("{:.2}", cv / ng)
            } else {
                "-".into()
            };
            s += &format!("| {name} | {cv:.0} | {ng:.0} | {ratio} |\n");
        }
        s += &format!(
            "| waveform data received, ms | {:.0} | - | |\n",
            self.waveform_ms()
        );
        let f = &self.first_view;
        s += &format!(
            "\nThe call's first view, while the server decodes the hour for its waveform: `playing` at {:.0} ms, `currentTime` above 0 at {:.0} ms, {:.0} kB of audio by `playing`, waveform data at {}.\n",
            f.playing_ms,
            f.advanced_ms,
            kb(f.audio_bytes),
            f.waveform_ms
                .map_or_else(|| "-".into(), |w| format!("{w:.0} ms"))
        );
        s
    }

    pub fn json(&self) -> Value {
        let medians = |f: fn(&Play) -> f64| {
            let (cv, ng) = (
                Self::median_of(&self.callvault, f),
                Self::median_of(&self.nginx, f),
            );
            json!({"callvault": cv, "nginx": ng, "ratio": cv / ng})
        };
        json!({
            "browser": self.browser, "recordingBytes": self.recording_bytes,
            "recordingMs": self.recording_ms, "kbps": self.kbps, "maxPageBytes": MAX_PAGE_BYTES,
            "pages": self.pages.iter().map(PageLoad::json).collect::<Vec<_>>(),
            "firstView": self.first_view.json(),
            "callvault": self.callvault.iter().map(Play::json).collect::<Vec<_>>(),
            "nginx": self.nginx.iter().map(Play::json).collect::<Vec<_>>(),
            "medianPlayingMs": medians(|p| p.playing_ms),
            "medianAdvancedMs": medians(|p| p.advanced_ms),
            "medianCalledMs": medians(|p| p.called_ms),
            "medianWaveformMs": self.waveform_ms(),
        })
    }
}
