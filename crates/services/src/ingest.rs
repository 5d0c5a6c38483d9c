//! Ingest: interaction metadata upserts and streamed content uploads.
//!
//! An upload is acknowledged only after its bytes are durable in the blob store and its
//! metadata row is committed. The blob is committed first, under the blob-key lock, so a
//! crash leaves at worst an unreferenced blob (removed by the orphan sweeper), never a row
//! pointing at missing bytes.

use bytes::Bytes;
use callvault_core::content::MediaFamily;
use callvault_core::{
    ContentItem, ContentKey, ContentType, Guid, Interaction, InteractionMeta, Invalid, TenantId,
};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use callvault_storage::error::StoreResult;
use callvault_storage::meta::PutContentOutcome;
use callvault_storage::{BlobUpload, Derived};

use crate::audio::AudioProbe;
use crate::error::{ServiceError, ServiceResult};
use crate::vault::Vault;

/// JSON content is parsed to check it; it is small by nature, so this bounds the copy.
pub const MAX_JSON_BYTES: u64 = 8 * 1024 * 1024;
/// An upload that sends nothing for this long is abandoned, so a stalled client cannot
/// hold a staging file and a request slot forever.
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// What the client declares about an upload besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct ContentUpload {
    pub content_type: Option<ContentType>,
    pub media_type: String,
    pub expected_len: Option<u64>,
    /// Lowercase hex SHA-256 the bytes must have.
    pub expected_sha256: Option<String>,
    pub owning_agent: Option<String>,
    pub owning_interaction_plan: Option<String>,
    pub version: Option<u32>,
    /// Declared duration for content whose bytes carry none (chat transcripts, video).
    pub duration_ms: Option<u64>,
}

/// Blob keys are content addresses scoped by tenant, so one tenant's uploads can never
/// reveal or share another's bytes.
pub fn blob_key(tenant: TenantId, sha256_hex: &str) -> String {
    format!("t{}/{}/{}", tenant.0, &sha256_hex[..2], sha256_hex)
}

fn resolve_type(key: &ContentKey, declared: Option<ContentType>) -> Result<ContentType, Invalid> {
    let t = match (key.implied_type(), declared) {
        (Some(implied), Some(d)) if implied != d => {
            return Err(Invalid::new(
                "type",
                format!(
                    "type '{d}' does not match contentKey '{}'",
                    key.stored_form()
                ),
            ))
        }
        (Some(implied), _) => implied,
        (None, Some(d)) => d,
        (None, None) => {
            return Err(Invalid::new(
                "type",
                "type is required when contentKey is a unique identifier",
            ))
        }
    };
    match key {
        ContentKey::Type(_) if t.is_multi_instance() => Err(Invalid::new(
            "contentKey",
            format!("{t} content is keyed by a unique identifier, not by its type name"),
        )),
        ContentKey::Unique(_) if !t.is_multi_instance() => Err(Invalid::new(
            "contentKey",
            format!("{t} content is keyed by its type name '{t}'"),
        )),
        _ => Ok(t),
    }
}

impl Vault {
    pub async fn upsert_interaction(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
    ) -> ServiceResult<(Interaction, bool)> {
        meta.validate()?;
        Ok(self.store.upsert_interaction(tenant, meta).await?)
    }

