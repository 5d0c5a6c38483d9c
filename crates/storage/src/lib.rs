//! Storage for callvault: a metadata store and a blob store behind traits, so that the
//! services and HTTP dialects never know whether they run on the embedded default
//! (SQLite + local files) or on the scale-out backends (PostgreSQL + S3).
//!
//! The metadata store is written once ([`SqlStore`]) over a small execution layer
//! ([`sql`]) with one backend per database.

pub mod audit;
pub mod blob;
#[cfg(target_os = "linux")]
mod cached_read;
pub mod error;
pub mod export;
pub mod governance;
pub mod lease;
pub mod local_blob;
pub mod locks;
#[cfg(target_os = "linux")]
mod mapped;
pub mod meta;
pub mod migrate;
pub mod object_blob;
pub mod sql;
mod store;
pub mod transcription;
pub mod webhook;

pub use audit::{AuditFilter, AuditStore};
pub use blob::{BlobRead, BlobStore, BlobUpload};
pub use error::StoreError;
pub use export::ExportStore;
pub use governance::GovernanceStore;
pub use lease::LeaseStore;
pub use local_blob::LocalBlobStore;
pub use meta::{
    ClientStore, ContentStore, InteractionStore, JobStore, SearchStore, Store, TenantStore,
    UserStore,
};
pub use object_blob::{ObjectBlobStore, S3Settings};
pub use store::SqlStore;
pub use transcription::{Derived, TranscriptionStore};
pub use webhook::WebhookStore;

/// Every store trait, for callers that hold a concrete [`SqlStore`] (the store's own tests,
/// `migrate`): a trait's methods on a concrete type need the trait in scope, while a
/// `dyn Store` reaches all of them without an import.
pub mod prelude {
    pub use crate::audit::AuditStore;
    pub use crate::export::ExportStore;
    pub use crate::governance::GovernanceStore;
    pub use crate::lease::LeaseStore;
    pub use crate::meta::{
        ClientStore, ContentStore, InteractionStore, JobStore, SearchStore, Store, TenantStore,
        UserStore,
    };
    pub use crate::transcription::TranscriptionStore;
    pub use crate::webhook::WebhookStore;
}
