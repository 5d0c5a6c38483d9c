//! Exports of interaction content to storage the customer owns (the Interaction Content
//! Export API): external storage targets, export jobs and their state machine, and the
//! stable key scheme of what lands in the target.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ContentType, Direction, Invalid, TenantId};

/// Only content stored longer ago than this is exported: later content may still be
/// joined by transcripts and summaries.
pub const EXPORT_AGE: Duration = Duration::hours(12);
/// How often a recurring job runs.
pub const RECURRING_EVERY: Duration = Duration::hours(1);

/// The content types the seed lists for export filters (not `videoRecording`, which an
/// empty list still exports).
pub const EXPORT_CONTENT_TYPES: [ContentType; 11] = [
    ContentType::CallRecording,
    ContentType::ScreenRecording,
    ContentType::Voicemail,
    ContentType::Transcript,
    ContentType::ChatTranscript,
    ContentType::CategorizationResult,
    ContentType::Attachment,
    ContentType::IvrAudioRecording,
    ContentType::ConversationSummary,
    ContentType::SentimentSummary,
    ContentType::InteractionLog,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExportKind {
    Recurring,
    Batch,
}

impl ExportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Recurring => "recurring",
            ExportKind::Batch => "batch",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ExportKind::Recurring, ExportKind::Batch]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExportStatus {
    /// Waiting for its next run (`next_run`).
    Scheduled,
    /// A runner holds the lease and is transferring content.
    Running,
    Paused,
    Cancelled,
    /// Gave up after repeated failures; `error` says why. Restart resumes where it was.
    Failed,
    /// A batch export that transferred everything.
    Completed,
}

/// A state change a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportAction {
    Cancel,
    Pause,
    Restart,
}

impl ExportAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportAction::Cancel => "cancel",
            ExportAction::Pause => "pause",
            ExportAction::Restart => "restart",
        }
    }
}

impl ExportStatus {
    pub const ALL: [ExportStatus; 6] = [
        ExportStatus::Scheduled,
        ExportStatus::Running,
        ExportStatus::Paused,
        ExportStatus::Cancelled,
        ExportStatus::Failed,
        ExportStatus::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Scheduled => "Scheduled",
            ExportStatus::Running => "Running",
            ExportStatus::Paused => "Paused",
            ExportStatus::Cancelled => "Cancelled",
            ExportStatus::Failed => "Failed",
            ExportStatus::Completed => "Completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The status `action` leads to from this one, or why it is not allowed.
    pub fn apply(self, action: ExportAction) -> Result<ExportStatus, String> {
        use ExportStatus::*;
        let to = match (action, self) {
            (ExportAction::Cancel, Scheduled | Running | Paused) => Cancelled,
            (ExportAction::Pause, Scheduled | Running) => Paused,
            (ExportAction::Restart, Failed | Paused) => Scheduled,
            _ => {
                return Err(format!(
                    "a {} job cannot be {}",
                    self.as_str(),
                    match action {
                        ExportAction::Cancel => "cancelled",
                        ExportAction::Pause => "paused",
                        ExportAction::Restart => "restarted",
                    }
                ))
            }
        };
        Ok(to)
    }
}

/// Which content a job exports; an empty list means every value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportFilters {
    pub content_types: Vec<ContentType>,
    pub initial_direction: Vec<Direction>,
}

impl ExportFilters {
    pub fn matches(&self, content_type: ContentType, direction: Direction) -> bool {
        (self.content_types.is_empty() || self.content_types.contains(&content_type))
            && (self.initial_direction.is_empty() || self.initial_direction.contains(&direction))
    }

    /// Parses the wire lists, checking every value against the seed's lists.
    pub fn parse(content_types: &[String], directions: &[String]) -> Result<Self, Invalid> {
        let mut f = ExportFilters::default();
        for t in content_types {
            let ct = ContentType::parse(t)
                .filter(|ct| EXPORT_CONTENT_TYPES.contains(ct))
                .ok_or_else(|| {
                    Invalid::new(
                        "filters.contentTypes",
                        format!("unknown content type {t:?}"),
                    )
                })?;
            if !f.content_types.contains(&ct) {
                f.content_types.push(ct);
            }
        }
        for d in directions {
            let dir = match d.as_str() {
                "inbound" => Direction::Inbound,
                "outbound" => Direction::Outbound,
                _ => {
                    return Err(Invalid::new(
                        "filters.initialDirection",
                        format!("{d:?} is not inbound or outbound"),
                    ))
                }
            };
            if !f.initial_direction.contains(&dir) {
                f.initial_direction.push(dir);
            }
        }
        Ok(f)
    }
}

