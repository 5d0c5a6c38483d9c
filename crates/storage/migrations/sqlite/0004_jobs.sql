-- Background jobs (exports) and their artefacts: the frozen list of interactions a job
-- covers. A runner owns a job while lease_until_us is in the future.

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    kind            TEXT NOT NULL,
    owner           TEXT NOT NULL,
    params          TEXT NOT NULL,
    status          TEXT NOT NULL,
    files_total     INTEGER NOT NULL DEFAULT 0,
    files_completed INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until_us  INTEGER,
    valid_until_us  INTEGER,
    created_us      INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL
);
CREATE INDEX jobs_listing ON jobs (tenant_id, kind, owner, created_us);
CREATE INDEX jobs_runnable ON jobs (status, created_us);

CREATE TABLE job_items (
    job_id         TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    interaction_id INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
);
