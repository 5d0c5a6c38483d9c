//! Connecting to a customer's storage: an `object_store` client per provider, built only
//! from what the tenant configured (never from the server's own environment, so one
//! tenant's export can never use the server's cloud credentials).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use callvault_core::{Invalid, StorageTarget};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::egress::EgressPolicy;

/// Secrets for a target, sealed at rest and never returned by the API. Unknown fields
/// are refused so a misspelt secret is a 400, not a silently missing credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// Azure Blob: the storage account key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_key: Option<String>,
}

impl Credentials {
    /// Reads sealed credentials as stored. Earlier builds wrote every field, unset ones
    /// as `null`, including a since-removed `serviceAccountKey`; nulls are dropped so
    /// those records still open.
    pub fn from_stored(bytes: &[u8]) -> Option<Credentials> {
        let mut fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).ok()?;
        fields.retain(|_, v| !v.is_null());
        serde_json::from_value(serde_json::Value::Object(fields)).ok()
    }
}

/// Checks a path segment list from a request: no empty, dot or hidden segments, only
/// portable characters.
pub fn check_relative_path(field: &str, value: &str, allow_empty: bool) -> Result<(), Invalid> {
    let v = value.trim_matches('/');
    if v.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err(Invalid::new(field, format!("{field} must not be empty")))
        };
    }
    if callvault_core::ids::is_portable_relative_path(v) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!(
                "{field} must be '/'-separated names of letters, digits, '-', '_' and '.', \
                 none starting with '.'"
            ),
        ))
    }
}

/// Checks a storage endpoint from a request: an absolute `http` or `https` URL with a
/// host, without credentials, query or fragment. The storage clients sign requests to
/// it, and some panic on what is not a URL, so nothing else may reach them.
pub fn check_endpoint(field: &str, value: &str) -> Result<(), Invalid> {
    let bad = |why: &str| {
        Invalid::new(
            field,
            format!("{field} must be an http or https URL such as https://s3.example.com: {why}"),
        )
    };
    let url = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(&format!("the scheme is {}", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials belong in the credentials object"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it has a query or fragment"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains spaces or control characters"));
    }
    Ok(())
}

/// Where a local target lives: always under the server's export root.
pub fn local_dir(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_matches('/'))
}

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120))
}

/// Few, quick retries inside the client: the export runner retries whole items with its
/// own backoff and reports outages in the job's status.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(15),
        ..Default::default()
    }
}

/// Builds the client for a target. Errors name the field to fix.
pub fn connect(
    target: &StorageTarget,
    creds: &Credentials,
    export_root: &Path,
    egress: &EgressPolicy,
) -> Result<Arc<dyn ObjectStore>, Invalid> {
    let bad = |field: &str, e: object_store::Error| Invalid::new(field, e.to_string());
    let store: Arc<dyn ObjectStore> = match target {
        StorageTarget::S3 {
            bucket,
            region,
            endpoint,
            ..
        } => {
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(region.as_deref().unwrap_or("us-east-1"))
                .with_client_options(client_options())
                .with_http_connector(egress.connector())
                .with_retry(retry());
            if let Some(e) = endpoint {
                check_endpoint("configuration.endpoint", e)?;
                b = b
                    .with_endpoint(e)
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(e.starts_with("http://"));
            }
            match (&creds.access_key_id, &creds.secret_access_key) {
                (Some(k), Some(s)) => {
                    b = b.with_access_key_id(k).with_secret_access_key(s);
                }
                _ => {
                    return Err(Invalid::new(
                        "credentials",
                        "S3 needs credentials.accessKeyId and credentials.secretAccessKey",
                    ))
                }
            }
            if let Some(t) = &creds.session_token {
                b = b.with_token(t);
            }
            Arc::new(b.build().map_err(|e| bad("configuration", e))?)
        }
        StorageTarget::AzureBlob {
            account,
            container,
            endpoint,
            ..
        } => {
            let key = creds.account_key.as_deref().ok_or_else(|| {
                Invalid::new("credentials", "Azure Blob needs credentials.accountKey")
            })?;
            let mut b = MicrosoftAzureBuilder::new()
                .with_account(account)
                .with_container_name(container)
                .with_access_key(key)
                .with_client_options(client_options())
                .with_http_connector(egress.connector())
                .with_retry(retry());
            if let Some(e) = endpoint {
                check_endpoint("configuration.endpoint", e)?;
                b = b
                    .with_endpoint(e.clone())
                    .with_allow_http(e.starts_with("http://"));
            }
            Arc::new(b.build().map_err(|e| bad("configuration", e))?)
        }
        StorageTarget::Local { path, .. } => {
            check_relative_path("configuration.path", path, false)?;
            let dir = local_dir(export_root, path);
            std::fs::create_dir_all(&dir).map_err(|e| {
                Invalid::new(
                    "configuration.path",
                    format!("cannot create the export directory: {e}"),
                )
            })?;
            Arc::new(
                LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad("configuration.path", e))?,
            )
        }
    };
    let prefix = target.prefix().trim_matches('/');
    if prefix.is_empty() {
        Ok(store)
    } else {
        check_relative_path("configuration.prefix", prefix, true)?;
        Ok(Arc::new(PrefixStore::new(store, prefix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_cannot_leave_the_export_root() {
        for bad in ["..", "a/../b", ".hidden", "a//b/..", "a\\b", "a b", "/.."] {
            assert!(check_relative_path("p", bad, false).is_err(), "{bad}");
        }
        for good in ["archive", "acme/2024", "a-b_c.d"] {
            assert!(check_relative_path("p", good, false).is_ok(), "{good}");
        }
        assert!(check_relative_path("p", "", true).is_ok());
        assert!(check_relative_path("p", "", false).is_err());
    }

    #[test]
    fn credentials_stored_by_earlier_builds_still_open() {
        let old = br#"{"accessKeyId":"a","secretAccessKey":"s","sessionToken":null,"accountKey":null,"serviceAccountKey":null}"#;
        let c = Credentials::from_stored(old).unwrap();
        assert_eq!(c.access_key_id.as_deref(), Some("a"));
        assert_eq!(c.secret_access_key.as_deref(), Some("s"));
        let now = serde_json::to_vec(&c).unwrap();
        assert_eq!(now, br#"{"accessKeyId":"a","secretAccessKey":"s"}"#);
        assert_eq!(Credentials::from_stored(&now), Some(c));
        assert_eq!(Credentials::from_stored(br#"{"password":"p"}"#), None);
    }
}
