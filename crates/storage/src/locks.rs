//! Serialises work on one blob key between ingest (which may re-create a blob) and
//! deletion (which removes a blob once nothing references it), so a deletion can never
//! remove bytes that a concurrent ingest has just committed a reference to.
//!
//! The embedded backend is one machine but may be several processes (the server, and
//! `callvault ingest` or `callvault sweep` beside it), so each stripe is an in-process
//! mutex plus an OS file lock on `locks/stripe-N` in the data directory. The PostgreSQL
//! backend spans machines: there a stripe is the in-process mutex plus a PostgreSQL
//! advisory lock (see `sql::pg_lock`).

use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::sql::pg_lock::AdvisoryLock;

pub struct StripedLocks {
    stripes: Vec<Arc<Mutex<()>>>,
    dir: Option<PathBuf>,
}

/// Held while working on a key; dropping it releases every lock it holds.
pub struct KeyGuard {
    _held: Held,
}

enum Held {
    /// The in-process stripe and, when it could be taken, the lock file shared with the
    /// other processes of this machine.
    Local {
        _file: Option<File>,
        _stripe: OwnedMutexGuard<()>,
    },
    /// A PostgreSQL advisory lock; it owns the in-process stripe so that it can let local
    /// waiters in only once the lock is released on the server.
    Advisory { _lock: AdvisoryLock },
}

impl KeyGuard {
    /// Only the in-process stripe: the fallback when no cross-process lock can be taken.
    pub(crate) fn local(stripe: OwnedMutexGuard<()>) -> Self {
        KeyGuard {
            _held: Held::Local {
                _file: None,
                _stripe: stripe,
            },
        }
    }

    pub(crate) fn advisory(lock: AdvisoryLock) -> Self {
        KeyGuard {
            _held: Held::Advisory { _lock: lock },
        }
    }
}

impl StripedLocks {
    /// `dir` holds the lock files shared with other processes; `None` for in-process only.
    pub fn new(n: usize, dir: Option<PathBuf>) -> Self {
        Self {
            stripes: (0..n.max(1)).map(|_| Arc::new(Mutex::new(()))).collect(),
            dir,
        }
    }

    /// The stripe's index; `DefaultHasher::new()` has fixed keys, so within one build
    /// every process maps a key to the same stripe (and so to the same lock file).
    fn index(&self, key: &str) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % self.stripes.len() as u64) as usize
    }

    /// Only the in-process mutex of the key's stripe, for a caller that adds its own
    /// cross-process lock.
    pub(crate) async fn lock_stripe(&self, key: &str) -> OwnedMutexGuard<()> {
        self.stripes[self.index(key)].clone().lock_owned().await
    }

    pub async fn lock(&self, key: &str) -> KeyGuard {
        let i = self.index(key);
        let local = self.stripes[i].clone().lock_owned().await;
        let file = match &self.dir {
            Some(dir) => {
                let path = dir.join(format!("stripe-{i}"));
                let locked = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
                    let f = File::options()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)?;
                    f.lock()?;
                    Ok(f)
                })
                .await;
                match locked {
                    Ok(Ok(f)) => Some(f),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "cannot take the cross-process blob lock; continuing with the in-process lock only");
                        None
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "blob lock task failed");
                        None
                    }
                }
            }
            None => None,
        };
        KeyGuard {
            _held: Held::Local {
                _file: file,
                _stripe: local,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn stripes_exclude_another_holder_of_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let server = StripedLocks::new(4, Some(dir.path().to_path_buf()));
        let cli = StripedLocks::new(4, Some(dir.path().to_path_buf()));
        let held = server.lock("t1/ab/abc").await;
        let waiting = tokio::time::timeout(Duration::from_millis(300), cli.lock("t1/ab/abc")).await;
        assert!(
            waiting.is_err(),
            "a second holder must wait while the first holds the key"
        );
        drop(held);
        let got = tokio::time::timeout(Duration::from_secs(5), cli.lock("t1/ab/abc")).await;
        assert!(got.is_ok(), "and gets it once released");
    }
}
