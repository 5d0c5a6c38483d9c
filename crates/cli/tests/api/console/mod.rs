//! The web console at `/`: sessions and their cookie, forms and their CSRF checks,
//! security headers, who sees which call, playing, downloading and deleting, and the
//! administrator's pages; over plain HTTP here, and in Debian's Chromium in `browser`.

mod admin;
mod browser;
mod calls;
mod exports;
mod find;
mod govern;
mod roles;
mod sign_in;

use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

pub const ALL: &str = "interaction-content:read interaction-content:delete interaction-content:write callvault:governance callvault:audit";

/// A server with tenant `acme`: an admin `ann`, agents `bob` and `cy`. Call 1 is a
/// company call with a transcript; call 2 is bob's on-demand recording, call 3 cy's.
pub struct Acme {
    pub s: TestServer,
    /// A browser-like client that does not follow redirects.
    pub web: Client,
    pub token: String,
    pub bob: String,
    pub cy: String,
}

pub const TRANSCRIPT: [(u64, &str, &str); 3] = [
    (0, "agent", "thank you for calling acme how can I help"),
    (4000, "customer", "I would like a refund for my order"),
    (8000, "agent", "of course the refund is on its way"),
];

pub fn transcript_doc() -> Value {
    let segments: Vec<Value> = TRANSCRIPT
        .iter()
        .map(|(at, who, text)| json!({"startMs": at, "endMs": at + 3000, "speaker": who, "text": text}))
        .collect();
    json!({"schema": "callvault.transcript/1", "language": "en-US", "engine": "test", "segments": segments})
}

impl Acme {
    pub async fn new() -> Self {
        Self::on(TestServer::start().await).await
    }

    pub async fn on(s: TestServer) -> Self {
        let acme = s.tenant("acme").await;
        let token = acme.token(ALL).await;
        acme.user("ann", true).await;
        let bob = acme.user("bob", false).await.id;
        let cy = acme.user("cy", false).await.id;
        let web = Client::builder().redirect(Policy::none()).build().unwrap();
        let a = Self {
            s,
            web,
            token,
            bob,
            cy,
        };
        a.call(
            1,
            "2019-11-20T10:00:00Z",
            "+4420700001",
            "a-1",
            json!({}),
            12_000,
        )
        .await;
        let doc = serde_json::to_vec(&transcript_doc()).unwrap();
        let r =
            a.s.put_content(
                &a.token,
                &guid(1),
                "transcript",
                "",
                "application/json",
                doc,
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        let mine = |u: &str| json!({"recordingKind": "onDemand", "owningUserId": u});
        a.call(
            2,
            "2019-11-21T10:00:00Z",
            "+4420700002",
            "a-2",
            mine(&a.bob),
            3000,
        )
        .await;
        a.call(
            3,
            "2019-11-22T10:00:00Z",
            "+4420700003",
            "a-3",
            mine(&a.cy),
            3000,
        )
        .await;
        a
    }

    /// Interaction `n` with a WAV recording of `ms` milliseconds.
    pub async fn call(&self, n: u32, start: &str, from: &str, agent: &str, attrs: Value, ms: u32) {
        let mut body = call_body(start, from, "+15550100", agent, "inbound");
        body["attributes"] = attrs;
        self.s.seed_call(&self.token, &guid(n), body, ms).await;
    }

    pub fn origin(&self) -> String {
        self.s.base.clone()
    }

    pub async fn sign_in_as(&self, tenant: &str, login: &str, password: &str) -> Response {
        self.web
            .post(self.s.url("/sign-in"))
            .header("Origin", self.origin())
            .form(&[("tenant", tenant), ("login", login), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// The session cookie (`name=value`) of a signed-in test user.
    pub async fn session(&self, login: &str) -> String {
        let r = self
            .sign_in_as("acme", login, &format!("{login}-password"))
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = r.headers()["set-cookie"].to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    pub async fn get(&self, cookie: &str, path: &str) -> Response {
        self.web
            .get(self.s.url(path))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response {
        self.web
            .post(self.s.url(path))
            .header("Cookie", cookie)
            .header("Origin", self.origin())
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the forms on a page.
    pub async fn csrf(&self, cookie: &str) -> String {
        let html = self.get(cookie, "/").await.text().await.unwrap();
        let at = html
            .find("name=\"csrf\" value=\"")
            .expect("a form with a token")
            + 19;
        html[at..].split('"').next().unwrap().to_string()
    }

    /// Audit records of `action` on interaction `n` (reads reach the trail through a
    /// sink, so this waits a few seconds for the first).
    pub async fn audited(&self, action: &str, n: u32) -> Vec<Value> {
        let path = format!("/admin/audit?interaction={}&action={action}", guid(n));
        for _ in 0..50 {
            let (status, v) = json_of(self.s.get(&self.token, &path).await).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            let records = v["records"].as_array().unwrap().clone();
            if !records.is_empty() {
                return records;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Vec::new()
    }
}
