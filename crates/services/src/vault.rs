use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use callvault_storage::{BlobStore, LocalBlobStore, SqlStore, Store};

use crate::auth::AuthService;
use crate::clock::{Clock, SystemClock};
use crate::cursor::CursorCodec;
use crate::error::ServiceResult;
use crate::seal::Sealer;

const MAX_INSPECTIONS: usize = 32;

/// Tunables of the services, from the binary's configuration.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    pub data_dir: PathBuf,
    pub token_ttl: Duration,
    /// Largest content item accepted by ingest.
    pub max_content_bytes: u64,
    /// Local export targets live under here; requests name only paths inside it.
    pub export_root: PathBuf,
    /// How long an export runner owns a job without recording progress before another
    /// runner (on this node or another) takes it over.
    pub export_lease: chrono::Duration,
    /// How long a webhook sender owns a claimed batch of deliveries; past it, another
    /// sender (on this node or another) takes the batch over.
    pub webhook_lease: chrono::Duration,
    /// Seals external storage credentials; every node of a deployment needs the same.
    pub master_key: [u8; 32],
    pub clock: Arc<dyn Clock>,
    /// Where the server may send requests for tenants (export targets).
    pub egress: crate::egress::EgressPolicy,
    /// Whether reads go into the audit trail (the default). Off only where no regulation
    /// asks for it, and for the benchmark's with-and-without comparison; deletions,
    /// governance changes and failed sign-ins are recorded either way.
    pub audit_reads: bool,
    /// Engines and what each tenant has transcribed.
    pub transcription: crate::transcription::TranscriptionSettings,
}

impl VaultConfig {
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            export_root: data_dir.join("exports"),
            data_dir,
            token_ttl: Duration::from_secs(3600),
            max_content_bytes: 8 * 1024 * 1024 * 1024,
            export_lease: chrono::Duration::seconds(120),
            webhook_lease: chrono::Duration::seconds(30),
            master_key: [0; 32],
            clock: Arc::new(SystemClock),
            egress: Default::default(),
            audit_reads: true,
            transcription: crate::transcription::TranscriptionSettings::off(),
        }
    }
}

/// The stores a vault runs on: the metadata store (SQLite or PostgreSQL) and the blob
/// store (local files or S3).
pub struct Stores {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
}

/// The handle every dialect and command works through: the two stores and the services
/// built over them.
pub struct Vault {
    /// The metadata store, for the use cases only: the dialects read and write through
    /// the services' methods, so every access passes one place.
    pub(crate) store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub auth: AuthService,
    pub sealer: Sealer,
    pub clock: Arc<dyn Clock>,
    pub cursors: CursorCodec,
    pub config: VaultConfig,
    /// Where reads are recorded (crate::audit).
    pub audit: crate::audit_sink::AuditSink,
    /// Uploads being inspected at once (an audio probe holds a blocking thread for the
    /// whole upload; a JSON check holds its copy). Far below tokio's blocking pool, so
    /// inspections can never starve the file I/O they wait on.
    pub(crate) inspections: tokio::sync::Semaphore,
    pub transcription: crate::transcription::Transcription,
    /// Waveforms of recent recordings, for the console's player.
    pub peak_cache: crate::peaks::PeakCache,
}

impl Vault {
    /// Opens the embedded default: `<data_dir>/callvault.db` and `<data_dir>/content/`.
    pub async fn open_embedded(config: VaultConfig) -> ServiceResult<Arc<Self>> {
        let store = SqlStore::open_sqlite(&config.data_dir.join("callvault.db")).await?;
        let blobs: Arc<dyn BlobStore> =
            Arc::new(LocalBlobStore::open(&config.data_dir.join("content")).await?);
        let stores = Stores {
            store: Arc::new(store),
            blobs,
        };
        Self::with_stores(stores, config).await
    }

    pub async fn with_stores(stores: Stores, config: VaultConfig) -> ServiceResult<Arc<Self>> {
        let Stores { store, blobs } = stores;
        let cursors = CursorCodec::load(store.as_ref()).await?;
        let auth = AuthService::new(store.clone(), config.token_ttl);
        Ok(Arc::new(Self {
            store: store.clone(),
            blobs,
            auth,
            sealer: Sealer::new(&config.master_key),
            clock: config.clock.clone(),
            cursors,
            transcription: crate::transcription::Transcription::open(config.transcription.clone()),
            config,
            audit: crate::audit_sink::AuditSink::start(store.clone()),
            inspections: tokio::sync::Semaphore::new(MAX_INSPECTIONS),
            peak_cache: Default::default(),
        }))
    }
}
