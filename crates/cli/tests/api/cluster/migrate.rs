//! `callvault migrate`: an embedded vault moves to PostgreSQL + S3 and keeps working
//! there with the same tokens, ids and bytes; a second run changes nothing.

use std::process::Command;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn migrate(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_callvault"))
        // Off: an engine would add transcripts and compete for the CPU.
        .env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
        .arg("migrate")
        .args(args)
        .arg("--json")
        .output()
        .expect("run callvault migrate");
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_embedded_vault_moves_to_postgres_and_s3_and_reruns_safely() {
    // The source is always embedded, whatever backend the suite runs on.
    let src = TestServer::start_with(|s| {
        s.database_url = None;
        s.s3 = None;
    })
    .await;
    let t = src.token("acme", ALL_SCOPES).await;
    for k in 1..=4u32 {
        src.seed_call(
            &t,
            &guid(k),
            call_body(
                &format!("2021-02-0{k}T09:00:00Z"),
                "+1",
                "+2",
                "7",
                "inbound",
            ),
            300 + k,
        )
        .await;
    }
    let before = src.recording(&t, &guid(2)).await;
    // The idle source server stays up: its WAL database reads consistently meanwhile.
    let dir = src.dir.path().to_path_buf();
    let key = std::fs::read_to_string(dir.join("master.key")).unwrap();

    let pg = fresh_database().await;
    let db = pg.url().to_string();
    let s3 = fresh_bucket_prefix();
    let cfg = dir.join("target.toml");
    std::fs::write(
        &cfg,
        format!(
            "[s3]\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\nallow_http = true\n",
            s3.endpoint.clone().unwrap()
        ),
    )
    .unwrap();
    let from = format!("sqlite:{}", dir.display());
    let blobs = format!("s3://{}/{}", s3.bucket, s3.prefix);
    let args = [
        "--from",
        &from,
        "--to",
        &db,
        "--to-blobs",
        &blobs,
        "--config",
        cfg.to_str().unwrap(),
    ];
    let (ok, report, err) = migrate(&args);
    assert!(ok, "{err}");
    let tables = report["tables"].as_array().unwrap();
    let rows = |name: &str| tables.iter().find(|t| t["table"] == name).unwrap().clone();
    assert_eq!(rows("interactions")["source"], 4);
    assert_eq!(rows("interactions")["target"], 4);
    assert_eq!(rows("content_items")["target"], 4);
    assert_eq!(report["blobs"]["copied"], 4);
    // Again: nothing new, everything verified.
    let (ok, again, err) = migrate(&args);
    assert!(ok, "{err}");
    assert_eq!(again["blobs"]["copied"], 0);
    assert_eq!(again["blobs"]["alreadyThere"], 4);
    assert_eq!(again["tables"], report["tables"]);
    let (ok, _, err) = migrate(&[
        "--from",
        "sqlite:/nonexistent",
        "--to",
        &db,
        "--to-blobs",
        &blobs,
    ]);
    assert!(!ok && err.contains("no embedded vault"), "{err}");

    // A scale-out node on the result serves the same vault to the same token.
    let node = TestServer::start_with(|s| {
        s.database_url = Some(db.clone());
        s.s3 = Some(s3.clone());
        s.master_key = Some(key.trim().to_string());
    })
    .await;
    let (status, body) = json_of(
        node.get(
            &t,
            "/interaction-content/interactions?start=2021-02-01T00:00:00Z&end=2021-02-07T00:00:00Z",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 4);
    let after = node.recording(&t, &guid(2)).await;
    assert_eq!(before, after);
    // New interactions continue the numbering instead of colliding.
    node.seed_call(
        &t,
        &guid(9),
        call_body("2021-02-05T09:00:00Z", "+1", "+2", "7", "inbound"),
        200,
    )
    .await;
}
