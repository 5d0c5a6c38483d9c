//! Content uploads: streamed, verified against their digest and media type, addressed by
//! content key and query, and bounded in size.

use crate::common::*;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

/// (content key, query, media type, body, expected status, field named)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    StatusCode,
    &'static str,
);

/// A server with interaction 1 and a writer's token for it.
async fn one_interaction() -> (TestServer, String) {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let r = s
        .put_interaction(
            &t,
            &guid(1),
            call_body("2021-03-01T10:00:00Z", "1", "2", "3", "inbound"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (s, t)
}

/// The 1234 ms recording the tests upload.
fn recording() -> Vec<u8> {
    callvault_services::audio::synth_wav(1234, 16000, 500.0)
}

/// Uploads `wav` as interaction 1's recording, declaring `digest` as its SHA-256.
async fn put_with_digest(s: &TestServer, t: &str, wav: &[u8], digest: &str) -> reqwest::Response {
    s.http
        .put(s.url(&recording_path(&guid(1))))
        .bearer_auth(t)
        .header("Content-Type", "audio/wav")
        .header("X-Content-SHA256", digest)
        .body(wav.to_vec())
        .send()
        .await
        .unwrap()
}

/// Bodies that are not what their media type says, and media types not allowed.
fn bad_bodies() -> Vec<Case> {
    vec![
        (
            "callRecording",
            "",
            "audio/wav",
            b"not a wav at all".repeat(50),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body",
        ),
        (
            "callRecording",
            "",
            "application/json",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "Content-Type",
        ),
        (
            "callRecording",
            "",
            "nonsense",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "Content-Type",
        ),
        (
            "transcript",
            "",
            "application/json",
            b"{\"a\":".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body",
        ),
    ]
}

/// Content keys, types, owners and versions that address no content item.
fn bad_addresses(wav: &[u8]) -> Vec<Case> {
    vec![
        (
            "voicemail",
            "",
            "audio/wav",
            wav.to_vec(),
            StatusCode::BAD_REQUEST,
            "contentKey",
        ),
        (
            "017f2106-ff1b-8d35-89e5-1e01b327a159",
            "",
            "audio/wav",
            wav.to_vec(),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            "017f2106-ff1b-8d35-89e5-1e01b327a159",
            "?type=transcript",
            "application/json",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "contentKey",
        ),
        (
            "017f2106-ff1b-8d35-89e5-1e01b327a159",
            "?type=bogus",
            "audio/wav",
            wav.to_vec(),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            "transcript",
            "?owningAgent=1",
            "application/json",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "owningAgent",
        ),
        (
            "transcript",
            "?version=x",
            "application/json",
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "callRecording",
            "?type=transcript",
            "audio/wav",
            wav.to_vec(),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            "no such key",
            "",
            "audio/wav",
            wav.to_vec(),
            StatusCode::BAD_REQUEST,
            "contentKey",
        ),
    ]
}

/// Each case is refused with its status, naming its field.
async fn assert_refused(s: &TestServer, t: &str, cases: Vec<Case>) {
    for (key, q, media, bytes, want, field) in cases {
        let key = key.replace(' ', "%20");
        let (status, v) = json_of(s.put_content(t, &guid(1), &key, q, media, bytes).await).await;
        assert_eq!(status, want, "{key}{q} {media}: {v}");
        assert_eq!(v["field"], field, "{key}{q}: {v}");
    }
}

#[tokio::test]
async fn a_wrong_digest_is_refused_and_nothing_is_stored() {
    let (s, t) = one_interaction().await;
    let r = put_with_digest(&s, &t, &recording(), &"0".repeat(64)).await;
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "X-Content-SHA256");
    assert_eq!(
        s.get(&t, &recording_path(&guid(1))).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_matching_digest_is_accepted_and_the_audio_measured() {
    let (s, t) = one_interaction().await;
    let wav = recording();
    let r = put_with_digest(&s, &t, &wav, &hex(&Sha256::digest(&wav))).await;
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["properties"]["duration"]["value"], 1234);
    assert_eq!(v["contentLength"], wav.len());
}

/// Replacing keeps one item and answers 200.
#[tokio::test]
async fn replacing_a_recording_keeps_one_item_and_answers_200() {
    let (s, t) = one_interaction().await;
    let wav = recording();
    let r = put_with_digest(&s, &t, &wav, &hex(&Sha256::digest(&wav))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let wav2 = callvault_services::audio::synth_wav(500, 8000, 500.0);
    let (status, v) = json_of(
        s.put_content(&t, &guid(1), "callRecording", "", "audio/wav", wav2)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["properties"]["duration"]["value"], 500);
    let (_, body) = json_of(
        s.get(
            &t,
            &format!("/interaction-content/interactions/{}", guid(1)),
        )
        .await,
    )
    .await;
    assert_eq!(body["content"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_body_that_is_not_its_media_type_is_refused() {
    let (s, t) = one_interaction().await;
    assert_refused(&s, &t, bad_bodies()).await;
}

#[tokio::test]
async fn a_bad_content_key_or_query_is_refused_naming_it() {
    let (s, t) = one_interaction().await;
    assert_refused(&s, &t, bad_addresses(&recording())).await;
}

#[tokio::test]
async fn content_for_an_unknown_interaction_is_not_found() {
    let (s, t) = one_interaction().await;
    let (status, _) = json_of(
        s.put_content(
            &t,
            &guid(9),
            "transcript",
            "",
            "application/json",
            b"{}".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Refused uploads, however far they streamed, leave no file behind in staging and do not
/// touch the recording already stored.
#[tokio::test]
async fn refused_uploads_leave_no_staged_file_and_the_stored_recording_intact() {
    let (s, t) = one_interaction().await;
    let wav = recording();
    let r = s
        .put_content(&t, &guid(1), "callRecording", "", "audio/wav", wav.clone())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = put_with_digest(&s, &t, &wav, &"0".repeat(64)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_refused(&s, &t, bad_bodies()).await;
    assert_refused(&s, &t, bad_addresses(&wav)).await;
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    assert_eq!(s.vault.blobs.clean_staging(later).await.unwrap(), 0);
    let r = s.get(&t, &recording_path(&guid(1))).await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), wav);
}

#[tokio::test]
async fn uploads_respect_the_size_limit() {
    let s = TestServer::start_with(|c| c.max_content_bytes = 1000).await;
    let t = s.token("acme", ALL_SCOPES).await;
    s.put_interaction(
        &t,
        &guid(1),
        call_body("2021-03-01T10:00:00Z", "1", "2", "3", "inbound"),
    )
    .await;
    let (status, _) = json_of(
        s.put_content(
            &t,
            &guid(1),
            "attachment",
            "",
            "application/pdf",
            vec![1u8; 5000],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, v) = json_of(
        s.put_content(
            &t,
            &guid(1),
            "attachment",
            "",
            "application/pdf",
            vec![1u8; 999],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
