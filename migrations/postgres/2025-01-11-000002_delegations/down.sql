ALTER TABLE dossier_events DROP COLUMN on_behalf_of;
DROP TABLE delegations;
