//! The ingest API: metadata upserts (content uploads are in `uploads`).

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

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
