package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// Purge kinds, in the order a purge runs them. Each names the rows it deletes; README's
// «Personal data» table says what each holds.
const (
	PurgeNotifications = "notifications"        // sent, failed or blocked notifications
	PurgeDeliveries    = "broadcast_deliveries" // delivery rows of broadcasts that are done
	PurgeOutbox        = "outbox"               // outbox rows the consumer has processed
	PurgeCommands      = "city_commands"        // city commands the city answered
	PurgeChanges       = "city_changes"         // ids of applied city changes
	PurgeAudit         = "audit_log"            // audit rows with their signed evidence
)

// PurgeKinds lists every kind in the order a purge runs them.
var PurgeKinds = []string{PurgeNotifications, PurgeDeliveries, PurgeOutbox, PurgeCommands, PurgeChanges, PurgeAudit}

// purgeSQL is, per kind, the rows past cutoff ($1): count counts them, batch deletes up to $2
// of them. Every batch is one statement, so one short transaction: it locks the rows it
// deletes and nothing else, and the workers claiming pending rows never wait for a purge.
var purgeSQL = map[string]struct{ count, batch string }{
	PurgeNotifications: {
		`SELECT count(*) FROM notifications WHERE state IN ('sent', 'failed', 'blocked') AND done_at < $1`,
		`DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
			WHERE state IN ('sent', 'failed', 'blocked') AND done_at < $1 LIMIT $2)`,
	},
	// Only broadcasts that are done: a stopped one can be resumed and needs its rows. The
	// broadcast row itself (texts, counts, no recipients) stays as the staff's record.
	PurgeDeliveries: {
		`SELECT count(*) FROM broadcast_deliveries d JOIN broadcasts b ON b.id = d.broadcast_id
			WHERE b.state = 'done' AND b.finished_at < $1`,
		`DELETE FROM broadcast_deliveries d USING (
			SELECT x.broadcast_id, x.chat_id FROM broadcasts b
			JOIN broadcast_deliveries x ON x.broadcast_id = b.id
			WHERE b.state = 'done' AND b.finished_at < $1 LIMIT $2) o
		WHERE d.broadcast_id = o.broadcast_id AND d.chat_id = o.chat_id`,
	},
	PurgeOutbox: {
		`SELECT count(*) FROM outbox WHERE processed_at < $1`,
		`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE processed_at < $1 LIMIT $2)`,
	},
	// A command carries a copy of the revocation's signed XML; the audit row written in the
	// same transaction keeps the evidence for its own, longer period.
	PurgeCommands: {
		`SELECT count(*) FROM city_commands WHERE state IN ('accepted', 'refused') AND done_at < $1`,
		`DELETE FROM city_commands WHERE id IN (SELECT id FROM city_commands
			WHERE state IN ('accepted', 'refused') AND done_at < $1 LIMIT $2)`,
	},
	PurgeChanges: {
		`SELECT count(*) FROM city_changes WHERE applied_at < $1`,
		`DELETE FROM city_changes WHERE change_id IN (SELECT change_id FROM city_changes WHERE applied_at < $1 LIMIT $2)`,
	},
	// The binding a chat still has keeps its bind evidence however old: it is what proves the
	// chat's owner signed for that IIN. Its period starts when the chat is unbound (the unbind
	// row is as old as that). Dropping a row also frees its nonce, which is safe: a link is
	// dead minutes after it is made, so its document cannot be submitted again years later.
	PurgeAudit: {
		`SELECT count(*) FROM audit_log a WHERE a.at < $1
			AND NOT (a.action = 'bind' AND EXISTS (SELECT 1 FROM telegram_bindings t WHERE t.chat_id = a.chat_id))`,
		`DELETE FROM audit_log WHERE id IN (SELECT a.id FROM audit_log a WHERE a.at < $1
			AND NOT (a.action = 'bind' AND EXISTS (SELECT 1 FROM telegram_bindings t WHERE t.chat_id = a.chat_id))
			LIMIT $2)`,
	},
}

// PurgeCount is how many rows of one kind are past their cut-off (a dry run), or were deleted.
type PurgeCount struct {
	Kind   string
	Cutoff time.Time
	Rows   int64
}

