//! Settings from a TOML file, `CALLVAULT_*` environment variables and flags, in rising
//! order of precedence (clap resolves flag over environment; the file fills what neither
//! gave).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use callvault_services::transcription::{EngineKind, TranscriptionSettings};
use callvault_storage::S3Settings;
use clap::Args;
use serde::Deserialize;

/// Options shared by every command that opens the vault.
#[derive(Debug, Clone, Args, Default)]
pub struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "CALLVAULT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the embedded database and content.
    #[arg(long, global = true, env = "CALLVAULT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Metadata database: `postgres://...` for scale-out nodes, `sqlite://PATH` for an
    /// explicit embedded file (default: `<data-dir>/callvault.db`).
    #[arg(long, global = true, env = "CALLVAULT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Content store: `s3://bucket[/prefix]` for scale-out nodes (endpoint and
    /// credentials from the file's `[s3]` table or the `AWS_*` variables; default:
    /// `<data-dir>/content`).
    #[arg(long, global = true, env = "CALLVAULT_BLOB_URL")]
    pub blob_url: Option<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:443.
    #[arg(long, env = "CALLVAULT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "CALLVAULT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "CALLVAULT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Base of absolute URLs in responses, e.g. https://recordings.example.com (default:
    /// from each request's Host header).
    #[arg(long, env = "CALLVAULT_PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Create and print a demo tenant, client and token on start.
    #[arg(long, env = "CALLVAULT_DEMO")]
    pub demo: bool,
}

/// The file's shape; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    demo: Option<bool>,
    token_ttl_secs: Option<u64>,
    max_content_bytes: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_json_body_bytes: Option<usize>,
    max_concurrent_requests: Option<usize>,
    public_base_url: Option<String>,
    demo_interactions: Option<usize>,
    audit_reads: Option<bool>,
    database_url: Option<String>,
    blob_url: Option<String>,
    s3: Option<S3File>,
    master_key: Option<String>,
    export_root: Option<PathBuf>,
    export_lease_secs: Option<u64>,
    webhook_lease_secs: Option<u64>,
    egress_allow: Option<Vec<String>>,
    transcription: Option<TranscriptionSettings>,
}

/// The `[s3]` table: how to reach the content bucket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3File {
    endpoint: Option<String>,
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    allow_http: Option<bool>,
}

/// Everything the server and the admin commands need, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub demo: bool,
    pub demo_interactions: usize,
    /// Record reads (searches, views, plays, downloads, exports) in the audit trail.
    pub audit_reads: bool,
    pub token_ttl: Duration,
    pub max_content_bytes: u64,
    pub request_timeout: Duration,
    pub max_json_body: usize,
    pub max_concurrent_requests: usize,
    pub public_base_url: Option<String>,
    /// `None`: the embedded SQLite file in the data directory.
    pub database_url: Option<String>,
    /// `None`: content as files in the data directory.
    pub s3: Option<S3Settings>,
    /// Base64 of 32 bytes; `None`: `<data_dir>/master.key`, created on first use.
    pub master_key: Option<String>,
    /// Where local export targets live (default `<data_dir>/exports`).
    pub export_root: Option<PathBuf>,
    pub export_lease: Duration,
    /// How long a node owns a claimed batch of webhook deliveries (see
    /// `services::webhooks`): how long a killed node's deliveries wait to be taken over.
    pub webhook_lease: Duration,
    /// Internal addresses, networks or host names export targets may use.
    pub egress_allow: Vec<String>,
    /// The `[transcription]` table (default: the built-in engine, when installed).
    pub transcription: TranscriptionSettings,
}

