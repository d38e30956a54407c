-- The desks fold back into their units.
CREATE TABLE daily_counts_units (
    day DATE NOT NULL,
    unit_id TEXT NOT NULL REFERENCES units (id),
    procedure_id TEXT NOT NULL REFERENCES procedures (id),
    received INTEGER NOT NULL DEFAULT 0,
    received_online INTEGER NOT NULL DEFAULT 0,
    received_counter INTEGER NOT NULL DEFAULT 0,
    received_postal INTEGER NOT NULL DEFAULT 0,
    digitized INTEGER NOT NULL DEFAULT 0,
    reused INTEGER NOT NULL DEFAULT 0,
    fee_bearing INTEGER NOT NULL DEFAULT 0,
    paid_online INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0,
    finished_on_time INTEGER NOT NULL DEFAULT 0,
    processing_days INTEGER NOT NULL DEFAULT 0,
    document_results INTEGER NOT NULL DEFAULT 0,
    e_results INTEGER NOT NULL DEFAULT 0,
    finished_late_apologized INTEGER NOT NULL DEFAULT 0,
    ratings INTEGER NOT NULL DEFAULT 0,
    ratings_satisfied INTEGER NOT NULL DEFAULT 0,
    in_progress INTEGER NOT NULL DEFAULT 0,
    in_progress_on_time INTEGER NOT NULL DEFAULT 0,
    in_progress_late_apologized INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_id, procedure_id)
);
INSERT INTO daily_counts_units (day, unit_id, procedure_id, received, received_online, received_counter, received_postal, digitized, reused, fee_bearing, paid_online, finished, finished_on_time, processing_days, document_results, e_results, finished_late_apologized, ratings, ratings_satisfied, in_progress, in_progress_on_time, in_progress_late_apologized)
SELECT day, unit_id, procedure_id,
    SUM(received),
    SUM(received_online),
    SUM(received_counter),
    SUM(received_postal),
    SUM(digitized),
    SUM(reused),
    SUM(fee_bearing),
    SUM(paid_online),
    SUM(finished),
    SUM(finished_on_time),
    SUM(processing_days),
    SUM(document_results),
    SUM(e_results),
    SUM(finished_late_apologized),
    SUM(ratings),
    SUM(ratings_satisfied),
    SUM(in_progress),
    SUM(in_progress_on_time),
    SUM(in_progress_late_apologized)
FROM daily_counts GROUP BY day, unit_id, procedure_id;
DROP TABLE daily_counts;
ALTER TABLE daily_counts_units RENAME TO daily_counts;
CREATE INDEX daily_counts_unit_day_idx ON daily_counts (unit_id, day);
