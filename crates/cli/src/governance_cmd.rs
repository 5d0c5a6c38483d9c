//! `callvault governance ...`: legal holds, retention policies and their dry run, the
//! retention pass, and deleting an interaction by hand, which obeys them like every API.

use std::time::Duration;

use callvault_core::governance::Selector;
use callvault_core::{Guid, LegalHold, RetentionPolicy, TenantId};
use callvault_services::audit::Actor;
use callvault_services::erasure::Subject;
use callvault_services::governance::{NewHold, PolicySpec};
use callvault_services::Vault;
use clap::Subcommand;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::admin;

/// The CLI acting on a tenant: named `cli` in the audit trail, with the operator's
/// login name when the environment tells it.
pub fn cli_actor(tenant: TenantId, operation: &'static str) -> Actor {
    let mut a = Actor::system(tenant, "cli".into(), "cli", operation);
    a.user_agent = std::env::var("USER")
        .ok()
        .map(|u| format!("callvault-cli ({u})"));
    a
}

#[derive(Subcommand)]
pub enum GovernanceCmd {
    /// Place a legal hold: nothing it covers can be deleted until it is released.
    Hold {
        #[arg(long)]
        tenant: String,
        #[arg(long = "case")]
        case_name: String,
        #[arg(long)]
        reason: String,
        /// Interactions by GUID (repeatable).
        #[arg(long = "guid")]
        guids: Vec<String>,
        /// A query as JSON, e.g. '{"number":"+15551230001","startFrom":"2026-01-01T00:00:00Z"}'
        /// (fields as in the API's selector).
        #[arg(long)]
        selector: Option<String>,
    },
    /// List the tenant's holds, released ones included.
    Holds {
        #[arg(long)]
        tenant: String,
    },
    /// Release a hold; nothing is deleted by the release.
    Release {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Create a retention policy (disabled unless --enabled: dry-run it first).
    Policy {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        min_days: Option<u32>,
        #[arg(long)]
        max_days: Option<u32>,
        /// Which content, as JSON (the API's selector, with `contentTypes`).
        #[arg(long)]
        selector: Option<String>,
        #[arg(long)]
        enabled: bool,
    },
    /// List the tenant's retention policies.
    Policies {
        #[arg(long)]
        tenant: String,
    },
    /// Switch a policy on or off.
    Enable {
        #[arg(long)]
        tenant: String,
        id: Uuid,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        on: bool,
    },
    /// Remove a policy; nothing is deleted by the removal.
    RemovePolicy {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// What a policy would delete today, were it enabled; deletes nothing.
    DryRun {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// Run retention now over every tenant (the server's housekeeping does it too).
    Retention {
        /// Stop after this many seconds; the next run goes on.
        #[arg(long, default_value_t = 3600)]
        budget_secs: u64,
    },
    /// Erase a data subject: every interaction a number or address took part in, with its
    /// content and metadata (held ones are kept and listed). --preview deletes nothing.
    Erase {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        subject: String,
        /// Only interactions that started at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Only interactions that started before this time (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        preview: bool,
    },
    /// When was this subject erased? Answered from the trail's keyed hash.
    Erasures {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        subject: String,
    },
    /// Delete one interaction with all its content, as the APIs' deletes do: refused
    /// while a hold or a minimum retention covers it.
    Delete {
        #[arg(long)]
        tenant: String,
        guid: String,
    },
}

fn selector(raw: Option<&str>, guids: &[String]) -> anyhow::Result<Selector> {
    let mut s: Selector = match raw {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| anyhow::anyhow!("--selector is not a valid selector: {e}"))?,
        None => Selector::default(),
    };
    for g in guids {
        s.guids.push(Guid::parse("--guid", g)?);
    }
    Ok(s)
}

fn hold_human(h: &LegalHold) -> String {
    let state = match &h.released_at {
        Some(at) => format!("released {}", at.to_rfc3339()),
        None => "active".into(),
    };
    format!("{}\t{}\t{state}\t{}", h.id, h.case_name, h.reason)
}

fn policy_human(p: &RetentionPolicy) -> String {
    let days = |d: Option<u32>| d.map_or("-".to_string(), |d| d.to_string());
    format!(
        "{}\t{}\tmin {}\tmax {}\t{}",
        p.id,
        p.name,
        days(p.min_days),
        days(p.max_days),
        if p.enabled { "enabled" } else { "disabled" }
    )
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub async fn run(vault: &Vault, cmd: GovernanceCmd, out: bool) -> anyhow::Result<()> {
    match cmd {
        GovernanceCmd::Hold {
            tenant,
            case_name,
            reason,
            guids,
            selector: raw,
        } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let selector = selector(raw.as_deref(), &guids)?;
            let h = vault
                .create_hold(
                    &cli_actor(t.id, "create hold"),
                    NewHold {
                        case_name,
                        reason,
                        selector,
                    },
                )
                .await?;
            admin::print(out, to_json(&h), format!("placed hold {}", hold_human(&h)));
        }
        GovernanceCmd::Holds { tenant } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let holds = vault.holds(t.id).await?;
            let human = holds.iter().map(hold_human).collect::<Vec<_>>().join("\n");
            admin::print(out, to_json(&holds), human);
        }
        GovernanceCmd::Release { tenant, id } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let h = vault
                .release_hold(&cli_actor(t.id, "release hold"), id)
                .await?;
            admin::print(out, to_json(&h), hold_human(&h));
        }
        GovernanceCmd::Policy {
            tenant,
            name,
            min_days,
            max_days,
            selector: raw,
            enabled,
        } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let spec = PolicySpec {
                name,
                selector: selector(raw.as_deref(), &[])?,
                min_days,
                max_days,
                enabled,
            };
            let p = vault
                .put_policy(&cli_actor(t.id, "create policy"), None, spec)
                .await?;
            admin::print(out, to_json(&p), format!("created {}", policy_human(&p)));
        }
        GovernanceCmd::Policies { tenant } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let list = vault.policies(t.id).await?;
            let human = list.iter().map(policy_human).collect::<Vec<_>>().join("\n");
            admin::print(out, to_json(&list), human);
        }
        GovernanceCmd::Enable { tenant, id, on } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let p = vault.policy(t.id, id).await?;
            let spec = PolicySpec {
                name: p.name,
                selector: p.selector,
                min_days: p.min_days,
                max_days: p.max_days,
                enabled: on,
            };
            let p = vault
                .put_policy(&cli_actor(t.id, "enable policy"), Some(id), spec)
                .await?;
            admin::print(out, to_json(&p), policy_human(&p));
        }
        GovernanceCmd::RemovePolicy { tenant, id } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            vault
                .delete_policy(&cli_actor(t.id, "remove policy"), id)
                .await?;
            admin::print(
                out,
                json!({ "removed": id }),
                format!("removed policy {id}"),
            );
        }
        GovernanceCmd::DryRun { tenant, id } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let p = vault.policy(t.id, id).await?;
            let r = vault.dry_run(t.id, &p).await?;
            let human = format!(
                "policy '{}' would delete today: {} interactions, {} content items, {} bytes\nsample: {}",
                p.name,
                r.interactions,
                r.items,
                r.bytes,
                r.sample.join(" ")
            );
            admin::print(out, to_json(&r), human);
        }
        GovernanceCmd::Retention { budget_secs } => {
            let r = vault
                .run_retention(Duration::from_secs(budget_secs))
                .await?;
            let human =
                format!(
                "retention deleted {} interactions and {} content items ({} bytes); {} refused{}",
                r.interactions,
                r.items,
                r.bytes,
                r.refused,
                if r.incomplete { "; stopped at the budget, run again" } else { "" }
            );
            admin::print(out, to_json(&r), human);
        }
        GovernanceCmd::Erase {
            tenant,
            subject,
            from,
            to,
            preview,
        } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let s = Subject {
                address: subject,
                from,
                to,
            };
            let r = if preview {
                vault.erasure_preview(t.id, &s).await?
            } else {
                vault.erase(&cli_actor(t.id, "erase subject"), &s).await?
            };
            let verb = if preview { "would erase" } else { "erased" };
            let kept: Vec<String> = r
                .kept
                .iter()
                .map(|k| format!("{}: {}", k.guid, k.reason))
                .collect();
            let human = format!(
                "{verb} {} interactions ({} content items); kept {}{}{}",
                r.erased.len(),
                r.items,
                r.kept.len(),
                if kept.is_empty() { "" } else { "\n" },
                kept.join("\n")
            );
            admin::print(out, to_json(&r), human);
        }
        GovernanceCmd::Erasures { tenant, subject } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let list = vault.erasures_of(t.id, &subject).await?;
            let human = if list.is_empty() {
                "no erasure of this subject is recorded".to_string()
            } else {
                list.iter()
                    .map(|e| format!("{}\t{}\t{}", e.at.to_rfc3339(), e.principal, e.detail))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            admin::print(out, to_json(&list), human);
        }
        GovernanceCmd::Delete { tenant, guid } => {
            let t = admin::tenant_by_name(vault, &tenant).await?;
            let guid = Guid::parse("guid", &guid)?;
            let removed = vault
                .delete_interaction(&cli_actor(t.id, "delete interaction"), &guid)
                .await?;
            admin::print(
                out,
                json!({ "deleted": guid.as_str(), "items": removed.items.len() }),
                format!("deleted {guid} and {} content items", removed.items.len()),
            );
        }
    }
    Ok(())
}
