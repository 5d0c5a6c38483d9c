//! The console (issue 17): the bytes of its first page loads against the target
//! (under 300 kB as sent), and the time from navigation start to playback of a 60-minute
//! recording, in Debian's Chromium, against the same browser playing the same MP3 from
//! nginx in a bare page with the same `<audio>` element. Every page load has a profile of
//! its own (an empty cache). Page bytes are Resource Timing's `transferSize` (headers and
//! body as sent, compressed if they were) of the navigation and every resource; the audio
//! stream's bytes come from DevTools' network events, since Resource Timing reports a
//! media fetch with its headers only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::browser::{Browser, Driver};
use crate::nginx::Nginx;
use crate::server::{admin, create_admin_user, Api, Server};

mod playback;
mod report;

const TENANT: &str = "console";
const LOGIN: &str = "ann";
const PASSWORD: &str = "console-bench-password";
/// The console's session cookie (`callvault_http::console::session::COOKIE`).
const COOKIE: &str = "cv_session";
const RECORDING_MS: u64 = 60 * 60 * 1000;
/// The target for a first page load, in bytes as sent.
pub const MAX_PAGE_BYTES: u64 = 300_000;
const PEER_PAGE: &str = "/play.html";
const PEER_AUDIO: &str = "/recording.mp3";
/// Time for requests that follow the load event (the favicon) to reach Resource Timing.
const SETTLE: Duration = Duration::from_millis(500);

pub struct Config {
    pub nginx: PathBuf,
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
    /// Playbacks on each side after the call's first view.
    pub rounds: usize,
}

/// The bytes of one page load.
pub struct PageLoad {
    pub page: &'static str,
    /// `{name, type, transfer, encoded, decoded}` of the navigation and each resource.
    pub entries: Vec<Value>,
}

impl PageLoad {
    pub fn sum(&self, field: &str) -> u64 {
        self.entries.iter().filter_map(|e| e[field].as_u64()).sum()
    }

    pub fn transfer(&self) -> u64 {
        self.sum("transfer")
    }
}

/// One playback, in milliseconds from navigation start.
pub struct Play {
    /// When the page asked the player to play (its DOM loaded).
    pub called_ms: f64,
    /// When the first request for the audio was sent.
    pub requested_ms: f64,
    pub playing_ms: f64,
    /// When `currentTime` was first seen above zero.
    pub advanced_ms: f64,
    /// Audio bytes the browser had received by the `playing` event.
    pub audio_bytes: u64,
    /// Everything else the page fetched (Resource Timing's `transferSize`).
    pub page_bytes: u64,
    /// When the waveform's data had arrived (the console only).
    pub waveform_ms: Option<f64>,
}

pub struct ConsoleResult {
    pub browser: String,
    pub recording_bytes: u64,
    pub recording_ms: u64,
    pub kbps: u32,
    pub pages: Vec<PageLoad>,
    /// The call's first view, when the server decodes its waveform.
    pub first_view: Play,
    pub callvault: Vec<Play>,
    pub nginx: Vec<Play>,
}

/// What one playback loads: the page, and the session cookie if any.
struct Target<'a> {
    name: &'static str,
    url: String,
    cookie: Option<(&'a str, &'a str)>,
}

pub async fn run(
    bin: &Path,
    work: &Path,
    log: &Path,
    cfg: &Config,
) -> anyhow::Result<ConsoleResult> {
    let data_dir = work.join("console");
    let tenant = admin(bin, &data_dir, &["tenant", "create", TENANT]).await?;
    let tenant_id = tenant["id"]
        .as_i64()
        .context("tenant create printed no id")?;
    create_admin_user(bin, &data_dir, TENANT, LOGIN, PASSWORD).await?;
    let mp3 = crate::mp3::repeated_call(RECORDING_MS)?;
    let sha = hex::encode(Sha256::digest(&mp3.bytes));
    let recording_bytes = mp3.bytes.len() as u64;
    let server = Server::start(bin, &data_dir, log).await?;
    let result = async {
        let api = Api::connect(bin, &data_dir, &server, TENANT).await?;
        let guid = uuid::Uuid::new_v4().hyphenated().to_string();
        crate::ingest::put_call(&api, &guid, "audio/mpeg", mp3.bytes).await?;
        let blob = data_dir.join(format!("content/blobs/t{tenant_id}/{}/{sha}", &sha[..2]));
        ensure!(
            blob.is_file(),
            "the uploaded blob is not at {}",
            blob.display()
        );
        let page = work.join("console-peer.html");
        std::fs::write(&page, peer_page())?;
        let nginx = Nginx::serve(
            &cfg.nginx,
            &work.join("console-nginx"),
            &[(PEER_AUDIO, &blob), (PEER_PAGE, &page)],
        )
        .await?;
        let measured = measure(&server.base, &nginx.base, &guid, work, cfg).await;
        nginx.stop().await?;
        measured
    }
    .await;
    server.stop().await?;
    let (browser, pages, first_view, callvault, nginx) = result?;
    Ok(ConsoleResult {
        browser,
        recording_bytes,
        recording_ms: mp3.duration_ms,
        kbps: mp3.kbps,
        pages,
        first_view,
        callvault,
        nginx,
    })
}

