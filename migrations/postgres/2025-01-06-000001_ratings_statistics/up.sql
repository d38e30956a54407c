-- Satisfaction ratings: one per dossier, changeable for a while.
CREATE TABLE ratings (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    rated_by TEXT NOT NULL REFERENCES users (id),
    -- Each criterion: 'very_satisfied', 'satisfied' or 'dissatisfied'.
    reception TEXT NOT NULL,
    processing_time TEXT NOT NULL,
    staff_conduct TEXT NOT NULL,
    result TEXT NOT NULL,
    comment TEXT,
    -- No criterion is dissatisfied.
    satisfied BOOLEAN NOT NULL,
    -- Some criterion is dissatisfied: the unit looks into it.
    flagged BOOLEAN NOT NULL,
    rated_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ratings_rated_at_idx ON ratings (rated_at);

-- Facts the statistics count, one row per dossier, kept current by the
-- actions that change them.
CREATE TABLE dossier_facts (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    -- Every mandatory component has an electronic form.
    digitized BOOLEAN NOT NULL DEFAULT FALSE,
    -- At least one component was taken from the repository.
    reused BOOLEAN NOT NULL DEFAULT FALSE,
    -- The result was issued as a signed e-result.
    e_result BOOLEAN NOT NULL DEFAULT FALSE,
    -- An apology was issued for late processing.
    apologized BOOLEAN NOT NULL DEFAULT FALSE,
    -- Working days from reception to result, set when the result is issued.
    working_days_taken INTEGER
);
CREATE INDEX dossiers_result_at_idx ON dossiers (result_at);
CREATE INDEX dossiers_receiving_unit_received_idx ON dossiers (receiving_unit_id, received_at);
