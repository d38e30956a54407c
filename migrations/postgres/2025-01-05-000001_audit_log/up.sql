-- The audit log: one entry per state-changing request that succeeded,
-- appended in `seq` order (1, 2, 3 …, assigned under the chain lock). Each
-- entry carries the hash of the one before it; see src/domain/audit_chain.rs.
-- No foreign keys: the log outlives what it names.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    -- Null for anonymous callers (registration, login, provider callbacks).
    actor_id TEXT,
    -- The caller's roles, comma-separated; `anonymous` or `provider` otherwise.
    actor_role TEXT NOT NULL,
    -- The actor's unit and its materialised path at the time (scope of the entry).
    unit_id TEXT,
    unit_path TEXT,
    method TEXT NOT NULL,
    -- The route pattern, e.g. /api/v1/dossiers/{id}/actions.
    route TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    client_address TEXT,
    -- What changed, as compact JSON: field names, never secrets.
    summary TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq);
CREATE INDEX audit_log_target_idx ON audit_log (target, seq);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Append-only: the service never updates or deletes an entry. Someone who
-- drops this trigger can still alter rows; the hash chain shows where.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
