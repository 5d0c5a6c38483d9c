//! Mappings of blob files, kept for a moment and shared by the reads that come close
//! together.
//!
//! A player fetches a recording as a run of ranges, so one file is read many times within
//! a few seconds. Mapping it for each range and unmapping it after cost more than copying
//! the range did: under 16 clients reading 1 MiB ranges, `munmap` alone (the page-table
//! teardown and the other cores' TLB flushes) took 12 % of the server's CPU and `mmap`
//! with its page faults another 5 % (docs/benchmarks.md). So a file read by a range is
//! mapped once, whole, and each read takes a slice of that mapping; a mapping unused for
//! [`KEEP`] is dropped by a sweeper task, and the last slice still held by a response
//! unmaps it. A stream's chunks are mapped one by one instead ([`Keep::Once`]).
//!
//! A mapping is found by the file's device and inode, read from the descriptor the read
//! just opened, so a path that now names another file (a blob deleted and stored again)
//! never finds an old mapping: blob files are never written once in place
//! (`cached_read`'s module comment), so an inode's bytes are the bytes it was mapped with.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// How long a mapping nobody reads stays: longer than the pause between a player's ranges,
/// short enough that a deleted file's blocks are freed soon after.
const KEEP: Duration = Duration::from_secs(2);

/// At most this many files stay mapped; the least recently read goes first.
const MAX_FILES: usize = 64;

/// At most this many bytes of files stay mapped. A mapped page counts in the server's
/// resident memory while it is mapped (it is the page cache's page, not a copy), so this
/// bounds what monitoring sees, not what the kernel caches.
const MAX_KEPT_BYTES: u64 = 256 << 20;

/// Files larger than this are mapped per read rather than kept: one would crowd out the
/// recordings being played.
const MAX_KEPT_LEN: u64 = 64 << 20;

/// The kept mappings of one blob store.
pub(crate) struct Maps {
    inner: Mutex<Kept>,
    /// [`KEEP`], but for tests.
    keep: Duration,
}

impl Default for Maps {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            keep: KEEP,
        }
    }
}

#[derive(Default)]
struct Kept {
    files: HashMap<(u64, u64), Entry>,
    /// The sweeper, while there is one (a runtime shut down ends it too).
    sweeper: Option<tokio::task::JoinHandle<()>>,
}

struct Entry {
    map: Arc<memmap2::Mmap>,
    read: Instant,
}

impl Kept {
    /// The bytes mapped now (at most 64 files: summing beats keeping a count in step).
    fn bytes(&self) -> u64 {
        self.files.values().map(|e| e.map.len() as u64).sum()
    }
}

/// Whether a read may leave its file mapped for the reads after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// A single range, as a player asks for them: the file is mapped and kept, since the
    /// next range of it is likely seconds away.
    Kept,
    /// A chunk of a stream (a whole file, an open-ended range, a bulk download's entry):
    /// it uses a kept mapping where one is there, and is otherwise mapped by itself and
    /// unmapped once sent. A stream reads each byte once, so keeping its file mapped
    /// saves nothing, and a bulk download reading files one after another would keep
    /// the last 256 MiB of them resident (docs/benchmarks.md, "Streams do not keep their
    /// files mapped").
    Once,
}

/// A slice of a mapping, owned by the bytes a response sends.
struct Slice {
    map: Arc<memmap2::Mmap>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.start..self.end]
    }
}

impl Maps {
    /// `len` bytes of `file` (`meta` is its metadata) from `start`, if they lie within the
    /// file (a mapping past its end faults) and every page of them is in the page cache.
    pub(crate) fn cached(
        self: &Arc<Self>,
        file: &File,
        meta: &std::fs::Metadata,
        start: u64,
        len: usize,
        keep: Keep,
    ) -> Option<Bytes> {
        let end = start.checked_add(len as u64).filter(|e| *e <= meta.len())?;
        let kept = match keep {
            Keep::Kept if meta.len() <= MAX_KEPT_LEN => self.kept(file, meta),
            _ => self.existing(meta),
        };
        let Some(map) = kept else {
            let map = map(file, start, len)?;
            return resident(&map, 0, len).then(|| Bytes::from_owner(map));
        };
        let (start, end) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
        if !resident(&map, start, end) {
            return None;
        }
        Some(Bytes::from_owner(Slice { map, start, end }))
    }

