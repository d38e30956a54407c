ALTER TABLE daily_counts DROP COLUMN in_progress_within;
ALTER TABLE daily_counts DROP COLUMN finished_within;
