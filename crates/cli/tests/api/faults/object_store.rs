//! The S3-compatible content store going away under a running server and coming back.

use std::time::Duration;

use super::cut::Cut;
use super::{assert_unavailable, download, listed, recording, until, upload};
use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// How long a request may be held while the object store is unreachable: the client's
/// bounded retries (at most 10 s) with room for a slow machine.
const HELD_AT_MOST: Duration = Duration::from_secs(20);

/// While the object store cannot be reached, uploads and downloads answer 503 with
/// `Retry-After` within a bounded time, searches go on, and readiness says what is wrong;
/// once it is back, uploads work again without a restart and every recording stored
/// before the outage downloads byte for byte.
#[tokio::test]
async fn an_object_store_outage_answers_503_meanwhile_and_recovers_without_a_restart() {
    let mut s3 = fresh_bucket_prefix();
    let upstream = s3
        .endpoint
        .as_deref()
        .and_then(|e| e.strip_prefix("http://"))
        .and_then(|hostport| hostport.parse().ok())
        .expect("the test S3 endpoint is http://IP:PORT");
    let cut = Cut::new(upstream).await;
    s3.endpoint = Some(format!("http://{}", cut.addr()));
    let s = TestServer::start_with(|c| c.s3 = Some(s3)).await;
    let t = s.token("acme", ALL_SCOPES).await;
    for n in 1..=3 {
        let (status, text) = upload(&s, &t, n).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }

    cut.cut();
    let body = call_body("2021-03-04T11:00:00Z", "100", "200", "a1", "inbound");
    let r = s.put_interaction(&t, &guid(9), body).await;
    assert!(r.status().is_success(), "metadata needs no content store");
    assert_unavailable("upload", HELD_AT_MOST, async {
        s.put_content(&t, &guid(9), "callRecording", "", "audio/wav", recording(9))
            .await
    })
    .await;
    assert_unavailable("download", HELD_AT_MOST, download(&s, &t, 2)).await;
    let (status, during) = listed(&s, &t).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "search needs no content: {during:?}"
    );
    assert_eq!(during.len(), 3, "the interactions that have content");
    let (status, ready) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (status, ready["storage"].as_str()),
        (StatusCode::OK, Some("unreachable")),
        "{ready}"
    );

    cut.restore().await;
    let (status, text) = until(
        Duration::from_secs(30),
        |(status, _): &(StatusCode, String)| *status == StatusCode::CREATED,
        || upload(&s, &t, 4),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "upload after the outage: {text}"
    );
    for n in 1..=4 {
        let r = download(&s, &t, n).await;
        assert_eq!(r.status(), StatusCode::OK, "download {n} after the outage");
        assert_eq!(r.bytes().await.unwrap(), recording(n), "recording {n}");
    }
    let (_, after) = listed(&s, &t).await;
    assert_eq!(after.len(), 4);
    let (status, ready) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready.get("storage"), None::<&Value>, "{ready}");
    s.stop().await;
}
