-- Fails if a column is missing, returns rows for orphaned or inconsistent runs.
SELECT task_id, step_index, kind, name, status, duration_ms, prompt_tokens, completion_tokens, started_at
FROM runs WHERE 1 = 0;

SELECT r.task_id, r.step_index FROM runs r LEFT JOIN tasks t ON t.id = r.task_id WHERE t.id IS NULL;

SELECT task_id, step_index FROM runs WHERE prompt_tokens < 0 OR completion_tokens < 0 OR duration_ms < 0;
