//! Transcripts: the one document every transcript is stored as (whichever engine or
//! client produced it), the text of it that the full-text index keeps, and the query
//! grammar of search by what was said. See docs/transcription.md.

use serde::{Deserialize, Serialize};

use crate::{ContentType, Invalid};

/// The `schema` value of a transcript callvault's engines write.
pub const TRANSCRIPT_SCHEMA: &str = "callvault.transcript/1";

/// A transcript as stored under the `transcript` content key, served as-is by the
/// Interaction Content API and by the Call Recording API's `transcription_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub schema: String,
    /// BCP 47 language tag, e.g. `en-US`.
    pub language: String,
    /// The engine that produced it (`pocketsphinx`, `openai`, ...).
    pub engine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The audio's duration, as decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// In time order; on stereo recordings the two channels' segments interleave.
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    /// `agent` or `customer` on a stereo recording (left and right channel), absent when
    /// one channel carries both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// 0-based audio channel the segment was heard on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
    pub text: String,
    /// 0..1, the engine's own estimate; absent when the engine gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// One piece of text in the full-text index, with where it was said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedText {
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
    pub text: String,
}

/// Longest text kept per indexed segment; longer ones are cut at a character boundary.
const MAX_SEGMENT_CHARS: usize = 4000;

/// What the full-text index keeps of a transcript or chat transcript: its segments (our
/// schema, and the `segments` of other engines' documents) or its messages (`from`,
/// `offsetMs`, `text`). Anything else indexes nothing: content is stored as given, and
/// only text we can place in time is searchable.
pub fn indexed_text(content_type: ContentType, json: &[u8]) -> Vec<IndexedText> {
    if !matches!(
        content_type,
        ContentType::Transcript | ContentType::ChatTranscript
    ) {
        return Vec::new();
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_u64());
    let text_of = |v: &serde_json::Value| v.get("text").and_then(|t| t.as_str()).map(clean);
    let mut out = Vec::new();
    if let Some(segments) = doc.get("segments").and_then(|s| s.as_array()) {
        for s in segments {
            let Some(text) = text_of(s).filter(|t| !t.is_empty()) else {
                continue;
            };
            let start = num(s, "startMs").unwrap_or(0);
            out.push(IndexedText {
                start_ms: start,
                end_ms: num(s, "endMs").unwrap_or(start).max(start),
                speaker: s.get("speaker").and_then(|x| x.as_str()).map(clean),
                text,
            });
        }
    } else if let Some(messages) = doc.get("messages").and_then(|s| s.as_array()) {
        for m in messages {
            let Some(text) = text_of(m).filter(|t| !t.is_empty()) else {
                continue;
            };
            let at = num(m, "offsetMs").unwrap_or(0);
            out.push(IndexedText {
                start_ms: at,
                end_ms: at,
                speaker: m.get("from").and_then(|x| x.as_str()).map(clean),
                text,
            });
        }
    }
    out
}

/// Control characters out (the index marks hits with two of them), length bounded.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SEGMENT_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Marks the index puts around a hit in a segment's text; `clean` keeps them out of
/// stored text, so they cannot be forged by content.
pub const HIT_START: char = '\u{1}';
pub const HIT_END: char = '\u{2}';

/// Search by what was said: every term must occur in one segment; a term is a word or a
/// quoted phrase whose words occur in order. Words are letters and digits; everything
/// else separates them, so no input is an index syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// Each term is one word, or the words of a phrase; all lowercase.
    pub terms: Vec<Vec<String>>,
}

pub const MAX_QUERY_CHARS: usize = 256;
pub const MAX_QUERY_TERMS: usize = 16;

impl TextQuery {
    pub fn parse(field: &str, q: &str) -> Result<TextQuery, Invalid> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Invalid::new(
                field,
                format!("{field} must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let mut terms = Vec::new();
        for (i, part) in q.split('"').enumerate() {
            let words = words(part);
            if i % 2 == 1 {
                if !words.is_empty() {
                    terms.push(words);
                }
            } else {
                terms.extend(words.into_iter().map(|w| vec![w]));
            }
        }
        if terms.is_empty() {
            return Err(Invalid::new(
                field,
                format!("{field} must contain at least one word"),
            ));
        }
        if terms.len() > MAX_QUERY_TERMS {
            return Err(Invalid::new(
                field,
                format!("{field} may have at most {MAX_QUERY_TERMS} words or phrases"),
            ));
        }
        Ok(TextQuery { terms })
    }
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A segment's text with its hits, as the index marked them, turned into character
/// ranges over the unmarked text.
pub fn split_hits(marked: &str) -> (String, Vec<(usize, usize)>) {
    let mut text = String::with_capacity(marked.len());
    let mut hits = Vec::new();
    let (mut n, mut open) = (0usize, None);
    for c in marked.chars() {
        match c {
            HIT_START => open = Some(n),
            HIT_END => {
                if let Some(s) = open.take() {
                    if n > s {
                        hits.push((s, n));
                    }
                }
            }
            c => {
                text.push(c);
                n += 1;
            }
        }
    }
    (text, hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_and_quoted_phrases_become_terms() {
        let q = TextQuery::parse("q", r#"Refund "account number" it's"#).unwrap();
        assert_eq!(
            q.terms,
            vec![
                vec!["refund".to_string()],
                vec!["account".into(), "number".into()],
                vec!["it".into()],
                vec!["s".into()],
            ]
        );
    }

    #[test]
    fn a_query_without_words_names_its_field() {
        let e = TextQuery::parse("q", r#"  "" -- "#).unwrap_err();
        assert_eq!(e.field, "q");
    }

    #[test]
    fn chat_messages_are_indexed_at_their_offsets() {
        let doc = br#"{"messages":[{"from":"agent","offsetMs":1200,"text":"Hello\u0001 there"}]}"#;
        let got = indexed_text(ContentType::ChatTranscript, doc);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].start_ms, 1200);
        assert_eq!(got[0].text, "Hello there");
        assert_eq!(got[0].speaker.as_deref(), Some("agent"));
    }

    #[test]
    fn hits_become_ranges_over_the_plain_text() {
        let (t, h) = split_hits("a \u{1}refund\u{2} for the \u{1}refund\u{2}");
        assert_eq!(t, "a refund for the refund");
        assert_eq!(h, vec![(2, 8), (17, 23)]);
    }

    proptest! {
        /// Whatever a user types, parsing answers terms of plain lowercase words or a
        /// named error; never anything the index would read as syntax.
        #[test]
        fn any_input_parses_to_plain_words_or_an_error(q in "\\PC{0,80}") {
            if let Ok(t) = TextQuery::parse("q", &q) {
                prop_assert!(!t.terms.is_empty() && t.terms.len() <= MAX_QUERY_TERMS);
                for w in t.terms.iter().flatten() {
                    prop_assert!(!w.is_empty());
                    prop_assert!(w.chars().all(char::is_alphanumeric));
                }
            }
        }

        #[test]
        fn indexed_text_never_panics_and_never_keeps_control_characters(doc in "\\PC{0,200}") {
            for t in indexed_text(ContentType::Transcript, doc.as_bytes()) {
                prop_assert!(!t.text.chars().any(char::is_control));
            }
        }
    }
}
