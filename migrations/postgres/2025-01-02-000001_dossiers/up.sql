CREATE TABLE dossiers (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    procedure_id TEXT NOT NULL REFERENCES procedures (id),
    -- The unit that holds the dossier now (changes on transfer).
    unit_id TEXT NOT NULL REFERENCES units (id),
    -- The unit whose code the dossier carries.
    receiving_unit_id TEXT NOT NULL REFERENCES units (id),
    -- The account that filed it, or on whose behalf a clerk registered it.
    applicant_user_id TEXT REFERENCES users (id),
    applicant_kind TEXT NOT NULL CHECK (applicant_kind IN ('citizen', 'business', 'representative')),
    applicant_name TEXT NOT NULL,
    applicant_national_id TEXT,
    applicant_email TEXT,
    applicant_phone TEXT,
    applicant_address TEXT,
    -- Declared form fields, a JSON object.
    form_data TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('online', 'counter', 'postal')),
    status TEXT NOT NULL,
    assignee_id TEXT REFERENCES users (id),
    submitted_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP,
    due_at TIMESTAMP,
    -- The appointment date given at reception, kept when an apology moves due_at.
    original_due_at TIMESTAMP,
    -- Set while the clock is paused (awaiting_applicant).
    paused_at TIMESTAMP,
    result_at TIMESTAMP,
    finished_at TIMESTAMP,
    supplement_requests INTEGER NOT NULL DEFAULT 0,
    fee_vnd BIGINT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    -- Queue order: due_at once received, submitted_at before.
    queue_at TIMESTAMP NOT NULL,
    -- Lower-cased, diacritics-free code + applicant name for search.
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX dossiers_unit_status_queue_idx ON dossiers (unit_id, status, queue_at);
CREATE INDEX dossiers_applicant_idx ON dossiers (applicant_user_id);
CREATE INDEX dossiers_assignee_idx ON dossiers (assignee_id);
CREATE INDEX dossiers_procedure_idx ON dossiers (procedure_id);
CREATE INDEX dossiers_submitted_at_idx ON dossiers (submitted_at);
CREATE INDEX dossiers_received_at_idx ON dossiers (received_at);

-- Every unit that has held a dossier: former holders keep read access.
CREATE TABLE dossier_units (
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    unit_id TEXT NOT NULL REFERENCES units (id),
    PRIMARY KEY (dossier_id, unit_id)
);
CREATE INDEX dossier_units_unit_idx ON dossier_units (unit_id);

CREATE TABLE dossier_components (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    mandatory BOOLEAN NOT NULL,
    e_copy_accepted BOOLEAN NOT NULL,
    digitization TEXT NOT NULL CHECK (
        digitization IN ('not_digitized', 'scanned', 'e_copy_certified', 'electronic_original', 'reused')
    ),
    UNIQUE (dossier_id, position)
);

CREATE TABLE dossier_files (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    component_id TEXT NOT NULL REFERENCES dossier_components (id),
    -- Content address in the file store.
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    uploaded_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX dossier_files_dossier_idx ON dossier_files (dossier_id);

-- The processing-control slip: one row per action, written in the action's transaction.
CREATE TABLE dossier_events (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    at TIMESTAMP NOT NULL,
    actor_id TEXT REFERENCES users (id),
    actor_role TEXT NOT NULL,
    unit_id TEXT REFERENCES units (id),
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    summary TEXT NOT NULL,
    -- The action's payload, a JSON object.
    payload TEXT NOT NULL
);
CREATE INDEX dossier_events_dossier_idx ON dossier_events (dossier_id, id);

-- Gap-free numbering: the last number given in each (name, period), e.g.
-- ('dossier:{unit id}', '260213') or ('result:{unit id}', '2026').
CREATE TABLE sequences (
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    last_value INTEGER NOT NULL,
    PRIMARY KEY (name, period)
);

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
