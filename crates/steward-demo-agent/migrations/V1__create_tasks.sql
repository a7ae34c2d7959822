-- Tasks submitted to the demo agent, one row per POST /v1/tasks.
-- Timestamps are RFC 3339 text written by the application, the one
-- representation SQLite and PostgreSQL store and compare the same way.
CREATE TABLE tasks (
    id TEXT NOT NULL PRIMARY KEY,
    prompt TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    max_steps INTEGER,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    CONSTRAINT tasks_status_known CHECK (status IN ('pending', 'running', 'success', 'error', 'cancelled'))
);

CREATE INDEX tasks_status_created_at ON tasks (status, created_at);
