//! Search by what was said: the usual filter, plus words and phrases that must occur in
//! one segment of a transcript or chat transcript; each match comes with its segments,
//! their time offsets in the recording and the character ranges of the hits.

use callvault_core::query::{PageStart, SearchCursor};
use callvault_core::transcript::{split_hits, TextQuery};
use callvault_core::{Interaction, InteractionQuery};

use crate::audit::Actor;
use crate::error::ServiceResult;
use crate::Vault;

/// A text search as a client asks it.
#[derive(Debug, Clone)]
pub struct TextSearch {
    pub query: InteractionQuery,
    pub text: TextQuery,
    /// The continuation token of the previous page, and the parameter it came in.
    pub token: Option<(String, String)>,
    pub limit: u32,
}

/// One segment that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub content_key: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
    /// The segment's text, unescaped: each dialect escapes it for its own format.
    pub text: String,
    /// Character ranges `[start, end)` of the hits in `text`.
    pub hits: Vec<(usize, usize)>,
}

#[derive(Debug)]
pub struct TextPage {
    pub items: Vec<(Interaction, Vec<TextMatch>)>,
    pub next_token: Option<String>,
}

/// What the page token is bound to beyond the filter: the terms, so that a token of
/// one search cannot continue another.
fn salt(text: &TextQuery) -> Vec<u8> {
    let mut out = b"text:".to_vec();
    for words in &text.terms {
        out.extend_from_slice(&(words.len() as u64).to_be_bytes());
        for w in words {
            out.extend_from_slice(&(w.len() as u64).to_be_bytes());
            out.extend_from_slice(w.as_bytes());
        }
    }
    out
}

impl Vault {
    pub async fn search_text(&self, actor: &Actor, s: &TextSearch) -> ServiceResult<TextPage> {
        let tenant = actor.tenant;
        let salt = salt(&s.text);
        let after = s
            .token
            .as_ref()
            .map(|(field, t)| {
                self.cursors
                    .decode_salted(field, t, tenant, &s.query, &salt)
            })
            .transpose()?;
        let mut found = self
            .store
            .text_search(
                tenant,
                &s.query,
                &s.text,
                PageStart::After(after),
                s.limit.saturating_add(1),
            )
            .await?;
        let more = found.len() > s.limit as usize;
        found.truncate(s.limit as usize);
        let next_token = match (more, found.last()) {
            (true, Some(last)) => {
                Some(
                    self.cursors
                        .encode_salted(tenant, &s.query, &salt, SearchCursor::of(last)),
                )
            }
            _ => None,
        };
        let ids: Vec<i64> = found.iter().map(|i| i.id).collect();
        let hits = self.store.text_hits(tenant, &ids, &s.text).await?;
        let items = found
            .into_iter()
            .map(|i| {
                let mine = hits
                    .iter()
                    .filter(|h| h.interaction_id == i.id)
                    .map(|h| {
                        let (text, ranges) = split_hits(&h.marked);
                        TextMatch {
                            content_key: h.content_key.clone(),
                            start_ms: h.start_ms,
                            end_ms: h.end_ms,
                            speaker: h.speaker.clone(),
                            text,
                            hits: ranges,
                        }
                    })
                    .collect();
                (i, mine)
            })
            .collect();
        self.searched(actor, ids.len()).await;
        Ok(TextPage { items, next_token })
    }
}
