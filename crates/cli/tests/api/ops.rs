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
    // Secured operations declare the 401 their authentication answers.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if op
                .get("security")
                .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()))
            {
                assert!(
                    op["responses"].get("401").is_some(),
                    "{method} {path} lacks 401"
                );
            }
        }
    }
    // The export endpoints take a missing body (export everything).
    let export = &paths["/call_recording/v1/api/accounts/{account}/company_call_recordings/export"];
    assert_ne!(export["post"]["requestBody"]["required"], true, "{export}");

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

/// Constraints the server enforces are declared in the document: delete-batch's 1 to 1000
/// GUIDs, a webhook's at least one event, and the versioned media types the Interaction
/// Content API negotiates by `Accept` (OpenAPI ignores an `Accept` header parameter, so
/// the responses carry them) with the 400 a missing or other version gets.
#[tokio::test]
async fn openapi_declares_enforced_constraints() {
    let s = TestServer::start().await;
    let (_, doc) = json_of(s.http.get(s.url("/openapi.json")).send().await.unwrap()).await;
    let body_schema = |path: &str| {
        let schema =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        match schema["$ref"].as_str() {
            Some(r) => doc.pointer(&r[1..]).unwrap().clone(),
            None => schema.clone(),
        }
    };
    let guids =
        &body_schema("/interaction-content/interactions/delete-batch")["properties"]["guids"];
    assert_eq!(
        (guids["minItems"].as_u64(), guids["maxItems"].as_u64()),
        (Some(1), Some(1000)),
        "{guids}"
    );
    let events = &body_schema("/webhooks/subscriptions")["properties"]["events"];
    assert_eq!(events["minItems"].as_u64(), Some(1), "{events}");

    for path in [
        "/interaction-content/interactions",
        "/interaction-content/interactions/{guid}",
    ] {
        let op = &doc["paths"][path]["get"];
        let mut served: Vec<&String> = op["responses"]["200"]["content"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}: 200 has no content"))
            .keys()
            .collect();
        served.sort();
        assert_eq!(served, [V2, V3], "{path}");
        assert!(op["responses"].get("400").is_some(), "{path} lacks 400");
        let description = op["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("400 naming `Accept`"),
            "{path}: {description}"
        );
    }
    s.stop().await;
}

/// The document is built from the routers, so nothing is served undocumented; this checks
/// the other way: every documented operation reaches a handler (axum's own answer to an
/// unrouted request is a 404 or 405 with an empty body; every handler's error has one).
#[tokio::test]
async fn every_documented_operation_is_served() {
    let s = TestServer::start().await;
    let (_, doc) = json_of(s.http.get(s.url("/openapi.json")).send().await.unwrap()).await;
    let sample = |name: &str| match name {
        "account" | "user" => "self".to_string(),
        "guid" => guid(1),
        "contentKey" => "callRecording".into(),
        "filename" => "S20071220/R2007122003163601000.wav".into(),
        "action" => "pause".into(),
        _ => "1".into(),
    };
    let mut checked = 0;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let mut url = String::new();
        for (i, seg) in path.split('/').enumerate() {
            if i > 0 {
                url.push('/');
            }
            match seg.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => url.push_str(&sample(name)),
                None => url.push_str(seg),
            }
        }
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if !["GET", "PUT", "POST", "DELETE", "PATCH"].contains(&m.as_str()) {
                continue;
            }
            let id = op["operationId"].as_str().unwrap_or_default().to_string();
            assert!(ids.insert(id.clone()), "operation id {id} is used twice");
            let r = s.http.request(m.clone(), s.url(&url)).send().await.unwrap();
            let status = r.status();
            let body = r.bytes().await.unwrap();
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED
                    && !(status == StatusCode::NOT_FOUND && body.is_empty()),
                "{m} {path} is documented but not served ({status})"
            );
            checked += 1;
        }
    }
    assert!(checked > 90, "only {checked} operations documented");
    let r = s.http.get(s.url("/no/such/path")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.bytes().await.unwrap().is_empty(),
        "the check above tells routed from unrouted"
    );
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
