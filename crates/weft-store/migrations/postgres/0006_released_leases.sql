-- Leases given back recently, by id: a release asked again (its first
-- answer lost to a restart or a dropped connection) gets the same answer
-- instead of "no lease". Kept for an hour (see the lease engine).
CREATE TABLE released_leases (
    id TEXT PRIMARY KEY,
    lease TEXT NOT NULL,
    released_at BIGINT NOT NULL
);
CREATE INDEX released_leases_released_at ON released_leases (released_at);
