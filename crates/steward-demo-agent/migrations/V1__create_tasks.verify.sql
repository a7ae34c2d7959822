-- Fails if a column is missing, returns rows if a task has an unknown status.
SELECT id, prompt, model, status, max_steps, created_at, finished_at FROM tasks WHERE 1 = 0;

SELECT id FROM tasks WHERE status NOT IN ('pending', 'running', 'success', 'error', 'cancelled');
