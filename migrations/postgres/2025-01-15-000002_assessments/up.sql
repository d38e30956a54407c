-- The 18-point assessment of each dossier (docs/assessment.md): computed
-- when its result is issued, index 7 lowered when a complaint about it is
-- found substantiated. `indices` holds the nine indices with their points
-- and reasons (JSON, `domain::assessment::Assessment`).
CREATE TABLE dossier_assessments (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    assessed_at TIMESTAMP NOT NULL,
    total INTEGER NOT NULL CHECK (total BETWEEN 0 AND 18),
    indices TEXT NOT NULL
);
-- Index 2: how the steps of the dossier's internal process finished against
-- their deadlines, by date (`stats::steps::track`).
ALTER TABLE dossier_facts ADD COLUMN steps_early INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dossier_facts ADD COLUMN steps_on_the_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dossier_facts ADD COLUMN steps_late INTEGER NOT NULL DEFAULT 0;
-- The statistics' average assessment: dossiers assessed, and their points,
-- on the day their result was issued.
ALTER TABLE daily_counts ADD COLUMN assessed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_counts ADD COLUMN assessment_points INTEGER NOT NULL DEFAULT 0;
