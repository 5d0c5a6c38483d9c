//! Reading blobs on the async worker without waiting for the disk.
//!
//! A player asks for ranges of at most a megabyte, mostly of recordings that were just
//! played, so the bytes are usually in the kernel's page cache. Sending each range to the
//! blocking pool cost two thread hand-offs per request (docs/benchmarks.md). Here the
//! path is opened with `RESOLVE_CACHED` (only if every component is in the dentry cache)
//! and read with `RWF_NOWAIT` (only what is in the page cache), so neither call can wait
//! for the disk; anything else (a cold file, an older kernel, any error) answers `None`
//! and the caller takes the blocking path, which also reports errors properly.

use std::io::IoSliceMut;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
use rustix::io::ReadWriteFlags;

/// The bytes of `range` (the whole file when `None`) if the file is at most `max` bytes
/// long there and all of it is cached; `None` otherwise.
pub(crate) fn read_cached(path: &Path, range: Option<&Range<u64>>, max: usize) -> Option<Vec<u8>> {
    let fd = rustix::fs::openat2(
        CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::CACHED,
    )
    .ok()?;
    let size = rustix::fs::fstat(&fd).ok()?.st_size as u64;
    let (start, end) = match range {
        Some(r) if r.start <= r.end && r.end <= size => (r.start, r.end),
        Some(_) => return None,
        None => (0, size),
    };
    let len = usize::try_from(end - start).ok().filter(|l| *l <= max)?;
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = rustix::io::preadv2(
            &fd,
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
    Some(buf)
}

/// `len` bytes of `file` from `start`, in chunks of at most `chunk`: each read here on
/// the worker when its bytes are cached (`RWF_NOWAIT`), on the blocking pool otherwise.
/// Each chunk is read straight into the buffer that goes to the socket: tokio's file
/// reads hop to the pool for every chunk and copy it once more on the way.
pub(crate) fn chunks(
    file: std::fs::File,
    start: u64,
    len: u64,
    chunk: usize,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let state = (Arc::new(file), start, start.saturating_add(len));
    futures::stream::try_unfold(state, move |(file, at, end)| async move {
        if at >= end {
            return Ok(None);
        }
        let want = usize::try_from(end - at).map_or(chunk, |left| left.min(chunk));
        let mut buf = vec![0u8; want];
        let cached = rustix::io::preadv2(
            &*file,
            &mut [IoSliceMut::new(&mut buf)],
            at,
            ReadWriteFlags::NOWAIT,
        );
        let buf = match cached {
            Ok(n) if n > 0 => {
                buf.truncate(n);
                buf
            }
            _ => {
                let f = file.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                    use std::os::unix::fs::FileExt;
                    let n = f.read_at(&mut buf, at)?;
                    buf.truncate(n);
                    Ok(buf)
                })
                .await
                .map_err(std::io::Error::other)??
            }
        };
        if buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the blob ended before its length",
            ));
        }
        let next = at + buf.len() as u64;
        Ok(Some((Bytes::from(buf), (file, next, end))))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            read_cached(&path, Some(&(100..5000)), 1 << 20).unwrap(),
            &bytes[100..5000]
        );
        assert_eq!(read_cached(&path, None, 1 << 20).unwrap(), bytes);
        assert_eq!(
            read_cached(&path, Some(&(10_000..10_000)), 1 << 20).unwrap(),
            b""
        );
    }

    #[tokio::test]
    async fn a_file_streams_in_chunks_from_its_offset() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let (_dir, path) = file_of(&bytes);
        let file = std::fs::File::open(&path).unwrap();
        let parts: Vec<Bytes> = chunks(file, 100, 9_000, 4096)
            .map(|c| c.unwrap())
            .collect()
            .await;
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
        let parts: Vec<_> = chunks(file, 0, 200, 64).collect().await;
        assert!(parts[..2].iter().all(Result::is_ok));
        assert_eq!(
            parts.last().unwrap().as_ref().unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn what_it_cannot_answer_goes_to_the_blocking_path() {
        let (dir, path) = file_of(&[7u8; 4096]);
        assert!(
            read_cached(&path, Some(&(0..4097)), 1 << 20).is_none(),
            "past the end"
        );
        assert!(
            read_cached(&path, Some(&Range { start: 10, end: 5 }), 1 << 20).is_none(),
            "reversed"
        );
        assert!(
            read_cached(&path, None, 4095).is_none(),
            "longer than the caller takes"
        );
        assert!(read_cached(&dir.path().join("missing"), None, 1 << 20).is_none());
    }
}