/// A position in the order exports walk content: `(stored at, interaction id, key)`.
/// Everything at or before it has been transferred by the job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportWatermark {
    pub stored_us: i64,
    pub interaction_id: i64,
    pub content_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: ExportKind,
    pub status: ExportStatus,
    /// Interactions that started at or after this are exported (inclusive).
    pub start: DateTime<Utc>,
    /// Batch exports only: interactions that started at or before this (inclusive).
    pub end: Option<DateTime<Utc>>,
    pub filters: ExportFilters,
    pub storage_id: Uuid,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    pub watermark: Option<ExportWatermark>,
    pub items_exported: u64,
    pub bytes_exported: u64,
    /// Consecutive failed runs; reset by a successful run or a restart.
    pub failures: u32,
    pub error: Option<String>,
}

/// The kind of target and where in it; credentials are kept apart, encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "camelCase", deny_unknown_fields)]
pub enum StorageTarget {
    #[serde(rename = "s3", rename_all = "camelCase")]
    S3 {
        bucket: String,
        region: Option<String>,
        endpoint: Option<String>,
        prefix: Option<String>,
    },
    #[serde(rename = "azureBlob", rename_all = "camelCase")]
    AzureBlob {
        account: String,
        container: String,
        endpoint: Option<String>,
        prefix: Option<String>,
    },
    /// A directory under the server's configured export root (a mounted share, say);
    /// `path` is relative to that root.
    #[serde(rename = "local", rename_all = "camelCase")]
    Local {
        path: String,
        prefix: Option<String>,
    },
}

impl StorageTarget {
    pub fn provider(&self) -> &'static str {
        match self {
            StorageTarget::S3 { .. } => "s3",
            StorageTarget::AzureBlob { .. } => "azureBlob",
            StorageTarget::Local { .. } => "local",
        }
    }

    /// The endpoint the tenant named, for the providers that take one.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            StorageTarget::S3 { endpoint, .. } | StorageTarget::AzureBlob { endpoint, .. } => {
                endpoint.as_deref()
            }
            _ => None,
        }
    }

    pub fn prefix(&self) -> &str {
        match self {
            StorageTarget::S3 { prefix, .. }
            | StorageTarget::AzureBlob { prefix, .. }
            | StorageTarget::Local { prefix, .. } => prefix.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalStorage {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub target: StorageTarget,
    /// The credentials, sealed by the services' key; never leaves the server.
    pub sealed_credentials: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Where an exported item lands, relative to the target's prefix:
/// `{tenant}/{yyyy}/{mm}/{dd}/{guid}/{contentKey}.{ext}`, the date being the
/// interaction's start (UTC). Its metadata goes to the same name with `.json` appended
/// to the stem: `{contentKey}.metadata.json`.
pub fn export_object_names(
    tenant: &str,
    start: DateTime<Utc>,
    guid: &str,
    content_key: &str,
    extension: &str,
) -> (String, String) {
    let dir = format!(
        "{tenant}/{:04}/{:02}/{:02}/{guid}",
        start.year(),
        start.month(),
        start.day()
    );
    (
        format!("{dir}/{content_key}.{extension}"),
        format!("{dir}/{content_key}.metadata.json"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExportAction::*;
    use ExportStatus::*;

    #[test]
    fn the_state_machine_allows_exactly_the_documented_transitions() {
        let allowed = [
            (Scheduled, Cancel, Cancelled),
            (Running, Cancel, Cancelled),
            (Paused, Cancel, Cancelled),
            (Scheduled, Pause, Paused),
            (Running, Pause, Paused),
            (Failed, Restart, Scheduled),
            (Paused, Restart, Scheduled),
        ];
        for from in ExportStatus::ALL {
            for action in [Cancel, Pause, Restart] {
                let expected = allowed
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                match (from.apply(action), expected) {
                    (Ok(to), Some(e)) => assert_eq!(to, e),
                    (Err(msg), None) => assert!(msg.contains(from.as_str()), "{msg}"),
                    (got, want) => panic!("{from:?} {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn filters_check_values_against_the_seed_lists() {
        let f = ExportFilters::parse(&["callRecording".into()], &["inbound".into()]).unwrap();
        assert!(f.matches(ContentType::CallRecording, Direction::Inbound));
        assert!(!f.matches(ContentType::Voicemail, Direction::Inbound));
        assert!(!f.matches(ContentType::CallRecording, Direction::Outbound));
        let all = ExportFilters::parse(&[], &[]).unwrap();
        assert!(all.matches(ContentType::VideoRecording, Direction::Internal));
        let e = ExportFilters::parse(&["videoRecording".into()], &[]).unwrap_err();
        assert_eq!(e.field, "filters.contentTypes");
        let e = ExportFilters::parse(&[], &["internal".into()]).unwrap_err();
        assert_eq!(e.field, "filters.initialDirection");
    }

    #[test]
    fn object_names_are_stable() {
        let start = DateTime::parse_from_rfc3339("2024-05-01T18:35:24Z")
            .unwrap()
            .with_timezone(&Utc);
        let (data, meta) = export_object_names("acme", start, "g-1", "callRecording", "wav");
        assert_eq!(data, "acme/2024/05/01/g-1/callRecording.wav");
        assert_eq!(meta, "acme/2024/05/01/g-1/callRecording.metadata.json");
    }
}
