-- pgbench: the statements of one online filing (src/dossiers/filing.rs), in one transaction.
-- Variables from bench/run: -D user_id= -D unit_id= -D proc_id= -D proc_code=
\set n random(1, 9000000000000000)
BEGIN;
SELECT request_hash, dossier_id FROM idempotency_keys WHERE user_id = ':user_id' AND idempotency_key = 'pgb-' || :n;
SELECT id, code, name, field, levels, processing_days, cutoff_hour, fee_vnd, online_level, result_is_document, active FROM procedures WHERE code = ':proc_code';
SELECT procedure_id, name, mandatory, e_copy_accepted FROM procedure_components WHERE procedure_id = ':proc_id' ORDER BY procedure_id, position;
SELECT * FROM units WHERE id = ':unit_id';
SELECT * FROM users WHERE id = ':user_id';
UPDATE sequences SET last_value = last_value + 1 WHERE name = 'pgbench:' || ':unit_id' AND period = 'bench' RETURNING last_value;
INSERT INTO dossiers (id, code, procedure_id, unit_id, receiving_unit_id, applicant_user_id, applicant_kind, applicant_name, form_data, channel, status, submitted_at, supplement_requests, fee_vnd, version, queue_at, search_text, created_at, updated_at)
  VALUES ('pgb-' || :n, 'PGB-' || :n, ':proc_id', ':unit_id', ':unit_id', ':user_id', 'citizen', 'Nguyễn Văn Bé', '{}', 'online', 'submitted', now(), 0, 0, 1, now(), 'pgb', now(), now());
INSERT INTO dossier_units (dossier_id, unit_id) VALUES ('pgb-' || :n, ':unit_id');
INSERT INTO dossier_components (id, dossier_id, position, name, mandatory, e_copy_accepted, digitization) VALUES ('pgb-' || :n || '-0', 'pgb-' || :n, 0, 'c', true, false, 'not_digitized');
INSERT INTO dossier_components (id, dossier_id, position, name, mandatory, e_copy_accepted, digitization) VALUES ('pgb-' || :n || '-1', 'pgb-' || :n, 1, 'c', true, false, 'not_digitized');
INSERT INTO dossier_components (id, dossier_id, position, name, mandatory, e_copy_accepted, digitization) VALUES ('pgb-' || :n || '-2', 'pgb-' || :n, 2, 'c', true, false, 'not_digitized');
INSERT INTO dossier_components (id, dossier_id, position, name, mandatory, e_copy_accepted, digitization) VALUES ('pgb-' || :n || '-3', 'pgb-' || :n, 3, 'c', false, false, 'not_digitized');
INSERT INTO dossier_facts (dossier_id, reused) VALUES ('pgb-' || :n, false);
SELECT EXISTS (SELECT 1 FROM dossier_components WHERE dossier_id = 'pgb-' || :n AND mandatory AND digitization = 'not_digitized');
UPDATE dossier_facts SET digitized = false WHERE dossier_id = 'pgb-' || :n;
INSERT INTO dossier_events (id, dossier_id, at, actor_id, actor_role, unit_id, action, to_status, summary, payload) VALUES ('pgb-' || :n, 'pgb-' || :n, now(), ':user_id', 'citizen', ':unit_id', 'submit', 'submitted', 'submitted online', '{}');
DELETE FROM idempotency_keys WHERE user_id = ':user_id' AND created_at < now() - interval '48 hours';
INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, dossier_id, created_at) VALUES (':user_id', 'pgb-' || :n, 'h', 'pgb-' || :n, now());
COMMIT;
