//! `callvault serve`: binds, serves HTTP or HTTPS, runs housekeeping, shuts down
//! gracefully on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use callvault_http::{router, AppState, HttpLimits};
use callvault_services::clock::{Clock, SystemClock};
use callvault_services::transcription::Turn;
use callvault_services::webhooks::{Courier, Round};
use callvault_services::{Stores, Vault, VaultConfig};
use callvault_storage::object_blob::MAX_COPY_BYTES;
use callvault_storage::{BlobStore, LocalBlobStore, SqlStore, Store};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::keys;

/// How often orphaned blobs, staging leftovers and expired tokens are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// How often an idle runner looks for new jobs.
const JOB_POLL: Duration = Duration::from_millis(250);
/// How often an idle webhook sender looks for due deliveries.
const WEBHOOK_POLL: Duration = Duration::from_millis(200);
/// How long a sender that found less than a full batch waits before its next claim, so
/// that under a steady stream of changes deliveries gather into batches: a batch costs
/// two write transactions however large, and without the pause senders would claim
/// every few events, taking the store's single writer from ingest (on SQLite) hundreds
/// of times a second.
const WEBHOOK_GATHER: Duration = Duration::from_millis(100);
/// An upload is never between its blob commit and its row commit for this long.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Opens the stores the settings name: the embedded SQLite file and content directory
/// by default, PostgreSQL and S3 when configured (each independently).
pub async fn open_vault(settings: &Settings) -> anyhow::Result<Arc<Vault>> {
    open_vault_with_clock(settings, Arc::new(SystemClock)).await
}

/// [`open_vault`] with the clock the services act on (tests move time forward).
pub async fn open_vault_with_clock(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Vault>> {
    Ok(open_vault_and_store(settings, clock).await?.0)
}

/// [`open_vault_with_clock`], also answering the metadata store under the vault, for
/// tests that set up or inspect state no request can reach.
pub async fn open_vault_and_store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<Vault>, Arc<dyn Store>)> {
    let mut config = VaultConfig {
        data_dir: settings.data_dir.clone(),
        token_ttl: settings.token_ttl,
        max_content_bytes: settings.max_content_bytes,
        export_root: settings
            .export_root
            .clone()
            .unwrap_or_else(|| settings.data_dir.join("exports")),
        export_lease: chrono::Duration::from_std(settings.export_lease)
            .context("export_lease_secs is too large")?,
        webhook_lease: chrono::Duration::from_std(settings.webhook_lease)
            .context("webhook_lease_secs is too large")?,
        master_key: keys::master_key(settings)?,
        clock,
        egress: callvault_services::egress::EgressPolicy::parse(&settings.egress_allow)
            .map_err(anyhow::Error::msg)?,
        audit_reads: settings.audit_reads,
        transcription: settings.transcription.clone(),
    };
    let store = match settings.database_url.as_deref() {
        Some(url) if !url.starts_with("sqlite://") => SqlStore::open_postgres(url)
            .await
            .context("connecting to the PostgreSQL database")?,
        url => {
            let path = match url {
                Some(u) => PathBuf::from(&u["sqlite://".len()..]),
                None => settings.data_dir.join("callvault.db"),
            };
            SqlStore::open_sqlite(&path)
                .await
                .with_context(|| format!("opening {}", path.display()))?
        }
    };
    let blobs: Arc<dyn BlobStore> = match &settings.s3 {
        Some(s3) => {
            config.max_content_bytes = config.max_content_bytes.min(MAX_COPY_BYTES);
            Arc::new(
                s3.open()
                    .with_context(|| format!("configuring the S3 bucket {}", s3.bucket))?,
            )
        }
        None => {
            let dir = settings.data_dir.join("content");
            Arc::new(
                LocalBlobStore::open(&dir)
                    .await
                    .with_context(|| format!("opening {}", dir.display()))?,
            )
        }
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let stores = Stores {
        store: store.clone(),
        blobs,
    };
    Ok((Vault::with_stores(stores, config).await?, store))
}

/// The process-wide Prometheus recorder (a recorder can be installed only once).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder unavailable");
                None
            }
        })
        .clone()
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub vault: Arc<Vault>,
    pub tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, writes the audit records still
    /// queued, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let served = self.task.await.context("server task panicked")?;
        self.vault.audit.flush().await;
        served
    }

    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.task.await.context("server task panicked")?;
        self.vault.audit.flush().await;
        served
    }

    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

pub async fn start(settings: &Settings, vault: Arc<Vault>) -> anyhow::Result<Running> {
    let state = AppState {
        vault: vault.clone(),
        metrics: metrics_handle(),
        public_base_url: settings.public_base_url.clone(),
        tls: settings.tls.is_some(),
    };
    let limits = HttpLimits {
        max_json_body: settings.max_json_body,
        request_timeout: settings.request_timeout,
        max_concurrent_requests: settings.max_concurrent_requests,
    };
    // The peer's address reaches handlers (the sign-in limits are per source address).
    let app = router(state, limits).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, mut stopped) = watch::channel(false);
    spawn_background(&vault, &stop);
    let std_listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("binding {}", settings.listen))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let task = match &settings.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                let _ = stopped.wait_for(|s| *s).await;
                h.graceful_shutdown(Some(Duration::from_secs(30)));
            });
            let server = axum_server::from_tcp_rustls(std_listener, tls).handle(handle);
            tokio::spawn(async move { server.serve(app).await.context("HTTPS server failed") })
        }
        None => {
            let listener = tokio::net::TcpListener::from_std(std_listener)?;
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
                    .context("HTTP server failed")
            })
        }
    };
    release_startup_memory();
    Ok(Running {
        addr,
        vault,
        tls: settings.tls.is_some(),
        stop,
        task,
    })
}

