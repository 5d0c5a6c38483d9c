//! The transcription runner, re-transcription and the backfill. A job is leased from the
//! store (exactly one node runs it), its recording decoded and each channel sent to the
//! tenant's engine; the transcript is stored through ingest's own path, whose write
//! settles the job as ready in the same transaction.

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use callvault_core::transcript::{Segment, Transcript, TRANSCRIPT_SCHEMA};
use callvault_core::transcription::{
    backoff, TranscriptionJob, TranscriptionState, MAX_TRANSCRIPTION_ATTEMPTS,
};
use callvault_core::{ContentItem, ContentKey, ContentType, Guid, Interaction, TenantId};
use callvault_storage::transcription::Settle;
use chrono::{DateTime, Utc};
use futures::{stream, TryStreamExt};

use super::decode::decode_channels;
use super::engine::{EngineError, Speech};
use super::{EngineKind, Plan};
use crate::error::{ServiceError, ServiceResult};
use crate::ingest::ContentUpload;
use crate::Vault;

/// How long a runner owns a job before another may take it over.
const LEASE_MINUTES: i64 = 30;
/// Recordings larger than this are not loaded for transcription (about 3 hours of
/// 16 kHz stereo WAV).
const MAX_AUDIO_BYTES: u64 = 768 * 1024 * 1024;
/// Recordings queued per backfill page.
const BACKFILL_PAGE: u32 = 500;

/// Where transcription stands, for `/readyz`, the CLI and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptionStatus {
    pub engine: EngineKind,
    /// Why transcription is off, when it is.
    pub off_because: Option<String>,
    pub jobs: BTreeMap<&'static str, u64>,
}

/// What one turn of the runner did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A recording was transcribed.
    Transcribed,
    /// A job was taken and settled without a transcript: failed, put back to wait, or
    /// gone with its recording.
    Settled,
    /// No job was due, or none may run now.
    Idle,
}

/// A backfill's progress: recordings looked at and queued so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    pub scanned: u64,
    pub queued: u64,
}

impl Vault {
    /// A tenant's engine and choices, or `None` when transcription is off for it.
    pub(crate) async fn transcription_plan(&self, tenant: TenantId) -> ServiceResult<Option<Plan>> {
        if let Some(plan) = self.transcription.cached(tenant) {
            return Ok(plan);
        }
        let Some(t) = self.store.tenant_by_id(tenant).await? else {
            return Ok(None);
        };
        Ok(self.transcription.plan_for(tenant, &t.name))
    }

    pub async fn transcription_status(
        &self,
        tenant: Option<TenantId>,
    ) -> ServiceResult<TranscriptionStatus> {
        let (engine, mut off_because) = self.transcription.default_engine();
        if let Some(t) = tenant {
            off_because = match self.transcription_plan(t).await? {
                Some(_) => None,
                None => Some(off_because.unwrap_or_else(|| "off for this tenant".into())),
            };
        }
        let jobs = self
            .store
            .transcription_counts(tenant)
            .await?
            .into_iter()
            .map(|(s, n)| (s.as_str(), n))
            .collect();
        Ok(TranscriptionStatus {
            engine,
            off_because,
            jobs,
        })
    }

    /// Takes the newest due job and runs it.
    pub async fn run_next_transcription(&self) -> ServiceResult<Turn> {
        let now = self.clock.now();
        if !self.transcription.may_run(now) {
            return Ok(Turn::Idle);
        }
        let lease = now + chrono::Duration::minutes(LEASE_MINUTES);
        let Some(job) = self.store.claim_transcription(now, lease).await? else {
            return Ok(Turn::Idle);
        };
        let pauses = self.transcription.pauses();
        let outcome = self.run_transcription(&job, now).await;
        // Jobs left alone because of settings or a pause were not tried: no error, no log.
        let tried = !matches!(outcome, Err(Outcome::Off | Outcome::Paused(_)));
        let settle = match outcome {
            Ok(()) => return Ok(Turn::Transcribed),
            Err(Outcome::Gone) => return Ok(Turn::Settled),
            Err(Outcome::Fail(error)) => Settle::Failed { error },
            // Settings are read at start, so the job waits for a restart that turns it
            // on; once an hour it is looked at again.
            Err(Outcome::Off) => Settle::Retry {
                error: "transcription is off for this tenant".into(),
                not_before: now + backoff(u32::MAX),
                counted: false,
            },
            Err(Outcome::Paused(until)) => Settle::Retry {
                error: job.error.clone().unwrap_or_else(|| {
                    "the transcription engine is unavailable: waiting to try it again".into()
                }),
                not_before: until,
                counted: false,
            },
            Err(Outcome::Engine(kind, EngineError::Unavailable(e))) => Settle::Retry {
                error: format!("the transcription engine is unavailable: {e}"),
                not_before: pauses.went_down(kind, now),
                counted: false,
            },
            Err(Outcome::Engine(kind, EngineError::Failed(e))) => {
                pauses.came_up(kind);
                Settle::Retry {
                    error: format!("Transcription job failed at the engine: {e}"),
                    not_before: now + backoff(job.attempts),
                    counted: true,
                }
            }
            Err(Outcome::Store(e)) => {
                // Left to its lease: the store itself is failing, so is this settle.
                return Err(e);
            }
        };
        match &settle {
            Settle::Failed { error } => {
                tracing::warn!(interaction = job.interaction_id, %error, "transcription failed")
            }
            Settle::Retry { error, .. } if tried => {
                tracing::info!(interaction = job.interaction_id, %error, attempts = job.attempts, "transcription will be tried again")
            }
            Settle::Retry { .. } => {}
        }
        if tried {
            metrics::counter!("callvault_transcription_errors_total").increment(1);
        }
        self.store
            .settle_transcription(&job, &settle, self.clock.now())
            .await?;
        Ok(Turn::Settled)
    }

