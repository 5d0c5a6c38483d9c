//! Bulk-export jobs of the Call Recording API (the `jobs` table). Jobs of the Export API
//! live in their own table (`crate::export`); both share the leasing, retry and expiry
//! rules of their runners.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a runner.
    Pending,
    /// A runner holds the lease and is working on it.
    InProgress,
    /// Done; its artefacts can be fetched until `valid_until`.
    Complete,
    /// Gave up after repeated errors; `error` says why.
    Failed,
    /// Past `valid_until`; the artefacts are gone.
    Expired,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::InProgress,
        JobStatus::Complete,
        JobStatus::Failed,
        JobStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::InProgress => "in_progress",
            JobStatus::Complete => "complete",
            JobStatus::Failed => "failed",
            JobStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL
            .into_iter()
            .find(|j| j.as_str().eq_ignore_ascii_case(s))
    }
}

/// What a bulk-export job produces; stored by its `as_str` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Recordings with their metadata.
    Recordings,
    /// Recordings with their metadata and transcripts.
    RecordingsWithTranscriptions,
}

impl JobKind {
    pub const ALL: [JobKind; 2] = [JobKind::Recordings, JobKind::RecordingsWithTranscriptions];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Recordings => "recordings",
            JobKind::RecordingsWithTranscriptions => "recordings_transcriptions",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub tenant_id: TenantId,
    pub kind: JobKind,
    /// Who created it (a user id, or `client:{id}`); listings are per creator.
    pub owner: String,
    /// Kind-specific parameters as JSON (for exports: the `InteractionQuery`).
    pub params: String,
    pub status: JobStatus,
    pub files_total: u64,
    pub files_completed: u64,
    pub error: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}
