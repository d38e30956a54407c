ALTER TABLE outbox DROP COLUMN audit_id;
