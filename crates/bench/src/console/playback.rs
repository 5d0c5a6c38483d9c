//! One playback in a fresh browser: the page starts the player as soon as its DOM is
//! loaded, and notes the moments on its own clock; DevTools' network events give when the
//! audio was asked for and how much of it had arrived by the time it played.

use std::collections::HashSet;

use anyhow::{bail, Context};
use serde_json::Value;

use super::{page_load, PageLoad, Play, Target, COOKIE};
use crate::browser::Driver;

/// Run in every document before its own scripts: once the DOM is there (the console's
/// deferred scripts have run), starts the player and notes when it was asked to play,
/// when the `playing` event came and when `currentTime` was first above zero. Nothing
/// of the driver's round trips is in these times.
const PLAY_JS: &str = "document.addEventListener('DOMContentLoaded', () => {
  const a = document.getElementById('player');
  if (!a) return;
  const r = window.benchPlay = {called: performance.now(), origin: performance.timeOrigin};
  a.addEventListener('playing', () => { if (r.playing === undefined) r.playing = performance.now(); });
  const tick = () => {
    if (a.currentTime > 0) { r.src = a.currentSrc; r.advanced = performance.now(); }
    else setTimeout(tick, 2);
  };
  a.play().then(tick, e => { r.error = String(e); });
});";

/// Waits for [`PLAY_JS`]'s answer, and for the console's waveform to be drawn.
const WAIT_JS: &str = "const w = document.getElementById('waveform');
  const check = () => {
    const r = window.benchPlay;
    if (r && r.error) done(r);
    else if (r && r.advanced !== undefined && (!w || w.classList.contains('ready'))) done(r);
    else setTimeout(check, 5);
  };
  check();";

/// Loads `t` in a fresh browser and plays it; answers the playback and the page's bytes.
pub(super) async fn play(driver: &mut Driver, t: &Target<'_>) -> anyhow::Result<(Play, PageLoad)> {
    let b = driver.session().await?;
    let played = async {
        if let Some((base, value)) = t.cookie {
            b.set_cookie(base, COOKIE, value).await?;
        }
        b.run_in_new_documents(PLAY_JS).await?;
        b.network_events().await?;
        b.goto(&t.url).await?;
        let p = b.js_async(WAIT_JS).await?;
        if let Some(e) = p.get("error") {
            bail!("{} did not play: {e}", t.url);
        }
        let num = |k: &str| {
            p[k].as_f64()
                .with_context(|| format!("no {k} from the player"))
        };
        let origin = num("origin")?;
        let page = page_load(t.name, &b).await?;
        let waveform_ms = page
            .entries
            .iter()
            .find(|e| e["name"].as_str().is_some_and(|n| n.contains("/peaks/")))
            .and_then(|e| e["end"].as_f64());
        let src = p["src"].as_str().context("no audio source")?;
        let events = b.network_events().await?;
        let audio = audio_fetch(&events, &t.url, src, origin, num("playing")?)?;
        let play = Play {
            called_ms: num("called")?,
            requested_ms: audio.requested_ms,
            playing_ms: num("playing")?,
            advanced_ms: num("advanced")?,
            audio_bytes: audio.bytes_by_playing,
            page_bytes: page.transfer(),
            waveform_ms,
        };
        Ok((play, page))
    }
    .await;
    b.close().await?;
    played
}

/// The audio stream as DevTools saw it.
struct AudioFetch {
    /// When its first request was sent, in ms from navigation start.
    requested_ms: f64,
    bytes_by_playing: u64,
}

/// The fetch of `audio` by the page at `page`, whose clock started at `origin` (epoch
/// ms), up to `playing_ms` on that clock. DevTools stamps events with a monotonic clock;
/// the document request's wall time and stamp map one onto the other.
fn audio_fetch(
    events: &[Value],
    page: &str,
    audio: &str,
    origin: f64,
    playing_ms: f64,
) -> anyhow::Result<AudioFetch> {
    let sent = |e: &&Value| e["method"] == "Network.requestWillBeSent";
    let doc = events
        .iter()
        .filter(sent)
        .find(|e| e["params"]["type"] == "Document" && e["params"]["request"]["url"] == page)
        .context("no document request in the network events")?;
    let (wall, stamp) = (
        doc["params"]["wallTime"].as_f64().context("no wallTime")?,
        doc["params"]["timestamp"]
            .as_f64()
            .context("no timestamp")?,
    );
    // Milliseconds on the page's clock of a DevTools stamp.
    let page_ms = |t: f64| (wall + (t - stamp)) * 1000.0 - origin;
    let requests: Vec<&Value> = events
        .iter()
        .filter(sent)
        .filter(|e| e["params"]["request"]["url"] == audio)
        .collect();
    let ids: HashSet<&str> = requests
        .iter()
        .filter_map(|e| e["params"]["requestId"].as_str())
        .collect();
    let first = requests
        .iter()
        .filter_map(|e| e["params"]["timestamp"].as_f64())
        .min_by(f64::total_cmp)
        .with_context(|| format!("no request for {audio} in the network events"))?;
    let bytes_by_playing = events
        .iter()
        .filter(|e| e["method"] == "Network.dataReceived")
        .filter(|e| {
            e["params"]["requestId"]
                .as_str()
                .is_some_and(|id| ids.contains(id))
        })
        .filter(|e| {
            e["params"]["timestamp"]
                .as_f64()
                .is_some_and(|t| page_ms(t) <= playing_ms)
        })
        .filter_map(|e| e["params"]["dataLength"].as_u64())
        .sum();
    Ok(AudioFetch {
        requested_ms: page_ms(first),
        bytes_by_playing,
    })
}
