//! Governance from the command line, as operators use it: holds and policies with
//! `--json`, a delete refused under a hold, and a retention run killed with SIGKILL
//! that loses nothing it should keep and finishes when run again. On both backends: the
//! processes share a configuration that names PostgreSQL + S3 in the scale-out run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use callvault_storage::BlobStore;
use reqwest::StatusCode;
use serde_json::Value;

use crate::cluster::nodes::{deployment, Node};
use crate::common::V3;
use crate::process::{bearer, cli_with};

const KEPT: usize = 10;
const EXPIRED: usize = 1200;

fn guid(n: usize) -> String {
    format!("{n:08x}-1111-4000-8000-000000000000")
}

/// A tenant `acme` with `n` interactions from 2019, each with a recording of its own;
/// more than two of retention's pages (500 interactions, one transaction each), so a kill
/// can land between them.
fn seed(d: &Path, cfg: &Path, n: usize) {
    let cli = |d: &Path, args: &[&str]| cli_with(d, Some(cfg), args);
    assert!(cli(d, &["tenant", "create", "acme"]).0);
    let src = d.join("export");
    std::fs::create_dir_all(&src).unwrap();
    let mut manifest =
        String::from("guid,start,direction,connectFrom,connectTo,handlingAgents,file,type\n");
    for i in 0..n {
        let wav = callvault_services::audio::synth_wav(100, 8000, 200.0 + i as f32);
        std::fs::write(src.join(format!("{i}.wav")), wav).unwrap();
        manifest.push_str(&format!(
            "{},2019-01-01T10:{:02}:{:02}Z,inbound,+1555{i:07},2000,a1,{i}.wav,callRecording\n",
            guid(i),
            (i / 60) % 60,
            i % 60
        ));
    }
    std::fs::write(src.join("manifest.csv"), manifest).unwrap();
    let (ok, r, err) = cli(d, &["ingest", "--tenant", "acme", src.to_str().unwrap()]);
    assert!(ok, "{r} {err}");
    std::fs::remove_dir_all(&src).unwrap();
}

#[tokio::test]
async fn a_held_interaction_cannot_be_deleted_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cfg, _db, _) = deployment(d).await;
    let cli = |d: &Path, args: &[&str]| cli_with(d, Some(&cfg), args);
    seed(d, &cfg, 1);
    let g = guid(0);
    let (ok, hold, err) = cli(
        d,
        &[
            "governance",
            "hold",
            "--tenant",
            "acme",
            "--case",
            "Doe",
            "--reason",
            "court",
            "--guid",
            &g,
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(d, &["governance", "delete", "--tenant", "acme", &g]);
    assert!(!ok && err.contains("legal hold ('Doe')"), "{err}");
    let id = hold["id"].as_str().unwrap();
    let (ok, released, _) = cli(d, &["governance", "release", "--tenant", "acme", id]);
    assert!(ok && released["releasedBy"] == "cli", "{released}");
    let (ok, r, err) = cli(d, &["governance", "delete", "--tenant", "acme", &g]);
    assert!(ok && r["items"] == 1, "{r} {err}");
}

#[tokio::test]
async fn sigkill_mid_retention_keeps_what_stays_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cfg, _db, bucket) = deployment(d).await;
    let cli = |d: &Path, args: &[&str]| -> (bool, Value, String) { cli_with(d, Some(&cfg), args) };
    seed(d, &cfg, KEPT + EXPIRED);
    let mut hold = vec![
        "governance",
        "hold",
        "--tenant",
        "acme",
        "--case",
        "Keep",
        "--reason",
        "r",
    ];
    let kept: Vec<String> = (0..KEPT).map(|i| guid(i * 7)).collect();
    for g in &kept {
        hold.extend(["--guid", g]);
    }
    assert!(cli(d, &hold).0);
    let (ok, p, err) = cli(
        d,
        &[
            "governance",
            "policy",
            "--tenant",
            "acme",
            "--name",
            "a day",
            "--max-days",
            "1",
            "--enabled",
        ],
    );
    assert!(ok, "{err}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_callvault"))
        // Off: an engine would add transcripts and compete for the CPU.
        .env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
        .args(["governance", "retention", "--json", "--data-dir"])
        .arg(d)
        .arg("--config")
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once it has started deleting, wherever it is then.
    let id = p["id"].as_str().unwrap();
    let due = || {
        let (_, dry, _) = cli(d, &["governance", "dry-run", "--tenant", "acme", id]);
        dry["interactions"].as_u64().unwrap() as usize
    };
    for _ in 0..500 {
        if due() < EXPIRED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = due();
    eprintln!("killed with {left} of {EXPIRED} left");
    assert!(left < EXPIRED, "the run had started");
    let (ok, r, err) = cli(d, &["governance", "retention"]);
    assert!(ok, "{err}");
    assert_eq!(r["interactions"].as_u64().unwrap() as usize, left, "{r}");
    let (_, dry, _) = cli(d, &["governance", "dry-run", "--tenant", "acme", id]);
    assert_eq!(dry["interactions"], 0, "{dry}");
    // Bytes whose rows a killed run had deleted go with the orphan sweep.
    assert!(cli(d, &["sweep", "--grace-secs", "0"]).0);
    let blobs = match &bucket {
        Some(s3) => s3.open().unwrap().list().await.unwrap().len(),
        None => walk(&d.join("content"))
            .into_iter()
            .filter(|p| !p.contains("staging"))
            .count(),
    };
    assert_eq!(blobs, KEPT, "only the held recordings' bytes remain");

    let (_, c, _) = cli(
        d,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "interaction-content:read",
        ],
    );
    let server = Node::spawn(d, &cfg).await;
    let t = bearer(
        &server.base,
        c["clientId"].as_str().unwrap(),
        c["clientSecret"].as_str().unwrap(),
    )
    .await;
    let http = reqwest::Client::new();
    for n in 0..KEPT + EXPIRED {
        let g = guid(n);
        let status = http
            .get(format!(
                "{}/interaction-content/interactions/{g}",
                server.base
            ))
            .bearer_auth(&t)
            .header("Accept", V3)
            .send()
            .await
            .unwrap()
            .status();
        let want = if kept.contains(&g) {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, want, "{g}");
    }
}

/// Every file under `dir`, as paths.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
