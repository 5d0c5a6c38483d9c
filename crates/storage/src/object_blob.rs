//! Blobs in an object store (S3 or any S3-compatible server, through `object_store`), for
//! the scale-out mode where no node keeps content on its own disk.
//!
//! An upload streams into `staging/<uuid>` as a multipart upload; commit copies it to its
//! content address server-side and removes the staged object. A crash between the two
//! leaves only a staged object, which `clean_staging` removes later; a blob is never
//! visible under its key before its bytes are complete. S3's single-request copy stops at
//! 5 GiB, so the binary caps `max_content_bytes` there on this backend.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, RetryConfig, WriteMultipart};

use crate::blob::{check_key, BlobInfo, BlobRead, BlobStore, BlobUpload};
use crate::error::{StoreError, StoreResult};

/// The largest object one server-side copy can produce on S3.
pub const MAX_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Multipart part size: S3's minimum is 5 MiB; 8 MiB keeps part counts low for large
/// recordings while bounding memory per upload (two parts in flight).
const PART_BYTES: usize = 8 * 1024 * 1024;

const STAGING: &str = "staging";
const BLOBS: &str = "blobs";

/// Where the content bucket is and how to reach it. Unset fields fall back to the usual
/// `AWS_*` environment variables, so credentials can come from the environment rather
/// than a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    pub prefix: String,
    /// An S3-compatible server's URL (MinIO, Garage, Ceph...); AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Plain `http://` endpoints are refused unless allowed, so credentials are not sent
    /// in clear by accident.
    pub allow_http: bool,
}

impl S3Settings {
    /// Parses `s3://bucket[/prefix]`.
    pub fn from_url(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(Self {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            ..Default::default()
        })
    }

    pub fn open(&self) -> StoreResult<ObjectBlobStore> {
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&self.bucket);
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        if let Some(r) = &self.region {
            b = b.with_region(r);
        }
        if let Some(k) = &self.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &self.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        if self.allow_http {
            b = b.with_allow_http(true);
        }
        // An unreachable store answers within seconds instead of the client's default of
        // retrying for three minutes, longer than any request may wait.
        b = b.with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..Default::default()
        });
        let store = b.build().map_err(backend)?;
        Ok(ObjectBlobStore::new(Arc::new(store), &self.prefix))
    }
}

#[derive(Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl ObjectBlobStore {
    /// `prefix` (may be empty) keeps several vaults, or a vault and other data, apart in
    /// one bucket.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    fn under(&self, area: &str, rest: &str) -> String {
        if self.prefix.is_empty() {
            format!("{area}/{rest}")
        } else {
            format!("{}/{area}/{rest}", self.prefix)
        }
    }

    /// Maps a blob key to an object path ([`check_key`]: a bad key can never address
    /// another area of the bucket).
    fn path_of(&self, key: &str) -> StoreResult<Path> {
        check_key(key)?;
        Path::parse(self.under(BLOBS, key)).map_err(backend)
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::backend(e.to_string())
}

/// An object store operation's failure. One that never got an answer from the server
/// (refused or reset connections, timeouts, a request cut off), after the client's own
/// retries, is an outage that passes, so the caller may answer 503; anything else
/// (refused credentials, a missing bucket) is a backend error. The client wraps its HTTP
/// library's error in several layers, some transparent, so the whole chain is searched.
fn failed(e: object_store::Error) -> StoreError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if is_unreachable(c) {
            return StoreError::unavailable("the object store cannot be reached", e);
        }
        cause = c.source();
    }
    backend(e)
}

