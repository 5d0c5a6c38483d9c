-- Named leases for singleton background tasks (the sweeper), shared by every node.
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until_us BIGINT NOT NULL
);
