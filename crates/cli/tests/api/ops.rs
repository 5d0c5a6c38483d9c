//! Health, readiness, metrics, the OpenAPI document, TLS and graceful shutdown.

use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn health_ready_metrics_openapi() {
    let s = TestServer::start().await;
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(
        r.headers()["x-request-id"].len(),
        36,
        "every response carries a request id"
    );
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    let (status, doc) = json_of(s.http.get(s.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/Auth/connect/token",
        "/interaction-content/interactions",
        "/interaction-content/interactions/{guid}",
        "/interaction-content/interactions/delete-batch",
        "/interaction-content/interactions/{guid}/content/{contentKey}",
        "/api/recordings/files",
        "/api/recordings/files.csv",
        "/api/recordings/files/{filename}",
        "/admin/tenant/api-token",
        "/call_recording/v1/api/accounts/{account}/company_call_recordings",
        "/call_recording/v1/api/accounts/{account}/users/{user}/call_recordings/{id}",
        "/call_recording/v1/api/audio/recording/{id}",
        "/call_recording/v1/api/accounts/{account}/company_call_recordings/transcriptions",
        "/call_recording/v1/api/transcription/{recording_id}",
        "/call_recording/v1/api/accounts/{account}/company_call_recordings/export",
        "/call_recording/v1/api/accounts/{account}/users/{user}/call_recordings/jobs/{id}",
        "/call_recording/v1/api/bulkDownload/retrieve",
        "/call_recording/v1/api/bulkDownload/recordings_transcriptions/retrieve",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }

    let _ = s.http.get(s.url("/healthz")).send().await.unwrap();
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""));

    let r = s.http.get(s.url("/no/such/path")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn serves_tls_with_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let s = TestServer::start_with(|c| c.tls = Some((cert_path.clone(), key_path.clone()))).await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}
