//! Reading a blob's range without waiting for the disk, on the async worker.
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
