-- A lodging repeated with its Idempotency-Key finds the complaint it made
-- (src/complaints.rs): the key and the hash of the request it came with.
ALTER TABLE complaints ADD COLUMN idempotency_key TEXT;
ALTER TABLE complaints ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX complaints_idempotency_key_idx ON complaints (applicant_id, idempotency_key);
