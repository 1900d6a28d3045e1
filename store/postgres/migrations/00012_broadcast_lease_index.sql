-- Recording outcomes joins the results to their rows by primary key. With an index on
-- (owner, lease_until) the planner preferred scanning every row the worker holds (thousands,
-- plus the dead entries each claim leaves), so one write cost as much as all rows in flight
-- and the recorder fell behind the senders. The reaper and the heartbeat only need the rows
-- in flight by lease time.

-- +goose Up
DROP INDEX broadcast_deliveries_sending;
CREATE INDEX broadcast_deliveries_lease ON broadcast_deliveries (lease_until) WHERE state = 'sending';
DROP INDEX notifications_sending;
CREATE INDEX notifications_lease ON notifications (lease_until) WHERE state = 'sending';

-- +goose Down
DROP INDEX notifications_lease;
CREATE INDEX notifications_sending ON notifications (owner, lease_until) WHERE state = 'sending';
DROP INDEX broadcast_deliveries_lease;
CREATE INDEX broadcast_deliveries_sending ON broadcast_deliveries (owner, lease_until) WHERE state = 'sending';
