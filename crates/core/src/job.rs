//! Background jobs: exports now, other kinds later. One model and one table for all, so
//! every kind gets the same leasing, retry and expiry.

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub tenant_id: TenantId,
    /// What the job does, e.g. `recordings` or `recordings_transcriptions`.
    pub kind: String,
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
