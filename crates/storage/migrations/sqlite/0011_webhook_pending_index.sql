-- A delivery is looked up by its subscription's queue only while it is pending (a claim
-- seeks each subscription's oldest pending one and the batch after it), so the pending
-- queue gets an index of its own, partial: an ingest's outbox row enters two indexes
-- instead of three, and a delivered row leaves the queue's index instead of being moved
-- within two. The due-time index served the old claim, which walked every pending row.
DROP INDEX webhook_deliveries_due;
DROP INDEX webhook_deliveries_pending;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription_id, seq)
    WHERE status = 'pending';
