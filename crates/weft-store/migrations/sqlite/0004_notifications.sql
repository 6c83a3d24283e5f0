-- What weft-notify delivered for a release, one row per channel and event
-- (retries counted in attempts), and the escalations releases armed: each
-- waits until due_at, then goes out once unless its environment was
-- resolved first. Whoever moves a row from 'armed' sends it.
CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment TEXT NOT NULL,
    environment TEXT NOT NULL,
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    rule TEXT,
    escalation BIGINT NOT NULL DEFAULT 0,
    ok BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    error TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX notification_deliveries_deployment ON notification_deliveries (deployment);

CREATE TABLE notification_escalations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    rule TEXT NOT NULL,
    deployment TEXT NOT NULL,
    after_ms BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    notification TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX notification_escalations_due ON notification_escalations (state, due_at);
CREATE INDEX notification_escalations_environment ON notification_escalations (environment, state);
-- At most one armed escalation per environment and rule.
CREATE UNIQUE INDEX notification_escalations_armed ON notification_escalations (environment, rule) WHERE state = 'armed';
