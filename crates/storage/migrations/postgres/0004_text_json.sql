-- The JSON columns of interactions become TEXT, as they are in SQLite, so that every
-- statement of the store is written once for both databases: the text is the JSON the
-- store wrote, read back byte for byte, and the few filters that look inside it parse it
-- in the statement (`::json ->> 'key'`, `::jsonb @>`). See docs/decisions.md.
ALTER TABLE interactions
    ALTER COLUMN agents DROP DEFAULT,
    ALTER COLUMN agents TYPE TEXT USING agents::text,
    ALTER COLUMN agents SET DEFAULT '[]',
    ALTER COLUMN extensions DROP DEFAULT,
    ALTER COLUMN extensions TYPE TEXT USING extensions::text,
    ALTER COLUMN extensions SET DEFAULT '[]',
    ALTER COLUMN attributes DROP DEFAULT,
    ALTER COLUMN attributes TYPE TEXT USING attributes::text,
    ALTER COLUMN attributes SET DEFAULT '{}';
