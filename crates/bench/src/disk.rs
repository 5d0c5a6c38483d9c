//! The block device under a directory, and how many writes and cache flushes it has
//! completed (`/sys/dev/block/MAJ:MIN/stat`). A flush is what an fsync costs on a disk
//! with a volatile write cache, and it is the one cost a durable store cannot hide in
//! its own CPU time. Counting flushes per recording beside the floor's flushes per file
//! tells what durability costs apart from how fast this machine's disk was in a run, which
//! on a VM moves by a factor of two from one run to the next.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Completed writes and flushes, as the kernel counts them for one device.
#[derive(Debug, Clone, Copy, Default)]
pub struct Io {
    pub writes: u64,
    pub flushes: u64,
}

impl Io {
    pub fn since(self, before: Io) -> Io {
        Io {
            writes: self.writes.saturating_sub(before.writes),
            flushes: self.flushes.saturating_sub(before.flushes),
        }
    }

    /// Writes and flushes per operation.
    pub fn per(self, ops: usize) -> (f64, f64) {
        let n = ops.max(1) as f64;
        (self.writes as f64 / n, self.flushes as f64 / n)
    }

    pub fn json(self, ops: usize) -> Value {
        let (writes, flushes) = self.per(ops);
        json!({ "writesPerOp": writes, "flushesPerOp": flushes })
    }
}

/// The statistics file of the device holding a directory.
#[derive(Debug, Clone)]
pub struct Device {
    stat: PathBuf,
}

impl Device {
    /// The device under `dir`, if the kernel reports its flushes (Linux 5.5 and later;
    /// not for a file system without a block device, such as tmpfs or overlayfs).
    pub fn of(dir: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(dir).ok()?.dev();
        let stat = PathBuf::from(format!(
            "/sys/dev/block/{}:{}/stat",
            rustix::fs::major(dev),
            rustix::fs::minor(dev)
        ));
        let device = Self { stat };
        device.read().map(|_| device)
    }

    /// The counters now: fields 5 (writes completed) and 16 (flushes completed).
    pub fn read(&self) -> Option<Io> {
        let text = std::fs::read_to_string(&self.stat).ok()?;
        let fields: Vec<u64> = text
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        Some(Io {
            writes: *fields.get(4)?,
            flushes: *fields.get(15)?,
        })
    }
}
