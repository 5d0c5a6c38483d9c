//! Webhook subscriptions and their deliveries. A claim first queues the events that
//! changes marked (`outbox.rs`), then leases a subscription's due batch. A delivery lives
//! in the queue until it is delivered or given up on, then in the settled table; a
//! subscription's lease marks its one batch in flight.

use async_trait::async_trait;
use callvault_core::webhook::{DeliveryState, EventType, Subscription};
use callvault_core::TenantId;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decode::to_json;
use super::outbox::{push_takers, queue_events};
use super::SqlStore;
use crate::error::{StoreError, StoreResult};
use crate::sql::{Lock, Param, Query, Row};
use crate::webhook::{Delivery, Sent, WebhookStore};

const SUB_COLUMNS: &str =
    "id, tenant_id, name, url, events, enabled, sealed_key, created_us, updated_us";
/// A delivery's columns, queued (`q`) or settled (`d`) alike, with its event's (`e`):
/// the two tables answer the same shape, so a listing is one union.
const QUEUED: &str = "e.seq, q.subscription_id, e.tenant_id, e.event_id, e.event_type, e.subject, \
     e.data, e.event_us, 'pending', q.attempts, q.next_us, q.window_us, q.last_error, CAST(NULL AS BIGINT)";
const SETTLED: &str =
    "e.seq, d.subscription_id, e.tenant_id, e.event_id, e.event_type, e.subject, \
     e.data, e.event_us, d.status, d.attempts, d.settled_us, d.settled_us, d.last_error, \
     CASE WHEN d.status = 'delivered' THEN d.settled_us END";

/// An event not yet queued, as the pending delivery it will be (`s`: its subscription).
const UNQUEUED: &str = "e.seq, s.id, e.tenant_id, e.event_id, e.event_type, e.subject, \
     e.data, e.event_us, 'pending', 0, e.event_us, e.event_us, CAST(NULL AS TEXT), CAST(NULL AS BIGINT)";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::backend(format!("stored {what} {v:?} is unreadable"))
}

