-- Complaints and petitions (phản ánh, kiến nghị) about how a dossier was
-- handled, or about a unit (docs/complaints.md). `unit_id` is the unit that
-- answers: the dossier's receiving unit, or the unit complained about.
-- Answered once: the answer, whether it was substantiated, by whom, when,
-- and whether on time.
CREATE TABLE complaints (
    id TEXT PRIMARY KEY,
    applicant_id TEXT NOT NULL REFERENCES users (id),
    dossier_id TEXT REFERENCES dossiers (id),
    unit_id TEXT NOT NULL REFERENCES units (id),
    subject TEXT NOT NULL,
    content TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'answered')),
    lodged_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    answered_by TEXT REFERENCES users (id),
    answer TEXT,
    substantiated BOOLEAN,
    -- Answered on or before the day it was due (src/domain/complaint.rs).
    answered_on_time BOOLEAN,
    CHECK ((state = 'open') = (answered_at IS NULL)),
    CHECK ((state = 'open') = (substantiated IS NULL)),
    CHECK ((state = 'open') = (answered_on_time IS NULL))
);
-- The statistics count by unit and period: lodged, answered, open.
CREATE INDEX complaints_lodged_idx ON complaints (unit_id, lodged_at);
CREATE INDEX complaints_answered_idx ON complaints (unit_id, answered_at) WHERE answered_at IS NOT NULL;
-- An applicant's open complaints (at most `complaints.max_open_per_applicant`).
CREATE INDEX complaints_applicant_idx ON complaints (applicant_id, state);
CREATE INDEX complaints_dossier_idx ON complaints (dossier_id) WHERE dossier_id IS NOT NULL;
