-- The statistics design not taken: the four aggregate queries over the
-- dossiers that `GET /api/v1/stats` ran before the daily counts (by
-- receiving unit, for the subtree whose path starts with :'scope', over
-- [:'from', :'to') UTC). bench/run times them next to the service.
SELECT d.receiving_unit_id AS key, COUNT(*) AS received,
  SUM(CASE WHEN d.channel = 'online' THEN 1 ELSE 0 END) AS received_online,
  SUM(CASE WHEN d.channel = 'counter' THEN 1 ELSE 0 END) AS received_counter,
  SUM(CASE WHEN d.channel = 'postal' THEN 1 ELSE 0 END) AS received_postal,
  SUM(CASE WHEN f.digitized THEN 1 ELSE 0 END) AS digitized,
  SUM(CASE WHEN f.reused THEN 1 ELSE 0 END) AS reused,
  SUM(CASE WHEN d.fee_vnd > 0 THEN 1 ELSE 0 END) AS fee_bearing,
  SUM(CASE WHEN d.fee_vnd > 0 AND d.payment_channel = 'online' THEN 1 ELSE 0 END) AS paid_online
FROM dossiers d JOIN dossier_facts f ON f.dossier_id = d.id
WHERE d.received_at >= :'from' AND d.received_at < :'to'
  AND d.receiving_unit_id IN (SELECT id FROM units WHERE path LIKE :'scope' || '%')
GROUP BY d.receiving_unit_id;

SELECT d.receiving_unit_id AS key, COUNT(*) AS finished,
  SUM(CASE WHEN d.result_at <= d.original_due_at AND d.supplement_requests <= 1 THEN 1 ELSE 0 END) AS on_time,
  SUM(COALESCE(f.working_days_taken, 0)) AS processing_days,
  SUM(CASE WHEN p.result_is_document THEN 1 ELSE 0 END) AS document_results,
  SUM(CASE WHEN p.result_is_document AND f.e_result THEN 1 ELSE 0 END) AS e_results,
  SUM(CASE WHEN NOT (d.result_at <= d.original_due_at AND d.supplement_requests <= 1) AND f.apologized
      THEN 1 ELSE 0 END) AS late_apologized
FROM dossiers d JOIN dossier_facts f ON f.dossier_id = d.id JOIN procedures p ON p.id = d.procedure_id
WHERE d.result_at >= :'from' AND d.result_at < :'to'
  AND d.receiving_unit_id IN (SELECT id FROM units WHERE path LIKE :'scope' || '%')
GROUP BY d.receiving_unit_id;

SELECT d.receiving_unit_id AS key, COUNT(*) AS open,
  SUM(CASE WHEN d.original_due_at >= :'to' AND d.supplement_requests <= 1 THEN 1 ELSE 0 END) AS on_time,
  SUM(CASE WHEN NOT (d.original_due_at >= :'to' AND d.supplement_requests <= 1) AND f.apologized
      THEN 1 ELSE 0 END) AS late_apologized
FROM dossiers d JOIN dossier_facts f ON f.dossier_id = d.id
WHERE d.received_at < :'to' AND (d.result_at IS NULL OR d.result_at >= :'to')
  AND (d.finished_at IS NULL OR d.finished_at >= :'to')
  AND d.receiving_unit_id IN (SELECT id FROM units WHERE path LIKE :'scope' || '%')
GROUP BY d.receiving_unit_id;

SELECT d.receiving_unit_id AS key, COUNT(*) AS ratings, SUM(CASE WHEN r.satisfied THEN 1 ELSE 0 END) AS satisfied
FROM ratings r JOIN dossiers d ON d.id = r.dossier_id
WHERE r.rated_at >= :'from' AND r.rated_at < :'to'
  AND d.receiving_unit_id IN (SELECT id FROM units WHERE path LIKE :'scope' || '%')
GROUP BY d.receiving_unit_id;