    /// Streams one content item into the vault, replacing any item with the same key.
    /// Answers the stored item and whether it was new.
    pub async fn put_content<S, E>(
        &self,
        tenant: TenantId,
        guid: &Guid,
        key: &ContentKey,
        upload: ContentUpload,
        body: S,
    ) -> ServiceResult<(ContentItem, bool)>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let (content_type, media_type) = self.check_upload(key, &upload)?;
        let Some(interaction) = self.store.get_interaction(tenant, guid).await? else {
            return Err(ServiceError::NotFound(format!(
                "interaction {guid} not found"
            )));
        };
        let got = self
            .receive(tenant, key, content_type, media_type, upload, body)
            .await?;
        let derived = self
            .derived(
                tenant,
                &interaction.meta,
                has_transcript(&interaction),
                content_type,
                got.json.as_deref(),
            )
            .await?;
        let write = self
            .store
            .put_content_derived(tenant, guid, &got.item, &derived);
        let outcome = self
            .commit_blob(got.upload, &got.item.blob_key, write)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("interaction {guid} not found")))?;
        self.settle(&outcome, &got.item).await?;
        Ok((got.item, outcome.created))
    }

    /// Creates or updates an interaction and streams one content item into it, for a
    /// client that sends both in one request: both are stored in one transaction, so a
    /// refused upload leaves no interaction behind. Answers the interaction with its
    /// content and whether the interaction was new.
    pub async fn upsert_with_content<S, E>(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
        key: &ContentKey,
        upload: ContentUpload,
        body: S,
    ) -> ServiceResult<(Interaction, bool)>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        meta.validate()?;
        let (content_type, media_type) = self.check_upload(key, &upload)?;
        let existing = self.store.get_interaction(tenant, &meta.guid).await?;
        let transcribed = existing.as_ref().is_some_and(has_transcript);
        let got = self
            .receive(tenant, key, content_type, media_type, upload, body)
            .await?;
        let derived = self
            .derived(tenant, meta, transcribed, content_type, got.json.as_deref())
            .await?;
        let write = async {
            let stored = self
                .store
                .upsert_with_content(tenant, meta, &got.item, &derived)
                .await?;
            Ok(Some(stored))
        };
        let Some((interaction, created, outcome)) = self
            .commit_blob(got.upload, &got.item.blob_key, write)
            .await?
        else {
            return Err(ServiceError::NotFound(format!(
                "interaction {} not found",
                meta.guid
            )));
        };
        self.settle(&outcome, &got.item).await?;
        Ok((interaction, created))
    }

    /// The declared content type and media type of an upload, checked against its key.
    fn check_upload(
        &self,
        key: &ContentKey,
        upload: &ContentUpload,
    ) -> ServiceResult<(ContentType, String)> {
        let content_type = resolve_type(key, upload.content_type)?;
        let media_type = content_type.validate_media_type("Content-Type", &upload.media_type)?;
        if upload.owning_agent.is_some() && content_type != ContentType::Voicemail {
            return Err(
                Invalid::new("owningAgent", "owningAgent applies only to voicemail").into(),
            );
        }
        if upload.owning_interaction_plan.is_some()
            && content_type != ContentType::IvrAudioRecording
        {
            return Err(Invalid::new(
                "owningInteractionPlan",
                "owningInteractionPlan applies only to ivrAudioRecording",
            )
            .into());
        }
        if let Some(agent) = &upload.owning_agent {
            callvault_core::interaction::check_identifier("owningAgent", agent)?;
        }
        if let Some(len) = upload.expected_len {
            if len > self.config.max_content_bytes {
                return Err(too_large(self.config.max_content_bytes));
            }
        }
        Ok((content_type, media_type))
    }

    /// Stages the body (checked, hashed, its duration read) and describes the item.
    async fn receive<S, E>(
        &self,
        tenant: TenantId,
        key: &ContentKey,
        content_type: ContentType,
        media_type: String,
        upload: ContentUpload,
        body: S,
    ) -> ServiceResult<Received>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let family = content_type.media_family();
        let _permit = match family {
            MediaFamily::Audio | MediaFamily::Json => Some(
                self.inspections
                    .acquire()
                    .await
                    .map_err(|_| ServiceError::BodyAborted("the server is shutting down".into()))?,
            ),
            _ => None,
        };
        let staged = self.stage_body(body, &media_type, family, &upload).await?;
        let item = ContentItem {
            key: key.stored_form().into(),
            content_type,
            media_type: media_type.into(),
            length: staged.length,
            blob_key: blob_key(tenant, &staged.sha256),
            sha256: staged.sha256,
            last_modified: self.clock.now(),
            duration_ms: staged.duration_ms.or(upload.duration_ms),
            version: upload.version,
            owning_agent: upload
                .owning_agent
                .or_else(|| match key {
                    ContentKey::LegacyVoicemail(agent) => Some(agent.clone()),
                    _ => None,
                })
                .map(Into::into),
            owning_interaction_plan: upload.owning_interaction_plan.map(Into::into),
        };
        Ok(Received {
            item,
            upload: staged.upload,
            json: staged.json,
        })
    }

    /// Commits the staged blob and then, under the blob key's lock, the rows `write`
    /// stores; a write that stores nothing leaves the blob to be removed again unless
    /// another item uses it.
    async fn commit_blob<T>(
        &self,
        upload: Box<dyn BlobUpload>,
        blob_key: &str,
        write: impl std::future::Future<Output = StoreResult<Option<T>>>,
    ) -> ServiceResult<Option<T>> {
        let _guard = self.store.lock_blob(blob_key).await;
        upload.commit(blob_key).await?;
        let stored = write.await?;
        if stored.is_none() && !self.store.blob_referenced(blob_key).await? {
            self.blobs.delete(blob_key).await?;
        }
        Ok(stored)
    }

    /// After an item is stored: removes the blob it replaced, if nothing else uses it.
    async fn settle(&self, outcome: &PutContentOutcome, item: &ContentItem) -> ServiceResult<()> {
        if let Some(released) = &outcome.released_blob {
            self.release_blobs(std::slice::from_ref(released)).await?;
        }
        metrics::counter!("callvault_ingested_bytes_total").increment(item.length);
        Ok(())
    }

    /// What the write derives from the item: its text for the index, and whether its
    /// recording is queued for transcription (the tenant transcribes this kind of
    /// content, and no transcript was stored for the interaction already).
    async fn derived(
        &self,
        tenant: TenantId,
        meta: &InteractionMeta,
        transcribed: bool,
        content_type: ContentType,
        json: Option<&[u8]>,
    ) -> ServiceResult<Derived> {
        let text = json
            .map(|j| callvault_core::transcript::indexed_text(content_type, j))
            .unwrap_or_default();
        let audio = matches!(
            content_type,
            ContentType::CallRecording | ContentType::Voicemail
        );
        let transcribe = audio
            && !transcribed
            && self
                .transcription_plan(tenant)
                .await?
                .is_some_and(|p| p.what.wants(content_type, meta.direction));
        Ok(Derived { text, transcribe })
    }

    async fn stage_body<S, E>(
        &self,
        mut body: S,
        media_type: &str,
        family: MediaFamily,
        upload: &ContentUpload,
    ) -> ServiceResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let mut staged = self.blobs.stage().await?;
        let mut probe = match family {
            MediaFamily::Audio => AudioProbe::start(media_type),
            _ => None,
        };
        let mut json = (family == MediaFamily::Json).then(Vec::new);
        let mut hasher = Sha256::new();
        let mut length = 0u64;
        let result: ServiceResult<()> = async {
            loop {
                let next = tokio::time::timeout(BODY_IDLE, body.next())
                    .await
                    .map_err(|_| {
                        ServiceError::BodyAborted(format!(
                            "no data received for {} s",
                            BODY_IDLE.as_secs()
                        ))
                    })?;
                let Some(chunk) = next else { break };
                let chunk = chunk.map_err(|e| ServiceError::BodyAborted(e.to_string()))?;
                length += chunk.len() as u64;
                if length > self.config.max_content_bytes {
                    return Err(too_large(self.config.max_content_bytes));
                }
                hasher.update(&chunk);
                if let Some(buf) = json.as_mut() {
                    if length > MAX_JSON_BYTES {
                        return Err(too_large(MAX_JSON_BYTES));
                    }
                    buf.extend_from_slice(&chunk);
                }
                staged.write(&chunk).await?;
                if let Some(p) = probe.as_mut() {
                    p.feed(chunk).await;
                }
            }
            Ok(())
        }
        .await;
        let checked = result.and_then(|()| {
            let sha256 = hex::encode(hasher.finalize());
            verify_declared(upload, length, &sha256)?;
            if let Some(buf) = &json {
                check_json(buf)?;
            }
            Ok(sha256)
        });
        let duration = match (checked.is_ok(), probe) {
            (true, Some(p)) => match p.finish(length).await {
                Ok(info) => Some(info.duration_ms),
                Err(message) => {
                    staged.abort().await;
                    return Err(ServiceError::UnsupportedMedia {
                        field: "body".into(),
                        message,
                    });
                }
            },
            _ => None,
        };
        match checked {
            Ok(sha256) => Ok(Staged {
                upload: staged,
                sha256,
                length,
                duration_ms: duration,
                json,
            }),
            Err(e) => {
                staged.abort().await;
                Err(e)
            }
        }
    }
}

