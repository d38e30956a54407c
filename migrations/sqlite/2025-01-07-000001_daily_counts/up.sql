-- The statistics' counts per local day, receiving unit and procedure
-- (src/domain/daily.rs): flows on the day they happen, and the changes of
-- the stocks of dossiers in progress. Kept in the same transaction as each
-- change to a dossier; `motcua stats rebuild` recomputes them. Filled from
-- the dossiers when this migration is applied (src/db/mod.rs).
CREATE TABLE daily_counts (
    day DATE NOT NULL,
    unit_id TEXT NOT NULL REFERENCES units (id),
    procedure_id TEXT NOT NULL REFERENCES procedures (id),
    received INTEGER NOT NULL DEFAULT 0,
    received_online INTEGER NOT NULL DEFAULT 0,
    received_counter INTEGER NOT NULL DEFAULT 0,
    received_postal INTEGER NOT NULL DEFAULT 0,
    digitized INTEGER NOT NULL DEFAULT 0,
    reused INTEGER NOT NULL DEFAULT 0,
    fee_bearing INTEGER NOT NULL DEFAULT 0,
    paid_online INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0,
    finished_on_time INTEGER NOT NULL DEFAULT 0,
    processing_days INTEGER NOT NULL DEFAULT 0,
    document_results INTEGER NOT NULL DEFAULT 0,
    e_results INTEGER NOT NULL DEFAULT 0,
    finished_late_apologized INTEGER NOT NULL DEFAULT 0,
    ratings INTEGER NOT NULL DEFAULT 0,
    ratings_satisfied INTEGER NOT NULL DEFAULT 0,
    in_progress INTEGER NOT NULL DEFAULT 0,
    in_progress_on_time INTEGER NOT NULL DEFAULT 0,
    in_progress_late_apologized INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_id, procedure_id)
);
CREATE INDEX daily_counts_unit_day_idx ON daily_counts (unit_id, day);
