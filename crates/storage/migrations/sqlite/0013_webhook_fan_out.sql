-- A change queues its event once, not once per subscription (docs/webhooks.md,
-- "Outbox"): its transaction writes the event and one row here; a sender's claim then
-- queues each such event for the subscriptions that want it, many events in one
-- transaction, and removes its row. An upload with three subscriptions wrote three queue
-- rows into three places of the queue's key (one per subscription), so each group commit
-- rewrote a page of the queue for every subscription; it now appends one small row to
-- the end of one key (docs/benchmarks.md, "Outbox rows out of the upload").
CREATE TABLE webhook_unqueued (
    seq INTEGER PRIMARY KEY
);

-- The queue and the settled table are kept in their primary key's order, WITHOUT ROWID:
-- as rowid tables each delivery row went into two B-trees (the table, and the index
-- behind its key), so queueing an event for three subscriptions wrote six entries, and
-- settling a delivery moved two out and two in. Every lookup of either table is by that
-- key (a subscription's head, its batch, a settle, a listing), so nothing reads them by
-- rowid. PostgreSQL's tables stay as they are: its heap and key index are two structures
-- in any form.
CREATE TABLE webhook_queue_new (
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_us         INTEGER NOT NULL,
    -- Where the 12-hour retry window starts: the event's time, or a redelivery's.
    window_us       INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (subscription_id, event_seq)
) WITHOUT ROWID;

INSERT INTO webhook_queue_new (subscription_id, event_seq, attempts, next_us, window_us, last_error)
SELECT subscription_id, event_seq, attempts, next_us, window_us, last_error FROM webhook_queue;
DROP TABLE webhook_queue;
ALTER TABLE webhook_queue_new RENAME TO webhook_queue;

CREATE TABLE webhook_settled_new (
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    settled_us      INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (subscription_id, event_seq)
) WITHOUT ROWID;

INSERT INTO webhook_settled_new (subscription_id, event_seq, status, attempts, settled_us, last_error)
SELECT subscription_id, event_seq, status, attempts, settled_us, last_error FROM webhook_settled;
DROP TABLE webhook_settled;
ALTER TABLE webhook_settled_new RENAME TO webhook_settled;
