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

    /// Leases the oldest due delivery of a subscription whose earlier deliveries are all
    /// done (its head), with up to `max - 1` of the due deliveries that follow it, so
    /// each subscription's events go out in order, one batch at a time; answers them
    /// with their subscription.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: u32,
    ) -> StoreResult<Option<(Subscription, Vec<Delivery>)>>;
    /// Settles a batch in one transaction: how each sent one went, and the leases of
    /// those not tried given back.
    async fn settle_deliveries(
        &self,
        sent: &[(i64, Sent)],
        untried: &[i64],
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
    /// Drops deliveries that were sent or given up on before `before`; answers how many.
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
