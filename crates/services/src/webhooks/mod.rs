//! Signed webhooks (docs/webhooks.md): tenant subscriptions, and the sender that drains
//! the outbox the store writes with every change. Each notification is a CloudEvents 1.0
//! structured-mode request signed as the contact-center platform signs its own: a
//! `Vonage-Signature` JWT (HS256, the base64-decoded subscription key) whose
//! `payload_hash` is the SHA-256 of the exact body.
//!
//! [`sender`] claims and settles batches through the store; [`courier`] signs and posts
//! them on a thread of its own that yields the CPU to requests.

mod courier;
mod sender;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use callvault_core::webhook::{check_name, DeliveryState, EventType, Subscription};
use callvault_core::{Invalid, TenantId};
pub use callvault_storage::webhook::Delivery;
use rand::RngCore;
use uuid::Uuid;

pub use courier::{Courier, SEND_TIMEOUT};
pub use sender::Round;

use crate::error::{ServiceError, ServiceResult};
use crate::Vault;

/// What a client asks for when it creates or replaces a subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionSpec {
    pub name: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    /// Base64; generated when `None` (and then shown once).
    pub key: Option<String>,
}

/// A stored subscription, and its key when it was just generated.
#[derive(Debug, Clone)]
pub struct Created {
    pub subscription: Subscription,
    pub key: Option<String>,
}

impl Vault {
    async fn check_spec(&self, s: &SubscriptionSpec) -> ServiceResult<Vec<u8>> {
        check_name("name", &s.name)?;
        let url = url::Url::parse(&s.url)
            .map_err(|e| Invalid::new("url", format!("url is not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.config.egress.lists(&url) => {}
            "http" => {
                return Err(Invalid::new(
                    "url",
                    "url must be https (http only for a host the operator lists in egress_allow)",
                )
                .into())
            }
            _ => return Err(Invalid::new("url", "url must be an https URL").into()),
        }
        if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(
                Invalid::new("url", "url must name a host and carry no credentials").into(),
            );
        }
        self.config.egress.check_url("url", &s.url).await?;
        if s.events.is_empty() {
            return Err(Invalid::new("events", "events must name at least one event type").into());
        }
        match &s.key {
            Some(k) => {
                let raw = STANDARD
                    .decode(k.trim())
                    .map_err(|_| Invalid::new("signingKey", "signingKey must be base64"))?;
                if raw.len() < 16 {
                    return Err(
                        Invalid::new("signingKey", "signingKey must be at least 16 bytes").into(),
                    );
                }
                Ok(raw)
            }
            None => {
                let mut raw = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut raw);
                Ok(raw)
            }
        }
    }

    fn seal_key(&self, id: Uuid, raw: &[u8]) -> Vec<u8> {
        self.sealer.seal(raw, id.as_bytes())
    }

    pub async fn create_subscription(
        &self,
        tenant: TenantId,
        spec: SubscriptionSpec,
    ) -> ServiceResult<Created> {
        let raw = self.check_spec(&spec).await?;
        let id = Uuid::new_v4();
        let now = self.clock.now();
        let events = distinct(&spec.events);
        let s = Subscription {
            id,
            tenant_id: tenant,
            name: spec.name.trim().to_string(),
            url: spec.url.clone(),
            events,
            enabled: spec.enabled,
            sealed_key: self.seal_key(id, &raw),
            created_at: now,
            updated_at: now,
        };
        self.store
            .create_subscription(&s)
            .await
            .map_err(|e| match e {
                callvault_storage::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                    "the tenant already has a subscription named '{}'",
                    s.name
                )),
                other => other.into(),
            })?;
        Ok(Created {
            subscription: s,
            key: spec.key.is_none().then(|| STANDARD.encode(&raw)),
        })
    }

    pub async fn subscriptions(&self, tenant: TenantId) -> ServiceResult<Vec<Subscription>> {
        Ok(self.store.subscriptions(tenant).await?)
    }

    pub async fn subscription(&self, tenant: TenantId, id: Uuid) -> ServiceResult<Subscription> {
        self.store
            .subscription(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("subscription {id} not found")))
    }

    /// Replaces a subscription; its key stays unless the spec gives one.
    pub async fn replace_subscription(
        &self,
        tenant: TenantId,
        id: Uuid,
        spec: SubscriptionSpec,
    ) -> ServiceResult<Subscription> {
        let old = self.subscription(tenant, id).await?;
        let keep = spec.key.is_none();
        let raw = self.check_spec(&spec).await?;
        let events = distinct(&spec.events);
        let s = Subscription {
            name: spec.name.trim().to_string(),
            url: spec.url.clone(),
            events,
            enabled: spec.enabled,
            sealed_key: if keep {
                old.sealed_key.clone()
            } else {
                self.seal_key(id, &raw)
            },
            updated_at: self.clock.now(),
            ..old
        };
        match self.store.update_subscription(&s).await {
            Ok(true) => Ok(s),
            Ok(false) => Err(ServiceError::NotFound(format!(
                "subscription {id} not found"
            ))),
            Err(callvault_storage::StoreError::Conflict(_)) => Err(ServiceError::Conflict(
                format!("the tenant already has a subscription named '{}'", s.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_subscription(&self, tenant: TenantId, id: Uuid) -> ServiceResult<()> {
        if self.store.delete_subscription(tenant, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "subscription {id} not found"
            )))
        }
    }

    pub async fn deliveries(
        &self,
        tenant: TenantId,
        id: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> ServiceResult<Vec<Delivery>> {
        self.subscription(tenant, id).await?;
        Ok(self.store.deliveries(tenant, id, state, limit).await?)
    }

    /// Sends a failed delivery again (after the receiver is fixed), in its place in the
    /// subscription's order.
    pub async fn redeliver(&self, tenant: TenantId, id: Uuid, event_id: &str) -> ServiceResult<()> {
        self.subscription(tenant, id).await?;
        if self
            .store
            .redeliver(tenant, id, event_id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "no failed delivery of event {event_id} to subscription {id}"
            )))
        }
    }
}

/// The event types once each, in a fixed order.
fn distinct(events: &[EventType]) -> Vec<EventType> {
    let mut v = events.to_vec();
    v.sort();
    v.dedup();
    v
}
