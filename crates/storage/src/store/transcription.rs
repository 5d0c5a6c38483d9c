//! Transcription jobs: one row per interaction, queued by the content write that stores
//! its recording, leased by runners newest call first, settled by the runner or by the
//! write that stores the transcript.

use async_trait::async_trait;
use callvault_core::transcription::{
    TranscriptionJob, TranscriptionState, MAX_TRANSCRIPTION_ATTEMPTS,
};
use callvault_core::{ContentType, Direction, Interaction, InteractionQuery, TenantId};
use chrono::{DateTime, Utc};

use super::outbox::emit_in;
use super::search::push_after;
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::meta::{PageStart, SearchCursor};
use crate::sql::{Conn, Lock, Param, Query, Row};
use crate::transcription::{Settle, TextHit, TranscriptionStore, Untranscribed};
use callvault_core::webhook::{Event, EventType};

const JOB_COLUMNS: &str = "interaction_id, tenant_id, content_key, status, attempts, error, \
                           not_before_us, updated_us";

fn job(row: Row) -> StoreResult<TranscriptionJob> {
    let mut c = row.cols();
    let interaction_id = c.i64()?;
    let tenant_id = TenantId(c.i64()?);
    let content_key = c.text()?;
    let status = c.str()?;
    Ok(TranscriptionJob {
        tenant_id,
        interaction_id,
        content_key,
        state: TranscriptionState::parse(status)
            .ok_or_else(|| StoreError::backend(format!("stored job state {status:?}")))?,
        attempts: c.i64()?.clamp(0, i64::from(u32::MAX)) as u32,
        error: c.opt_text()?,
        not_before: c.time()?,
        updated_at: c.time()?,
    })
}

/// Queues the item's job from scratch, due at once, inside the caller's transaction: a
/// new or replaced recording, or a re-transcription. Answers whether the item exists.
pub(super) async fn queue_in(
    conn: &mut dyn Conn,
    tenant: TenantId,
    interaction_id: i64,
    content_key: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let q = Query::new(
        "INSERT INTO transcription_jobs (interaction_id, tenant_id, content_key, status, \
         attempts, error, start_us, not_before_us, lease_until_us, created_us, updated_us) \
         SELECT c.interaction_id, c.tenant_id, c.content_key, 'pending', 0, NULL, i.start_us, \
         0, NULL, $1, $1 FROM content_items c JOIN interactions i ON i.id = c.interaction_id \
         WHERE c.tenant_id = $2 AND c.interaction_id = $3 AND c.content_key = $4 \
         ON CONFLICT (interaction_id) DO UPDATE SET content_key = excluded.content_key, \
         status = 'pending', attempts = 0, error = NULL, not_before_us = excluded.not_before_us, \
         lease_until_us = NULL, updated_us = excluded.updated_us",
    )
    .bind(now)
    .bind(tenant.0)
    .bind(interaction_id)
    .bind(content_key);
    Ok(conn.execute(q).await? > 0)
}

/// The job is done: its transcript was just stored, by a runner or a client.
pub(super) async fn ready_in(
    conn: &mut dyn Conn,
    interaction_id: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let q = Query::new(
        "UPDATE transcription_jobs SET status = 'ready', error = NULL, lease_until_us = NULL, \
         updated_us = $1 WHERE interaction_id = $2",
    )
    .bind(now)
    .bind(interaction_id);
    conn.execute(q).await.map(drop)
}

