//! The real `callvault` binary as a child process: admin commands, `serve`, and an
//! authenticated HTTP client for it. The benchmark never links the server's crates, so
//! what it measures is exactly what an operator runs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tokio::process::{Child, Command};

pub const V3: &str = "application/vnd.newvoicemedia.v3+json";

/// Runs `callvault --data-dir DIR ARGS --json` and answers its JSON output.
pub async fn admin(bin: &Path, data_dir: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .arg("--json")
        .env_remove("RUST_LOG")
        // The webhook phase's receiver listens on loopback.
        .env("CALLVAULT_EGRESS_ALLOW", "127.0.0.1")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "callvault {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("callvault {} printed no JSON", args.join(" ")))
}

/// Creates an admin user of `tenant` with `callvault user create`.
pub async fn create_admin_user(
    bin: &Path,
    data_dir: &Path,
    tenant: &str,
    login: &str,
    password: &str,
) -> anyhow::Result<()> {
    let args = [
        "user",
        "create",
        "--tenant",
        tenant,
        "--login",
        login,
        "--password",
        password,
        "--role",
        "admin",
    ];
    admin(bin, data_dir, &args).await.map(drop)
}

/// A free loopback port (bound, read, released; the kernel rarely hands it out again at
/// once).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `url` until it answers 2xx, so that no phase measures a process still starting;
/// fails at once if `child` exits first.
pub async fn wait_started(child: &mut Child, url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    tokio::select! {
        ready = wait_ready(&http, url) => ready,
        status = child.wait() => bail!("the process exited while starting: {}", status?),
    }
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{url} did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running `callvault serve`.
pub struct Server {
    child: Child,
    pub pid: u32,
    pub base: String,
}

impl Server {
    /// Starts the server with its default configuration (logging to `log`) and waits for
    /// `/healthz`.
    pub async fn start(bin: &Path, data_dir: &Path, log: &Path) -> anyhow::Result<Self> {
        Self::start_with_env(bin, data_dir, log, &[]).await
    }

    /// [`Server::start`] with extra environment variables (a setting under comparison).
    pub async fn start_with_env(
        bin: &Path,
        data_dir: &Path,
        log: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut server = Self::spawn(bin, data_dir, log, env)?;
        wait_started(&mut server.child, &format!("{}/healthz", server.base))
            .await
            .with_context(|| format!("starting callvault (see {})", log.display()))?;
        Ok(server)
    }

    /// Starts the server process and returns at once, before it listens (the start-up
    /// phase times what follows).
    pub fn spawn(
        bin: &Path,
        data_dir: &Path,
        log: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log_file = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("RUST_LOG")
            // The export phase's S3 server runs on loopback.
            .env("CALLVAULT_EGRESS_ALLOW", "127.0.0.1")
            // Off unless a phase turns it on: an engine would compete for the CPU.
            .env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        Ok(Self { child, pid, base })
    }

    /// Whether the process has exited (with its status), without waiting.
    pub fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Stops the server with SIGTERM (a graceful shutdown that checkpoints the WAL),
    /// falling back to SIGKILL.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        signal(self.pid, "TERM").await;
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => self.child.kill().await?,
        }
        Ok(())
    }
}

/// Sends a signal to one process we started, by its id.
pub async fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .await;
}

/// An HTTP client holding a bearer token for the benchmark tenant, and the id of the
/// server process it talks to (for CPU accounting).
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub pid: u32,
}

impl Api {
    /// Creates an API client with `callvault client create` and exchanges its credentials
    /// for a token at `/Auth/connect/token`, as a real integration would.
    pub async fn connect(
        bin: &Path,
        data_dir: &Path,
        server: &Server,
        tenant: &str,
    ) -> anyhow::Result<Self> {
        let base = &server.base;
        let creds = admin(
            bin,
            data_dir,
            &[
                "client",
                "create",
                "--tenant",
                tenant,
                "--scopes",
                "interaction-content:read interaction-content:write",
            ],
        )
        .await?;
        let field = |k: &str| {
            creds[k]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("client create printed no {k}"))
        };
        let (id, secret) = (field("clientId")?, field("clientSecret")?);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(64)
            .build()?;
        let resp = http
            .post(format!("{base}/Auth/connect/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("token request failed: {}", resp.text().await?);
        }
        let body: Value = resp.json().await?;
        let token = body["access_token"]
            .as_str()
            .context("no access_token in the token response")?
            .to_string();
        Ok(Self {
            http,
            base: base.to_string(),
            token,
            pid: server.pid,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The callvault binary next to this executable (both come from the same `cargo build`).
pub fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("the executable has no directory")?;
    Ok(dir.join("callvault"))
}
