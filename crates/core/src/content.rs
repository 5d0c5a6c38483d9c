use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{CompactString, Invalid};

/// The content types of the Interaction Content API (`001`) and its Export API (`000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentType {
    CallRecording,
    ScreenRecording,
    Voicemail,
    Transcript,
    ChatTranscript,
    CategorizationResult,
    SentimentSummary,
    Attachment,
    IvrAudioRecording,
    VideoRecording,
    ConversationSummary,
    InteractionLog,
}

/// What kind of bytes a content type holds; decides which media types are accepted and
/// whether a duration is computed from the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaFamily {
    Audio,
    Video,
    Json,
    Any,
}

impl ContentType {
    pub const ALL: [ContentType; 12] = [
        ContentType::CallRecording,
        ContentType::ScreenRecording,
        ContentType::Voicemail,
        ContentType::Transcript,
        ContentType::ChatTranscript,
        ContentType::CategorizationResult,
        ContentType::SentimentSummary,
        ContentType::Attachment,
        ContentType::IvrAudioRecording,
        ContentType::VideoRecording,
        ContentType::ConversationSummary,
        ContentType::InteractionLog,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::CallRecording => "callRecording",
            ContentType::ScreenRecording => "screenRecording",
            ContentType::Voicemail => "voicemail",
            ContentType::Transcript => "transcript",
            ContentType::ChatTranscript => "chatTranscript",
            ContentType::CategorizationResult => "categorizationResult",
            ContentType::SentimentSummary => "sentimentSummary",
            ContentType::Attachment => "attachment",
            ContentType::IvrAudioRecording => "ivrAudioRecording",
            ContentType::VideoRecording => "videoRecording",
            ContentType::ConversationSummary => "conversationSummary",
            ContentType::InteractionLog => "interactionLog",
        }
    }

    pub fn parse(s: &str) -> Option<ContentType> {
        ContentType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Types with several items per interaction are addressed by a unique identifier
    /// (`004`: voicemails, screen recordings, IVR Data Collector audio, video); the others
    /// have exactly one item whose key is the type name.
    pub fn is_multi_instance(self) -> bool {
        matches!(
            self,
            ContentType::Voicemail
                | ContentType::ScreenRecording
                | ContentType::IvrAudioRecording
                | ContentType::VideoRecording
        )
    }

    /// `001` returns `properties.duration` only for these types.
    pub fn has_duration(self) -> bool {
        matches!(
            self,
            ContentType::CallRecording
                | ContentType::ScreenRecording
                | ContentType::ChatTranscript
                | ContentType::Voicemail
                | ContentType::VideoRecording
                | ContentType::IvrAudioRecording
        )
    }

    pub fn media_family(self) -> MediaFamily {
        match self {
            ContentType::CallRecording
            | ContentType::Voicemail
            | ContentType::IvrAudioRecording => MediaFamily::Audio,
            ContentType::ScreenRecording | ContentType::VideoRecording => MediaFamily::Video,
            ContentType::Transcript
            | ContentType::ChatTranscript
            | ContentType::CategorizationResult
            | ContentType::SentimentSummary
            | ContentType::ConversationSummary => MediaFamily::Json,
            ContentType::Attachment | ContentType::InteractionLog => MediaFamily::Any,
        }
    }

    /// Checks a declared media type against the type's family and returns it normalised
    /// (lowercase, parameters dropped) so that stored values are comparable.
    pub fn validate_media_type(self, field: &str, media_type: &str) -> Result<String, Invalid> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let well_formed = essence.split_once('/').is_some_and(|(a, b)| {
            let token = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
            };
            token(a) && token(b)
        });
        if !well_formed {
            return Err(Invalid::new(
                field,
                format!("'{media_type}' is not a media type"),
            ));
        }
        let allowed: &[&str] = match self.media_family() {
            MediaFamily::Audio => AUDIO_MEDIA_TYPES,
            MediaFamily::Video => &["video/mp4", "video/webm", "video/x-matroska"],
            MediaFamily::Json => &["application/json"],
            MediaFamily::Any => return Ok(essence),
        };
        if allowed.contains(&essence.as_str()) {
            Ok(essence)
        } else {
            Err(Invalid::new(
                field,
                format!(
                    "media type '{essence}' is not accepted for {}; accepted: {}",
                    self.as_str(),
                    allowed.join(", ")
                ),
            ))
        }
    }
}

