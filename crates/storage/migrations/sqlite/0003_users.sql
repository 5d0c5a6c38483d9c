-- Users who sign in with a password (the Call Recording API's password grant) are the
-- tenant's agents with credentials; tokens may belong to a user; refresh tokens rotate.

ALTER TABLE agents ADD COLUMN password_hash TEXT;
ALTER TABLE agents ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX agents_login ON agents (tenant_id, login) WHERE login IS NOT NULL;

ALTER TABLE access_tokens ADD COLUMN user_id TEXT;

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    client_id  TEXT NOT NULL REFERENCES api_clients(client_id),
    user_id    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
