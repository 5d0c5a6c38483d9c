//! Test harness: every test starts the real server on an ephemeral port over its own data
//! directory and talks HTTP to it with reqwest.

#![allow(dead_code)]

mod actors;
pub mod targets;

use std::sync::Arc;
use std::time::Duration;

use callvault::config::Settings;
use callvault::server::{self, Running};
use callvault_services::clock::{Clock, SystemClock};
use callvault_services::Vault;
use callvault_storage::{S3Settings, Store};
use callvault_testkit::PgTestDb;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const V3: &str = "application/vnd.newvoicemedia.v3+json";
pub const V2: &str = "application/vnd.newvoicemedia.v2+json";
pub const ALL_SCOPES: &str = "interaction-content:read interaction-content:delete interaction-content:write callvault:tenant-admin";

/// Base64 of 32 bytes, shared by the nodes of a scale-out test.
pub const TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub struct TestServer {
    pub base: String,
    pub http: Client,
    pub vault: Arc<Vault>,
    /// The metadata store under the vault, for setup and checks no request can make.
    pub store: Arc<dyn Store>,
    pub dir: TempDir,
    pub settings: Settings,
    running: Option<Running>,
    /// The scale-out database, shared by the nodes over it; dropped after the server.
    db: Option<Arc<PgTestDb>>,
}

/// Which backends the suite runs on: `CALLVAULT_TEST_BACKEND=scaleout` runs every test
/// against PostgreSQL and an S3-compatible server (started by scripts/test.sh); the
/// default is the embedded SQLite + local files.
pub fn scale_out() -> bool {
    match std::env::var("CALLVAULT_TEST_BACKEND").as_deref() {
        Ok("scaleout") => true,
        Ok("embedded") | Err(_) => false,
        Ok(other) => panic!("CALLVAULT_TEST_BACKEND={other}: expected embedded or scaleout"),
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// A new, empty database on the test PostgreSQL server, dropped with the last holder.
pub async fn fresh_database() -> Arc<PgTestDb> {
    Arc::new(PgTestDb::create().await)
}

/// A fresh prefix in the test bucket of the S3-compatible server.
pub fn fresh_bucket_prefix() -> S3Settings {
    S3Settings {
        bucket: env_or("CALLVAULT_TEST_S3_BUCKET", "callvault-test"),
        prefix: uuid::Uuid::new_v4().simple().to_string(),
        endpoint: Some(env_or(
            "CALLVAULT_TEST_S3_ENDPOINT",
            "http://127.0.0.1:9123",
        )),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: true,
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_full(tweak, Arc::new(SystemClock)).await
    }

    /// A server whose services act on `clock` (tests move it to run hours in seconds).
    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::start_full(|_| {}, clock).await
    }

    async fn start_full(tweak: impl FnOnce(&mut Settings), clock: Arc<dyn Clock>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::embedded(dir.path());
        settings.listen = "127.0.0.1:0".parse().unwrap();
        // Off unless a test turns it on: an engine would compete for the CPU.
        settings.transcription = callvault_services::transcription::TranscriptionSettings::off();
        // The test S3 server runs on loopback; the egress test clears this.
        settings.egress_allow = vec!["127.0.0.1".into()];
        let db = if scale_out() {
            let db = fresh_database().await;
            settings.database_url = Some(db.url().to_string());
            settings.s3 = Some(fresh_bucket_prefix());
            Some(db)
        } else {
            None
        };
        tweak(&mut settings);
        Self::start_on(dir, settings, clock, db).await
    }

    /// Another node over the same stores (the same database and bucket on the
    /// scale-out backends, the same data directory on the embedded one).
    pub async fn another_node(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = self.settings.clone();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        Self::start_on(dir, settings, self.vault.clock.clone(), self.db.clone()).await
    }

    async fn start_on(
        dir: TempDir,
        mut settings: Settings,
        clock: Arc<dyn Clock>,
        db: Option<Arc<PgTestDb>>,
    ) -> Self {
        if settings.master_key.is_none() && settings.database_url.is_some() {
            settings.master_key = Some(TEST_MASTER_KEY.into());
        }
        let (vault, store) = server::open_vault_and_store(&settings, clock)
            .await
            .expect("open vault");
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
            store,
            dir,
            settings,
            running: Some(running),
            db,
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
        let t = match self.vault.tenant_by_name(tenant).await.unwrap() {
            Some(t) => t,
            None => self.store.create_tenant(tenant, "UTC").await.unwrap(),
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

    /// Interaction `guid`'s call recording, which must be there.
    pub async fn recording(&self, token: &str, guid: &str) -> Vec<u8> {
        let r = self.get(token, &recording_path(guid)).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().await.unwrap().to_vec()
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

/// The address of interaction `guid`'s call recording in the Interaction Content API.
pub fn recording_path(guid: &str) -> String {
    format!("/interaction-content/interactions/{guid}/content/callRecording")
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

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every entry of a ZIP, as (name, bytes), each read with its CRC checked.
pub async fn zip_entries(
    zip: &async_zip::base::read::mem::ZipFileReader,
) -> Vec<(String, Vec<u8>)> {
    let mut entries = Vec::new();
    for (idx, entry) in zip.file().entries().iter().enumerate() {
        let name = entry.filename().as_str().unwrap().to_string();
        let mut reader = zip.reader_with_entry(idx).await.unwrap();
        let mut data = Vec::new();
        reader.read_to_end_checked(&mut data).await.unwrap();
        entries.push((name, data));
    }
    entries
}
