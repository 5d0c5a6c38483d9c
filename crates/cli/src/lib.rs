//! The callvault binary's library half: configuration, the server lifecycle and the admin
//! commands, importable by the integration tests so they run the real server.

pub mod admin;
pub mod audit_cmd;
pub mod config;
pub mod demo;
pub mod governance_cmd;
pub mod ingest_cmd;
pub mod keys;
pub mod migrate_cmd;
pub mod server;
pub mod transcribe_cmd;
pub mod webhook_cmd;
