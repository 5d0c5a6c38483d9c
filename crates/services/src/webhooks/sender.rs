//! One round of a webhook sender: claim the next due batch of one subscription, have the
//! courier post it, settle what came of each delivery. The store's claim gives each
//! subscription one batch in flight, so its events keep their order.

use std::time::Instant;

use callvault_core::webhook::{Subscription, RETRY_FOR};
use callvault_storage::webhook::Sent;
use rand::Rng;

use super::courier::{Courier, Parcel, SEND_TIMEOUT};
use crate::error::ServiceResult;
use crate::Vault;

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

impl Vault {
    /// Sends the next due batch of one subscription, in order, stopping at the first
    /// that fails (the rest wait behind it) or when the lease is half spent; answers
    /// what it found. A batch costs two write transactions, however long.
    ///
    /// The lease (`webhook_lease`, 30 s by default) is how long a subscription whose
    /// sender died waits. No send starts after half of it, and each may take a third of
    /// it at most, so the last one ends with a sixth of the lease left to settle the
    /// batch before another sender may claim it.
    pub async fn run_next_delivery(&self, courier: &Courier) -> ServiceResult<Round> {
        let now = self.clock.now();
        let lease = now + self.config.webhook_lease;
        let lease_len = self
            .config
            .webhook_lease
            .to_std()
            .unwrap_or(SEND_TIMEOUT * 3);
        let Some((sub, batch)) = self.store.claim_deliveries(now, lease, BATCH).await? else {
            return Ok(Round::Idle);
        };
        let full = batch.len() >= BATCH as usize;
        // The key and the receiver's address are checked once per batch, not per event:
        // a name is resolved here and again by the client's guarded resolver whenever it
        // connects, so an address that changes is caught either way, without a DNS query
        // per event.
        let (batch, tried) = match self.ready_to_send(&sub).await {
            Ok((key, url)) => {
                let parcel = Parcel {
                    url,
                    key,
                    deliveries: batch,
                    timeout: SEND_TIMEOUT.min(lease_len / 3),
                    send_until: Instant::now() + lease_len / 2,
                };
                match courier.deliver(parcel).await {
                    Ok(posted) => posted,
                    Err(e) => {
                        // Nothing was sent: the batch goes back at once instead of
                        // waiting out its lease.
                        self.store
                            .settle_deliveries(sub.id, lease, &[], self.clock.now())
                            .await?;
                        return Err(e);
                    }
                }
            }
            Err(e) => (batch, vec![Err(e)]),
        };
        let mut sent = Vec::with_capacity(tried.len());
        for (d, result) in batch.iter().zip(tried) {
            let outcome = match result {
                Ok(()) => Sent::Delivered,
                Err(error) => {
                    tracing::info!(subscription = %sub.id, seq = d.seq, %error, "webhook delivery failed");
                    let next = self.clock.now() + jittered(d.attempts + 1);
                    if next - d.retry_from > RETRY_FOR || !sub.enabled {
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
            .settle_deliveries(sub.id, lease, &sent, self.clock.now())
            .await?;
        Ok(Round::Sent { full })
    }

    /// The subscription's signing key and its receiver's URL, once that address is
    /// allowed now.
    async fn ready_to_send(&self, sub: &Subscription) -> Result<(Vec<u8>, url::Url), String> {
        let key = self
            .sealer
            .open(&sub.sealed_key, sub.id.as_bytes())
            .ok_or("the signing key cannot be unsealed with this node's master key")?;
        // Checked again at send time: a name can come to resolve elsewhere after creation.
        let url = self
            .config
            .egress
            .check_url("url", &sub.url)
            .await
            .map_err(|e| e.message)?;
        Ok((key, url))
    }
}

/// The retry wait with up to a quarter of it added at random, so receivers that come
/// back are not hit by every sender at once.
fn jittered(failures: u32) -> chrono::Duration {
    let base = callvault_core::webhook::retry_wait(failures);
    let extra = rand::thread_rng().gen_range(0..=base.num_milliseconds().max(1) / 4);
    base + chrono::Duration::milliseconds(extra)
}