/// Drops what was derived from one item (`Some(key)`) or from every item of the
/// interaction: its index rows, and its job when the item was the job's recording or its
/// transcript (so the recording reads as not transcribed, and can be again).
pub(super) async fn forget_in(
    conn: &mut dyn Conn,
    interaction_id: i64,
    key: Option<(&str, ContentType)>,
) -> StoreResult<()> {
    match key {
        Some((key, content_type)) => {
            conn.execute(
                Query::new(
                    "DELETE FROM transcript_segments WHERE interaction_id = $1 \
                     AND content_key = $2",
                )
                .bind(interaction_id)
                .bind(key),
            )
            .await?;
            let mut q = Query::new("DELETE FROM transcription_jobs WHERE interaction_id = ");
            q.push_bind(interaction_id);
            if content_type != ContentType::Transcript {
                q.push(" AND content_key = ").push_bind(key);
            }
            conn.execute(q).await?;
        }
        None => {
            for table in ["transcript_segments", "transcription_jobs"] {
                let q = Query::new(format!("DELETE FROM {table} WHERE interaction_id = $1"));
                conn.execute(q.bind(interaction_id)).await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl TranscriptionStore for SqlStore {
    async fn queue_transcription(
        &self,
        tenant: TenantId,
        interaction_id: i64,
        content_key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let queued = queue_in(tx.as_mut(), tenant, interaction_id, content_key, now).await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn claim_transcription(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<TranscriptionJob>> {
        let mut tx = self.write().await?;
        let next = Query::new(format!(
            "SELECT interaction_id FROM transcription_jobs \
             WHERE (status = 'pending' AND not_before_us <= $1) \
             OR (status = 'in_progress' AND lease_until_us < $1) \
             ORDER BY start_us DESC, interaction_id DESC LIMIT 1{}",
            self.dialect.lock(Lock::UpdateSkipLocked)
        ))
        .bind(now);
        let Some(row) = tx.fetch_optional(next).await? else {
            return Ok(None);
        };
        let id = row.cols().i64()?;
        let take = Query::new(format!(
            "UPDATE transcription_jobs SET status = 'in_progress', attempts = attempts + 1, \
             lease_until_us = $1, updated_us = $2 WHERE interaction_id = $3 \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(lease_until)
        .bind(now)
        .bind(id);
        let taken = tx.fetch_one(take).await.and_then(job)?;
        tx.commit().await?;
        Ok(Some(taken))
    }

    async fn settle_transcription(
        &self,
        held: &TranscriptionJob,
        outcome: &Settle,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (status, attempts, error, not_before) = match outcome {
            Settle::Retry {
                error,
                not_before,
                counted,
            } => {
                let attempts = if *counted {
                    held.attempts
                } else {
                    held.attempts.saturating_sub(1)
                };
                let status = if *counted && attempts >= MAX_TRANSCRIPTION_ATTEMPTS {
                    TranscriptionState::Failed
                } else {
                    TranscriptionState::Pending
                };
                (status, attempts, error, *not_before)
            }
            Settle::Failed { error } => (
                TranscriptionState::Failed,
                held.attempts,
                error,
                held.not_before,
            ),
        };
        let q = Query::new(
            "UPDATE transcription_jobs SET status = $1, attempts = $2, error = $3, \
             not_before_us = $4, lease_until_us = NULL, updated_us = $5 \
             WHERE interaction_id = $6 AND status = 'in_progress' AND updated_us = $7",
        )
        .bind(status.as_str())
        .bind(attempts)
        .bind(error.as_str())
        .bind(not_before)
        .bind(now)
        .bind(held.interaction_id)
        .bind(held.updated_at);
        let mut tx = self.write().await?;
        let settled = tx.execute(q).await? > 0;
        if settled && status == TranscriptionState::Failed {
            let guid = tx
                .fetch_one(
                    Query::new("SELECT guid FROM interactions WHERE id = $1")
                        .bind(held.interaction_id),
                )
                .await?
                .cols()
                .text()?;
            let data = serde_json::json!({
                "interactionId": guid, "contentKey": held.content_key, "error": error,
            });
            let event = Event {
                tenant_id: held.tenant_id,
                event_type: EventType::TranscriptionFailed,
                subject: Some(guid),
                data: data.to_string(),
                at: now,
            };
            emit_in(self.dialect, tx.as_mut(), &event).await?;
        }
        tx.commit().await?;
        Ok(settled)
    }

    async fn transcription_jobs(
        &self,
        tenant: TenantId,
        interaction_ids: &[i64],
    ) -> StoreResult<Vec<TranscriptionJob>> {
        let mut q = Query::new(format!(
            "SELECT {JOB_COLUMNS} FROM transcription_jobs WHERE tenant_id = "
        ));
        q.push_bind(tenant.0).push(" AND ");
        self.dialect.push_in(
            &mut q,
            "interaction_id",
            Param::Ints(interaction_ids.to_vec()),
        );
        q.push(" ORDER BY interaction_id");
        self.fetch(q).await?.into_iter().map(job).collect()
    }

    async fn transcription_counts(
        &self,
        tenant: Option<TenantId>,
    ) -> StoreResult<Vec<(TranscriptionState, u64)>> {
        let mut q = Query::new("SELECT status, COUNT(*) FROM transcription_jobs");
        if let Some(t) = tenant {
            q.push(" WHERE tenant_id = ").push_bind(t.0);
        }
        q.push(" GROUP BY status ORDER BY status");
        self.fetch(q)
            .await?
            .into_iter()
            .map(|r| {
                let mut c = r.cols();
                let s = c.str()?;
                let state = TranscriptionState::parse(s)
                    .ok_or_else(|| StoreError::backend(format!("stored job state {s:?}")))?;
                Ok((state, c.u64()?))
            })
            .collect()
    }

    async fn untranscribed(
        &self,
        tenant: TenantId,
        since: Option<DateTime<Utc>>,
        after: Option<SearchCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Untranscribed>> {
        let mut q = Query::new(
            "SELECT i.id, c.content_key, c.content_type, i.direction, i.start_us \
             FROM interactions i JOIN content_items c ON c.interaction_id = i.id \
             WHERE i.tenant_id = ",
        );
        q.push_bind(tenant.0)
            .push(" AND c.content_type IN ('callRecording', 'voicemail')")
            .push(
                " AND NOT EXISTS (SELECT 1 FROM content_items t WHERE t.interaction_id = i.id \
                 AND t.content_type = 'transcript')",
            )
            .push(
                " AND NOT EXISTS (SELECT 1 FROM transcription_jobs j \
                 WHERE j.interaction_id = i.id)",
            );
        if let Some(since) = since {
            q.push(" AND i.start_us >= ").push_bind(since);
        }
        push_after(&mut q, after, false);
        q.push(&format!(
            " ORDER BY i.start_us, i.id, c.content_key{} LIMIT ",
            self.dialect.bytewise()
        ))
        .push_bind(limit);
        self.fetch(q)
            .await?
            .into_iter()
            .map(|r| {
                let mut c = r.cols();
                let id = c.i64()?;
                let content_key = c.text()?;
                let t = c.str()?;
                let d = c.str()?;
                Ok(Untranscribed {
                    interaction_id: id,
                    content_key,
                    content_type: ContentType::parse(t)
                        .ok_or_else(|| StoreError::backend(format!("stored content type {t:?}")))?,
                    direction: Direction::parse("direction", d)
                        .map_err(|e| StoreError::backend(e.to_string()))?,
                    cursor: SearchCursor {
                        start_us: c.i64()?,
                        id,
                    },
                })
            })
            .collect()
    }

    async fn text_search(
        &self,
        tenant: TenantId,
        query: &InteractionQuery,
        text: &callvault_core::transcript::TextQuery,
        page: PageStart,
        limit: u32,
    ) -> StoreResult<Vec<Interaction>> {
        super::text::search(self, tenant, query, text, page, limit).await
    }

    async fn text_hits(
        &self,
        tenant: TenantId,
        interaction_ids: &[i64],
        text: &callvault_core::transcript::TextQuery,
    ) -> StoreResult<Vec<TextHit>> {
        super::text::hits(self, tenant, interaction_ids, text).await
    }
}
