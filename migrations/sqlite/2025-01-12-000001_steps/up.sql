-- Where each dossier is in the process it follows (docs/processes.md): the
-- unit whose process it is, the current step (0-based) with the role that
-- does it, when it started and its deadline, and who handed it over.
-- NULL for pins made before steps were kept: the service fills them when it
-- starts (src/processes/mod.rs, `settle`). (No REFERENCES: SQLite drops
-- no column that has one.)
ALTER TABLE dossier_processes ADD COLUMN unit_id TEXT;
ALTER TABLE dossier_processes ADD COLUMN step INTEGER;
ALTER TABLE dossier_processes ADD COLUMN step_role TEXT;
ALTER TABLE dossier_processes ADD COLUMN step_started_at TIMESTAMP;
ALTER TABLE dossier_processes ADD COLUMN step_due_at TIMESTAMP;
ALTER TABLE dossier_processes ADD COLUMN handed_by TEXT;
-- When the unit's approvers were told the current step is late (once per step).
ALTER TABLE dossier_processes ADD COLUMN step_alerted_at TIMESTAMP;
CREATE INDEX dossier_processes_due_idx ON dossier_processes (step_due_at);
-- The queues of every step in claiming order: received dossiers wait for the
-- first step's role, unheld ones in progress or pending approval for a later
-- step's.
DROP INDEX dossiers_claimable_idx;
CREATE INDEX dossiers_claimable_idx ON dossiers (queue_at, id)
    WHERE status IN ('received', 'in_progress', 'pending_approval') AND assignee_id IS NULL;
-- Where dossiers are held up (GET /stats/steps): per local day of
-- completion, unit that did the step, procedure and step, the steps
-- completed, those completed late and their working minutes late. Kept in
-- the same transaction as the change that completes a step
-- (src/stats/steps.rs), like daily_counts.
CREATE TABLE step_counts (
    day DATE NOT NULL,
    unit_id TEXT NOT NULL REFERENCES units (id),
    procedure_id TEXT NOT NULL REFERENCES procedures (id),
    step INTEGER NOT NULL,
    step_name TEXT NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    late INTEGER NOT NULL DEFAULT 0,
    delay_minutes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_id, procedure_id, step, step_name)
);
CREATE INDEX step_counts_unit_day_idx ON step_counts (unit_id, day);
-- The one-stop desk that received a dossier for another unit of the
-- province (Decree 118/2025/NĐ-CP): the dossier belongs to the competent
-- unit; the desk is kept here, and keeps read access (dossier_units).
CREATE TABLE dossier_desks (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    unit_id TEXT NOT NULL REFERENCES units (id)
);
CREATE INDEX dossier_desks_unit_idx ON dossier_desks (unit_id);