impl Settings {
    /// Defaults for the embedded single-machine setup.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            demo: false,
            demo_interactions: 3000,
            audit_reads: true,
            token_ttl: Duration::from_secs(3600),
            max_content_bytes: 8 * 1024 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_json_body: 1024 * 1024,
            max_concurrent_requests: 1024,
            public_base_url: None,
            database_url: None,
            s3: None,
            master_key: None,
            export_root: None,
            export_lease: Duration::from_secs(120),
            webhook_lease: Duration::from_secs(30),
            egress_allow: Vec::new(),
            transcription: TranscriptionSettings::default(),
        }
    }

    pub fn resolve(store: &StoreArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &store.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = store
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let mut s = Settings::embedded(data_dir);
        if let Some(l) = serve.listen.or(file.listen) {
            s.listen = l;
        }
        let cert = serve.tls_cert.clone().or(file.tls_cert);
        let key = serve.tls_key.clone().or(file.tls_key);
        s.tls = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => anyhow::bail!("tls_cert and tls_key must be given together"),
        };
        s.demo = serve.demo || file.demo.unwrap_or(false);
        s.public_base_url = serve.public_base_url.clone().or(file.public_base_url);
        if let Some(u) = &s.public_base_url {
            anyhow::ensure!(
                (u.starts_with("http://") || u.starts_with("https://"))
                    && !u.contains(char::is_whitespace),
                "public_base_url must be an http:// or https:// URL"
            );
        }
        if let Some(n) = file.demo_interactions {
            s.demo_interactions = n;
        }
        if let Some(t) = file.token_ttl_secs {
            anyhow::ensure!(t >= 60, "token_ttl_secs must be at least 60");
            s.token_ttl = Duration::from_secs(t);
        }
        if let Some(m) = file.max_content_bytes {
            s.max_content_bytes = m;
        }
        if let Some(t) = file.request_timeout_secs {
            s.request_timeout = Duration::from_secs(t.max(1));
        }
        if let Some(b) = file.max_json_body_bytes {
            s.max_json_body = b;
        }
        if let Some(n) = file.max_concurrent_requests {
            anyhow::ensure!(n > 0, "max_concurrent_requests must be at least 1");
            s.max_concurrent_requests = n;
        }
        s.master_key = std::env::var("CALLVAULT_MASTER_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .or(file.master_key);
        s.export_root = file.export_root;
        // CALLVAULT_AUDIT_READS=off beats the file's audit_reads.
        s.audit_reads = match std::env::var("CALLVAULT_AUDIT_READS").ok().as_deref() {
            Some("off" | "false" | "0") => false,
            Some("on" | "true" | "1") => true,
            Some(other) => anyhow::bail!("CALLVAULT_AUDIT_READS must be on or off, not '{other}'"),
            None => file.audit_reads.unwrap_or(true),
        };
        if !s.audit_reads {
            tracing::warn!("reads are not recorded in the audit trail (audit_reads = false)");
        }
        // CALLVAULT_EGRESS_ALLOW (comma-separated) beats the file's egress_allow.
        let env_allow = std::env::var("CALLVAULT_EGRESS_ALLOW").ok().map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        });
        if let Some(list) = env_allow.or(file.egress_allow) {
            callvault_services::egress::EgressPolicy::parse(&list).map_err(anyhow::Error::msg)?;
            s.egress_allow = list;
        }
        if let Some(l) = file.export_lease_secs {
            anyhow::ensure!(l >= 1, "export_lease_secs must be at least 1");
            s.export_lease = Duration::from_secs(l);
        }
        if let Some(l) = file.webhook_lease_secs {
            // A send may take a third of the lease: under 3 s it would have no time at all.
            anyhow::ensure!(l >= 3, "webhook_lease_secs must be at least 3");
            s.webhook_lease = Duration::from_secs(l);
        }
        if let Some(t) = file.transcription {
            s.transcription = t;
        }
        // CALLVAULT_TRANSCRIPTION_ENGINE beats the file's transcription.engine.
        match std::env::var("CALLVAULT_TRANSCRIPTION_ENGINE")
            .ok()
            .as_deref()
        {
            None | Some("") => {}
            Some("pocketsphinx") => s.transcription.engine = EngineKind::Pocketsphinx,
            Some("openai") => s.transcription.engine = EngineKind::Openai,
            Some("none") => s.transcription.engine = EngineKind::None,
            Some(other) => anyhow::bail!(
                "CALLVAULT_TRANSCRIPTION_ENGINE must be pocketsphinx, openai or none, not '{other}'"
            ),
        }
        s.database_url = store.database_url.clone().or(file.database_url);
        if let Some(u) = &s.database_url {
            anyhow::ensure!(
                u.starts_with("postgres://")
                    || u.starts_with("postgresql://")
                    || u.starts_with("sqlite://"),
                "database_url must be postgres://... or sqlite://PATH"
            );
        }
        if let Some(url) = store.blob_url.clone().or(file.blob_url) {
            let mut s3 = S3Settings::from_url(&url)
                .with_context(|| format!("blob_url {url:?} must be s3://bucket[/prefix]"))?;
            let f = file.s3.unwrap_or_default();
            s3.endpoint = f.endpoint;
            s3.region = f.region;
            s3.access_key_id = f.access_key_id;
            s3.secret_access_key = f.secret_access_key;
            s3.allow_http = f.allow_http.unwrap_or(false);
            s.s3 = Some(s3);
        }
        Ok(s)
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callvault.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let (_d, path) = file(
            "data_dir = \"/srv/cv\"\nlisten = \"0.0.0.0:9000\"\ntoken_ttl_secs = 600\n\
             webhook_lease_secs = 5\n",
        );
        let store = StoreArgs {
            config: Some(path.clone()),
            data_dir: None,
            ..Default::default()
        };
        let s = Settings::resolve(&store, &ServeArgs::default()).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/cv"));
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.token_ttl, Duration::from_secs(600));
        assert_eq!(s.webhook_lease, Duration::from_secs(5));
        assert_eq!(s.max_concurrent_requests, 1024);
        assert!(
            s.database_url.is_none() && s.s3.is_none(),
            "embedded by default"
        );

        let store = StoreArgs {
            config: Some(path),
            data_dir: Some("/elsewhere".into()),
            ..Default::default()
        };
        let serve = ServeArgs {
            listen: Some("127.0.0.1:1".parse().unwrap()),
            ..Default::default()
        };
        let s = Settings::resolve(&store, &serve).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/elsewhere"));
        assert_eq!(s.listen.port(), 1);
    }

    #[test]
    fn scale_out_backends_come_from_the_file() {
        let (_d, path) = file(
            "database_url = \"postgres://db/cv\"\nblob_url = \"s3://content/vault-a/\"\n\n[s3]\nendpoint = \"http://127.0.0.1:9000\"\nallow_http = true\n",
        );
        let store = StoreArgs {
            config: Some(path),
            ..Default::default()
        };
        let s = Settings::resolve(&store, &ServeArgs::default()).unwrap();
        assert_eq!(s.database_url.as_deref(), Some("postgres://db/cv"));
        let s3 = s.s3.unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("content", "vault-a")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.allow_http);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        for (text, needle) in [
            ("colour = 1", "unknown field"),
            ("listen = \"nowhere\"", "listen"),
            ("tls_cert = \"c.pem\"", "together"),
            ("token_ttl_secs = 5", "at least 60"),
            (
                "export_lease_secs = 0",
                "export_lease_secs must be at least 1",
            ),
            (
                "webhook_lease_secs = 2",
                "webhook_lease_secs must be at least 3",
            ),
            ("database_url = \"mysql://x\"", "database_url"),
            ("blob_url = \"gs://b\"", "s3://bucket"),
            ("blob_url = \"s3://b\"\n[s3]\nregion = 1", "region"),
        ] {
            let (_d, path) = file(text);
            let store = StoreArgs {
                config: Some(path),
                data_dir: None,
                ..Default::default()
            };
            let err = format!(
                "{:#}",
                Settings::resolve(&store, &ServeArgs::default()).unwrap_err()
            );
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
