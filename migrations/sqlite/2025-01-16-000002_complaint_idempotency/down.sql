DROP INDEX complaints_idempotency_key_idx;
ALTER TABLE complaints DROP COLUMN request_hash;
ALTER TABLE complaints DROP COLUMN idempotency_key;
