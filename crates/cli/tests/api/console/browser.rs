//! The console in a real browser: Debian's Chromium, headless, driven through
//! chromedriver (both installed by scripts/test.sh) against a real server. Screenshots
//! of the main pages are written to `target/console-screenshots/`; axe-core (installed
//! by scripts/test.sh under `.cache/`) checks each main page for accessibility.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::process::{Child, Command};

use super::{Acme, TRANSCRIPT};
use crate::common::guid;

mod admin;
mod exports;
mod find;
mod govern;

/// A headless Chromium with a fresh profile, and the chromedriver that drives it.
struct Browser {
    c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// A test that fails before `close` would leave Chromium running (chromedriver starts it
/// and does not take it along when killed), so chromedriver runs in a process group of
/// its own, which is killed whole when the browser is dropped.
impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (scripts/test.sh installs Debian's chromium-driver)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = callvault_testkit::chromium::args(profile.path());
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": callvault_testkit::chromium::binary(), "args": args },
        });
        let c = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Self {
            c,
            driver,
            _profile: profile,
        }
    }

    async fn close(self) {
        self.c.clone().close().await.unwrap();
    }

    async fn sign_in(&self, a: &Acme, login: &str) {
        self.c.goto(&a.s.url("/sign-in")).await.unwrap();
        self.fill("#tenant", "acme").await;
        self.fill("#login", login).await;
        self.fill("#password", &format!("{login}-password")).await;
        self.click_to_load("form[action='/sign-in'] button").await;
        assert_eq!(self.path().await, "/", "signed in, on the find page");
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks what submits a form or follows a link, and returns once the browser shows
    /// the new page. Waiting for an element instead races: the old page may have one
    /// like it, and is still there until the answer arrives.
    async fn click_to_load(&self, css: &str) {
        self.js("window.leftBehind = true; return true;").await;
        self.click(css).await;
        for _ in 0..200 {
            // Asked while the page is changing, the driver may answer with an error.
            let loaded = self
                .c
                .execute(
                    "return window.leftBehind === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} loaded no new page within 10 s");
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }

    async fn text(&self) -> String {
        let body = self.c.find(Locator::Css("body")).await.unwrap();
        body.text().await.unwrap()
    }

    async fn js(&self, script: &str) -> Value {
        self.c.execute(script, vec![]).await.unwrap()
    }

    /// Runs `script`, which calls `done(value)` when it has an answer.
    async fn js_async(&self, script: &str) -> Value {
        let wrapped = format!("const done = arguments[arguments.length - 1]; {script}");
        self.c.execute_async(&wrapped, vec![]).await.unwrap()
    }

    async fn current_time(&self) -> f64 {
        self.js("return document.getElementById('player').currentTime;")
            .await
            .as_f64()
            .unwrap()
    }

    /// The interactions the find page links to, in order.
    async fn listed(&self) -> Vec<String> {
        let links = self
            .js("return Array.from(document.querySelectorAll('table.results a[href^=\"/calls/\"]')).map(a => a.getAttribute('href').slice(7));")
            .await;
        serde_json::from_value(links).unwrap()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

#[tokio::test]
async fn an_admin_finds_a_call_plays_it_and_follows_its_transcript() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;
    let period = b.c.find(Locator::Css("#period")).await.unwrap();
    period.select_by_value("any").await.unwrap();
    b.click("details.more summary").await;
    b.fill("#agent", "a-1").await;
    b.click_to_load("form[role='search'] button[type='submit']")
        .await;
    assert_eq!(b.listed().await, vec![guid(1)]);

    b.click_to_load(&format!("a[href='/calls/{}']", guid(1)))
        .await;
    b.c.wait()
        .for_element(Locator::Css("#waveform.ready"))
        .await
        .unwrap();
    let started = b
        .js_async("document.getElementById('player').play().then(() => done('ok'), e => done(String(e)));")
        .await;
    assert_eq!(started, "ok");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = b.current_time().await;
    assert!(t > 0.5, "playback advanced to {t}");
    let plays = a.audited("play", 1).await;
    assert!(
        plays.iter().any(|p| p["principal"] == "user:ann"),
        "the player's reads are plays: {plays:?}"
    );

    let (at, _, _) = TRANSCRIPT[2];
    b.click(&format!("button.line[data-start-ms='{at}']")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = b.current_time().await;
    assert!((8.0..11.0).contains(&t), "seeked to {t}");
    let current = b
        .js("return document.querySelector('button.line.current').dataset.startMs;")
        .await;
    assert_eq!(current, json!(at.to_string()));
    b.close().await;
}

#[tokio::test]
async fn the_download_link_gives_the_uploaded_bytes() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;
    b.c.goto(&a.s.url(&format!("/calls/{}", guid(1))))
        .await
        .unwrap();
    let digest = b
        .js_async(
            "fetch(document.getElementById('download').href)
               .then(r => r.arrayBuffer())
               .then(buf => crypto.subtle.digest('SHA-256', buf))
               .then(h => done(Array.from(new Uint8Array(h)).map(x => x.toString(16).padStart(2, '0')).join('')))
               .catch(e => done('failed: ' + e));",
        )
        .await;
    let uploaded = callvault_services::audio::synth_wav(12_000, 8000, 440.0);
    assert_eq!(digest, json!(hex::encode(Sha256::digest(&uploaded))));
    b.close().await;
}

#[tokio::test]
async fn an_admin_deletes_a_call_and_it_is_gone() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;
    b.c.goto(&a.s.url(&format!("/calls/{}", guid(2))))
        .await
        .unwrap();
    b.click("#delete-h ~ details summary").await;
    b.click_to_load("#confirm-delete").await;
    assert!(b
        .text()
        .await
        .contains(&format!("Call {} was deleted.", guid(2))));
    b.c.goto(&a.s.url("/?period=any")).await.unwrap();
    assert_eq!(b.listed().await, vec![guid(3), guid(1)]);
    b.close().await;
}

#[tokio::test]
async fn an_agent_typing_another_agents_call_url_gets_not_found_then_signs_out() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    b.sign_in(&a, "bob").await;
    b.c.goto(&a.s.url(&format!("/calls/{}", guid(3))))
        .await
        .unwrap();
    let text = b.text().await;
    assert!(text.contains("There is no such call"), "{text}");
    assert!(!text.contains("+4420700003"));
    b.c.goto(&a.s.url("/?period=any")).await.unwrap();
    assert_eq!(b.listed().await, vec![guid(2)]);
    b.click_to_load("form[action='/sign-out'] button").await;
    assert_eq!(b.path().await, "/sign-in");
    b.c.goto(&a.s.url("/")).await.unwrap();
    assert_eq!(b.path().await, "/sign-in", "the old session is gone");
    b.close().await;
}

