DROP TABLE dossier_processes;
DROP TABLE processes;
