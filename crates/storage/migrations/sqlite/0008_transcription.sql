-- Transcription (docs/transcription.md): one job per interaction, where its state lives,
-- and the text index over transcripts and chat transcripts.
CREATE TABLE transcription_jobs (
    interaction_id INTEGER PRIMARY KEY REFERENCES interactions(id) ON DELETE CASCADE,
    tenant_id      INTEGER NOT NULL,
    content_key    TEXT NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'in_progress', 'ready', 'failed')),
    attempts       INTEGER NOT NULL,
    error          TEXT,
    start_us       INTEGER NOT NULL,
    not_before_us  INTEGER NOT NULL,
    lease_until_us INTEGER,
    created_us     INTEGER NOT NULL,
    updated_us     INTEGER NOT NULL
);
-- Runners take the newest call first among those due.
CREATE INDEX transcription_jobs_due ON transcription_jobs (status, start_us DESC);
CREATE INDEX transcription_jobs_tenant ON transcription_jobs (tenant_id, status);

-- One row per transcript segment or chat message, of one content item.
CREATE TABLE transcript_segments (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL,
    interaction_id INTEGER NOT NULL,
    content_key    TEXT NOT NULL,
    start_ms       INTEGER NOT NULL,
    end_ms         INTEGER NOT NULL,
    speaker        TEXT,
    body           TEXT NOT NULL,
    FOREIGN KEY (interaction_id, content_key)
        REFERENCES content_items (interaction_id, content_key) ON DELETE CASCADE
);
CREATE INDEX transcript_segments_item ON transcript_segments (interaction_id, content_key);

-- The index keeps no copy of the text (external content) and overwrites deleted
-- tokens (secure-delete), so an erased transcript leaves nothing searchable behind.
CREATE VIRTUAL TABLE transcript_fts USING fts5 (
    body,
    content = 'transcript_segments',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO transcript_fts (transcript_fts, rank) VALUES ('secure-delete', 1);

CREATE TRIGGER transcript_segments_ai AFTER INSERT ON transcript_segments BEGIN
    INSERT INTO transcript_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER transcript_segments_ad AFTER DELETE ON transcript_segments BEGIN
    INSERT INTO transcript_fts (transcript_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

-- States that were made up on the interaction before jobs existed.
UPDATE interactions
SET attributes = json_remove(attributes, '$.transcriptionStatus', '$.transcriptionError')
WHERE attributes LIKE '%"transcription%';
