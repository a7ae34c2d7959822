-- Steward's own schema, version 2: deployments, the deploy lock, and the
-- spec each service settled on. A deployment is stored whole as JSON
-- (its plan and step statuses change together); the columns beside it
-- are what listings filter and sort on.

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    -- ",a,b,": one LIKE finds the deployments touching a service.
    services TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    record TEXT NOT NULL
);

CREATE INDEX deployments_created ON deployments (created_at_ms);
CREATE INDEX deployments_status ON deployments (status);

-- At most one row: the holder of the deploy lock.
CREATE TABLE deploy_lock (
    name TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    pid_start BIGINT NOT NULL,
    since_ms BIGINT NOT NULL
);

CREATE TABLE service_releases (
    service TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    spec TEXT NOT NULL
);
