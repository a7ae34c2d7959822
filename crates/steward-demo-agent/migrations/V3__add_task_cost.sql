-- Totals per task, so that cost reports need not sum the runs table.
ALTER TABLE tasks ADD COLUMN total_tokens BIGINT NOT NULL DEFAULT 0;

ALTER TABLE tasks ADD COLUMN cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0;

-- Backfill from the runs recorded so far. Cost uses the demo agent's
-- default list prices in USD per 1k tokens; tasks on other models keep 0.
UPDATE tasks SET total_tokens = (
    SELECT COALESCE(SUM(r.prompt_tokens + r.completion_tokens), 0)
    FROM runs r
    WHERE r.task_id = tasks.id AND r.kind = 'llm' AND r.status = 'ok'
);

UPDATE tasks SET cost_usd = (
    SELECT COALESCE(SUM(
        CASE tasks.model
            WHEN 'demo-mini' THEN r.prompt_tokens * 0.00015 + r.completion_tokens * 0.0006
            WHEN 'demo-pro' THEN r.prompt_tokens * 0.003 + r.completion_tokens * 0.015
            ELSE 0
        END
    ), 0) / 1000.0
    FROM runs r
    WHERE r.task_id = tasks.id AND r.kind = 'llm' AND r.status = 'ok'
);
