-- The one-stop desk that received the dossiers counted (Decree
-- 118/2025/NĐ-CP, reception at any desk of the province): the counts stay
-- with the competent unit (`unit_id`); `desk_id` is the desk that received
-- them — the competent unit itself, or another unit's desk
-- (`dossier_desks`) — so that `GET /stats?group_by=desk` reads them.
-- SQLite changes no primary key: the table is made again.
CREATE TABLE daily_counts_desks (
    day DATE NOT NULL,
    unit_id TEXT NOT NULL REFERENCES units (id),
    procedure_id TEXT NOT NULL REFERENCES procedures (id),
    desk_id TEXT NOT NULL REFERENCES units (id),
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
    PRIMARY KEY (day, unit_id, procedure_id, desk_id)
);
INSERT INTO daily_counts_desks (day, unit_id, procedure_id, desk_id, received, received_online, received_counter, received_postal, digitized, reused, fee_bearing, paid_online, finished, finished_on_time, processing_days, document_results, e_results, finished_late_apologized, ratings, ratings_satisfied, in_progress, in_progress_on_time, in_progress_late_apologized)
SELECT day, unit_id, procedure_id, unit_id, received, received_online, received_counter, received_postal, digitized, reused, fee_bearing, paid_online, finished, finished_on_time, processing_days, document_results, e_results, finished_late_apologized, ratings, ratings_satisfied, in_progress, in_progress_on_time, in_progress_late_apologized FROM daily_counts;
DROP TABLE daily_counts;
ALTER TABLE daily_counts_desks RENAME TO daily_counts;
CREATE INDEX daily_counts_unit_day_idx ON daily_counts (unit_id, day);