// CountPurgeable counts, per kind in cutoffs, the rows a purge with those cut-offs would delete
// now. It changes nothing.
func (db *DB) CountPurgeable(ctx context.Context, cutoffs map[string]time.Time) ([]PurgeCount, error) {
	var out []PurgeCount
	for _, kind := range PurgeKinds {
		cut, ok := cutoffs[kind]
		if !ok {
			continue
		}
		var n int64
		if err := db.pool.QueryRow(ctx, purgeSQL[kind].count, cut).Scan(&n); err != nil {
			return out, fmt.Errorf("count purgeable %s: %w", kind, dbError(err, kind))
		}
		out = append(out, PurgeCount{Kind: kind, Cutoff: cut, Rows: n})
	}
	return out, nil
}

// Purge deletes, per kind in cutoffs, the rows past its cut-off, batch rows per transaction,
// and returns how many went. Between batches it calls between (nil: none), which renews the
// caller's lease; its error stops the purge. What was deleted before an error stays deleted
// and is counted.
func (db *DB) Purge(ctx context.Context, cutoffs map[string]time.Time, batch int, between func(context.Context) error) ([]PurgeCount, error) {
	if batch < 1 {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "purge batch must be at least 1")
	}
	var out []PurgeCount
	for _, kind := range PurgeKinds {
		cut, ok := cutoffs[kind]
		if !ok {
			continue
		}
		c := PurgeCount{Kind: kind, Cutoff: cut}
		for {
			if err := ctx.Err(); err != nil {
				return append(out, c), err
			}
			tag, err := db.pool.Exec(ctx, purgeSQL[kind].batch, cut, batch)
			if err != nil {
				return append(out, c), fmt.Errorf("purge %s: %w", kind, dbError(err, kind))
			}
			c.Rows += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				break
			}
			if between != nil {
				if err := between(ctx); err != nil {
					return append(out, c), err
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// ErrLeaseLost is returned by RenewPurgeLease when another owner holds the purge lease now.
var ErrLeaseLost = errors.New("purge lease lost to another owner")

const purgeLeaseName = "purge"

// AcquirePurgeLease takes the purge lease for owner until ttl from now (the server's clock),
// if nobody holds it and no purge finished within gap (0: run whenever free). It reports
// whether owner holds it now. Replicas racing for it get exactly one winner: the row is
// updated under its lock and the losers see the winner's lease.
func (db *DB) AcquirePurgeLease(ctx context.Context, owner string, ttl, gap time.Duration) (bool, error) {
	var got string
	err := db.pool.QueryRow(ctx, `INSERT INTO purge_lease (name, owner, lease_until)
			VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
		WHERE (purge_lease.lease_until IS NULL OR purge_lease.lease_until < now())
		  AND (purge_lease.last_done_at IS NULL OR purge_lease.last_done_at <= now() - $4 * interval '1 millisecond')
		RETURNING owner`, purgeLeaseName, owner, ttl.Milliseconds(), gap.Milliseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire purge lease: %w", dbError(err, "purge lease"))
	}
	return got == owner, nil
}

// RenewPurgeLease extends owner's lease to ttl from now; ErrLeaseLost if owner no longer
// holds it (it ran out and another replica took it).
func (db *DB) RenewPurgeLease(ctx context.Context, owner string, ttl time.Duration) error {
	tag, err := db.pool.Exec(ctx, `UPDATE purge_lease SET lease_until = now() + $3 * interval '1 millisecond'
		WHERE name = $1 AND owner = $2`, purgeLeaseName, owner, ttl.Milliseconds())
	if err != nil {
		return fmt.Errorf("renew purge lease: %w", dbError(err, "purge lease"))
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ReleasePurgeLease gives owner's lease back; done records the run as finished now, which
// starts the gap before the next one.
func (db *DB) ReleasePurgeLease(ctx context.Context, owner string, done bool) error {
	_, err := db.pool.Exec(ctx, `UPDATE purge_lease SET owner = NULL, lease_until = NULL,
			last_done_at = CASE WHEN $3 THEN now() ELSE last_done_at END
		WHERE name = $1 AND owner = $2`, purgeLeaseName, owner, done)
	if err != nil {
		return fmt.Errorf("release purge lease: %w", dbError(err, "purge lease"))
	}
	return nil
}

// PurgeLeaseHolder returns who holds the purge lease and until when ("" when nobody does).
func (db *DB) PurgeLeaseHolder(ctx context.Context) (string, time.Time, error) {
	var owner *string
	var until *time.Time
	err := db.pool.QueryRow(ctx, `SELECT owner, lease_until FROM purge_lease WHERE name = $1 AND lease_until >= now()`,
		purgeLeaseName).Scan(&owner, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("purge lease holder: %w", dbError(err, "purge lease"))
	}
	if owner == nil || until == nil {
		return "", time.Time{}, nil
	}
	return *owner, *until, nil
}
