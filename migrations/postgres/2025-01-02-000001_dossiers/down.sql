DROP TABLE idempotency_keys;
DROP TABLE sequences;
DROP TABLE dossier_events;
DROP TABLE dossier_files;
DROP TABLE dossier_components;
DROP TABLE dossier_units;
DROP TABLE dossiers;
