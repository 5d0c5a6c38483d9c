-- Each event's data is written once, not once per subscription, and a delivery is a small
-- row in one of two tables: the queue while it is pending, the settled table once it
-- was delivered or given up on (docs/webhooks.md, "Storage"). An upload with three
-- subscriptions wrote three copies of its event, each into the table and two indexes;
-- it now writes the event once and three queue entries. The queue holds only what is
-- still to send, so a claim finds a subscription's head by its key, without an index
-- that skips the delivered history. The lease moves to the subscription: one batch of a
-- subscription is out at a time, so a claim writes one row instead of every delivery
-- of its batch. Nothing refers to an event by a foreign key: the pruning removes an
-- event only once no delivery holds it, and a key would make each removal search both
-- tables. No AUTOINCREMENT either: it writes its counter's row on every insert, and a
-- sequence number is only reused once no delivery holds the event it numbered.
CREATE TABLE webhook_events (
    seq        INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject    TEXT,
    data       TEXT NOT NULL,
    event_us   INTEGER NOT NULL
);

CREATE TABLE webhook_queue (
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_us         INTEGER NOT NULL,
    -- Where the 12-hour retry window starts: the event's time, or a redelivery's.
    window_us       INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (subscription_id, event_seq)
);

CREATE TABLE webhook_settled (
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    settled_us      INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (subscription_id, event_seq)
);

ALTER TABLE webhook_subscriptions ADD COLUMN lease_until_us INTEGER;

-- The old outbox's rows, carried: one event per event id (every subscription's copy of
-- it held the same data), then each delivery into the queue or the settled table.
INSERT INTO webhook_events (tenant_id, event_id, event_type, subject, data, event_us)
SELECT MIN(tenant_id), event_id, MIN(event_type), MIN(subject), MIN(data), MIN(event_us)
FROM webhook_deliveries GROUP BY event_id ORDER BY MIN(seq);

INSERT INTO webhook_queue (subscription_id, event_seq, attempts, next_us, window_us, last_error)
SELECT d.subscription_id, e.seq, d.attempts, d.next_us, d.event_us, d.last_error
FROM webhook_deliveries d JOIN webhook_events e ON e.event_id = d.event_id
WHERE d.status = 'pending';

INSERT INTO webhook_settled (subscription_id, event_seq, status, attempts, settled_us, last_error)
SELECT d.subscription_id, e.seq, d.status, d.attempts, COALESCE(d.delivered_us, d.next_us),
       d.last_error
FROM webhook_deliveries d JOIN webhook_events e ON e.event_id = d.event_id
WHERE d.status <> 'pending';

DROP TABLE webhook_deliveries;
