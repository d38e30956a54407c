DROP TABLE portal_dossiers;
DROP TABLE portal_sync;
DELETE FROM outbox WHERE channel <> 'email';
CREATE TABLE outbox_old (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_error TEXT,
    dossier_id TEXT REFERENCES dossiers (id),
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
INSERT INTO outbox_old SELECT id, kind, recipient, subject, text_body, html_body, state, attempts, next_attempt_at,
    lease_until, last_error, dossier_id, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_due_idx ON outbox (state, next_attempt_at);
CREATE INDEX outbox_dossier_idx ON outbox (dossier_id);
DROP INDEX procedures_national_code_idx;
ALTER TABLE procedures DROP COLUMN national_code;
