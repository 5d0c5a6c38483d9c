//! Runs export jobs: claims a due job under a lease, walks the content it covers in the
//! order it was stored, writes each item and its metadata to the target, and records
//! each write (ledger row + watermark) in one transaction.
//!
//! Exactly once: object names are a pure function of the item, so a write repeated after
//! a crash (written, then killed before the record) replaces the same object instead of
//! adding one; the ledger keeps an item from being counted or sent twice; the watermark
//! lets a resumed run start where the last record left off. A storage failure is retried
//! a few times, then fails the run: the job records the reason and tries again with
//! backoff, and after `MAX_FAILURES` runs in a row it is `Failed` (restart resumes it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use callvault_core::content::extension_for;
use callvault_core::export::{export_object_names, EXPORT_AGE, RECURRING_EVERY};
use callvault_core::{AuditAction, ContentItem, ExportJob, ExportKind, ExportStatus, Interaction};

use crate::audit::Actor;
use callvault_storage::export::{CandidateQuery, RunOutcome};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use serde_json::json;

use super::target::{self, Credentials};
use crate::error::ServiceResult;
use crate::vault::Vault;

/// Consecutive failed runs after which a job is `Failed` (about 4 hours of outage with
/// the backoff below).
pub const MAX_FAILURES: u32 = 10;
const PAGE: u32 = 256;
/// Items in flight to the target at once; object stores reward parallel requests.
const PARALLEL: usize = 8;
/// Items up to this size go in one request; larger ones as multipart uploads.
const SINGLE_PUT: u64 = 16 * 1024 * 1024;
const PART: usize = 16 * 1024 * 1024;
const ITEM_RETRIES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// One item's transfer, boxed (see the run loop).
type Sending<'a> = Pin<Box<dyn Future<Output = Result<u64, String>> + std::marker::Send + 'a>>;

/// How a run ended when nothing failed.
enum RunEnd {
    /// Everything due was transferred.
    Done,
    /// Paused or cancelled while running.
    Stopped,
}

/// A failed run waits 1 minute, doubling with each failure in a row, at most an hour.
fn backoff(failures: u32) -> chrono::Duration {
    callvault_core::time::doubling_backoff(
        chrono::Duration::minutes(1),
        chrono::Duration::minutes(60),
        failures,
    )
}

impl Vault {
    /// Runs the next due export, if any; answers whether there was one.
    pub async fn run_next_export(&self) -> ServiceResult<bool> {
        let now = self.clock.now();
        let Some(job) = self
            .store
            .claim_export(now, now + self.config.export_lease)
            .await?
        else {
            return Ok(false);
        };
        let outcome = match self.run_export_job(&job, now).await {
            Ok(RunEnd::Stopped) => return Ok(true),
            Ok(RunEnd::Done) => RunOutcome {
                status: match job.kind {
                    ExportKind::Batch => ExportStatus::Completed,
                    ExportKind::Recurring => ExportStatus::Scheduled,
                },
                next_run: match job.kind {
                    ExportKind::Batch => None,
                    ExportKind::Recurring => {
                        let due = job.next_run.unwrap_or(now) + RECURRING_EVERY;
                        Some(if due > now {
                            due
                        } else {
                            now + RECURRING_EVERY
                        })
                    }
                },
                failures: 0,
                error: None,
            },
            Err(reason) => {
                let failures = job.failures.saturating_add(1);
                tracing::warn!(job = %job.id, failures, %reason, "export run failed");
                if failures >= MAX_FAILURES {
                    RunOutcome {
                        status: ExportStatus::Failed,
                        next_run: None,
                        failures,
                        error: Some(reason),
                    }
                } else {
                    RunOutcome {
                        status: ExportStatus::Scheduled,
                        next_run: Some(self.clock.now() + backoff(failures)),
                        failures,
                        error: Some(reason),
                    }
                }
            }
        };
        self.store
            .finish_export_run(job.id, &outcome, self.clock.now())
            .await?;
        Ok(true)
    }

