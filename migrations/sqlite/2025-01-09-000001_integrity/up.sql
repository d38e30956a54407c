-- One write path (issue 12). The database enforces the dossier invariants
-- as a second line behind the row lock of src/dossiers/write.rs, audit entries
-- are written in the transaction of the change they record, and a citizen's
-- national ID is a claim until a clerk has seen the card.

-- Results: at most one valid result per dossier. Duplicates left by
-- concurrent replacements before this migration keep the newest valid.
UPDATE results SET status = 'revoked', status_reason = 'issued twice concurrently; revoked on upgrade',
    status_changed_at = CURRENT_TIMESTAMP
WHERE status = 'valid'
  AND id <> (SELECT MAX(r.id) FROM results r WHERE r.dossier_id = results.dossier_id AND r.status = 'valid');
CREATE UNIQUE INDEX results_one_valid_idx ON results (dossier_id) WHERE status = 'valid';

-- Payments: the payment that settled a dossier's fee, at most one per
-- dossier (a later payment is recorded, and owed back); at most one pending
-- online payment per dossier.
ALTER TABLE payments ADD COLUMN settled_fee BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE payments SET settled_fee = TRUE
WHERE status = 'paid'
  AND id = (SELECT MIN(p.id) FROM payments p WHERE p.dossier_id = payments.dossier_id AND p.status = 'paid');
CREATE UNIQUE INDEX payments_one_settlement_idx ON payments (dossier_id) WHERE settled_fee;
UPDATE payments SET status = 'failed'
WHERE status = 'pending'
  AND id <> (SELECT MAX(p.id) FROM payments p WHERE p.dossier_id = payments.dossier_id AND p.status = 'pending');
CREATE UNIQUE INDEX payments_one_pending_idx ON payments (dossier_id) WHERE status = 'pending';

-- Audit entries recorded by a change's own transaction, waiting to be
-- linked into the hash chain (audit_log) by the linker, in commit order.
CREATE TABLE audit_pending (
    id TEXT PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor_id TEXT,
    actor_role TEXT NOT NULL,
    unit_id TEXT,
    unit_path TEXT,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    client_address TEXT,
    summary TEXT NOT NULL
);
-- The audit entry of the request that made each event (null for events of
-- `motcua simulate`, and of the upgrade).
ALTER TABLE dossier_events ADD COLUMN audit_id TEXT;

-- Identity: `national_id` is the verified national ID (unique among verified
-- accounts); `national_id_claim` what the account claimed at registration.
ALTER TABLE users ADD COLUMN national_id_claim TEXT;
ALTER TABLE users ADD COLUMN national_id_verified_at TIMESTAMP;
-- The clerk who saw the card, and the clerk's unit (ids, kept as the audit log keeps them).
ALTER TABLE users ADD COLUMN national_id_verified_by TEXT;
ALTER TABLE users ADD COLUMN national_id_verified_unit_id TEXT;
UPDATE users SET national_id_claim = national_id, national_id = NULL WHERE national_id IS NOT NULL;
CREATE INDEX users_national_id_claim_idx ON users (national_id_claim);
-- Nobody is verified yet: counter and postal dossiers, and the documents of
-- online dossiers, stop being bound to accounts by a claimed national ID.
-- Verifying an account binds them again.
UPDATE dossiers SET applicant_user_id = NULL WHERE channel <> 'online';
UPDATE repository_documents SET owner_national_id = NULL
WHERE source_dossier_id IN (SELECT id FROM dossiers WHERE channel = 'online');
