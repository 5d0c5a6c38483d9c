//! Two nodes over the same stores (PostgreSQL + S3 in the scale-out run, the same data
//! directory on the embedded backends): a client sees the same vault whichever node it
//! reaches, with the same tokens and continuation tokens.

use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn tokens_pages_and_writes_carry_across_nodes() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let t = a.token("acme", ALL_SCOPES).await;
    for k in 1..=5u32 {
        a.seed_call(
            &t,
            &guid(k),
            call_body(
                &format!("2021-02-0{k}T09:00:00Z"),
                "+1",
                "+2",
                "7",
                "inbound",
            ),
            200,
        )
        .await;
    }
    let window = "start=2021-02-01T00:00:00Z&end=2021-02-07T23:59:59Z";
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    // Pages alternate between the nodes; each continues where the other stopped.
    for hop in 0.. {
        let node = if hop % 2 == 0 { &a } else { &b };
        let mut q = format!("{window}&limit=2");
        if let Some(tok) = &next {
            q.push_str("&continuationToken=");
            q.push_str(&urlencode(tok));
        }
        let (status, body) = json_of(
            node.get(&t, &format!("/interaction-content/interactions?{q}"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for i in body["items"].as_array().unwrap() {
            seen.push(i["guid"].as_str().unwrap().to_string());
        }
        match body["meta"]["nextContinuationToken"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (1..=5).map(guid).collect::<Vec<_>>());

    // Bytes written through one node download from the other.
    assert!(b.recording(&t, &guid(3)).await.starts_with(b"RIFF"));
    // A delete on one is seen by the other.
    let r = b
        .http
        .delete(b.url(&format!("/interaction-content/interactions/{}", guid(3))))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = a
        .get(
            &t,
            &format!("/interaction-content/interactions/{}", guid(3)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    b.stop().await;
    a.stop().await;
}

/// A client revoked through one node (or the CLI, another process) loses its tokens on
/// every node within the token cache's bound, a second.
#[tokio::test]
async fn a_revocation_reaches_every_node_within_a_second() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let (id, secret) = a.tenant_client("acme", ALL_SCOPES).await;
    let r = a
        .http
        .post(a.url("/Auth/connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (_, body) = json_of(r).await;
    let t = body["access_token"].as_str().unwrap().to_string();
    let path =
        "/interaction-content/interactions?start=2021-02-01T00:00:00Z&end=2021-02-02T00:00:00Z";
    assert_eq!(
        b.get(&t, path).await.status(),
        StatusCode::OK,
        "node b has it cached now"
    );
    let acme = a.tenant("acme").await.tenant.id;
    a.vault.auth.revoke(acme, &id).await.unwrap();
    let revoked = std::time::Instant::now();
    assert_eq!(
        a.get(&t, path).await.status(),
        StatusCode::UNAUTHORIZED,
        "at once on a"
    );
    loop {
        let status = b.get(&t, path).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked.elapsed()
                < callvault_services::auth::CACHE_TTL + std::time::Duration::from_millis(500),
            "node b still accepts the revoked token ({status})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
