//! Webhook subscriptions and the delivery outbox (docs/webhooks.md).

use async_trait::async_trait;
use callvault_core::webhook::{DeliveryState, EventType, Subscription};
use callvault_core::TenantId;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreResult;

/// One event on its way to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event's sequence number: a subscription's deliveries go out in its order.
    pub seq: i64,
    pub subscription_id: Uuid,
    pub tenant_id: TenantId,
    /// The CloudEvents `id`: the same on every try.
    pub event_id: String,
    pub event_type: EventType,
    pub subject: Option<String>,
    pub data: String,
    pub event_at: DateTime<Utc>,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    /// Where the retry window starts: the event's time, or when it was last redelivered.
    pub retry_from: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How a sender leaves a delivery it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    Retry { error: String, next: DateTime<Utc> },
    Failed { error: String },
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// `Conflict` when the tenant has a subscription of that name.
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()>;
    async fn subscriptions(&self, tenant: TenantId) -> StoreResult<Vec<Subscription>>;
    async fn subscription(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Subscription>>;
    /// Replaces name, URL, events, status and key; answers whether it exists.
    async fn update_subscription(&self, s: &Subscription) -> StoreResult<bool>;
    /// Deletes it with its deliveries; answers whether it existed.
    async fn delete_subscription(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;

    /// Leases the subscription, not leased already, whose oldest pending delivery (its
    /// head) is due and older than any other's; answers it with the head and up to
    /// `max - 1` of the due deliveries that follow it, so each subscription's events go
    /// out in order, one batch at a time.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: u32,
    ) -> StoreResult<Option<(Subscription, Vec<Delivery>)>>;
    /// Settles a batch of the subscription in one transaction: how each sent one went
    /// (by event `seq`); those not tried stay queued. Gives back the claim's lease
    /// (`lease_until`, as claimed) unless another claim holds the subscription now.
    async fn settle_deliveries(
        &self,
        subscription: Uuid,
        lease_until: DateTime<Utc>,
        sent: &[(i64, Sent)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Puts a failed delivery of the subscription back in its queue, due now, with a new
    /// retry window; answers false when there is no such failed delivery.
    async fn redeliver(
        &self,
        tenant: TenantId,
        subscription: Uuid,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Drops deliveries that were sent or given up on before `before`, and the events
    /// none holds any more; answers how many deliveries.
    async fn prune_deliveries(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// A subscription's deliveries, newest first.
    async fn deliveries(
        &self,
        tenant: TenantId,
        subscription: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
}
