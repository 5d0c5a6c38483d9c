//! The callvault domain model.
//!
//! Every dialect (Interaction Content API, Call Recording API, Recordings files API) maps
//! these types to its own wire format; none of them owns a data model of its own. This crate
//! does no I/O so that its rules (key grammar, search limits, time parsing) can be tested
//! exhaustively and reused by every layer above it.

pub mod audit;
pub mod content;
pub mod error;
pub mod export;
pub mod governance;
pub mod ids;
pub mod interaction;
pub mod job;
pub mod query;
pub mod scope;
pub mod search;
pub mod tenant;
pub mod time;
pub mod transcript;
pub mod transcription;
pub mod webhook;

/// Short text kept inline (up to 24 bytes: addresses, queue ids, media types): a search
/// page decodes a thousand interactions, and a heap string for each of their short fields
/// was most of what the server's allocator did for it.
pub use compact_str::CompactString;

pub use audit::{AuditAction, AuditEvent, AuditRecord};
pub use content::{ContentItem, ContentKey, ContentType};
pub use error::Invalid;
pub use export::{
    ExportAction, ExportFilters, ExportJob, ExportKind, ExportStatus, ExportWatermark,
    ExternalStorage, StorageTarget,
};
pub use governance::{DeleteCause, LegalHold, Refusal, RetentionPolicy, Rules, Selector};
pub use ids::Guid;
pub use interaction::{Attributes, Direction, Interaction, InteractionMeta};
pub use job::{Job, JobKind, JobStatus};
pub use query::InteractionQuery;
pub use scope::{Scope, ScopeSet};
pub use search::{SearchFilter, MAX_SEARCH_LIMIT, MAX_SEARCH_RANGE_DAYS};
pub use tenant::{Role, Tenant, TenantId, User};
pub use transcript::{Segment, TextQuery, Transcript};
pub use transcription::{TranscriptionJob, TranscriptionState};
