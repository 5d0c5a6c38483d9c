//! Downloading and deleting content (`001`, `004`); getting an interaction and the forms
//! of content keys are in `content_keys`.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

const WINDOW: &str = "start=2021-02-01T00:00:00Z&end=2021-02-07T00:00:00Z";

#[tokio::test]
async fn download_whole_and_ranges() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body("2021-02-01T09:00:00Z", "1", "2", "5", "inbound"),
        1000,
    )
    .await;
    let wav = callvault_services::audio::synth_wav(1000, 8000, 440.0);
    let path = recording_path(&guid(1));

    let r = s
        .http
        .get(s.url(&path))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(
        r.headers()["content-length"],
        wav.len().to_string().as_str()
    );
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.bytes().await.unwrap().to_vec(), wav);

    let r = s
        .http
        .get(s.url(&path))
        .bearer_auth(&t)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 10-19/{}", wav.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), wav[10..20].to_vec());

    let r = s
        .http
        .get(s.url(&path))
        .bearer_auth(&t)
        .header("Range", "bytes=-4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        wav[wav.len() - 4..].to_vec()
    );

    let r = s
        .http
        .get(s.url(&path))
        .bearer_auth(&t)
        .header("Range", format!("bytes={}-", wav.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{}", wav.len()).as_str()
    );

    let r = s
        .http
        .get(s.url(&path))
        .bearer_auth(&t)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

/// Blobs in the store, whichever backend the suite runs on.
async fn blob_files(s: &TestServer) -> usize {
    s.vault.blobs.list().await.expect("list blobs").len()
}

#[tokio::test]
async fn deletes_remove_bytes_and_search_hits() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body("2021-02-01T09:00:00Z", "1", "2", "5", "inbound"),
        200,
    )
    .await;
    // Same audio in another interaction: stored once, kept while referenced.
    s.seed_call(
        &t,
        &guid(2),
        call_body("2021-02-01T10:00:00Z", "1", "2", "5", "inbound"),
        200,
    )
    .await;
    let r = s
        .put_content(
            &t,
            &guid(1),
            "transcript",
            "",
            "application/json",
            br#"{"segments":[]}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(blob_files(&s).await, 2);

    let del = |g: String, key: &'static str| {
        let s = &s;
        let t = &t;
        async move {
            s.http
                .delete(s.url(&format!(
                    "/interaction-content/interactions/{g}/content/{key}"
                )))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(del(guid(1), "callRecording").await, StatusCode::NO_CONTENT);
    assert_eq!(del(guid(1), "callRecording").await, StatusCode::NOT_FOUND);
    assert_eq!(
        blob_files(&s).await,
        2,
        "the shared audio is still referenced by guid(2)"
    );
    assert_eq!(del(guid(2), "callRecording").await, StatusCode::NO_CONTENT);
    assert_eq!(blob_files(&s).await, 1, "the audio bytes are gone");
    let (_, body) = json_of(
        s.get(&t, &format!("/interaction-content/interactions?{WINDOW}"))
            .await,
    )
    .await;
    assert_eq!(
        body["items"].as_array().unwrap().len(),
        1,
        "guid(2) has no content left"
    );
    assert_eq!(del(guid(1), "transcript").await, StatusCode::NO_CONTENT);
    assert_eq!(blob_files(&s).await, 0);
    let (_, body) = json_of(
        s.get(&t, &format!("/interaction-content/interactions?{WINDOW}"))
            .await,
    )
    .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn delete_interaction_and_batch() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    for n in 1..=3 {
        s.seed_call(
            &t,
            &guid(n),
            call_body("2021-02-01T09:00:00Z", "1", "2", "5", "inbound"),
            100 + n,
        )
        .await;
    }
    let r = s
        .http
        .delete(s.url(&format!("/interaction-content/interactions/{}", guid(1))))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(
            &t,
            &format!("/interaction-content/interactions/{}", guid(1))
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    let body = json!({ "guids": [guid(2), guid(3), guid(1), "short"] });
    let r = s
        .http
        .post(s.url("/interaction-content/interactions/delete-batch"))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::OK);
    let failures = body["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{body}");
    assert_eq!(failures[0]["guid"], guid(1));
    assert_eq!(failures[0]["statusCode"], 404);
    assert_eq!(failures[1]["statusCode"], 400);
    assert_eq!(
        failures[1]["message"],
        "GUID must be 36 characters in length"
    );
    assert_eq!(blob_files(&s).await, 0);

    let too_many: Vec<String> = (0..1001).map(guid).collect();
    for bad in [
        json!({ "guids": too_many }),
        json!({ "guids": [] }),
        json!({ "ids": [] }),
        json!([1]),
    ] {
        let r = s
            .http
            .post(s.url("/interaction-content/interactions/delete-batch"))
            .bearer_auth(&t)
            .json(&bad)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["field"].is_string());
    }
}
