//! Blobs as files under a data directory.
//!
//! Written by hand rather than through `object_store`'s local backend because an
//! acknowledged write must be durable: the staged file is renamed into place, then it and
//! its directory are fsynced before the write is acknowledged, which that backend does
//! not do.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::fs;

use crate::blob::{check_key, BlobInfo, BlobRead, BlobStore, BlobUpload};
use crate::error::{StoreError, StoreResult};

mod upload;

use upload::{blocking, low_on_space, sync_dir, LocalUpload};

/// A download is read in chunks of this size, each on the worker when its bytes are
/// cached and on the blocking pool otherwise: 1 MiB keeps the reads few without holding
/// much memory per download.
const READ_CHUNK: usize = 1024 * 1024;

/// What opening a blob found, on the blocking pool.
enum Opened {
    /// The whole read, done already (it fit in one chunk).
    Read(Vec<u8>),
    /// The file, the read's start and its length.
    File(std::fs::File, u64, u64),
    OutOfRange(Range<u64>, u64),
}

pub struct LocalBlobStore {
    blobs: PathBuf,
    staging: PathBuf,
    /// Files mapped for the reads of cached content.
    #[cfg(target_os = "linux")]
    maps: std::sync::Arc<crate::mapped::Maps>,
}

impl LocalBlobStore {
    pub async fn open(root: &Path) -> StoreResult<Self> {
        let blobs = root.join("blobs");
        let staging = root.join("staging");
        fs::create_dir_all(&blobs).await?;
        fs::create_dir_all(&staging).await?;
        Ok(Self {
            blobs,
            staging,
            #[cfg(target_os = "linux")]
            maps: Default::default(),
        })
    }

    fn path_of(&self, key: &str) -> StoreResult<PathBuf> {
        blob_path(&self.blobs, key)
    }
}

