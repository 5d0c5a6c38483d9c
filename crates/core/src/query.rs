//! A backend-neutral description of which interactions a dialect wants. Each dialect
//! translates its own parameters into this; each metadata store translates this into its
//! own query language. Adding a dialect never adds a query path to a store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::interaction::RecordingKind;
use crate::{ContentType, Direction, Guid};

/// Recordings by transcription state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TranscriptionFilter {
    /// Any recording with a transcript or a transcription status.
    Any,
    Ready,
    Pending,
    Failed,
}

/// Interactions with at least one content item (or one of `with_content`), matching every
/// given condition. Time ranges are inclusive at both ends.
/// Serializable so that a background job can keep the query it was created with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InteractionQuery {
    pub start: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub end: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub direction: Option<Direction>,
    pub handling_agent: Option<String>,
    pub connect_from_prefix: Option<String>,
    pub connect_to_prefix: Option<String>,
    pub with_content: Option<ContentType>,
    pub guid: Option<Guid>,
    pub connect_from: Option<String>,
    pub connect_to: Option<String>,
    pub caller_name: Option<String>,
    /// The queue's id, exactly.
    pub queue: Option<String>,
    pub extension: Option<String>,
    /// Inclusive bounds on the call recording's duration in milliseconds.
    pub recording_ms: (Option<u64>, Option<u64>),
    /// Company recordings are those not marked on-demand.
    pub recording_kind: Option<RecordingKind>,
    pub owning_user: Option<String>,
    /// What an agent may see: on-demand recordings this user owns, and interactions this
    /// user handled (one of the handling agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_to_agent: Option<String>,
    pub transcription: Option<TranscriptionFilter>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

/// Keyset position in the search order `(start, id)`: the last item of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCursor {
    pub start_us: i64,
    pub id: i64,
}

impl SearchCursor {
    /// The position of an interaction in the search order.
    pub fn of(i: &crate::Interaction) -> Self {
        Self {
            start_us: i.meta.start.timestamp_micros(),
            id: i.id,
        }
    }
}

/// Where a page of search results begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    After(Option<SearchCursor>),
    Offset(u64),
}