    async fn run_transcription(
        &self,
        job: &TranscriptionJob,
        now: DateTime<Utc>,
    ) -> Result<(), Outcome> {
        if job.attempts > MAX_TRANSCRIPTION_ATTEMPTS {
            return Err(Outcome::Fail(format!(
                "Transcription job failed: the runner stopped {} times on this recording",
                job.attempts - 1
            )));
        }
        let found = self
            .store
            .interactions_by_ids(job.tenant_id, &[job.interaction_id])
            .await
            .map_err(|e| Outcome::Store(e.into()))?;
        let Some(i) = found.into_iter().next() else {
            return Err(Outcome::Gone);
        };
        let Some(item) = i.content.iter().find(|c| c.key == job.content_key).cloned() else {
            return Err(Outcome::Gone);
        };
        let Some(plan) = self
            .transcription_plan(job.tenant_id)
            .await
            .map_err(Outcome::Store)?
        else {
            return Err(Outcome::Off);
        };
        if let Some(until) = self.transcription.pauses().until(plan.kind, now) {
            return Err(Outcome::Paused(until));
        }
        if item.length > MAX_AUDIO_BYTES {
            return Err(Outcome::Fail(format!(
                "the recording is larger than the {MAX_AUDIO_BYTES} bytes transcription reads"
            )));
        }
        let bytes = self.read_all(&item).await.map_err(Outcome::Store)?;
        let media_type = item.media_type.clone();
        let channels = tokio::task::spawn_blocking(move || decode_channels(bytes, &media_type))
            .await
            .map_err(|e| Outcome::Fail(format!("the decoder stopped: {e}")))?
            .map_err(Outcome::Fail)?;
        let started = std::time::Instant::now();
        let transcript = self
            .transcribe_channels(&plan, channels)
            .await
            .map_err(|e| Outcome::Engine(plan.kind, e))?;
        self.transcription.pauses().came_up(plan.kind);
        let audio_ms = transcript.duration_ms.unwrap_or(0);
        metrics::counter!("callvault_transcribed_audio_ms_total").increment(audio_ms);
        tracing::info!(
            interaction = %i.meta.guid,
            engine = plan.engine.name(),
            audio_ms,
            took_ms = started.elapsed().as_millis() as u64,
            segments = transcript.segments.len(),
            "transcribed"
        );
        self.store_transcript(job.tenant_id, &i.meta.guid, &transcript)
            .await
            .map_err(Outcome::Store)
    }