/// Gives the allocator's free pages back to the system once start-up is done.
///
/// Building the router and its OpenAPI document, and opening the stores, allocate a few
/// megabytes that are free again once serving starts. glibc keeps freed memory inside its
/// heap, so without this the idle server kept about 2 MiB of start-up garbage resident
/// (docs/benchmarks.md).
fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no
        // pointer and may be called at any time from any thread.
        unsafe { libc::malloc_trim(0) };
    }
}

/// Housekeeping, the bulk-export job runner and the export runner.
fn spawn_background(vault: &Arc<Vault>, stop: &watch::Sender<bool>) {
    spawn_sweeper(vault.clone(), stop.subscribe());
    spawn_job_runner(vault.clone(), stop.subscribe());
    spawn_export_runner(vault.clone(), stop.subscribe());
    spawn_transcription_runner(vault.clone(), stop.subscribe());
    spawn_webhook_senders(vault, stop);
}

/// Senders of webhook deliveries: a few at once, so that a slow receiver holds one of
/// them for at most its timeout while the others go on; each subscription has one
/// delivery in flight at a time (the store's claim), so its events keep their order.
const WEBHOOK_SENDERS: usize = 4;

fn spawn_webhook_senders(vault: &Arc<Vault>, stop: &watch::Sender<bool>) {
    let courier = Arc::new(Courier::new(&vault.config.egress, vault.clock.clone()));
    for _ in 0..WEBHOOK_SENDERS {
        let (vault, courier, mut stop) = (vault.clone(), courier.clone(), stop.subscribe());
        tokio::spawn(async move {
            loop {
                let idle = tokio::select! {
                    r = vault.run_next_delivery(&courier) => match r {
                        Ok(Round::Sent { full: true }) => Duration::ZERO,
                        Ok(Round::Sent { full: false }) => WEBHOOK_GATHER,
                        Ok(Round::Idle) => WEBHOOK_POLL,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhook sender");
                            JOB_POLL
                        }
                    },
                    _ = stop.wait_for(|s| *s) => return,
                };
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
    }
}

/// Transcribes queued recordings, newest first, one at a time per node (an engine uses
/// a core by itself). Stopping drops the job mid-run; its lease lapses and it is taken
/// over.
fn spawn_transcription_runner(vault: Arc<Vault>, mut stop: watch::Receiver<bool>) {
    for (engine, state) in vault.transcription.engines() {
        match state {
            Ok(()) => tracing::info!(engine = engine.as_str(), "transcription engine ready"),
            Err(why) => tracing::warn!(engine = engine.as_str(), %why, "transcription is off"),
        }
    }
    if let (_, Some(why)) = vault.transcription.default_engine() {
        tracing::warn!(%why, "transcription is off by default");
    }
    tokio::spawn(async move {
        loop {
            let idle = tokio::select! {
                r = vault.run_next_transcription() => match r {
                    Ok(Turn::Idle) => JOB_POLL,
                    Ok(Turn::Transcribed | Turn::Settled) => Duration::ZERO,
                    Err(e) => {
                        tracing::warn!(error = %e, "transcription runner");
                        JOB_POLL
                    }
                },
                _ = stop.wait_for(|s| *s) => return,
            };
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

/// `callvault worker`: the background work of `serve` without the HTTP API, for nodes
/// dedicated to exports. Runs until SIGINT/SIGTERM.
pub async fn work(vault: Arc<Vault>) {
    let (stop, _) = watch::channel(false);
    spawn_background(&vault, &stop);
    shutdown_signal().await;
    let _ = stop.send(true);
    vault.audit.flush().await;
}

/// Housekeeping on one node at a time: the nodes of a deployment share a lease, which
/// its holder renews every round and a dead node lets lapse.
fn spawn_sweeper(vault: Arc<Vault>, mut stop: watch::Receiver<bool>) {
    let node = uuid::Uuid::new_v4().to_string();
    tokio::spawn(async move {
        loop {
            let now = vault.clock.now();
            let until = now + chrono::Duration::from_std(SWEEP_EVERY * 2).unwrap_or_default();
            match vault.hold_lease("sweeper", &node, now, until).await {
                Ok(true) => match vault.sweep(ORPHAN_GRACE).await {
                    Ok(r) if r != Default::default() => tracing::info!(?r, "housekeeping"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
                },
                Ok(false) => tracing::debug!("another node holds the housekeeping lease"),
                Err(e) => tracing::warn!(error = %e, "housekeeping lease"),
            }
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

fn spawn_job_runner(vault: Arc<Vault>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let idle = match vault.run_next_job().await {
                Ok(true) => Duration::ZERO,
                Ok(false) => JOB_POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "job runner");
                    JOB_POLL
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

/// Runs due export jobs. Stopping drops a run mid-item, which is safe: the job's lease
/// lapses and a runner (here after a restart, or on another node) resumes it from its
/// watermark without repeating an item.
fn spawn_export_runner(vault: Arc<Vault>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let idle = tokio::select! {
                r = vault.run_next_export() => match r {
                    Ok(true) => Duration::ZERO,
                    Ok(false) => JOB_POLL,
                    Err(e) => {
                        tracing::warn!(error = %e, "export runner");
                        JOB_POLL
                    }
                },
                _ = stop.wait_for(|s| *s) => return,
            };
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

/// Resolves when the process is asked to stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
