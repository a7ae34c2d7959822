-- An audit trigger that recounts every task on each insert: correct,
-- and slow enough under load to make every task write take long (what
-- a migration that "only adds auditing" can do to a service).
CREATE TABLE task_audit (task_id TEXT NOT NULL, tasks_so_far INTEGER NOT NULL);

CREATE TRIGGER tasks_audit AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_audit (task_id, tasks_so_far)
    SELECT NEW.id, COUNT(*) FROM (
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
        SELECT i FROM n
    );
END;
