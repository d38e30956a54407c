DROP INDEX dossiers_assignee_idx;
CREATE INDEX dossiers_assignee_idx ON dossiers (assignee_id);
DROP INDEX dossiers_claimable_idx;
