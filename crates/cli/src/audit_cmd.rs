//! `callvault audit ...`: check a tenant's hash chain, and export its records.

use callvault_http::recordings_files::render::csv_cell;
use callvault_services::audit::AuditFilter;
use callvault_services::Vault;
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use crate::admin;

const PAGE: u32 = 5000;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check the tenant's audit chain; fails, naming the first broken record, if any
    /// record was changed, removed or reordered.
    Verify {
        #[arg(long)]
        tenant: String,
    },
    /// Print every record of the tenant, oldest first.
    Export {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
    },
}

pub async fn run(vault: &Vault, cmd: AuditCmd, out: bool) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Verify { tenant } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let v = vault.verify_audit(t.id).await?;
            let value = json!({
                "tenant": tenant,
                "records": v.records,
                "intact": v.broken.is_none(),
                "firstBrokenSeq": v.broken.as_ref().map(|b| b.seq),
                "reason": v.broken.as_ref().map(|b| b.reason.clone()),
            });
            match &v.broken {
                None => admin::print(
                    out,
                    value,
                    format!(
                        "tenant '{tenant}': {} audit records, chain intact",
                        v.records
                    ),
                ),
                Some(b) => {
                    admin::print(out, value, String::new());
                    anyhow::bail!(
                        "tenant '{tenant}': the audit chain breaks at record {}: {}",
                        b.seq,
                        b.reason
                    );
                }
            }
        }
        AuditCmd::Export { tenant, format } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let mut after = 0;
            let mut csv = csv::Writer::from_writer(std::io::stdout());
            if matches!(format, Format::Csv) {
                csv.write_record([
                    "seq",
                    "at",
                    "principal",
                    "source",
                    "userAgent",
                    "requestId",
                    "dialect",
                    "operation",
                    "action",
                    "interaction",
                    "contentKey",
                    "outcome",
                    "detail",
                    "hash",
                ])?;
            }
            loop {
                let page = vault
                    .audit_records(t.id, &AuditFilter::default(), after, PAGE)
                    .await?;
                for r in &page {
                    match format {
                        Format::Jsonl => println!("{}", serde_json::to_string(r)?),
                        Format::Csv => {
                            let e = &r.event;
                            let o = |v: &Option<String>| csv_cell(v.as_deref().unwrap_or(""));
                            csv.write_record([
                                r.seq.to_string(),
                                e.at.to_rfc3339(),
                                csv_cell(&e.principal),
                                o(&e.source),
                                o(&e.user_agent),
                                o(&e.request_id),
                                csv_cell(&e.dialect),
                                csv_cell(&e.operation),
                                e.action.as_str().to_string(),
                                o(&e.interaction),
                                o(&e.content_key),
                                csv_cell(&e.outcome),
                                o(&e.detail),
                                r.hash.clone(),
                            ])?;
                        }
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => after = last.seq,
                    _ => break,
                }
            }
            csv.flush()?;
        }
    }
    Ok(())
}
