//! The blob store: where content bytes live, addressed by keys the services derive from
//! the bytes' SHA-256 (never from request input).

use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::StoreResult;

/// Checks a blob key before any store turns it into a path: only the shapes the services
/// derive (slash-separated segments of ASCII letters, digits, `-`, `_` and `.`, none
/// starting with `.`), so that a bad key can never address anything outside the blob area.
pub(crate) fn check_key(key: &str) -> StoreResult<()> {
    if callvault_core::ids::is_portable_relative_path(key) {
        Ok(())
    } else {
        Err(crate::error::StoreError::backend(format!(
            "invalid blob key {key:?}"
        )))
    }
}

/// A byte stream read from the store, with the length it will yield.
pub struct BlobRead {
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
    pub len: u64,
}

/// A blob listed by the orphan sweeper.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    pub key: String,
    pub modified: SystemTime,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts an upload in a staging area; nothing is visible under a key until
    /// [`BlobUpload::commit`].
    async fn stage(&self) -> StoreResult<Box<dyn BlobUpload>>;

    /// Opens a blob, whole or a byte range of it (`range` already checked against the
    /// length by the caller).
    async fn open(&self, key: &str, range: Option<Range<u64>>) -> StoreResult<BlobRead>;

    async fn exists(&self, key: &str) -> StoreResult<bool>;

    /// Removes a blob durably; removing a missing blob is not an error.
    async fn delete(&self, key: &str) -> StoreResult<()>;

    /// Every committed blob, for the orphan sweeper.
    async fn list(&self) -> StoreResult<Vec<BlobInfo>>;

    /// Removes staging leftovers of uploads that died before committing.
    async fn clean_staging(&self, older_than: SystemTime) -> StoreResult<usize>;
    /// Whether the store answers now, for readiness checks: one cheap request, with no
    /// effect on the stored blobs.
    async fn ping(&self) -> StoreResult<()>;

    /// Whether uploads are refused for lack of space now (readiness reports it). Object
    /// stores have no such limit.
    fn low_on_space(&self) -> bool {
        false
    }
}

#[async_trait]
pub trait BlobUpload: Send {
    async fn write(&mut self, chunk: &[u8]) -> StoreResult<()>;

    /// Makes the staged bytes durable under `key`. If the key already holds a blob (the
    /// same bytes, since keys are content addresses), the staged copy is discarded.
    async fn commit(self: Box<Self>, key: &str) -> StoreResult<()>;

    async fn abort(self: Box<Self>);
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn only_the_key_shapes_the_services_derive_pass() {
        assert!(check_key("t1/ab/ab12cd-34_ef.wav").is_ok());
        for bad in [
            "",
            "..",
            "t1/../x",
            "/t1/x",
            "t1//x",
            "t1/./x",
            "t1/.hidden",
            "t1/a b",
            "t1/é",
            "t1\\x",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} passed");
        }
        assert!(check_key(&"a".repeat(512)).is_ok());
        assert!(check_key(&"a".repeat(513)).is_err());
    }
}
