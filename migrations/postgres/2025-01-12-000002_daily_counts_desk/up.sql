-- The one-stop desk that received the dossiers counted (Decree
-- 118/2025/NĐ-CP, reception at any desk of the province): the counts stay
-- with the competent unit (`unit_id`); `desk_id` is the desk that received
-- them — the competent unit itself, or another unit's desk
-- (`dossier_desks`) — so that `GET /stats?group_by=desk` reads them.
ALTER TABLE daily_counts ADD COLUMN desk_id TEXT REFERENCES units (id);
UPDATE daily_counts SET desk_id = unit_id;
ALTER TABLE daily_counts ALTER COLUMN desk_id SET NOT NULL;
ALTER TABLE daily_counts DROP CONSTRAINT daily_counts_pkey;
ALTER TABLE daily_counts ADD PRIMARY KEY (day, unit_id, procedure_id, desk_id);
