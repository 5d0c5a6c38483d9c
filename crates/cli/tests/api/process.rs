//! The binary as operators use it: admin commands with `--json`, folder ingest, and a
//! server killed with SIGKILL in the middle of an upload.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{call_body, json_of, V3};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub(crate) fn cli(dir: &Path, args: &[&str]) -> (bool, Value, String) {
    cli_with(dir, None, args)
}

/// [`cli`] with a configuration file (the scale-out stores of a deployment).
pub(crate) fn cli_with(dir: &Path, cfg: Option<&Path>, args: &[&str]) -> (bool, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
    // Off: an engine would add transcripts and compete for the CPU.
    cmd.env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
        // Webhook receivers of the tests listen on loopback.
        .env("CALLVAULT_EGRESS_ALLOW", "127.0.0.1")
        .args(args)
        .arg("--json")
        .arg("--data-dir")
        .arg(dir);
    if let Some(cfg) = cfg {
        cmd.arg("--config").arg(cfg);
    }
    let out = cmd.output().expect("run callvault");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (out.status.success(), json, stderr)
}

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) async fn spawn(dir: &Path) -> Self {
        Self::spawn_with(dir, None).await
    }

    /// [`Server::spawn`] with a configuration file.
    pub(crate) async fn spawn_with(dir: &Path, cfg: Option<&Path>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
        // Off: an engine would add transcripts and compete for the CPU.
        cmd.env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
            .env("CALLVAULT_EGRESS_ALLOW", "127.0.0.1")
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir);
        if let Some(cfg) = cfg {
            cmd.arg("--config").arg(cfg);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Self { child, base };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("server did not start");
    }

    pub(crate) fn kill(self) {
        drop(self);
    }
}

/// Kills the server however the test ends, so a failed assertion leaves no process behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn token(base: &str, id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/Auth/connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn bearer(base: &str, id: &str, secret: &str) -> String {
    let (status, body) = json_of(token(base, id, secret).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn admin_commands_and_folder_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, t, _) = cli(
        d,
        &["tenant", "create", "acme", "--time-zone", "Europe/London"],
    );
    assert!(ok);
    assert_eq!(
        (t["name"].as_str(), t["timeZone"].as_str()),
        (Some("acme"), Some("Europe/London"))
    );
    let (ok, _, err) = cli(d, &["tenant", "create", "acme"]);
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(d, &["tenant", "create", "bad name!"]);
    assert!(!ok && err.contains("tenant name"), "{err}");
    let (ok, _, err) = cli(
        d,
        &["client", "create", "--tenant", "acme", "--scopes", "root"],
    );
    assert!(!ok && err.contains("unknown scope"), "{err}");
    let (ok, c, _) = cli(
        d,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "interaction-content:read interaction-content:write",
        ],
    );
    assert!(ok);
    let id = c["clientId"].as_str().unwrap().to_string();
    let secret = c["clientSecret"].as_str().unwrap().to_string();

    // A folder export: two recordings and a transcript, one bad row, one escaping path.
    let src = d.join("export");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("a.wav"),
        callvault_services::audio::synth_wav(900, 8000, 300.0),
    )
    .unwrap();
    std::fs::write(
        src.join("b.wav"),
        callvault_services::audio::synth_wav(1100, 8000, 350.0),
    )
    .unwrap();
    std::fs::write(src.join("a.json"), br#"{"segments":[]}"#).unwrap();
    let g1 = "11111111-2222-4333-8444-555555555555";
    let g2 = "11111111-2222-4333-8444-666666666666";
    std::fs::write(
        src.join("manifest.csv"),
        format!(
            "guid,start,direction,connectFrom,connectTo,handlingAgents,file,type\n\
             {g1},2021-04-01T10:00:00Z,inbound,0147300000,33890022,1342;77,a.wav,callRecording\n\
             {g1},,,,,,a.json,transcript\n\
             {g2},2021-04-01T11:00:00Z,outbound,33890022,0147300001,1342,b.wav,callRecording\n\
             {g2},not-a-date,outbound,1,2,3,b.wav,callRecording\n\
             {g2},,,,,,../../etc/passwd,attachment\n"
        ),
    )
    .unwrap();
    let src_str = src.to_str().unwrap();
    let (ok, r, _) = cli(d, &["ingest", "--tenant", "acme", src_str]);
    assert!(!ok, "failed rows make the command fail");
    assert_eq!(r["ingested"], 3, "{r}");
    assert_eq!(r["failed"].as_array().unwrap().len(), 2, "{r}");
    let (_, r, _) = cli(d, &["ingest", "--tenant", "acme", src_str]);
    assert_eq!(
        (r["ingested"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(3)),
        "a re-run resumes: {r}"
    );

    let server = Server::spawn(d).await;
    let t = bearer(&server.base, &id, &secret).await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/interaction-content/interactions?start=2021-04-01T00:00:00Z&end=2021-04-02T00:00:00Z", server.base))
        .bearer_auth(&t)
        .header("Accept", V3)
        .send()
        .await
        .unwrap();
    let (_, body) = json_of(r).await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["content"].as_array().unwrap().len(), 2);
    let rec = items[0]["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contentKey"] == "callRecording")
        .unwrap();
    assert_eq!(rec["properties"]["duration"]["value"], 900);

    // Rotation: the new secret works, the old one no longer does. Revocation ends it all.
    let (ok, rotated, _) = cli(d, &["client", "rotate", &id]);
    assert!(ok);
    assert_eq!(
        token(&server.base, &id, &secret).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    assert_eq!(
        token(&server.base, &id, new_secret).await.status(),
        StatusCode::OK
    );
    let (ok, _, _) = cli(d, &["client", "revoke", &id]);
    assert!(ok);
    assert_eq!(
        token(&server.base, &id, new_secret).await.status(),
        StatusCode::UNAUTHORIZED
    );
    server.kill();
}

