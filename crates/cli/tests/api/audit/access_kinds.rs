//! One record per access, of every kind and through every dialect, with the right
//! principal, and nothing recorded as another kind: a test per access kind, each on its
//! own server with one call; and the trail's filters.

use std::collections::BTreeMap;

use super::{records, SCOPES};
use crate::common::*;
use crate::export::{everything, local_storage, schedule, wait_job, Span};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CR: &str = "/call_recording/v1/api";

/// The access kinds the trail tells apart.
const KINDS: [&str; 6] = [
    "search",
    "view",
    "download",
    "play",
    "bulkDownload",
    "export",
];

/// A server with call 1 (two days old, a 1000 ms recording), an API client's token and
/// principal, and the account admin boss's token.
struct OneCall {
    s: TestServer,
    t: String,
    client: String,
    boss: String,
    g: String,
}

impl OneCall {
    async fn new() -> Self {
        let s = TestServer::start().await;
        let acme = s.tenant("acme").await;
        let (id, secret) = acme.client(SCOPES).await;
        let (status, v) = json_of(
            s.http
                .post(s.url("/Auth/connect/token"))
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
        assert_eq!(status, StatusCode::OK, "{v}");
        let t = v["access_token"].as_str().unwrap().to_string();
        let boss = acme.user("boss", true).await.access_token;
        let start = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
        s.seed_call(
            &t,
            &guid(1),
            call_body(&start, "+15551230001", "2000", "a1", "inbound"),
            1000,
        )
        .await;
        Self {
            s,
            t,
            client: format!("client:{id}"),
            boss,
            g: guid(1),
        }
    }

    fn content(&self) -> String {
        recording_path(&self.g)
    }

    async fn search(&self) {
        let day = chrono::Utc::now().date_naive();
        let window = format!(
            "/interaction-content/interactions?start={}T00:00:00Z&end={}T00:00:00Z",
            day - chrono::Duration::days(5),
            day + chrono::Duration::days(1)
        );
        assert_eq!(self.s.get(&self.t, &window).await.status(), StatusCode::OK);
    }

    async fn view(&self) {
        let path = format!("/interaction-content/interactions/{}", self.g);
        assert_eq!(self.s.get(&self.t, &path).await.status(), StatusCode::OK);
    }

    /// The boss reads the call through the Call Recording API.
    async fn view_as_boss(&self) {
        let r = self
            .s
            .http
            .get(
                self.s
                    .url(&format!("{CR}/accounts/self/company_call_recordings/1")),
            )
            .bearer_auth(&self.boss)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// The boss downloads a ZIP of the account's recordings through the Call Recording API.
    async fn bulk_download(&self) {
        let s = &self.s;
        let (status, job) = json_of(
            s.http
                .post(s.url(&format!(
                    "{CR}/accounts/self/company_call_recordings/export"
                )))
                .bearer_auth(&self.boss)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let job_url = job["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .replace(&s.base, "");
        for _ in 0..100 {
            let (_, j) = json_of(
                s.http
                    .get(s.url(&job_url))
                    .bearer_auth(&self.boss)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            if j["status"] == "complete" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let zip = s
            .http
            .get(job["download_url"].as_str().unwrap())
            .bearer_auth(&self.boss)
            .send()
            .await
            .unwrap();
        assert_eq!(zip.status(), StatusCode::OK);
        assert!(!zip.bytes().await.unwrap().is_empty());
    }

    /// The trail's records of access kind `kind`, after checking that it holds exactly `n`
    /// of them and none of any other access kind.
    async fn recorded_as(&self, kind: &str, n: usize) -> Vec<Value> {
        let all = records(&self.s, &self.t, "").await;
        let kinds = by_action(&all);
        let count = |a: &str| kinds.get(a).map_or(0, Vec::len);
        let want = KINDS.map(|k| if k == kind { n } else { 0 });
        assert_eq!(KINDS.map(count), want, "{KINDS:?}: {all:#?}");
        kinds[kind].iter().map(|r| (*r).clone()).collect()
    }

    /// `r` names the call's recording.
    fn assert_about_the_recording(&self, r: &Value) {
        assert_eq!(
            (r["interaction"].as_str(), r["contentKey"].as_str()),
            (Some(self.g.as_str()), Some("callRecording")),
            "{r}"
        );
    }
}

fn by_action(records: &[Value]) -> BTreeMap<String, Vec<&Value>> {
    let mut m: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in records {
        m.entry(r["action"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    m
}

/// `r` came from a request over loopback that carried a request id.
fn assert_from_the_request(r: &Value) {
    assert_eq!(r["source"], "127.0.0.1", "{r}");
    assert!(
        r["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "{r}"
    );
}

#[tokio::test]
async fn a_search_is_recorded_once_as_a_search_by_the_client() {
    let c = OneCall::new().await;
    c.search().await;
    let r = &c.recorded_as("search", 1).await[0];
    let client = r["principal"].as_str().unwrap();
    assert!(client.starts_with("client:"), "{client}");
    assert_eq!(client, c.client);
    assert_from_the_request(r);
}

#[tokio::test]
async fn getting_an_interaction_is_recorded_once_as_a_view() {
    let c = OneCall::new().await;
    c.view().await;
    let r = &c.recorded_as("view", 1).await[0];
    assert_eq!(r["principal"], c.client);
    assert_from_the_request(r);
}

#[tokio::test]
async fn a_call_recording_api_read_is_recorded_once_as_a_view_by_the_user() {
    let c = OneCall::new().await;
    c.view_as_boss().await;
    let r = &c.recorded_as("view", 1).await[0];
    assert_eq!(r["principal"], "user:boss");
}

#[tokio::test]
async fn a_whole_read_is_recorded_once_as_a_download() {
    let c = OneCall::new().await;
    assert_eq!(c.s.get(&c.t, &c.content()).await.status(), StatusCode::OK);
    let r = &c.recorded_as("download", 1).await[0];
    assert_eq!(r["principal"], c.client);
    c.assert_about_the_recording(r);
    assert_from_the_request(r);
}

#[tokio::test]
async fn a_ranged_read_is_recorded_once_as_a_play_of_its_range() {
    let c = OneCall::new().await;
    let ranged =
        c.s.http
            .get(c.s.url(&c.content()))
            .bearer_auth(&c.t)
            .header("Range", "bytes=0-99")
            .send()
            .await
            .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    let r = &c.recorded_as("play", 1).await[0];
    assert_eq!(r["detail"], "bytes=0-99");
    c.assert_about_the_recording(r);
    assert_from_the_request(r);
}

#[tokio::test]
async fn a_bulk_download_records_the_zips_recording_once_for_the_user() {
    let c = OneCall::new().await;
    c.bulk_download().await;
    let r = &c.recorded_as("bulkDownload", 1).await[0];
    assert_eq!(r["principal"], "user:boss");
    assert_eq!(r["dialect"], "call-recording");
    c.assert_about_the_recording(r);
}

#[tokio::test]
async fn an_export_to_external_storage_records_the_item_sent_once() {
    let c = OneCall::new().await;
    let sid = local_storage(&c.s, &c.t, "audit").await;
    let span = Span {
        start_days: 3,
        end_days: Some(1),
    };
    let id = schedule(&c.s, &c.t, &sid, span, everything()).await;
    wait_job(&c.s, &c.t, &id, |j| j["status"] == "Completed").await;
    let r = &c.recorded_as("export", 1).await[0];
    assert_eq!(r["principal"], c.client);
    c.assert_about_the_recording(r);
}

#[tokio::test]
async fn the_trail_filters_by_action_interaction_and_principal() {
    let c = OneCall::new().await;
    c.search().await;
    c.view().await;
    c.view_as_boss().await;
    c.bulk_download().await;
    let views = records(&c.s, &c.t, &format!("?action=view&interaction={}", c.g)).await;
    assert_eq!(views.len(), 2);
    let boss_only = records(&c.s, &c.t, "?principal=user:boss").await;
    assert!(boss_only.iter().all(|r| r["principal"] == "user:boss") && boss_only.len() >= 2);
}