    /// Each channel on its own; on a stereo recording channel 0 is the agent and 1 the
    /// customer. Segments are merged in time order.
    async fn transcribe_channels(
        &self,
        plan: &Plan,
        channels: Vec<Vec<i16>>,
    ) -> Result<Transcript, EngineError> {
        let stereo = channels.len() > 1;
        let duration_ms = channels
            .iter()
            .map(|c| c.len() as u64 * 1000 / u64::from(super::engine::ENGINE_RATE))
            .max();
        let mut segments = Vec::new();
        for (n, samples) in channels.into_iter().enumerate() {
            let speech = Speech {
                samples,
                language: self.transcription.language().to_string(),
            };
            for h in plan.engine.transcribe(speech).await? {
                segments.push(Segment {
                    start_ms: h.start_ms,
                    end_ms: h.end_ms,
                    speaker: stereo.then(|| if n == 0 { "agent" } else { "customer" }.into()),
                    channel: stereo.then_some(n as u32),
                    text: h.text,
                    confidence: h.confidence,
                });
            }
        }
        segments.sort_by_key(|s| (s.start_ms, s.channel));
        Ok(Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            language: self.transcription.language().to_string(),
            engine: plan.engine.name().into(),
            model: Some(plan.engine.model()),
            duration_ms,
            segments,
        })
    }

    pub(crate) async fn read_all(&self, item: &ContentItem) -> ServiceResult<Vec<u8>> {
        let read = self.blobs.open(&item.blob_key, None).await?;
        let mut out = Vec::with_capacity(read.len as usize);
        let mut s = read.stream;
        while let Some(chunk) = s
            .try_next()
            .await
            .map_err(|e| ServiceError::Unavailable(format!("reading the recording: {e}")))?
        {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn store_transcript(
        &self,
        tenant: TenantId,
        guid: &Guid,
        transcript: &Transcript,
    ) -> ServiceResult<()> {
        let body = Bytes::from(serde_json::to_vec(transcript).map_err(|e| {
            ServiceError::Invalid(callvault_core::Invalid::new("transcript", e.to_string()))
        })?);
        let upload = ContentUpload {
            content_type: Some(ContentType::Transcript),
            media_type: "application/json".into(),
            expected_len: Some(body.len() as u64),
            expected_sha256: None,
            owning_agent: None,
            owning_interaction_plan: None,
            version: None,
            duration_ms: transcript.duration_ms,
        };
        let body = stream::iter([Ok::<_, Infallible>(body)]);
        self.put_content(
            tenant,
            guid,
            &ContentKey::Type(ContentType::Transcript),
            upload,
            body,
        )
        .await
        .map(drop)
    }

    /// Why a tenant's request for transcription cannot be met.
    fn transcription_off(&self) -> ServiceError {
        let (_, why) = self.transcription.default_engine();
        ServiceError::Unavailable(format!(
            "transcription is off for this tenant: {}",
            why.unwrap_or_else(|| "its engine is not available".into())
        ))
    }

    /// Queues an interaction's recording for transcription again, from scratch; its
    /// current transcript stays until the new one replaces it.
    pub async fn retranscribe(&self, tenant: TenantId, i: &Interaction) -> ServiceResult<()> {
        if self.transcription_plan(tenant).await?.is_none() {
            return Err(self.transcription_off());
        }
        let Some(audio) = transcribable(i) else {
            return Err(ServiceError::Conflict(format!(
                "interaction {} has no call recording or voicemail to transcribe",
                i.meta.guid
            )));
        };
        self.store
            .queue_transcription(tenant, i.id, &audio.key, self.clock.now())
            .await?;
        Ok(())
    }

    /// Queues every recording of the tenant (started at or after `since`) that has
    /// neither a transcript nor a job; `progress` hears after each page. Resumable: a
    /// second run passes over what the first queued.
    pub async fn backfill_transcriptions(
        &self,
        tenant: TenantId,
        since: Option<DateTime<Utc>>,
        mut progress: impl FnMut(Backfill),
    ) -> ServiceResult<Backfill> {
        let Some(plan) = self.transcription_plan(tenant).await? else {
            return Err(self.transcription_off());
        };
        let mut done = Backfill::default();
        let mut after = None;
        let mut last_queued = None;
        loop {
            let page = self
                .store
                .untranscribed(tenant, since, after, BACKFILL_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.cursor);
            for u in &page {
                done.scanned += 1;
                if last_queued == Some(u.interaction_id)
                    || !plan.what.wants(u.content_type, u.direction)
                {
                    continue;
                }
                if self
                    .store
                    .queue_transcription(tenant, u.interaction_id, &u.content_key, self.clock.now())
                    .await?
                {
                    done.queued += 1;
                    last_queued = Some(u.interaction_id);
                }
            }
            progress(done);
        }
        Ok(done)
    }

    /// The job states of some interactions, for the dialects that show them.
    pub async fn transcription_states(
        &self,
        tenant: TenantId,
        ids: &[i64],
    ) -> ServiceResult<BTreeMap<i64, (TranscriptionState, Option<String>)>> {
        Ok(self
            .store
            .transcription_jobs(tenant, ids)
            .await?
            .into_iter()
            .map(|j| (j.interaction_id, (j.state, j.error)))
            .collect())
    }
}

/// The item a transcription of the interaction reads: its call recording, else its
/// first voicemail.
pub(crate) fn transcribable(i: &Interaction) -> Option<&ContentItem> {
    i.content
        .iter()
        .find(|c| c.content_type == ContentType::CallRecording)
        .or_else(|| {
            i.content
                .iter()
                .find(|c| c.content_type == ContentType::Voicemail)
        })
}

enum Outcome {
    /// The recording or its interaction was deleted meanwhile (the job went with it).
    Gone,
    /// The job fails now, with this reason.
    Fail(String),
    /// The tenant has no working engine.
    Off,
    /// The tenant's engine was found down and is not asked again before this.
    Paused(DateTime<Utc>),
    Engine(EngineKind, EngineError),
    Store(ServiceError),
}
