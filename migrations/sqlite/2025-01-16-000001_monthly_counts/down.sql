ALTER TABLE dossier_facts RENAME COLUMN steps_on_time TO steps_on_the_day;
DROP TABLE monthly_counts;
ALTER TABLE daily_counts DROP COLUMN fully_online;
ALTER TABLE daily_counts DROP COLUMN certified_copies_done;
ALTER TABLE daily_counts DROP COLUMN certified_copies_requested;
ALTER TABLE procedures DROP COLUMN certifies_copies;