    /// The file's kept mapping, if there is one now.
    fn existing(&self, meta: &std::fs::Metadata) -> Option<Arc<memmap2::Mmap>> {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let entry = kept.files.get_mut(&(meta.dev(), meta.ino()))?;
        entry.read = Instant::now();
        Some(entry.map.clone())
    }

    /// The kept mapping of the whole file, made now if there is none.
    fn kept(self: &Arc<Self>, file: &File, meta: &std::fs::Metadata) -> Option<Arc<memmap2::Mmap>> {
        let id = (meta.dev(), meta.ino());
        let now = Instant::now();
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = kept.files.get_mut(&id) {
            entry.read = now;
            return Some(entry.map.clone());
        }
        // Mapping is a system call but not a wait for the disk: it is made under the lock
        // so that two reads of one file share one mapping.
        let map = Arc::new(map(file, 0, usize::try_from(meta.len()).ok()?)?);
        let wanted = map.len() as u64;
        while kept.files.len() >= MAX_FILES || kept.bytes() + wanted > MAX_KEPT_BYTES {
            let oldest = kept
                .files
                .iter()
                .min_by_key(|(_, e)| e.read)
                .map(|(k, _)| *k);
            kept.files.remove(&oldest?);
        }
        kept.files.insert(
            id,
            Entry {
                map: map.clone(),
                read: now,
            },
        );
        if kept.sweeper.as_ref().is_none_or(|s| s.is_finished()) {
            kept.sweeper = tokio::runtime::Handle::try_current()
                .ok()
                .map(|runtime| runtime.spawn(sweep(Arc::downgrade(self), self.keep)));
        }
        Some(map)
    }

    /// How many files are mapped now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().unwrap().files.len()
    }
}

/// Drops the mappings unread for `keep`, until none is left or the store is gone.
async fn sweep(maps: std::sync::Weak<Maps>, keep: Duration) {
    loop {
        tokio::time::sleep(keep).await;
        let Some(maps) = maps.upgrade() else { return };
        let mut kept = maps.inner.lock().unwrap_or_else(|e| e.into_inner());
        kept.files.retain(|_, e| e.read.elapsed() < keep);
        if kept.files.is_empty() {
            // Under the lock, so that the next mapping made starts a sweeper of its own.
            kept.sweeper = None;
            return;
        }
    }
}

/// A read-only mapping of `len` bytes of `file` from `start` (not empty).
fn map(file: &File, start: u64, len: usize) -> Option<memmap2::Mmap> {
    if len == 0 {
        return None;
    }
    // SAFETY: the caller read the file's size from this descriptor and maps within it,
    // and blob files are neither written nor truncated once in place (`cached_read`'s
    // module comment), so the mapped bytes cannot change or vanish while mapped.
    unsafe { memmap2::MmapOptions::new().offset(start).len(len).map(file) }.ok()
}

