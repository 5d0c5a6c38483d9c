-- Named leases for singleton background tasks (the sweeper), shared by every process
-- on the database.
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_us INTEGER NOT NULL
);
