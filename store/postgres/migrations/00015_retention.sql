-- Retention (issue 12): `kezekbot purge` and the replicas' background purge delete rows past
-- their periods in small batches. Each batch finds its rows by the time they finished, so
-- each kind gets a partial index on that time over the finished rows only: the hot paths
-- (claims of pending rows) do not scan them, and rows still in flight never enter them.
-- Broadcast deliveries need none: they are purged per finished broadcast along the primary
-- key, and a new index on that table would cost every recorded delivery a write.

-- +goose Up
CREATE INDEX notifications_done ON notifications (done_at) WHERE state IN ('sent', 'failed', 'blocked');
CREATE INDEX outbox_processed ON outbox (processed_at) WHERE processed_at IS NOT NULL;
CREATE INDEX city_commands_done ON city_commands (done_at) WHERE state IN ('accepted', 'refused');
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX broadcasts_finished ON broadcasts (finished_at) WHERE state = 'done';

-- The one purge that may run at a time across replicas: a lease row rather than an advisory
-- lock, because it also records when the last run finished (so N replicas purge once per
-- interval, not N times) and works through a transaction-pooling proxy, which a session
-- advisory lock does not. An owner that dies is replaced once lease_until passes.
CREATE TABLE purge_lease (
    name         text PRIMARY KEY CHECK (name <> ''),
    owner        text CHECK (char_length(owner) BETWEEN 1 AND 200),
    lease_until  timestamptz,
    last_done_at timestamptz,
    CONSTRAINT purge_lease_held CHECK ((owner IS NULL) = (lease_until IS NULL))
);

-- +goose Down
DROP TABLE purge_lease;
DROP INDEX broadcasts_finished;
DROP INDEX audit_log_at;
DROP INDEX city_commands_done;
DROP INDEX outbox_processed;
DROP INDEX notifications_done;
