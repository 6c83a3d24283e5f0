CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identifier TEXT NOT NULL,
    capacity BIGINT NOT NULL DEFAULT 1,
    metadata TEXT NOT NULL DEFAULT '{}',
    fence BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    resource TEXT NOT NULL REFERENCES resources (id),
    mode TEXT NOT NULL,
    weight BIGINT NOT NULL,
    token BIGINT NOT NULL,
    holder TEXT NOT NULL,
    priority BIGINT NOT NULL,
    ttl_ms BIGINT NOT NULL,
    granted_at BIGINT NOT NULL,
    renewed_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX leases_resource ON leases (resource);
CREATE INDEX leases_expires_at ON leases (expires_at);

CREATE TABLE waiters (
    id TEXT PRIMARY KEY,
    resource TEXT NOT NULL REFERENCES resources (id),
    mode TEXT NOT NULL,
    weight BIGINT NOT NULL,
    holder TEXT NOT NULL,
    priority BIGINT NOT NULL,
    ttl_ms BIGINT NOT NULL,
    enqueued_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    heartbeat_until BIGINT NOT NULL,
    operation TEXT NOT NULL,
    lease TEXT
);
CREATE INDEX waiters_resource ON waiters (resource);

CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    resource TEXT,
    holder TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    duration_ms BIGINT,
    result TEXT,
    error TEXT
);
CREATE INDEX operations_started_at ON operations (started_at);
CREATE INDEX operations_status ON operations (status);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    resource TEXT,
    data TEXT NOT NULL
);
CREATE INDEX events_at ON events (at);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    acknowledged_at BIGINT,
    acknowledged_by TEXT
);
CREATE INDEX alerts_created_at ON alerts (created_at);