/// The peer: nothing but the console's `<audio>` element, on the same file.
fn peer_page() -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Peer</title></head>\n\
         <body><audio id=\"player\" controls preload=\"metadata\" src=\"{PEER_AUDIO}\"></audio></body></html>\n"
    )
}

type Measured = (String, Vec<PageLoad>, Play, Vec<Play>, Vec<Play>);

async fn measure(
    base: &str,
    peer: &str,
    guid: &str,
    work: &Path,
    cfg: &Config,
) -> anyhow::Result<Measured> {
    let mut driver =
        Driver::start(&cfg.chromedriver, &cfg.chromium, &work.join("chromium")).await?;
    let cookie = session_cookie(base).await?;
    let mut pages = Vec::new();

    let b = driver.session().await?;
    let browser = b.version();
    let signed_in = async {
        b.goto(&format!("{base}/sign-in")).await?;
        pages.push(page_load("sign-in, cold", &b).await?);
        sign_in(&b).await?;
        pages.push(page_load("find calls after signing in (stylesheet cached)", &b).await?);
        anyhow::Ok(())
    }
    .await;
    b.close().await?;
    signed_in?;

    let b = driver.session().await?;
    let find = async {
        b.set_cookie(base, COOKIE, &cookie).await?;
        b.goto(&format!("{base}/")).await?;
        ensure!(
            b.js("return location.pathname;").await? == "/",
            "the cookie did not sign in"
        );
        page_load("find calls, empty cache", &b).await
    }
    .await;
    b.close().await?;
    pages.push(find?);

    let call = Target {
        name: "call with a 60-minute recording, empty cache",
        url: format!("{base}/calls/{guid}"),
        cookie: Some((base, &cookie)),
    };
    let bare = Target {
        name: "the peer's bare page, empty cache",
        url: format!("{peer}{PEER_PAGE}"),
        cookie: None,
    };
    let (first_view, call_page) = playback::play(&mut driver, &call).await?;
    pages.push(call_page);
    let (mut callvault, mut nginx) = (Vec::new(), Vec::new());
    for _ in 0..cfg.rounds {
        nginx.push(playback::play(&mut driver, &bare).await?.0);
        callvault.push(playback::play(&mut driver, &call).await?.0);
    }
    Ok((browser, pages, first_view, callvault, nginx))
}

/// Signs in with the sign-in form's post, as the browser would, and answers the cookie's
/// value.
async fn session_cookie(base: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let r = http
        .post(format!("{base}/sign-in"))
        .header("Origin", base)
        .form(&[("tenant", TENANT), ("login", LOGIN), ("password", PASSWORD)])
        .send()
        .await?;
    ensure!(
        r.status().as_u16() == 303,
        "signing in answered {}",
        r.status()
    );
    let set = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .context("signing in set no cookie")?;
    let pair = set.split(';').next().unwrap_or_default();
    pair.strip_prefix(&format!("{COOKIE}="))
        .map(str::to_string)
        .context("signing in set another cookie")
}

/// Fills and submits the sign-in form, and waits for the page it leads to.
async fn sign_in(b: &Browser) -> anyhow::Result<()> {
    b.js(&format!(
        "document.getElementById('tenant').value = '{TENANT}';
         document.getElementById('login').value = '{LOGIN}';
         document.getElementById('password').value = '{PASSWORD}';
         window.leftBehind = true;
         document.querySelector(\"form[action='/sign-in']\").requestSubmit();
         return true;"
    ))
    .await?;
    for _ in 0..200 {
        // Asked while the page is changing, the driver may answer with an error.
        let at = b
            .js("return window.leftBehind === undefined && document.readyState === 'complete' ? location.pathname : null;")
            .await;
        match at {
            Ok(Value::String(path)) if path == "/" => return Ok(()),
            Ok(Value::String(path)) => bail!("signing in led to {path}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    bail!("signing in loaded no page within 10 s")
}

/// The navigation and every resource of the current page but media streams.
const ENTRIES_JS: &str = "return performance.getEntriesByType('navigation')
  .concat(performance.getEntriesByType('resource'))
  .filter(e => e.initiatorType !== 'audio')
  .map(e => ({name: e.name, type: e.initiatorType, transfer: e.transferSize,
              encoded: e.encodedBodySize, decoded: e.decodedBodySize, end: e.responseEnd}));";

async fn page_load(page: &'static str, b: &Browser) -> anyhow::Result<PageLoad> {
    tokio::time::sleep(SETTLE).await;
    let entries = b.js(ENTRIES_JS).await?;
    let entries = entries
        .as_array()
        .context("no Resource Timing entries")?
        .clone();
    ensure!(!entries.is_empty(), "{page}: no Resource Timing entries");
    Ok(PageLoad { page, entries })
}
