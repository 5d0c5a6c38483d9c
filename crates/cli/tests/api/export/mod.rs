//! The Interaction Content Export API over HTTP: a batch export to a local directory and
//! the helpers the other files share here; external storage in `storage`, schedule bodies
//! in `schedule`, the job state machine and paging in `jobs`; what must hold on every
//! object storage provider (S3, Azure Blob, Google Cloud Storage, each a real server on
//! loopback) in `targets`.

mod jobs;
mod schedule;
mod storage;
mod targets;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const EXPORT: &str = "/interaction-content-export";

async fn post(s: &TestServer, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    json_of(
        s.http
            .post(s.url(&format!("{EXPORT}{path}")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(s: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    json_of(s.get(token, &format!("{EXPORT}{path}")).await).await
}

pub(crate) async fn create_storage(s: &TestServer, token: &str, body: &Value) -> String {
    let (status, v) = post(s, token, "/external-storage", body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

pub(crate) async fn local_storage(s: &TestServer, token: &str, path: &str) -> String {
    create_storage(
        s,
        token,
        &json!({ "name": "nas", "storageProvider": "local", "configuration": { "path": path } }),
    )
    .await
}

fn days_ago(d: i64) -> String {
    (Utc::now() - chrono::Duration::days(d)).to_rfc3339()
}

/// Polls a job until `done` holds for it.
pub(crate) async fn wait_job(
    s: &TestServer,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let (status, job) = get(s, token, &format!("/interactions/jobs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not reach the expected state");
}

/// What a job exports: interactions from `start_days` ago, up to `end_days` ago for a
/// batch or ever on for a recurring job.
pub(crate) struct Span {
    pub(crate) start_days: i64,
    pub(crate) end_days: Option<i64>,
}

/// Schedules a job exporting `filters` over `span` to storage `sid`; answers its id.
pub(crate) async fn schedule(
    s: &TestServer,
    t: &str,
    sid: &str,
    span: Span,
    filters: Value,
) -> String {
    let mut body = json!({
        "startDate": days_ago(span.start_days),
        "filters": filters,
        "externalStorageId": sid,
    });
    let kind = match span.end_days {
        Some(d) => {
            body["endDate"] = days_ago(d).into();
            "batch"
        }
        None => "recurring",
    };
    let (status, v) = post(
        s,
        t,
        &format!("/interactions/jobs/schedule-{kind}-export"),
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["jobId"].as_str().unwrap().to_string()
}

/// Every content type and direction.
pub(crate) fn everything() -> Value {
    json!({ "contentTypes": [], "initialDirection": [] })
}

/// A run after the one at `before` has finished and the job waits for its next hour.
fn ran_and_waits(job: &Value, before: &Value) -> bool {
    !job["lastRunAt"].is_null() && job["lastRunAt"] != *before && job["status"] == "Scheduled"
}

/// `n` calls a few days back, alternating inbound and outbound, each with a recording
/// and a transcript.
async fn seed(s: &TestServer, token: &str, first: u32, n: u32) {
    for k in first..first + n {
        let dir = if k % 2 == 0 { "inbound" } else { "outbound" };
        let start = (Utc::now() - chrono::Duration::days(3) + chrono::Duration::minutes(k.into()))
            .to_rfc3339();
        s.seed_call(
            token,
            &guid(k),
            call_body(&start, "+441", "+442", "7", dir),
            300,
        )
        .await;
        let r = s
            .put_content(
                token,
                &guid(k),
                "transcript",
                "",
                "application/json",
                format!("{{\"text\":\"call {k}\"}}").into_bytes(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
}

/// Schedules a batch export of the inbound recordings among 6 seeded calls to `sid` and
/// waits for it to complete.
async fn export_inbound_recordings(s: &TestServer, t: &str, sid: &str) -> Value {
    seed(s, t, 1, 6).await;
    let span = Span {
        start_days: 4,
        end_days: Some(1),
    };
    let filters = json!({ "contentTypes": ["callRecording"], "initialDirection": ["inbound"] });
    let id = schedule(s, t, sid, span, filters).await;
    let job = wait_job(s, t, &id, |j| j["status"] == "Completed").await;
    assert_eq!(job["itemsExported"], 3, "{job}");
    assert!(job["error"].is_null());
    job
}

/// What `export_inbound_recordings` must leave in the target, by object name: exactly
/// the three inbound recordings, each byte-equal to its download, beside its metadata.
async fn assert_inbound_recordings(s: &TestServer, t: &str, objects: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(objects.len(), 6, "{:?}", objects.keys());
    for k in [2u32, 4, 6] {
        let g = guid(k);
        let (name, bytes) = objects
            .iter()
            .find(|(name, _)| name.ends_with(&format!("{g}/callRecording.wav")))
            .unwrap_or_else(|| panic!("{g} missing from {:?}", objects.keys()));
        assert!(name.starts_with("acme/"), "{name}");
        let r = s
            .get(
                t,
                &format!("/interaction-content/interactions/{g}/content/callRecording"),
            )
            .await;
        assert_eq!(&r.bytes().await.unwrap().to_vec(), bytes, "{g} intact");
        let meta: Value =
            serde_json::from_slice(&objects[&name.replace(".wav", ".metadata.json")]).unwrap();
        assert_eq!(meta["guid"], g.as_str());
        assert_eq!(meta["initialDirection"], "inbound");
        assert_eq!(meta["content"]["contentType"], "callRecording");
        assert_eq!(meta["content"]["length"], bytes.len());
    }
}

#[tokio::test]
async fn batch_export_writes_each_filtered_item_once_beside_its_metadata() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let sid = local_storage(&s, &t, "batch").await;
    let job = export_inbound_recordings(&s, &t, &sid).await;
    let root = s.dir.path().join("exports/batch");
    let objects = walk(&root)
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    assert_inbound_recordings(&s, &t, &objects).await;
    let id = job["jobId"].as_str().unwrap();
    let (status, v) = post(
        &s,
        &t,
        &format!("/interactions/jobs/{id}/cancel"),
        &json!({}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a completed job stays completed: {v}"
    );
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}
