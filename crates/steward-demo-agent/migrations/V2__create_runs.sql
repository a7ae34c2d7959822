-- Runs: the steps a task executed, one row per LLM call or tool call.
-- The key is (task_id, step_index) rather than a generated id because
-- auto-increment syntax differs between SQLite and PostgreSQL.
CREATE TABLE runs (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    step_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    PRIMARY KEY (task_id, step_index),
    CONSTRAINT runs_kind_known CHECK (kind IN ('llm', 'tool')),
    CONSTRAINT runs_status_known CHECK (status IN ('ok', 'error'))
);

-- Latency and token reports group by model or tool name.
CREATE INDEX runs_kind_name ON runs (kind, name);