/// Audio media types accepted at ingest; the bytes must also decode as that format.
pub const AUDIO_MEDIA_TYPES: &[&str] = &[
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/vnd.wave",
    "audio/mpeg",
    "audio/mp3",
];

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content key as a client writes it in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentKey {
    /// A type name, e.g. `callRecording`.
    Type(ContentType),
    /// A unique identifier returned by search, e.g. a voicemail's.
    Unique(Uuid),
    /// An older voicemail key, `voicemail-123`, where 123 is the agent the voicemail is for.
    LegacyVoicemail(String),
}

impl ContentKey {
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        if let Some(t) = ContentType::parse(s) {
            return Ok(ContentKey::Type(t));
        }
        if s.len() == 36 {
            if let Ok(u) = Uuid::try_parse(s) {
                return Ok(ContentKey::Unique(u));
            }
        }
        if let Some(agent) = s.strip_prefix("voicemail-") {
            if !agent.is_empty() && agent.len() <= 20 && agent.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(ContentKey::LegacyVoicemail(agent.to_string()));
            }
        }
        Err(Invalid::new(
            field,
            format!(
                "contentKey '{}' is neither a content type name nor a unique identifier",
                truncate(s, 64)
            ),
        ))
    }

    /// The form stored in the database and returned as `contentKey`.
    pub fn stored_form(&self) -> String {
        match self {
            ContentKey::Type(t) => t.as_str().to_string(),
            ContentKey::Unique(u) => u.hyphenated().to_string(),
            ContentKey::LegacyVoicemail(agent) => format!("voicemail-{agent}"),
        }
    }

    /// The type a key implies by itself, if any.
    pub fn implied_type(&self) -> Option<ContentType> {
        match self {
            ContentKey::Type(t) => Some(*t),
            ContentKey::Unique(_) => None,
            ContentKey::LegacyVoicemail(_) => Some(ContentType::Voicemail),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// One stored piece of interaction content. The bytes live in the blob store under
/// `blob_key`; everything else is metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentItem {
    pub key: CompactString,
    pub content_type: ContentType,
    pub media_type: CompactString,
    pub length: u64,
    /// Lowercase hex SHA-256 of the bytes; also the blob's address.
    pub sha256: String,
    pub last_modified: DateTime<Utc>,
    pub duration_ms: Option<u64>,
    pub version: Option<u32>,
    pub owning_agent: Option<CompactString>,
    pub owning_interaction_plan: Option<CompactString>,
    pub blob_key: String,
}

/// A file extension for a media type, for download and export file names.
pub fn extension_for(media_type: &str) -> &'static str {
    match media_type {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "application/json" => "json",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "text/plain" => "txt",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            ContentKey::parse("k", "callRecording").unwrap(),
            ContentKey::Type(ContentType::CallRecording)
        );
        assert_eq!(
            ContentKey::parse("k", "voicemail-123")
                .unwrap()
                .implied_type(),
            Some(ContentType::Voicemail)
        );
        let u = ContentKey::parse("k", "017F2106-FF1B-8D35-89E5-1E01B327A159").unwrap();
        assert_eq!(u.stored_form(), "017f2106-ff1b-8d35-89e5-1e01b327a159");
        assert!(ContentKey::parse("k", "../etc/passwd").is_err());
        assert!(ContentKey::parse("k", "voicemail-").is_err());
    }

    #[test]
    fn media_types() {
        let t = ContentType::CallRecording;
        assert_eq!(
            t.validate_media_type("m", "Audio/WAV; rate=8000").unwrap(),
            "audio/wav"
        );
        assert!(t.validate_media_type("m", "application/json").is_err());
        assert!(t.validate_media_type("m", "nonsense").is_err());
        assert_eq!(
            ContentType::Attachment
                .validate_media_type("m", "application/pdf")
                .unwrap(),
            "application/pdf"
        );
    }
}
