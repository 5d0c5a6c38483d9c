//! The export targets the tests write to, each a real server on loopback started by
//! scripts/services.sh: moto (S3) and Azurite (Azure Blob). Every test makes its own
//! container, so tests never see each other's objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use object_store::ObjectStore;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use super::env_or;

/// Azurite's well-known development account and key (documented by Microsoft; they open
/// nothing but the emulator).
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    S3,
    Azure,
}

pub fn s3_endpoint() -> String {
    env_or("CALLVAULT_TEST_S3_ENDPOINT", "http://127.0.0.1:9123")
}

/// The account URL, path style as the emulator serves it.
pub fn azure_endpoint() -> String {
    env_or(
        "CALLVAULT_TEST_AZURE_ENDPOINT",
        "http://127.0.0.1:10000/devstoreaccount1",
    )
}

/// One container (bucket) on one provider's test server.
pub struct Target {
    pub provider: Provider,
    pub container: String,
    http: Client,
}

impl Target {
    /// A new, empty container named `{stem}-{random}`.
    pub async fn fresh(provider: Provider, stem: &str) -> Target {
        let t = Target {
            provider,
            container: format!("{stem}-{}", uuid::Uuid::new_v4().simple()),
            http: Client::new(),
        };
        t.create().await;
        t
    }

    /// The `POST /external-storage` body for this container, with working credentials.
    pub fn storage_body(&self) -> Value {
        let c = &self.container;
        let (provider, configuration, credentials) = match self.provider {
            Provider::S3 => (
                "s3",
                json!({ "bucket": c, "region": "us-east-1", "endpoint": s3_endpoint() }),
                json!({ "accessKeyId": "test", "secretAccessKey": "SECRET-test-value" }),
            ),
            Provider::Azure => (
                "azureBlob",
                json!({ "account": AZURE_ACCOUNT, "container": c, "endpoint": azure_endpoint() }),
                json!({ "accountKey": AZURE_KEY }),
            ),
        };
        json!({
            "name": "archive",
            "storageProvider": provider,
            "configuration": configuration,
            "credentials": credentials,
        })
    }

    /// Creates the container; one that exists already is fine.
    pub async fn create(&self) {
        let r = match self.provider {
            Provider::S3 => self
                .http
                .put(format!("{}/{}", s3_endpoint(), self.container)),
            Provider::Azure => self.azure(Method::PUT),
        };
        let r = r
            .send()
            .await
            .expect("the test storage server is reachable");
        let status = r.status();
        assert!(
            status.is_success() || status == StatusCode::CONFLICT,
            "{:?} create {}: {status} {}",
            self.provider,
            self.container,
            r.text().await.unwrap_or_default()
        );
    }

    /// Deletes the (empty) container: every later write to it fails.
    pub async fn delete(&self) {
        let r = match self.provider {
            Provider::S3 => self
                .http
                .delete(format!("{}/{}", s3_endpoint(), self.container)),
            Provider::Azure => self.azure(Method::DELETE),
        };
        let r = r.send().await.unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "{:?} delete {}: {status} {}",
            self.provider,
            self.container,
            r.text().await.unwrap_or_default()
        );
    }

    /// A container request signed with the account's shared key, as Azure requires for
    /// every management call (the canonical resource names the account twice on a
    /// path-style URL: once for the account, once from the path).
    fn azure(&self, method: Method) -> reqwest::RequestBuilder {
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "{method}\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURE_ACCOUNT}/{AZURE_ACCOUNT}/{}\nrestype:container",
            self.container
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&B64.decode(AZURE_KEY).unwrap()).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = B64.encode(mac.finalize().into_bytes());
        self.http
            .request(
                method,
                format!("{}/{}?restype=container", azure_endpoint(), self.container),
            )
            .header("x-ms-date", date)
            .header("x-ms-version", version)
            .header("Content-Length", "0")
            .header(
                "Authorization",
                format!("SharedKey {AZURE_ACCOUNT}:{signature}"),
            )
    }

    /// A client for the container, to read back what an export wrote.
    pub fn client(&self) -> Arc<dyn ObjectStore> {
        match self.provider {
            Provider::S3 => Arc::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&self.container)
                    .with_region("us-east-1")
                    .with_endpoint(s3_endpoint())
                    .with_allow_http(true)
                    .with_access_key_id("test")
                    .with_secret_access_key("test")
                    .build()
                    .unwrap(),
            ),
            Provider::Azure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::new()
                    .with_account(AZURE_ACCOUNT)
                    .with_container_name(&self.container)
                    .with_access_key(AZURE_KEY)
                    .with_endpoint(azure_endpoint())
                    .with_allow_http(true)
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// Every object in the container with its bytes.
    pub async fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        let store = self.client();
        let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
        let mut out = BTreeMap::new();
        for m in metas {
            let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
            out.insert(m.location.to_string(), bytes.to_vec());
        }
        out
    }
}
