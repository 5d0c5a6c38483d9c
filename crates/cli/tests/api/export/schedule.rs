//! Scheduling an export: every bad field of a recurring or batch schedule is named, a body
//! that is not JSON is refused, both spellings of the recurring endpoint take the seed's
//! example, and the read scope is required.

use super::{days_ago, local_storage, post, EXPORT};
use crate::common::*;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const RECURRING: &str = "/interactions/jobs/schedule-recurring-export";
const BATCH: &str = "/interactions/jobs/schedule-batch-export";

/// A server, acme's token, and a good recurring body (the seed's example) exporting
/// everything from two days ago to a local storage.
async fn a_good_body() -> (TestServer, String, Value) {
    let s = TestServer::start().await;
    let t = s.token("acme", ALL_SCOPES).await;
    let sid = local_storage(&s, &t, "bad-bodies").await;
    let ok = json!({
        "startDate": days_ago(2),
        "filters": { "contentTypes": [], "initialDirection": [] },
        "externalStorageId": sid,
    });
    (s, t, ok)
}

fn with(body: &Value, k: &str, v: Value) -> Value {
    let mut b = body.clone();
    b[k] = v;
    b
}

fn without(body: &Value, k: &str) -> Value {
    let mut b = body.clone();
    b.as_object_mut().unwrap().remove(k);
    b
}

/// Posts each body to `path` and checks it is refused naming its field.
async fn assert_named(s: &TestServer, t: &str, path: &str, cases: Vec<(Value, &str)>) {
    for (body, field) in cases {
        let (status, v) = post(s, t, path, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
}

#[tokio::test]
async fn a_missing_malformed_or_too_recent_start_date_is_named() {
    let (s, t, ok) = a_good_body().await;
    let cases = vec![
        (without(&ok, "startDate"), "startDate"),
        (with(&ok, "startDate", json!("yesterday-ish")), "startDate"),
        (
            with(&ok, "startDate", json!(Utc::now().to_rfc3339())),
            "startDate",
        ),
        (with(&ok, "startDate", json!(12)), "startDate"),
    ];
    assert_named(&s, &t, RECURRING, cases).await;
}

#[tokio::test]
async fn missing_or_unknown_filters_are_named() {
    let (s, t, ok) = a_good_body().await;
    let cases = vec![
        (without(&ok, "filters"), "filters"),
        (
            with(
                &ok,
                "filters",
                json!({ "contentTypes": ["callRecording", "hologram"] }),
            ),
            "filters.contentTypes",
        ),
        (
            with(
                &ok,
                "filters",
                json!({ "contentTypes": ["videoRecording"] }),
            ),
            "filters.contentTypes",
        ),
        (
            with(&ok, "filters", json!({ "initialDirection": ["internal"] })),
            "filters.initialDirection",
        ),
        (
            with(&ok, "filters", json!({ "contentTypes": "callRecording" })),
            "filters.contentTypes",
        ),
        (
            with(&ok, "filters", json!({ "colour": [] })),
            "filters.colour",
        ),
    ];
    assert_named(&s, &t, RECURRING, cases).await;
}

#[tokio::test]
async fn a_missing_malformed_unknown_or_foreign_storage_is_named() {
    let (s, t, ok) = a_good_body().await;
    let other = s.token("globex", ALL_SCOPES).await;
    let foreign = local_storage(&s, &other, "globex").await;
    let cases = vec![
        (without(&ok, "externalStorageId"), "externalStorageId"),
        (
            with(&ok, "externalStorageId", json!("not-a-uuid")),
            "externalStorageId",
        ),
        (
            with(&ok, "externalStorageId", json!(foreign)),
            "externalStorageId",
        ),
        (
            with(
                &ok,
                "externalStorageId",
                json!(uuid::Uuid::new_v4().to_string()),
            ),
            "externalStorageId",
        ),
    ];
    assert_named(&s, &t, RECURRING, cases).await;
}

#[tokio::test]
async fn a_recurring_schedule_takes_no_end_date() {
    let (s, t, ok) = a_good_body().await;
    let cases = vec![(with(&ok, "endDate", json!(days_ago(1))), "endDate")];
    assert_named(&s, &t, RECURRING, cases).await;
}

#[tokio::test]
async fn a_batch_end_date_must_be_given_after_the_start_and_in_the_past() {
    let (s, t, ok) = a_good_body().await;
    let batch_ok = with(&ok, "endDate", json!(days_ago(1)));
    let cases = vec![
        (without(&ok, "endDate"), "endDate"),
        (with(&batch_ok, "endDate", json!(days_ago(3))), "endDate"),
        (
            with(&batch_ok, "endDate", json!(Utc::now().to_rfc3339())),
            "endDate",
        ),
        (with(&batch_ok, "endDate", json!("2021-13-01")), "endDate"),
    ];
    assert_named(&s, &t, BATCH, cases).await;
}

#[tokio::test]
async fn a_schedule_body_that_is_not_json_is_refused() {
    let (s, t, _) = a_good_body().await;
    let r = s
        .http
        .post(s.url(&format!("{EXPORT}{BATCH}")))
        .bearer_auth(&t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn both_spellings_of_the_recurring_endpoint_accept_the_seeds_example() {
    let (s, t, ok) = a_good_body().await;
    for path in ["schedule-recurring-export", "schedule-recurring-job"] {
        let (status, v) = post(&s, &t, &format!("/interactions/jobs/{path}"), &ok).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(uuid::Uuid::parse_str(v["jobId"].as_str().unwrap()).is_ok());
    }
}

#[tokio::test]
async fn scheduling_needs_the_read_scope() {
    let (s, _, ok) = a_good_body().await;
    let w = s.token("acme", "interaction-content:write").await;
    let (status, _) = post(&s, &w, RECURRING, &ok).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
