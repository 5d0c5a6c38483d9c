//! The PostgreSQL server restarted under a running callvault server.

use std::time::Duration;

use super::private_pg::PrivatePg;
use super::{assert_unavailable, listed, until, upload};
use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// How long the first request may be held once the database is down: the wait for a
/// connection (10 s) with room for a slow machine.
const HELD_AT_MOST: Duration = Duration::from_secs(20);
/// How long the requests after it may be held: the server knows by then that the
/// database is down and waits for a connection only a second (with room for a slow
/// machine), so clients do not pile up.
const HELD_ONCE_KNOWN_DOWN: Duration = Duration::from_secs(5);

/// While the database is down, searches, uploads, sign-ins and readiness answer 503 with
/// `Retry-After` within a bounded time, and quickly once the first has found it down; once it is back, the same server (no restart)
/// answers again, and every upload it acknowledged before the outage is there.
#[tokio::test]
async fn a_database_restart_answers_503_meanwhile_and_recovers_without_a_restart() {
    let pg = PrivatePg::start();
    let s = TestServer::start_with(|c| c.database_url = Some(pg.url())).await;
    let (id, secret) = s.tenant_client("acme", ALL_SCOPES).await;
    let t = s.token("acme", ALL_SCOPES).await;
    for n in 1..=3 {
        let (status, text) = upload(&s, &t, n).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    let (_, before) = listed(&s, &t).await;
    assert_eq!(before.len(), 3);

    pg.down();
    // The token cache trusts a checked token for a second; past it, the store is asked.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let search = format!("/interaction-content/interactions?{}", super::DAY);
    assert_unavailable("search", HELD_AT_MOST, s.get(&t, &search)).await;
    assert_unavailable("upload", HELD_ONCE_KNOWN_DOWN, async {
        let body = call_body("2021-03-04T11:00:00Z", "100", "200", "a1", "inbound");
        s.put_interaction(&t, &guid(9), body).await
    })
    .await;
    assert_unavailable("sign-in", HELD_ONCE_KNOWN_DOWN, async {
        s.http
            .post(s.url("/Auth/connect/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .unwrap()
    })
    .await;
    let ready = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    pg.up();
    let (status, after) = until(
        Duration::from_secs(30),
        |(status, _): &(StatusCode, Vec<String>)| *status == StatusCode::OK,
        || listed(&s, &t),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "search after the restart: {after:?}"
    );
    assert_eq!(after, before, "everything acknowledged is still there");
    let (status, text) = upload(&s, &t, 4).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "upload after the restart: {text}"
    );
    let fresh = s.token("acme", "interaction-content:read").await;
    let (status, _) = listed(&s, &fresh).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ready) = json_of(s.http.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], Value::from("ready"));
    s.stop().await;
}
