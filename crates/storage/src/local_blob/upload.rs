//! A local upload: staged under a random name, renamed into place under its key once
//! durable, with the file-system work batched into as few trips to the blocking pool as
//! the bytes allow.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::fs;

use super::blob_path;
use crate::blob::BlobUpload;
use crate::error::{StoreError, StoreResult};

pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Runs file-system work on the blocking pool, a full disk answered as such.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::backend(format!("blob task failed: {e}")))?
        .map_err(io_error)
}

/// An upload's bytes gather in memory up to this much before a trip to the disk.
const WRITE_BUFFER: usize = 256 * 1024;

/// An upload: its bytes gather in a buffer, and each trip to the blocking pool does all
/// the file-system work that is due, so a recording under [`WRITE_BUFFER`] costs one
/// trip (create, write, fsync, rename, directory fsync) instead of one per call: each
/// trip is two thread hand-offs that every upload behind it waits for.
pub(super) struct LocalUpload {
    /// The staged file, once created; `None` while it is out on the pool.
    file: Option<std::fs::File>,
    /// Whether a staged file may exist at `path` (to remove if the upload dies).
    staged: bool,
    path: PathBuf,
    blobs: PathBuf,
    buf: Vec<u8>,
    /// Bytes written since free space was last checked.
    since_check: u64,
}

impl LocalUpload {
    pub(super) fn new(path: PathBuf, blobs: PathBuf) -> Self {
        Self {
            file: None,
            staged: false,
            path,
            blobs,
            buf: Vec::new(),
            since_check: CHECK_EVERY,
        }
    }
}

/// Makes a staged upload durable under `dest`: its last bytes written and synced, then
/// renamed into place and its directory synced (and the directories above it, when the
/// rename made the first); if `dest` exists already, the same bytes are there (keys are
/// content addresses) and the staged copy is removed.
fn settle(
    file: Option<std::fs::File>,
    path: &Path,
    buf: &[u8],
    dest: &Path,
    blobs: &Path,
) -> std::io::Result<()> {
    let file = append(file, path, buf)?;
    file.sync_all()?;
    drop(file);
    if dest.try_exists()? {
        return std::fs::remove_file(path);
    }
    let dir = dest
        .parent()
        .ok_or_else(|| std::io::Error::other("blob key has no parent"))?;
    let created_dir = !dir.try_exists()?;
    std::fs::create_dir_all(dir)?;
    std::fs::rename(path, dest)?;
    sync_dir(dir)?;
    if created_dir {
        let mut d = dir;
        while let Some(parent) = d.parent() {
            sync_dir(parent)?;
            if parent == blobs {
                break;
            }
            d = parent;
        }
    }
    Ok(())
}

/// Appends `buf` to the staged file at `path`, creating it if `file` is `None`.
fn append(file: Option<std::fs::File>, path: &Path, buf: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = match file {
        Some(f) => f,
        None => std::fs::File::create(path)?,
    };
    file.write_all(buf)?;
    Ok(file)
}

/// Uploads stop while the file system has less free than this: 5 % of its size, at most
/// 64 MiB. The metadata database shares the file system, and deletions (which free space)
/// and token issue must still find room to write.
fn reserve(total: u64) -> u64 {
    (total / 20).min(64 * 1024 * 1024)
}

/// Free space is checked at most every this many bytes written.
const CHECK_EVERY: u64 = 1024 * 1024;

/// Whether the file system holding `path` is down to its reserve, counting what an
/// upload may still write before its next check: the reserve itself is never written
/// into, so the database always finds it.
pub(super) fn low_on_space(path: &Path) -> bool {
    match rustix::fs::statvfs(path) {
        Ok(s) => {
            let block = s.f_frsize.max(1);
            let reserve = reserve(s.f_blocks.saturating_mul(block)) + CHECK_EVERY;
            s.f_bavail.saturating_mul(block) < reserve
        }
        Err(_) => false,
    }
}

/// A full disk is its own error kind, so that the caller can answer 507 and go on serving
/// reads.
fn io_error(e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::StorageFull {
        StoreError::Full
    } else {
        StoreError::Io(e)
    }
}

#[async_trait]
impl BlobUpload for LocalUpload {
    async fn write(&mut self, chunk: &[u8]) -> StoreResult<()> {
        if self.since_check >= CHECK_EVERY {
            if low_on_space(&self.blobs) {
                return Err(StoreError::Full);
            }
            self.since_check = 0;
        }
        self.since_check += chunk.len() as u64;
        if self.buf.capacity() == 0 {
            self.buf.reserve(WRITE_BUFFER);
        }
        self.buf.extend_from_slice(chunk);
        if self.buf.len() < WRITE_BUFFER {
            return Ok(());
        }
        let (file, path) = (self.file.take(), self.path.clone());
        let mut buf = std::mem::take(&mut self.buf);
        self.staged = true;
        let (file, buf) = blocking(move || {
            let file = append(file, &path, &buf)?;
            buf.clear();
            Ok((file, buf))
        })
        .await?;
        (self.file, self.buf) = (Some(file), buf);
        Ok(())
    }

    async fn commit(mut self: Box<Self>, key: &str) -> StoreResult<()> {
        let dest = blob_path(&self.blobs, key)?;
        let (file, path, blobs) = (self.file.take(), self.path.clone(), self.blobs.clone());
        let buf = std::mem::take(&mut self.buf);
        // From here the staged file is the trip's to remove or rename.
        self.staged = false;
        blocking(move || {
            let done = settle(file, &path, &buf, &dest, &blobs);
            if done.is_err() {
                // Whatever step failed, the staged copy is not wanted (after a rename it
                // is gone already).
                let _ = std::fs::remove_file(&path);
            }
            done
        })
        .await
    }

    async fn abort(mut self: Box<Self>) {
        if std::mem::take(&mut self.staged) {
            let _ = fs::remove_file(&self.path).await;
        }
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if self.staged {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
