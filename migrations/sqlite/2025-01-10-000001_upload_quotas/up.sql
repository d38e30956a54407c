-- Upload quotas (issue 13 §3): what an account uploaded today is summed on
-- every upload (src/dossiers/files.rs).
CREATE INDEX dossier_files_uploader_idx ON dossier_files (uploaded_by, created_at);
