//! Storage for callvault: a metadata store and a blob store behind traits, so that the
//! services and HTTP dialects never know whether they run on the embedded default
//! (SQLite + local files) or on the scale-out backends.

pub mod blob;
mod decode;
pub mod error;
pub mod export;
pub mod lease;
pub mod local_blob;
pub mod locks;
pub mod meta;
pub mod migrate;
pub mod object_blob;
pub mod postgres;
pub mod sqlite;

pub use blob::{BlobRead, BlobStore, BlobUpload};
pub use error::StoreError;
pub use export::ExportStore;
pub use lease::LeaseStore;
pub use local_blob::LocalBlobStore;
pub use meta::MetadataStore;
pub use object_blob::{ObjectBlobStore, S3Settings};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
