//! `callvault webhook ...`: the subscription API from the command line, with `--json`
//! for scripts. The signing key is printed once, by the create that generated it.

use callvault_core::time::format_utc_millis as time;
use callvault_core::webhook::{DeliveryState, EventType, Subscription};
use callvault_services::webhooks::SubscriptionSpec;
use callvault_services::Vault;
use clap::Subcommand;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::admin;

#[derive(Subcommand)]
pub enum WebhookCmd {
    /// Subscribe a URL to event types (content.created, content.deleted,
    /// interaction.deleted, transcription.ready, transcription.failed, export.completed,
    /// export.failed, bulk_download.completed, bulk_download.failed).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        url: String,
        /// An event type (repeatable).
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        /// Base64 signing key; generated and printed once when absent.
        #[arg(long)]
        signing_key: Option<String>,
        /// Create it switched off.
        #[arg(long)]
        disabled: bool,
    },
    List {
        #[arg(long)]
        tenant: String,
    },
    Delete {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
    /// A subscription's latest deliveries, with their state and last error.
    Deliveries {
        #[arg(long)]
        tenant: String,
        id: Uuid,
        /// pending, delivered or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

fn shown(s: &Subscription, key: Option<&str>) -> Value {
    let mut v = json!({
        "id": s.id, "name": s.name, "url": s.url, "enabled": s.enabled,
        "events": s.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "createdAt": time(s.created_at),
    });
    if let Some(k) = key {
        v["signingKey"] = Value::from(k);
    }
    v
}

pub async fn run(vault: &Vault, cmd: WebhookCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        WebhookCmd::Create {
            tenant,
            name,
            url,
            events,
            signing_key,
            disabled,
        } => {
            let t = admin::tenant_by_name(vault, &tenant).await?.id;
            let events = events
                .iter()
                .map(|e| EventType::parse("--event", e))
                .collect::<Result<Vec<_>, _>>()?;
            let spec = SubscriptionSpec {
                name,
                url,
                events,
                enabled: !disabled,
                key: signing_key,
            };
            let c = vault.create_subscription(t, spec).await?;
            let mut human = format!(
                "subscription {} ({})",
                c.subscription.id, c.subscription.name
            );
            if let Some(k) = &c.key {
                human.push_str(&format!("\nsigning key (shown once): {k}"));
            }
            admin::print(json_out, shown(&c.subscription, c.key.as_deref()), human);
        }
        WebhookCmd::List { tenant } => {
            let t = admin::tenant_by_name(vault, &tenant).await?.id;
            let subs = vault.subscriptions(t).await?;
            let human = subs
                .iter()
                .map(|s| {
                    let events: Vec<&str> = s.events.iter().map(|e| e.as_str()).collect();
                    format!("{}  {}  {}  {}", s.id, s.name, s.url, events.join(","))
                })
                .collect::<Vec<_>>()
                .join("\n");
            let all: Vec<Value> = subs.iter().map(|s| shown(s, None)).collect();
            admin::print(json_out, json!({ "subscriptions": all }), human);
        }
        WebhookCmd::Delete { tenant, id } => {
            let t = admin::tenant_by_name(vault, &tenant).await?.id;
            vault.delete_subscription(t, id).await?;
            admin::print(json_out, json!({ "deleted": id }), format!("deleted {id}"));
        }
        WebhookCmd::Deliveries {
            tenant,
            id,
            status,
            limit,
        } => {
            let t = admin::tenant_by_name(vault, &tenant).await?.id;
            let status = status
                .map(|s| {
                    DeliveryState::parse(&s).ok_or_else(|| {
                        anyhow::anyhow!("--status must be pending, delivered or failed")
                    })
                })
                .transpose()?;
            let list = vault
                .deliveries(t, id, status, limit.clamp(1, 1000))
                .await?;
            let all: Vec<Value> = list
                .iter()
                .map(|d| {
                    json!({
                        "eventId": d.event_id, "eventType": d.event_type.cloudevent_type(),
                        "subject": d.subject, "status": d.state.as_str(), "attempts": d.attempts,
                        "lastError": d.last_error,
                    })
                })
                .collect();
            let human = list
                .iter()
                .map(|d| {
                    format!(
                        "{}  {}  {}  tries {}  {}",
                        time(d.event_at),
                        d.event_type.as_str(),
                        d.state.as_str(),
                        d.attempts,
                        d.last_error.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            admin::print(json_out, json!({ "deliveries": all }), human);
        }
    }
    Ok(())
}
