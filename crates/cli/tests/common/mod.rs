//! Test harness: every test starts the real server on an ephemeral port over its own data
//! directory and talks HTTP to it with reqwest.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use callvault::config::Settings;
use callvault::server::{self, Running};
use callvault_services::Vault;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const V3: &str = "application/vnd.newvoicemedia.v3+json";
pub const V2: &str = "application/vnd.newvoicemedia.v2+json";
pub const ALL_SCOPES: &str = "interaction-content:read interaction-content:delete interaction-content:write callvault:tenant-admin";

pub struct TestServer {
    pub base: String,
    pub http: Client,
    pub vault: Arc<Vault>,
    pub dir: TempDir,
    running: Option<Running>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::embedded(dir.path());
        settings.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut settings);
        let vault = server::open_vault(&settings).await.expect("open vault");
        let running = server::start(&settings, vault.clone())
            .await
            .expect("start server");
        let base = format!("http://{}", running.addr);
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            base,
            http,
            vault,
            dir,
            running: Some(running),
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("clean shutdown");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates a tenant and a client with the given scopes; answers (client_id, secret).
    pub async fn tenant_client(&self, tenant: &str, scopes: &str) -> (String, String) {
        let t = match self.vault.meta.tenant_by_name(tenant).await.unwrap() {
            Some(t) => t,
            None => self.vault.meta.create_tenant(tenant, "UTC").await.unwrap(),
        };
        let scopes = callvault_core::ScopeSet::parse("scopes", scopes).unwrap();
        let c = self
            .vault
            .auth
            .create_client(t.id, "test", scopes)
            .await
            .unwrap();
        (c.client_id, c.client_secret)
    }

    /// A bearer token for a new client of `tenant` with `scopes`.
    pub async fn token(&self, tenant: &str, scopes: &str) -> String {
        let (id, secret) = self.tenant_client(tenant, scopes).await;
        let resp = self
            .http
            .post(self.url("/Auth/connect/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .header("Accept", V3)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_interaction(&self, token: &str, guid: &str, body: Value) -> Response {
        self.http
            .put(self.url(&format!("/interaction-content/interactions/{guid}")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_content(
        &self,
        token: &str,
        guid: &str,
        key: &str,
        query: &str,
        media: &str,
        bytes: Vec<u8>,
    ) -> Response {
        self.http
            .put(self.url(&format!(
                "/interaction-content/interactions/{guid}/content/{key}{query}"
            )))
            .bearer_auth(token)
            .header("Content-Type", media)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// An interaction with a WAV call recording of `ms` milliseconds.
    /// `body` is usually [`call_body`].
    pub async fn seed_call(&self, token: &str, guid: &str, body: Value, ms: u32) {
        let r = self.put_interaction(token, guid, body).await;
        assert!(
            r.status().is_success(),
            "put interaction: {}",
            r.text().await.unwrap()
        );
        let wav = callvault_services::audio::synth_wav(ms, 8000, 440.0);
        let r = self
            .put_content(token, guid, "callRecording", "", "audio/wav", wav)
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
    }
}

pub fn call_body(start: &str, from: &str, to: &str, agent: &str, direction: &str) -> Value {
    json!({
        "start": start,
        "direction": direction,
        "connectFrom": from,
        "connectTo": to,
        "handlingAgents": [{ "id": agent }],
    })
}

/// A deterministic GUID for test item `n`.
pub fn guid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-000000000000")
}

pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, v)
}
