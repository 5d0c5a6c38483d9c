//! Demo data: three weeks of plausible contact-centre traffic, so that every dialect can be
//! tried against a running vault without a real platform behind it.
//!
//! Everything is stored through [`Vault::upsert_interaction`] and [`Vault::put_content`],
//! so the demo goes through the same validation, audio probing and durable commits as real
//! ingest. The whole plan is drawn from one seeded RNG before any I/O: the uploads run
//! concurrently, but their order cannot change what a seed produces, and a re-run upserts
//! the same GUIDs and content keys instead of adding new ones.

mod audio;
mod data;
mod plan;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use callvault_core::TenantId;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::error::{ServiceError, ServiceResult};
use crate::vault::Vault;
use plan::{Body, Plan, Planner};

const DAYS: i64 = 21;
/// Enough uploads in flight to overlap hashing, fsyncs and the single SQLite writer on a
/// small machine without queueing hundreds of staged files.
const CONCURRENCY: usize = 8;
const CHUNK: usize = 64 * 1024;
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub interactions: usize,
    pub content_items: usize,
    /// Bytes uploaded, counting every reuse of a pooled recording.
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Seeds `interactions` interactions into `tenant`, ending at `now`; the same seed and
/// `now` always produce the same data.
pub async fn seed_demo(
    vault: &Vault,
    tenant: TenantId,
    now: DateTime<Utc>,
    interactions: usize,
    seed: u64,
) -> ServiceResult<DemoReport> {
    let began = Instant::now();
    let tenant_name = vault
        .store
        .tenant_by_id(tenant)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("tenant {} not found", tenant.0)))?
        .name;
    let pool = audio::pool();
    let mut planner = Planner::new(seed, now, &tenant_name, &pool);
    let plans = (0..interactions)
        .map(|_| planner.interaction())
        .collect::<ServiceResult<Vec<_>>>()?;
    let (content_items, bytes) = stream::iter(plans)
        .map(|plan| store(vault, tenant, &pool, plan))
        .buffer_unordered(CONCURRENCY)
        .try_fold((0usize, 0u64), |(n, b), (dn, db)| async move {
            Ok((n + dn, b + db))
        })
        .await?;
    Ok(DemoReport {
        interactions,
        content_items,
        bytes,
        elapsed: began.elapsed(),
    })
}

async fn store(
    vault: &Vault,
    tenant: TenantId,
    pool: &[audio::Clip],
    plan: Plan,
) -> ServiceResult<(usize, u64)> {
    vault.upsert_interaction(tenant, &plan.meta).await?;
    let mut bytes = 0;
    let count = plan.items.len();
    for item in plan.items {
        let body = match item.body {
            Body::Audio(i) => pool[i].bytes.clone(),
            Body::Json(b) => b,
        };
        bytes += body.len() as u64;
        let chunks: Vec<Result<Bytes, Infallible>> = (0..body.len())
            .step_by(CHUNK)
            .map(|at| Ok(body.slice(at..(at + CHUNK).min(body.len()))))
            .collect();
        vault
            .put_content(
                tenant,
                &plan.meta.guid,
                &item.key,
                item.upload,
                stream::iter(chunks),
            )
            .await?;
    }
    Ok((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VaultConfig;
    use callvault_core::{ContentType, Direction, Interaction, InteractionQuery};
    use callvault_storage::meta::PageStart;
    use chrono::{TimeDelta, TimeZone};

    /// Every interaction the demo can have written, via the real search in 7-day windows.
    async fn all(vault: &Vault, tenant: TenantId, now: DateTime<Utc>) -> Vec<Interaction> {
        let mut out = Vec::new();
        for week in (0..3).rev() {
            let end = now - TimeDelta::days(7 * week);
            let filter = InteractionQuery {
                start: Some((end - TimeDelta::days(7) + TimeDelta::microseconds(1), end)),
                ..Default::default()
            };
            let start = PageStart::After(None);
            out.extend(
                vault
                    .store
                    .search(tenant, &filter, start, 1000)
                    .await
                    .unwrap(),
            );
        }
        out
    }

    #[tokio::test]
    async fn seeds_realistic_data_and_reseeds_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open_embedded(VaultConfig::embedded(dir.path()))
            .await
            .unwrap();
        let tenant = vault
            .store
            .create_tenant("demo", "Europe/London")
            .await
            .unwrap()
            .id;
        let now = Utc.with_ymd_and_hms(2024, 3, 14, 15, 27, 41).unwrap();

        let report = seed_demo(&vault, tenant, now, 60, 7).await.unwrap();
        assert_eq!(report.interactions, 60);
        let first = all(&vault, tenant, now).await;
        assert_eq!(first.len(), 60);
        let items: Vec<_> = first.iter().flat_map(|i| &i.content).collect();
        assert_eq!(items.len(), report.content_items);
        assert_eq!(items.iter().map(|c| c.length).sum::<u64>(), report.bytes);
        let of = |t: ContentType| items.iter().filter(move |c| c.content_type == t);
        assert!(of(ContentType::CallRecording).count() >= 40);
        for rec in of(ContentType::CallRecording) {
            let ms = rec.duration_ms.expect("recordings have a duration");
            assert!((15_000..=35_000).contains(&ms), "{ms}");
            assert_eq!(rec.media_type, "audio/mpeg");
        }
        // Transcripts come from the engine, never from the demo (here transcription is
        // off).
        assert_eq!(of(ContentType::Transcript).count(), 0);
        assert!(of(ContentType::ChatTranscript)
            .all(|c| c.version == Some(1) && c.duration_ms.is_some()));
        assert!(of(ContentType::Voicemail).all(|c| c.owning_agent.is_some()));
        for i in &first {
            let end = i.meta.end.unwrap();
            assert!(i.meta.start >= now - TimeDelta::days(DAYS) && end <= now);
            assert!(!i.meta.handling_agents.is_empty());
            assert!(!i.content.is_empty());
        }
        let inbound = first
            .iter()
            .filter(|i| i.meta.direction == Direction::Inbound)
            .count();
        assert!((25..=50).contains(&inbound), "{inbound}");

        let again = seed_demo(&vault, tenant, now, 60, 7).await.unwrap();
        assert_eq!(again.content_items, report.content_items);
        let second = all(&vault, tenant, now).await;
        let keys = |v: &[Interaction]| {
            let mut k: Vec<_> = v
                .iter()
                .flat_map(|i| {
                    i.content
                        .iter()
                        .map(|c| (i.meta.guid.clone(), c.key.clone(), c.sha256.clone()))
                })
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys(&second), keys(&first));
        assert_eq!(
            second.iter().map(|i| &i.meta).collect::<Vec<_>>(),
            first.iter().map(|i| &i.meta).collect::<Vec<_>>()
        );
    }
}