#[tokio::test]
async fn sigkill_mid_upload_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(cli(d, &["tenant", "create", "acme"]).0);
    let (_, c, _) = cli(
        d,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            crate::common::ALL_SCOPES,
        ],
    );
    let (id, secret) = (
        c["clientId"].as_str().unwrap().to_string(),
        c["clientSecret"].as_str().unwrap().to_string(),
    );
    let server = Server::spawn(d).await;
    let t = bearer(&server.base, &id, &secret).await;
    let http = reqwest::Client::new();
    let g = "aaaaaaaa-2222-4333-8444-555555555555";
    let url = |p: &str| format!("{}/interaction-content/interactions/{g}{p}", server.base);
    let r = http
        .put(url(""))
        .bearer_auth(&t)
        .json(&call_body("2021-04-01T10:00:00Z", "1", "2", "3", "inbound"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let acked = callvault_services::audio::synth_wav(3000, 8000, 420.0);
    let r = http
        .put(url("/content/callRecording"))
        .bearer_auth(&t)
        .header("Content-Type", "audio/wav")
        .body(acked.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // A second upload that is cut off by a SIGKILL halfway through.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let req = http
        .put(url("/content/transcript"))
        .bearer_auth(&t)
        .header("Content-Type", "application/json")
        .body(body)
        .send();
    let pending = tokio::spawn(req);
    tx.send(Ok(vec![b' '; 512 * 1024])).await.unwrap();
    let staging = d.join("content/staging");
    for _ in 0..100 {
        if std::fs::read_dir(&staging).unwrap().count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        1,
        "the upload is in staging"
    );
    server.kill();
    assert!(
        pending.await.unwrap().is_err(),
        "the client saw the connection die"
    );
    drop(tx);

    // A stray blob, as left by a crash between blob commit and row commit.
    let stray = d.join("content/blobs/t1/ab");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join(format!("ab{}", "0".repeat(62))), b"orphan").unwrap();
    let (ok, swept, _) = cli(d, &["sweep", "--grace-secs", "0"]);
    assert!(ok);
    assert_eq!(
        (
            swept["stagingRemoved"].as_u64(),
            swept["orphansRemoved"].as_u64()
        ),
        (Some(1), Some(1)),
        "{swept}"
    );

    let server = Server::spawn(d).await;
    let t = bearer(&server.base, &id, &secret).await;
    let url = |p: &str| format!("{}/interaction-content/interactions/{g}{p}", server.base);
    let r = http
        .get(url("/content/callRecording"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let got = r.bytes().await.unwrap();
    assert_eq!(
        Sha256::digest(&got),
        Sha256::digest(&acked),
        "the acknowledged recording is intact"
    );
    let r = http
        .get(url("/content/transcript"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "the cut-off upload is not half-visible"
    );
    let (_, one) = json_of(
        http.get(url(""))
            .bearer_auth(&t)
            .header("Accept", V3)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["content"].as_array().unwrap().len(), 1);
    server.kill();
}
