//! `callvault audit ...`: check a tenant's hash chain, and export its records.

use std::io::Write;

use callvault_http::audit_api;
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
            let mut first = true;
            loop {
                let page = vault
                    .audit_records(t.id, &AuditFilter::default(), after, PAGE)
                    .await?;
                match format {
                    Format::Csv => std::io::stdout().write_all(&audit_api::csv(&page, first))?,
                    Format::Jsonl => {
                        for r in &page {
                            println!("{}", serde_json::to_string(r)?);
                        }
                    }
                }
                first = false;
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => after = last.seq,
                    _ => break,
                }
            }
        }
    }
    Ok(())
}
