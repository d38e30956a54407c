-- Public keys of every signing key ever used: old keys stay published.
CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    -- Ed25519 public key, base64 (32 bytes).
    public_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

-- The result document a specialist prepares before approval.
CREATE TABLE result_drafts (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    title TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    uploaded_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);

-- Signed electronic results.
CREATE TABLE results (
    id TEXT PRIMARY KEY,
    -- KQ-{unit code}-{year}-{NNNNNN}: unique per issuing unit and year.
    number TEXT NOT NULL UNIQUE,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    title TEXT NOT NULL,
    issuing_unit_id TEXT NOT NULL REFERENCES units (id),
    issuing_unit_code TEXT NOT NULL,
    issuing_unit_name TEXT NOT NULL,
    signer_id TEXT NOT NULL REFERENCES users (id),
    signer_name TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES signing_keys (id),
    -- Ed25519 signature of the canonical form, base64.
    signature TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('valid', 'revoked', 'replaced')),
    status_reason TEXT,
    status_changed_at TIMESTAMP,
    replaces_id TEXT REFERENCES results (id),
    replaced_by_id TEXT REFERENCES results (id)
);
CREATE INDEX results_dossier_idx ON results (dossier_id);
CREATE INDEX results_sha256_idx ON results (sha256);
CREATE INDEX results_issued_at_idx ON results (issued_at);

-- The applicant's document repository (kho dữ liệu điện tử).
CREATE TABLE repository_documents (
    id TEXT PRIMARY KEY,
    owner_user_id TEXT REFERENCES users (id),
    owner_national_id TEXT,
    -- 'component' (a digitized input document) or 'e_result'.
    source TEXT NOT NULL CHECK (source IN ('component', 'e_result')),
    document_type TEXT NOT NULL,
    digitization TEXT,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    source_dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    result_id TEXT REFERENCES results (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX repository_documents_owner_idx ON repository_documents (owner_user_id);
CREATE INDEX repository_documents_national_id_idx ON repository_documents (owner_national_id);

-- The repository document a reused component points to.
ALTER TABLE dossier_components ADD COLUMN reused_document_id TEXT REFERENCES repository_documents (id);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    dossier_id TEXT NOT NULL REFERENCES dossiers (id),
    channel TEXT NOT NULL CHECK (channel IN ('online', 'counter')),
    provider TEXT,
    -- The provider's transaction reference: callbacks are idempotent on it.
    provider_ref TEXT,
    amount_vnd BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
    checkout_url TEXT,
    recorded_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    paid_at TIMESTAMP,
    UNIQUE (provider, provider_ref)
);
CREATE INDEX payments_dossier_idx ON payments (dossier_id);

-- When and how the fee was settled (null: unpaid, or no fee).
ALTER TABLE dossiers ADD COLUMN paid_at TIMESTAMP;
ALTER TABLE dossiers ADD COLUMN payment_channel TEXT;
