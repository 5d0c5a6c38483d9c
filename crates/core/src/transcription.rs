//! Transcription jobs: one per interaction, for its first call recording or voicemail.
//! The job is where a recording's transcription state lives (the Call Recording API's
//! `transcription_ready` / `transcription_error` and its status filter read it); the
//! transcript itself is the interaction's `transcript` content item.

use chrono::{DateTime, Utc};

use crate::{ContentType, Direction, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TranscriptionState {
    /// Waiting for a runner, or for its backoff to pass after an engine error.
    Pending,
    /// A runner holds the lease.
    InProgress,
    /// The transcript is stored.
    Ready,
    /// Gave up: undecodable audio, or the engine failed `MAX_TRANSCRIPTION_ATTEMPTS` times.
    Failed,
}

impl TranscriptionState {
    pub const ALL: [TranscriptionState; 4] = [
        TranscriptionState::Pending,
        TranscriptionState::InProgress,
        TranscriptionState::Ready,
        TranscriptionState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptionState::Pending => "pending",
            TranscriptionState::InProgress => "in_progress",
            TranscriptionState::Ready => "ready",
            TranscriptionState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<TranscriptionState> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Tries before a job whose engine keeps failing is `Failed`.
pub const MAX_TRANSCRIPTION_ATTEMPTS: u32 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionJob {
    pub tenant_id: TenantId,
    pub interaction_id: i64,
    /// The audio item it transcribes.
    pub content_key: String,
    pub state: TranscriptionState,
    pub attempts: u32,
    pub error: Option<String>,
    /// Not run before this instant (backoff after an engine error).
    pub not_before: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which new content a tenant has transcribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscribeWhat {
    pub content_types: Vec<ContentType>,
    pub directions: Vec<Direction>,
}

impl Default for TranscribeWhat {
    fn default() -> Self {
        TranscribeWhat {
            content_types: vec![ContentType::CallRecording, ContentType::Voicemail],
            directions: vec![Direction::Inbound, Direction::Outbound, Direction::Internal],
        }
    }
}

impl TranscribeWhat {
    pub fn wants(&self, content_type: ContentType, direction: Direction) -> bool {
        self.content_types.contains(&content_type) && self.directions.contains(&direction)
    }
}

/// The wait before try `attempts + 1` after `attempts` engine failures: 30 s doubling,
/// at most an hour, so an engine that is down for an afternoon loses no job.
pub fn backoff(attempts: u32) -> chrono::Duration {
    crate::time::doubling_backoff(
        chrono::Duration::seconds(30),
        chrono::Duration::hours(1),
        attempts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        assert_eq!(backoff(1).num_seconds(), 30);
        assert_eq!(backoff(2).num_seconds(), 60);
        assert_eq!(backoff(20).num_seconds(), 3600);
    }

    #[test]
    fn states_round_trip_their_stored_names() {
        for s in TranscriptionState::ALL {
            assert_eq!(TranscriptionState::parse(s.as_str()), Some(s));
        }
    }
}
