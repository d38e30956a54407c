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
