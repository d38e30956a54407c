ALTER TABLE dossiers DROP COLUMN payment_channel;
ALTER TABLE dossiers DROP COLUMN paid_at;
DROP TABLE payments;
ALTER TABLE dossier_components DROP COLUMN reused_document_id;
DROP TABLE repository_documents;
DROP TABLE results;
DROP TABLE result_drafts;
DROP TABLE signing_keys;
