//! The Call Recording API (`002`): password and refresh grants, company and on-demand
//! recordings with HAL paging and filters, permissions, audio, transcriptions, export jobs
//! and bulk downloads. A file per endpoint group; the `Vbc` fixture they share is here.

mod access;
mod bulk_download;
mod export_jobs;
mod recordings;
mod shapes;
mod sign_in;
mod transcriptions;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const P: &str = "/call_recording/v1/api";

struct Vbc {
    s: TestServer,
    client: (String, String),
    writer: String,
    admin: String,
    user: String,
    user_id: String,
}

impl Vbc {
    async fn new() -> Self {
        let s = TestServer::start().await;
        let acme = s.tenant("acme").await;
        let client = acme.client(ALL_SCOPES).await;
        let writer = acme.token(ALL_SCOPES).await;
        let admin = acme.user("boss", true).await.access_token;
        let user = acme.user("ann", false).await;
        Self {
            client,
            writer,
            admin,
            user: user.access_token,
            user_id: user.id,
            s,
        }
    }

    async fn password(&self, user: &str, pw: &str) -> (StatusCode, Value) {
        json_of(self.sign_in(&self.client, user, pw).await).await
    }

    /// The password grant at `/token` through `client`.
    async fn sign_in(&self, client: &(String, String), user: &str, pw: &str) -> reqwest::Response {
        let form = [
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ];
        self.s
            .http
            .post(self.s.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// A recorded call; `attrs` become the interaction's attributes.
    async fn call(&self, n: u32, start: &str, ms: u32, extra: Value) {
        let mut body = json!({
            "start": start, "direction": "inbound", "connectFrom": "17325550100", "connectTo": "17325550199",
            "callerName": "JOHN SMITH", "extensions": ["999"], "handlingAgents": ["1"],
            "attributes": {"recordingRuleIds": ["1989", "449"]}
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.s.put_interaction(&self.writer, &guid(n), body).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let wav = callvault_services::audio::synth_wav(ms, 8000, 300.0 + n as f32);
        let r = self
            .s
            .put_content(
                &self.writer,
                &guid(n),
                "callRecording",
                "",
                "audio/wav",
                wav,
            )
            .await;
        assert!(r.status().is_success());
    }

    /// Gives call `n`'s recording a transcription job, as ingest does when an engine is
    /// on, and fails it with `error` as a runner would.
    ///
    /// The test server's own runner may take the job first (its engine is off, so it puts
    /// the job back for later with a lease or a wait): the claim here is made as of a
    /// day later, past both, so it gets the job whichever way that race went. On
    /// PostgreSQL the claim skips a row another transaction holds (`SKIP LOCKED`), so
    /// while the runner is between taking the job and putting it back the claim finds
    /// nothing; it is tried again until the runner lets go.
    async fn transcription(&self, n: u32, failed: Option<&str>) {
        use callvault_storage::transcription::Settle;
        let store = &self.s.store;
        let t = store.tenant_by_name("acme").await.unwrap().unwrap().id;
        let g = callvault_core::Guid::parse("guid", &guid(n)).unwrap();
        let i = store.get_interaction(t, &g).await.unwrap().unwrap();
        let now = chrono::Utc::now();
        assert!(store
            .queue_transcription(t, i.id, "callRecording", now)
            .await
            .unwrap());
        if let Some(error) = failed {
            let later = now + chrono::Duration::days(1);
            let mut claimed = None;
            for _ in 0..200 {
                claimed = store
                    .claim_transcription(later, later + chrono::Duration::minutes(5))
                    .await
                    .unwrap();
                if claimed.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let job = claimed.expect("the job is claimed once the runner lets go of it");
            assert_eq!(job.interaction_id, i.id);
            let failed = Settle::Failed {
                error: error.into(),
            };
            assert!(store
                .settle_transcription(&job, &failed, now)
                .await
                .unwrap());
        }
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .s
            .http
            .get(self.s.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.s
            .http
            .post(self.s.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, token: &str, path: &str) -> StatusCode {
        self.s
            .http
            .delete(self.s.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn ids(page: &Value, key: &str) -> Vec<i64> {
    page["_embedded"][key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().or(r["recording_id"].as_i64()).unwrap())
        .collect()
}

/// Polls a job until it is complete, as a client of the vendor's API does; jobs run in
/// the background, so their answer comes before their files.
async fn wait_complete(v: &Vbc, token: &str, job_url: &str) -> Value {
    for _ in 0..100 {
        let (status, job) = v.get(token, job_url).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["status"] == "complete" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job did not complete");
}

/// A job's `self` link as a path on the test server.
fn self_path(v: &Vbc, job: &Value) -> String {
    job["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .replace(&v.s.base, "")
}
