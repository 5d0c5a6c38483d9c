-- A change queues its event once, not once per subscription (docs/webhooks.md,
-- "Outbox"): its transaction writes the event and one row here; a sender's claim then
-- queues each such event for the subscriptions that want it, many events in one
-- transaction, and removes its row (docs/benchmarks.md, "Outbox rows out of the upload").
CREATE TABLE webhook_unqueued (
    seq BIGINT PRIMARY KEY
);
