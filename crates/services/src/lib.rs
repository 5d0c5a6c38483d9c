//! Use cases over the stores. The HTTP dialects and the CLI call these; nothing here knows
//! about a wire format.

pub mod access;
pub mod audio;
pub mod audit;
pub mod audit_sink;
pub mod auth;
mod background;
pub mod cleanup;
pub mod clock;
pub mod console;
pub mod content;
pub mod cursor;
pub mod demo;
pub mod egress;
pub mod erasure;
pub mod error;
pub mod export;
pub mod folder_ingest;
pub mod governance;
pub mod ingest;
pub mod jobs;
pub mod paging;
mod pcm;
pub mod peaks;
pub mod reads;
mod remote;
pub mod seal;
pub mod signin;
pub mod tenants;
pub mod transcription;
pub mod vault;
pub mod webhooks;

pub use error::ServiceError;
pub use vault::{Stores, Vault, VaultConfig};
