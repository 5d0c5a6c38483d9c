//! Wire shapes of the Interaction Content API, as snapshots: an extra, missing or renamed
//! field fails here. Times the server takes from its clock are redacted; everything else
//! is deterministic (fixed GUIDs, start times and audio).

use crate::common::*;
use reqwest::StatusCode;

async fn one_call() -> (TestServer, String) {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let mut body = call_body(
        "2021-03-04T10:00:00Z",
        "01473555000",
        "2000",
        "a1",
        "inbound",
    );
    body["end"] = "2021-03-04T10:05:00Z".into();
    body["callerName"] = "Ann Example".into();
    s.seed_call(&t, &guid(1), body, 1500).await;
    (s, t)
}

#[tokio::test]
async fn v3_search_page() {
    let (s, t) = one_call().await;
    let r = s
        .get(
            &t,
            "/interaction-content/interactions?start=2021-03-01T00:00:00Z&end=2021-03-07T00:00:00Z",
        )
        .await;
    assert_eq!(
        r.headers()["content-type"],
        V3,
        "served as the version asked for"
    );
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(v, {
        ".items[].content[].lastModified" => "[stored at]",
    });
}

#[tokio::test]
async fn v2_search_page() {
    let (s, t) = one_call().await;
    let r = s
        .http
        .get(s.url(
            "/interaction-content/interactions?start=2021-03-01T00:00:00Z&end=2021-03-07T00:00:00Z&limit=10",
        ))
        .bearer_auth(&t)
        .header("Accept", V2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        V2,
        "served as the version asked for"
    );
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(v, {
        ".items[].content[].lastModified" => "[stored at]",
    });
}

#[tokio::test]
async fn one_interaction() {
    let (s, t) = one_call().await;
    let path = format!("/interaction-content/interactions/{}", guid(1));
    let r = s.get(&t, &path).await;
    assert_eq!(
        r.headers()["content-type"],
        V3,
        "served as the version asked for"
    );
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(v, {
        ".content[].lastModified" => "[stored at]",
    });
}

#[tokio::test]
async fn an_error_names_the_field() {
    let (s, t) = one_call().await;
    let (status, v) = json_of(
        s.get(&t, "/interaction-content/interactions?start=yesterday")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!(v);
}
