-- The Interaction Content Export API: external storage targets (credentials sealed by the
-- services), export jobs with their progress watermark, and the ledger of what each job
-- has written, so that a resumed run neither skips nor repeats an item.

CREATE TABLE external_storages (
    id          TEXT PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    target      TEXT NOT NULL,
    credentials BLOB NOT NULL,
    created_us  INTEGER NOT NULL
);
CREATE INDEX external_storages_tenant ON external_storages (tenant_id, created_us);

CREATE TABLE export_jobs (
    id             TEXT PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    start_us       INTEGER NOT NULL,
    end_us         INTEGER,
    filters        TEXT NOT NULL,
    storage_id     TEXT NOT NULL REFERENCES external_storages(id),
    created_by     TEXT NOT NULL,
    created_us     INTEGER NOT NULL,
    updated_us     INTEGER NOT NULL,
    next_run_us    INTEGER,
    last_run_us    INTEGER,
    lease_until_us INTEGER,
    watermark      TEXT,
    items_exported INTEGER NOT NULL DEFAULT 0,
    bytes_exported INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    error          TEXT
);
CREATE INDEX export_jobs_listing ON export_jobs (tenant_id, created_us);
CREATE INDEX export_jobs_due ON export_jobs (status, next_run_us);

CREATE TABLE export_ledger (
    job_id         TEXT NOT NULL REFERENCES export_jobs(id) ON DELETE CASCADE,
    interaction_id INTEGER NOT NULL,
    content_key    TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    exported_us    INTEGER NOT NULL,
    PRIMARY KEY (job_id, interaction_id, content_key, sha256)
);

-- Exports walk content in the order it was stored.
CREATE INDEX content_items_stored ON content_items (tenant_id, last_modified_us, interaction_id, content_key);