/// An upload staged and described, not yet committed.
struct Received {
    item: ContentItem,
    upload: Box<dyn BlobUpload>,
    json: Option<Vec<u8>>,
}

fn has_transcript(interaction: &Interaction) -> bool {
    interaction
        .content
        .iter()
        .any(|c| c.content_type == ContentType::Transcript)
}

struct Staged {
    upload: Box<dyn BlobUpload>,
    sha256: String,
    length: u64,
    duration_ms: Option<u64>,
    /// The bytes of JSON content, kept for the text index.
    json: Option<Vec<u8>>,
}

fn too_large(max: u64) -> ServiceError {
    ServiceError::PayloadTooLarge(format!("content is larger than the limit of {max} bytes"))
}

fn verify_declared(upload: &ContentUpload, length: u64, sha256: &str) -> ServiceResult<()> {
    if let Some(want) = upload.expected_len {
        if want != length {
            return Err(Invalid::new(
                "Content-Length",
                format!("received {length} bytes but Content-Length declared {want}"),
            )
            .into());
        }
    }
    if let Some(want) = &upload.expected_sha256 {
        if !want.eq_ignore_ascii_case(sha256) {
            return Err(Invalid::new(
                "X-Content-SHA256",
                format!("the content's SHA-256 is {sha256}, not the declared {want}"),
            )
            .into());
        }
    }
    Ok(())
}

