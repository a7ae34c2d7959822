-- Returns rows if a total is negative or the token backfill disagrees with the runs.
SELECT id FROM tasks WHERE total_tokens < 0 OR cost_usd < 0;

SELECT t.id
FROM tasks t
WHERE t.total_tokens <> (
    SELECT COALESCE(SUM(r.prompt_tokens + r.completion_tokens), 0)
    FROM runs r
    WHERE r.task_id = t.id AND r.kind = 'llm' AND r.status = 'ok'
);