fn subscription(row: Row) -> StoreResult<Subscription> {
    let mut c = row.cols();
    let id = c.str()?;
    Ok(Subscription {
        id: Uuid::parse_str(id).map_err(|_| corrupt("subscription id", id))?,
        tenant_id: TenantId(c.i64()?),
        name: c.text()?,
        url: c.text()?,
        events: {
            let t = c.str()?;
            serde_json::from_str(t).map_err(|_| corrupt("event list", t))?
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
    let sub = c.str()?;
    let tenant_id = TenantId(c.i64()?);
    let event_id = c.text()?;
    let t = c.str()?;
    let subject = c.opt_text()?;
    let data = c.text()?;
    let event_at = c.time()?;
    let s = c.str()?;
    Ok(Delivery {
        seq,
        subscription_id: Uuid::parse_str(sub).map_err(|_| corrupt("subscription id", sub))?,
        tenant_id,
        event_id,
        event_type: EventType::parse("event_type", t).map_err(|_| corrupt("event type", t))?,
        subject,
        data,
        event_at,
        state: DeliveryState::parse(s).ok_or_else(|| corrupt("delivery state", s))?,
        attempts: c.i64()?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at: c.time()?,
        retry_from: c.time()?,
        last_error: c.opt_text()?,
        delivered_at: c.opt_time()?,
    })
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
        for table in ["webhook_queue", "webhook_settled"] {
            tx.execute(
                Query::new(format!("DELETE FROM {table} WHERE subscription_id = $1")).bind(id),
            )
            .await?;
        }
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
        let queued = queue_events(self.dialect, tx.as_mut()).await?;
        // The subscription, not yet leased, whose queue's head is due and oldest. The
        // head is found per subscription by a seek on the queue's key, which holds only
        // what is still to send, so a claim costs the same behind a backlog of thousands
        // (a receiver that is down) as behind none.
        let head = Query::new(format!(
            "SELECT {SUB_COLUMNS} FROM webhook_subscriptions s JOIN webhook_queue h \
               ON h.subscription_id = s.id AND h.event_seq = (SELECT MIN(e.event_seq) \
               FROM webhook_queue e WHERE e.subscription_id = s.id) \
             WHERE (s.lease_until_us IS NULL OR s.lease_until_us < $1) AND h.next_us <= $1 \
             ORDER BY h.event_seq LIMIT 1{}",
            self.dialect.lock(Lock::UpdateSkipLocked)
        ))
        .bind(now);
        let Some(sub) = tx
            .fetch_optional(head)
            .await?
            .map(subscription)
            .transpose()?
        else {
            // What was queued stays queued: undone, the same marks would come back to
            // every claim, and marks no subscription takes any more (theirs was deleted)
            // would hold up every event behind them.
            if queued {
                tx.commit().await?;
            }
            return Ok(None);
        };
        tx.execute(
            Query::new("UPDATE webhook_subscriptions SET lease_until_us = $1 WHERE id = $2")
                .bind(lease_until)
                .bind(sub.id),
        )
        .await?;
        // The head and what follows it, up to the batch size, cut at the first that is
        // not due: a batch is always the front of the queue.
        let next = Query::new(format!(
            "SELECT {QUEUED} FROM webhook_queue q JOIN webhook_events e ON e.seq = q.event_seq \
             WHERE q.subscription_id = $1 ORDER BY q.event_seq LIMIT $2"
        ))
        .bind(sub.id)
        .bind(max.max(1));
        let mut batch = Vec::new();
        for row in tx.fetch(next).await? {
            let d = delivery(row)?;
            if d.next_at > now {
                break;
            }
            batch.push(d);
        }
        tx.commit().await?;
        Ok(Some((sub, batch)))
    }

    async fn settle_deliveries(
        &self,
        subscription: Uuid,
        lease_until: DateTime<Utc>,
        sent: &[(i64, Sent)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // What is done leaves the queue for the settled table, the delivered ones of a
        // batch in one statement each way. A batch stops at its first failure, so at most
        // one delivery takes the per-row statements below.
        let delivered: Vec<i64> = sent
            .iter()
            .filter(|(_, s)| *s == Sent::Delivered)
            .map(|(seq, _)| *seq)
            .collect();
        let mut tx = self.write().await?;
        if !delivered.is_empty() {
            let mut q = Query::new(
                "INSERT INTO webhook_settled (subscription_id, event_seq, status, attempts, \
                 settled_us) SELECT subscription_id, event_seq, 'delivered', attempts + 1, ",
            );
            q.push_bind(now)
                .push(" FROM webhook_queue WHERE subscription_id = ")
                .push_bind(subscription)
                .push(" AND ");
            self.dialect
                .push_in(&mut q, "event_seq", Param::Ints(delivered.clone()));
            tx.execute(q).await?;
            let mut q = Query::new("DELETE FROM webhook_queue WHERE subscription_id = ");
            q.push_bind(subscription).push(" AND ");
            self.dialect
                .push_in(&mut q, "event_seq", Param::Ints(delivered));
            tx.execute(q).await?;
        }
        for (seq, s) in sent {
            match s {
                Sent::Delivered => {}
                Sent::Retry { error, next } => {
                    tx.execute(
                        Query::new(
                            "UPDATE webhook_queue SET attempts = attempts + 1, last_error = $1, \
                             next_us = $2 WHERE subscription_id = $3 AND event_seq = $4",
                        )
                        .bind(error.as_str())
                        .bind(*next)
                        .bind(subscription)
                        .bind(*seq),
                    )
                    .await?;
                }
                Sent::Failed { error } => {
                    tx.execute(
                        Query::new(
                            "INSERT INTO webhook_settled (subscription_id, event_seq, status, \
                             attempts, settled_us, last_error) SELECT subscription_id, \
                             event_seq, 'failed', attempts + 1, $1, $2 FROM webhook_queue \
                             WHERE subscription_id = $3 AND event_seq = $4",
                        )
                        .bind(now)
                        .bind(error.as_str())
                        .bind(subscription)
                        .bind(*seq),
                    )
                    .await?;
                    tx.execute(
                        Query::new(
                            "DELETE FROM webhook_queue WHERE subscription_id = $1 \
                             AND event_seq = $2",
                        )
                        .bind(subscription)
                        .bind(*seq),
                    )
                    .await?;
                }
            }
        }
        // The lease goes back only if it is still this claim's: a sender that outlived its
        // lease must not free another's.
        tx.execute(
            Query::new(
                "UPDATE webhook_subscriptions SET lease_until_us = NULL \
                 WHERE id = $1 AND lease_until_us = $2",
            )
            .bind(subscription)
            .bind(lease_until),
        )
        .await?;
        tx.commit().await
    }

    /// The retry window starts again now; the event keeps its id and its time.
    async fn redeliver(
        &self,
        tenant: TenantId,
        subscription: Uuid,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let failed = Query::new(
            "SELECT d.event_seq FROM webhook_settled d JOIN webhook_events e \
             ON e.seq = d.event_seq WHERE d.subscription_id = $1 AND d.status = 'failed' \
             AND e.tenant_id = $2 AND e.event_id = $3",
        )
        .bind(subscription)
        .bind(tenant.0)
        .bind(event_id);
        let Some(row) = tx.fetch_optional(failed).await? else {
            return Ok(false);
        };
        let seq = row.cols().i64()?;
        tx.execute(
            Query::new(
                "INSERT INTO webhook_queue (subscription_id, event_seq, attempts, next_us, \
                 window_us, last_error) SELECT subscription_id, event_seq, attempts, $1, $1, \
                 last_error FROM webhook_settled WHERE subscription_id = $2 AND event_seq = $3",
            )
            .bind(now)
            .bind(subscription)
            .bind(seq),
        )
        .await?;
        tx.execute(
            Query::new("DELETE FROM webhook_settled WHERE subscription_id = $1 AND event_seq = $2")
                .bind(subscription)
                .bind(seq),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Settled deliveries go by the time they settled; an event goes once it is old
    /// enough and older than every delivery still kept, queued or settled, and than every
    /// event not yet queued.
    async fn prune_deliveries(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let n = tx
            .execute(Query::new("DELETE FROM webhook_settled WHERE settled_us < $1").bind(before))
            .await?;
        tx.execute(
            Query::new(
                "DELETE FROM webhook_events WHERE event_us < $1 AND seq < COALESCE((\
                 SELECT MIN(k.event_seq) FROM (SELECT event_seq FROM webhook_queue \
                 UNION ALL SELECT event_seq FROM webhook_settled \
                 UNION ALL SELECT seq FROM webhook_unqueued) k), seq + 1)",
            )
            .bind(before),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn deliveries(
        &self,
        tenant: TenantId,
        subscription: Uuid,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let queued = format!(
            "SELECT {QUEUED} FROM webhook_queue q JOIN webhook_events e ON e.seq = q.event_seq \
             WHERE q.subscription_id = $1 AND e.tenant_id = $2"
        );
        let settled = format!(
            "SELECT {SETTLED} FROM webhook_settled d JOIN webhook_events e \
             ON e.seq = d.event_seq WHERE d.subscription_id = $1 AND e.tenant_id = $2"
        );
        // An event not yet queued is pending for the subscription that will take it. Its
        // statement binds nothing of its own, so its text joins the union as it is.
        let mut unqueued = Query::new(format!(
            "SELECT {UNQUEUED} FROM webhook_unqueued u JOIN webhook_events e ON e.seq = u.seq \
             JOIN webhook_subscriptions s ON s.id = $1 AND"
        ));
        push_takers(self.dialect, &mut unqueued);
        unqueued.push(" WHERE e.tenant_id = $2");
        let unqueued = unqueued.sql().to_owned();
        let sql = match state {
            Some(DeliveryState::Pending) => format!("{queued} UNION ALL {unqueued}"),
            Some(s) => format!("{settled} AND d.status = '{}'", s.as_str()),
            None => format!("{queued} UNION ALL {unqueued} UNION ALL {settled}"),
        };
        let q = Query::new(format!("SELECT * FROM ({sql}) x ORDER BY 1 DESC LIMIT $3"))
            .bind(subscription)
            .bind(tenant.0)
            .bind(limit);
        self.fetch(q).await?.into_iter().map(delivery).collect()
    }
}
