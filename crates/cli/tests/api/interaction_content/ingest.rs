//! The ingest API: metadata upserts and streamed, verified content uploads.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn interaction_upsert_is_idempotent_and_validated() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let body = json!({
        "start": "2021-03-01T10:00:00+01:00",
        "end": "2021-03-01T10:05:00+01:00",
        "direction": "inbound",
        "connectFrom": "+441473000000",
        "connectTo": "33890022",
        "callerName": "Ada",
        "handlingAgents": ["1342", {"id": "77"}],
        "extensions": ["201"],
        "queueId": "q1",
        "queueName": "Support",
        "channel": "Phone",
        "attributes": {"caseId": "C-1", "wrapUpCode": "Resolved", "recordingRuleIds": ["r1"], "recordingKind": "company"}
    });
    let r = s.put_interaction(&t, &guid(1), body.clone()).await;
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["start"], "2021-03-01T09:00:00Z");
    assert_eq!(v["handlingAgents"], json!([{"id": "1342"}, {"id": "77"}]));
    let (status, _) = json_of(s.put_interaction(&t, &guid(1), body.clone()).await).await;
    assert_eq!(status, StatusCode::OK);
    let stored = s.store.tenant_by_name("acme").await.unwrap().unwrap();
    let g = callvault_core::Guid::parse("g", &guid(1)).unwrap();
    let i = s
        .store
        .get_interaction(stored.id, &g)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.number, 1, "an update keeps the per-tenant number");
    assert_eq!(i.meta.attributes.case_id.as_deref(), Some("C-1"));

    let cases = [
        (json!({"direction": "inbound"}), "start"),
        (json!({"start": "soon", "direction": "inbound"}), "start"),
        (
            json!({"start": "2021-03-01T10:00:00Z", "direction": "up"}),
            "direction",
        ),
        (
            json!({"start": "2021-03-01T10:00:00Z", "end": "2021-03-01T09:00:00Z", "direction": "inbound"}),
            "end",
        ),
        (
            json!({"start": "2021-03-01T10:00:00Z", "direction": "inbound", "colour": "red"}),
            "colour",
        ),
        (
            json!({"start": "2021-03-01T10:00:00Z", "direction": "inbound", "attributes": {"nope": 1}}),
            "attributes",
        ),
        (
            json!({"start": "2021-03-01T10:00:00Z", "direction": "inbound", "handlingAgents": ["a b"]}),
            "handlingAgents",
        ),
        (json!({"start": 5, "direction": "inbound"}), "start"),
    ];
    for (body, field) in cases {
        let (status, v) = json_of(s.put_interaction(&t, &guid(2), body.clone()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(
            v["field"].as_str().unwrap().starts_with(field),
            "{body}: {v}"
        );
    }
    let r = s
        .http
        .put(s.url(&format!("/interaction-content/interactions/{}", guid(2))))
        .bearer_auth(&t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Every stored string obeys one rule: the attributes too refuse control characters and
/// values longer than 256 characters, naming the attribute.
#[tokio::test]
async fn attributes_obey_the_field_rule() {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let long = "x".repeat(900_000);
    let cases = [
        ("caseId", json!("a\u{0}b")),
        ("accountNumber", json!("line\nbreak")),
        ("transactionId", json!(long)),
        ("extVar1", json!("\u{1b}[31m")),
        ("extVar2", json!("ok\u{7}")),
        ("wrapUpCode", json!(long)),
        ("outDialCode", json!("\r")),
    ];
    for (name, value) in cases {
        let body = json!({
            "start": "2021-03-01T10:00:00Z", "direction": "inbound",
            "attributes": { name: value },
        });
        let (status, v) = json_of(s.put_interaction(&t, &guid(3), body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {v}");
        assert_eq!(v["field"], format!("attributes.{name}"), "{v}");
    }
}

#[tokio::test]
async fn uploads_are_verified() {
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
    let g = guid(1);
    let wav = callvault_services::audio::synth_wav(1234, 16000, 500.0);
    let sha = hex(&Sha256::digest(&wav));

    // A wrong digest is refused and nothing is stored.
    let r = s
        .http
        .put(s.url(&format!(
            "/interaction-content/interactions/{g}/content/callRecording"
        )))
        .bearer_auth(&t)
        .header("Content-Type", "audio/wav")
        .header("X-Content-SHA256", "0".repeat(64))
        .body(wav.clone())
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "X-Content-SHA256");
    assert_eq!(
        s.get(
            &t,
            &format!("/interaction-content/interactions/{g}/content/callRecording")
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    let r = s
        .http
        .put(s.url(&format!(
            "/interaction-content/interactions/{g}/content/callRecording"
        )))
        .bearer_auth(&t)
        .header("Content-Type", "audio/wav")
        .header("X-Content-SHA256", &sha)
        .body(wav.clone())
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["properties"]["duration"]["value"], 1234);
    assert_eq!(v["contentLength"], wav.len());

    // Replacing keeps one item and answers 200.
    let wav2 = callvault_services::audio::synth_wav(500, 8000, 500.0);
    let (status, v) = json_of(
        s.put_content(&t, &g, "callRecording", "", "audio/wav", wav2.clone())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["properties"]["duration"]["value"], 500);
    let (_, body) = json_of(
        s.get(&t, &format!("/interaction-content/interactions/{g}"))
            .await,
    )
    .await;
    assert_eq!(body["content"].as_array().unwrap().len(), 1);

    // (content key, query, media type, body, expected status, field named)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Vec<u8>,
        StatusCode,
        &'static str,
    );
    let cases: Vec<Case> = vec![
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
        (
            "voicemail",
            "",
            "audio/wav",
            wav.clone(),
            StatusCode::BAD_REQUEST,
            "contentKey",
        ),
        (
            "017f2106-ff1b-8d35-89e5-1e01b327a159",
            "",
            "audio/wav",
            wav.clone(),
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
            wav.clone(),
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
            wav.clone(),
            StatusCode::BAD_REQUEST,
            "type",
        ),
        (
            "no such key",
            "",
            "audio/wav",
            wav.clone(),
            StatusCode::BAD_REQUEST,
            "contentKey",
        ),
    ];
    for (key, q, media, bytes, want, field) in cases {
        let key = key.replace(' ', "%20");
        let (status, v) = json_of(s.put_content(&t, &g, &key, q, media, bytes).await).await;
        assert_eq!(status, want, "{key}{q} {media}: {v}");
        assert_eq!(v["field"], field, "{key}{q}: {v}");
    }
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
    // Nothing failed left a file behind in staging.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    assert_eq!(s.vault.blobs.clean_staging(later).await.unwrap(), 0);
    // The good recording is intact.
    let r = s
        .get(
            &t,
            &format!("/interaction-content/interactions/{g}/content/callRecording"),
        )
        .await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), wav2);
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
