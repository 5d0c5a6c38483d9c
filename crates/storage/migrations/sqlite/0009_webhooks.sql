-- Signed webhooks (docs/webhooks.md): subscriptions, and one delivery row per event and
-- subscription, written in the transaction of the change that caused the event (the
-- outbox), so that a crash between the change and the send loses nothing.
CREATE TABLE webhook_subscriptions (
    id         TEXT PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    sealed_key BLOB NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    tenant_id       INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    subject         TEXT,
    data            TEXT NOT NULL,
    event_us        INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    next_us         INTEGER NOT NULL,
    lease_until_us  INTEGER,
    last_error      TEXT,
    delivered_us    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_us);
-- A listing reads a subscription's newest; a claim asks whether an earlier one is still
-- pending, a seek that must not walk the delivered history.
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id, seq);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subscription_id, status, seq);
