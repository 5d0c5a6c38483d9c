//! Transcription jobs and the text index over transcripts: where a recording's
//! transcription state lives, and search by what was said (docs/transcription.md).

use async_trait::async_trait;
use callvault_core::transcript::{IndexedText, TextQuery};
use callvault_core::transcription::TranscriptionJob;
use callvault_core::{ContentType, Direction, Interaction, InteractionQuery, TenantId};
use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::meta::{PageStart, SearchCursor};

/// What a content write derives from the item, written in the write's own transaction so
/// that the index and the job queue never disagree with the content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    /// The item's searchable text (a transcript's segments, a chat's messages).
    pub text: Vec<IndexedText>,
    /// Queue the item for transcription (a new recording the tenant transcribes).
    pub transcribe: bool,
}

/// How a runner leaves a job it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Back to pending until `not_before`; `counted` says whether the try counts
    /// against the limit (an engine that is down does not).
    Retry {
        error: String,
        not_before: DateTime<Utc>,
        counted: bool,
    },
    /// Given up, with the reason the API shows.
    Failed { error: String },
}

/// A recording without a transcript or a job, for the backfill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranscribed {
    pub interaction_id: i64,
    pub content_key: String,
    pub content_type: ContentType,
    pub direction: Direction,
    pub cursor: SearchCursor,
}

/// One segment that matched a text search, its hits marked with core's `HIT_START` and
/// `HIT_END`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextHit {
    pub interaction_id: i64,
    pub content_key: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
    pub marked: String,
}

#[async_trait]
pub trait TranscriptionStore: Send + Sync + 'static {
    /// Queues (or re-queues, from scratch) the interaction's job for the audio item
    /// `content_key`. Answers false when the interaction or the item does not exist.
    async fn queue_transcription(
        &self,
        tenant: TenantId,
        interaction_id: i64,
        content_key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Leases the newest due job (pending past its backoff, or in progress with a lapsed
    /// lease), counting the try. Racing nodes never take the same job.
    async fn claim_transcription(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<TranscriptionJob>>;

    /// Settles a job that the runner still holds (the lease it was given is the proof);
    /// answers false when the lease was lost, so nothing was changed.
    async fn settle_transcription(
        &self,
        job: &TranscriptionJob,
        outcome: &Settle,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The jobs of some interactions of a tenant.
    async fn transcription_jobs(
        &self,
        tenant: TenantId,
        interaction_ids: &[i64],
    ) -> StoreResult<Vec<TranscriptionJob>>;

    /// A tenant's jobs per state (`None`: every tenant), for status and metrics.
    async fn transcription_counts(
        &self,
        tenant: Option<TenantId>,
    ) -> StoreResult<Vec<(callvault_core::transcription::TranscriptionState, u64)>>;

    /// Recordings of a tenant that started at or after `since`, with audio but neither a
    /// transcript nor a job, oldest first after `after`: the backfill's next page.
    async fn untranscribed(
        &self,
        tenant: TenantId,
        since: Option<DateTime<Utc>>,
        after: Option<SearchCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Untranscribed>>;

    /// Interactions matching the filter with a segment matching every term, in search
    /// order.
    async fn text_search(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        text: &TextQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>>;

    /// The matching segments of some interactions, in time order within each.
    async fn text_hits(
        &self,
        tenant: TenantId,
        interaction_ids: &[i64],
        text: &TextQuery,
    ) -> StoreResult<Vec<TextHit>>;
}
