//! What must hold on every object storage provider an export can write to, run against
//! each provider's real server on loopback: the test write that proves a target, a
//! filtered batch export, a recurring export over simulated hours, and an outage of the
//! container, reported, retried and recovered.

use std::sync::Arc;

use callvault_services::clock::ManualClock;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    assert_inbound_recordings, create_storage, everything, export_inbound_recordings, post,
    ran_and_waits, schedule, seed, wait_job, Span,
};
use crate::common::targets::{Provider, Target};
use crate::common::*;

/// One test per provider for each story: `story::s3`, `story::azure_blob`.
macro_rules! on_every_provider {
    ($($story:ident),* $(,)?) => {$(
        mod $story {
            use crate::common::targets::Provider;

            #[tokio::test]
            async fn s3() {
                super::$story(Provider::S3).await
            }

            #[tokio::test]
            async fn azure_blob() {
                super::$story(Provider::Azure).await
            }
        }
    )*};
}

on_every_provider!(
    a_target_is_proven_by_a_test_write_and_a_missing_container_is_named,
    a_batch_export_writes_exactly_the_filtered_items,
    a_recording_larger_than_a_part_arrives_whole,
    a_recurring_export_sends_each_item_once_when_it_is_twelve_hours_old,
    an_outage_is_reported_retried_and_recovered,
);

/// A server on a clock the test moves, a token, a fresh container on `p` and the
/// external storage over it.
struct Setup {
    clock: Arc<ManualClock>,
    s: TestServer,
    t: String,
    target: Target,
    sid: String,
}

async fn setup(p: Provider, stem: &str) -> Setup {
    let clock = Arc::new(ManualClock::starting_at(Utc::now()));
    let s = TestServer::start_with_clock(clock.clone()).await;
    let t = s.token("acme", ALL_SCOPES).await;
    let target = Target::fresh(p, stem).await;
    let sid = create_storage(&s, &t, &target.storage_body()).await;
    Setup {
        clock,
        s,
        t,
        target,
        sid,
    }
}

/// The storage's own reason for refusing a container that does not exist, as each
/// server words it.
fn missing_container_reason(p: Provider) -> &'static str {
    match p {
        Provider::S3 => "NoSuchBucket",
        Provider::Azure => "ContainerNotFound",
    }
}

async fn a_target_is_proven_by_a_test_write_and_a_missing_container_is_named(p: Provider) {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let target = Target::fresh(p, "cv-valid").await;
    let id = create_storage(&s, &t, &target.storage_body()).await;
    assert!(!id.is_empty());
    assert!(target.objects().await.is_empty(), "the probe is removed");

    let mut missing = target.storage_body();
    let name_field = match p {
        Provider::S3 => "bucket",
        Provider::Azure => "container",
    };
    missing["configuration"][name_field] = "cv-never-created".into();
    let (status, v) = post(&s, &t, "/external-storage", &missing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "configuration", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(missing_container_reason(p)),
        "the storage's reason is passed on: {message}"
    );
}

/// A wrong account key is refused by the storage itself, with its reason. (Azurite checks
/// shared-key signatures; moto accepts any S3 credentials, so S3 cannot be tested so.)
#[tokio::test]
async fn a_wrong_azure_key_is_refused_with_the_storages_reason() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let azure = Target::fresh(Provider::Azure, "cv-key").await;
    let mut body = azure.storage_body();
    body["credentials"]["accountKey"] = "d3Jvbmcta2V5LXdyb25nLWtleQ==".into();
    let (status, v) = post(&s, &t, "/external-storage", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "configuration", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("AuthorizationFailure"), "{message}");
}

async fn a_batch_export_writes_exactly_the_filtered_items(p: Provider) {
    let Setup {
        s, t, target, sid, ..
    } = setup(p, "cv-batch").await;
    export_inbound_recordings(&s, &t, &sid).await;
    assert_inbound_recordings(&s, &t, &target.objects().await).await;
}

