-- Reverses V1__create_tasks.sql.
DROP INDEX tasks_status_created_at;

DROP TABLE tasks;