/// Whether every page under `map[start..end]` is in the page cache (`mincore`), so that
/// sending it from an async worker does not wait for the disk. A page evicted between
/// this check and the send is read in by the send's page fault, on the worker: rare, as
/// the pages were just found cached and the kernel evicts the least recently used first.
fn resident(map: &memmap2::Mmap, start: usize, end: usize) -> bool {
    if start >= end {
        return true;
    }
    let page = rustix::param::page_size();
    let first = map.as_ptr() as usize + start;
    // A mapping starts on a page boundary, at or below its first byte.
    let base = first & !(page - 1);
    let span = first + (end - start) - base;
    let mut pages = vec![0u8; span.div_ceil(page)];
    // SAFETY: `base..base + span` lies within the mapping's own pages, and `pages` holds
    // one byte per page of it, as mincore(2) requires.
    let checked = unsafe { libc::mincore(base as *mut libc::c_void, span, pages.as_mut_ptr()) };
    checked == 0 && pages.iter().all(|p| p & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached_file(len: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
        let bytes: Vec<u8> = (0..=250u8).cycle().take(len).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, &bytes).unwrap();
        std::fs::read(&path).unwrap();
        (dir, path, bytes)
    }

    fn read(maps: &Arc<Maps>, path: &std::path::Path, start: u64, len: usize) -> Option<Bytes> {
        read_as(maps, path, start, len, Keep::Kept)
    }

    fn read_as(
        maps: &Arc<Maps>,
        path: &std::path::Path,
        start: u64,
        len: usize,
        keep: Keep,
    ) -> Option<Bytes> {
        let file = File::open(path).unwrap();
        let meta = file.metadata().unwrap();
        maps.cached(&file, &meta, start, len, keep)
    }

    #[tokio::test]
    async fn a_streamed_chunk_leaves_no_mapping_but_uses_a_kept_one() {
        let (_dir, path, bytes) = cached_file(300_000);
        let maps = Arc::new(Maps::default());
        assert_eq!(
            read_as(&maps, &path, 0, 100_000, Keep::Once).unwrap(),
            &bytes[..100_000]
        );
        assert_eq!(maps.len(), 0, "a stream's chunk is unmapped once sent");
        read(&maps, &path, 100_000, 100_000).unwrap();
        let kept = maps
            .inner
            .lock()
            .unwrap()
            .files
            .values()
            .next()
            .unwrap()
            .map
            .clone();
        let chunk = read_as(&maps, &path, 200_000, 100_000, Keep::Once).unwrap();
        assert_eq!(chunk, &bytes[200_000..]);
        assert!(
            std::ptr::eq(chunk.as_ptr(), kept[200_000..].as_ptr()),
            "the chunk is a slice of the kept mapping"
        );
        assert_eq!(maps.len(), 1);
    }

    #[tokio::test]
    async fn reads_of_one_file_share_one_mapping() {
        let (_dir, path, bytes) = cached_file(300_000);
        let maps = Arc::new(Maps::default());
        assert_eq!(
            read(&maps, &path, 5_001, 100_000).unwrap(),
            &bytes[5_001..105_001]
        );
        assert_eq!(
            read(&maps, &path, 200_000, 100_000).unwrap(),
            &bytes[200_000..]
        );
        assert_eq!(maps.len(), 1);
    }

    #[tokio::test]
    async fn a_file_stored_again_under_its_path_is_mapped_anew() {
        let (_dir, path, bytes) = cached_file(200_000);
        let maps = Arc::new(Maps::default());
        let old = read(&maps, &path, 0, 100_000).unwrap();
        std::fs::remove_file(&path).unwrap();
        let other: Vec<u8> = bytes.iter().map(|b| b ^ 0xff).collect();
        std::fs::write(&path, &other).unwrap();
        std::fs::read(&path).unwrap();
        assert_eq!(read(&maps, &path, 0, 100_000).unwrap(), &other[..100_000]);
        assert_eq!(
            old,
            &bytes[..100_000],
            "a response still holding the old bytes keeps them"
        );
    }

    #[tokio::test]
    async fn an_unread_mapping_is_dropped() {
        let (_dir, path, _) = cached_file(100_000);
        let keep = Duration::from_millis(50);
        let maps = Arc::new(Maps {
            keep,
            ..Maps::default()
        });
        read(&maps, &path, 0, 100_000).unwrap();
        assert_eq!(maps.len(), 1);
        tokio::time::sleep(keep * 4).await;
        assert_eq!(maps.len(), 0);
    }

    #[tokio::test]
    async fn the_least_recently_read_file_is_unmapped_first() {
        let dir = tempfile::tempdir().unwrap();
        let maps = Arc::new(Maps::default());
        let paths: Vec<_> = (0..=MAX_FILES)
            .map(|i| {
                let path = dir.path().join(i.to_string());
                std::fs::write(&path, vec![i as u8; 70_000]).unwrap();
                std::fs::read(&path).unwrap();
                path
            })
            .collect();
        for path in &paths[..MAX_FILES] {
            read(&maps, path, 0, 70_000).unwrap();
        }
        read(&maps, &paths[0], 0, 70_000).unwrap();
        read(&maps, &paths[MAX_FILES], 0, 70_000).unwrap();
        assert_eq!(maps.len(), MAX_FILES);
        let kept = maps.inner.lock().unwrap();
        let mapped = |i: usize| {
            let meta = std::fs::metadata(&paths[i]).unwrap();
            kept.files.contains_key(&(meta.dev(), meta.ino()))
        };
        assert!(mapped(0) && mapped(MAX_FILES) && !mapped(1));
    }

    #[tokio::test]
    async fn a_read_past_the_end_is_refused() {
        let (_dir, path, _) = cached_file(100_000);
        let maps = Arc::new(Maps::default());
        assert!(read(&maps, &path, 50_000, 50_001).is_none());
    }
}