fn is_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as Io;
    if let Some(http) = e.downcast_ref::<HttpError>() {
        return matches!(
            http.kind(),
            HttpErrorKind::Connect
                | HttpErrorKind::Request
                | HttpErrorKind::Timeout
                | HttpErrorKind::Interrupted
        );
    }
    if let Some(r) = e.downcast_ref::<reqwest::Error>() {
        return r.is_connect() || r.is_timeout() || r.is_request() || r.is_body();
    }
    e.downcast_ref::<std::io::Error>().is_some_and(|io| {
        matches!(
            io.kind(),
            Io::ConnectionRefused
                | Io::ConnectionReset
                | Io::ConnectionAborted
                | Io::NotConnected
                | Io::BrokenPipe
                | Io::TimedOut
                | Io::UnexpectedEof
        )
    })
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn stage(&self) -> StoreResult<Box<dyn BlobUpload>> {
        let path = Path::parse(self.under(STAGING, &uuid::Uuid::new_v4().simple().to_string()))
            .map_err(backend)?;
        let upload = self.store.put_multipart(&path).await.map_err(failed)?;
        Ok(Box::new(ObjectUpload {
            writer: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
            staged: path,
            store: self.store.clone(),
            blobs: self.clone(),
        }))
    }

    async fn open(&self, key: &str, range: Option<Range<u64>>) -> StoreResult<BlobRead> {
        let path = self.path_of(key)?;
        let opts = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let got = match self.store.get_opts(&path, opts).await {
            Ok(g) => g,
            Err(e) if is_not_found(&e) => return Err(StoreError::NotFound(key.to_string())),
            Err(e) => return Err(failed(e)),
        };
        let len = got.range.end - got.range.start;
        let stream = got
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed();
        Ok(BlobRead { stream, len })
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        match self.store.head(&self.path_of(key)?).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(failed(e)),
        }
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        match self.store.delete(&self.path_of(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    async fn list(&self) -> StoreResult<Vec<BlobInfo>> {
        let root = Path::parse(self.under(BLOBS, "")).map_err(backend)?;
        let skip = root.as_ref().len() + 1;
        let metas: Vec<_> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(failed)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let key = m.location.as_ref().get(skip..)?.to_string();
                // An object that is no blob key was not put there by a vault: not ours.
                check_key(&key).ok()?;
                Some(BlobInfo {
                    key,
                    modified: SystemTime::from(m.last_modified),
                })
            })
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        // A key no upload ever uses (staged names are UUIDs): "not found" is an answer.
        let probe = Path::parse(self.under(STAGING, "ping")).map_err(backend)?;
        match self.store.head(&probe).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    async fn clean_staging(&self, older_than: SystemTime) -> StoreResult<usize> {
        let root = Path::parse(self.under(STAGING, "")).map_err(backend)?;
        let metas: Vec<_> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(failed)?;
        let mut removed = 0;
        for m in metas {
            if SystemTime::from(m.last_modified) < older_than {
                match self.store.delete(&m.location).await {
                    Ok(()) => removed += 1,
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(failed(e)),
                }
            }
        }
        Ok(removed)
    }
}

struct ObjectUpload {
    writer: WriteMultipart,
    staged: Path,
    store: Arc<dyn ObjectStore>,
    blobs: ObjectBlobStore,
}

#[async_trait]
impl BlobUpload for ObjectUpload {
    async fn write(&mut self, chunk: &[u8]) -> StoreResult<()> {
        // Back-pressure: at most two parts are buffered or in flight per upload.
        self.writer.wait_for_capacity(2).await.map_err(failed)?;
        self.writer.write(chunk);
        Ok(())
    }

    async fn commit(self: Box<Self>, key: &str) -> StoreResult<()> {
        let ObjectUpload {
            writer,
            staged,
            store,
            blobs,
        } = *self;
        let target = blobs.path_of(key)?;
        writer.finish().await.map_err(failed)?;
        let copied = match store.head(&target).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => store.copy(&staged, &target).await.map_err(failed),
            Err(e) => Err(failed(e)),
        };
        // The staged object goes either way; if this delete fails the sweeper gets it.
        if let Err(e) = store.delete(&staged).await {
            tracing::warn!(error = %e, path = %staged, "could not remove a staged upload");
        }
        copied
    }

    async fn abort(self: Box<Self>) {
        let ObjectUpload { writer, staged, .. } = *self;
        if let Err(e) = writer.abort().await {
            tracing::warn!(error = %e, path = %staged, "could not abort a staged upload");
        }
    }
}
