//! Export jobs: the state machine (run, pause, restart, cancel) under a manual clock, the
//! actions and ids refused, paging newest first, tenant separation, and the storage a
//! live job holds on to.

use std::sync::Arc;
use std::time::Duration;

use super::{days_ago, get, local_storage, post, ran_and_waits, wait_job, EXPORT};
use crate::common::*;
use callvault_services::clock::ManualClock;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const RECURRING: &str = "/interactions/jobs/schedule-recurring-export";

/// A server on a manual clock with a recurring job exporting to a local storage, whose
/// first run found nothing old enough and waits for the next hour.
struct OneJob {
    s: TestServer,
    clock: Arc<ManualClock>,
    t: String,
    sid: String,
    body: Value,
    id: String,
    /// The job as its first run left it.
    job: Value,
}

impl OneJob {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::starting_at(Utc::now()));
        let s = TestServer::start_with_clock(clock.clone()).await;
        let t = s.token("acme", ALL_SCOPES).await;
        let sid = local_storage(&s, &t, "states").await;
        let body = json!({
            "startDate": days_ago(2),
            "filters": { "contentTypes": [], "initialDirection": [] },
            "externalStorageId": sid,
        });
        let (_, v) = post(&s, &t, RECURRING, &body).await;
        let id = v["jobId"].as_str().unwrap().to_string();
        let job = wait_job(&s, &t, &id, |j| ran_and_waits(j, &Value::Null)).await;
        Self {
            s,
            clock,
            t,
            sid,
            body,
            id,
            job,
        }
    }

    /// Posts action `a` to the job.
    async fn act(&self, a: &str) -> (StatusCode, Value) {
        let path = format!("/interactions/jobs/{}/{a}", self.id);
        post(&self.s, &self.t, &path, &json!({})).await
    }
}

#[tokio::test]
async fn a_first_run_that_finds_nothing_old_enough_waits_for_the_next_hour() {
    let j = OneJob::new().await;
    assert_eq!(j.job["status"], "Scheduled");
}

#[tokio::test]
async fn a_scheduled_job_cannot_be_restarted() {
    let j = OneJob::new().await;
    let (status, v) = j.act("restart").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("Scheduled"));
}

#[tokio::test]
async fn a_paused_job_does_not_run_whatever_the_hour_until_restarted() {
    let j = OneJob::new().await;
    let (status, v) = j.act("pause").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("Paused"))
    );
    assert_eq!(j.act("pause").await.0, StatusCode::CONFLICT);
    j.clock.advance(chrono::Duration::hours(3));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, paused) = get(&j.s, &j.t, &format!("/interactions/jobs/{}", j.id)).await;
    assert_eq!(paused["lastRunAt"], j.job["lastRunAt"]);
    let (status, v) = j.act("restart").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("Scheduled"))
    );
}

#[tokio::test]
async fn a_cancelled_job_takes_no_further_action() {
    let j = OneJob::new().await;
    let (status, v) = j.act("cancel").await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("Cancelled"))
    );
    for a in ["cancel", "pause", "restart"] {
        assert_eq!(
            j.act(a).await.0,
            StatusCode::CONFLICT,
            "{a} a cancelled job"
        );
    }
}

#[tokio::test]
async fn an_unknown_action_or_job_is_not_found_and_a_malformed_id_is_named() {
    let j = OneJob::new().await;
    assert_eq!(j.act("explode").await.0, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &j.s,
        &j.t,
        &format!("/interactions/jobs/{}/cancel", uuid::Uuid::new_v4()),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = post(&j.s, &j.t, "/interactions/jobs/nope/cancel", &json!({})).await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id"))
    );
}

#[tokio::test]
async fn jobs_page_newest_first() {
    let j = OneJob::new().await;
    // Four more, scheduled later on the server's (manual) clock.
    j.clock.advance(chrono::Duration::minutes(1));
    for _ in 0..4 {
        post(&j.s, &j.t, RECURRING, &j.body).await;
    }
    let (_, page) = get(&j.s, &j.t, "/interactions/jobs?page=2&limit=2").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, last) = get(&j.s, &j.t, "/interactions/jobs?page=3&limit=2").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["items"][0]["jobId"], j.id.as_str(), "newest first");
}

#[tokio::test]
async fn a_bad_page_or_limit_is_named() {
    let j = OneJob::new().await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("page=0", "page"),
        ("page=x", "page"),
    ] {
        let (status, v) = get(&j.s, &j.t, &format!("/interactions/jobs?{q}")).await;
        assert_eq!(
            (status, v["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{q}"
        );
    }
}

#[tokio::test]
async fn another_tenant_sees_none_of_the_jobs() {
    let j = OneJob::new().await;
    let other = j.s.token("globex", ALL_SCOPES).await;
    let (_, theirs) = get(&j.s, &other, "/interactions/jobs").await;
    assert_eq!(theirs["total"], 0);
}

#[tokio::test]
async fn a_storage_that_a_live_job_uses_cannot_be_deleted() {
    let j = OneJob::new().await;
    let r =
        j.s.http
            .delete(j.s.url(&format!("{EXPORT}/external-storage/{}", j.sid)))
            .bearer_auth(&j.t)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}
