//! Nodes as processes: two `callvault serve` processes over the same stores (PostgreSQL +
//! S3 in the scale-out run, one data directory on the embedded backends). The node running
//! an export is killed with SIGKILL mid-transfer; the other takes the job over and the
//! external storage (S3, and Azure Blob) ends with every item exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::sync::Arc;

use callvault_storage::S3Settings;
use callvault_testkit::PgTestDb;

use crate::common::targets::{Provider, Target};
use crate::common::{
    call_body, fresh_bucket_prefix, fresh_database, json_of, scale_out, TEST_MASTER_KEY,
};
use futures::TryStreamExt;
use object_store::ObjectStore;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ITEMS: u32 = 60;

/// A configuration file for nodes of one deployment, and the database it names (kept
/// until the test ends).
pub(super) async fn config(dir: &Path) -> (PathBuf, Option<Arc<PgTestDb>>) {
    let (path, db, _) = deployment(dir).await;
    (path, db)
}

/// [`config`], and on the scale-out backends the bucket prefix it names, for tests that
/// look at the stored blobs themselves.
pub(crate) async fn deployment(dir: &Path) -> (PathBuf, Option<Arc<PgTestDb>>, Option<S3Settings>) {
    let mut text = String::from(
        "export_lease_secs = 1\nwebhook_lease_secs = 5\negress_allow = [\"127.0.0.1\"]\n",
    );
    let (mut held, mut bucket) = (None, None);
    if scale_out() {
        let pg = fresh_database().await;
        let db = pg.url().to_string();
        held = Some(pg);
        let s3 = fresh_bucket_prefix();
        text.push_str(&format!(
            "database_url = \"{db}\"\nblob_url = \"s3://{}/{}\"\nmaster_key = \"{TEST_MASTER_KEY}\"\n\
             [s3]\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"test\"\n\
             secret_access_key = \"test\"\nallow_http = true\n",
            s3.bucket,
            s3.prefix,
            s3.endpoint.clone().unwrap_or_default()
        ));
        bucket = Some(s3);
    }
    let path = dir.join("callvault.toml");
    std::fs::write(&path, text).unwrap();
    (path, held, bucket)
}

pub(crate) fn cli(dir: &Path, cfg: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_callvault"))
        // Off: an engine would add transcripts and compete for the CPU.
        .env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
        .args(args)
        .arg("--json")
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(cfg)
        .output()
        .expect("run callvault");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

pub(crate) struct Node {
    child: Child,
    pub(crate) base: String,
}

impl Node {
    pub(crate) async fn spawn(dir: &Path, cfg: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_callvault"))
            // Off: an engine would add transcripts and compete for the CPU.
            .env("CALLVAULT_TRANSCRIPTION_ENGINE", "none")
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir)
            .arg("--config")
            .arg(cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn node");
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/readyz"))
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
        panic!("node did not start");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn job(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let (status, v) = json_of(
        http.get(format!(
            "{base}/interaction-content-export/interactions/jobs/{id}"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

/// Items this node's export runner has sent, from its Prometheus metrics.
async fn exported_by(http: &reqwest::Client, base: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("callvault_export_items_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test]
async fn an_export_to_s3_whose_node_is_killed_is_taken_over_and_sends_each_item_once() {
    killed_mid_export(Provider::S3).await
}

#[tokio::test]
async fn an_export_to_azure_blob_whose_node_is_killed_is_taken_over_and_sends_each_item_once() {
    killed_mid_export(Provider::Azure).await
}

async fn killed_mid_export(provider: Provider) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cfg, _db) = config(d).await;
    cli(d, &cfg, &["tenant", "create", "acme"]);
    let c = cli(
        d,
        &cfg,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "interaction-content:read interaction-content:write",
        ],
    );
    // Two nodes over the same stores from the start; either may claim the job.
    let a = Node::spawn(d, &cfg).await;
    let b = Node::spawn(d, &cfg).await;
    let http = reqwest::Client::new();
    let (_, tok) = json_of(
        http.post(format!("{}/Auth/connect/token", a.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", c["clientId"].as_str().unwrap()),
                ("client_secret", c["clientSecret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = tok["access_token"].as_str().unwrap().to_string();

    // 60 one-minute recordings (~1 MB each), so the transfer takes a while.
    let mut expected = BTreeMap::new();
    for k in 0..ITEMS {
        let g = crate::common::guid(k + 1);
        let start = (chrono::Utc::now() - chrono::Duration::days(2)
            + chrono::Duration::seconds(k.into()))
        .to_rfc3339();
        let r = http
            .put(format!("{}/interaction-content/interactions/{g}", a.base))
            .bearer_auth(&token)
            .json(&call_body(&start, "+1", "+2", "7", "inbound"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let wav = callvault_services::audio::synth_wav(60_000 + k, 8000, 300.0 + k as f32);
        expected.insert(g.clone(), hex::encode(Sha256::digest(&wav)));
        let r = http
            .put(format!(
                "{}/interaction-content/interactions/{g}/content/callRecording",
                a.base
            ))
            .bearer_auth(&token)
            .header("Content-Type", "audio/wav")
            .body(wav)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    let target = Target::fresh(provider, "cv-kill").await;
    let (status, storage) = json_of(
        http.post(format!(
            "{}/interaction-content-export/external-storage",
            a.base
        ))
        .bearer_auth(&token)
        .json(&target.storage_body())
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{storage}");
    let (status, v) = json_of(
        http.post(format!(
            "{}/interaction-content-export/interactions/jobs/schedule-batch-export",
            a.base
        ))
        .bearer_auth(&token)
        .json(&json!({
            "startDate": (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339(),
            "endDate": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
            "filters": { "contentTypes": [], "initialDirection": [] },
            "externalStorageId": storage["id"],
        }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["jobId"].as_str().unwrap().to_string();

    // As soon as part of the job is done, kill the node running it (the one whose
    // metrics count exported items), with SIGKILL.
    let mut seen = 0;
    for _ in 0..2000 {
        seen = job(&http, &a.base, &token, &id).await["itemsExported"]
            .as_u64()
            .unwrap();
        if seen >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let a_ran = exported_by(&http, &a.base).await > 0;
    let (victim, survivor) = if a_ran { (a, b) } else { (b, a) };
    drop(victim);
    assert!(
        (3..u64::from(ITEMS)).contains(&seen),
        "the kill must land mid-job (saw {seen} of {ITEMS} exported)"
    );

    // The other node takes the job over once the dead node's lease lapses; the same
    // token works there.
    let mut done = Value::Null;
    for _ in 0..600 {
        done = job(&http, &survivor.base, &token, &id).await;
        if done["status"] == "Completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        exported_by(&http, &survivor.base).await > 0,
        "the survivor finished the job"
    );
    assert_eq!(done["status"], "Completed", "{done}");
    assert_eq!(
        done["itemsExported"], ITEMS,
        "each item counted once: {done}"
    );

    let store = target.client();
    let objects: Vec<_> = store.list(None).try_collect().await.unwrap();
    assert_eq!(
        objects.len(),
        2 * ITEMS as usize,
        "one file and one metadata file per item"
    );
    for (g, sha) in &expected {
        let wav = objects
            .iter()
            .find(|o| {
                o.location
                    .as_ref()
                    .ends_with(&format!("{g}/callRecording.wav"))
            })
            .unwrap_or_else(|| panic!("{g} missing"));
        let bytes = store
            .get(&wav.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha, "{g} intact");
    }
}
