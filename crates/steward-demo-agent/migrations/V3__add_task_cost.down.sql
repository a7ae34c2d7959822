-- Reverses V3__add_task_cost.sql; the backfilled values are derived data
-- and go with their columns.
ALTER TABLE tasks DROP COLUMN cost_usd;

ALTER TABLE tasks DROP COLUMN total_tokens;
