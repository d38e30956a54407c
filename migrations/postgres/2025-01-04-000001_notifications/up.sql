-- Notifications: the transactional outbox, e-mailed account tokens and the
-- once-a-day jobs. Same portable types on both backends.

-- Every e-mail, written in the transaction of the change that causes it and
-- rendered then, so that a restart between the change and the delivery sends
-- exactly the same message.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    -- verify_email, password_reset, dossier_received, supplement_requested, dossier_rejected,
    -- apology, result_ready, rating_invitation, staff_digest.
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    -- Delivery attempts so far (counted when claimed).
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- While `sending`: the claim expires then and the message may be claimed again.
    lease_until TIMESTAMP,
    -- The last delivery failure, never containing secrets.
    last_error TEXT,
    dossier_id TEXT REFERENCES dossiers (id),
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due_idx ON outbox (state, next_attempt_at);
CREATE INDEX outbox_dossier_idx ON outbox (dossier_id);

-- Single-use tokens sent by e-mail; only their SHA-256 is kept.
CREATE TABLE account_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    -- Set when used, or when a newer token of the same purpose replaced it.
    used_at TIMESTAMP
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- The last local day each daily job ran: one run a day across restarts and instances.
CREATE TABLE scheduled_runs (
    job TEXT PRIMARY KEY,
    last_run_on DATE NOT NULL
);
INSERT INTO scheduled_runs (job, last_run_on) VALUES ('staff_digest', '2000-01-01');
