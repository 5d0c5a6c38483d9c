//! Serialises work on one blob key between ingest (which may re-create a blob) and
//! deletion (which removes a blob once nothing references it), so a deletion can never
//! remove bytes that a concurrent ingest has just committed a reference to.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// Striped in-process locks. Enough for the embedded backend, which is single-node by
/// construction; a distributed backend provides its own (advisory) locks.
pub struct StripedLocks {
    stripes: Vec<Arc<Mutex<()>>>,
}

pub type KeyGuard = OwnedMutexGuard<()>;

impl StripedLocks {
    pub fn new(n: usize) -> Self {
        Self {
            stripes: (0..n.max(1)).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }

    pub async fn lock(&self, key: &str) -> KeyGuard {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let i = (h.finish() % self.stripes.len() as u64) as usize;
        self.stripes[i].clone().lock_owned().await
    }
}
