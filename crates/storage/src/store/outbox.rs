//! The outbox's writing side: `emit_in` writes an event once, marked as not yet queued,
//! inside the transaction of the change that caused it, so an event exists exactly when
//! its change committed; `queue_events` queues the marked events for their subscriptions,
//! many in one transaction, at the start of each claim (docs/webhooks.md, "Delivery").

use callvault_core::webhook::Event;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::sql::{Conn, Dialect, Lock, Param, Query};

/// The enabled subscriptions of the event's tenant that want its type.
fn push_wanting(d: Dialect, q: &mut Query, e: &Event) {
    q.push(" FROM webhook_subscriptions s WHERE s.tenant_id = ")
        .push_bind(e.tenant_id.0)
        .push(" AND s.enabled AND");
    d.push_json_array_contains(q, "s.events", e.event_type.as_str());
}

/// Writes the event, inside the caller's transaction, once, and marks it as still to be
/// queued; nothing is written when no enabled subscription of its tenant wants it. The
/// change's transaction appends two rows at the end of two keys, however many
/// subscriptions want the event: one queue row per subscription would land in a place of
/// the queue's key for each (docs/benchmarks.md, "Outbox rows out of the upload").
pub(super) async fn emit_in(d: Dialect, conn: &mut dyn Conn, e: &Event) -> StoreResult<()> {
    let mut q = Query::new(
        "INSERT INTO webhook_events (tenant_id, event_id, event_type, subject, data, event_us) \
         SELECT ",
    );
    q.push_bind(e.tenant_id.0)
        .push(", ")
        .push_bind(Uuid::new_v4().to_string())
        .push(", ")
        .push_bind(e.event_type.as_str())
        .push(", ")
        .push_bind(e.subject.clone())
        .push(", ")
        .push_bind(e.data.as_str())
        .push(", ")
        .push_bind(e.at)
        .push(" WHERE EXISTS (SELECT 1");
    push_wanting(d, &mut q, e);
    q.push(") RETURNING seq");
    let Some(row) = conn.fetch_optional(q).await? else {
        return Ok(());
    };
    let seq = row.cols().i64()?;
    conn.execute(Query::new("INSERT INTO webhook_unqueued (seq) VALUES ($1)").bind(seq))
        .await
        .map(drop)
}

/// Events still to be queued, at most this many per claim.
const QUEUE_AT_ONCE: i64 = 1_000;

/// The condition on `s` of the subscriptions an unqueued event `e` goes to: its tenant's
/// that existed when it happened (as when the change wrote it), and are enabled and want
/// its type when it is queued, a claim later.
pub(super) fn push_takers(d: Dialect, q: &mut Query) {
    q.push(" s.tenant_id = e.tenant_id AND s.created_us <= e.event_us AND s.enabled AND");
    d.push_json_array_contains_column(q, "s.events", "e.event_type");
}

/// Queues the events that changes marked (oldest first, up to [`QUEUE_AT_ONCE`]) for the
/// subscriptions that want them, and removes the marks; inside the claim's transaction.
/// On PostgreSQL two nodes take disjoint marks. Answers whether it took any: the claim
/// must then commit, even with nothing to send.
pub(super) async fn queue_events(d: Dialect, tx: &mut dyn Conn) -> StoreResult<bool> {
    let marked = Query::new(format!(
        "SELECT seq FROM webhook_unqueued ORDER BY seq LIMIT $1{}",
        d.lock(Lock::DeleteSkipLocked)
    ))
    .bind(QUEUE_AT_ONCE);
    let seqs = tx
        .fetch(marked)
        .await?
        .into_iter()
        .map(|r| r.cols().i64())
        .collect::<StoreResult<Vec<_>>>()?;
    if seqs.is_empty() {
        return Ok(false);
    }
    let mut q = Query::new(
        "INSERT INTO webhook_queue (subscription_id, event_seq, attempts, next_us, window_us) \
         SELECT s.id, e.seq, 0, e.event_us, e.event_us \
         FROM webhook_events e JOIN webhook_subscriptions s ON",
    );
    push_takers(d, &mut q);
    q.push(" WHERE ");
    d.push_in(&mut q, "e.seq", Param::Ints(seqs.clone()));
    tx.execute(q).await?;
    let mut q = Query::new("DELETE FROM webhook_unqueued WHERE ");
    d.push_in(&mut q, "seq", Param::Ints(seqs));
    tx.execute(q).await?;
    Ok(true)
}
