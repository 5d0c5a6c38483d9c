//! `callvault ingest --tenant NAME PATH`: a progress bar while rows load, then a summary of
//! what failed and why. Re-running resumes: stored items are skipped.

use std::path::Path;
use std::sync::Mutex;

use callvault_services::folder_ingest::{ingest_folder, IngestEvent, RowOutcome};
use callvault_services::Vault;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::admin;

pub async fn run(vault: &Vault, tenant: &str, path: &Path, json_out: bool) -> anyhow::Result<()> {
    let tenant = admin::tenant_by_name(vault, tenant).await?;
    let bar = Mutex::new(None::<ProgressBar>);
    let progress = |event: IngestEvent| {
        let mut guard = bar.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            IngestEvent::Started { total } => {
                let pb = if json_out {
                    ProgressBar::hidden()
                } else {
                    ProgressBar::new(total as u64)
                };
                pb.set_style(
                    ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} rows  {elapsed_precise}  {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                *guard = Some(pb);
            }
            IngestEvent::Row { file, outcome, .. } => {
                if let Some(pb) = guard.as_ref() {
                    if let RowOutcome::Failed(_) = outcome {
                        pb.set_message(format!("failed: {file}"));
                    }
                    pb.inc(1);
                }
            }
        }
    };
    let summary = ingest_folder(vault, tenant.id, path, &progress).await?;
    if let Some(pb) = bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
        pb.finish_and_clear();
    }
    let failures: Vec<_> = summary
        .failed
        .iter()
        .map(|(line, why)| json!({ "line": line, "reason": why }))
        .collect();
    let mut human = format!(
        "{} rows: {} ingested, {} already present, {} failed",
        summary.total,
        summary.ingested,
        summary.skipped,
        summary.failed.len()
    );
    for (line, why) in &summary.failed {
        human.push_str(&format!("\n  line {line}: {why}"));
    }
    admin::print(
        json_out,
        json!({ "total": summary.total, "ingested": summary.ingested, "skipped": summary.skipped, "failed": failures }),
        human,
    );
    if !summary.failed.is_empty() {
        anyhow::bail!(
            "{} rows failed; fix them and run the same command again to resume",
            summary.failed.len()
        );
    }
    Ok(())
}
