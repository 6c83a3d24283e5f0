-- The operations that finished, by when: the alert window counts them by
-- 10 s bucket as the buckets settle (see rates.rs). The active ones by
-- when they started, for the clean-up and the stats, instead of an index
-- of every operation's status, which kept an entry for each finished one
-- that nothing looked up.
CREATE INDEX operations_finished_at ON operations (finished_at) WHERE finished_at IS NOT NULL;
DROP INDEX operations_status;
CREATE INDEX operations_active ON operations (started_at) WHERE status = 'active';
