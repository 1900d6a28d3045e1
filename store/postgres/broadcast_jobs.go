package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Job is one message a worker has claimed: a notification (Notification > 0, with its text
// and buttons) or a broadcast delivery (Broadcast > 0; the text is the broadcast's).
type Job struct {
	Notification int64
	Broadcast    int64
	ChatID       int64
	Lang         string // deliveries: the chat's language
	Kind         string // notifications: the kind
	Text         string // notifications: the rendered text
	Buttons      []byte // notifications: the inline keyboard as JSON, nil for none
	Attempts     int    // claims so far, this one included
	// Unreachable: the chat is marked unreachable; record the job blocked without sending.
	Unreachable bool
}

// Outcome is what became of a claimed job.
type Outcome uint8

const (
	OutcomeSent    Outcome = iota + 1 // delivered; MessageID set
	OutcomeFailed                     // given up: a permanent error, or too many attempts
	OutcomeBlocked                    // the chat cannot be messaged; Reason says why
	OutcomeRetry                      // a transient error: pending again from RetryAt
	OutcomeRelease                    // not attempted (stop, shutdown): pending again, the claim not counted
)

// JobResult reports a claimed job's outcome.
type JobResult struct {
	Notification int64
	Broadcast    int64
	ChatID       int64
	Outcome      Outcome
	MessageID    int
	Error        string // a short description; never message text or personal data
	Reason       string // OutcomeBlocked: blocked, deactivated, not_found or kicked
	RetryAt      time.Time
}

// ClaimJobs leases up to n jobs to owner for lease: pending notifications first (a parent's
// own news goes before bulk), then deliveries of running broadcasts, oldest broadcast first.
// Rows are locked with FOR UPDATE SKIP LOCKED, so replicas claiming at once get disjoint
// jobs. running lists the running broadcasts in claim order (pass RunningBroadcasts).
func (db *DB) ClaimJobs(ctx context.Context, owner string, n int, lease time.Duration, running []int64) ([]Job, error) {
	jobs, err := db.claimNotifications(ctx, owner, n, lease)
	if err != nil {
		return nil, err
	}
	for _, id := range running {
		if len(jobs) >= n {
			break
		}
		more, err := db.claimDeliveries(ctx, owner, id, n-len(jobs), lease)
		if err != nil {
			return jobs, err
		}
		jobs = append(jobs, more...)
	}
	return jobs, nil
}

func (db *DB) claimNotifications(ctx context.Context, owner string, n int, lease time.Duration) ([]Job, error) {
	rows, err := db.pool.Query(ctx, `WITH c AS (
			SELECT id FROM notifications
			WHERE state = 'pending' AND (next_at IS NULL OR next_at <= now())
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		UPDATE notifications t SET state = 'sending', owner = $2, lease_until = now() + $3 * interval '1 millisecond',
			attempts = t.attempts + 1
		FROM c WHERE t.id = c.id
		RETURNING t.id, t.chat_id, t.kind, t.text, t.buttons, t.attempts,
			EXISTS (SELECT 1 FROM chat_unreachable u WHERE u.chat_id = t.chat_id)`, n, owner, lease.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", dbError(err, "notifications"))
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) {
		var j Job
		err := r.Scan(&j.Notification, &j.ChatID, &j.Kind, &j.Text, &j.Buttons, &j.Attempts, &j.Unreachable)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", dbError(err, "notifications"))
	}
	slices.SortFunc(jobs, func(a, b Job) int { return cmp.Compare(a.Notification, b.Notification) })
	return jobs, nil
}

func (db *DB) claimDeliveries(ctx context.Context, owner string, broadcast int64, n int, lease time.Duration) ([]Job, error) {
	rows, err := db.pool.Query(ctx, `WITH c AS (
			SELECT chat_id FROM broadcast_deliveries
			WHERE broadcast_id = $1 AND state = 'pending' AND (next_at IS NULL OR next_at <= now())
			ORDER BY chat_id LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE broadcast_deliveries d SET state = 'sending', owner = $3, lease_until = now() + $4 * interval '1 millisecond',
			attempts = d.attempts + 1
		FROM c WHERE d.broadcast_id = $1 AND d.chat_id = c.chat_id
		RETURNING d.chat_id, d.lang, d.attempts, EXISTS (SELECT 1 FROM chat_unreachable u WHERE u.chat_id = d.chat_id)`,
		broadcast, n, owner, lease.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of broadcast %d: %w", broadcast, dbError(err, "deliveries"))
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) {
		j := Job{Broadcast: broadcast}
		err := r.Scan(&j.ChatID, &j.Lang, &j.Attempts, &j.Unreachable)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of broadcast %d: %w", broadcast, dbError(err, "deliveries"))
	}
	slices.SortFunc(jobs, func(a, b Job) int { return cmp.Compare(a.ChatID, b.ChatID) })
	return jobs, nil
}

// RunningBroadcasts returns the ids of running broadcasts, oldest first.
func (db *DB) RunningBroadcasts(ctx context.Context) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM broadcasts WHERE state = 'running' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list running broadcasts: %w", dbError(err, "broadcasts"))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list running broadcasts: %w", dbError(err, "broadcasts"))
	}
	return ids, nil
}