/// Deepest nesting of arrays and objects accepted in JSON content: far beyond any real
/// transcript, far below what would make a reader of the stored document recurse deeply.
pub const MAX_JSON_DEPTH: usize = 128;

/// JSON content must be UTF-8 (RFC 8259), nested at most [`MAX_JSON_DEPTH`] deep, and
/// well-formed. serde_json skips what it ignores without checking either of the first
/// two, so they are checked here first.
fn check_json(buf: &[u8]) -> Result<(), ServiceError> {
    let refuse = |message: String| ServiceError::UnsupportedMedia {
        field: "body".into(),
        message,
    };
    std::str::from_utf8(buf)
        .map_err(|e| refuse(format!("the JSON content is not valid UTF-8: {e}")))?;
    if json_depth(buf) > MAX_JSON_DEPTH {
        return Err(refuse(format!(
            "the JSON content is nested more than {MAX_JSON_DEPTH} levels deep"
        )));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(buf)
        .map_err(|e| refuse(format!("the content is not valid JSON: {e}")))?;
    Ok(())
}

/// The deepest nesting of `[` and `{` outside strings.
fn json_depth(buf: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in buf {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_must_be_utf8() {
        let e = check_json(b"{\"text\":\"\xff\xfe bad\"}").unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        assert!(check_json("{\"text\":\"grüße\"}".as_bytes()).is_ok());
    }

    #[test]
    fn json_nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_json(deep(MAX_JSON_DEPTH).as_bytes()).is_ok());
        let e = check_json(deep(100_000).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("nested"), "{e}");
        // Brackets inside strings, escaped quotes included, do not count.
        let s = format!("{{\"t\":\"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(check_json(s.as_bytes()).is_ok());
    }
}
