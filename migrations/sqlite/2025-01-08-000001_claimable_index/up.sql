-- The shared queue in claiming order: `POST /queue/claim` reads the first
-- unassigned received dossier of the caller's subtree from here instead of
-- sorting the subtree's whole queue (bench/RESULTS.md).
CREATE INDEX dossiers_claimable_idx ON dossiers (queue_at, id) WHERE status = 'received' AND assignee_id IS NULL;