    /// One run; `Err` carries the reason shown to the client.
    async fn run_export_job(&self, job: &ExportJob, now: DateTime<Utc>) -> Result<RunEnd, String> {
        let store = self.export_target(job).await?;
        let tenant = self
            .store
            .tenant_by_id(job.tenant_id)
            .await
            .map_err(|e| format!("vault storage error: {e}"))?
            .ok_or("the tenant no longer exists")?;
        let stored_before = match job.kind {
            ExportKind::Recurring => Some(now - EXPORT_AGE),
            ExportKind::Batch => None,
        };
        let mut after = job.watermark.clone();
        loop {
            let q = CandidateQuery {
                tenant: job.tenant_id,
                start: job.start,
                end: job.end,
                stored_before,
                content_types: &job.filters.content_types,
                directions: &job.filters.initial_direction,
                after: after.as_ref(),
                limit: PAGE,
            };
            let page = self
                .store
                .export_candidates(&q)
                .await
                .map_err(|e| format!("vault storage error: {e}"))?;
            let Some(last) = page.last() else {
                return Ok(RunEnd::Done);
            };
            after = Some(callvault_core::ExportWatermark {
                stored_us: last.stored_us,
                interaction_id: last.interaction_id,
                content_key: last.content_key.clone(),
            });
            let mut ids: Vec<i64> = page.iter().map(|c| c.interaction_id).collect();
            ids.dedup();
            let interactions = self
                .store
                .interactions_by_ids(job.tenant_id, &ids)
                .await
                .map_err(|e| format!("vault storage error: {e}"))?;
            let mut due = Vec::with_capacity(page.len());
            for c in page {
                let done = self
                    .store
                    .exported(job.id, &c)
                    .await
                    .map_err(|e| format!("vault storage error: {e}"))?;
                if done {
                    continue;
                }
                let found = interactions
                    .iter()
                    .find(|i| i.id == c.interaction_id)
                    .and_then(|i| {
                        i.content
                            .iter()
                            .find(|it| it.key == c.content_key && it.sha256 == c.sha256)
                            .map(|it| (i, it))
                    });
                // Deleted or replaced since the page was read: nothing to send.
                if let Some((i, it)) = found {
                    due.push((c, i, it));
                }
            }
            // Boxed so the stream's type names no closure: spawned tasks need futures
            // that are `Send` for every lifetime, which closure-built streams are not.
            let sends: Vec<Sending<'_>> = due
                .iter()
                .map(|(_, i, it)| {
                    Box::pin(self.send_item(store.as_ref(), &tenant.name, job, i, it))
                        as Pin<Box<_>>
                })
                .collect();
            let mut sends = futures::stream::iter(sends).buffered(PARALLEL);
            let mut n = 0;
            while let Some(sent) = sends.next().await {
                let bytes = sent?;
                let (c, i, it) = &due[n];
                n += 1;
                let t = self.clock.now();
                let running = self
                    .store
                    .record_export(job.id, c, bytes, t + self.config.export_lease, t)
                    .await
                    .map_err(|e| format!("vault storage error: {e}"))?;
                if !running {
                    return Ok(RunEnd::Stopped);
                }
                let actor = Actor::system(
                    job.tenant_id,
                    job.created_by.clone(),
                    "export",
                    "export job",
                );
                self.audit(actor.event(
                    AuditAction::Export,
                    Some(&i.meta.guid),
                    Some(&it.key),
                    "ok",
                    Some(format!("job {} to storage {}", job.id, job.storage_id)),
                ))
                .await;
                metrics::counter!("callvault_export_items_total").increment(1);
                metrics::counter!("callvault_export_bytes_total").increment(bytes);
            }
        }
    }

