-- Steward's own schema, version 4: incidents. An incident is stored
-- whole as JSON beside the columns listings and deduplication read.

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    -- NULL: opened by hand.
    dedup_key TEXT,
    opened_at_ms BIGINT NOT NULL,
    record TEXT NOT NULL
);

CREATE INDEX incidents_opened ON incidents (opened_at_ms);
CREATE INDEX incidents_dedup ON incidents (dedup_key, status);
