-- Files a release carries (`weft deploy artifact put`, or written by a step
-- into WEFT_ARTIFACTS_DIR): where each is kept and its SHA-256.
CREATE TABLE deployment_artifacts (
    deployment TEXT NOT NULL REFERENCES deployments (id),
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    location TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (deployment, name)
);
