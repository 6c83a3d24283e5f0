-- The ecosystem monitor's state.
--
-- monitor_http_cache: GitHub's answers kept between collections, the ETag
-- and body per token identity and URL (ETags are tied to the token), so an
-- unchanged resource costs a free 304 even in a new process.
CREATE TABLE monitor_http_cache (
    token TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (token, url)
);

-- What collection learned, one row per item: a repository, run, job,
-- pull, issue, timeline, branch, commit, release or event. `at` is the
-- item's own time (created or updated), for windows; `body` its JSON.
CREATE TABLE monitor_items (
    repository TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (repository, kind, key)
);
CREATE INDEX monitor_items_kind ON monitor_items (kind, at);
CREATE INDEX monitor_items_repository ON monitor_items (repository, kind, at);

-- Where the last collection of each repository's streams stopped.
CREATE TABLE monitor_cursors (
    repository TEXT NOT NULL,
    stream TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (repository, stream)
);

-- One row per collection, with its figures and each repository's score,
-- for trends.
CREATE TABLE monitor_collections (
    id BIGSERIAL PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    summary TEXT NOT NULL
);

-- When weft marked a pull request stale: closing counts from there.
CREATE TABLE monitor_stale_marks (
    repository TEXT NOT NULL,
    number BIGINT NOT NULL,
    marked_at BIGINT NOT NULL,
    PRIMARY KEY (repository, number)
);

-- A scheduled job's next run (`weft serve`): whoever moves next_at from
-- the value it read runs it, so a restart neither skips nor doubles a run.
CREATE TABLE monitor_schedule (
    name TEXT PRIMARY KEY,
    expression TEXT NOT NULL,
    next_at BIGINT NOT NULL,
    last_started_at BIGINT,
    last_finished_at BIGINT,
    last_outcome TEXT
);
