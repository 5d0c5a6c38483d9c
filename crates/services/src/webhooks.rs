//! Signed webhooks (docs/webhooks.md): tenant subscriptions, and the sender that drains
//! the outbox the store writes with every change. Each notification is a CloudEvents 1.0
//! structured-mode request signed as the contact-center platform signs its own: a
//! `Vonage-Signature` JWT (HS256, the base64-decoded subscription key) whose
//! `payload_hash` is the SHA-256 of the exact body.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use callvault_core::webhook::{check_name, DeliveryState, EventType, Subscription, RETRY_FOR};
use callvault_core::{Invalid, TenantId};
pub use callvault_storage::webhook::Delivery;
use callvault_storage::webhook::Sent;
use rand::{Rng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::Vault;

/// How long one delivery may take before it counts as failed and is retried, at most: a
/// third of the lease where that is shorter (see [`Vault::run_next_delivery`]).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries of one subscription claimed and settled together.
const BATCH: u32 = 64;

/// What one round of a sender found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Nothing was due.
    Idle,
    /// A batch was sent; `full` when it was as large as a batch may be (more may be due).
    Sent { full: bool },
}

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

#[derive(Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    jti: &'a str,
    payload_hash: String,
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

    /// Sends the next due batch of one subscription, in order, stopping at the first
    /// that fails (the rest wait behind it) or when the lease is half spent; answers
    /// what it found. A batch costs two write transactions, however long.
    ///
    /// The lease (`webhook_lease`, 30 s by default) is how long a subscription whose
    /// sender died waits. No send starts after half of it, and each may take a third of
    /// it at most, so the last one ends with a sixth of the lease left to settle the
    /// batch before another sender may claim it.
    pub async fn run_next_delivery(&self, http: &reqwest::Client) -> ServiceResult<Round> {
        let now = self.clock.now();
        let lease = now + self.config.webhook_lease;
        let lease_len = self
            .config
            .webhook_lease
            .to_std()
            .unwrap_or(SEND_TIMEOUT * 3);
        let timeout = SEND_TIMEOUT.min(lease_len / 3);
        let Some((sub, batch)) = self.store.claim_deliveries(now, lease, BATCH).await? else {
            return Ok(Round::Idle);
        };
        let started = std::time::Instant::now();
        let mut sent = Vec::new();
        let mut untried = Vec::new();
        // The key and the receiver's address are checked once per batch, not per event:
        // a name is resolved here and again by the client's guarded resolver whenever it
        // connects, so an address that changes is caught either way, without a DNS query
        // per event.
        let ready = self.ready_to_send(&sub).await;
        for d in &batch {
            let stop = sent
                .last()
                .is_some_and(|(_, s)| !matches!(s, Sent::Delivered))
                || started.elapsed() > lease_len / 2;
            if stop {
                untried.push(d.seq);
                continue;
            }
            let sending = match &ready {
                Ok(key) => self.send(http, d, &sub, key, timeout).await,
                Err(e) => Err(e.clone()),
            };
            let outcome = match sending {
                Ok(()) => Sent::Delivered,
                Err(error) => {
                    tracing::info!(subscription = %sub.id, seq = d.seq, %error, "webhook delivery failed");
                    let next = self.clock.now() + jittered(d.attempts + 1);
                    if next - d.event_at > RETRY_FOR || !sub.enabled {
                        Sent::Failed { error }
                    } else {
                        Sent::Retry { error, next }
                    }
                }
            };
            let label = if outcome == Sent::Delivered {
                "delivered"
            } else {
                "failed"
            };
            metrics::counter!("callvault_webhook_deliveries_total", "outcome" => label)
                .increment(1);
            sent.push((d.seq, outcome));
        }
        self.store
            .settle_deliveries(&sent, &untried, self.clock.now())
            .await?;
        Ok(Round::Sent {
            full: batch.len() >= BATCH as usize,
        })
    }

    /// The subscription's signing key, once its receiver's address is allowed now.
    async fn ready_to_send(&self, sub: &Subscription) -> Result<Vec<u8>, String> {
        let key = self
            .sealer
            .open(&sub.sealed_key, sub.id.as_bytes())
            .ok_or("the signing key cannot be unsealed with this node's master key")?;
        // Checked again at send time: a name can come to resolve elsewhere after creation.
        self.config
            .egress
            .check_url("url", &sub.url)
            .await
            .map_err(|e| e.message)?;
        Ok(key)
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        d: &Delivery,
        sub: &Subscription,
        key: &[u8],
        timeout: Duration,
    ) -> Result<(), String> {
        let body = cloudevent(d)?;
        let now = self.clock.now().timestamp();
        let claims = Claims {
            iat: now,
            exp: now + 300,
            jti: &d.event_id,
            payload_hash: hex::encode(Sha256::digest(&body)),
        };
        let jwt = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let resp = http
            .post(&sub.url)
            .header("Content-Type", "application/cloudevents+json")
            .header("Vonage-Signature", jwt)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{e}"))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {status}"))
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

/// The CloudEvents 1.0 structured-mode body.
fn cloudevent(d: &Delivery) -> Result<Vec<u8>, String> {
    let data: serde_json::Value =
        serde_json::from_str(&d.data).map_err(|e| format!("stored event data: {e}"))?;
    let mut v = serde_json::json!({
        "specversion": "1.0",
        "id": d.event_id,
        "source": format!("/callvault/tenants/{}", d.tenant_id.0),
        "type": d.event_type.cloudevent_type(),
        "time": d.event_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "datacontenttype": "application/json",
        "data": data,
    });
    if let Some(s) = &d.subject {
        v["subject"] = serde_json::Value::from(s.as_str());
    }
    serde_json::to_vec(&v).map_err(|e| e.to_string())
}

/// The retry wait with up to a quarter of it added at random, so receivers that come
/// back are not hit by every sender at once.
fn jittered(failures: u32) -> chrono::Duration {
    let base = callvault_core::webhook::retry_wait(failures);
    let extra = rand::thread_rng().gen_range(0..=base.num_milliseconds().max(1) / 4);
    base + chrono::Duration::milliseconds(extra)
}
