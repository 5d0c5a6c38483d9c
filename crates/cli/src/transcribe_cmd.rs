//! `callvault transcribe --tenant T [--since DATE] [--interaction GUID]`: queues the
//! tenant's recordings that have neither a transcript nor a job (or one interaction,
//! from scratch), then transcribes the queue here with a progress bar. Interrupting is
//! safe and re-running resumes: queued jobs stay queued, and a lease held by this
//! process lapses for any runner to take over.

use std::time::Duration;

use callvault_core::time::parse_instant;
use callvault_core::Guid;
use callvault_services::transcription::Turn;
use callvault_services::Vault;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::admin;

pub struct Args<'a> {
    pub tenant: &'a str,
    pub since: Option<&'a str>,
    pub interaction: Option<&'a str>,
    pub queue_only: bool,
}

pub async fn run(vault: &Vault, args: Args<'_>, json_out: bool) -> anyhow::Result<()> {
    let tenant = admin::tenant_by_name(vault, args.tenant).await?.id;
    let bar = if json_out {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}  {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let (scanned, queued) = match args.interaction {
        Some(g) => {
            let guid = Guid::parse("interaction", g)?;
            let i = vault.interaction(tenant, &guid).await?;
            vault.retranscribe(tenant, &i).await?;
            (1, 1)
        }
        None => {
            let since = args.since.map(|s| parse_instant("since", s)).transpose()?;
            let done = vault
                .backfill_transcriptions(tenant, since, |p| {
                    bar.set_message(format!(
                        "{} recordings looked at, {} queued",
                        p.scanned, p.queued
                    ))
                })
                .await?;
            (done.scanned, done.queued)
        }
    };
    let mut transcribed = 0u64;
    if !args.queue_only {
        let waiting = |s: &callvault_services::transcription::TranscriptionStatus| {
            s.jobs.get("pending").copied().unwrap_or(0)
                + s.jobs.get("in_progress").copied().unwrap_or(0)
        };
        let total = waiting(&vault.transcription_status(Some(tenant)).await?);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} transcribed  {elapsed_precise}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_length(total);
        loop {
            let turn = vault.run_next_transcription().await?;
            if turn != Turn::Idle {
                // Jobs put back to wait, failed or gone are no transcripts made here.
                transcribed += u64::from(turn == Turn::Transcribed);
                let left = waiting(&vault.transcription_status(Some(tenant)).await?);
                bar.set_position(total.saturating_sub(left));
                continue;
            }
            // Nothing due: done, unless another runner is still on one of this tenant's.
            let status = vault.transcription_status(Some(tenant)).await?;
            if status.jobs.get("in_progress").copied().unwrap_or(0) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    bar.finish_and_clear();
    let status = vault.transcription_status(Some(tenant)).await?;
    let count = |s: &str| status.jobs.get(s).copied().unwrap_or(0);
    admin::print(
        json_out,
        json!({
            "scanned": scanned,
            "queued": queued,
            "transcribedHere": transcribed,
            "jobs": status.jobs,
        }),
        format!(
            "{scanned} recordings looked at, {queued} queued, {transcribed} transcribed here; \
             jobs now: {} ready, {} failed, {} waiting",
            count("ready"),
            count("failed"),
            count("pending") + count("in_progress")
        ),
    );
    Ok(())
}
