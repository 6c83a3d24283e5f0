-- Releases of `weft deploy`: one row per deployment (its manifest: the
-- environment's versions after success), its services, steps with their
-- output, and every gate observation.
CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    strategy TEXT NOT NULL,
    plan TEXT NOT NULL,
    versions TEXT NOT NULL,
    who TEXT NOT NULL,
    rollback_of TEXT,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    heartbeat_at BIGINT NOT NULL
);
CREATE INDEX deployments_environment ON deployments (environment, created_at);

CREATE TABLE deployment_services (
    deployment TEXT NOT NULL REFERENCES deployments (id),
    service TEXT NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    phase BIGINT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    run_url TEXT,
    started_at BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (deployment, service)
);

CREATE TABLE deployment_steps (
    id BIGSERIAL PRIMARY KEY,
    deployment TEXT NOT NULL REFERENCES deployments (id),
    service TEXT NOT NULL,
    stage TEXT NOT NULL,
    step_index BIGINT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    message TEXT,
    output TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX deployment_steps_deployment ON deployment_steps (deployment);

CREATE TABLE gate_observations (
    id BIGSERIAL PRIMARY KEY,
    deployment TEXT NOT NULL REFERENCES deployments (id),
    service TEXT NOT NULL,
    stage TEXT NOT NULL,
    gate BIGINT NOT NULL,
    description TEXT NOT NULL,
    verdict TEXT NOT NULL,
    message TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX gate_observations_deployment ON gate_observations (deployment);
