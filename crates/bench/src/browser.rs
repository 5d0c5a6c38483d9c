//! Debian's Chromium, headless, driven through chromedriver for the console phase. Each
//! session has a profile of its own, so every measured page load starts with an empty
//! cache, and keeps Chromium's performance log (DevTools' network events), which counts
//! the bytes of a media stream: Resource Timing reports an `<audio>` fetch with its
//! headers only.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use http::Method;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use url::Url;

use crate::server::free_port;

/// chromedriver, and the directory that holds its sessions' profiles.
pub struct Driver {
    _child: Child,
    pid: u32,
    url: String,
    chromium: PathBuf,
    profiles: PathBuf,
    sessions: usize,
}

impl Driver {
    pub async fn start(
        chromedriver: &Path,
        chromium: &Path,
        profiles: &Path,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(profiles)?;
        let port = free_port()?;
        // A process group of its own, so that stopping it takes the browsers it started.
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (Debian's chromium-driver)",
                    chromedriver.display()
                )
            })?;
        let pid = child.id().context("chromedriver exited at once")?;
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self {
                    _child: child,
                    pid,
                    url,
                    chromium: chromium.into(),
                    profiles: profiles.into(),
                    sessions: 0,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not listen within 10 s")
    }

    /// A new browser with an empty profile.
    pub async fn session(&mut self) -> anyhow::Result<Browser> {
        self.sessions += 1;
        let profile = self.profiles.join(format!("p{}", self.sessions));
        let args = callvault_testkit::chromium::args(&profile);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": self.chromium, "args": args },
            "goog:loggingPrefs": { "performance": "ALL" },
        });
        let Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        let c = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .context("starting a Chromium session")?;
        // The first view of a long call waits for its waveform's decode.
        c.update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(300)),
            Some(Duration::from_secs(120)),
            None,
        ))
        .await?;
        Ok(Browser { c })
    }
}

/// Stops chromedriver and any browser it started that is still running: its process
/// group, which it leads (it does not take its browsers along when it is killed alone).
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid)])
            .stderr(Stdio::null())
            .status();
    }
}

pub struct Browser {
    pub c: Client,
}

/// chromedriver's `POST /session/{id}/se/log`: the log entries since the last call.
#[derive(Debug)]
struct PerformanceLog;

impl WebDriverCompatibleCommand for PerformanceLog {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(r#"{"type":"performance"}"#.into()))
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one DevTools command.
#[derive(Debug)]
struct Cdp(Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.0.to_string()))
    }
}

impl Browser {
    /// "Chromium" and the version the session reports.
    pub fn version(&self) -> String {
        let v = self.c.capabilities().and_then(|c| c.get("browserVersion"));
        format!(
            "Chromium {}",
            v.and_then(Value::as_str).unwrap_or("(unknown version)")
        )
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.c
            .goto(url)
            .await
            .with_context(|| format!("loading {url}"))
    }

    pub async fn js(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.c.execute(script, vec![]).await?)
    }

    /// Runs `script`, which calls `done(value)` when it has an answer.
    pub async fn js_async(&self, script: &str) -> anyhow::Result<Value> {
        let wrapped = format!("const done = arguments[arguments.length - 1]; {script}");
        Ok(self.c.execute_async(&wrapped, vec![]).await?)
    }

    /// Sets an `HttpOnly` session cookie for `base` without visiting it, so that the first
    /// page the browser loads there is the measured one.
    pub async fn set_cookie(&self, base: &str, name: &str, value: &str) -> anyhow::Result<()> {
        let cmd = json!({"cmd": "Network.setCookie", "params": {
            "url": base, "name": name, "value": value, "path": "/",
            "httpOnly": true, "sameSite": "Strict",
        }});
        let r = self.c.issue_cmd(Cdp(cmd)).await?;
        if r["success"] == Value::Bool(false) {
            bail!("Chromium refused the session cookie");
        }
        Ok(())
    }

    /// Runs `script` in every document this browser loads from now on, before the
    /// document's own scripts.
    pub async fn run_in_new_documents(&self, script: &str) -> anyhow::Result<()> {
        let cmd =
            json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": script}});
        self.c.issue_cmd(Cdp(cmd)).await?;
        Ok(())
    }

    /// The DevTools events (`{method, params}`) logged since the last call.
    pub async fn network_events(&self) -> anyhow::Result<Vec<Value>> {
        let entries = self.c.issue_cmd(PerformanceLog).await?;
        let entries = entries.as_array().context("the log is not a list")?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let message: Value = serde_json::from_str(e["message"].as_str().unwrap_or("{}"))?;
            let m = &message["message"];
            if m["method"]
                .as_str()
                .is_some_and(|n| n.starts_with("Network."))
            {
                out.push(m.clone());
            }
        }
        Ok(out)
    }

    pub async fn close(self) -> anyhow::Result<()> {
        Ok(self.c.close().await?)
    }
}
