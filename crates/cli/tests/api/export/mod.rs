//! The Interaction Content Export API over HTTP: external storage, body validation, the
//! job state machine and a batch export to a local directory here; what must hold on
//! every object storage provider (S3, Azure Blob, Google Cloud Storage, each a real
//! server on loopback) in `targets`.

mod targets;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::targets::{s3_endpoint, Provider, Target};
use crate::common::*;
use callvault_services::clock::ManualClock;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const EXPORT: &str = "/interaction-content-export";

fn s3_body(bucket: &str) -> Value {
    json!({
        "name": "archive",
        "storageProvider": "s3",
        "configuration": { "bucket": bucket, "region": "us-east-1", "endpoint": s3_endpoint() },
        "credentials": { "accessKeyId": "test", "secretAccessKey": "SECRET-test-value" },
    })
}

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

#[tokio::test]
async fn external_storage_is_validated_by_a_test_write_and_hides_credentials() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let target = Target::fresh(Provider::S3, "cv-exp-valid").await;
    let id = create_storage(&s, &t, &target.storage_body()).await;
    let (status, one) = get(&s, &t, &format!("/external-storage/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["storageProvider"], "s3");
    assert_eq!(one["configuration"]["bucket"], target.container.as_str());
    let (_, list) = get(&s, &t, "/external-storage").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    for v in [&one, &list] {
        assert!(
            !v.to_string().contains("SECRET"),
            "credentials never leave: {v}"
        );
    }
    // The probe object is gone again.
    assert!(target.objects().await.is_empty());
    if !scale_out() {
        let db = std::fs::read(s.dir.path().join("callvault.db")).unwrap();
        let wal = std::fs::read(s.dir.path().join("callvault.db-wal")).unwrap_or_default();
        for bytes in [db, wal] {
            assert!(
                !bytes.windows(6).any(|w| w == b"SECRET"),
                "credentials are stored sealed"
            );
        }
    }
    // Another tenant sees nothing.
    let other = s.token("globex", ALL_SCOPES).await;
    let (status, _) = get(&s, &other, &format!("/external-storage/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let cases = [
        (
            json!({ "storageProvider": "local", "configuration": { "path": "a" } }),
            "name",
        ),
        (
            json!({ "name": "x", "storageProvider": "ftp", "configuration": {} }),
            "storageProvider",
        ),
        // Not offered: no emulator takes its client's writes (docs/decisions.md).
        (
            json!({ "name": "x", "storageProvider": "googleCloudStorage", "configuration": { "bucket": "b" } }),
            "storageProvider",
        ),
        (
            json!({ "name": "x", "storageProvider": "local", "configuration": { "path": "../../etc" } }),
            "configuration.path",
        ),
        (
            json!({ "name": "x", "storageProvider": "local", "configuration": {} }),
            "configuration.path",
        ),
        (
            json!({ "name": "x", "storageProvider": "local", "configuration": { "path": "a", "colour": 1 } }),
            "configuration.colour",
        ),
        (
            json!({ "name": "x", "storageProvider": "s3", "configuration": { "bucket": "b" } }),
            "credentials",
        ),
        (
            json!({ "name": "x", "storageProvider": "s3", "configuration": { "bucket": "b" }, "credentials": { "password": "p" } }),
            "credentials",
        ),
        (
            json!({ "name": "x", "storageProvider": "s3", "configuration": { "bucket": target.container, "endpoint": "http://127.0.0.1:1" }, "credentials": { "accessKeyId": "a", "secretAccessKey": "b" } }),
            "configuration",
        ),
        (
            json!({ "name": "x", "storageProvider": "s3", "configuration": { "bucket": "cv-no-such-bucket", "endpoint": s3_endpoint() }, "credentials": { "accessKeyId": "a", "secretAccessKey": "b" } }),
            "configuration",
        ),
        (
            json!({ "name": "x", "storageProvider": "azureBlob", "configuration": { "account": "a", "container": "c" } }),
            "credentials",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let (status, v) = post(&s, &t, "/external-storage", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    let r = s
        .http
        .delete(s.url(&format!("{EXPORT}/external-storage/{id}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&s, &t, &format!("/external-storage/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Endpoints that are not http(s) URLs with a host are refused before any storage client
/// sees them (one of them used to panic inside request signing): 400 naming the field,
/// never a 5xx.
#[tokio::test]
async fn a_storage_endpoint_must_be_an_http_url() {
    let s = TestServer::start().await;
    let t = s.token("acme", "interaction-content:read").await;
    let hostile = [
        "not a url",
        "file:///etc",
        "http://[::1",
        "http://127.0.0.1:1/a b",
        "ftp://example.com",
        "http://user:pw@example.com",
        "https://",
    ];
    for provider in ["s3", "azureBlob"] {
        for endpoint in hostile {
            let mut body = s3_body("b");
            body["storageProvider"] = provider.into();
            body["configuration"] = match provider {
                "azureBlob" => json!({ "account": "a", "container": "c", "endpoint": endpoint }),
                _ => json!({ "bucket": "b", "endpoint": endpoint }),
            };
            if provider == "azureBlob" {
                body["credentials"] = json!({ "accountKey": "a2V5" });
            }
            let (status, v) = post(&s, &t, "/external-storage", &body).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{provider} {endpoint}: {v}"
            );
            assert_eq!(
                v["field"], "configuration.endpoint",
                "{provider} {endpoint}: {v}"
            );
        }
    }
}

/// A token with the read scope cannot make the server call internal addresses: loopback,
/// private, link-local (metadata services) endpoints are refused at once unless the
/// operator allows them (`egress_allow`), by address or after resolving the name.
#[tokio::test]
async fn storage_endpoints_may_not_reach_internal_addresses() {
    let s = TestServer::start_with(|c| c.egress_allow.clear()).await;
    let t = s.token("acme", "interaction-content:read").await;
    for endpoint in [
        s3_endpoint(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://localhost:9123".to_string(),
        "http://10.0.0.1:9000".to_string(),
        "http://[::1]:9123".to_string(),
    ] {
        let mut body = s3_body("b");
        body["configuration"]["endpoint"] = endpoint.clone().into();
        let started = std::time::Instant::now();
        let (status, v) = post(&s, &t, "/external-storage", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}: {v}");
        assert_eq!(v["field"], "configuration.endpoint", "{endpoint}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("egress_allow"),
            "{v}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn every_bad_schedule_field_is_named() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let sid = local_storage(&s, &t, "bad-bodies").await;
    let other = s.token("globex", ALL_SCOPES).await;
    let foreign = local_storage(&s, &other, "globex").await;
    let ok = json!({
        "startDate": days_ago(2),
        "filters": { "contentTypes": [], "initialDirection": [] },
        "externalStorageId": sid,
    });
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let recurring = [
        (without("startDate"), "startDate"),
        (with("startDate", json!("yesterday-ish")), "startDate"),
        (
            with("startDate", json!(Utc::now().to_rfc3339())),
            "startDate",
        ),
        (with("startDate", json!(12)), "startDate"),
        (without("filters"), "filters"),
        (
            with(
                "filters",
                json!({ "contentTypes": ["callRecording", "hologram"] }),
            ),
            "filters.contentTypes",
        ),
        (
            with("filters", json!({ "contentTypes": ["videoRecording"] })),
            "filters.contentTypes",
        ),
        (
            with("filters", json!({ "initialDirection": ["internal"] })),
            "filters.initialDirection",
        ),
        (
            with("filters", json!({ "contentTypes": "callRecording" })),
            "filters.contentTypes",
        ),
        (with("filters", json!({ "colour": [] })), "filters.colour"),
        (without("externalStorageId"), "externalStorageId"),
        (
            with("externalStorageId", json!("not-a-uuid")),
            "externalStorageId",
        ),
        (
            with("externalStorageId", json!(foreign)),
            "externalStorageId",
        ),
        (
            with("externalStorageId", json!(uuid::Uuid::new_v4().to_string())),
            "externalStorageId",
        ),
        (with("endDate", json!(days_ago(1))), "endDate"),
    ];
    for (body, field) in recurring {
        let (status, v) = post(
            &s,
            &t,
            "/interactions/jobs/schedule-recurring-export",
            &body,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    let batch_ok = with("endDate", json!(days_ago(1)));
    let batch_with = |k: &str, v: Value| {
        let mut b = batch_ok.clone();
        b[k] = v;
        b
    };
    let batch = [
        (without("endDate"), "endDate"),
        (batch_with("endDate", json!(days_ago(3))), "endDate"),
        (
            batch_with("endDate", json!(Utc::now().to_rfc3339())),
            "endDate",
        ),
        (batch_with("endDate", json!("2021-13-01")), "endDate"),
    ];
    for (body, field) in batch {
        let (status, v) = post(&s, &t, "/interactions/jobs/schedule-batch-export", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    let r = s
        .http
        .post(s.url(&format!("{EXPORT}/interactions/jobs/schedule-batch-export")))
        .bearer_auth(&t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Both spellings of the recurring endpoint accept the seed's example body.
    for path in ["schedule-recurring-export", "schedule-recurring-job"] {
        let (status, v) = post(&s, &t, &format!("/interactions/jobs/{path}"), &ok).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(uuid::Uuid::parse_str(v["jobId"].as_str().unwrap()).is_ok());
    }
    // A token without the read scope is refused.
    let w = s.token("acme", "interaction-content:write").await;
    let (status, _) = post(&s, &w, "/interactions/jobs/schedule-recurring-export", &ok).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn jobs_follow_the_state_machine_and_page() {
    let clock = Arc::new(ManualClock::starting_at(Utc::now()));
    let s = TestServer::start_with_clock(clock.clone()).await;
    let t = s.token("acme", ALL_SCOPES).await;
    let sid = local_storage(&s, &t, "states").await;
    let body = json!({
        "startDate": days_ago(2),
        "filters": { "contentTypes": [], "initialDirection": [] },
        "externalStorageId": sid,
    });
    let (_, v) = post(
        &s,
        &t,
        "/interactions/jobs/schedule-recurring-export",
        &body,
    )
    .await;
    let id = v["jobId"].as_str().unwrap().to_string();
    // The first run finds nothing old enough and waits for the next hour.
    let job = wait_job(&s, &t, &id, |j| ran_and_waits(j, &Value::Null)).await;
    assert_eq!(job["status"], "Scheduled");
    let act = |a: &'static str| {
        let id = id.clone();
        let s = &s;
        let t = &t;
        async move { post(s, t, &format!("/interactions/jobs/{id}/{a}"), &json!({})).await }
    };
    let (status, v) = act("restart").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("Scheduled"));
    let (status, v) = act("pause").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("Paused"))
    );
    assert_eq!(act("pause").await.0, StatusCode::CONFLICT);
    // A paused job does not run, whatever the hour.
    clock.advance(chrono::Duration::hours(3));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, paused) = get(&s, &t, &format!("/interactions/jobs/{id}")).await;
    assert_eq!(paused["lastRunAt"], job["lastRunAt"]);
    let (status, v) = act("restart").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("Scheduled"))
    );
    let (status, v) = act("cancel").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("Cancelled"))
    );
    for a in ["cancel", "pause", "restart"] {
        assert_eq!(act(a).await.0, StatusCode::CONFLICT, "{a} a cancelled job");
    }
    assert_eq!(act("explode").await.0, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &s,
        &t,
        &format!("/interactions/jobs/{}/cancel", uuid::Uuid::new_v4()),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = post(&s, &t, "/interactions/jobs/nope/cancel", &json!({})).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id"))
    );

    for _ in 0..4 {
        post(
            &s,
            &t,
            "/interactions/jobs/schedule-recurring-export",
            &body,
        )
        .await;
    }
    let (_, page) = get(&s, &t, "/interactions/jobs?page=2&limit=2").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, last) = get(&s, &t, "/interactions/jobs?page=3&limit=2").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["items"][0]["jobId"], id.as_str(), "newest first");
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("page=0", "page"),
        ("page=x", "page"),
    ] {
        let (status, v) = get(&s, &t, &format!("/interactions/jobs?{q}")).await;
        assert_eq!(
            (status, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{q}"
        );
    }
    let other = s.token("globex", ALL_SCOPES).await;
    let (_, theirs) = get(&s, &other, "/interactions/jobs").await;
    assert_eq!(theirs["total"], 0);
    // A storage that a live job uses cannot be deleted.
    let r = s
        .http
        .delete(s.url(&format!("{EXPORT}/external-storage/{sid}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
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
