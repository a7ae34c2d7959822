-- Reverses V2__create_runs.sql.
DROP INDEX runs_kind_name;

DROP TABLE runs;
