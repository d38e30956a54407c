DROP INDEX dossiers_receiving_unit_received_idx;
DROP INDEX dossiers_result_at_idx;
DROP TABLE dossier_facts;
DROP TABLE ratings;
