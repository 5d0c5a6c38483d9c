-- Governance (docs/governance.md): legal holds and retention policies. Selectors are
-- JSON (core's `Selector`), evaluated by core inside each delete's transaction.
CREATE TABLE legal_holds (
    id          TEXT PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    case_name   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    selector    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    released_us INTEGER,
    released_by TEXT
);
CREATE INDEX legal_holds_tenant ON legal_holds (tenant_id, created_us);

CREATE TABLE retention_policies (
    id         TEXT PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    selector   TEXT NOT NULL,
    min_days   INTEGER,
    max_days   INTEGER,
    enabled    BOOLEAN NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- The retention scan walks a tenant's interactions by start, content or not (search's
-- index holds only those with content).
CREATE INDEX interactions_by_start ON interactions (tenant_id, start_us, id);

-- The audit trail: append-only, one hash chain per tenant (tenant 0: failures naming no
-- known tenant, so no foreign key). `audit_heads` holds each chain's last hash; an
-- append holds its row, so appends to one chain take turns on every node.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL,
    at_us       INTEGER NOT NULL,
    principal   TEXT NOT NULL,
    source      TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    dialect     TEXT NOT NULL,
    operation   TEXT NOT NULL,
    action      TEXT NOT NULL,
    guid        TEXT,
    content_key TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_by_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_by_interaction ON audit_log (tenant_id, guid, seq);

CREATE TABLE audit_heads (
    tenant_id INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL
);
