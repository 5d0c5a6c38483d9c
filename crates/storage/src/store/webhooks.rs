//! Webhook subscriptions and the outbox: `emit_in` writes one delivery per matching
//! subscription inside the caller's transaction, so an event exists exactly when its
//! change committed.

use async_trait::async_trait;
use callvault_core::webhook::{DeliveryState, Event, EventType, Subscription};
use callvault_core::TenantId;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decode::to_json;
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::sql::{Conn, Dialect, Lock, Query, Row};
use crate::webhook::{Delivery, Sent, WebhookStore};

const SUB_COLUMNS: &str =
    "id, tenant_id, name, url, events, enabled, sealed_key, created_us, updated_us";
const DELIVERY_COLUMNS: &str = "seq, subscription_id, tenant_id, event_id, event_type, subject, \
     data, event_us, status, attempts, next_us, last_error, delivered_us";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::backend(format!("stored {what} {v:?} is unreadable"))
}

fn subscription(row: Row) -> StoreResult<Subscription> {
    let mut c = row.cols();
    let id = c.text()?;
    Ok(Subscription {
        id: Uuid::parse_str(&id).map_err(|_| corrupt("subscription id", &id))?,
        tenant_id: TenantId(c.i64()?),
        name: c.text()?,
        url: c.text()?,
        events: {
            let t = c.text()?;
            serde_json::from_str(&t).map_err(|_| corrupt("event list", &t))?
        },
        enabled: c.bool()?,
        sealed_key: c.bytes()?,
        created_at: c.time()?,
        updated_at: c.time()?,
    })
}

fn delivery(row: Row) -> StoreResult<Delivery> {
    let mut c = row.cols();
    let seq = c.i64()?;
    let sub = c.text()?;
    let tenant_id = TenantId(c.i64()?);
    let event_id = c.text()?;
    let t = c.text()?;
    let subject = c.opt_text()?;
    let data = c.text()?;
    let event_at = c.time()?;
    let s = c.text()?;
    Ok(Delivery {
        seq,
        subscription_id: Uuid::parse_str(&sub).map_err(|_| corrupt("subscription id", &sub))?,
        tenant_id,
        event_id,
        event_type: EventType::parse("event_type", &t).map_err(|_| corrupt("event type", &t))?,
        subject,
        data,
        event_at,
        state: DeliveryState::parse(&s).ok_or_else(|| corrupt("delivery state", &s))?,
        attempts: c.i64()?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at: c.time()?,
        last_error: c.opt_text()?,
        delivered_at: c.opt_time()?,
    })
}

