//! Signed webhooks through the server: a receiver on loopback verifies each notification
//! as a consumer of the platform would (the JWT with a standard library, then the body's
//! hash), gets every event in order across a spell of failures, and the subscription API
//! refuses what it must.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::*;

/// Every content scope and the webhooks scope.
fn scopes() -> String {
    format!("{ALL_SCOPES} callvault:webhooks")
}

#[derive(Default)]
pub(crate) struct Inbox {
    /// Requests answered 500 before the receiver recovers.
    fail_first: usize,
    seen: usize,
    /// While set, requests are never answered (a receiver that hangs).
    pub(crate) hold: bool,
    /// Requests left hanging.
    pub(crate) held: usize,
    pub(crate) got: Vec<(HeaderMap, Vec<u8>)>,
}

async fn hook(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AxStatus {
    {
        let mut i = inbox.lock().unwrap();
        i.seen += 1;
        if !i.hold {
            if i.seen <= i.fail_first {
                return AxStatus::INTERNAL_SERVER_ERROR;
            }
            i.got.push((headers, body.to_vec()));
            return AxStatus::NO_CONTENT;
        }
        i.held += 1;
    }
    std::future::pending().await
}

pub(crate) async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Inbox>>) {
    let inbox = Arc::new(Mutex::new(Inbox {
        fail_first,
        ..Default::default()
    }));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

async fn subscribe(s: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    json_of(
        s.http
            .post(s.url("/webhooks/subscriptions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn wait_for(inbox: &Arc<Mutex<Inbox>>, n: usize) -> Vec<(HeaderMap, Vec<u8>)> {
    let began = Instant::now();
    loop {
        {
            let i = inbox.lock().unwrap();
            if i.got.len() >= n {
                return i.got.clone();
            }
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "only {} of {n} events arrived",
            inbox.lock().unwrap().got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    payload_hash: String,
}

/// What a consumer does: check the JWT with the key, then the body against its hash.
pub(crate) fn verify(headers: &HeaderMap, body: &[u8], key_b64: &str) -> Result<Value, String> {
    let jwt = headers["vonage-signature"].to_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.required_spec_claims = ["exp".to_string()].into();
    let claims =
        jsonwebtoken::decode::<Claims>(jwt, &jsonwebtoken::DecodingKey::from_secret(&key), &v)
            .map_err(|e| e.to_string())?
            .claims;
    if claims.exp - claims.iat != 300 {
        return Err("exp is not 5 minutes after iat".into());
    }
    if claims.payload_hash != hex::encode(Sha256::digest(body)) {
        return Err("payload_hash does not match the body".into());
    }
    Ok(serde_json::from_slice(body).unwrap())
}

#[tokio::test]
async fn events_arrive_as_signed_cloudevents_a_consumer_can_verify() {
    let s = TestServer::start().await;
    let token = s.token("acme", &scopes()).await;
    let (url, inbox) = receiver(0).await;
    let (status, sub) = subscribe(&s, &token, json!({
        "name": "crm", "url": url, "events": ["content.created", "com.callvault.interaction.deleted"],
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let key = sub["signingKey"].as_str().unwrap().to_string();
    s.seed_call(
        &token,
        &guid(1),
        call_body("2026-11-02T10:00:00Z", "+1555", "2000", "a1", "inbound"),
        500,
    )
    .await;
    let r = s
        .http
        .delete(s.url(&format!("/interaction-content/interactions/{}", guid(1))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let got = wait_for(&inbox, 2).await;
    let (headers, body) = &got[0];
    assert_eq!(headers["content-type"], "application/cloudevents+json");
    let event = verify(headers, body, &key).unwrap();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "com.callvault.content.created");
    assert_eq!(event["subject"], guid(1).as_str());
    assert_eq!(event["data"]["contentKey"], "callRecording");
    assert!(
        event["id"].as_str().unwrap().len() >= 32
            && event["time"].is_string()
            && event["source"].is_string()
    );
    let deleted = verify(&got[1].0, &got[1].1, &key).unwrap();
    assert_eq!(deleted["type"], "com.callvault.interaction.deleted");
    assert_eq!(deleted["data"]["cause"], "request");

    // A tampered body or a wrong key fails, as it must for the consumer.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert!(verify(headers, &tampered, &key)
        .unwrap_err()
        .contains("payload_hash"));
    let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    assert!(verify(headers, body, &wrong).is_err());

    // The key is shown once; the listing never shows it.
    let (_, list) = json_of(s.get(&token, "/webhooks/subscriptions").await).await;
    assert_eq!(list["subscriptions"][0]["name"], "crm");
    assert!(list["subscriptions"][0].get("signingKey").is_none());
}

#[tokio::test]
async fn a_receiver_that_fails_for_a_while_gets_every_event_in_order() {
    let s = TestServer::start().await;
    let token = s.token("acme", &scopes()).await;
    let (url, inbox) = receiver(3).await;
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let (status, sub) = subscribe(
        &s,
        &token,
        json!({
            "name": "ordered", "url": url, "events": ["content.created"], "signingKey": key,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert!(
        sub.get("signingKey").is_none(),
        "a supplied key is not echoed"
    );
    for n in 1..=3u32 {
        s.seed_call(
            &token,
            &guid(n),
            call_body("2026-11-02T10:00:00Z", "+1555", "2000", "a1", "inbound"),
            300,
        )
        .await;
    }
    let got = wait_for(&inbox, 3).await;
    let subjects: Vec<String> = got
        .iter()
        .map(|(h, b)| {
            verify(h, b, &key).unwrap()["subject"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(subjects, [guid(1), guid(2), guid(3)], "in order, each once");
    // The sender settles the batch just after the receiver has it: wait for the store.
    let id = sub["id"].as_str().unwrap();
    let began = Instant::now();
    let (d, first) = loop {
        let (_, d) = json_of(
            s.get(&token, &format!("/webhooks/subscriptions/{id}/deliveries"))
                .await,
        )
        .await;
        let first = d["deliveries"].as_array().unwrap().last().unwrap().clone();
        if first["status"] == "delivered" || began.elapsed() > Duration::from_secs(10) {
            break (d, first);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first["status"], "delivered", "{d}");
    assert_eq!(first["attempts"], 4, "three failures, then delivered: {d}");
}

#[tokio::test]
async fn the_subscription_api_refuses_what_it_must() {
    let s = TestServer::start().await;
    let token = s.token("acme", &scopes()).await;
    let good =
        json!({"name": "crm", "url": "http://127.0.0.1:9/hook", "events": ["content.created"]});
    assert_eq!(
        subscribe(&s, &token, good.clone()).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        subscribe(&s, &token, good.clone()).await.0,
        StatusCode::CONFLICT,
        "name unique in the tenant"
    );
    for (patch, field) in [
        (json!({"name": "ab"}), "name"),
        (json!({"url": "http://example.com/hook"}), "url"),
        (json!({"url": "https://169.254.169.254/latest"}), "url"),
        (json!({"url": "ftp://127.0.0.1/x"}), "url"),
        (json!({"events": ["content.updated"]}), "events"),
        (json!({"events": []}), "events"),
        (json!({"signingKey": "not base64!"}), "signingKey"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let mut body = good.clone();
        body["name"] = json!("other");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, e) = subscribe(&s, &token, body).await;
        assert_eq!(
            (status, e["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{patch}: {e}"
        );
    }
    let reader = s.token("acme", "interaction-content:read").await;
    assert_eq!(subscribe(&s, &reader, good).await.0, StatusCode::FORBIDDEN);
    let globex = s.token("globex", &scopes()).await;
    let (_, list) = json_of(s.get(&token, "/webhooks/subscriptions").await).await;
    let id = list["subscriptions"][0]["id"].as_str().unwrap();
    let r = s
        .get(&globex, &format!("/webhooks/subscriptions/{id}"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "another tenant's is not there"
    );
    let r = s
        .http
        .post(s.url(&format!(
            "/webhooks/subscriptions/{id}/deliveries/nope/redeliver"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no such failed delivery");
}

#[tokio::test]
async fn a_server_killed_during_a_burst_of_ingests_loses_no_event() {
    use crate::process::{bearer, cli, Server};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (url, inbox) = receiver(0).await;
    let key = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
    assert!(cli(d, &["tenant", "create", "acme"]).0);
    let (ok, sub, err) = cli(
        d,
        &[
            "webhook",
            "create",
            "--tenant",
            "acme",
            "--name",
            "crm",
            "--url",
            &url,
            "--event",
            "content.created",
            "--signing-key",
            &key,
        ],
    );
    assert!(ok, "{sub} {err}");
    let (ok, c, _) = cli(
        d,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "interaction-content:write",
        ],
    );
    assert!(ok);
    let (id, secret) = (
        c["clientId"].as_str().unwrap().to_string(),
        c["clientSecret"].as_str().unwrap().to_string(),
    );

    // A batch in flight when the server is killed waits for its lease to lapse: 3 s, not
    // the default 30, keeps the test short wherever the kill lands.
    let cfg = d.join("callvault.toml");
    std::fs::write(&cfg, "webhook_lease_secs = 3\n").unwrap();
    let server = Server::spawn_with(d, Some(&cfg)).await;
    let token = bearer(&server.base, &id, &secret).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4u32 {
        let (base, token, acked) = (server.base.clone(), token.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for n in 0..10_000u32 {
                let g = format!("{:08x}-{w:04x}-4000-8000-000000000000", n);
                let body = call_body("2026-11-02T10:00:00Z", "+1555", "2000", "a1", "inbound");
                let put = |path: String| http.put(format!("{base}{path}")).bearer_auth(&token);
                let Ok(r) = put(format!("/interaction-content/interactions/{g}"))
                    .json(&body)
                    .send()
                    .await
                else {
                    return;
                };
                if !r.status().is_success() {
                    return;
                }
                let wav = callvault_services::audio::synth_wav(200, 8000, 300.0);
                let Ok(r) = put(format!(
                    "/interaction-content/interactions/{g}/content/callRecording"
                ))
                .header("Content-Type", "audio/wav")
                .body(wav)
                .send()
                .await
                else {
                    return;
                };
                if r.status() == reqwest::StatusCode::CREATED {
                    acked.lock().unwrap().push(g);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "the burst ran ({} acknowledged)",
        acked.len()
    );

    // After a restart every acknowledged item's event arrives; a retried one keeps its id.
    let _server = Server::spawn_with(d, Some(&cfg)).await;
    let began = Instant::now();
    loop {
        let subjects: std::collections::HashMap<String, std::collections::HashSet<String>> = {
            let i = inbox.lock().unwrap();
            let mut m: std::collections::HashMap<String, std::collections::HashSet<String>> =
                Default::default();
            for (h, b) in &i.got {
                let e = verify(h, b, &key).unwrap();
                m.entry(e["subject"].as_str().unwrap().to_string())
                    .or_default()
                    .insert(e["id"].as_str().unwrap().to_string());
            }
            m
        };
        let missing = acked.iter().filter(|g| !subjects.contains_key(*g)).count();
        if missing == 0 {
            assert!(
                subjects.values().all(|ids| ids.len() == 1),
                "a duplicate carries the same id"
            );
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "{missing} of {} events missing",
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
