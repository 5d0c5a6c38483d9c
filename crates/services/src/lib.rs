//! Use cases over the stores. The HTTP dialects and the CLI call these; nothing here knows
//! about a wire format.

pub mod audio;
pub mod auth;
pub mod cleanup;
pub mod content;
pub mod cursor;
pub mod demo;
pub mod error;
pub mod folder_ingest;
pub mod ingest;
pub mod jobs;
pub mod vault;

pub use error::ServiceError;
pub use vault::{Vault, VaultConfig};
