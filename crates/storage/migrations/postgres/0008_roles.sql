-- A user's role (issue 17): an agent sees their own on-demand recordings and the
-- interactions they handled, a reviewer sees all the tenant's recordings and changes
-- nothing, an admin also deletes, governs and manages. It replaces is_admin: admins stay
-- admins, every other user becomes an agent.

ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'agent'
    CHECK (role IN ('agent', 'reviewer', 'admin'));
UPDATE agents SET role = 'admin' WHERE is_admin;
ALTER TABLE agents DROP COLUMN is_admin;