/// Maps a key to its path under `blobs` ([`check_key`]: nothing that could leave the
/// blob directory).
fn blob_path(blobs: &Path, key: &str) -> StoreResult<PathBuf> {
    check_key(key)?;
    Ok(blobs.join(key))
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    /// Creates nothing yet: the staged file is made by the first trip to the disk, which
    /// for a recording smaller than the write buffer is its commit.
    async fn stage(&self) -> StoreResult<Box<dyn BlobUpload>> {
        Ok(Box::new(LocalUpload::new(
            self.staging.join(uuid::Uuid::new_v4().simple().to_string()),
            self.blobs.clone(),
        )))
    }

    async fn open(&self, key: &str, range: Option<Range<u64>>) -> StoreResult<BlobRead> {
        let path = self.path_of(key)?;
        // A read of at most one chunk (a player's range request) whose bytes are cached is
        // done here, with no trip to the blocking pool.
        #[cfg(target_os = "linux")]
        if let Some(bytes) =
            crate::cached_read::read_cached(&self.maps, &path, range.as_ref(), READ_CHUNK)
        {
            return Ok(BlobRead {
                len: bytes.len() as u64,
                stream: futures::stream::once(async move { Ok(bytes) }).boxed(),
            });
        }
        // Otherwise open, size, position and, for a read of at most one chunk, read it
        // too, in one trip to the blocking pool rather than three: the hand-offs, not the
        // copy, are what a small range costs.
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<Opened> {
            use std::io::{Read, Seek};
            let mut file = std::fs::File::open(&path)?;
            let size = file.metadata()?.len();
            let (start, len) = match &range {
                Some(r) if r.start <= r.end && r.end <= size => (r.start, r.end - r.start),
                Some(r) => return Ok(Opened::OutOfRange(r.clone(), size)),
                None => (0, size),
            };
            if len <= READ_CHUNK as u64 {
                if start > 0 {
                    file.seek(SeekFrom::Start(start))?;
                }
                let mut bytes = Vec::with_capacity(len as usize);
                file.take(len).read_to_end(&mut bytes)?;
                return Ok(Opened::Read(bytes));
            }
            Ok(Opened::File(file, start, len))
        })
        .await
        .map_err(|e| StoreError::backend(format!("blob open task failed: {e}")))?;
        match opened {
            Ok(Opened::Read(bytes)) => Ok(BlobRead {
                len: bytes.len() as u64,
                stream: futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }).boxed(),
            }),
            Ok(Opened::File(file, start, len)) => Ok(BlobRead {
                stream: self.file_stream(file, start, len)?,
                len,
            }),
            Ok(Opened::OutOfRange(r, size)) => Err(StoreError::backend(format!(
                "range {r:?} outside blob of {size} bytes"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(format!("blob {key}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        Ok(fs::try_exists(self.path_of(key)?).await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        fs::metadata(&self.blobs).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        let path = self.path_of(key)?;
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => path.parent().map_or(Ok(()), sync_dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await
    }

    async fn list(&self) -> StoreResult<Vec<BlobInfo>> {
        let root = self.blobs.clone();
        tokio::task::spawn_blocking(move || walk(&root))
            .await
            .map_err(|e| StoreError::backend(format!("blob listing task failed: {e}")))?
    }

    fn low_on_space(&self) -> bool {
        low_on_space(&self.blobs)
    }

    async fn clean_staging(&self, older_than: SystemTime) -> StoreResult<usize> {
        let mut removed = 0;
        let mut dir = fs::read_dir(&self.staging).await?;
        while let Some(entry) = dir.next_entry().await? {
            // An upload may commit (rename) its file between listing and stat.
            let modified = match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if modified < older_than && fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl LocalBlobStore {
    /// A long read's chunks, each taken on the worker when cached (Linux).
    #[cfg(target_os = "linux")]
    fn file_stream(
        &self,
        file: std::fs::File,
        start: u64,
        len: u64,
    ) -> std::io::Result<futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>> {
        Ok(crate::cached_read::chunks(
            self.maps.clone(),
            file,
            start,
            len,
            READ_CHUNK,
        ))
    }

    /// A long read's chunks, through tokio's file reads.
    #[cfg(not(target_os = "linux"))]
    fn file_stream(
        &self,
        mut file: std::fs::File,
        start: u64,
        len: u64,
    ) -> std::io::Result<futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>> {
        use std::io::Seek;
        use tokio::io::AsyncReadExt;
        use tokio_util::io::ReaderStream;
        file.seek(SeekFrom::Start(start))?;
        let file = fs::File::from_std(file);
        Ok(ReaderStream::with_capacity(file.take(len), READ_CHUNK).boxed())
    }
}

/// Lists every blob; entries removed while walking (a concurrent delete) are skipped.
fn walk(root: &Path) -> StoreResult<Vec<BlobInfo>> {
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(rel) = entry.path().strip_prefix(root) {
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                // A file that is no blob key (a stray or hidden file) was not put there
                // by the vault: not ours to list, and so not the sweeper's to delete.
                if check_key(&key).is_err() {
                    continue;
                }
                out.push(BlobInfo {
                    key,
                    modified: meta.modified()?,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a new directory holding one blob at `key`, written in `parts`.
    async fn holding(key: &str, parts: &[&[u8]]) -> (tempfile::TempDir, LocalBlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).await.unwrap();
        let mut up = store.stage().await.unwrap();
        for part in parts {
            up.write(part).await.unwrap();
        }
        up.commit(key).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn stage_commit_read_delete() {
        let (dir, store) = holding("t1/ab/abc", &[b"hello ", b"world"]).await;
        let r = store.open("t1/ab/abc", Some(6..11)).await.unwrap();
        assert_eq!(r.len, 5);
        let bytes: Vec<u8> = r.stream.map(|c| c.unwrap().to_vec()).concat().await;
        assert_eq!(bytes, b"world");
        assert_eq!(store.list().await.unwrap().len(), 1);
        store.delete("t1/ab/abc").await.unwrap();
        assert!(!store.exists("t1/ab/abc").await.unwrap());
        assert!(store.open("../etc/passwd", None).await.is_err());
        assert_eq!(
            std::fs::read_dir(dir.path().join("staging"))
                .unwrap()
                .count(),
            0
        );
    }

    fn staged_files(dir: &tempfile::TempDir) -> usize {
        std::fs::read_dir(dir.path().join("staging"))
            .unwrap()
            .count()
    }

    #[tokio::test]
    async fn a_small_upload_reaches_the_disk_only_when_committed() {
        let (dir, store) = holding("t1/ab/one", &[b"x"]).await;
        let mut up = store.stage().await.unwrap();
        up.write(b"hello").await.unwrap();
        assert_eq!(staged_files(&dir), 0, "nothing on disk before the commit");
        up.commit("t1/ab/two").await.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("blobs/t1/ab/two")).unwrap(),
            b"hello"
        );
        // The same key again: the bytes are there already, the staged copy goes.
        let mut again = store.stage().await.unwrap();
        again.write(b"hello").await.unwrap();
        again.commit("t1/ab/two").await.unwrap();
        assert_eq!(staged_files(&dir), 0);
    }

    /// A file under the key that a crash left with other bytes (renamed into place, never
    /// synced) is not taken for the upload's: the upload's bytes replace it.
    #[tokio::test]
    async fn a_leftover_with_other_bytes_under_the_key_is_replaced() {
        let (dir, store) = holding("t1/ab/one", &[b"x"]).await;
        for leftover in [&b"hellx"[..], b"", b"hello world"] {
            std::fs::write(dir.path().join("blobs/t1/ab/one"), leftover).unwrap();
            let mut up = store.stage().await.unwrap();
            up.write(b"hello").await.unwrap();
            up.commit("t1/ab/one").await.unwrap();
            assert_eq!(
                std::fs::read(dir.path().join("blobs/t1/ab/one")).unwrap(),
                b"hello"
            );
            assert_eq!(staged_files(&dir), 0);
        }
    }

    #[tokio::test]
    async fn a_large_upload_is_written_as_it_comes_and_removed_if_it_dies() {
        let (dir, store) = holding("t1/ab/one", &[b"x"]).await;
        let chunk = vec![7u8; 100 * 1024];
        let mut up = store.stage().await.unwrap();
        for _ in 0..3 {
            up.write(&chunk).await.unwrap();
        }
        assert_eq!(
            staged_files(&dir),
            1,
            "past the buffer, the bytes are staged"
        );
        drop(up);
        assert_eq!(staged_files(&dir), 0);
        let mut up = store.stage().await.unwrap();
        for _ in 0..3 {
            up.write(&chunk).await.unwrap();
        }
        up.commit("t1/cd/big").await.unwrap();
        let r = store.open("t1/cd/big", None).await.unwrap();
        assert_eq!(r.len, 300 * 1024);
        assert_eq!(staged_files(&dir), 0);
    }

    #[tokio::test]
    async fn stray_files_in_the_blob_area_are_not_listed() {
        let (dir, store) = holding("t1/ab/abc", &[b"x"]).await;
        let blobs = dir.path().join("blobs/t1/ab");
        std::fs::write(blobs.join(".DS_Store"), b"").unwrap();
        std::fs::write(blobs.join("copy of abc"), b"").unwrap();
        let keys: Vec<_> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.key)
            .collect();
        assert_eq!(keys, ["t1/ab/abc"]);
    }
}