#[tokio::test]
async fn the_main_pages_fit_desktop_and_phone_widths() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    b.sign_in(&a, "ann").await;
    let call = a.s.url(&format!("/calls/{}", guid(1)));
    for (width, height) in [(1280, 900), (390, 844)] {
        b.c.set_window_size(width, height).await.unwrap();
        for (name, url) in [
            ("find", a.s.url("/?period=any")),
            ("interaction", call.clone()),
        ] {
            b.c.goto(&url).await.unwrap();
            if name == "interaction" {
                b.c.wait()
                    .for_element(Locator::Css("#waveform.ready"))
                    .await
                    .unwrap();
            }
            let overflow = b
                .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                .await;
            assert_eq!(overflow, json!(0), "{name} at {width} px scrolls sideways");
            b.screenshot(&format!("{name}-{width}")).await;
        }
    }
    b.close().await;
}

/// axe-core as scripts/test.sh installs it.
fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.cache/axe-core/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/test.sh installs axe-core)",
            path.display()
        )
    })
}

/// Runs axe-core in the current page and fails on any serious or critical violation.
async fn axe_check(b: &Browser, axe: &str, name: &str) {
    b.c.execute(&format!("{axe}\nreturn true;"), vec![])
        .await
        .unwrap();
    let found = b
        .js_async(
            "axe.run(document).then(r => done({
               passes: r.passes.length,
               serious: r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target.join(' ')).join(', ')),
             }));",
        )
        .await;
    assert!(
        found["passes"].as_u64().unwrap() > 10,
        "{name}: axe ran its rules"
    );
    assert_eq!(found["serious"], json!([]), "{name}");
}

#[tokio::test]
async fn the_main_pages_have_no_serious_accessibility_violations() {
    let a = Acme::new().await;
    let b = Browser::start().await;
    let axe = axe_source();
    b.c.goto(&a.s.url("/sign-in")).await.unwrap();
    axe_check(&b, &axe, "sign-in").await;
    b.sign_in(&a, "ann").await;
    b.c.goto(&a.s.url("/?period=any")).await.unwrap();
    axe_check(&b, &axe, "find").await;
    b.c.goto(&a.s.url(&format!("/calls/{}", guid(1))))
        .await
        .unwrap();
    b.c.wait()
        .for_element(Locator::Css("#waveform.ready"))
        .await
        .unwrap();
    axe_check(&b, &axe, "interaction").await;
    b.close().await;
}
