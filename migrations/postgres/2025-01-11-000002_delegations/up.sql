-- Delegation (docs/delegation.md): a staff member lends roles to a colleague
-- of their unit for a period. Never deleted: revoking sets revoked_at.
CREATE TABLE delegations (
    id TEXT PRIMARY KEY,
    delegator_id TEXT NOT NULL REFERENCES users (id),
    delegate_id TEXT NOT NULL REFERENCES users (id),
    -- The unit both belonged to when it was granted; a move ends it.
    unit_id TEXT NOT NULL REFERENCES units (id),
    -- Comma-separated roles lent.
    roles TEXT NOT NULL,
    reason TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX delegations_delegate_idx ON delegations (delegate_id, ends_at);
CREATE INDEX delegations_delegator_idx ON delegations (delegator_id, ends_at);
CREATE INDEX delegations_unit_idx ON delegations (unit_id, created_at);
-- Whose lent role an action was taken with (NULL: the actor's own).
ALTER TABLE dossier_events ADD COLUMN on_behalf_of TEXT;
