-- callvault embedded schema, version 1.
-- Times are microseconds since the Unix epoch (UTC) so that ordering and range scans are
-- integer comparisons on every backend.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    time_zone   TEXT NOT NULL DEFAULT 'UTC',
    next_number INTEGER NOT NULL DEFAULT 1,
    created_us  INTEGER NOT NULL
);

-- Users and agents of a tenant. Agents referenced by an interaction are created on
-- ingest with only their id; the other columns are filled by administration.
CREATE TABLE agents (
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
    agent_id     TEXT NOT NULL,
    login        TEXT,
    extension    TEXT,
    display_name TEXT,
    PRIMARY KEY (tenant_id, agent_id)
);

CREATE TABLE interactions (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    guid          TEXT NOT NULL,
    number        INTEGER NOT NULL,
    start_us      INTEGER NOT NULL,
    end_us        INTEGER,
    direction     TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    connect_from  TEXT NOT NULL,
    connect_to    TEXT NOT NULL,
    caller_name   TEXT,
    agents        TEXT NOT NULL DEFAULT '[]',
    extensions    TEXT NOT NULL DEFAULT '[]',
    queue_id      TEXT,
    queue_name    TEXT,
    channel       TEXT,
    attributes    TEXT NOT NULL DEFAULT '{}',
    content_count INTEGER NOT NULL DEFAULT 0,
    created_us    INTEGER NOT NULL,
    updated_us    INTEGER NOT NULL,
    UNIQUE (tenant_id, guid),
    UNIQUE (tenant_id, number)
);

-- Search only ever sees interactions with content, in (start, id) order.
CREATE INDEX interactions_search ON interactions (tenant_id, start_us, id) WHERE content_count > 0;

CREATE TABLE interaction_agents (
    interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
    tenant_id      INTEGER NOT NULL,
    agent_id       TEXT NOT NULL,
    PRIMARY KEY (interaction_id, agent_id)
);
CREATE INDEX interaction_agents_by_agent ON interaction_agents (tenant_id, agent_id, interaction_id);

CREATE TABLE content_items (
    interaction_id   INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
    tenant_id        INTEGER NOT NULL,
    content_key      TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    media_type       TEXT NOT NULL,
    length           INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    blob_key         TEXT NOT NULL,
    last_modified_us INTEGER NOT NULL,
    duration_ms      INTEGER,
    version          INTEGER,
    owning_agent     TEXT,
    owning_plan      TEXT,
    PRIMARY KEY (interaction_id, content_key)
);
CREATE INDEX content_items_blob ON content_items (blob_key);

CREATE TABLE api_clients (
    client_id   TEXT PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    scopes      TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    revoked_us  INTEGER
);

CREATE TABLE access_tokens (
    token_hash BLOB PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    client_id  TEXT NOT NULL REFERENCES api_clients(client_id),
    scopes     TEXT NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_us);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
