-- The shared queue in claiming order: `POST /queue/claim` reads the first
-- unassigned received dossier of the caller's subtree from here instead of
-- sorting the subtree's whole queue (bench/RESULTS.md).
CREATE INDEX dossiers_claimable_idx ON dossiers (queue_at, id) WHERE status = 'received' AND assignee_id IS NULL;
-- Only assigned dossiers in the assignee index: with every unassigned and
-- finished dossier in it, SQLite read the claim's candidates from it and
-- sorted a million rows per claim.
DROP INDEX dossiers_assignee_idx;
CREATE INDEX dossiers_assignee_idx ON dossiers (assignee_id) WHERE assignee_id IS NOT NULL;
