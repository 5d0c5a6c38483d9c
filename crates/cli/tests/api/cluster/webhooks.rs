//! Webhook deliveries across nodes as processes (PostgreSQL + S3 in the scale-out run, one
//! data directory on the embedded backends): the outbox is drained under leases, so with
//! two nodes up each notification is sent by one of them, and the deliveries a node had
//! in flight when it was killed are taken over by another once its lease lapses.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;

use super::nodes::{cli, config, Node};
use crate::common::{call_body, json_of};
use crate::webhooks::{receiver, verify, Inbox};

/// Event ids received per subject (interaction GUID), each notification verified as a
/// consumer would.
fn received(inbox: &Arc<Mutex<Inbox>>, key: &str) -> HashMap<String, Vec<String>> {
    let mut by_subject: HashMap<String, Vec<String>> = HashMap::new();
    for (headers, body) in &inbox.lock().unwrap().got {
        let event = verify(headers, body, key).expect("a notification a consumer accepts");
        by_subject
            .entry(event["subject"].as_str().unwrap().to_string())
            .or_default()
            .push(event["id"].as_str().unwrap().to_string());
    }
    by_subject
}

/// Stores interaction `n` with a short recording through `node`; answers its GUID.
async fn ingest(http: &reqwest::Client, node: &Node, token: &str, n: u32) -> String {
    let g = crate::common::guid(n);
    let put = |path: String| http.put(format!("{}{path}", node.base)).bearer_auth(token);
    let body = call_body("2026-11-02T10:00:00Z", "+1555", "2000", "a1", "inbound");
    let r = put(format!("/interaction-content/interactions/{g}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = put(format!(
        "/interaction-content/interactions/{g}/content/callRecording"
    ))
    .header("Content-Type", "audio/wav")
    .body(callvault_services::audio::synth_wav(
        200,
        8000,
        300.0 + n as f32,
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    g
}

/// Waits until every GUID in `want` has its event, or fails after `within`.
async fn wait_for_subjects(
    inbox: &Arc<Mutex<Inbox>>,
    key: &str,
    want: &[String],
    within: Duration,
) -> HashMap<String, Vec<String>> {
    let began = Instant::now();
    loop {
        let got = received(inbox, key);
        let missing = want.iter().filter(|g| !got.contains_key(*g)).count();
        if missing == 0 {
            return got;
        }
        assert!(
            began.elapsed() < within,
            "{missing} of {} events missing",
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn setup(d: &Path, cfg: &Path, url: &str, key: &str) -> (String, String) {
    cli(d, cfg, &["tenant", "create", "acme"]);
    cli(
        d,
        cfg,
        &[
            "webhook",
            "create",
            "--tenant",
            "acme",
            "--name",
            "crm",
            "--url",
            url,
            "--event",
            "content.created",
            "--signing-key",
            key,
        ],
    );
    let c = cli(
        d,
        cfg,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "interaction-content:write",
        ],
    );
    (
        c["clientId"].as_str().unwrap().to_string(),
        c["clientSecret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn two_nodes_send_each_event_once_and_a_killed_nodes_deliveries_are_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cfg, _db) = config(d).await;
    let (url, inbox) = receiver(0).await;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (id, secret) = setup(d, &cfg, &url, &key);
    let a = Node::spawn(d, &cfg).await;
    let b = Node::spawn(d, &cfg).await;
    let http = reqwest::Client::new();
    let (_, tok) = json_of(
        http.post(format!("{}/Auth/connect/token", a.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = tok["access_token"].as_str().unwrap().to_string();

    // Both nodes up, changes through either: every event once, by one node or the other.
    let mut acked = Vec::new();
    for n in 1..=20 {
        let node = if n % 2 == 0 { &a } else { &b };
        acked.push(ingest(&http, node, &token, n).await);
    }
    wait_for_subjects(&inbox, &key, &acked, Duration::from_secs(30)).await;
    // Room for a duplicate to show up before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = received(&inbox, &key);
    assert!(
        got.values().all(|ids| ids.len() == 1),
        "a notification was sent twice by two live nodes: {got:?}"
    );

    // One node left; the receiver hangs, so the node's batch stays in flight; then it dies.
    drop(b);
    inbox.lock().unwrap().hold = true;
    for n in 21..=25 {
        acked.push(ingest(&http, &a, &token, n).await);
    }
    let began = Instant::now();
    while inbox.lock().unwrap().held == 0 {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "no delivery started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(a);
    inbox.lock().unwrap().hold = false;

    // A new node takes the dead node's deliveries over once its lease (5 s here) lapses.
    let _c = Node::spawn(d, &cfg).await;
    let got = wait_for_subjects(&inbox, &key, &acked, Duration::from_secs(90)).await;
    assert!(
        got.values()
            .all(|ids| ids.iter().collect::<HashSet<_>>().len() == 1),
        "a notification sent again keeps its id: {got:?}"
    );
}