// BroadcastMessage is what every delivery of a broadcast sends.
type BroadcastMessage struct {
	TextKK, TextRU string
	Paid           bool
}

// GetBroadcastMessage returns a broadcast's texts, for workers (which cache it).
func (db *DB) GetBroadcastMessage(ctx context.Context, id int64) (BroadcastMessage, error) {
	var m BroadcastMessage
	err := db.pool.QueryRow(ctx, `SELECT text_kk, text_ru, paid FROM broadcasts WHERE id = $1`, id).Scan(&m.TextKK, &m.TextRU, &m.Paid)
	if err != nil {
		return m, fmt.Errorf("load broadcast %d: %w", id, dbError(err, "broadcast"))
	}
	return m, nil
}

// resultState is the row state an outcome leaves behind.
func resultState(o Outcome) string {
	switch o {
	case OutcomeSent:
		return "sent"
	case OutcomeFailed:
		return "failed"
	case OutcomeBlocked:
		return "blocked"
	default:
		return "pending"
	}
}

// RecordJobs writes the outcomes of jobs owner holds, in one transaction: delivery and
// notification rows, the broadcasts' counters (and done when the last one lands), and the
// chats found unreachable. A row owner no longer holds (its lease expired and another worker
// took it) is left alone, so the counters count every row exactly once.
func (db *DB) RecordJobs(ctx context.Context, owner string, rs []JobResult) error {
	if len(rs) == 0 {
		return nil
	}
	var (
		dB, dChat, nID, uChat      []int64
		dState, dErr, nState, nErr []string
		uReason                    []string
		dMsg, nMsg, dBack, nBack   []int32
		dNext, nNext               []*time.Time
		broadcasts                 []int64
	)
	for _, r := range rs {
		var next *time.Time
		if r.Outcome == OutcomeRetry && !r.RetryAt.IsZero() {
			t := r.RetryAt
			next = &t
		}
		var back int32
		if r.Outcome == OutcomeRelease {
			back = 1
		}
		msg := int32(r.MessageID)
		if r.Outcome == OutcomeBlocked {
			uChat = append(uChat, r.ChatID)
			uReason = append(uReason, cmp.Or(r.Reason, "blocked"))
		}
		if r.Notification > 0 {
			nID, nState, nErr, nMsg, nNext, nBack = append(nID, r.Notification), append(nState, resultState(r.Outcome)),
				append(nErr, r.Error), append(nMsg, msg), append(nNext, next), append(nBack, back)
			continue
		}
		dB, dChat, dState, dErr, dMsg, dNext, dBack = append(dB, r.Broadcast), append(dChat, r.ChatID),
			append(dState, resultState(r.Outcome)), append(dErr, r.Error), append(dMsg, msg), append(dNext, next), append(dBack, back)
		if !slices.Contains(broadcasts, r.Broadcast) {
			broadcasts = append(broadcasts, r.Broadcast)
		}
	}
	slices.Sort(broadcasts)
	// The rows are matched on their keys and owner only: owner is set exactly while a row is
	// 'sending' (a CHECK says so), and naming the state would let the planner pick the partial
	// index of rows in flight and compare every batch with every row held (seen: 90ms for
	// 100 results with 2,000 held, against 0.3ms by primary key).
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if len(dB) > 0 {
			// Lock the broadcasts in id order first: two replicas recording for the same two
			// broadcasts would otherwise deadlock on the counter rows.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM broadcasts WHERE id = ANY ($1) ORDER BY id FOR NO KEY UPDATE`, broadcasts); err != nil {
				return fmt.Errorf("lock broadcasts: %w", err)
			}
			_, err := tx.Exec(ctx, `WITH r AS (
					SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::integer[], $7::timestamptz[], $8::integer[])
						AS r (broadcast_id, chat_id, state, error, message_id, next_at, back)
				), u AS (
					UPDATE broadcast_deliveries d SET state = r.state, error = nullif(r.error, ''),
						message_id = CASE WHEN r.state = 'sent' THEN r.message_id END,
						next_at = r.next_at, owner = NULL, lease_until = NULL, attempts = d.attempts - r.back,
						done_at = CASE WHEN r.state <> 'pending' THEN now() END
					FROM r WHERE d.broadcast_id = r.broadcast_id AND d.chat_id = r.chat_id AND d.owner = $1
					RETURNING d.broadcast_id, d.state
				), c AS (
					SELECT broadcast_id, count(*) FILTER (WHERE state = 'sent') AS s, count(*) FILTER (WHERE state = 'failed') AS f,
						count(*) FILTER (WHERE state = 'blocked') AS b
					FROM u GROUP BY broadcast_id
				)
				UPDATE broadcasts t SET sent = t.sent + c.s, failed = t.failed + c.f, blocked = t.blocked + c.b,
					state = CASE WHEN t.state = 'running' AND t.sent + c.s + t.failed + c.f + t.blocked + c.b = t.total THEN 'done' ELSE t.state END,
					finished_at = CASE WHEN t.state = 'running' AND t.sent + c.s + t.failed + c.f + t.blocked + c.b = t.total THEN now() ELSE t.finished_at END
				FROM c WHERE t.id = c.broadcast_id`,
				owner, dB, dChat, dState, dErr, dMsg, dNext, dBack)
			if err != nil {
				return fmt.Errorf("record deliveries: %w", err)
			}
		}
		if len(nID) > 0 {
			_, err := tx.Exec(ctx, `WITH r AS (
					SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::integer[], $6::timestamptz[], $7::integer[])
						AS r (id, state, error, message_id, next_at, back))
				UPDATE notifications t SET state = r.state, error = nullif(r.error, ''),
					message_id = CASE WHEN r.state = 'sent' THEN r.message_id END,
					next_at = r.next_at, owner = NULL, lease_until = NULL, attempts = t.attempts - r.back,
					done_at = CASE WHEN r.state <> 'pending' THEN now() END
				FROM r WHERE t.id = r.id AND t.owner = $1`,
				owner, nID, nState, nErr, nMsg, nNext, nBack)
			if err != nil {
				return fmt.Errorf("record notifications: %w", err)
			}
		}
		if len(uChat) > 0 {
			_, err := tx.Exec(ctx, `INSERT INTO chat_unreachable (chat_id, reason, at)
				SELECT DISTINCT ON (c) c, r, now() FROM unnest($1::bigint[], $2::text[]) AS u (c, r)
				ON CONFLICT (chat_id) DO NOTHING`, uChat, uReason)
			if err != nil {
				return fmt.Errorf("mark unreachable: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d job results: %w", len(rs), dbError(err, "jobs"))
	}
	return nil
}

