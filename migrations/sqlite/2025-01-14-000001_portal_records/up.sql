-- A portal record is built when it is first claimed for delivery, not in
-- the transaction of the change (src/portal/record.rs): the change queues
-- its place in the dossier's order and the audit entry whose events are
-- its history (none: the dossier's whole history, `motcua portal resync`).
-- Its body, once built, is kept, so that every retry sends the same bytes.
ALTER TABLE outbox ADD COLUMN audit_id TEXT;
