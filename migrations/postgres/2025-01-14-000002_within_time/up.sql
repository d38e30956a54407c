-- The national portal's counting rules (docs/statistics.md, "On time"):
-- a dossier is judged by date against its appointment date, is within time
-- while paused for a supplement asked for on or before that date, and a
-- second supplement request makes it not on time but never late. Within
-- time is counted apart from on time; late is what is not within time.
-- The counts are recomputed from the dossiers when this migration is
-- applied (src/db/mod.rs), since the rules changed.
ALTER TABLE daily_counts ADD COLUMN finished_within INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_counts ADD COLUMN in_progress_within INTEGER NOT NULL DEFAULT 0;