    async fn export_target(&self, job: &ExportJob) -> Result<Arc<dyn ObjectStore>, String> {
        let storage = self
            .store
            .storage(job.tenant_id, job.storage_id)
            .await
            .map_err(|e| format!("vault storage error: {e}"))?
            .ok_or("the external storage was deleted")?;
        let creds: Credentials = self
            .sealer
            .open(&storage.sealed_credentials, storage.id.as_bytes())
            .and_then(|b| Credentials::from_stored(&b))
            .ok_or("the storage's credentials cannot be opened with this server's master key")?;
        target::connect(
            &storage.target,
            &creds,
            &self.config.export_root,
            &self.config.egress,
        )
        .map_err(|e| format!("{}: {}", e.field, e.message))
    }

    /// Writes one item and its metadata, retrying briefly; answers the bytes sent.
    async fn send_item(
        &self,
        store: &dyn ObjectStore,
        tenant: &str,
        job: &ExportJob,
        interaction: &Interaction,
        item: &ContentItem,
    ) -> Result<u64, String> {
        let (data, meta) = export_object_names(
            tenant,
            interaction.meta.start,
            interaction.meta.guid.as_str(),
            &item.key,
            extension_for(&item.media_type),
        );
        let metadata = metadata_json(job, interaction, item);
        let mut attempt = 0;
        loop {
            let r = async {
                self.copy_blob(store, &ObjectPath::from(data.as_str()), item)
                    .await?;
                store
                    .put(&ObjectPath::from(meta.as_str()), metadata.clone().into())
                    .await
                    .map_err(|e| format!("writing {meta}: {e}"))?;
                Ok::<_, String>(item.length)
            }
            .await;
            match r {
                Ok(n) => return Ok(n),
                Err(e) if attempt < ITEM_RETRIES.len() => {
                    tracing::debug!(error = %e, attempt, "export write failed; retrying");
                    tokio::time::sleep(ITEM_RETRIES[attempt]).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn copy_blob(
        &self,
        store: &dyn ObjectStore,
        to: &ObjectPath,
        item: &ContentItem,
    ) -> Result<(), String> {
        let read = self
            .blobs
            .open(&item.blob_key, None)
            .await
            .map_err(|e| format!("reading {} from the vault: {e}", item.key))?;
        let mut stream = read.stream;
        let fail = |e: object_store::Error| format!("writing {to}: {e}");
        if read.len <= SINGLE_PUT {
            let mut buf = BytesMut::with_capacity(read.len as usize);
            while let Some(chunk) = stream
                .try_next()
                .await
                .map_err(|e| format!("reading {} from the vault: {e}", item.key))?
            {
                buf.extend_from_slice(&chunk);
            }
            store.put(to, buf.freeze().into()).await.map_err(fail)?;
            return Ok(());
        }
        let upload = store.put_multipart(to).await.map_err(fail)?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
        loop {
            let next = match stream.try_next().await {
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(format!("reading {} from the vault: {e}", item.key));
                }
            };
            let Some(chunk) = next else { break };
            if let Err(e) = w.wait_for_capacity(4).await {
                return Err(fail(e));
            }
            w.write(&chunk);
        }
        w.finish().await.map_err(fail)?;
        Ok(())
    }
}

/// The interaction's metadata beside each exported file, in the Interaction Content
/// API's field names.
fn metadata_json(job: &ExportJob, i: &Interaction, item: &ContentItem) -> bytes::Bytes {
    let m = &i.meta;
    let doc = json!({
        "guid": m.guid.as_str(),
        "start": m.start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "end": m.end.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "initialDirection": m.direction.as_str(),
        "connectFrom": m.connect_from,
        "connectTo": m.connect_to,
        "callerName": m.caller_name,
        "handlingAgents": m.handling_agents,
        "extensions": m.extensions,
        "queueId": m.queue_id,
        "queueName": m.queue_name,
        "channel": m.channel,
        "content": {
            "contentKey": item.key,
            "contentType": item.content_type.as_str(),
            "mediaType": item.media_type,
            "length": item.length,
            "sha256": item.sha256,
            "durationMs": item.duration_ms,
            "lastModified": item.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "exportJobId": job.id.to_string(),
    });
    bytes::Bytes::from(serde_json::to_vec_pretty(&doc).unwrap_or_default())
}
