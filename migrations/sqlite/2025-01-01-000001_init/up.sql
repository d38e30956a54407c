-- SQLite twin of the PostgreSQL migration. Portable types only (TEXT ids, TIMESTAMP in UTC, BOOLEAN, INTEGER, BIGINT, DATE)
-- so that one schema.rs serves PostgreSQL and SQLite.
CREATE TABLE units (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    parent_id TEXT REFERENCES units (id),
    -- Materialised path of ids, "/root/…/self/": a subtree is `path LIKE '<path>%'`.
    path TEXT NOT NULL UNIQUE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Lower-cased, diacritics-free code + name for search.
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX units_parent_id_idx ON units (parent_id);
CREATE INDEX units_path_prefix_idx ON units (path);
CREATE INDEX units_level_idx ON units (level);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    full_name TEXT NOT NULL,
    national_id TEXT UNIQUE,
    phone TEXT,
    -- Comma-separated role names, e.g. "clerk,specialist".
    roles TEXT NOT NULL,
    unit_id TEXT REFERENCES units (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    locale TEXT NOT NULL DEFAULT 'vi',
    email_verified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_unit_id_idx ON users (unit_id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE procedures (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    field TEXT NOT NULL,
    -- Comma-separated levels that perform the procedure.
    levels TEXT NOT NULL,
    processing_days INTEGER NOT NULL CHECK (processing_days >= 0),
    cutoff_hour INTEGER NOT NULL CHECK (cutoff_hour BETWEEN 0 AND 24),
    fee_vnd BIGINT NOT NULL CHECK (fee_vnd >= 0),
    online_level TEXT NOT NULL CHECK (online_level IN ('full', 'partial')),
    result_is_document BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Lower-cased, diacritics-free code + name + field for search.
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX procedures_field_idx ON procedures (field);

CREATE TABLE procedure_components (
    id TEXT PRIMARY KEY,
    procedure_id TEXT NOT NULL REFERENCES procedures (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    mandatory BOOLEAN NOT NULL,
    e_copy_accepted BOOLEAN NOT NULL,
    UNIQUE (procedure_id, position)
);

CREATE TABLE holidays (
    day DATE PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'working_day')),
    name TEXT NOT NULL
);
