-- Steward's own schema, version 3: the AlertManager's durable state, so
-- that a restart or a crash loses no firing alert, no silence and no
-- record of what was notified. An alert is stored whole as JSON beside
-- the columns its garbage collection reads; a silence column by column.

CREATE TABLE am_alerts (
    fingerprint TEXT PRIMARY KEY,
    -- NULL: no end yet.
    ends_at_ms BIGINT,
    record TEXT NOT NULL
);

CREATE INDEX am_alerts_ends ON am_alerts (ends_at_ms);

CREATE TABLE am_silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at_ms BIGINT NOT NULL,
    ends_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL
);

-- The notification log: per alert group and integration, the alerts last
-- notified as firing and as resolved (JSON arrays of fingerprints).
CREATE TABLE am_nflog (
    group_key TEXT NOT NULL,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    idx BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (group_key, receiver, integration, idx)
);

CREATE INDEX am_nflog_expires ON am_nflog (expires_at_ms);
