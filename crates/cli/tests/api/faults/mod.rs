//! Faults under a running server: a disk that fills up, the PostgreSQL server restarted,
//! the object store's address gone dark. Each test checks what a client sees during the
//! fault (a clean error that says when to come back, never a 500), that the server
//! recovers by itself without a restart, and that nothing it acknowledged is lost.

mod cut;
mod disk;
mod object_store;
mod postgres;
mod private_pg;

use std::future::Future;
use std::time::{Duration, Instant};

use crate::common::*;
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// The day every upload of these tests falls on.
const DAY: &str = "start=2021-03-04T00:00:00Z&end=2021-03-05T00:00:00Z";

/// The recording of interaction `n`: a minute of a tone of its own, so each is a blob of
/// its own.
fn recording(n: u32) -> Vec<u8> {
    callvault_services::audio::synth_wav(60_000, 8000, 300.0 + n as f32)
}

/// Stores interaction `n` and its recording; answers the first refusal or the created
/// content's status.
async fn upload(s: &TestServer, t: &str, n: u32) -> (StatusCode, String) {
    let g = guid(n);
    let body = call_body("2021-03-04T10:00:00Z", "100", "200", "a1", "inbound");
    let r = s.put_interaction(t, &g, body).await;
    if !r.status().is_success() {
        return (r.status(), r.text().await.unwrap());
    }
    let r = s
        .put_content(t, &g, "callRecording", "", "audio/wav", recording(n))
        .await;
    (r.status(), r.text().await.unwrap())
}

/// The GUIDs a search over the test's day lists, sorted.
async fn listed(s: &TestServer, t: &str) -> (StatusCode, Vec<String>) {
    let r = s
        .get(t, &format!("/interaction-content/interactions?{DAY}"))
        .await;
    let status = r.status();
    let text = r.text().await.unwrap();
    if status != StatusCode::OK {
        return (status, vec![text]);
    }
    let page: Value = serde_json::from_str(&text).unwrap();
    let mut guids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["guid"].as_str().unwrap().to_string())
        .collect();
    guids.sort();
    (status, guids)
}

/// Downloads interaction `n`'s recording.
async fn download(s: &TestServer, t: &str, n: u32) -> Response {
    s.get(t, &recording_path(&guid(n))).await
}

/// A refusal during an outage: 503 with `Retry-After` and a message in the dialect's
/// JSON, answered within `bound` (the client is not held for the length of the outage).
async fn assert_unavailable(what: &str, bound: Duration, call: impl Future<Output = Response>) {
    let began = Instant::now();
    let r = call.await;
    let took = began.elapsed();
    let status = r.status();
    let retry_after = r.headers().get("retry-after").cloned();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {text}");
    assert!(retry_after.is_some(), "{what}: 503 without Retry-After");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {text}"));
    assert!(body["message"].is_string(), "{what}: {body}");
    assert!(took <= bound, "{what} held the client for {took:?}");
}

/// Calls `f` until it answers `want` or `within` has passed; answers the last answer.
async fn until<T, F, Fut>(within: Duration, want: impl Fn(&T) -> bool, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let began = Instant::now();
    loop {
        let got = f().await;
        if want(&got) || began.elapsed() > within {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
