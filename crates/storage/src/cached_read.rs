//! Reading blobs on the async worker without waiting for the disk.
//!
//! A player asks for ranges of at most a megabyte, mostly of recordings that were just
//! played, so the bytes are usually in the kernel's page cache. Sending each range to the
//! blocking pool cost two thread hand-offs per request (docs/benchmarks.md). Here the
//! path is opened with `RESOLVE_CACHED` (only if every component is in the dentry cache)
//! and the bytes are taken only if every page is in the page cache, so nothing here can
//! wait for the disk; anything else (a cold file, an older kernel, any error) answers
//! `None` and the caller takes the blocking path, which also reports errors properly.
//!
//! A read of 64 KiB or more is answered from a mapping of the file's pages ([`Maps`])
//! rather than copied: the response then goes from the page cache to the socket in one
//! copy, where a buffer cost a copy into it, its zeroing and its allocation. A blob file
//! is never written after it is renamed into place, nor truncated (a delete unlinks it,
//! and a mapping keeps the unlinked file), so a mapping of bytes within its size stays
//! valid for as long as a response holds it.

use std::fs::File;
use std::io::IoSliceMut;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
use rustix::io::ReadWriteFlags;

use crate::mapped::{Keep, Maps};

/// Below this, copying the bytes costs less than mapping them: a mapping is three system
/// calls (map, residency check, unmap) and a page fault per 64 KiB.
const MAP_FROM: usize = 64 * 1024;

/// The bytes of `range` (the whole file when `None`) if the file is at most `max` bytes
/// long there and all of it is cached; `None` otherwise.
pub(crate) fn read_cached(
    maps: &Arc<Maps>,
    path: &Path,
    range: Option<&Range<u64>>,
    max: usize,
) -> Option<Bytes> {
    let fd = rustix::fs::openat2(
        CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::CACHED,
    )
    .ok()?;
    let file = File::from(fd);
    let meta = file.metadata().ok()?;
    let (start, end) = match range {
        Some(r) if r.start <= r.end && r.end <= meta.len() => (r.start, r.end),
        Some(_) => return None,
        None => (0, meta.len()),
    };
    let len = usize::try_from(end - start).ok().filter(|l| *l <= max)?;
    // A range keeps its file mapped for the player's next one; a whole file is read once.
    let keep = if range.is_some() {
        Keep::Kept
    } else {
        Keep::Once
    };
    cached_bytes(maps, &file, &meta, start, len, keep)
}

/// `len` bytes of `file` from `start`, if they lie within the file and every one of them
/// is in the page cache: from a mapping when there are many, copied otherwise.
fn cached_bytes(
    maps: &Arc<Maps>,
    file: &File,
    meta: &std::fs::Metadata,
    start: u64,
    len: usize,
    keep: Keep,
) -> Option<Bytes> {
    if len == 0 {
        return Some(Bytes::new());
    }
    if len >= MAP_FROM {
        return maps.cached(file, meta, start, len, keep);
    }
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = rustix::io::preadv2(
            file,
            &mut [IoSliceMut::new(&mut buf[done..])],
            start + done as u64,
            ReadWriteFlags::NOWAIT,
        )
        .ok()?;
        if n == 0 {
            return None;
        }
        done += n;
    }
    Some(Bytes::from(buf))
}

