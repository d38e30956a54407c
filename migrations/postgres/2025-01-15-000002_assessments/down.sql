ALTER TABLE daily_counts DROP COLUMN assessment_points;
ALTER TABLE daily_counts DROP COLUMN assessed;
ALTER TABLE dossier_facts DROP COLUMN steps_late;
ALTER TABLE dossier_facts DROP COLUMN steps_on_the_day;
ALTER TABLE dossier_facts DROP COLUMN steps_early;
DROP TABLE dossier_assessments;
