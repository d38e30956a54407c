DROP INDEX dossiers_claimable_idx;
CREATE INDEX dossiers_claimable_idx ON dossiers (queue_at, id) WHERE status = 'received' AND assignee_id IS NULL;
DROP INDEX dossier_processes_due_idx;
ALTER TABLE dossier_processes DROP COLUMN handed_by;
ALTER TABLE dossier_processes DROP COLUMN step_due_at;
ALTER TABLE dossier_processes DROP COLUMN step_started_at;
ALTER TABLE dossier_processes DROP COLUMN step_role;
ALTER TABLE dossier_processes DROP COLUMN step;
ALTER TABLE dossier_processes DROP COLUMN unit_id;
