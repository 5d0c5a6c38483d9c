//! One request per recording: `PUT /interactions/{guid}/with-content/{contentKey}` with
//! the interaction and its content as one multipart form.

use crate::common::*;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn path(n: u32) -> String {
    format!(
        "/interaction-content/interactions/{}/with-content/callRecording",
        guid(n)
    )
}

fn form(interaction: &Value, media: &str, bytes: Vec<u8>) -> Form {
    Form::new()
        .part(
            "interaction",
            Part::text(interaction.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part("content", Part::bytes(bytes).mime_str(media).unwrap())
}

async fn send(s: &TestServer, t: &str, n: u32, form: Form) -> (StatusCode, Value) {
    let r = s
        .http
        .put(s.url(&path(n)))
        .bearer_auth(t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

/// The answer is `status` with an error naming `field`.
fn refused(status: StatusCode, v: &Value, want: StatusCode, field: &str) {
    assert_eq!((status, v["field"].as_str()), (want, Some(field)), "{v}");
}

fn body() -> Value {
    call_body("2021-03-01T10:00:00Z", "1", "2", "3", "inbound")
}

#[tokio::test]
async fn an_interaction_and_its_recording_arrive_in_one_request() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let wav = callvault_services::audio::synth_wav(1234, 16000, 500.0);
    let (status, v) = send(&s, &t, 1, form(&body(), "audio/wav", wav.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (_, stored) = json_of(
        s.get(
            &t,
            &format!("/interaction-content/interactions/{}", guid(1)),
        )
        .await,
    )
    .await;
    assert_eq!(v, stored, "the answer is the interaction as stored");
    assert_eq!(s.recording(&t, &guid(1)).await, wav);
}

#[tokio::test]
async fn sending_it_again_updates_the_interaction_and_keeps_one_recording() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let wav = callvault_services::audio::synth_wav(1000, 8000, 440.0);
    let (first, _) = send(&s, &t, 1, form(&body(), "audio/wav", wav.clone())).await;
    let mut later = body();
    later["connectFrom"] = json!("01473555000");
    let (status, v) = send(&s, &t, 1, form(&later, "audio/wav", wav)).await;
    assert_eq!(
        (first, status),
        (StatusCode::CREATED, StatusCode::OK),
        "{v}"
    );
    assert_eq!(v["connectFrom"], "01473555000");
    assert_eq!(v["content"].as_array().map(Vec::len), Some(1), "{v}");
}

#[tokio::test]
async fn a_refused_recording_leaves_no_interaction_behind() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let (status, v) = send(&s, &t, 1, form(&body(), "audio/wav", b"not a wav".to_vec())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");
    let r = s
        .get(
            &t,
            &format!("/interaction-content/interactions/{}", guid(1)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bad_interaction_part_is_refused_naming_its_field() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let wav = || callvault_services::audio::synth_wav(100, 8000, 440.0);
    let no_start = json!({"direction": "inbound"});
    let (status, v) = send(&s, &t, 1, form(&no_start, "audio/wav", wav())).await;
    refused(status, &v, StatusCode::BAD_REQUEST, "interaction.start");
    let bad_direction = json!({"start": "2021-03-01T10:00:00Z", "direction": "up"});
    let (status, v) = send(&s, &t, 1, form(&bad_direction, "audio/wav", wav())).await;
    refused(status, &v, StatusCode::BAD_REQUEST, "interaction.direction");
}

#[tokio::test]
async fn a_form_without_its_parts_in_order_is_refused_naming_the_part() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let wav = || callvault_services::audio::synth_wav(100, 8000, 440.0);
    let content_first = Form::new()
        .part("content", Part::bytes(wav()).mime_str("audio/wav").unwrap())
        .part("interaction", Part::text(body().to_string()));
    let (status, v) = send(&s, &t, 1, content_first).await;
    refused(status, &v, StatusCode::BAD_REQUEST, "interaction");
    let no_content = Form::new().part("interaction", Part::text(body().to_string()));
    let (status, v) = send(&s, &t, 1, no_content).await;
    refused(status, &v, StatusCode::BAD_REQUEST, "content");
    let untyped = Form::new()
        .part("interaction", Part::text(body().to_string()))
        .part("content", Part::bytes(wav()));
    let (status, v) = send(&s, &t, 1, untyped).await;
    refused(status, &v, StatusCode::BAD_REQUEST, "content");
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_refused() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let r = s
        .http
        .put(s.url(&path(1)))
        .bearer_auth(&t)
        .json(&body())
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    refused(
        status,
        &v,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
    );
}

#[tokio::test]
async fn a_reader_may_not_send_one() {
    let s = TestServer::start().await;
    let t = s.token("acme", "interaction-content:read").await;
    let wav = callvault_services::audio::synth_wav(100, 8000, 440.0);
    let (status, _) = send(&s, &t, 1, form(&body(), "audio/wav", wav)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