/// A recording over the 16 MiB single-PUT limit goes up as a multipart upload (two parts
/// here) and lands as one object, byte for byte.
async fn a_recording_larger_than_a_part_arrives_whole(p: Provider) {
    let Setup {
        s, t, target, sid, ..
    } = setup(p, "cv-large").await;
    let start = (Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    // 20 minutes of 8 kHz 16-bit audio: 19.2 MB.
    s.seed_call(
        &t,
        &guid(1),
        call_body(&start, "+1", "+2", "7", "inbound"),
        1_200_000,
    )
    .await;
    let span = Span {
        start_days: 4,
        end_days: Some(1),
    };
    let filters = json!({ "contentTypes": ["callRecording"], "initialDirection": [] });
    let id = schedule(&s, &t, &sid, span, filters).await;
    let job = wait_job(&s, &t, &id, |j| j["status"] == "Completed").await;
    assert_eq!(job["itemsExported"], 1, "{job}");
    let objects = target.objects().await;
    let (_, bytes) = objects
        .iter()
        .find(|(k, _)| k.ends_with("callRecording.wav"))
        .unwrap_or_else(|| panic!("{:?}", objects.keys()));
    assert!(bytes.len() > 16 * 1024 * 1024);
    assert!(s.recording(&t, &guid(1)).await == *bytes, "byte for byte");
}

async fn a_recurring_export_sends_each_item_once_when_it_is_twelve_hours_old(p: Provider) {
    let Setup {
        clock,
        s,
        t,
        target,
        sid,
    } = setup(p, "cv-recur").await;
    seed(&s, &t, 1, 4).await;
    let span = Span {
        start_days: 5,
        end_days: None,
    };
    let id = schedule(&s, &t, &sid, span, everything()).await;
    let first = wait_job(&s, &t, &id, |j| ran_and_waits(j, &Value::Null)).await;
    assert_eq!(first["itemsExported"], 0, "nothing is 12 hours old yet");
    assert!(target.objects().await.is_empty());

    // Thirteen hours on, the next run sends all 8 items (recording + transcript each).
    clock.advance(chrono::Duration::hours(13));
    let job = wait_job(&s, &t, &id, |j| {
        j["itemsExported"] == 8 && j["status"] == "Scheduled"
    })
    .await;
    assert_eq!(target.objects().await.len(), 16);

    // New content waits its 12 hours; what was sent is not sent again.
    seed(&s, &t, 10, 1).await;
    clock.advance(chrono::Duration::hours(1));
    let ran = job["lastRunAt"].clone();
    let job = wait_job(&s, &t, &id, |j| ran_and_waits(j, &ran)).await;
    assert_eq!(job["itemsExported"], 8);
    clock.advance(chrono::Duration::hours(12));
    let job = wait_job(&s, &t, &id, |j| {
        j["itemsExported"] == 10 && j["status"] == "Scheduled"
    })
    .await;
    let objects = target.objects().await;
    assert_eq!(objects.len(), 20, "{:?}", objects.keys());
    assert!(objects
        .keys()
        .any(|k| k.starts_with("acme/") && k.ends_with(&format!("{}/transcript.json", guid(10)))));
    clock.advance(chrono::Duration::hours(1));
    let ran = job["lastRunAt"].clone();
    let job = wait_job(&s, &t, &id, |j| ran_and_waits(j, &ran)).await;
    assert_eq!(job["itemsExported"], 10, "nothing twice");
    assert_eq!(target.objects().await.len(), 20);
}

async fn an_outage_is_reported_retried_and_recovered(p: Provider) {
    let Setup {
        clock,
        s,
        t,
        target,
        sid,
    } = setup(p, "cv-outage").await;
    seed(&s, &t, 1, 3).await;
    // The container disappears: every write fails.
    target.delete().await;
    let span = Span {
        start_days: 5,
        end_days: Some(1),
    };
    let id = schedule(&s, &t, &sid, span, everything()).await;
    let job = wait_job(&s, &t, &id, |j| j["consecutiveFailures"] == 1).await;
    assert_eq!(job["status"], "Scheduled", "{job}");
    assert!(job["error"].as_str().unwrap().contains("writing"), "{job}");
    assert_eq!(job["itemsExported"], 0);

    // It keeps failing with backoff until it gives up, saying why.
    for n in 2..=10 {
        clock.advance(chrono::Duration::hours(1));
        wait_job(&s, &t, &id, |j| j["consecutiveFailures"] == n).await;
    }
    let job = wait_job(&s, &t, &id, |j| j["status"] == "Failed").await;
    assert!(job["error"].as_str().is_some());

    // The storage comes back; a restart finishes the job with nothing lost.
    target.create().await;
    let (status, v) = post(
        &s,
        &t,
        &format!("/interactions/jobs/{id}/restart"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let job = wait_job(&s, &t, &id, |j| j["status"] == "Completed").await;
    assert_eq!(job["itemsExported"], 6);
    assert!(job["error"].is_null());
    assert_eq!(target.objects().await.len(), 12);
}
