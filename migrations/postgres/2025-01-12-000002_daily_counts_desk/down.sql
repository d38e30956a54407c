-- The desks fold back into their units.
CREATE TEMPORARY TABLE daily_counts_by_unit AS
SELECT day, unit_id, procedure_id,
    SUM(received) AS received,
    SUM(received_online) AS received_online,
    SUM(received_counter) AS received_counter,
    SUM(received_postal) AS received_postal,
    SUM(digitized) AS digitized,
    SUM(reused) AS reused,
    SUM(fee_bearing) AS fee_bearing,
    SUM(paid_online) AS paid_online,
    SUM(finished) AS finished,
    SUM(finished_on_time) AS finished_on_time,
    SUM(processing_days) AS processing_days,
    SUM(document_results) AS document_results,
    SUM(e_results) AS e_results,
    SUM(finished_late_apologized) AS finished_late_apologized,
    SUM(ratings) AS ratings,
    SUM(ratings_satisfied) AS ratings_satisfied,
    SUM(in_progress) AS in_progress,
    SUM(in_progress_on_time) AS in_progress_on_time,
    SUM(in_progress_late_apologized) AS in_progress_late_apologized
FROM daily_counts GROUP BY day, unit_id, procedure_id;
DELETE FROM daily_counts;
ALTER TABLE daily_counts DROP CONSTRAINT daily_counts_pkey;
ALTER TABLE daily_counts DROP COLUMN desk_id;
ALTER TABLE daily_counts ADD PRIMARY KEY (day, unit_id, procedure_id);
INSERT INTO daily_counts (day, unit_id, procedure_id, received, received_online, received_counter, received_postal, digitized, reused, fee_bearing, paid_online, finished, finished_on_time, processing_days, document_results, e_results, finished_late_apologized, ratings, ratings_satisfied, in_progress, in_progress_on_time, in_progress_late_apologized)
SELECT * FROM daily_counts_by_unit;
DROP TABLE daily_counts_by_unit;