/// `len` bytes of `file` from `start`, in chunks of at most `chunk`: each taken on the
/// worker when its bytes are cached, read on the blocking pool otherwise. A cached chunk
/// is a slice of the file's mapping (see the module comment); a read one goes straight
/// into the buffer that goes to the socket, where tokio's file reads hop to the pool for
/// every chunk and copy it once more on the way. A file shorter than the read is left to
/// the blocking read, which reports it.
pub(crate) fn chunks(
    maps: Arc<Maps>,
    file: File,
    start: u64,
    len: u64,
    chunk: usize,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let meta = file.metadata().ok();
    let state = (Arc::new(file), start, start.saturating_add(len));
    futures::stream::try_unfold(state, move |(file, at, end)| {
        let (maps, meta) = (maps.clone(), meta.clone());
        async move {
            if at >= end {
                return Ok(None);
            }
            let want = usize::try_from(end - at).map_or(chunk, |left| left.min(chunk));
            let cached =
                meta.and_then(|meta| cached_bytes(&maps, &file, &meta, at, want, Keep::Once));
            let bytes = match cached {
                Some(bytes) => bytes,
                None => {
                    let f = file.clone();
                    tokio::task::spawn_blocking(move || -> std::io::Result<Bytes> {
                        use std::os::unix::fs::FileExt;
                        let mut buf = vec![0u8; want];
                        let n = f.read_at(&mut buf, at)?;
                        buf.truncate(n);
                        Ok(Bytes::from(buf))
                    })
                    .await
                    .map_err(std::io::Error::other)??
                }
            };
            if bytes.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the blob ended before its length",
                ));
            }
            let next = at + bytes.len() as u64;
            Ok(Some((bytes, (file, next, end))))
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Arc<Maps> {
        Arc::new(Maps::default())
    }

    fn file_of(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, bytes).unwrap();
        // Read once, so that the page cache holds it whatever the file system does.
        std::fs::read(&path).unwrap();
        (dir, path)
    }

    #[test]
    fn a_cached_range_is_read_exactly() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let (_dir, path) = file_of(&bytes);
        assert_eq!(
            read_cached(&maps(), &path, Some(&(100..5000)), 1 << 20).unwrap(),
            &bytes[100..5000]
        );
        assert_eq!(read_cached(&maps(), &path, None, 1 << 20).unwrap(), bytes);
        assert_eq!(
            read_cached(&maps(), &path, Some(&(10_000..10_000)), 1 << 20).unwrap(),
            &b""[..]
        );
    }

    #[test]
    fn a_large_cached_range_is_mapped_from_an_unaligned_offset() {
        let bytes: Vec<u8> = (0..=250u8).cycle().take(300_000).collect();
        let (_dir, path) = file_of(&bytes);
        assert_eq!(
            read_cached(&maps(), &path, Some(&(5_001..205_001)), 1 << 20).unwrap(),
            &bytes[5_001..205_001]
        );
        assert_eq!(
            read_cached(&maps(), &path, Some(&(4_096..300_000)), 1 << 20).unwrap(),
            &bytes[4_096..]
        );
    }

    #[test]
    fn a_mapping_outlives_the_deleted_file() {
        let bytes: Vec<u8> = (0..=250u8).cycle().take(200_000).collect();
        let (_dir, path) = file_of(&bytes);
        let read = read_cached(&maps(), &path, None, 1 << 20).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read, bytes);
    }

    /// The chunks of `len` bytes of a cached file of `bytes` from `start`, and the maps
    /// they were read through.
    async fn streamed(bytes: &[u8], start: u64, len: u64, chunk: usize) -> (Vec<Bytes>, Arc<Maps>) {
        let (_dir, path) = file_of(bytes);
        let maps = maps();
        let parts = chunks(maps.clone(), File::open(&path).unwrap(), start, len, chunk)
            .map(|c| c.unwrap())
            .collect()
            .await;
        (parts, maps)
    }

    #[tokio::test]
    async fn a_file_streams_in_mapped_chunks_from_its_offset() {
        let bytes: Vec<u8> = (0..=250u8).cycle().take(300_000).collect();
        let (parts, maps) = streamed(&bytes, 1, 299_999, 100_000).await;
        assert_eq!(
            parts.iter().map(Bytes::len).collect::<Vec<_>>(),
            [100_000, 100_000, 99_999]
        );
        assert_eq!(parts.concat(), &bytes[1..]);
        assert_eq!(maps.len(), 0, "a stream leaves its file unmapped once sent");
    }

    #[tokio::test]
    async fn a_file_streams_in_chunks_from_its_offset() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let (parts, _) = streamed(&bytes, 100, 9_000, 4096).await;
        assert_eq!(
            parts.iter().map(Bytes::len).collect::<Vec<_>>(),
            [4096, 4096, 808]
        );
        assert_eq!(parts.concat(), &bytes[100..9_100]);
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_length_ends_in_an_error() {
        let (_dir, path) = file_of(&[1u8; 100]);
        let file = std::fs::File::open(&path).unwrap();
        let parts: Vec<_> = chunks(maps(), file, 0, 200, 64).collect().await;
        assert!(parts[..2].iter().all(Result::is_ok));
        assert_eq!(
            parts.last().unwrap().as_ref().unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_mapped_length_ends_in_an_error() {
        let (_dir, path) = file_of(&[1u8; 150_000]);
        let file = File::open(&path).unwrap();
        let parts: Vec<_> = chunks(maps(), file, 0, 300_000, 100_000).collect().await;
        assert_eq!(parts[0].as_ref().unwrap().len(), 100_000);
        assert_eq!(parts[1].as_ref().unwrap().len(), 50_000);
        assert_eq!(
            parts.last().unwrap().as_ref().unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn what_it_cannot_answer_goes_to_the_blocking_path() {
        let (dir, path) = file_of(&[7u8; 4096]);
        assert!(
            read_cached(&maps(), &path, Some(&(0..4097)), 1 << 20).is_none(),
            "past the end"
        );
        assert!(
            read_cached(&maps(), &path, Some(&Range { start: 10, end: 5 }), 1 << 20).is_none(),
            "reversed"
        );
        assert!(
            read_cached(&maps(), &path, None, 4095).is_none(),
            "longer than the caller takes"
        );
        assert!(read_cached(&maps(), &dir.path().join("missing"), None, 1 << 20).is_none());
    }
}
