//! Signed webhooks (docs/webhooks.md): subscriptions, the event types other systems are
//! told about, and the CloudEvents envelope each notification is. No I/O here: the store
//! writes events in the transaction of the change that caused them, services deliver.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::TenantId;

/// What happened. The wire name is `com.callvault.` plus [`EventType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "content.created")]
    ContentCreated,
    #[serde(rename = "content.deleted")]
    ContentDeleted,
    #[serde(rename = "interaction.deleted")]
    InteractionDeleted,
    #[serde(rename = "transcription.ready")]
    TranscriptionReady,
    #[serde(rename = "transcription.failed")]
    TranscriptionFailed,
    /// An Export API batch job transferred everything.
    #[serde(rename = "export.completed")]
    ExportCompleted,
    /// An Export API job gave up after repeated failures.
    #[serde(rename = "export.failed")]
    ExportFailed,
    /// A Call Recording API bulk download (export job) is ready to fetch.
    #[serde(rename = "bulk_download.completed")]
    BulkDownloadCompleted,
    #[serde(rename = "bulk_download.failed")]
    BulkDownloadFailed,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::ContentCreated,
        EventType::ContentDeleted,
        EventType::InteractionDeleted,
        EventType::TranscriptionReady,
        EventType::TranscriptionFailed,
        EventType::ExportCompleted,
        EventType::ExportFailed,
        EventType::BulkDownloadCompleted,
        EventType::BulkDownloadFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ContentCreated => "content.created",
            EventType::ContentDeleted => "content.deleted",
            EventType::InteractionDeleted => "interaction.deleted",
            EventType::TranscriptionReady => "transcription.ready",
            EventType::TranscriptionFailed => "transcription.failed",
            EventType::ExportCompleted => "export.completed",
            EventType::ExportFailed => "export.failed",
            EventType::BulkDownloadCompleted => "bulk_download.completed",
            EventType::BulkDownloadFailed => "bulk_download.failed",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<EventType, Invalid> {
        let s = s.strip_prefix(CLOUDEVENT_TYPE_PREFIX).unwrap_or(s);
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                Invalid::new(
                    field,
                    format!("unknown event type '{s}'; one of {}", names.join(", ")),
                )
            })
    }

    /// The CloudEvents `type`.
    pub fn cloudevent_type(self) -> String {
        format!("{CLOUDEVENT_TYPE_PREFIX}{}", self.as_str())
    }
}

pub const CLOUDEVENT_TYPE_PREFIX: &str = "com.callvault.";

/// An event as written by the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub tenant_id: TenantId,
    pub event_type: EventType,
    /// The interaction GUID, where there is one.
    pub subject: Option<String>,
    /// The CloudEvents `data`, as JSON text.
    pub data: String,
    pub at: DateTime<Utc>,
}

/// A subscription: where a tenant wants which events sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    /// The base64 signing key, sealed at rest by services.
    pub sealed_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 3..=128;

pub fn check_name(field: &str, name: &str) -> Result<(), Invalid> {
    let n = name.trim().chars().count();
    if !NAME_CHARS.contains(&n) || name.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("{field} must be 3 to 128 characters, without control characters"),
        ));
    }
    Ok(())
}

/// Delivery state of one event to one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// How long sent and failed deliveries stay listed (`/deliveries`) before housekeeping
/// drops them.
pub const KEEP_DELIVERIES: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// How long a delivery is retried before it is marked failed.
pub const RETRY_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(12);

/// The wait after `failures` failed tries, before jitter: 1 s doubling to 30 min, so a
/// receiver back after a blip hears at once and one down for hours is tried twice an hour.
pub fn retry_wait(failures: u32) -> chrono::Duration {
    crate::time::doubling_backoff(
        chrono::Duration::seconds(1),
        chrono::Duration::minutes(30),
        failures,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_with_and_without_the_prefix() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse("e", t.as_str()).unwrap(), t);
            assert_eq!(EventType::parse("e", &t.cloudevent_type()).unwrap(), t);
        }
        let e = EventType::parse("events", "content.updated").unwrap_err();
        assert_eq!(e.field, "events");
    }

    #[test]
    fn names_are_three_to_128_characters() {
        assert!(check_name("name", "ab").is_err());
        assert!(check_name("name", "abc").is_ok());
        assert!(check_name("name", &"é".repeat(128)).is_ok());
        assert!(check_name("name", &"a".repeat(129)).is_err());
        assert!(check_name("name", "a\nbc").is_err());
    }

    #[test]
    fn retries_back_off_to_half_an_hour() {
        assert_eq!(retry_wait(1).num_seconds(), 1);
        assert_eq!(retry_wait(2).num_seconds(), 2);
        assert_eq!(retry_wait(30).num_seconds(), 1800);
    }
}
