//! callvault's governance API (`/admin/governance/`): legal holds and retention, obeyed
//! by every delete path of every dialect and by the retention pass.

use std::time::Duration;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const GOV: &str = "interaction-content:read interaction-content:delete interaction-content:write callvault:governance";
const CR: &str = "/call_recording/v1/api";

async fn send(
    s: &TestServer,
    t: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s.http.request(method, s.url(path)).bearer_auth(t);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(s: &TestServer, t: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(s, t, reqwest::Method::POST, path, Some(body)).await
}

async fn delete(s: &TestServer, t: &str, path: &str) -> (StatusCode, Value) {
    send(s, t, reqwest::Method::DELETE, path, None).await
}

/// Interaction `n` starting at `start`, with a recording of its own bytes.
async fn call(s: &TestServer, t: &str, n: u32, start: &str, extra: Value) {
    let mut body = call_body(start, "+15551230001", "2000", "a1", "inbound");
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.seed_call(t, &guid(n), body, 500 + n).await;
}

fn interaction(n: u32) -> String {
    format!("/interaction-content/interactions/{}", guid(n))
}

async fn exists(s: &TestServer, t: &str, n: u32) -> bool {
    let status = s.get(t, &interaction(n)).await.status();
    assert!(
        status == StatusCode::OK || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    status == StatusCode::OK
}

#[tokio::test]
async fn a_held_interaction_survives_every_delete_path() {
    let s = TestServer::start().await;
    let acme = s.tenant("acme").await;
    let t = acme.token(GOV).await;
    let admin = acme.user("boss", true).await.access_token;
    call(&s, &t, 1, "2019-01-01T10:00:00Z", json!({})).await;
    let (status, hold) = post(
        &s,
        &t,
        "/admin/governance/holds",
        json!({"caseName": "Doe v. Acme", "reason": "litigation", "selector": {"guids": [guid(1)]}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    assert_eq!(hold["active"], true);

    let held = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let m = body["message"].as_str().unwrap_or_default();
        assert!(m.contains("legal hold") && m.contains("Doe v. Acme"), "{m}");
    };
    held(delete(&s, &t, &interaction(1)).await);
    held(delete(&s, &t, &format!("{}/content/callRecording", interaction(1))).await);
    held(
        delete(
            &s,
            &admin,
            &format!("{CR}/accounts/self/company_call_recordings/1"),
        )
        .await,
    );
    let (status, batch) = post(
        &s,
        &t,
        "/interaction-content/interactions/delete-batch",
        json!({"guids": [guid(1)]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(batch["failures"][0]["statusCode"], 409, "{batch}");
    // Retention: a one-day maximum has long passed, but the hold beats it.
    let (status, _) = post(
        &s,
        &t,
        "/admin/governance/retention-policies",
        json!({"name": "a day", "maxDays": 1, "enabled": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let r = s
        .vault
        .run_retention(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((r.interactions, r.items), (0, 0), "{r:?}");
    assert!(exists(&s, &t, 1).await);

    let id = hold["id"].as_str().unwrap();
    let (status, released) = post(
        &s,
        &t,
        &format!("/admin/governance/holds/{id}/release"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(released["active"], false);
    assert!(released["releasedBy"]
        .as_str()
        .unwrap()
        .starts_with("client:"));
    assert!(exists(&s, &t, 1).await, "a release deletes nothing");
    let (status, _) = delete(&s, &t, &interaction(1)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_hold_by_query_catches_content_ingested_later() {
    let s = TestServer::start().await;
    let t = s.token("acme", GOV).await;
    let (status, _) = post(
        &s,
        &t,
        "/admin/governance/holds",
        json!({"caseName": "Case 7", "reason": "regulator", "selector": {"attributes": {"caseId": "C-7"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    call(
        &s,
        &t,
        1,
        "2024-01-01T10:00:00Z",
        json!({"attributes": {"caseId": "C-7"}}),
    )
    .await;
    call(
        &s,
        &t,
        2,
        "2024-01-01T11:00:00Z",
        json!({"attributes": {"caseId": "C-8"}}),
    )
    .await;
    let (status, _) = delete(&s, &t, &interaction(1)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = delete(&s, &t, &interaction(2)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn retention_deletes_exactly_the_expired_and_a_minimum_refuses_deletes() {
    let s = TestServer::start().await;
    let t = s.token("acme", GOV).await;
    let recent = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    call(&s, &t, 1, "2019-01-01T10:00:00Z", json!({})).await;
    call(
        &s,
        &t,
        2,
        "2019-01-02T10:00:00Z",
        json!({"attributes": {"caseId": "keep"}}),
    )
    .await;
    call(&s, &t, 3, &recent, json!({})).await;
    let blobs_before = s.vault.blobs.list().await.unwrap().len();

    let (_, year) = post(
        &s,
        &t,
        "/admin/governance/retention-policies",
        json!({"name": "one year", "maxDays": 365}),
    )
    .await;
    let (status, keep) = post(
        &s,
        &t,
        "/admin/governance/retention-policies",
        json!({"name": "keep the case", "minDays": 36500, "enabled": true,
               "selector": {"attributes": {"caseId": "keep"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{keep}");
    // A minimum refuses the API's delete, with the reason.
    let (status, body) = delete(&s, &t, &interaction(2)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("keep the case"),
        "{body}"
    );

    // The dry run of the disabled policy: only interaction 1, and nothing deleted.
    let id = year["id"].as_str().unwrap();
    let (status, dry) = post(
        &s,
        &t,
        &format!("/admin/governance/retention-policies/{id}/dry-run"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["interactions"], 1, "{dry}");
    assert_eq!(dry["sample"], json!([guid(1)]));
    assert!(dry["bytes"].as_u64().unwrap() > 0);
    let r = s
        .vault
        .run_retention(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(r.interactions, 0, "a disabled policy deletes nothing");

    let mut enabled = year.clone();
    for k in ["id", "createdAt", "updatedAt"] {
        enabled.as_object_mut().unwrap().remove(k);
    }
    enabled["enabled"] = true.into();
    let (status, _) = send(
        &s,
        &t,
        reqwest::Method::PUT,
        &format!("/admin/governance/retention-policies/{id}"),
        Some(enabled),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r = s
        .vault
        .run_retention(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((r.interactions, r.items), (1, 1), "{r:?}");
    assert!(!exists(&s, &t, 1).await);
    assert!(exists(&s, &t, 2).await, "kept by its minimum");
    assert!(exists(&s, &t, 3).await, "not expired");
    assert_eq!(
        s.vault.blobs.list().await.unwrap().len(),
        blobs_before - 1,
        "the expired recording's bytes are gone"
    );
    // A second pass finds nothing more.
    let r = s
        .vault
        .run_retention(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(r.interactions, 0);
}

#[tokio::test]
async fn governance_needs_its_scope_and_stays_in_the_tenant() {
    let s = TestServer::start().await;
    let reader = s.token("acme", ALL_SCOPES).await;
    let (status, _) = send(
        &s,
        &reader,
        reqwest::Method::GET,
        "/admin/governance/holds",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let t = s.token("acme", GOV).await;
    let other = s.token("globex", GOV).await;
    let (_, hold) = post(
        &s,
        &t,
        "/admin/governance/holds",
        json!({"caseName": "A", "reason": "r"}),
    )
    .await;
    let id = hold["id"].as_str().unwrap();
    let (status, _) = send(
        &s,
        &other,
        reqwest::Method::GET,
        &format!("/admin/governance/holds/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &s,
        &other,
        &format!("/admin/governance/holds/{id}/release"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = send(
        &s,
        &other,
        reqwest::Method::GET,
        "/admin/governance/holds",
        None,
    )
    .await;
    assert_eq!(list["holds"], json!([]));
}

#[tokio::test]
async fn bad_governance_bodies_name_the_field() {
    let s = TestServer::start().await;
    let t = s.token("acme", GOV).await;
    let cases = [
        (
            "/admin/governance/holds",
            json!({"caseName": "", "reason": "r"}),
            "caseName",
        ),
        (
            "/admin/governance/holds",
            json!({"caseName": "c", "reason": "r", "selector": {"guid": "x"}}),
            "selector.guid",
        ),
        (
            "/admin/governance/holds",
            json!({"caseName": "c", "reason": "r", "selector": {"guids": ["nope"]}}),
            "selector.guids[0]",
        ),
        (
            "/admin/governance/holds",
            json!({"caseName": "c", "reason": "r", "selector": {"attributes": {"colour": "red"}}}),
            "selector.attributes",
        ),
        (
            "/admin/governance/retention-policies",
            json!({"name": "p"}),
            "maxDays",
        ),
        (
            "/admin/governance/retention-policies",
            json!({"name": "p", "minDays": 10, "maxDays": 5}),
            "maxDays",
        ),
        (
            "/admin/governance/retention-policies",
            json!({"name": "p", "maxDays": -1}),
            "maxDays",
        ),
        (
            "/admin/governance/retention-policies",
            json!({"name": "p", "maxDays": 1, "selector": {"contentTypes": ["tape"]}}),
            "selector.contentTypes[0]",
        ),
    ];
    for (path, body, field) in cases {
        let (status, v) = post(&s, &t, path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    let p = json!({"name": "same", "maxDays": 9});
    assert_eq!(
        post(&s, &t, "/admin/governance/retention-policies", p.clone())
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, v) = post(&s, &t, "/admin/governance/retention-policies", p).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, _) = post(
        &s,
        &t,
        "/admin/governance/holds/not-a-uuid/release",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_held_on_demand_recording_cannot_be_deleted_by_its_owner() {
    let s = TestServer::start().await;
    let acme = s.tenant("acme").await;
    let t = acme.token(GOV).await;
    let ann = acme.user("ann", false).await;
    let mine = json!({"attributes": {"recordingKind": "onDemand", "owningUserId": ann.id}});
    call(&s, &t, 1, "2019-01-01T10:00:00Z", mine).await;
    let (status, _) = post(
        &s,
        &t,
        "/admin/governance/holds",
        json!({"caseName": "Ann", "reason": "r", "selector": {"guids": [guid(1)]}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let url = format!("{CR}/accounts/self/users/self/call_recordings/1");
    let (status, body) = delete(&s, &ann.access_token, &url).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("legal hold"),
        "{body}"
    );
    assert!(exists(&s, &t, 1).await);
}