/// Writes the event for every enabled subscription of its tenant that wants it, inside
/// the caller's transaction. One statement, and nothing written when none does.
pub(super) async fn emit_in(d: Dialect, conn: &mut dyn Conn, e: &Event) -> StoreResult<()> {
    let mut q = Query::new(
        "INSERT INTO webhook_deliveries (subscription_id, tenant_id, event_id, event_type, \
         subject, data, event_us, status, attempts, next_us) \
         SELECT s.id, s.tenant_id, ",
    );
    q.push_bind(Uuid::new_v4().to_string())
        .push(", ")
        .push_bind(e.event_type.as_str())
        .push(", ")
        .push_bind(e.subject.clone())
        .push(", ")
        .push_bind(e.data.as_str())
        .push(", ")
        .push_bind(e.at)
        .push(", 'pending', 0, ")
        .push_bind(e.at)
        .push(" FROM webhook_subscriptions s WHERE s.tenant_id = ")
        .push_bind(e.tenant_id.0)
        .push(" AND s.enabled AND");
    d.push_json_array_contains(&mut q, "s.events", e.event_type.as_str());
    conn.execute(q).await.map(drop)
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let q = Query::new(format!(
            "INSERT INTO webhook_subscriptions ({SUB_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(s.id)
        .bind(s.tenant_id.0)
        .bind(s.name.as_str())
        .bind(s.url.as_str())
        .bind(to_json(&s.events))
        .bind(s.enabled)
        .bind(&s.sealed_key)
        .bind(s.created_at)
        .bind(s.updated_at);
        self.execute(q).await.map(drop)
    }

    async fn subscriptions(&self, tenant: TenantId) -> StoreResult<Vec<Subscription>> {
        let q = Query::new(format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 \
             ORDER BY created_us, id"
        ))
        .bind(tenant.0);
        self.fetch(q).await?.into_iter().map(subscription).collect()
    }

    async fn subscription(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Subscription>> {
        let q = Query::new(format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(id);
        self.fetch_optional(q).await?.map(subscription).transpose()
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<bool> {
        let q = Query::new(
            "UPDATE webhook_subscriptions SET name = $1, url = $2, events = $3, enabled = $4, \
             sealed_key = $5, updated_us = $6 WHERE tenant_id = $7 AND id = $8",
        )
        .bind(s.name.as_str())
        .bind(s.url.as_str())
        .bind(to_json(&s.events))
        .bind(s.enabled)
        .bind(&s.sealed_key)
        .bind(s.updated_at)
        .bind(s.tenant_id.0)
        .bind(s.id);
        Ok(self.execute(q).await? > 0)
    }

    async fn delete_subscription(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        tx.execute(
            Query::new("DELETE FROM webhook_deliveries WHERE subscription_id = $1").bind(id),
        )
        .await?;
        let n = tx
            .execute(
                Query::new("DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id),
            )
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: u32,
    ) -> StoreResult<Option<(Subscription, Vec<Delivery>)>> {
        let mut tx = self.write().await?;
        // The head: a subscription's oldest pending delivery, found per subscription by an
        // index seek, so a claim costs the same behind a backlog of thousands (a receiver
        // that is down) as behind none. Another sender can take neither it (leased, or
        // locked while this claim runs) nor what follows it (the head is pending before
        // them).
        let head = Query::new(format!(
            "SELECT d.seq, d.subscription_id FROM webhook_deliveries d \
             WHERE d.seq IN (SELECT (SELECT MIN(e.seq) FROM webhook_deliveries e \
               WHERE e.subscription_id = s.id AND e.status = 'pending') \
               FROM webhook_subscriptions s) \
             AND d.next_us <= $1 AND (d.lease_until_us IS NULL OR d.lease_until_us < $1) \
             ORDER BY d.seq LIMIT 1{}",
            self.dialect.lock(Lock::UpdateSkipLocked)
        ))
        .bind(now);
        let Some(row) = tx.fetch_optional(head).await? else {
            return Ok(None);
        };
        let mut c = row.cols();
        let (seq, sub_id) = (c.i64()?, c.text()?);
        // The head and the pending ones that follow it, up to the batch size, cut at the
        // first that is not due: a batch is always the front of the queue.
        let next = Query::new(
            "SELECT seq, next_us FROM webhook_deliveries WHERE subscription_id = $1 \
             AND status = 'pending' AND seq >= $2 ORDER BY seq LIMIT $3",
        )
        .bind(sub_id.as_str())
        .bind(seq)
        .bind(max.max(1));
        let mut seqs = Vec::new();
        for row in tx.fetch(next).await? {
            let mut c = row.cols();
            let (seq, next_us) = (c.i64()?, c.time()?);
            if next_us > now {
                break;
            }
            seqs.push(seq);
        }
        let mut take = Query::new("UPDATE webhook_deliveries SET lease_until_us = ");
        take.push_bind(lease_until).push(" WHERE ");
        self.dialect
            .push_in(&mut take, "seq", crate::sql::Param::Ints(seqs));
        take.push(&format!(" RETURNING {DELIVERY_COLUMNS}"));
        let mut batch = tx
            .fetch(take)
            .await?
            .into_iter()
            .map(delivery)
            .collect::<StoreResult<Vec<_>>>()?;
        batch.sort_by_key(|d| d.seq);
        let sub = tx
            .fetch_one(
                Query::new(format!(
                    "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1"
                ))
                .bind(sub_id.as_str()),
            )
            .await
            .and_then(subscription)?;
        tx.commit().await?;
        Ok(Some((sub, batch)))
    }

    async fn settle_deliveries(
        &self,
        sent: &[(i64, Sent)],
        untried: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // The delivered ones settle in one statement: a batch holds the single writer
        // for one update, not one per event. A batch stops at its first failure, so at
        // most one row takes the per-row statements below.
        let delivered: Vec<i64> = sent
            .iter()
            .filter(|(_, s)| *s == Sent::Delivered)
            .map(|(seq, _)| *seq)
            .collect();
        let mut tx = self.write().await?;
        if !delivered.is_empty() {
            let mut q = Query::new(
                "UPDATE webhook_deliveries SET status = 'delivered', \
                 attempts = attempts + 1, lease_until_us = NULL, last_error = NULL, \
                 delivered_us = ",
            );
            q.push_bind(now).push(" WHERE ");
            self.dialect
                .push_in(&mut q, "seq", crate::sql::Param::Ints(delivered));
            tx.execute(q).await?;
        }
        for (seq, s) in sent {
            let q = match s {
                Sent::Delivered => continue,
                Sent::Retry { error, next } => Query::new(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, \
                     lease_until_us = NULL, last_error = $1, next_us = $2 WHERE seq = $3",
                )
                .bind(error.as_str())
                .bind(*next)
                .bind(*seq),
                Sent::Failed { error } => Query::new(
                    "UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, \
                     lease_until_us = NULL, last_error = $1 WHERE seq = $2",
                )
                .bind(error.as_str())
                .bind(*seq),
            };
            tx.execute(q).await?;
        }
        if !untried.is_empty() {
            let mut q = Query::new("UPDATE webhook_deliveries SET lease_until_us = NULL WHERE ");
            self.dialect
                .push_in(&mut q, "seq", crate::sql::Param::Ints(untried.to_vec()));
            tx.execute(q).await?;
        }
        tx.commit().await
    }

    /// The retry window counts from the event's time, so a redelivery moves that time to
    /// now; the event keeps its id.
    async fn redeliver(
        &self,
        tenant: TenantId,
        subscription: Uuid,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let q = Query::new(
            "UPDATE webhook_deliveries SET status = 'pending', next_us = $1, event_us = $1, \
             lease_until_us = NULL WHERE tenant_id = $2 AND subscription_id = $3 \
             AND event_id = $4 AND status = 'failed'",
        )
        .bind(now)
        .bind(tenant.0)
        .bind(subscription)
        .bind(event_id);
        Ok(self.execute(q).await? > 0)
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let q = Query::new(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND event_us < $1",
        )
        .bind(before);
        self.execute(q).await
    }

    async fn deliveries(
        &self,
        tenant: TenantId,
        subscription: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let mut q = Query::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = "
        ));
        q.push_bind(tenant.0)
            .push(" AND subscription_id = ")
            .push_bind(subscription);
        if let Some(s) = state {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        self.fetch(q).await?.into_iter().map(delivery).collect()
    }
}
