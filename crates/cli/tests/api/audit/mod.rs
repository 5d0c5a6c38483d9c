//! The audit trail (`/admin/audit`): governance actions beside their changes; failed
//! sign-ins; a tampered or truncated chain is found; the trail's scope and formats. One
//! record per access, of every kind and through every dialect, is in `access_kinds`.

mod access_kinds;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;

const SCOPES: &str = "interaction-content:read interaction-content:delete interaction-content:write callvault:governance callvault:audit";

async fn records(s: &TestServer, t: &str, query: &str) -> Vec<Value> {
    let (status, v) = json_of(s.get(t, &format!("/admin/audit{query}")).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["records"].as_array().unwrap().clone()
}

/// Runs one statement on the test server's database, as someone with access to it would.
async fn tamper(s: &TestServer, sql: &str) {
    match &s.settings.database_url {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        None => {
            let path = s.settings.data_dir.join("callvault.db");
            let url = format!("sqlite://{}", path.display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
}

#[tokio::test]
async fn governance_actions_and_deletes_are_recorded() {
    let s = TestServer::start().await;
    let t = s.token("acme", SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body("2020-01-01T10:00:00Z", "+1", "2", "a1", "inbound"),
        300,
    )
    .await;
    let post =
        |path: &str, body: Value| s.http.post(s.url(path)).bearer_auth(&t).json(&body).send();
    let (_, hold) = json_of(
        post(
            "/admin/governance/holds",
            json!({"caseName": "Case", "reason": "r", "selector": {"guids": [guid(1)]}}),
        )
        .await
        .unwrap(),
    )
    .await;
    let url = s.url(&format!("/interaction-content/interactions/{}", guid(1)));
    assert_eq!(
        s.http
            .delete(&url)
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CONFLICT
    );
    let id = hold["id"].as_str().unwrap();
    post(&format!("/admin/governance/holds/{id}/release"), json!({}))
        .await
        .unwrap();
    assert_eq!(
        s.http
            .delete(&url)
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    post(
        "/admin/governance/retention-policies",
        json!({"name": "p", "maxDays": 10}),
    )
    .await
    .unwrap();

    let all = records(&s, &t, "").await;
    let seen: Vec<(String, String)> = all
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("holdPlaced", "ok"),
        ("delete", "refused"),
        ("holdReleased", "ok"),
        ("delete", "ok"),
        ("policyChanged", "ok"),
    ]
    .map(|(a, o)| (a.to_string(), o.to_string()));
    assert_eq!(seen, want, "{all:#?}");
    assert!(all[1]["detail"].as_str().unwrap().contains("legal hold"));
    assert_eq!(all[3]["interaction"], guid(1));
}

#[tokio::test]
async fn a_changed_or_removed_record_breaks_the_chain() {
    let s = TestServer::start().await;
    let t = s.token("acme", SCOPES).await;
    for _ in 0..3 {
        s.get(
            &t,
            "/interaction-content/interactions?start=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z",
        )
        .await;
    }
    let (status, v) = json_of(s.get(&t, "/admin/audit/verify").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["intact"].as_bool(), v["records"].as_u64()),
        (Some(true), Some(3)),
        "{v}"
    );

    let all = records(&s, &t, "").await;
    let second = all[1]["seq"].as_i64().unwrap();
    tamper(
        &s,
        &format!("UPDATE audit_log SET principal = 'client:nobody' WHERE seq = {second}"),
    )
    .await;
    let (_, v) = json_of(s.get(&t, "/admin/audit/verify").await).await;
    assert_eq!(
        (v["intact"].as_bool(), v["firstBrokenSeq"].as_i64()),
        (Some(false), Some(second)),
        "{v}"
    );
    assert!(v["reason"].as_str().unwrap().contains("changed"), "{v}");

    // Putting it back and cutting off the newest record instead is found by the head.
    let principal = all[1]["principal"].as_str().unwrap();
    tamper(
        &s,
        &format!("UPDATE audit_log SET principal = '{principal}' WHERE seq = {second}"),
    )
    .await;
    let last = all[2]["seq"].as_i64().unwrap();
    tamper(&s, &format!("DELETE FROM audit_log WHERE seq = {last}")).await;
    let (_, v) = json_of(s.get(&t, "/admin/audit/verify").await).await;
    assert_eq!(v["intact"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("removed"), "{v}");
}

#[tokio::test]
async fn a_failed_sign_in_is_recorded_in_the_clients_tenant() {
    let s = TestServer::start().await;
    let t = s.token("acme", SCOPES).await;
    let (id, _) = s.tenant_client("acme", "interaction-content:read").await;
    let r = s
        .http
        .post(s.url("/Auth/connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let failures = records(&s, &t, "?action=authFailure").await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["principal"], format!("client:{id}"));
    assert_eq!(failures[0]["outcome"], "refused");
}

#[tokio::test]
async fn the_trail_needs_its_scope_and_comes_as_csv_and_json_lines() {
    let s = TestServer::start().await;
    let reader = s.token("acme", ALL_SCOPES).await;
    assert_eq!(
        s.get(&reader, "/admin/audit").await.status(),
        StatusCode::FORBIDDEN
    );
    let t = s.token("acme", SCOPES).await;
    s.get(
        &t,
        "/interaction-content/interactions?start=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z",
    )
    .await;
    let csv = s
        .get(&t, "/admin/audit?format=csv")
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("seq,at,tenantId,principal"));
    assert_eq!(lines.count(), 1, "{csv}");
    let jsonl = s
        .get(&t, "/admin/audit?format=jsonl")
        .await
        .text()
        .await
        .unwrap();
    let r: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(r["action"], "search");
    let (status, v) = json_of(s.get(&t, "/admin/audit?from=yesterday").await).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("from"))
    );
    let (status, v) = json_of(s.get(&t, "/admin/audit?action=listen").await).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("action"))
    );
}

#[tokio::test]
async fn with_reads_off_changes_are_still_recorded() {
    let s = TestServer::start_with(|c| c.audit_reads = false).await;
    let t = s.token("acme", SCOPES).await;
    s.seed_call(
        &t,
        &guid(1),
        call_body("2020-01-01T10:00:00Z", "+1", "2", "a1", "inbound"),
        300,
    )
    .await;
    s.get(
        &t,
        &format!("/interaction-content/interactions/{}", guid(1)),
    )
    .await;
    let url = s.url(&format!("/interaction-content/interactions/{}", guid(1)));
    assert!(s
        .http
        .delete(&url)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let all = records(&s, &t, "").await;
    let actions: Vec<_> = all.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete"], "{all:?}");
}
