//! A local upload: staged under a random name, renamed into place under its key and made
//! durable there before it is acknowledged, with the file-system work batched into as few
//! trips to the blocking pool as the bytes allow.

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
/// trip (create, write, rename, fsync, directory fsync) instead of one per call: each
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

/// Makes a staged upload durable under `dest`, with one flush of the file system's log
/// where it has one instead of two.
///
/// A new blob is renamed into place *before* its file is synced, then the file and its
/// directory are synced, both before the upload is acknowledged. On a journalling file
/// system (ext4, XFS) the file's sync commits the journal transaction that also holds the
/// rename, so the directory's sync finds nothing left to write: the old order (sync,
/// rename, sync the directory) paid two journal commits per recording.
///
/// The price is that a crash between the rename and the syncs can leave a file under
/// `dest` whose bytes never reached the disk. No row refers to it (rows are written only
/// after this returns), so the orphan sweep removes it; but a later upload of the same
/// bytes must not trust it. When `dest` exists, its bytes are compared with the staged
/// ones: equal, it is synced (it may be the leftover of a commit that failed after its
/// rename) and the staged copy removed; different, the staged copy is synced first and
/// then renamed over it, so a durable blob is never replaced by an unsynced one.
fn settle(
    file: Option<std::fs::File>,
    path: &Path,
    buf: &[u8],
    dest: &Path,
    blobs: &Path,
) -> std::io::Result<()> {
    let file = append(file, path, buf)?;
    let dir = dest
        .parent()
        .ok_or_else(|| std::io::Error::other("blob key has no parent"))?;
    match std::fs::File::open(dest) {
        Ok(existing) => {
            if same_bytes(&file, &existing)? {
                existing.sync_all()?;
                sync_dir(dir)?;
                return std::fs::remove_file(path);
            }
            file.sync_all()?;
            std::fs::rename(path, dest)?;
            return sync_dir(dir);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let created_dir = !dir.try_exists()?;
    std::fs::create_dir_all(dir)?;
    std::fs::rename(path, dest)?;
    file.sync_all()?;
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

/// Whether two open files hold the same bytes, read from their starts.
fn same_bytes(a: &std::fs::File, b: &std::fs::File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut at = 0u64;
    loop {
        let n = a.read_at(&mut ba, at)?;
        if n == 0 {
            return Ok(true);
        }
        let mut got = 0;
        while got < n {
            match b.read_at(&mut bb[got..n], at + got as u64)? {
                0 => return Ok(false),
                m => got += m,
            }
        }
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
        at += n as u64;
    }
}

/// Appends `buf` to the staged file at `path`, creating it if `file` is `None`.
fn append(file: Option<std::fs::File>, path: &Path, buf: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = match file {
        Some(f) => f,
        // Readable too: a commit may compare it with a blob already under its key.
        None => std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?,
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
