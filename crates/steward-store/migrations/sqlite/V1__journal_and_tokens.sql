-- Steward's own schema, version 1: the event journal and API tokens.
-- Times are milliseconds since the Unix epoch, so that SQLite and
-- PostgreSQL store and compare them the same way.

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    service TEXT,
    version TEXT,
    actor TEXT NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL
);

CREATE INDEX events_time ON events (time_ms);
CREATE INDEX events_kind ON events (kind);
CREATE INDEX events_service ON events (service, id);
CREATE INDEX events_actor ON events (actor, id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    last_used_at_ms INTEGER,
    revoked_at_ms INTEGER
);

-- Names identify tokens for humans; only one live token may hold a name.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at_ms IS NULL;