// ExtendLeases pushes back the lease of every row owner holds: the worker is alive, only
// slow (a 429 pause, a full send queue).
func (db *DB) ExtendLeases(ctx context.Context, owner string, lease time.Duration) error {
	for _, table := range []string{"notifications", "broadcast_deliveries"} {
		_, err := db.pool.Exec(ctx, `UPDATE `+table+` SET lease_until = now() + $2 * interval '1 millisecond'
			WHERE state = 'sending' AND owner = $1`, owner, lease.Milliseconds())
		if err != nil {
			return fmt.Errorf("extend leases in %s: %w", table, dbError(err, table))
		}
	}
	return nil
}

// ReleaseLeases puts every row owner holds back to pending, keeping the claim in attempts. A
// worker calls it when it starts, with its stable name, to pick up at once what it held when
// it was killed; the outcome of those rows is unknown (the at-least-once window).
func (db *DB) ReleaseLeases(ctx context.Context, owner string) (int64, error) {
	return db.release(ctx, `owner = $1`, owner)
}

// ReapLeases puts rows whose lease expired back to pending: their worker died and did not
// come back under the same name.
func (db *DB) ReapLeases(ctx context.Context) (int64, error) {
	return db.release(ctx, `lease_until < now() AND $1::text IS NULL`, nil)
}

func (db *DB) release(ctx context.Context, where string, arg any) (int64, error) {
	var total int64
	for _, table := range []string{"notifications", "broadcast_deliveries"} {
		tag, err := db.pool.Exec(ctx, `UPDATE `+table+` SET state = 'pending', owner = NULL, lease_until = NULL
			WHERE state = 'sending' AND `+where, arg)
		if err != nil {
			return total, fmt.Errorf("release leases in %s: %w", table, dbError(err, table))
		}
		total += tag.RowsAffected()
	}
	return total, nil
}
