//! What a receiver answers, as receivers in the field answer: with a body. A raw TCP
//! receiver (not a framework's) so that the test sees every connection the server opens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::common::*;

/// What the raw receiver saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
}

/// A receiver that answers every request with `answer` (a whole HTTP response, body and
/// all; the body a moment after the head) and counts the connections it accepts and the requests it reads.
async fn raw_receiver(answer: &'static str) -> (String, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            counts.connections.fetch_add(1, Ordering::SeqCst);
            let counts = counts.clone();
            tokio::spawn(async move {
                let (read, mut write) = conn.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut len = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    read.read_exact(&mut body).await.unwrap();
                    counts.requests.fetch_add(1, Ordering::SeqCst);
                    // The head, then the body a moment later, as a framework that
                    // streams its answer sends them: the body is not there yet when
                    // the client has read the status.
                    let split = answer.find("\r\n\r\n").unwrap() + 4;
                    let (head, body) = answer.as_bytes().split_at(split);
                    if write.write_all(head).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if write.write_all(body).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

/// A server, a token with the webhooks scope, and a subscription to content.created at a
/// raw receiver that answers `answer`.
async fn subscribed(answer: &'static str) -> (TestServer, String, Arc<Seen>, Value) {
    let s = TestServer::start().await;
    let token = s
        .token("acme", &format!("{ALL_SCOPES} callvault:webhooks"))
        .await;
    let (url, seen) = raw_receiver(answer).await;
    let (status, sub) = json_of(
        s.http
            .post(s.url("/webhooks/subscriptions"))
            .bearer_auth(&token)
            .json(&json!({"name": "answers", "url": url, "events": ["content.created"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    (s, token, seen, sub)
}

async fn seed(s: &TestServer, token: &str, calls: u32) {
    for n in 1..=calls {
        s.seed_call(
            token,
            &guid(n),
            call_body("2026-11-02T10:00:00Z", "+1555", "2000", "a1", "inbound"),
            300,
        )
        .await;
    }
}

#[tokio::test]
async fn deliveries_to_a_receiver_that_answers_with_a_body_share_one_connection() {
    let (s, token, seen, _) = subscribed(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\naccepted",
    )
    .await;
    seed(&s, &token, 10).await;
    let began = Instant::now();
    while seen.requests.load(Ordering::SeqCst) < 10 {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "not every event arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Read to its end, an answer's connection goes back to the client's pool; the next
    // request may still open another if it asks before the connection is back (the
    // pool races a new connection against a returning one), but not one per delivery.
    let connections = seen.connections.load(Ordering::SeqCst);
    assert!(
        connections <= 4,
        "{connections} connections for 10 deliveries: the answers' bodies are not read"
    );
}

#[tokio::test]
async fn a_failed_delivery_quotes_what_the_receiver_said() {
    let (s, token, seen, sub) = subscribed(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 28\r\n\r\nthe\r\ndatabase \x1b[31m is down\n",
    )
    .await;
    seed(&s, &token, 1).await;
    let id = sub["id"].as_str().unwrap();
    let began = Instant::now();
    let error = loop {
        let (_, d) = json_of(
            s.get(&token, &format!("/webhooks/subscriptions/{id}/deliveries"))
                .await,
        )
        .await;
        if let Some(e) = d["deliveries"][0]["lastError"].as_str() {
            break e.to_string();
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "no failure recorded: {d}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(seen.requests.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        error, "the receiver answered HTTP 503 Service Unavailable: the database [31m is down",
        "one line, its escape character a space"
    );
}
