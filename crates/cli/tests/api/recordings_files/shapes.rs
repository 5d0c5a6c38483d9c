//! Wire shapes of the Recordings files API, as snapshots of the XML and CSV bodies. Every
//! value is deterministic (fixed start times, durations and numbers).

use super::*;

async fn two_calls() -> Vcc {
    let v = Vcc::new().await;
    v.call(1, "2007-12-20T03:16:36Z", 65, json!({})).await;
    v.call(
        2,
        "2007-12-21T09:00:00Z",
        5,
        json!({"direction": "outbound"}),
    )
    .await;
    v
}

#[tokio::test]
async fn xml_listing() {
    let v = two_calls().await;
    let (status, body) = v
        .files("/api/recordings/files.xml?d=2007-12-01,2007-12-31")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_snapshot!(body);
}

#[tokio::test]
async fn csv_listing() {
    let v = two_calls().await;
    let (status, body) = v
        .files("/api/recordings/files.csv?d=2007-12-01,2007-12-31")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    insta::assert_snapshot!(body);
}

#[tokio::test]
async fn xml_error() {
    let v = two_calls().await;
    let (status, body) = v.files("/api/recordings/files.xml?d=not-a-date").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_snapshot!(body);
}
