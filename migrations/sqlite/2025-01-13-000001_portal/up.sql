-- The national public service portal (docs/portal.md).
--
-- Each procedure's code in the national procedure database (MaTTHC, e.g.
-- 1.001612); dossiers filed on the portal name their procedure by it.
ALTER TABLE procedures ADD COLUMN national_code TEXT;
CREATE UNIQUE INDEX procedures_national_code_idx ON procedures (national_code);

-- One outbox, two channels: `email` (src/notify/) and `portal`, the sync
-- records of dossiers (src/portal/). A portal record has its place in its
-- dossier's order (`seq`, 1, 2, 3 …): it is delivered only once every
-- earlier record of the dossier was.
-- A record never delivered and replaced by a later one with its dossier's
-- whole state (`motcua portal resync`) is `superseded`. SQLite changes a
-- CHECK only by rebuilding the table.
CREATE TABLE outbox_new (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'superseded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_error TEXT,
    dossier_id TEXT REFERENCES dossiers (id),
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'portal')),
    seq INTEGER
);
INSERT INTO outbox_new (id, kind, recipient, subject, text_body, html_body, state, attempts, next_attempt_at,
                        lease_until, last_error, dossier_id, created_at, sent_at)
    SELECT id, kind, recipient, subject, text_body, html_body, state, attempts, next_attempt_at,
           lease_until, last_error, dossier_id, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due_idx ON outbox (channel, state, next_attempt_at, id);
CREATE INDEX outbox_dossier_idx ON outbox (dossier_id);
CREATE UNIQUE INDEX outbox_order_idx ON outbox (dossier_id, seq);

-- Where each dossier's mirror on the portal stands: the last record queued
-- and the last the portal acknowledged; synced when they are equal.
-- Written with the records (under the dossier's lock) and by the delivery.
CREATE TABLE portal_sync (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    latest_seq INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    -- When the oldest record not yet acknowledged was queued.
    waiting_since TIMESTAMP,
    acked_at TIMESTAMP,
    -- The last delivery attempt failed, with this error.
    failing BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT
);
CREATE INDEX portal_sync_waiting_idx ON portal_sync (waiting_since) WHERE waiting_since IS NOT NULL;

-- Dossiers filed on the portal: the portal's own code beside motcua's,
-- unique, so that a filing sent twice makes one dossier.
CREATE TABLE portal_dossiers (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    portal_code TEXT NOT NULL UNIQUE,
    request_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
