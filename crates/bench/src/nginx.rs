//! nginx as the download and playback peer: a foreground child with its own prefix and
//! configuration, serving files with `sendfile on`, the kernel's zero-copy path, which is
//! what a static file server at its best does.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::server::{free_port, signal, wait_started};

/// The URL path the recording is served under.
pub const FILE_PATH: &str = "/recording.wav";

pub struct Nginx {
    child: Child,
    pub pid: u32,
    pub base: String,
}

impl Nginx {
    /// Starts `nginx` from `prefix` (created, holding the config, pid file, logs and temp
    /// directories) serving `file` at [`FILE_PATH`].
    pub async fn start(bin: &Path, prefix: &Path, file: &Path) -> anyhow::Result<Self> {
        Self::serve(bin, prefix, &[(FILE_PATH, file)]).await
    }

    /// [`Nginx::start`] serving each file at its URL path, typed by the path's extension.
    pub async fn serve(bin: &Path, prefix: &Path, files: &[(&str, &Path)]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(prefix.join("tmp"))?;
        let port = free_port()?;
        let conf = prefix.join("nginx.conf");
        std::fs::write(&conf, config(prefix, port, files)?)?;
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("nginx exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        wait_started(&mut child, &format!("{base}/ready"))
            .await
            .context("starting nginx")?;
        Ok(Self { child, pid, base })
    }

    /// Stops the master process (its workers follow) and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        signal(self.pid, "TERM").await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// One worker per core, as callvault's runtime has one thread per core; keep-alive without
/// a request cap, as callvault has none; no access log, as callvault logs no requests by
/// default.
fn config(prefix: &Path, port: u16, files: &[(&str, &Path)]) -> anyhow::Result<String> {
    let p = |name: &str| -> PathBuf { prefix.join(name) };
    let mut locations = String::new();
    for (path, file) in files {
        let file = std::fs::canonicalize(file)?;
        locations += &format!(
            "        location = {path} {{ alias {}; }}\n",
            file.display()
        );
    }
    // Workers of a master started as root would run as `nobody`, who may not read the
    // data directory; a non-root master ignores the directive with a warning.
    let user = if running_as_root() { "user root;" } else { "" };
    Ok(format!(
        r#"{user}
worker_processes auto;
pid {pid};
error_log {errlog} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ audio/wav wav; audio/mpeg mp3; text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        location = /ready {{ return 204; }}
{locations}    }}
}}
"#,
        pid = p("nginx.pid").display(),
        errlog = p("error.log").display(),
        tmp = p("tmp").display(),
    ))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
