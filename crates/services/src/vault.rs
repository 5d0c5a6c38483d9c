use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use callvault_storage::{BlobStore, LocalBlobStore, MetadataStore, SqliteStore};

use crate::auth::AuthService;
use crate::cursor::CursorCodec;
use crate::error::ServiceResult;

const MAX_INSPECTIONS: usize = 32;

/// Tunables of the services, from the binary's configuration.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    pub data_dir: PathBuf,
    pub token_ttl: Duration,
    /// Largest content item accepted by ingest.
    pub max_content_bytes: u64,
}

impl VaultConfig {
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            token_ttl: Duration::from_secs(3600),
            max_content_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// The handle every dialect and command works through: the two stores and the services
/// built over them.
pub struct Vault {
    pub meta: Arc<dyn MetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub auth: AuthService,
    pub cursors: CursorCodec,
    pub config: VaultConfig,
    /// Uploads being inspected at once (an audio probe holds a blocking thread for the
    /// whole upload; a JSON check holds its copy). Far below tokio's blocking pool, so
    /// inspections can never starve the file I/O they wait on.
    pub(crate) inspections: tokio::sync::Semaphore,
}

impl Vault {
    /// Opens the embedded default: `<data_dir>/callvault.db` and `<data_dir>/content/`.
    pub async fn open_embedded(config: VaultConfig) -> ServiceResult<Arc<Self>> {
        let meta: Arc<dyn MetadataStore> =
            Arc::new(SqliteStore::open(&config.data_dir.join("callvault.db")).await?);
        let blobs: Arc<dyn BlobStore> =
            Arc::new(LocalBlobStore::open(&config.data_dir.join("content")).await?);
        Self::with_stores(meta, blobs, config).await
    }

    pub async fn with_stores(
        meta: Arc<dyn MetadataStore>,
        blobs: Arc<dyn BlobStore>,
        config: VaultConfig,
    ) -> ServiceResult<Arc<Self>> {
        let cursors = CursorCodec::load(meta.as_ref()).await?;
        let auth = AuthService::new(meta.clone(), config.token_ttl);
        Ok(Arc::new(Self {
            meta,
            blobs,
            auth,
            cursors,
            config,
            inspections: tokio::sync::Semaphore::new(MAX_INSPECTIONS),
        }))
    }
}
