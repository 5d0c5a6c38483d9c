//! The API suite: one test binary, a module per dialect and a file per endpoint group.
//! Every test starts the real server on an ephemeral port and talks HTTP to it; with
//! `CALLVAULT_TEST_BACKEND=scaleout` every server runs on PostgreSQL + S3 instead of
//! SQLite + files (see `common`).

mod audit;
mod auth;
mod call_recording;
mod cluster;
mod common;
mod console;
mod erasure;
mod export;
mod faults;
mod governance;
mod governance_cli;
mod interaction_content;
mod ops;
mod process;
mod recordings_files;
mod transcripts;
mod webhook_answers;
mod webhooks;
