-- The Recordings files API: per-tenant API tokens (Basic auth) and lookups by end time
-- (finish-date) and by per-tenant number (file names).

CREATE TABLE tenant_api_tokens (
    tenant_id  INTEGER PRIMARY KEY REFERENCES tenants(id),
    token_hash BLOB NOT NULL,
    created_us INTEGER NOT NULL
);

CREATE INDEX interactions_end ON interactions (tenant_id, end_us) WHERE content_count > 0;
